"""The scene label schema: one GeoJSON FeatureCollection per scene.

Each feature is an axis-aligned box polygon in the scene's CRS with a ``class`` property
(a leaf or a group of the taxonomy) and optional attributes (``loaded``, ``occluded``...).
Boxes are held in scene pixels ``(x0, y0, x1, y1)``; map coordinates follow from the
scene's transform. The legacy GeoJSON ``crs`` member names the CRS, so QGIS opens the
file as it is; the foreign member ``coalwatch`` records the taxonomy and scene facts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rasterio
from affine import Affine
from coalwatch.labels.taxonomy import Taxonomy
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from coalwatch.atomic import write_text_atomic
from coalwatch.errors import InputError

Box = tuple[float, float, float, float]

# A box may stick out of the scene by this many pixels (rounding) before it is rejected.
EDGE_TOLERANCE_PX = 0.5


@dataclass(frozen=True)
class ObjectLabel:
    """One labelled object: class name, pixel box ``(x0, y0, x1, y1)``, attributes."""

    cls: str
    box: Box
    attributes: Mapping[str, Any] = field(default_factory=dict)

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
        xs, ys = zip(*(self.transform * (x, y) for x in box[0::2] for y in box[1::2]), strict=True)
        return (min(xs), min(ys), max(xs), max(ys))

    def box_to_pixels(self, map_box: Box) -> Box:
        """Map box to pixel box ``(x0, y0, x1, y1)``."""
        inverse = ~self.transform
        corners = [inverse * (x, y) for x in map_box[0::2] for y in map_box[1::2]]
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


def _parse_crs(path: Path, collection: Mapping[str, Any]) -> CRS:
    member = collection.get("crs")
    if member is None:
        return CRS.from_epsg(4326)  # RFC 7946: no crs member means WGS84
    try:
        return CRS.from_user_input(member["properties"]["name"])
    except (CRSError, KeyError, TypeError) as exc:
        raise InputError(path, f"unknown CRS {member!r}") from exc


def _ring_box(path: Path, index: int, geometry: Any) -> Box:
    where = f"feature {index}"
    if not isinstance(geometry, Mapping) or geometry.get("type") != "Polygon":
        raise InputError(path, f"{where}: geometry must be a box Polygon")
    try:
        ring = [(float(x), float(y)) for x, y, *_ in geometry["coordinates"][0]]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InputError(path, f"{where}: malformed polygon coordinates") from exc
    if len(ring) < 4 or ring[0] != ring[-1]:
        raise InputError(path, f"{where}: polygon ring is not closed")
    xs, ys = zip(*ring[:-1], strict=True)
    if not all(math.isfinite(v) for v in xs + ys):
        raise InputError(path, f"{where}: non-finite coordinates")
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    if any(x not in (x0, x1) for x in xs) or any(y not in (y0, y1) for y in ys):
        raise InputError(path, f"{where}: polygon is not an axis-aligned box")
    return (x0, y0, x1, y1)


def read_scene_labels(
    path: str | Path, grid: SceneGrid, taxonomy: Taxonomy | None = None
) -> SceneLabels:
    """Read and validate a scene's GeoJSON labels against its grid and taxonomy.

    Rejects, with an error naming the file and the feature index: malformed JSON, unknown
    classes, inverted or degenerate boxes, boxes outside the scene, and label CRSs that
    cannot be reprojected to the scene's.
    """
    path = Path(path)
    try:
        collection = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise InputError(path, "no such label file") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"malformed JSON ({exc})") from exc
    if not isinstance(collection, Mapping) or collection.get("type") != "FeatureCollection":
        raise InputError(path, "not a GeoJSON FeatureCollection")
    meta = dict(collection.get("coalwatch") or {})
    pixel_coordinates = meta.get("coordinates") == "pixel" or grid.crs is None
    transformer = None
    if not pixel_coordinates:
        label_crs = _parse_crs(path, collection)
        if label_crs != grid.crs:
            try:
                transformer = Transformer.from_crs(label_crs, grid.crs, always_xy=True)
            except CRSError as exc:
                raise InputError(path, f"labels in {label_crs} cannot be reprojected") from exc
    objects = []
    for index, feature in enumerate(collection.get("features") or []):
        where = f"feature {index}"
        props = dict((feature or {}).get("properties") or {})
        cls = props.pop("class", None)
        if cls is None:
            raise InputError(path, f"{where}: no 'class' property")
        if taxonomy is not None and not taxonomy.is_known(cls):
            raise InputError(path, f"{where}: unknown class {cls!r} for taxonomy {taxonomy.name}")
        bbox = feature.get("bbox")
        if bbox is not None and len(bbox) >= 4 and (bbox[0] > bbox[2] or bbox[1] > bbox[3]):
            raise InputError(path, f"{where}: inverted bbox {bbox}")
        box = _ring_box(path, index, feature.get("geometry"))
        if transformer is not None:
            xs, ys = transformer.transform(
                [box[0], box[2], box[0], box[2]], [box[1], box[1], box[3], box[3]]
            )
            if not all(math.isfinite(v) for v in (*xs, *ys)):
                raise InputError(path, f"{where}: cannot be reprojected to the scene's CRS")
            box = (min(xs), min(ys), max(xs), max(ys))
        pixel_box = box if pixel_coordinates else grid.box_to_pixels(box)
        x0, y0, x1, y1 = pixel_box
        if x1 - x0 <= 0 or y1 - y0 <= 0:
            raise InputError(path, f"{where}: degenerate box (zero width or height)")
        tol = EDGE_TOLERANCE_PX
        if x0 < -tol or y0 < -tol or x1 > grid.width + tol or y1 > grid.height + tol:
            raise InputError(
                path,
                f"{where}: box {tuple(round(v, 1) for v in pixel_box)} px lies outside "
                f"the {grid.width}x{grid.height} scene",
            )
        clipped = (max(x0, 0.0), max(y0, 0.0), min(x1, grid.width), min(y1, grid.height))
        objects.append(ObjectLabel(cls=cls, box=clipped, attributes=props))
    taxonomy_name = meta.pop("taxonomy", taxonomy.name if taxonomy else "default")
    meta.pop("coordinates", None)
    return SceneLabels(objects=objects, taxonomy=taxonomy_name, properties=meta)


def count_by_class(objects: Iterable[ObjectLabel]) -> dict[str, int]:
    """Number of objects per class name."""
    counts: dict[str, int] = {}
    for obj in objects:
        counts[obj.cls] = counts.get(obj.cls, 0) + 1
    return counts
