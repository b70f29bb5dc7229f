"""The scene label schema: one GeoJSON FeatureCollection per scene.

Each feature is an axis-aligned box polygon in the scene's CRS with a ``class`` property
(a leaf or a group of the taxonomy) and optional attributes (``loaded``, ``occluded``...).
Boxes are held in scene pixels ``(x0, y0, x1, y1)``; map coordinates follow from the
scene's transform. The legacy GeoJSON ``crs`` member names the CRS, so QGIS opens the
file as it is; the foreign member ``coalwatch`` records the taxonomy and scene facts.

What counts as a box: a closed ring of four corners that are exactly the corners of
``(xmin, ymin, xmax, ymax)``, each edge parallel to an axis. Either winding is accepted
(RFC 7946 asks readers not to reject clockwise rings). A ring that visits the corners out
of order crosses itself (a "bow-tie"): that, or a GeoJSON ``bbox`` member whose minimum
exceeds its maximum, is an *inverted* box. A box with zero width or height is *degenerate*.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rasterio
from affine import Affine
from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError

from coalwatch.atomic import write_text_atomic
from coalwatch.errors import InputError
from coalwatch.labels.jsonio import geojson_crs, load_json
from coalwatch.labels.taxonomy import Taxonomy

Box = tuple[float, float, float, float]

# A box may stick out of the scene by this many pixels (rounding) before it is clipped.
EDGE_TOLERANCE_PX = 0.5
# A box with less than this share of its area inside the scene is rejected as outside it;
# a box mostly inside (an object cut by the scene border) is clipped to the scene.
MIN_INSIDE_SHARE = 0.5


@dataclass(frozen=True)
class ObjectLabel:
    """One labelled object: class name, pixel box ``(x0, y0, x1, y1)``, attributes."""

    cls: str
    box: Box
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        x0, y0, x1, y1 = self.box
        if not all(math.isfinite(v) for v in self.box) or x1 <= x0 or y1 <= y0:
            raise ValueError(
                f"box {self.box} of a {self.cls!r} is not (x0, y0, x1, y1), x0<x1, y0<y1"
            )

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class SceneGrid:
    """Where a scene's pixels lie: size, affine transform and CRS (None when ungeoreferenced)."""

    width: int
    height: int
    transform: Affine
    crs: CRS | None

    @classmethod
    def from_raster(cls, path: str | Path) -> SceneGrid:
        """Read the grid of a GeoTIFF without reading its pixels."""
        try:
            with rasterio.open(path) as src:
                crs = CRS.from_wkt(src.crs.to_wkt()) if src.crs else None
                return cls(src.width, src.height, src.transform, crs)
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(path, f"not a readable raster ({exc})") from exc

    def box_to_map(self, box: Box) -> Box:
        """Pixel box to map box ``(xmin, ymin, xmax, ymax)``."""
        return _envelope(self.transform, box)

    def box_to_pixels(self, map_box: Box) -> Box:
        """Map box to pixel box ``(x0, y0, x1, y1)``."""
        return _envelope(~self.transform, map_box)


def _envelope(t: Affine, box: Box) -> Box:
    """The envelope of a box's four corners under an affine transform."""
    points = [(x, y) for x in box[0::2] for y in box[1::2]]
    corners = [(t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f) for x, y in points]
    xs, ys = zip(*corners, strict=True)
    return (min(xs), min(ys), max(xs), max(ys))


@dataclass
class SceneLabels:
    """The labelled objects of one scene, the taxonomy they use and scene facts."""

    objects: list[ObjectLabel]
    taxonomy: str = "default"
    properties: dict[str, Any] = field(default_factory=dict)


def _crs_member(crs: CRS | None) -> dict[str, Any] | None:
    if crs is None:
        return None
    epsg = crs.to_epsg()
    name = f"urn:ogc:def:crs:EPSG::{epsg}" if epsg else crs.to_wkt()
    return {"type": "name", "properties": {"name": name}}


def box_polygon(box: Box) -> list[list[list[float]]]:
    """A closed, counter-clockwise ring for a ``(xmin, ymin, xmax, ymax)`` box."""
    x0, y0, x1, y1 = (round(v, 6) for v in box)
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def scene_labels_to_geojson(labels: SceneLabels, grid: SceneGrid) -> dict[str, Any]:
    """The GeoJSON FeatureCollection of a scene's labels, boxes in the scene's CRS."""
    features = []
    for obj in labels.objects:
        map_box = grid.box_to_map(obj.box) if grid.crs is not None else obj.box
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": box_polygon(map_box)},
                "properties": {"class": obj.cls, **dict(obj.attributes)},
            }
        )
    collection: dict[str, Any] = {"type": "FeatureCollection"}
    crs_member = _crs_member(grid.crs)
    if crs_member:
        collection["crs"] = crs_member
    collection["coalwatch"] = {
        "taxonomy": labels.taxonomy,
        "coordinates": "map" if grid.crs is not None else "pixel",
        **labels.properties,
    }
    collection["features"] = features
    return collection


def write_scene_labels(path: str | Path, labels: SceneLabels, grid: SceneGrid) -> Path:
    """Write a scene's labels as GeoJSON (atomically)."""
    text = json.dumps(scene_labels_to_geojson(labels, grid), indent=1)
    return write_text_atomic(path, text + "\n")


def _transformer(path: Path, label_crs: CRS, scene_crs: CRS) -> Transformer | None:
    """A transformer from the labels' CRS to the scene's, None when they are the same."""
    if label_crs == scene_crs:
        return None
    problem = (
        f"labels in {label_crs.name!r} cannot be reprojected to the scene's {scene_crs.name!r}"
    )
    if not (label_crs.is_geographic or label_crs.is_projected):
        raise InputError(path, f"{problem}: not a horizontal CRS")
    try:
        return Transformer.from_crs(label_crs, scene_crs, always_xy=True)
    except ProjError as exc:
        raise InputError(path, f"{problem} ({exc})") from exc


def _ring_box(path: Path, where: str, geometry: Any) -> Box:
    """The ``(xmin, ymin, xmax, ymax)`` of a box polygon; rejects anything that is not a box."""
    if not isinstance(geometry, Mapping) or geometry.get("type") != "Polygon":
        raise InputError(path, f"{where}: geometry must be a box Polygon")
    try:
        ring = [(float(p[0]), float(p[1])) for p in geometry["coordinates"][0]]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InputError(path, f"{where}: malformed polygon coordinates") from exc
    if len(ring) < 4 or ring[0] != ring[-1]:
        raise InputError(path, f"{where}: polygon ring is not closed")
    if not all(math.isfinite(v) for point in ring for v in point):
        raise InputError(path, f"{where}: non-finite coordinates")
    corners = [p for i, p in enumerate(ring[:-1]) if i == 0 or p != ring[i - 1]]
    xs, ys = zip(*corners, strict=True)
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    if x1 <= x0 or y1 <= y0:
        raise InputError(path, f"{where}: degenerate box (zero width or height)")
    if len(corners) != 4 or set(corners) != {(x0, y0), (x1, y0), (x1, y1), (x0, y1)}:
        raise InputError(path, f"{where}: polygon is not an axis-aligned box")
    for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1], strict=True):
        if ax != bx and ay != by:
            raise InputError(path, f"{where}: inverted box (ring crosses itself)")
    return (x0, y0, x1, y1)


def _check_bbox_member(path: Path, where: str, bbox: Any) -> None:
    if bbox is None:
        return
    if not isinstance(bbox, Sequence) or len(bbox) not in (4, 6):
        raise InputError(path, f"{where}: malformed bbox member {bbox!r}")
    half = len(bbox) // 2
    try:
        inverted = any(float(bbox[i]) > float(bbox[i + half]) for i in range(2))
    except (TypeError, ValueError) as exc:
        raise InputError(path, f"{where}: malformed bbox member {bbox!r}") from exc
    if inverted:
        raise InputError(path, f"{where}: inverted box (bbox member {list(bbox)})")


def _reproject(path: Path, where: str, box: Box, transformer: Transformer) -> Box:
    try:
        out = transformer.transform_bounds(*box, densify_pts=5)
    except ProjError as exc:
        raise InputError(path, f"{where}: cannot be reprojected to the scene's CRS") from exc
    if not all(math.isfinite(v) for v in out):
        raise InputError(path, f"{where}: cannot be reprojected to the scene's CRS")
    return tuple(out)  # type: ignore[return-value]


def clip_box_to_scene(path: str | Path, where: str, box: Box, grid: SceneGrid) -> Box:
    """Clip a pixel box to the scene; reject a degenerate one or one (mostly) outside it.

    ``path`` and ``where`` (e.g. ``"feature 3"``) name the offending entry in the error.
    """
    x0, y0, x1, y1 = box
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        raise InputError(path, f"{where}: degenerate box (zero width or height)")
    clipped = (max(x0, 0.0), max(y0, 0.0), min(x1, grid.width), min(y1, grid.height))
    tol = EDGE_TOLERANCE_PX
    if x0 >= -tol and y0 >= -tol and x1 <= grid.width + tol and y1 <= grid.height + tol:
        return clipped
    inside = max(clipped[2] - clipped[0], 0.0) * max(clipped[3] - clipped[1], 0.0)
    if inside < MIN_INSIDE_SHARE * (x1 - x0) * (y1 - y0):
        shown = tuple(round(v, 1) for v in box)
        raise InputError(
            path, f"{where}: box {shown} px lies outside the {grid.width}x{grid.height} scene"
        )
    return clipped


def read_scene_labels(
    path: str | Path, grid: SceneGrid, taxonomy: Taxonomy | None = None
) -> SceneLabels:
    """Read and validate a scene's GeoJSON labels against its grid and taxonomy.

    Rejects, with an error naming the file and the feature index: malformed JSON, unknown
    classes, inverted or degenerate boxes, boxes outside the scene, and label CRSs that
    cannot be reprojected to the scene's. Boxes mostly inside the scene are clipped to it.
    """
    path = Path(path)
    collection = load_json(path, "label file")
    if not isinstance(collection, Mapping) or collection.get("type") != "FeatureCollection":
        raise InputError(path, "not a GeoJSON FeatureCollection")
    meta = collection.get("coalwatch") or {}
    if not isinstance(meta, Mapping):
        raise InputError(path, "the 'coalwatch' member must be an object")
    meta = dict(meta)
    features = collection.get("features")
    if not isinstance(features, list):
        raise InputError(path, "'features' must be a list")
    pixel_coordinates = meta.get("coordinates") == "pixel"
    if grid.crs is None and not pixel_coordinates and "crs" in collection:
        raise InputError(path, "labels are in map coordinates but the scene has no CRS")
    pixel_coordinates = pixel_coordinates or grid.crs is None
    transformer = None
    if not pixel_coordinates:
        transformer = _transformer(path, geojson_crs(path, collection), grid.crs)
    objects = []
    for index, feature in enumerate(features):
        where = f"feature {index}"
        if not isinstance(feature, Mapping):
            raise InputError(path, f"{where}: not a GeoJSON Feature object")
        props = dict(feature.get("properties") or {})
        cls = props.pop("class", None)
        if cls is None:
            raise InputError(path, f"{where}: no 'class' property")
        if taxonomy is not None and not taxonomy.is_known(cls):
            known = ", ".join((*taxonomy.classes, *taxonomy.groups))
            raise InputError(
                path, f"{where}: unknown class {cls!r} for taxonomy {taxonomy.name} ({known})"
            )
        _check_bbox_member(path, where, feature.get("bbox"))
        box = _ring_box(path, where, feature.get("geometry"))
        if transformer is not None:
            box = _reproject(path, where, box, transformer)
        pixel_box = box if pixel_coordinates else grid.box_to_pixels(box)
        box = clip_box_to_scene(path, where, pixel_box, grid)
        objects.append(ObjectLabel(cls=str(cls), box=box, attributes=props))
    taxonomy_name = meta.pop("taxonomy", taxonomy.name if taxonomy else "default")
    meta.pop("coordinates", None)
    return SceneLabels(objects=objects, taxonomy=taxonomy_name, properties=meta)


def count_by_class(objects: Iterable[ObjectLabel]) -> dict[str, int]:
    """Number of objects per class name."""
    counts: dict[str, int] = {}
    for obj in objects:
        counts[obj.cls] = counts.get(obj.cls, 0) + 1
    return counts
