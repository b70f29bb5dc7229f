"""Land: hills with relief shading, field parcels with paths, bare patches, and the
seasonal colour of vegetation; water with little texture and gentle gradients."""

from __future__ import annotations

import math

import numpy as np
from coalwatch.labels.synth.canvas import Canvas, color
from coalwatch.labels.synth.noise import fractal_noise
from coalwatch.labels.synth.sky import Sun
from scipy import ndimage

# summer and winter looks of each cover (R, G, B, NIR)
FIELDS_SUMMER = [
    (74, 98, 60, 170),
    (92, 112, 68, 180),
    (118, 122, 84, 140),
    (136, 126, 96, 120),
    (64, 86, 56, 160),
    (150, 138, 104, 125),
]
FIELDS_WINTER = [
    (132, 120, 100, 120),
    (118, 108, 92, 110),
    (144, 132, 110, 128),
    (106, 98, 86, 104),
    (124, 118, 100, 116),
    (152, 142, 122, 130),
]
HILL_SUMMER = color(58, 74, 52, 150)
HILL_WINTER = color(96, 90, 78, 100)
PATH = color(150, 140, 120, 130)
WATER = color(42, 56, 52, 14)


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _parcels(rng: np.random.Generator, shape, gsd: float, n_colors: int):
    """Field parcel index per pixel (a rotated jittered grid) and the boundary distance (m)."""
    h, w = shape
    angle = rng.uniform(0, math.pi)
    c, s = math.cos(angle), math.sin(angle)
    xs = (np.arange(w, dtype=np.float32) - w / 2) * gsd
    ys = (np.arange(h, dtype=np.float32) - h / 2) * gsd
    u = xs[None, :] * c + ys[:, None] * s
    v = ys[:, None] * c - xs[None, :] * s
    extent = math.hypot(w, h) * gsd / 2 + 50
    widths = rng.uniform(25, 110, int(2 * extent / 25) + 2)
    edges = np.cumsum(widths) - extent
    col = np.clip(np.searchsorted(edges, u), 1, len(edges) - 1)
    left, right = edges[col - 1], edges[col]
    du = np.minimum(u - left, right - u)
    row_len = rng.uniform(40, 220, len(edges)).astype(np.float32)
    offset = rng.uniform(0, 220, len(edges)).astype(np.float32)
    rv = (v + extent - offset[col]) / row_len[col]
    row = np.floor(rv).astype(np.int64)
    frac = (rv - row) * row_len[col]
    dv = np.minimum(frac, row_len[col] - frac)
    table = rng.integers(0, n_colors, size=(len(edges), 97))
    index = table[col, row % 97]
    bright = rng.normal(1.0, 0.06, size=(len(edges), 97)).astype(np.float32)[col, row % 97]
    return index, bright, np.minimum(du, dv), v


def paint_land(canvas: Canvas, rng: np.random.Generator, green: float, sun: Sun) -> np.ndarray:
    """Cover the canvas with countryside; returns the terrain height field (m) used for relief."""
    h, w = canvas.height, canvas.width
    gsd = canvas.gsd
    palette = np.array(
        [
            np.array(a) * green + np.array(b) * (1 - green)
            for a, b in zip(FIELDS_SUMMER, FIELDS_WINTER, strict=True)
        ],
        np.float32,
    )
    index, bright, boundary, v = _parcels(rng, (h, w), gsd, len(palette))
    land = palette[index].transpose(2, 0, 1) * bright[None]
    rows = 1 + 0.035 * np.sin(v * (2 * np.pi / rng.uniform(2.5, 5.0)))
    land *= rows[None]
    path = np.clip(1.6 - boundary / max(gsd, 0.6), 0, 1)
    land += path[None] * (PATH[:, None, None] - land)
    hills_field = fractal_noise(rng, (h, w), 700 / gsd, beta=3.2)
    hills = smoothstep(hills_field, 0.35, 0.9)
    hill_color = HILL_SUMMER * green + HILL_WINTER * (1 - green)
    forest = 1 + 0.18 * fractal_noise(rng, (h, w), 25 / gsd, beta=1.6)
    land += hills[None] * (hill_color[:, None, None] * forest[None] - land)
    bare = smoothstep(fractal_noise(rng, (h, w), 200 / gsd, beta=2.6), 0.9, 1.5) * (1 - hills)
    land += bare[None] * (color(146, 132, 112, 130)[:, None, None] - land)
    height = (hills_field * 30 + 60 * hills).astype(np.float32)
    gy, gx = np.gradient(height, gsd)
    lx, ly, lz = sun.light_vector()
    shade = (-gx * lx - gy * ly + lz) / np.sqrt(gx * gx + gy * gy + 1) / max(lz, 0.2)
    land *= np.clip(0.65 + 0.35 * shade, 0.4, 1.3)[None]
    grain = 1 + 0.05 * fractal_noise(rng, (h, w), 8 / gsd, beta=1.0)
    land *= grain[None]
    canvas.bands[:] = land
    return height


def paint_water(
    canvas: Canvas, water: np.ndarray, rng: np.random.Generator, turbidity: float = 0.0
) -> None:
    """Paint water where ``water`` (H, W coverage in [0, 1]) is set: dark, smooth, with a
    gentle gradient, faint ripples and lighter shallows along the shore."""
    h, w = canvas.height, canvas.width
    base = WATER * rng.uniform(0.93, 1.08) + turbidity * color(8, 10, 4, 4)
    yy = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    a, b = rng.normal(0, 0.04, 2)
    gradient = 1 + a * xx + b * yy + 0.03 * fractal_noise(rng, (h, w), 300 / canvas.gsd, 3.0)
    ripple = 1 + rng.uniform(0.015, 0.05) * fractal_noise(rng, (h, w), 12 / canvas.gsd, 1.0)
    sigma = 15.0 / canvas.gsd
    small = water[::4, ::4]
    shore = ndimage.zoom(ndimage.gaussian_filter(1 - small, sigma / 4), 4, order=1)
    shore = (
        shore[:h, :w]
        if shore.shape[0] >= h and shore.shape[1] >= w
        else np.pad(
            shore, ((0, max(h - shore.shape[0], 0)), (0, max(w - shore.shape[1], 0))), mode="edge"
        )[:h, :w]
    )
    shallow = color(58, 72, 62, 22)
    tone = base[:, None, None] * (gradient * ripple)[None]
    tone += np.clip(shore * 1.6, 0, 1)[None] * (shallow[:, None, None] - base[:, None, None]) * 0.6
    canvas.blend(water.astype(np.float32), tone)
