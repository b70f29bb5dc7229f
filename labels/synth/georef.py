"""Georeferencing and writing: the UTM grid of a scenario's place, tiled compressed
GeoTIFFs with the contract's tags, and the labels beside them (all written atomically)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.crs import CRS as RioCRS

from coalwatch.atomic import atomic_path
from coalwatch.labels.schema import ObjectLabel, SceneGrid, SceneLabels, write_scene_labels
from coalwatch.labels.synth.config import Place


def scene_grid(place: Place, width: int, height: int, gsd: float) -> SceneGrid:
    """A north-up UTM grid of ``width`` x ``height`` pixels centred on the place."""
    crs = CRS.from_epsg(place.epsg)
    to_utm = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = to_utm.transform(place.lon, place.lat)
    left = round((x - width * gsd / 2) / gsd) * gsd
    top = round((y + height * gsd / 2) / gsd) * gsd
    return SceneGrid(width, height, Affine(gsd, 0.0, left, 0.0, -gsd, top), crs)


def write_scene(
    out_dir: Path,
    scene_id: str,
    data: np.ndarray,
    grid: SceneGrid,
    objects: list[ObjectLabel],
    tags: dict[str, str],
    properties: dict,
) -> Path:
    """Write ``scene_id.tif`` and ``scene_id.geojson``; returns the tif path."""
    tif = out_dir / f"{scene_id}.tif"
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": RioCRS.from_epsg(grid.crs.to_epsg()),
        "transform": grid.transform,
        "nodata": 0,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 2,
        "interleave": "pixel" if data.dtype == np.uint8 else "band",
    }
    if data.shape[0] == 3:
        profile["photometric"] = "RGB"
    with atomic_path(tif) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        dst.update_tags(**tags)
        names = ("red", "green", "blue", "nir")
        for i in range(data.shape[0]):
            dst.set_band_description(i + 1, names[i])
    labels = SceneLabels(objects, "default", properties)
    write_scene_labels(out_dir / f"{scene_id}.geojson", labels, grid)
    return tif


def contract_tags(
    when: dt.datetime, cloud_fraction: float, scenario: str, gsd: float, extra: dict | None = None
) -> dict[str, str]:
    """The tags every synthetic scene carries (see the synth contract)."""
    tags = {
        "ACQUISITION_DATETIME": when.replace(tzinfo=dt.timezone.utc).isoformat(),
        "CLOUD_FRACTION": f"{cloud_fraction:.4f}",
        "COALWATCH_SCENARIO": scenario,
        "GSD_M": f"{gsd:g}",
    }
    tags.update({k: str(v) for k, v in (extra or {}).items()})
    return tags
