"""Stockpiles: dark coal and ore heaps (irregular mounds with soft edges, ridges and sun
shading) and lighter spoil dumps, drawn in the heap's own frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coalwatch.labels.schema import ObjectLabel
from coalwatch.labels.synth.canvas import Canvas, Sprite, color, object_grid, supersampling
from coalwatch.labels.synth.noise import angular_noise, fractal_noise
from coalwatch.labels.synth.sky import Sun

MATERIALS = {
    "coal": (color(52, 51, 48, 46), 1.0),  # (61, 60, 56) after haze, as measured
    "coke": (color(58, 56, 53, 50), 1.0),
    "ore": (color(57, 52, 49, 54), 1.0),
    "spoil": (color(150, 140, 124, 150), 0.9),
    "residue": (color(86, 84, 79, 76), 1.0),
}


@dataclass
class Heap:
    """A pile: centre (pixels), long-axis angle, base half-sizes and height (m), material."""

    center: tuple[float, float]
    angle: float
    half_length: float
    half_width: float
    height: float
    material: str
    seed: int
    aoi: str | None = None

    @property
    def labelled(self) -> bool:
        return self.material not in ("spoil", "residue")


def _slopes(height: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Height gradients along rows and columns; flat where the sprite is a sliver
    (a heap clipped to one pixel row or column at the scene edge)."""
    if min(height.shape) < 2:
        return np.zeros_like(height), np.zeros_like(height)
    dh_dy, dh_dx = np.gradient(height, step)
    return dh_dy, dh_dx


def draw_heap(canvas: Canvas, heap: Heap, sun: Sun) -> tuple[ObjectLabel | None, float]:
    """Draw a heap; returns its label (None for unlabelled spoil) and footprint area (m²)."""
    rng = np.random.default_rng(heap.seed)
    hl, hw = heap.half_length, heap.half_width
    halo = min(3.0 + 0.08 * hw, 12.0)
    ss = 1 if canvas.gsd <= 1.0 else supersampling(canvas.gsd, 1.0, 3)
    grid = object_grid(canvas, heap.center, heap.angle, hl * 1.25 + halo, hw * 1.25 + halo, ss)
    if grid is None:
        return None, 0.0
    u, v = grid.u, grid.v
    p = rng.uniform(2.0, 3.2)
    theta = np.arctan2(v / hw, u / hl)
    radius = angular_noise(rng, 7, 0.12)(theta).astype(np.float32)
    rough = fractal_noise(rng, grid.shape, max(grid.shape) / 3, beta=2.4)
    rho = ((np.abs(u / hl) ** p + np.abs(v / hw) ** p) ** (1 / p)) / radius
    rho = rho + 0.02 * rough
    if heap.material == "spoil":  # flat-topped dump with a terraced slope
        slope = np.clip((1 - rho) / 0.18, 0, 1)
        height = heap.height * (np.floor(slope * 3) / 3 * 0.6 + slope * 0.4)
    else:
        height = heap.height * np.clip(1 - rho, 0, 1) ** 0.75
    # reclaimer cuts and dumped lumps: ridges and hollows
    for _ in range(int(rng.integers(1, 5))):
        cu, cv = rng.uniform(-hl, hl) * 0.7, rng.uniform(-hw, hw) * 0.6
        r = rng.uniform(0.15, 0.35) * hw * 2
        bump = np.exp(-((u - cu) ** 2 + (v - cv) ** 2) / (2 * r * r))
        height = height + heap.height * rng.uniform(-0.35, 0.3) * bump * (rho < 1)
    height = np.maximum(height, 0) + 0.25 * heap.height * 0.1 * rough * (rho < 1)
    step = grid.pixel_m
    # the grid is laid out on scene pixels: gradients are along scene y (rows) and x (cols)
    dh_dy, dh_dx = _slopes(height, step)
    lx, ly, lz = sun.light_vector()
    norm = np.sqrt(dh_dx**2 + dh_dy**2 + 1)
    shade = np.clip((-dh_dx * lx - dh_dy * ly + lz) / norm, 0.05, 1) / max(lz, 0.2)
    base, _ = MATERIALS[heap.material]
    grain = 1 + 0.12 * fractal_noise(rng, grid.shape, 6 / step, beta=1.6)
    tone = (0.35 + 0.8 * shade) * grain
    alpha = np.clip((1 - rho) / 0.06, 0, 1).astype(np.float32)
    sprite = Sprite(grid)
    if heap.material == "residue":  # a flat, patchy stain: no relief, no dust halo
        patchy = np.clip(0.55 + 0.35 * rough, 0, 1) * np.clip((1 - rho) / 0.3, 0, 1)
        sprite.fill(patchy.astype(np.float32), base[:, None, None] * grain[None])
        sprite.commit(canvas)
        return None, 0.0
    if heap.material != "spoil":
        dust = np.clip(1 - (rho - 1) * max(hl, hw) / halo, 0, 1) * 0.45 * (rho >= 1)
        sprite.fill(dust.astype(np.float32), base * 1.15)
    sprite.fill(alpha, base[:, None, None] * tone[None].astype(np.float32))
    sprite.commit(canvas)
    area = float((rho < 1).sum()) * step * step
    if not heap.labelled:
        return None, area
    inside = rho < 1
    ys, xs = np.nonzero(inside)
    if xs.size == 0:
        return None, 0.0
    x0 = grid.x0 + xs.min() / ss
    x1 = grid.x0 + (xs.max() + 1) / ss
    y0 = grid.y0 + ys.min() / ss
    y1 = grid.y0 + (ys.max() + 1) / ss
    attrs: dict = {"material": heap.material, "area_m2": round(area, 1)}
    if heap.aoi:
        attrs["aoi"] = heap.aoi
    return ObjectLabel("coal_heap", (float(x0), float(y0), float(x1), float(y1)), attrs), area
