"""What the sensor and the atmosphere do to the ground picture: haze, per-date radiometry,
partial clouds with their shadows, an irregular nodata footprint, blur matched to the
pixel size, noise, and quantisation to the visual (uint8) or analytic (uint16) product."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from coalwatch.labels.synth.canvas import Canvas, color
from coalwatch.labels.synth.noise import fractal_noise
from coalwatch.labels.synth.sky import Sun
from scipy import ndimage


@dataclass
class Atmosphere:
    """The sky of one acquisition."""

    haze: float
    gains: np.ndarray
    cloud_target: float
    cloud_height_m: float
    cut_footprint: bool


def random_atmosphere(rng: np.random.Generator, cloud_target: float, cut: bool) -> Atmosphere:
    gains = rng.normal(1.0, 0.05, 4).astype(np.float32) * np.float32(rng.uniform(0.9, 1.12))
    return Atmosphere(
        float(rng.uniform(0.02, 0.16)), gains, cloud_target, float(rng.uniform(800, 2500)), cut
    )


def cloud_cover(rng: np.random.Generator, shape, gsd: float, target: float) -> np.ndarray:
    """Cloud opacity in [0, 1] covering about ``target`` of the scene (0: none)."""
    if target <= 0:
        return np.zeros(shape, np.float32)
    field = fractal_noise(rng, shape, rng.uniform(800, 2500) / gsd, beta=3.0)
    field += 0.25 * fractal_noise(rng, shape, 60 / gsd, beta=2.0)
    threshold = float(np.quantile(field[::8, ::8], 1 - target))
    soft = 0.35
    return np.clip((field - threshold) / soft + 0.5, 0, 1).astype(np.float32) ** 0.8


def apply_clouds(
    canvas: Canvas, opacity: np.ndarray, sun: Sun, atm: Atmosphere, rng: np.random.Generator
) -> None:
    """Cloud shadows on the ground, then the clouds themselves (lit tops, soft edges)."""
    if not opacity.any():
        return
    dx, dy = sun.shadow_px(atm.cloud_height_m, canvas.gsd)
    cap = 0.35 * min(canvas.width, canvas.height)
    scale = min(1.0, cap / max(math.hypot(dx, dy), 1e-6))
    shadow = ndimage.shift(opacity, (dy * scale, dx * scale), order=0, mode="constant")
    canvas.bands *= 1 - 0.55 * shadow[None]
    texture = fractal_noise(rng, opacity.shape, 150 / canvas.gsd, beta=2.2)
    cloud = color(236, 238, 240, 235)[:, None, None] * (1 + 0.06 * texture)[None]
    thickness = np.clip(opacity * 1.15, 0, 1)
    canvas.blend(thickness, cloud)


def apply_haze(canvas: Canvas, atm: Atmosphere, rng: np.random.Generator) -> None:
    """Airlight (bluish, varying slowly over the scene) and per-date band gains."""
    field = 1 + 0.4 * fractal_noise(rng, (canvas.height // 8 + 1, canvas.width // 8 + 1), 64, 3)
    haze = ndimage.zoom(field, 8, order=1)[: canvas.height, : canvas.width] * atm.haze
    airlight = color(150, 162, 178, 120)
    canvas.bands += np.clip(haze, 0, 0.6)[None] * (airlight[:, None, None] - canvas.bands)
    canvas.bands *= atm.gains[:, None, None]


def footprint(rng: np.random.Generator, width: int, height: int, cut: bool) -> np.ndarray:
    """Valid-data mask: the whole scene, or cut by a slanted, stair-stepped strip edge."""
    valid = np.ones((height, width), bool)
    if not cut:
        return valid
    corner = rng.integers(4)
    depth = rng.uniform(0.1, 0.35)
    slope = rng.uniform(0.4, 2.5)
    ys, xs = np.mgrid[0:height, 0:width]
    fx = xs / width if corner in (0, 3) else 1 - xs / width
    fy = ys / height if corner in (0, 1) else 1 - ys / height
    steps = (np.floor(ys / 16) % 2) * 0.004  # the stair-step of a detector array edge
    cut_mask = fx + fy / slope + steps < depth
    valid &= ~cut_mask
    return valid


def finish(canvas: Canvas, valid: np.ndarray, rng: np.random.Generator, product: str) -> np.ndarray:
    """Blur, noise, quantisation and nodata: the bands as written (uint8 or uint16)."""
    sigma = float(rng.uniform(0.45, 0.7))
    bands = canvas.bands
    for b in range(bands.shape[0]):
        bands[b] = ndimage.gaussian_filter(bands[b], sigma, mode="nearest")
    noise = rng.standard_normal(bands.shape[1:], dtype=np.float32)
    bands += (1.2 + 0.02 * bands) * noise[None]
    if product == "analytic":
        reflectance = (np.clip(bands, 0, 255) / 255.0) ** 2.0 * 0.6
        out = np.clip(reflectance * 10000, 1, 10000).astype(np.uint16)
        out[:, ~valid] = 0
        return out
    out = np.clip(np.rint(bands[:3]), 1, 255).astype(np.uint8)
    out[:, ~valid] = 0
    return out
