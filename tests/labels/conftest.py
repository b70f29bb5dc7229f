"""Small GeoTIFF scenes drawn by test code: a dark sea with bright boxes as objects."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from coalwatch.labels.schema import ObjectLabel, SceneGrid, SceneLabels, write_scene_labels

# UTM 52N near Nampho-like latitudes: 3 m pixels.
ORIGIN = (350_000.0, 4_300_000.0)
GSD = 3.0


def write_scene(
    path: Path,
    width: int = 256,
    height: int = 192,
    objects: Sequence[tuple[str, tuple[float, float, float, float]]] = (),
    *,
    count: int = 3,
    dtype: str = "uint8",
    crs: str | None = "EPSG:32652",
    nodata: float | None = None,
    nodata_cols: int = 0,
    background: float = 40,
    brightness: float = 200,
    taxonomy: str = "default",
    labels: bool = True,
    **creation_options,
) -> Path:
    """Write ``path`` (GeoTIFF) and, with ``labels``, its GeoJSON beside it.

    Band ``b`` holds ``background * (b + 1)`` plus ``brightness`` inside each object box
    (so band order is visible in the output); the first ``nodata_cols`` columns hold nodata.
    """
    transform = Affine(GSD, 0, ORIGIN[0], 0, -GSD, ORIGIN[1])
    data = np.zeros((count, height, width), dtype=np.float64)
    for band in range(count):
        data[band] = background * (band + 1)
    for _, (x0, y0, x1, y1) in objects:
        data[:, int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))] += brightness
    if nodata_cols:
        data[:, :, :nodata_cols] = nodata
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": dtype,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 64,
        "blockysize": 64,
        **creation_options,
    }
    with rasterio.open(path, "w", **profile) as dst:
        if np.issubdtype(np.dtype(dtype), np.integer):
            info = np.iinfo(dtype)
            data = np.clip(data, info.min, info.max)
        dst.write(data.astype(dtype))
    if labels:
        grid = SceneGrid.from_raster(path)
        scene = SceneLabels([ObjectLabel(c, b) for c, b in objects], taxonomy=taxonomy)
        write_scene_labels(path.with_suffix(".geojson"), scene, grid)
    return path


@pytest.fixture
def make_scene(tmp_path: Path) -> Callable[..., Path]:
    """A factory: ``make_scene("name", width=..., objects=[...], ...) -> tif path``."""

    def factory(name: str = "scene", **kwargs) -> Path:
        folder = kwargs.pop("folder", tmp_path / "scenes")
        folder.mkdir(parents=True, exist_ok=True)
        return write_scene(folder / f"{name}.tif", **kwargs)

    return factory
