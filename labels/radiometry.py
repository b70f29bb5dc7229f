"""Input radiometry: which bands to read and how their values become 8-bit (numpy only).

A :class:`Scaling` is a recipe (``gain`` or ``percentile``) that is *fitted* to one scene
(the gain resolved from the scene's bit depth, or the per-band percentiles measured on a
decimated overview read) and then applied to any window of that scene. The recipe is
recorded in the chips manifest and in the ONNX metadata, so counting applies the same
scaling that training saw::

    with rasterio.open(path) as src:
        check_bands(path, src.count, bands)
        fitted = Scaling.parse("percentile").fit(src, bands)
        rgb, valid = read_window(src, Window(0, 0, 512, 512), bands, fitted)

Nodata (the dataset's nodata value, internal masks or an alpha band, as rasterio's
``read_masks`` reports them) is excluded from the fit and written as 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from os import PathLike
from typing import Any

import numpy as np
from rasterio.enums import Resampling
from rasterio.io import DatasetReader
from rasterio.windows import Window

from coalwatch.errors import InputError

METHODS = ("gain", "percentile")
DEFAULT_PERCENTILES = (2.0, 98.0)
# The percentile fit reads the scene decimated so that its longer side has at most this many
# pixels (from the GeoTIFF's overviews when it has them): cost and memory stay flat.
FIT_MAX_SIDE = 1024


@dataclass(frozen=True)
class Scaling:
    """How band values become 8-bit.

    ``gain``: ``out = value * gain``; a ``gain`` of None is resolved by :meth:`fit` from the
    scene's bit depth (1 for 8-bit, ``255 / (2**NBITS - 1)`` for 12/16-bit, 255 for float).
    ``percentile``: ``out = 255 * (value - low) / (high - low)`` per band, ``low``/``high``
    being the scene's ``percentiles`` of valid pixels (set by :meth:`fit`).
    Results are clipped to 0..255 and rounded.
    """

    method: str = "gain"
    gain: float | None = None
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"scaling method must be one of {METHODS}, got {self.method!r}")
        if self.gain is not None and not (math.isfinite(self.gain) and self.gain > 0):
            raise ValueError(f"scaling gain must be a positive number, got {self.gain}")
        lo, hi = self.percentiles
        if not 0 <= lo < hi <= 100:
            raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {lo}, {hi}")
        if (self.low is None) != (self.high is None):
            raise ValueError("scaling needs both low and high, or neither")
        if self.low is not None and (
            len(self.low) != len(self.high)
            or any(h <= lo for lo, h in zip(self.low, self.high, strict=True))
        ):
            raise ValueError(f"scaling needs high > low per band, got {self.low}, {self.high}")

    @classmethod
    def parse(cls, text: str) -> Scaling:
        """From the command line: ``gain``, ``gain=0.0625``, ``percentile``, ``percentile=1,99``."""
        method, _, value = text.partition("=")
        method = method.strip()
        try:
            if method == "gain":
                return cls("gain", gain=float(value) if value else None)
            if method == "percentile":
                if not value:
                    return cls("percentile")
                lo, hi = (float(v) for v in value.split(","))
                return cls("percentile", percentiles=(lo, hi))
        except ValueError as exc:
            raise ValueError(f"bad scaling {text!r}: {exc}") from exc
        raise ValueError(f"bad scaling {text!r}: use gain[=G] or percentile[=LOW,HIGH]")

    @property
    def is_fitted(self) -> bool:
        """Whether the scaling can be applied (its per-scene values are known)."""
        return self.gain is not None if self.method == "gain" else self.low is not None

    def recipe(self) -> Scaling:
        """The scene-independent part (what a model records): percentile fits dropped."""
        return replace(self, low=None, high=None)

    def fit(self, src: DatasetReader, bands: Sequence[int]) -> Scaling:
        """This scaling resolved for one open scene (``bands`` 1-based)."""
        if self.method == "gain":
            return self if self.gain is not None else replace(self, gain=_bit_depth_gain(src))
        values, valid = _overview(src, bands)
        if not valid.any():
            raise InputError(src.name, "no valid (non-nodata) pixels to fit the scaling on")
        pixels = values[:, valid].astype(np.float64)
        low, high = np.percentile(pixels, self.percentiles, axis=1)
        high = np.maximum(high, low + np.maximum(np.abs(low) * 1e-3, 1e-6))  # flat bands
        return replace(self, low=_floats(low), high=_floats(high))

    def apply(self, values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Scale ``values`` (bands, H, W) to uint8; pixels where ``valid`` is False become 0."""
        if not self.is_fitted:
            raise ValueError("fit the scaling to a scene before applying it")
        data = values.astype(np.float32, copy=False)
        if self.method == "gain":
            out = data * np.float32(self.gain)
        else:
            if len(self.low) != data.shape[0]:
                raise ValueError(f"scaling fitted for {len(self.low)} bands, got {data.shape[0]}")
            low = np.asarray(self.low, np.float32)[:, None, None]
            span = np.asarray(self.high, np.float32)[:, None, None] - low
            out = (data - low) * (np.float32(255.0) / span)
        out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
        if valid is not None:
            out[:, ~valid] = 0
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain form for manifests and model metadata."""
        data: dict[str, Any] = {"method": self.method}
        if self.method == "gain":
            if self.gain is not None:
                data["gain"] = self.gain
        else:
            data["percentiles"] = list(self.percentiles)
            if self.low is not None:
                data["low"], data["high"] = list(self.low), list(self.high)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scaling:
        """Inverse of :meth:`to_dict`."""
        low, high = data.get("low"), data.get("high")
        return cls(
            method=str(data.get("method", "gain")),
            gain=None if data.get("gain") is None else float(data["gain"]),
            percentiles=tuple(float(v) for v in data.get("percentiles", DEFAULT_PERCENTILES)),
            low=None if low is None else _floats(low),
            high=None if high is None else _floats(high),
        )


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(round(float(v), 6) for v in values)


def _bit_depth_gain(src: DatasetReader) -> float:
    dtype = np.dtype(src.dtypes[0])
    if dtype == np.uint8:
        return 1.0
    if dtype.kind == "f":
        return 255.0  # reflectance in 0..1
    nbits = src.tags(1, ns="IMAGE_STRUCTURE").get("NBITS")  # a band-level tag in GDAL
    bits = int(nbits) if nbits else dtype.itemsize * 8
    return 255.0 / (2**bits - 1)


def _overview(src: DatasetReader, bands: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """A decimated read of ``bands`` and its validity mask (longer side <= FIT_MAX_SIDE)."""
    factor = max(1, math.ceil(max(src.width, src.height) / FIT_MAX_SIDE))
    shape = (len(bands), max(1, src.height // factor), max(1, src.width // factor))
    values = src.read(list(bands), out_shape=shape, resampling=Resampling.nearest)
    masks = src.read_masks(list(bands), out_shape=shape, resampling=Resampling.nearest)
    return values, masks.min(axis=0) > 0


def check_bands(path: str | PathLike[str], band_count: int, bands: Sequence[int]) -> None:
    """Reject a band selection that is not three bands present in a ``band_count`` scene."""
    if len(bands) != 3:
        raise InputError(path, f"three bands (red, green, blue) are needed, got {list(bands)}")
    missing = [b for b in bands if not 1 <= b <= band_count]
    if missing:
        raise InputError(
            path, f"has {band_count} band(s); the band selection {list(bands)} asks for {missing}"
        )


def parse_bands(text: str) -> tuple[int, ...]:
    """``"3,2,1"`` → ``(3, 2, 1)`` (1-based band numbers)."""
    try:
        bands = tuple(int(v) for v in text.split(","))
    except ValueError as exc:
        raise ValueError(f"bands must be comma-separated numbers, got {text!r}") from exc
    if len(bands) != 3 or min(bands) < 1:
        raise ValueError(f"bands must be three 1-based band numbers, got {text!r}")
    return bands


def read_window(
    src: DatasetReader, window: Window, bands: Sequence[int], scaling: Scaling
) -> tuple[np.ndarray, np.ndarray]:
    """Read ``window`` of ``bands`` scaled to uint8 (bands, H, W), and its validity mask (H, W).

    Parts of the window beyond the scene are padded with 0 and marked invalid, so every
    window comes back at its full size.
    """
    height, width = int(window.height), int(window.width)
    col, row = int(window.col_off), int(window.row_off)
    c0, r0 = max(col, 0), max(row, 0)
    c1, r1 = min(col + width, src.width), min(row + height, src.height)
    out = np.zeros((len(bands), height, width), np.uint8)
    valid = np.zeros((height, width), bool)
    if c1 <= c0 or r1 <= r0:
        return out, valid
    inner = Window(c0, r0, c1 - c0, r1 - r0)
    values = src.read(list(bands), window=inner)
    inner_valid = src.read_masks(list(bands), window=inner).min(axis=0) > 0
    rows, cols = slice(r0 - row, r1 - row), slice(c0 - col, c1 - col)
    out[:, rows, cols] = scaling.apply(values, inner_valid)
    valid[rows, cols] = inner_valid
    return out, valid
