"""A picture of one counted scene: the whole scene with its detections, and a zoom.

Left: the scene downsampled (rasterio decimated read) with every detection drawn in its
class colour; right: a full-resolution crop around the densest cluster of detections
(a train on a siding, a berth), where single ore cars can be told apart. Light: rasterio,
numpy and matplotlib.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coalwatch.atomic import save_figure
from coalwatch.infer.counting import SceneResult

COLOURS = ("#ff3b30", "#ffcc00", "#34c759", "#32ade6", "#af52de", "#ff9500", "#8e8e93")


def _read(path: str, bands: tuple[int, ...], window=None, out_shape=None) -> np.ndarray:
    import rasterio

    with rasterio.open(path) as src:
        picked = list(bands) if src.count >= 3 else [1, 1, 1]
        data = src.read(picked, window=window, out_shape=out_shape)
    if data.dtype != np.uint8:  # 12/16-bit analytic: a 2-98 % stretch for eyes only
        lo, hi = np.percentile(data[data > 0], (2, 98)) if (data > 0).any() else (0, 1)
        data = ((data.astype(np.float32) - lo) / max(hi - lo, 1) * 255).clip(0, 255)
    return np.moveaxis(data.astype(np.uint8), 0, -1)


def densest_window(result: SceneResult, size: int) -> tuple[int, int, int, int]:
    """``(x0, y0, w, h)`` of a ``size`` px square holding the most detection centres."""
    w, h = min(size, result.width), min(size, result.height)
    centres = result.detections.centres
    if not len(centres):
        return (result.width - w) // 2, (result.height - h) // 2, w, h
    best, best_n = (0, 0), -1
    step = max(size // 4, 1)
    for y in range(0, max(result.height - h, 0) + 1, step):
        for x in range(0, max(result.width - w, 0) + 1, step):
            inside = (
                (centres[:, 0] >= x)
                & (centres[:, 0] < x + w)
                & (centres[:, 1] >= y)
                & (centres[:, 1] < y + h)
            )
            n = int(inside.sum())
            if n > best_n:
                best, best_n = (x, y), n
    return best[0], best[1], w, h


def _draw_boxes(ax, result: SceneResult, scale: float, offset=(0.0, 0.0), lw=0.8) -> None:
    from matplotlib.patches import Rectangle

    dets = result.detections
    for box, cls in zip(dets.boxes, dets.class_ids, strict=True):
        x0, y0, x1, y1 = (box - np.array([*offset, *offset])) * scale
        colour = COLOURS[(int(cls) - 1) % len(COLOURS)]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=colour, lw=lw))


def draw_detections(
    result: SceneResult,
    out: str | Path,
    overview_px: int = 900,
    zoom_px: int = 320,
    bands: tuple[int, int, int] = (1, 2, 3),
    title: str | None = None,
) -> Path:
    """Write a PNG of ``result``'s scene with its detections drawn (overview and zoom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from rasterio.windows import Window

    scale = min(1.0, overview_px / max(result.width, result.height))
    shape = (3, max(1, round(result.height * scale)), max(1, round(result.width * scale)))
    overview = _read(result.scene, bands, out_shape=shape)
    x, y, w, h = densest_window(result, zoom_px)
    crop = _read(result.scene, bands, window=Window(x, y, w, h))

    fig, (left, right) = plt.subplots(
        1, 2, figsize=(13, 6.6), dpi=100, gridspec_kw={"width_ratios": [1.35, 1]}
    )
    left.imshow(overview, interpolation="lanczos")
    _draw_boxes(left, result, scale, lw=0.7)
    left.add_patch(
        Rectangle((x * scale, y * scale), w * scale, h * scale, fill=False, ec="white", ls="--")
    )
    right.imshow(crop, interpolation="nearest")
    _draw_boxes(right, result, 1.0, offset=(x, y), lw=1.2)
    right.set_xlim(-0.5, w - 0.5)
    right.set_ylim(h - 0.5, -0.5)
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    gsd = f"{result.gsd_m:g} m pixels" if result.gsd_m else "pixels"
    left.set_title(f"{result.scene_id} ({result.width}x{result.height}, {gsd})", fontsize=10)
    right.set_title(f"zoom: {w}x{h} px at full resolution", fontsize=10)
    classes = result.taxonomy_obj.classes
    handles = [
        Line2D(
            [],
            [],
            color=COLOURS[i % len(COLOURS)],
            lw=2,
            label=f"{name} ({result.counts.get(name, 0)})",
        )
        for i, name in enumerate(classes)
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(classes), fontsize=9, frameon=False)
    fig.suptitle(title or f"coalwatch detections, {result.date or result.scene_id}", fontsize=12)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return save_figure(fig, out)
