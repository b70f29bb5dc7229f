"""Count one scene: a pure, picklable function of (scene, model, options) → ``SceneResult``.

``count_scene`` reads the scene tile by tile, runs the ONNX model, merges across seams,
measures coal heap areas, and counts per class, per taxonomy group and per area of
interest. Series, summaries and plots are reductions over its results, so a local
process pool (``count_scenes(workers=N)``) and a cluster are two executors of the same
function.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS

from coalwatch.infer.aoi import AreasOfInterest, load_aois
from coalwatch.infer.detections import Detections
from coalwatch.infer.heaps import heap_pixels, margin_px
from coalwatch.infer.merge import NESTED_SHARE, drop_nested, merge_tiles
from coalwatch.infer.metadata import ModelMetadata, thresholds_by_class_id
from coalwatch.infer.pool import run_in_order
from coalwatch.infer.scene_reader import Scene
from coalwatch.infer.session import OnnxDetector, detector_for
from coalwatch.labels.radiometry import Scaling
from coalwatch.labels.taxonomy import Taxonomy

log = logging.getLogger(__name__)

HEAP_CLASS = "coal_heap"
TileProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class CountOptions:
    """How to count; ``None`` means: as the model's metadata says."""

    score: float | None = None
    tile_size: int | None = None
    tile_overlap: int | None = None
    threads: int = 0
    aoi_path: str | None = None
    edge_px: float = 2.0  # model pixels from an interior tile edge that make a box "cut"
    nested: float = NESTED_SHARE  # drop a box this much inside a stronger one of its class
    heap_class: str = HEAP_CLASS
    # GDAL's block cache; its default (5% of RAM) grows with the scene, this keeps it flat
    gdal_cache_mb: int = 256
    resample: bool = True  # False: read scenes at their own GSD whatever the model's
    views: int = 1  # 4 or 8: each tile also rotated (and mirrored), detections fused
    # per-class thresholds over score or the model's (count --thresholds: a calibration)
    class_scores: Mapping[str, float] | None = None


@dataclass
class SceneResult:
    """Everything counted in one scene (plain data and numpy: picklable)."""

    scene: str
    scene_id: str
    date: str | None
    crs_wkt: str | None
    transform: tuple[float, ...]
    width: int
    height: int
    gsd_m: float | None
    cloud_fraction: float
    valid_fraction: float
    taxonomy: dict[str, Any]
    detections: Detections  # scene pixels; extra: heap_area_m2, aoi
    counts: dict[str, int]
    group_counts: dict[str, int]
    aoi_names: list[str] = field(default_factory=list)
    aoi_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    heap_area_m2: float | None = None
    aoi_heap_area_m2: dict[str, float | None] = field(default_factory=dict)
    bands: tuple[int, ...] = (1, 2, 3)  # the scene's bands the model read, as red, green, blue
    tiles_total: int = 0
    tiles_read: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def usable_fraction(self) -> float:
        """Share of the scene that is imaged (not nodata) and not under cloud."""
        return self.valid_fraction * (1.0 - self.cloud_fraction)

    @property
    def crs(self) -> CRS | None:
        return None if self.crs_wkt is None else CRS.from_wkt(self.crs_wkt)

    @property
    def affine(self) -> Affine:
        return Affine(*self.transform[:6])

    @property
    def taxonomy_obj(self) -> Taxonomy:
        return Taxonomy.from_dict(self.taxonomy)

    @property
    def area_km2(self) -> float | None:
        return None if self.gsd_m is None else self.width * self.height * self.gsd_m**2 / 1e6


def count_threshold(meta: ModelMetadata, options: CountOptions) -> float | np.ndarray | None:
    """What a detection must score: ``options.score`` (None: the model's thresholds), with
    ``options.class_scores`` over it by class id where given."""
    if not options.class_scores:
        return options.score
    default, per_class = meta.operating_point(options.score, options.class_scores)
    return thresholds_by_class_id(meta.taxonomy_obj.classes, default, per_class)


def count_settings(model_path: str | Path, options: CountOptions) -> dict[str, Any]:
    """How ``options`` count with the model at ``model_path``, as recorded in counts.json:
    the score threshold each class must reach, the views, tiles and nested rule."""
    meta = detector_for(model_path, options.threads).metadata
    default, per_class = meta.operating_point(options.score, options.class_scores)
    tile_size, overlap = _tiling(meta, options)
    return {
        "model": str(model_path),
        "score_thresholds": {
            name: round(per_class.get(name, default), 4) for name in meta.taxonomy_obj.classes
        },
        "views": options.views,
        "tile_size": tile_size,
        "tile_overlap": overlap,
        "nested": options.nested,
        "resample": options.resample,
    }


def _tiling(meta: ModelMetadata, options: CountOptions) -> tuple[int, int]:
    """Tile size and overlap: the options', else the model's."""
    tile_size = options.tile_size or meta.tile_size
    overlap = meta.tile_overlap if options.tile_overlap is None else options.tile_overlap
    return tile_size, overlap


def _detect_tiles(
    scene: Scene, detector: OnnxDetector, options: CountOptions, progress: TileProgress | None
) -> tuple[Detections, int, int, float]:
    meta = detector.metadata
    tile_size, overlap = _tiling(meta, options)
    target = meta.target_gsd(scene.gsd_m) if options.resample else None
    grid, tiles = scene.model_tiles(tile_size, overlap, target)
    threshold = count_threshold(meta, options)
    per_tile = []
    valid = 0.0
    read = 0
    total = len(grid)
    if progress is not None:
        progress(0, total)
    for model_tile in tiles:
        read += 1
        valid += model_tile.valid_pixels
        dets = detector.detect(model_tile.image, threshold, options.views)
        dets = drop_nested(dets, options.nested)
        dets = dets.scale(model_tile.scale_x, model_tile.scale_y)
        dets = dets.translate(model_tile.tile.x, model_tile.tile.y)
        per_tile.append((model_tile.tile, dets))
        if progress is not None:
            progress(model_tile.tile.index + 1, total)
    if progress is not None:
        progress(total, total)
    edge = options.edge_px / scene.resample_factor(target)
    merged = merge_tiles(per_tile, edge_px=edge).clip(scene.width, scene.height)
    return merged, total, read, valid / (scene.width * scene.height)


def _heap_areas(scene: Scene, dets: Detections, heap_id: int | None) -> np.ndarray:
    """Heap area (m²) per detection, NaN for other classes or an unknown pixel size.

    Heaps are measured highest score first; pixels of a box that an earlier heap's box
    already covers are not counted again.
    """
    areas = np.full(len(dets), np.nan)
    if heap_id is None or scene.pixel_area_m2 is None:
        return areas
    heaps = np.flatnonzero(dets.class_ids == heap_id)
    heaps = heaps[np.argsort(-dets.scores[heaps], kind="stable")]
    pixel_boxes = np.column_stack([np.floor(dets.boxes[:, :2]), np.ceil(dets.boxes[:, 2:])]).astype(
        np.int64
    )
    for rank, i in enumerate(heaps):
        x0, y0, x1, y1 = (int(v) for v in pixel_boxes[i])
        claimed = np.zeros((max(0, y1 - y0), max(0, x1 - x0)), bool)
        for j in heaps[:rank]:
            a0, b0, a1, b1 = (int(v) for v in pixel_boxes[j])
            claimed[max(b0 - y0, 0) : max(b1 - y0, 0), max(a0 - x0, 0) : max(a1 - x0, 0)] = True
        box = tuple(float(v) for v in dets.boxes[i])
        patch, (px, py) = scene.read_box(box, margin_px(box))
        inner = (x0 - px, y0 - py, x1 - px, y1 - py)
        claimed = claimed[: patch.shape[1] - inner[1], : patch.shape[2] - inner[0]]
        measured = heap_pixels(patch.astype(np.float32) / 255.0, inner, claimed)
        areas[i] = measured.pixels * scene.pixel_area_m2
    return areas


def count_scene(
    scene_path: str | Path,
    model_path: str | Path,
    options: CountOptions = CountOptions(),
    progress: TileProgress | None = None,
    aois: AreasOfInterest | None = None,
) -> SceneResult:
    """Detect and count objects in one GeoTIFF scene with an exported ONNX model."""
    started = time.perf_counter()
    detector = detector_for(model_path, options.threads)
    meta = detector.metadata
    if aois is None and options.aoi_path:
        aois = load_aois(options.aoi_path)
    with (
        # an int GDAL_CACHEMAX is bytes (a string would be MB): 256 alone is a 256-byte cache
        rasterio.Env(GDAL_CACHEMAX=options.gdal_cache_mb * 1024 * 1024),
        Scene(scene_path, meta.bands, Scaling.from_dict(meta.scaling)) as scene,
    ):
        dets, total, read, valid_fraction = _detect_tiles(scene, detector, options, progress)
        result = scene_result(
            scene, dets, meta.taxonomy_obj, aois, valid_fraction, options.heap_class
        )
    result.tiles_total, result.tiles_read = total, read
    result.seconds = time.perf_counter() - started
    for message in result.warnings:
        log.warning("%s: %s", scene_path, message)
    return result


def scene_result(
    scene: Scene,
    dets: Detections,
    taxonomy: Taxonomy,
    aois: AreasOfInterest | None = None,
    valid_fraction: float = 1.0,
    heap_class: str = HEAP_CLASS,
) -> SceneResult:
    """Count a scene's merged detections (scene pixels): per class, group and AOI, heap area.

    The second half of ``count_scene``, usable on any detections of an open scene (e.g.
    its labels, to see what perfect detections would report).
    """
    warnings = []
    if scene.crs is None:
        warnings.append("scene has no CRS: detections are in pixel coordinates")
    heap_id = taxonomy.class_id(heap_class) if heap_class in taxonomy.classes else None
    heap_areas = _heap_areas(scene, dets, heap_id)
    counts = dets.count_by_class(taxonomy.classes)
    result = SceneResult(
        scene=str(scene.path),
        scene_id=scene.scene_id,
        date=None if scene.date is None else scene.date.isoformat(),
        crs_wkt=None if scene.crs is None else scene.crs.to_wkt(),
        transform=tuple(scene.transform)[:6],
        width=scene.width,
        height=scene.height,
        gsd_m=scene.gsd_m,
        cloud_fraction=scene.cloud_fraction,
        valid_fraction=min(1.0, valid_fraction),
        taxonomy=taxonomy.to_dict(),
        detections=dets,
        counts=counts,
        group_counts=group_counts(counts, taxonomy),
        bands=scene.bands,
        warnings=warnings,
    )
    if heap_id is not None and scene.pixel_area_m2 is not None:
        result.heap_area_m2 = float(np.nansum(heap_areas))
    _count_aois(result, aois, heap_areas, heap_id)
    result.detections = result.detections.with_extra(heap_area_m2=heap_areas)
    return result


def group_counts(counts: dict[str, int], taxonomy: Taxonomy) -> dict[str, int]:
    """Counts per taxonomy group from counts per leaf class."""
    out = {group: 0 for group in taxonomy.group_names}
    for leaf, n in counts.items():
        out[taxonomy.group_of(leaf)] += n
    return out


def _count_aois(
    result: SceneResult, aois: AreasOfInterest | None, heap_areas: np.ndarray, heap_id: int | None
) -> None:
    dets = result.detections
    labels = np.full(len(dets), "", dtype=object)
    if aois is not None and result.crs is None:
        result.warnings.append("scene has no CRS: areas of interest cannot be placed, skipped")
    if aois is not None and result.crs is not None:
        classes = result.taxonomy_obj.classes
        inside = aois.contains(result.crs, dets.map_centres(result.affine))
        result.aoi_names = list(aois.names)
        for name, mask in inside.items():
            result.aoi_counts[name] = dets.select(mask).count_by_class(classes)
            if heap_id is not None and result.heap_area_m2 is not None:
                result.aoi_heap_area_m2[name] = float(
                    np.nansum(heap_areas[mask & (dets.class_ids == heap_id)])
                )
            labels[mask & (labels == "")] = name
    result.detections = dets.with_extra(aoi=labels)


def count_scenes(
    scene_paths: Sequence[str | Path],
    model_path: str | Path,
    options: CountOptions = CountOptions(),
    workers: int = 1,
    on_scene: Callable[[SceneResult], None] | None = None,
    tile_progress: TileProgress | None = None,
) -> list[SceneResult]:
    """Count many scenes, in order; with ``workers`` > 1 in a pool of processes."""
    if workers <= 1 or len(scene_paths) <= 1:  # here: tile progress, AOIs read once
        aois = load_aois(options.aoi_path) if options.aoi_path else None
        jobs = [(count_scene, (p, model_path, options, tile_progress, aois)) for p in scene_paths]
    else:
        jobs = [(count_scene, (p, model_path, options)) for p in scene_paths]
    return run_in_order(jobs, workers, on_scene)
