"""Small hand-made GeoTIFF scenes and a stand-in detector for counting tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from scipy import ndimage

from coalwatch.infer.detections import Detections
from coalwatch.infer.metadata import ModelMetadata
from coalwatch.infer.views import detect_views
from coalwatch.labels.taxonomy import load_taxonomy

UTM52N = "EPSG:32652"
ORIGIN = (500_000.0, 4_400_000.0)
BRIGHT, DARK = 180, 40


def write_scene(
    path: Path,
    boxes: list[tuple[int, int, int, int]],
    size: tuple[int, int] = (1000, 700),
    gsd: float = 0.5,
    crs: str | None = UTM52N,
    tags: dict[str, str] | None = None,
    nodata_cols: int = 0,
    bands: int = 3,
) -> Path:
    """A bright scene with dark boxes ``(x0, y0, x1, y1)``; nodata (0) in the first columns."""
    width, height = size
    data = np.full((bands, height, width), BRIGHT, np.uint8)
    for x0, y0, x1, y1 in boxes:
        data[:, y0:y1, x0:x1] = DARK
    data[:, :, :nodata_cols] = 0
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": bands,
        "dtype": "uint8",
        "nodata": 0,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
    }
    if crs is not None:
        profile["crs"] = crs
        profile["transform"] = Affine(gsd, 0, ORIGIN[0], 0, -gsd, ORIGIN[1])
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.update_tags(**(tags or {}))
    return path


def scene_to_map(x: float, y: float, gsd: float = 0.5) -> tuple[float, float]:
    return ORIGIN[0] + x * gsd, ORIGIN[1] - y * gsd


class DarkBlobDetector:
    """Finds dark blobs like a perfect model would: small ones are ore cars, big ones heaps,
    scored 0.9, or ``short_score`` where a car is shorter than 24 px."""

    def __init__(
        self,
        tile_size: int = 256,
        overlap: int = 64,
        gsd: float | None = 0.5,
        short_score: float = 0.9,
    ) -> None:
        self.short_score = short_score
        self.metadata = ModelMetadata(
            taxonomy=load_taxonomy().to_dict(),
            tile_size=tile_size,
            tile_overlap=overlap,
            gsd_m=gsd,
            score_threshold=0.5,
        )

    def detect(
        self, image: np.ndarray, score: float | np.ndarray | None = None, views: int = 1
    ) -> Detections:
        """As the ONNX detector: fused views, then its thresholds (or ``score``)."""
        dets = detect_views(self.find, image, views)
        return dets.above(self.metadata.thresholds_by_class_id() if score is None else score)

    def find(self, image: np.ndarray) -> Detections:
        """Every dark blob of one (3, H, W) image."""
        dark = (image.mean(axis=0) < 0.4) & (image.mean(axis=0) > 0.02)
        labelled, _ = ndimage.label(dark)
        boxes, classes = [], []
        for sl in ndimage.find_objects(labelled):
            y, x = sl
            boxes.append((x.start, y.start, x.stop, y.stop))
            area = (x.stop - x.start) * (y.stop - y.start)
            classes.append(1 if area < 600 else 5)
        boxes = np.array(boxes, float).reshape(-1, 4)
        length = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        short = (np.array(classes) == 1) & (length < 24)
        return Detections(boxes, np.where(short, self.short_score, 0.9), classes)
