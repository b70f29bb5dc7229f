"""The drawing surface: a 4-band float image (R, G, B, NIR in 8-bit visual units) and
sprites drawn in an object's own metric frame, anti-aliased by supersampling and
soft signed-distance edges, then composited onto the canvas."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BANDS = 4  # R, G, B, NIR


def color(r: float, g: float, b: float, nir: float | None = None) -> np.ndarray:
    """A material colour as a (4,) float32 array; NIR defaults to a dull surface's."""
    return np.array([r, g, b, (r + g + b) / 3.0 if nir is None else nir], np.float32)


@dataclass
class Canvas:
    """The scene being drawn: ``bands`` (4, H, W) float32 and the ground sample distance."""

    bands: np.ndarray
    gsd: float

    @classmethod
    def blank(cls, width: int, height: int, gsd: float) -> Canvas:
        return cls(np.zeros((BANDS, height, width), np.float32), gsd)

    @property
    def height(self) -> int:
        return self.bands.shape[1]

    @property
    def width(self) -> int:
        return self.bands.shape[2]

    def blend(self, alpha: np.ndarray, values: np.ndarray) -> None:
        """Full-frame over-composite of ``values`` ((4,) or (4,H,W)) with coverage ``alpha``."""
        v = values if values.ndim == 3 else values[:, None, None]
        self.bands += alpha[None] * (v - self.bands)


@dataclass
class Grid:
    """Supersampled pixel centres of a canvas window, expressed in an object's frame.

    ``u`` runs along the object's heading, ``v`` across it, both in metres from its centre.
    """

    x0: int
    y0: int
    w: int
    h: int
    ss: int
    u: np.ndarray
    v: np.ndarray
    pixel_m: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.u.shape


def object_grid(
    canvas: Canvas,
    center: tuple[float, float],
    angle: float,
    half_length: float,
    half_width: float,
    ss: int = 1,
) -> Grid | None:
    """The grid around an object centred at ``center`` (pixels) with heading ``angle``
    (radians from +x towards +y) covering ``half_length`` x ``half_width`` metres."""
    gsd = canvas.gsd
    c, s = math.cos(angle), math.sin(angle)
    ex = (abs(c) * half_length + abs(s) * half_width) / gsd + 1
    ey = (abs(s) * half_length + abs(c) * half_width) / gsd + 1
    cx, cy = center
    x0, x1 = max(math.floor(cx - ex), 0), min(math.ceil(cx + ex), canvas.width)
    y0, y1 = max(math.floor(cy - ey), 0), min(math.ceil(cy + ey), canvas.height)
    if x1 <= x0 or y1 <= y0:
        return None
    xs = x0 + (np.arange((x1 - x0) * ss, dtype=np.float32) + 0.5) / ss - cx
    ys = y0 + (np.arange((y1 - y0) * ss, dtype=np.float32) + 0.5) / ss - cy
    dx, dy = xs[None, :] * gsd, ys[:, None] * gsd
    u = dx * np.float32(c) + dy * np.float32(s)
    v = dy * np.float32(c) - dx * np.float32(s)
    return Grid(x0, y0, x1 - x0, y1 - y0, ss, u, v, gsd / ss)


def supersampling(gsd: float, finest_m: float = 0.35, cap: int = 8) -> int:
    """How many sub-samples per pixel side resolve details of ``finest_m`` metres."""
    return int(min(max(math.ceil(gsd / finest_m), 1), cap))


def edge(sd: np.ndarray, grid: Grid, soft_m: float = 0.0) -> np.ndarray:
    """Coverage in [0, 1] from a signed distance in metres (negative inside)."""
    width = max(grid.pixel_m, soft_m)
    return np.clip(0.5 - sd / np.float32(width), 0.0, 1.0)


def sd_box(u: np.ndarray, v: np.ndarray, cu: float, cv: float, hl: float, hw: float):
    """Signed distance (metres, Chebyshev-like) to an axis-aligned box in the object frame."""
    return np.maximum(np.abs(u - cu) - hl, np.abs(v - cv) - hw)


def sd_round_box(u, v, cu: float, cv: float, hl: float, hw: float, r: float):
    """Signed distance to a box with rounded corners of radius ``r``."""
    qx = np.abs(u - cu) - (hl - r)
    qy = np.abs(v - cv) - (hw - r)
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0) - r


def block_mean(arr: np.ndarray, ss: int) -> np.ndarray:
    """Average ``ss`` x ``ss`` blocks over the last two axes."""
    if ss == 1:
        return arr
    *lead, h, w = arr.shape
    return arr.reshape(*lead, h // ss, ss, w // ss, ss).mean(axis=(-3, -1))


class Sprite:
    """Layers composited in an object's grid (premultiplied), then onto the canvas."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.color = np.zeros((BANDS, *grid.shape), np.float32)
        self.alpha = np.zeros(grid.shape, np.float32)

    def fill(self, cover: np.ndarray, values) -> None:
        """Paint ``values`` ((4,) or (4, h, w)) over what is there, with coverage ``cover``."""
        vals = np.asarray(values, np.float32)
        if vals.ndim == 1:
            vals = vals[:, None, None]
        self.color += cover[None] * (vals - self.color)
        self.alpha += cover * (1.0 - self.alpha)

    def shade(self, cover: np.ndarray, factor: float | np.ndarray) -> None:
        """Darken (factor < 1) or brighten painted layers where ``cover`` is set."""
        self.color *= 1.0 + cover[None] * (np.asarray(factor, np.float32) - 1.0)

    def commit(self, canvas: Canvas) -> np.ndarray:
        """Composite onto the canvas; returns the pixel-level coverage (h, w)."""
        g = self.grid
        premult = block_mean(self.color, g.ss)  # colour is kept premultiplied
        alpha = block_mean(self.alpha, g.ss)
        window = canvas.bands[:, g.y0 : g.y0 + g.h, g.x0 : g.x0 + g.w]
        window *= 1.0 - alpha[None]
        window += premult
        return alpha


def cast_shadow(canvas: Canvas, grid: Grid, cover: np.ndarray, strength: float) -> None:
    """Darken the canvas under a shadow of coverage ``cover`` (sub-sampled grid)."""
    alpha = block_mean(cover, grid.ss)
    window = canvas.bands[:, grid.y0 : grid.y0 + grid.h, grid.x0 : grid.x0 + grid.w]
    window *= 1.0 - np.float32(strength) * alpha[None]


def swept_cover(sdf, grid: Grid, du: float, dv: float, soft_m: float = 0.0) -> np.ndarray:
    """Coverage of a shape swept along the offset (du, dv) metres (a shadow on the ground):
    the union of ``sdf`` translated by t * (du, dv) for t in (0, 1]."""
    steps = int(min(max(math.ceil(math.hypot(du, dv) / grid.pixel_m), 1), 32))
    cover = np.zeros(grid.shape, np.float32)
    for t in np.linspace(0.0, 1.0, steps + 1)[1:]:
        np.maximum(cover, edge(sdf(grid.u - du * t, grid.v - dv * t), grid, soft_m), out=cover)
    return cover


def rotated_bounds(
    center: tuple[float, float], angle: float, points_m: np.ndarray, gsd: float
) -> tuple[float, float, float, float]:
    """Axis-aligned pixel box of outline points given in the object frame (metres)."""
    c, s = math.cos(angle), math.sin(angle)
    px = center[0] + (points_m[:, 0] * c - points_m[:, 1] * s) / gsd
    py = center[1] + (points_m[:, 0] * s + points_m[:, 1] * c) / gsd
    return (float(px.min()), float(py.min()), float(px.max()), float(py.max()))


def rect_outline(half_length: float, half_width: float) -> np.ndarray:
    """The four corners of a centred rectangle in the object frame."""
    hl, hw = half_length, half_width
    return np.array([[-hl, -hw], [hl, -hw], [hl, hw], [-hl, hw]], np.float32)
