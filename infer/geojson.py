"""Write a scene's detections as GeoJSON that QGIS opens as it is.

In the scene's CRS (default) the file follows the coalwatch label schema
(``coalwatch.labels.schema``: box polygons, legacy ``crs`` member, ``class`` property), so
detections can be read back like labels. With ``wgs84=True`` the boxes' corners are
reprojected to longitude/latitude (RFC 7946, no ``crs`` member). Every feature carries
``class``, ``group``, ``score``, its pixel box and, where they apply, ``heap_area_m2``
and the ``aoi`` containing its centre. A scene without a CRS is written in pixels.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pyproj import CRS, Transformer

from coalwatch.atomic import write_text_atomic
from coalwatch.infer.counting import SceneResult
from coalwatch.labels.schema import (
    ObjectLabel,
    SceneGrid,
    SceneLabels,
    scene_labels_to_geojson,
)


def _attributes(result: SceneResult, index: int) -> dict[str, Any]:
    dets = result.detections
    taxonomy = result.taxonomy_obj
    leaf = taxonomy.class_name(int(dets.class_ids[index]))
    attributes: dict[str, Any] = {
        "group": taxonomy.group_of(leaf),
        "score": round(float(dets.scores[index]), 4),
        "pixel_box": [round(float(v), 2) for v in dets.boxes[index]],
    }
    area = dets.extra.get("heap_area_m2")
    if area is not None and not math.isnan(float(area[index])):
        attributes["heap_area_m2"] = round(float(area[index]), 1)
    aoi = dets.extra.get("aoi")
    if aoi is not None and aoi[index]:
        attributes["aoi"] = str(aoi[index])
    return attributes


def detections_geojson(result: SceneResult, wgs84: bool = False) -> dict[str, Any]:
    """The FeatureCollection of one scene's detections."""
    dets = result.detections
    taxonomy = result.taxonomy_obj
    grid = SceneGrid(result.width, result.height, result.affine, result.crs)
    properties = {
        "scene": result.scene_id,
        "date": result.date,
        "counts": result.counts,
        "group_counts": result.group_counts,
    }
    objects = [
        ObjectLabel(
            taxonomy.class_name(int(dets.class_ids[i])),
            tuple(float(v) for v in dets.boxes[i]),
            _attributes(result, i),
        )
        for i in range(len(dets))
    ]
    labels = SceneLabels(objects, taxonomy.name, properties)
    collection = scene_labels_to_geojson(labels, grid)
    if not wgs84 or grid.crs is None:
        return collection
    transformer = Transformer.from_crs(grid.crs, CRS.from_epsg(4326), always_xy=True)
    for feature, obj in zip(collection["features"], objects, strict=True):
        ring = _pixel_ring(grid, obj.box)
        lon, lat = transformer.transform([p[0] for p in ring], [p[1] for p in ring])
        feature["geometry"]["coordinates"] = [
            [[round(x, 8), round(y, 8)] for x, y in zip(lon, lat, strict=True)]
        ]
    collection.pop("crs", None)
    collection["coalwatch"]["coordinates"] = "wgs84"
    return collection


def _pixel_ring(grid: SceneGrid, box: tuple[float, float, float, float]) -> list[list[float]]:
    """The box's four corners in map coordinates (exact even for rotated transforms), closed."""
    x0, y0, x1, y1 = box
    corners = [(x0, y0), (x0, y1), (x1, y1), (x1, y0), (x0, y0)]
    a, b, c, d, e, f = grid.transform[:6]
    return [[a * x + b * y + c, d * x + e * y + f] for x, y in corners]


def write_detections(path: str | Path, result: SceneResult, wgs84: bool = False) -> Path:
    """Write the detections GeoJSON atomically."""
    text = json.dumps(detections_geojson(result, wgs84), indent=1)
    return write_text_atomic(path, text + "\n")
