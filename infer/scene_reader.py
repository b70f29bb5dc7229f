"""Read a GeoTIFF scene window by window, as the model wants to see it.

``Scene`` opens and checks a scene (a GeoTIFF, enough bands for the model), knows its
grid, date, cloud tag and ground sample distance, and yields model-ready tiles: the
model's bands, resampled on read to the model's GSD when the scene's differs, scaled
with the model's radiometric scaling to float32 in [0, 1]. Tiles that are all nodata are
skipped. Only one tile's pixels are in memory at a time.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from coalwatch.errors import InputError
from coalwatch.infer.tiling import Tile, TileGrid
from coalwatch.labels.radiometry import Scaling, check_bands

log = logging.getLogger(__name__)

# Resampling factors closer to 1 than this are not worth a resampled read.
GSD_TOLERANCE = 0.02
_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})[-_]?(\d{2})[-_]?(\d{2})(?!\d)")


@dataclass(frozen=True)
class ModelTile:
    """A tile ready for the model, and how its pixels map back to the scene's."""

    tile: Tile
    image: np.ndarray  # float32 (3, h, w) in [0, 1]
    scale_x: float  # scene pixels per model pixel
    scale_y: float
    valid_pixels: float  # valid scene pixels inside the tile's core


def _scene_gsd(
    crs: CRS | None, transform: Affine, height: int, tags: dict[str, str]
) -> float | None:
    """Metres per pixel: from the transform when georeferenced, else the ``GSD_M`` tag."""
    size = math.sqrt(abs(transform.a * transform.e - transform.b * transform.d))
    if crs is not None and crs.is_geographic:
        lat = transform.f + transform.e * height / 2
        return size * 111_320.0 * math.cos(math.radians(lat))
    if crs is not None:
        factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        return size * factor
    try:
        return float(tags["GSD_M"])
    except (KeyError, ValueError):
        return None


def date_of(path: Path, tags: dict[str, str]) -> date | None:
    """Acquisition date from the ``ACQUISITION_DATETIME`` tag, else from the file name."""
    text = tags.get("ACQUISITION_DATETIME") or tags.get("TIFFTAG_DATETIME")
    if text:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            try:
                return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S").date()
            except ValueError:
                pass
    match = _DATE_IN_NAME.search(path.stem)
    if match:
        try:
            return date(*(int(g) for g in match.groups()))
        except ValueError:
            return None
    return None


class Scene:
    """An open GeoTIFF scene; use as a context manager."""

    def __init__(
        self, path: str | Path, bands: tuple[int, ...] = (1, 2, 3), scaling: Scaling | None = None
    ) -> None:
        self.path = Path(path)
        self.bands = tuple(int(b) for b in bands)
        if not self.path.is_file():
            raise InputError(self.path, "no such scene file")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)  # reported per scene
                self.src = rasterio.open(self.path)
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(self.path, f"not a readable GeoTIFF ({_first_line(exc)})") from exc
        if self.src.driver not in ("GTiff", "COG"):
            driver = self.src.driver
            self.src.close()
            raise InputError(self.path, f"not a GeoTIFF (GDAL reads it as {driver})")
        try:
            check_bands(self.path, self.src.count, self.bands)
            self.scaling = (scaling or Scaling("gain")).fit(self.src, self.bands)
        except rasterio.errors.RasterioIOError as exc:
            self.src.close()
            raise InputError(self.path, f"cannot read pixels ({_first_line(exc)})") from exc
        except InputError:
            self.src.close()
            raise
        self.width, self.height = self.src.width, self.src.height
        self.transform: Affine = self.src.transform
        self.crs = CRS.from_wkt(self.src.crs.to_wkt()) if self.src.crs else None
        self.tags = {str(k): str(v) for k, v in self.src.tags().items()}
        self.gsd_m = _scene_gsd(self.crs, self.transform, self.height, self.tags)
        self.date = date_of(self.path, self.tags)

    # -- facts ----------------------------------------------------------------------------
    @property
    def scene_id(self) -> str:
        return self.path.stem

    @property
    def cloud_fraction(self) -> float:
        """The scene's ``CLOUD_FRACTION`` tag (0 when absent or unreadable)."""
        try:
            return min(max(float(self.tags.get("CLOUD_FRACTION", 0.0)), 0.0), 1.0)
        except ValueError:
            return 0.0

    @property
    def pixel_area_m2(self) -> float | None:
        """Area of one scene pixel in square metres (None when unknown)."""
        return None if self.gsd_m is None else self.gsd_m**2

    def resample_factor(self, model_gsd: float | None) -> float:
        """Model pixels per scene pixel (1 when either GSD is unknown or they nearly agree)."""
        if model_gsd is None or self.gsd_m is None:
            return 1.0
        factor = self.gsd_m / model_gsd
        return 1.0 if abs(factor - 1.0) < GSD_TOLERANCE else factor

    # -- reading ----------------------------------------------------------------------------
    def read(
        self, window: Window, out_shape: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scaled uint8 bands (3, h, w) and the validity mask of ``window``, maybe resampled.

        Valid means valid in every band (rasterio's masks: nodata value, internal mask or
        alpha), as when the chips were cut; invalid pixels are 0.
        """
        shape = None if out_shape is None else (len(self.bands), *out_shape)
        upsample = out_shape is not None and out_shape[0] > window.height
        method = Resampling.bilinear if upsample else Resampling.average
        try:
            values = self.src.read(self.bands, window=window, out_shape=shape, resampling=method)
            masks = self.src.read_masks(
                self.bands, window=window, out_shape=shape, resampling=Resampling.nearest
            )
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(
                self.path, f"cannot read pixels, truncated or corrupt? ({_first_line(exc)})"
            ) from exc
        valid = masks.min(axis=0) > 0
        return self.scaling.apply(values, valid), valid

    def model_tiles(
        self, tile_size: int, overlap: int, model_gsd: float | None = None
    ) -> tuple[TileGrid, Iterator[ModelTile]]:
        """The tile grid in scene pixels and a lazy iterator over non-empty model tiles."""
        factor = self.resample_factor(model_gsd)
        scene_tile = max(1, round(tile_size / factor))
        scene_overlap = min(round(overlap / factor), scene_tile - 1)
        grid = TileGrid(self.width, self.height, scene_tile, scene_overlap)
        return grid, self._iter_tiles(grid, factor)

    def _iter_tiles(self, grid: TileGrid, factor: float) -> Iterator[ModelTile]:
        for tile in grid:
            window = Window(*tile.window)
            out_shape = None
            if factor != 1.0:
                out_shape = (
                    max(1, round(tile.height * factor)),
                    max(1, round(tile.width * factor)),
                )
            data, valid = self.read(window, out_shape)
            if not valid.any():
                continue
            sy = tile.height / data.shape[1]
            sx = tile.width / data.shape[2]
            image = data.astype(np.float32) / np.float32(255.0)
            yield ModelTile(tile, image, sx, sy, self._core_valid(tile, valid, sx, sy))

    @staticmethod
    def _core_valid(tile: Tile, valid: np.ndarray, sx: float, sy: float) -> float:
        x0 = round((tile.core[0] - tile.x) / sx)
        x1 = round((tile.core[2] - tile.x) / sx)
        y0 = round((tile.core[1] - tile.y) / sy)
        y1 = round((tile.core[3] - tile.y) / sy)
        return float(valid[y0:y1, x0:x1].sum()) * sx * sy

    def read_box(
        self, box: tuple[float, float, float, float], margin: int = 0
    ) -> tuple[np.ndarray, tuple[int, int]]:
        """Scaled uint8 bands inside a pixel box grown by ``margin`` (clipped), and its origin."""
        x0 = max(0, math.floor(box[0]) - margin)
        y0 = max(0, math.floor(box[1]) - margin)
        x1 = min(self.width, math.ceil(box[2]) + margin)
        y1 = min(self.height, math.ceil(box[3]) + margin)
        data, _ = self.read(Window(x0, y0, max(1, x1 - x0), max(1, y1 - y0)))
        return data, (x0, y0)

    def close(self) -> None:
        self.src.close()

    def __enter__(self) -> Scene:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
