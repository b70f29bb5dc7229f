"""Labelled scenes: a GeoTIFF and its validated labels, found on disk or imported.

A scene ``X.tif`` has its labels in ``X.geojson`` beside it. :func:`find_scenes` takes
files and folders; :mod:`coalwatch.labels.importers` makes the same objects from COCO.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import rasterio
from pyproj import CRS, Geod, Transformer
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import DatasetReader

from coalwatch.errors import InputError
from coalwatch.labels.schema import SceneGrid, SceneLabels, read_scene_labels
from coalwatch.labels.taxonomy import Taxonomy

RASTER_SUFFIXES = (".tif", ".tiff")


@dataclass
class LabelledScene:
    """A scene image and its labels (pixel boxes); ``name`` is unique within a dataset."""

    image: Path
    labels: SceneLabels
    name: str = ""

    def __post_init__(self) -> None:
        self.image = Path(self.image)
        self.name = self.name or self.image.stem


def label_path(image: Path, labels_dir: Path | None = None) -> Path:
    """Where a scene's labels lie: ``X.geojson`` beside ``X.tif``, or in ``labels_dir``."""
    name = image.with_suffix(".geojson").name
    return labels_dir / name if labels_dir is not None else image.with_name(name)


def _scene_images(paths: Iterable[str | Path]) -> list[Path]:
    images: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in RASTER_SUFFIXES)
            if not found:
                raise InputError(path, "folder holds no GeoTIFF scene (*.tif)")
            images += found
        elif path.is_file():
            images.append(path)
        else:
            raise InputError(path, "no such scene file or folder")
    return images


def open_geotiff(path: str | Path) -> DatasetReader:
    """Open a GeoTIFF scene for reading; anything else is an :class:`InputError`.

    A scene without a CRS opens quietly (its labels are then in pixel coordinates).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(path)
    except RasterioError as exc:
        raise InputError(path, f"not a readable GeoTIFF ({exc})") from exc
    if src.driver != "GTiff":
        src.close()
        raise InputError(path, f"not a GeoTIFF (a {src.driver} raster)")
    return src


def scene_grid(path: str | Path) -> SceneGrid:
    """The grid of a GeoTIFF scene (checked to be one)."""
    with open_geotiff(path) as src:
        crs = CRS.from_wkt(src.crs.to_wkt()) if src.crs else None
        return SceneGrid(src.width, src.height, src.transform, crs)


def read_scene(image: Path, taxonomy: Taxonomy, labels_dir: Path | None = None) -> LabelledScene:
    """A scene and its labels (``X.geojson`` beside it or in ``labels_dir``), validated."""
    grid = scene_grid(image)
    labels = label_path(image, labels_dir)
    if not labels.is_file():
        raise InputError(image, f"no labels for the scene (expected {labels})")
    return LabelledScene(image, read_scene_labels(labels, grid, taxonomy))


def find_scenes(
    paths: Iterable[str | Path], taxonomy: Taxonomy, labels_dir: str | Path | None = None
) -> list[LabelledScene]:
    """Scenes named directly or found in folders (``*.tif``), with their labels."""
    folder = Path(labels_dir) if labels_dir is not None else None
    if folder is not None and not folder.is_dir():
        raise InputError(folder, "no such labels folder")
    scenes = [read_scene(image, taxonomy, folder) for image in _scene_images(paths)]
    check_unique_names(scenes)
    return scenes


def check_unique_names(scenes: Sequence[LabelledScene]) -> None:
    """Scene names identify scenes in splits, chip names and manifests: no repeats."""
    seen: dict[str, Path] = {}
    for scene in scenes:
        if scene.name in seen:
            raise InputError(scene.image, f"scene name {scene.name!r} repeats {seen[scene.name]}")
        seen[scene.name] = scene.image


def leaf_class(taxonomy: Taxonomy, name: str, where: str | Path) -> str:
    """The leaf class a label stands for: itself, or the only leaf of a one-leaf group.

    A label naming a group of several leaves cannot become a detector class: a dataset
    labelled at that level needs a taxonomy whose leaves are its labels.
    """
    if taxonomy.is_leaf(name):
        return name
    members = taxonomy.groups.get(name, ())
    if len(members) == 1:
        return members[0]
    if members:
        raise InputError(
            where,
            f"label {name!r} is a group of taxonomy {taxonomy.name!r} ({', '.join(members)}); "
            "chips need leaf classes: label the leaves, or use a taxonomy whose leaves are "
            "your labels (e.g. --taxonomy ship for ships labelled only as ships)",
        )
    raise InputError(where, f"label {name!r} is not in taxonomy {taxonomy.name!r}")


def ground_pixel_size_m(src: DatasetReader) -> float | None:
    """The ground size of a pixel at the scene centre, in metres (None without a CRS).

    The ``GSD_M`` tag wins when present; otherwise the geodesic length of one pixel step
    (so Web-Mercator scenes report their true ground size, not their nominal one).
    """
    tag = src.tags().get("GSD_M")
    if tag:
        try:
            return float(tag)
        except ValueError:
            pass
    if src.crs is None:
        return None
    t = src.transform
    cx, cy = src.width / 2, src.height / 2
    points = [(cx, cy), (cx + 1, cy), (cx, cy + 1)]
    xs = [t.a * x + t.b * y + t.c for x, y in points]
    ys = [t.d * x + t.e * y + t.f for x, y in points]
    to_lonlat = Transformer.from_crs(src.crs, "EPSG:4326", always_xy=True)
    lons, lats = to_lonlat.transform(xs, ys)
    geod = Geod(ellps="WGS84")
    _, _, dx = geod.inv(lons[0], lats[0], lons[1], lats[1])
    _, _, dy = geod.inv(lons[0], lats[0], lons[2], lats[2])
    size = math.sqrt(abs(dx * dy))
    return round(size, 4) if math.isfinite(size) else None
