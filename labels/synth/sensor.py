"""What the sensor and the atmosphere do to the ground picture: haze, per-date radiometry,
partial clouds with their shadows, an irregular nodata footprint, blur matched to the
pixel size, noise, and quantisation to the visual (uint8) or analytic (uint16) product."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from coalwatch.labels.synth.canvas import Canvas, color
from coalwatch.labels.synth.noise import fractal_noise
from coalwatch.labels.synth.sky import Sun


@dataclass
class Atmosphere:
    """The sky of one acquisition."""

    haze: float
    gains: np.ndarray
    cloud_target: float
    cloud_height_m: float
    cut_footprint: bool


def random_atmosphere(rng: np.random.Generator, cloud_target: float, cut: bool) -> Atmosphere:
    gains = rng.normal(1.0, 0.025, 4).astype(np.float32) * np.float32(rng.uniform(0.9, 1.12))
    return Atmosphere(
        float(rng.uniform(0.02, 0.16)), gains, cloud_target, float(rng.uniform(800, 2500)), cut
    )


def cloud_cover(
    rng: np.random.Generator, shape, gsd: float, target: float, offset: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Cloud opacity in [0, 1] over about ``target`` of the scene (0: none), and the
    opacity of the clouds whose shadows fall on each pixel (clouds ``offset`` pixels
    towards the sun, which may lie outside the scene)."""
    height, width = shape
    if target <= 0:
        zeros = np.zeros(shape, np.float32)
        return zeros, zeros
    dx, dy = (round(v) for v in offset)
    big = (height + abs(dy), width + abs(dx))
    field = fractal_noise(rng, big, rng.uniform(800, 2500) / gsd, beta=3.2, lowres=8)
    field += 0.18 * fractal_noise(rng, big, 150 / gsd, beta=2.8, lowres=2)
    y0, x0 = max(-dy, 0), max(-dx, 0)
    threshold = float(np.quantile(field[y0 : y0 + height : 8, x0 : x0 + width : 8], 1 - target))
    t = np.clip((field - threshold + 0.3) / 0.7, 0, 1)
    opacity = t * t * (3 - 2 * t)
    here = opacity[y0 : y0 + height, x0 : x0 + width]
    caster = opacity[y0 + dy : y0 + dy + height, x0 + dx : x0 + dx + width]
    return np.ascontiguousarray(here), np.ascontiguousarray(caster)


def cloud_offset(sun: Sun, atm: Atmosphere, gsd: float, shape) -> tuple[float, float]:
    """Pixel offset from a ground point to the cloud that shades it (towards the sun)."""
    dx, dy = sun.shadow_px(atm.cloud_height_m, gsd)
    cap = 0.5 * min(shape)
    scale = min(1.0, cap / max(math.hypot(dx, dy), 1e-6))
    return (-dx * scale, -dy * scale)


def apply_clouds(
    canvas: Canvas, opacity: np.ndarray, shadow: np.ndarray, rng: np.random.Generator
) -> None:
    """Cloud shadows on the ground, then the clouds themselves (lit tops, soft edges)."""
    if not opacity.any() and not shadow.any():
        return
    canvas.bands *= 1 - 0.5 * shadow[None]
    texture = fractal_noise(rng, opacity.shape, 150 / canvas.gsd, beta=2.6, lowres=2)
    cloud = color(236, 238, 240, 235)[:, None, None] * (1 + 0.05 * texture)[None]
    canvas.blend(np.clip(opacity * 1.3, 0, 1), cloud)


def apply_haze(canvas: Canvas, atm: Atmosphere, rng: np.random.Generator) -> None:
    """Airlight (bluish, varying slowly over the scene) and per-date band gains."""
    field = fractal_noise(rng, (canvas.height, canvas.width), 512, 3.0, lowres=8)
    haze = np.clip((1 + 0.4 * field) * atm.haze, 0, 0.6)
    airlight = color(150, 162, 178, 120)
    for band in range(canvas.bands.shape[0]):
        b = canvas.bands[band]
        b += haze * (airlight[band] - b)
        b *= atm.gains[band]


def footprint(rng: np.random.Generator, width: int, height: int, cut: bool) -> np.ndarray:
    """Valid-data mask: the whole scene, or cut by a slanted, stair-stepped strip edge."""
    valid = np.ones((height, width), bool)
    if not cut:
        return valid
    corner = rng.integers(4)
    depth = rng.uniform(0.1, 0.35)
    slope = rng.uniform(0.4, 2.5)
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    fx = xs / width if corner in (0, 3) else 1 - xs / width
    fy = ys / height if corner in (0, 1) else 1 - ys / height
    steps = (np.floor(ys / 16) % 2) * 0.004  # the stair-step of a detector array edge
    cut_mask = fx + fy / slope + steps < depth
    valid &= ~cut_mask
    return valid


def finish(canvas: Canvas, valid: np.ndarray, rng: np.random.Generator, product: str) -> np.ndarray:
    """Blur, noise, quantisation and nodata: the bands as written (uint8 or uint16)."""
    sigma = float(rng.uniform(0.45, 0.7))
    bands = canvas.bands if product == "analytic" else canvas.bands[:3]
    for b in range(bands.shape[0]):
        blurred = ndimage.gaussian_filter(bands[b], sigma, mode="nearest", truncate=3.0)
        noise = rng.standard_normal(blurred.shape, dtype=np.float32)
        bands[b] = blurred + (1.2 + 0.02 * blurred) * noise
    if product == "analytic":
        reflectance = (np.clip(bands, 0, 255) / 255.0) ** 2.0 * 0.6
        out = np.clip(reflectance * 10000, 1, 10000).astype(np.uint16)
        out[:, ~valid] = 0
        return out
    out = np.clip(np.rint(bands[:3]), 1, 255).astype(np.uint8)
    out[:, ~valid] = 0
    return out
