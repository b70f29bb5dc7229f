"""Coal heap area: the dark pixels inside a heap's box, in square metres.

A coal heap is far darker than the concrete quay around it (DOMAIN.md: about 60 versus
150-170 in 8-bit RGB). Inside a box grown by a margin (so that the quay is in view) the
luminance is split in two with Otsu's threshold; the heap is the dark pixels inside the
box. Where boxes overlap, each pixel counts for one heap only (the higher-scoring one).
When the two sides are not clearly apart (a flat dark or a flat bright patch) the box area
is the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Minimum luminance gap (0-1 scale) between the dark and the bright class to trust the split.
MIN_CONTRAST = 0.12
# Fraction of the box's side added around it for context.
MARGIN_FRACTION = 0.25
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class HeapArea:
    """Heap area in scene pixels and how it was measured (``dark`` or ``box``)."""

    pixels: float
    method: str


def otsu_threshold(values: np.ndarray, bins: int = 64) -> tuple[float, float]:
    """Otsu's threshold of ``values`` in [0, 1] and the gap between the two class means."""
    hist, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    total = hist.sum()
    if total == 0:
        return 0.5, 0.0
    centres = (edges[:-1] + edges[1:]) / 2
    weight0 = np.cumsum(hist)
    weight1 = total - weight0
    sum0 = np.cumsum(hist * centres)
    mean0 = sum0 / np.maximum(weight0, 1)
    mean1 = (sum0[-1] - sum0) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    best = int(np.argmax(between[:-1]))
    return float(edges[best + 1]), float(mean1[best] - mean0[best])


def margin_px(box: tuple[float, float, float, float]) -> int:
    """Context margin in pixels around a heap box."""
    return max(2, round(MARGIN_FRACTION * max(box[2] - box[0], box[3] - box[1])))


def heap_pixels(
    patch: np.ndarray,
    box_in_patch: tuple[int, int, int, int],
    claimed: np.ndarray | None = None,
) -> HeapArea:
    """Dark-pixel area of a heap.

    ``patch``: float (3, h, w) in [0, 1], the box grown by its margin; ``box_in_patch``:
    the box's ``(x0, y0, x1, y1)`` in patch pixels; ``claimed``: a mask over the box of
    pixels already counted for another heap (overlapping boxes), left out here. The
    fallback is the box's unclaimed area.
    """
    luminance = np.tensordot(_LUMA, patch.astype(np.float32, copy=False), axes=1)
    threshold, contrast = otsu_threshold(luminance.ravel())
    x0, y0, x1, y1 = box_in_patch
    inside = luminance[y0:y1, x0:x1]
    free = np.ones(inside.shape, bool) if claimed is None else ~claimed
    if inside.size == 0 or contrast < MIN_CONTRAST:
        return HeapArea(float(free.sum()), "box")
    dark = float(((inside < threshold) & free).sum())
    if dark == 0:
        return HeapArea(float(free.sum()), "box")
    return HeapArea(dark, "dark")
