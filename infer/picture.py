"""Pictures of a scene with boxes drawn on it: what was counted, or what went right and wrong.

Left: the scene downsampled (rasterio decimated read) with every box outlined and the areas
of interest outlined and named; right: a full-resolution crop around the densest cluster of
the boxes that matter (a train on a siding, a berth), where single ore cars can be told
apart. Both panels share one contrast stretch. ``draw_scene`` colours a count's detections
by class (``coalwatch count``); ``draw_outcomes`` colours an evaluation's boxes by outcome:
hits, false alarms by kind and missed objects (``coalwatch evaluate``). Light: rasterio, numpy,
shapely and matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from coalwatch.atomic import save_figure
from coalwatch.infer.aoi import AreasOfInterest
from coalwatch.infer.counting import SceneResult
from coalwatch.infer.outcomes import KINDS, ImageOutcome

COLOURS = ("#ff3b30", "#ffcc00", "#34c759", "#32ade6", "#af52de", "#ff9500", "#8e8e93")
AOI_COLOUR = "#ffffff"
OUTCOME_COLOURS = {
    "hit": "#34c759",
    "duplicate": "#af52de",
    "wrong_class": "#32ade6",
    "misplaced": "#ff9500",
    "background": "#ff3b30",
}
MISSED = "#ffcc00"
OVERVIEW_PX = 900  # longest side of the overview panel, in pixels read
ZOOM_PX = 320  # side of the full-resolution crop
GDAL_CACHE_BYTES = 64 * 1024 * 1024  # a decimated read of a huge scene streams its blocks

Scale = tuple[float, float]  # panel pixels per scene pixel, along x and y
Outlines = list[tuple[str, list[np.ndarray]]]  # named rings of scene pixels


@dataclass(frozen=True)
class BoxLayer:
    """Boxes ``(N, 4)`` in scene pixels drawn alike, named in the legend with their number."""

    boxes: np.ndarray
    colour: str
    label: str
    style: str = "-"
    width: float = 1.0


def class_colour(class_id: int) -> str:
    """The colour of a (1-based) class id in every picture."""
    return COLOURS[(int(class_id) - 1) % len(COLOURS)]


def _read(
    src: Any,
    bands: Sequence[int],
    window: Any = None,
    out_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """The ``bands`` the model read (band 1 as grey where the scene lacks them) as (bands,
    rows, cols); decimated to ``out_shape``."""
    picked = list(bands) if max(bands) <= src.count else [1, 1, 1]
    shape = None if out_shape is None else (3, *out_shape)
    return src.read(picked, window=window, out_shape=shape)


def _stretch(data: np.ndarray) -> tuple[float, float]:
    """Display range: a 2-98 % stretch of the imaged (non-zero) pixels; 8-bit kept as is."""
    if data.dtype == np.uint8:
        return 0.0, 255.0
    imaged = data[data > 0]
    if not imaged.size:
        return 0.0, 1.0
    lo, hi = np.percentile(imaged, (2, 98))
    return float(lo), float(max(hi, lo + 1))


def _display(data: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(bands, rows, cols) data as an 8-bit (rows, cols, 3) image for eyes."""
    scaled = (data.astype(np.float32) - lo) / (hi - lo) * 255.0
    return np.moveaxis(scaled.clip(0, 255).astype(np.uint8), 0, -1)


def densest_window(
    centres: np.ndarray, width: int, height: int, size: int
) -> tuple[int, int, int, int]:
    """``(x0, y0, w, h)`` of a ``size`` px square of a ``width`` x ``height`` scene holding
    the most of the ``(N, 2)`` ``centres``, centred on them as far as the edges allow."""
    w, h = min(size, width), min(size, height)
    if not len(centres):
        return (width - w) // 2, (height - h) // 2, w, h
    best, best_n = np.zeros(len(centres), bool), -1
    step = max(size // 4, 1)
    for y in range(0, max(height - h, 0) + 1, step):
        for x in range(0, max(width - w, 0) + 1, step):
            inside = (
                (centres[:, 0] >= x)
                & (centres[:, 0] < x + w)
                & (centres[:, 1] >= y)
                & (centres[:, 1] < y + h)
            )
            if int(inside.sum()) > best_n:
                best, best_n = inside, int(inside.sum())
    cx, cy = (centres[best].min(axis=0) + centres[best].max(axis=0)) / 2
    x0 = int(np.clip(round(cx - w / 2), 0, width - w))
    y0 = int(np.clip(round(cy - h / 2), 0, height - h))
    return x0, y0, w, h


def aoi_outlines(result: SceneResult, aois: AreasOfInterest | None) -> Outlines:
    """Each area of interest as rings of scene pixel coordinates ``(N, 2)``, by name.

    Empty without AOIs, or for a scene without a CRS (its pixels have no place on the map).
    """
    if aois is None or result.crs is None:
        return []
    to_pixels = ~result.affine
    outlines = []
    for name, geom in zip(aois.names, aois.in_crs(result.crs), strict=True):
        polygons = getattr(geom, "geoms", [geom])
        rings = []
        for polygon in polygons:
            if polygon.geom_type != "Polygon":
                continue
            xy = shapely.get_coordinates(polygon.exterior)
            cols, rows = to_pixels @ (xy[:, 0], xy[:, 1])
            rings.append(np.column_stack([cols, rows]))
        outlines.append((name, rings))
    return outlines


def _to_panel(xy: np.ndarray, scale: Scale, offset=(0.0, 0.0)) -> np.ndarray:
    """Scene pixel coordinates (pixel edges: 0 is the scene's left edge) of ``(N, 2)``
    points as a panel's imshow coordinates (integers are pixel centres)."""
    return (np.asarray(xy, float) - offset) * np.asarray(scale) - 0.5


def _rings(boxes: np.ndarray, scale: Scale, offset: tuple[float, float]) -> list[np.ndarray]:
    """Boxes as closed polylines in panel coordinates."""
    rings = []
    for x0, y0, x1, y1 in np.asarray(boxes, float).reshape(-1, 4):
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]])
        rings.append(_to_panel(corners, scale, offset))
    return rings


def _draw_layers(
    ax: Any, layers: Sequence[BoxLayer], scale: Scale, offset=(0.0, 0.0), thin: float = 1.0
) -> None:
    from matplotlib.collections import LineCollection

    for layer in layers:
        if len(layer.boxes):
            lines = LineCollection(
                _rings(layer.boxes, scale, offset),
                colors=layer.colour,
                linewidths=layer.width * thin,
                linestyles=layer.style,
            )
            ax.add_collection(lines)


def _draw_aois(ax: Any, outlines: Outlines, scale: Scale) -> None:
    import matplotlib.patheffects as effects
    from matplotlib.collections import LineCollection

    halo = [effects.withStroke(linewidth=1.6, foreground="black")]
    for name, rings in outlines:
        if not rings:
            continue
        scaled = [_to_panel(ring, scale) for ring in rings]
        lines = LineCollection(scaled, colors=AOI_COLOUR, linewidths=0.9, linestyles="--")
        lines.set_path_effects(halo)
        ax.add_collection(lines)
        top = min(scaled, key=lambda r: r[:, 1].min())
        x, y = top[np.argmin(top[:, 1])]
        ax.annotate(
            name,
            (x, y),
            xytext=(0, 3),
            textcoords="offset points",
            color=AOI_COLOUR,
            fontsize=8,
            ha="center",
            va="bottom",
            path_effects=halo,
            annotation_clip=True,
        )


def _centres(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    return (boxes[:, :2] + boxes[:, 2:]) / 2


def draw_boxes(
    result: SceneResult,
    layers: Sequence[BoxLayer],
    out: str | Path,
    title: str,
    focus: np.ndarray | None = None,
    outlines: Outlines = (),
    overview_px: int = OVERVIEW_PX,
    zoom_px: int = ZOOM_PX,
) -> Path:
    """Write a PNG of ``result``'s scene with ``layers`` of boxes drawn and returns it; the
    zoom goes where ``focus`` boxes (default: all) crowd most."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import rasterio
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from rasterio.windows import Window

    if focus is None:
        focus = np.concatenate([np.asarray(la.boxes, float).reshape(-1, 4) for la in layers])
    scale = min(1.0, overview_px / max(result.width, result.height))
    shape = (max(1, round(result.height * scale)), max(1, round(result.width * scale)))
    x, y, w, h = densest_window(_centres(focus), result.width, result.height, zoom_px)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES), rasterio.open(result.scene) as src:
        overview = _read(src, result.bands, out_shape=shape)
        crop = _read(src, result.bands, window=Window(x, y, w, h))
    lo, hi = _stretch(overview)
    # the decimated panel's pixels are scene pixels scaled by its own ratio per axis
    sx, sy = shape[1] / result.width, shape[0] / result.height

    fig, (left, right) = plt.subplots(
        1, 2, figsize=(13, 6.6), dpi=100, gridspec_kw={"width_ratios": [1.35, 1]}
    )
    left.imshow(_display(overview, lo, hi), interpolation="lanczos")
    _draw_layers(left, layers, (sx, sy), thin=0.7)
    _draw_aois(left, list(outlines), (sx, sy))
    corner = _to_panel(np.array([x, y]), (sx, sy))
    left.add_patch(Rectangle(tuple(corner), w * sx, h * sy, fill=False, ec="white", ls=":"))
    right.imshow(_display(crop, lo, hi), interpolation="nearest")
    _draw_layers(right, layers, (1.0, 1.0), offset=(x, y), thin=1.2)
    left.set_xlim(-0.5, shape[1] - 0.5)
    left.set_ylim(shape[0] - 0.5, -0.5)
    right.set_xlim(-0.5, w - 0.5)
    right.set_ylim(h - 0.5, -0.5)
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    gsd = f"{result.gsd_m:g} m pixels" if result.gsd_m else "pixels"
    left.set_title(f"whole scene ({result.width}x{result.height}, {gsd})", fontsize=10)
    right.set_title(f"zoom: {w}x{h} px at full resolution (dotted in the scene)", fontsize=10)
    handles = [
        Line2D([], [], color=la.colour, lw=2, ls=la.style, label=f"{la.label} ({len(la.boxes)})")
        for la in layers
    ]
    if any(rings for _, rings in outlines):
        handles.append(Line2D([], [], color="grey", lw=1.2, ls="--", label="area of interest"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return save_figure(fig, out, palette=True)


def _when(result: SceneResult) -> str:
    usable = f", {result.usable_fraction:.0%} usable" if result.usable_fraction < 0.995 else ""
    return f"{result.scene_id} ({result.date or 'undated'}{usable})"


def draw_scene(result: SceneResult, out: str | Path, aois: AreasOfInterest | None = None) -> Path:
    """Write a PNG of ``result``'s scene with its detections in class colours and its areas
    of interest outlined; returns it."""
    dets = result.detections
    layers = [
        BoxLayer(dets.boxes[dets.class_ids == i + 1], class_colour(i + 1), name)
        for i, name in enumerate(result.taxonomy_obj.classes)
    ]
    title = f"coalwatch detections: {_when(result)}"
    return draw_boxes(result, layers, out, title, outlines=aoi_outlines(result, aois))


def draw_outcomes(result: SceneResult, outcome: ImageOutcome, out: str | Path) -> Path:
    """Write a PNG of an evaluated scene: its counted detections coloured by outcome (hits,
    and false alarms by kind: :mod:`coalwatch.infer.outcomes`) and the labelled objects
    nothing found (dashed), at IoU 0.5 as the scores count them; the zoom goes where
    errors crowd."""
    layers = [
        BoxLayer(outcome.of_kind(kind), OUTCOME_COLOURS[kind], kind.replace("_", " "), width=w)
        for kind, w in (("hit", 1.0), *((k, 1.3) for k in KINDS))
    ]
    layers.append(BoxLayer(outcome.missed, MISSED, "missed", style="--", width=1.3))
    errors = np.concatenate([la.boxes for la in layers[1:]]).reshape(-1, 4)
    hits = len(layers[0].boxes)
    rates = f"found {hits} of {outcome.labelled} labelled objects, {len(outcome.kinds)} counted"
    title = f"coalwatch evaluate: {_when(result)}: {rates}"
    return draw_boxes(result, layers, out, title, focus=errors if len(errors) else None)
