"""Preview PNGs: the scene downscaled for eyes with its ground-truth boxes drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coalwatch.atomic import atomic_path
from coalwatch.labels.schema import ObjectLabel

CLASS_COLORS = {
    "ore_car": (255, 210, 0),
    "other_railcar": (0, 200, 255),
    "bulk_carrier": (255, 60, 60),
    "other_vessel": (255, 120, 255),
    "coal_heap": (80, 255, 80),
}


def to_rgb8(data: np.ndarray) -> np.ndarray:
    """(bands, H, W) uint8 or uint16 scene to (H, W, 3) uint8 for display."""
    rgb = data[:3].transpose(1, 2, 0)
    if rgb.dtype == np.uint8:
        return np.ascontiguousarray(rgb)
    valid = rgb[rgb > 0]
    hi = np.percentile(valid, 99.5) if valid.size else 1.0
    return np.clip(np.sqrt(rgb / hi) * 255, 0, 255).astype(np.uint8)


def _outline(img: np.ndarray, box, rgb, width: int) -> None:
    h, w = img.shape[:2]
    x0, y0, x1, y1 = (round(v) for v in box)
    x0, x1 = np.clip([x0, x1], 0, w - 1)
    y0, y1 = np.clip([y0, y1], 0, h - 1)
    img[y0 : y0 + width, x0 : x1 + 1] = rgb
    img[max(y1 - width + 1, 0) : y1 + 1, x0 : x1 + 1] = rgb
    img[y0 : y1 + 1, x0 : x0 + width] = rgb
    img[y0 : y1 + 1, max(x1 - width + 1, 0) : x1 + 1] = rgb


def render_preview(
    data: np.ndarray, objects: list[ObjectLabel], max_px: int = 1024, boxes: bool = True
) -> np.ndarray:
    """The preview image (H, W, 3) uint8: block-averaged to at most ``max_px`` a side."""
    rgb = to_rgb8(data)
    factor = max(1, int(np.ceil(max(rgb.shape[:2]) / max_px)))
    if factor > 1:
        h, w = (rgb.shape[0] // factor) * factor, (rgb.shape[1] // factor) * factor
        rgb = rgb[:h, :w].reshape(h // factor, factor, w // factor, factor, 3).mean((1, 3))
        rgb = rgb.astype(np.uint8)
    else:
        rgb = rgb.copy()
    if boxes:
        for obj in objects:
            col = np.array(CLASS_COLORS.get(obj.cls, (255, 255, 255)), np.uint8)
            if obj.attributes.get("occluded"):
                col = (col // 2 + 100).astype(np.uint8)
            _outline(rgb, [v / factor for v in obj.box], col, 1)
    return rgb


def detail_window(objects: list[ObjectLabel], shape, size: int) -> tuple[int, int]:
    """Top-left corner of a ``size`` window centred where the labelled objects cluster."""
    h, w = shape
    if objects:
        cx = float(np.median([(o.box[0] + o.box[2]) / 2 for o in objects]))
        cy = float(np.median([(o.box[1] + o.box[3]) / 2 for o in objects]))
    else:
        cx, cy = w / 2, h / 2
    x0 = int(np.clip(cx - size / 2, 0, max(w - size, 0)))
    y0 = int(np.clip(cy - size / 2, 0, max(h - size, 0)))
    return x0, y0


def overview_and_detail(
    data: np.ndarray, objects: list[ObjectLabel], panel: int, zoom: int = 1
) -> np.ndarray:
    """Two panels side by side: the whole scene downscaled with the ground truth drawn, and
    a full-resolution window where the objects are, as the sensor saw it."""
    overview = render_preview(data, objects, panel)
    h, w = data.shape[1:]
    size = panel // zoom
    x0, y0 = detail_window(objects, (h, w), size)
    crop = data[:, y0 : y0 + size, x0 : x0 + size]
    if zoom > 1:  # nearest-neighbour enlargement: pixels stay pixels
        crop = crop.repeat(zoom, axis=1).repeat(zoom, axis=2)
    detail = render_preview(crop, [], panel, boxes=False)
    out = np.full(
        (max(overview.shape[0], detail.shape[0]), overview.shape[1] + 8 + detail.shape[1], 3),
        255,
        np.uint8,
    )
    out[: overview.shape[0], : overview.shape[1]] = overview
    out[: detail.shape[0], overview.shape[1] + 8 :] = detail
    return out


def write_preview(
    path: str | Path,
    data: np.ndarray,
    objects: list[ObjectLabel],
    max_px: int = 1024,
    palette: bool = False,
    boxes: bool = True,
    detail: bool = False,
    zoom: int = 1,
) -> Path:
    """Write a preview PNG (``palette``: 160-colour, for small committed files; ``detail``:
    add a full-resolution panel beside the overview, enlarged ``zoom`` times)."""
    from PIL import Image

    if detail:
        pixels = overview_and_detail(data, objects if boxes else [], max_px, zoom)
    else:
        pixels = render_preview(data, objects, max_px, boxes)
    image = Image.fromarray(pixels)
    if palette:
        image = image.quantize(160, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", optimize=True)
    return Path(path)
