"""Land: hills with relief shading, field parcels with paths, bare patches, and the
seasonal colour of vegetation; water with little texture and gentle gradients."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from coalwatch.labels.synth.canvas import Canvas, color
from coalwatch.labels.synth.noise import fractal_noise, upsample
from coalwatch.labels.synth.sky import Sun

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
WATER = color(35, 44, 43, 12)  # DOMAIN.md harbour water (40-46, 53-58, 50-54) after haze


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _parcels(rng: np.random.Generator, shape, gsd: float):
    """Field parcel id per pixel (a rotated jittered grid) and the boundary distance (m)."""
    h, w = shape
    angle = rng.uniform(0, math.pi)
    c, s = math.cos(angle), math.sin(angle)
    xs = (np.arange(w, dtype=np.float32) - w / 2) * gsd
    ys = (np.arange(h, dtype=np.float32) - h / 2) * gsd
    u = xs[None, :] * c + ys[:, None] * s
    v = ys[:, None] * c - xs[None, :] * s
    extent = math.hypot(w, h) * gsd / 2 + 50
    widths = rng.uniform(25, 110, int(2 * extent / 25) + 2)
    edges = (np.cumsum(widths) - extent).astype(np.float32)
    col = np.clip(np.searchsorted(edges, u), 1, len(edges) - 1).astype(np.int32)
    left, right = edges[col - 1], edges[col]
    du = np.minimum(u - left, right - u)
    row_len = rng.uniform(40, 220, len(edges)).astype(np.float32)
    offset = rng.uniform(0, 220, len(edges)).astype(np.float32)
    length = row_len[col]
    rv = (v + np.float32(extent) - offset[col]) / length
    row = np.floor(rv)
    frac = (rv - row) * length
    dv = np.minimum(frac, length - frac)
    flat = col * 97 + row.astype(np.int32) % 97
    return flat, np.minimum(du, dv), v


def _parcel_colors(rng: np.random.Generator, palette: np.ndarray, n: int) -> np.ndarray:
    """A (4, n) table: each parcel's colour, from the palette with a brightness jitter."""
    index = rng.integers(0, len(palette), n)
    bright = rng.normal(1.0, 0.06, n).astype(np.float32)
    return (palette[index] * bright[:, None]).T.copy()


def paint_land(canvas: Canvas, rng: np.random.Generator, green: float, sun: Sun) -> np.ndarray:
    """Cover the canvas with countryside; returns where the hills are (coverage in [0, 1])."""
    h, w = canvas.height, canvas.width
    gsd = canvas.gsd
    palette = np.array(
        [
            np.array(a) * green + np.array(b) * (1 - green)
            for a, b in zip(FIELDS_SUMMER, FIELDS_WINTER, strict=True)
        ],
        np.float32,
    )
    flat, boundary, v = _parcels(rng, (h, w), gsd)
    table = _parcel_colors(rng, palette, int(flat.max()) + 1)
    rows = 1 + 0.035 * np.sin(v * np.float32(2 * np.pi / rng.uniform(2.5, 5.0)))
    path = np.clip(1.6 - boundary / max(gsd, 0.6), 0, 1)
    # relief: broad hills with ridges and gullies, shaded at half resolution (smooth)
    r = 2
    small = (h // r + 2, w // r + 2)
    broad = fractal_noise(rng, small, 700 / gsd / r, beta=3.2)
    ridges = fractal_noise(rng, small, 160 / gsd / r, beta=3.0)
    hills_small = smoothstep(broad, 0.35, 0.95)
    height = broad * 12 + hills_small * (50 + 16 * ridges)
    gy, gx = np.gradient(height, gsd * r)
    lx, ly, lz = sun.light_vector()
    shade_small = (-gx * lx - gy * ly + lz) / np.sqrt(gx * gx + gy * gy + 1) / max(lz, 0.2)
    shade_small = np.clip(0.6 + 0.4 * shade_small, 0.4, 1.3).astype(np.float32)
    hills = upsample(hills_small.astype(np.float32), r, (h, w))
    hill_color = HILL_SUMMER * green + HILL_WINTER * (1 - green)
    scrub_color = color(128, 118, 96, 120)
    bare_color = color(146, 132, 112, 130)
    crowns = fractal_noise(rng, (h, w), 9 / gsd, beta=2.2, fine_px=1.2 / gsd)
    canopy = np.tanh(1.6 * crowns)
    tree = 1 + (0.1 + 0.12 * green) * canopy  # leafless crowns show less
    bush = 1 + 0.08 * canopy
    clumps = fractal_noise(rng, (h, w), 60 / gsd, beta=2.5, lowres=4)
    scrub = smoothstep(clumps, 0.6, 1.4)
    bare_field = fractal_noise(rng, (h, w), 200 / gsd, beta=2.6, lowres=4)
    bare = smoothstep(bare_field, 0.9, 1.5) * (1 - hills)
    grain = 1 + 0.05 * fractal_noise(rng, (h, w), 8 / gsd, beta=1.0)
    light = upsample(shade_small, r, (h, w)) * grain
    for b in range(canvas.bands.shape[0]):
        land = table[b][flat] * rows
        land += path * (PATH[b] - land)
        forest = hill_color[b] * tree
        forest += scrub * (scrub_color[b] * bush - forest)
        land += hills * (forest - land)
        land += bare * (bare_color[b] - land)
        land *= light
        canvas.bands[b] = land
    return hills


def paint_water(
    canvas: Canvas, water: np.ndarray, rng: np.random.Generator, turbidity: float = 0.0
) -> None:
    """Paint water where ``water`` (H, W coverage in [0, 1]) is set: dark, smooth, with a
    gentle gradient, faint ripples and lighter shallows along the shore."""
    h, w = canvas.height, canvas.width
    base = WATER * rng.uniform(0.93, 1.08) + turbidity * color(8, 10, 4, 4)
    a, b = rng.normal(0, 0.04, 2)
    broad = fractal_noise(rng, (h, w), 300 / canvas.gsd, 3.0, lowres=8)
    ripple = fractal_noise(rng, (h, w), 12 / canvas.gsd, 1.0)
    ripple_amp = rng.uniform(0.015, 0.05)
    rows = np.nonzero(water.any(axis=1))[0]
    cols = np.nonzero(water.any(axis=0))[0]
    if rows.size == 0:
        return
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    yy = np.linspace(-1, 1, h, dtype=np.float32)[y0:y1, None]
    xx = np.linspace(-1, 1, w, dtype=np.float32)[None, x0:x1]
    wat = water[y0:y1, x0:x1]
    gain = 1 + a * xx + b * yy + 0.03 * broad[y0:y1, x0:x1] + ripple_amp * ripple[y0:y1, x0:x1]
    step = 4
    land_small = 1 - water[::step, ::step]
    near = ndimage.gaussian_filter(land_small, 15.0 / canvas.gsd / step)
    shore = np.clip(upsample(near, step, (h, w))[y0:y1, x0:x1] * 1.6, 0, 1) * 0.6
    shallow = color(50, 63, 55, 20)
    win = canvas.bands[:, y0:y1, x0:x1]
    for band in range(win.shape[0]):
        tone = base[band] * gain + shore * (shallow[band] - base[band])
        win[band] += wat * (tone - win[band])
