"""Man-made ground: paved surfaces (concrete quays, stockyards, lots), buildings with
pitched or flat roofs and shadows, roads, and quay cranes / ship loaders."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from coalwatch.labels.synth.canvas import (
    Canvas,
    Sprite,
    cast_shadow,
    color,
    edge,
    object_grid,
    sd_box,
    swept_cover,
)
from coalwatch.labels.synth.noise import fractal_noise
from coalwatch.labels.synth.paths import Polyline, stroke
from coalwatch.labels.synth.sky import Sun

SURFACES = {
    "concrete": color(167, 153, 136, 150),
    "yard": color(124, 117, 106, 116),
    "gravel": color(116, 110, 101, 110),
    "asphalt": color(92, 92, 90, 88),
    "dirt": color(138, 122, 100, 120),
}
ROOFS = [
    (150, 150, 146),
    (92, 110, 138),
    (140, 78, 62),
    (176, 170, 160),
    (110, 104, 98),
    (80, 120, 110),
    (196, 192, 184),
]


@dataclass
class Building:
    """A building footprint (pixels, radians, metres), its height and roof."""

    center: tuple[float, float]
    angle: float
    length: float
    width: float
    height: float
    roof: int
    pitched: bool


def draw_surface(
    canvas: Canvas,
    rng: np.random.Generator,
    center: tuple[float, float],
    angle: float,
    half_length: float,
    half_width: float,
    material: str,
    stains: float = 0.12,
) -> None:
    """A paved or bare rectangle with slab joints, stains and wear."""
    grid = object_grid(canvas, center, angle, half_length, half_width, 1)
    if grid is None:
        return
    u, v = grid.u, grid.v
    sprite = Sprite(grid)
    cover = edge(sd_box(u, v, 0, 0, half_length, half_width), grid, 0.5)
    dirt = fractal_noise(rng, grid.shape, 80 / canvas.gsd, beta=3.0)
    wear = fractal_noise(rng, grid.shape, 12 / canvas.gsd, beta=2.0)
    fine = rng.standard_normal(grid.shape, dtype=np.float32)
    tone = 1 + stains * dirt + 0.3 * stains * wear + 0.03 * fine
    if material == "concrete":
        joints = (np.abs((u % 12.0) - 6) > 5.8) | (np.abs((v % 12.0) - 6) > 5.8)
        tone = tone - 0.08 * joints
    sprite.fill(cover, SURFACES[material][:, None, None] * tone[None].astype(np.float32))
    sprite.commit(canvas)


def draw_buildings(canvas: Canvas, buildings: list[Building], sun: Sun) -> None:
    """Shadows first (all), then roofs, so that shadows never fall on a neighbour's roof."""
    gsd = canvas.gsd
    for b in buildings:
        dx, dy = sun.shadow_px(b.height, gsd)
        reach = math.hypot(dx, dy) * gsd
        grid = object_grid(canvas, b.center, b.angle, b.length / 2 + reach, b.width / 2 + reach)
        if grid is None:
            continue
        c, s = math.cos(b.angle), math.sin(b.angle)
        su, sv = (dx * c + dy * s) * gsd, (-dx * s + dy * c) * gsd
        hl, hw = b.length / 2, b.width / 2
        cover = swept_cover(lambda u, v, hl=hl, hw=hw: sd_box(u, v, 0, 0, hl, hw), grid, su, sv)
        cast_shadow(canvas, grid, cover, 0.55)
    light = sun.light_vector()
    for b in buildings:
        grid = object_grid(
            canvas, b.center, b.angle, b.length / 2, b.width / 2, 2 if gsd > 0.6 else 1
        )
        if grid is None:
            continue
        sprite = Sprite(grid)
        roof = color(*ROOFS[b.roof % len(ROOFS)])
        cover = edge(sd_box(grid.u, grid.v, 0, 0, b.length / 2, b.width / 2), grid)
        sprite.fill(cover, roof)
        if b.pitched:
            across = light[0] * -math.sin(b.angle) + light[1] * math.cos(b.angle)
            side = np.sign(grid.v) * np.sign(across + 1e-6)
            sprite.shade(cover, 1 + 0.16 * side)
        else:
            ribs = 1 - 0.06 * (np.abs((grid.u % 1.0) - 0.5) < 0.1)
            sprite.shade(cover, ribs)
        sprite.commit(canvas)


def village(
    rng: np.random.Generator, center: tuple[float, float], radius_px: float, gsd: float, n: int
) -> list[Building]:
    """Rows of small houses (and a few flat-roofed blocks) around ``center``: a North
    Korean village or town quarter, about ``n`` buildings."""
    angle = rng.uniform(0, math.pi)
    c, s = math.cos(angle), math.sin(angle)
    out: list[Building] = []
    half_u, half_v = radius_px * gsd, radius_px * gsd * 0.7
    pitch = float(rng.uniform(16, 22))
    roofs = rng.choice([0, 1, 2, 4], size=2, replace=False)
    for rv in np.arange(-half_v, half_v, pitch):
        u = -half_u + rng.uniform(0, 10)
        while u < half_u and len(out) < n:
            block = rng.random() < 0.08
            length = float(rng.uniform(40, 70) if block else rng.uniform(9, 16))
            width = float(rng.uniform(11, 14) if block else rng.uniform(6.5, 8.5))
            if rng.random() > 0.15:
                x = center[0] + ((u + length / 2) * c - rv * s) / gsd
                y = center[1] + ((u + length / 2) * s + rv * c) / gsd
                roof = 3 if block else int(roofs[rng.integers(2)])
                height = float(rng.uniform(12, 16) if block else rng.uniform(3.5, 5.5))
                out.append(Building((x, y), angle, length, width, height, roof, not block))
            u += length + rng.uniform(3, 9)
    return out


def draw_road(
    canvas: Canvas,
    line: Polyline,
    width_m: float,
    kind: str = "asphalt",
    land: np.ndarray | None = None,
) -> None:
    """A road with dirt shoulders; ``land`` (H, W coverage) keeps it off the water."""
    stroke(canvas, line, width_m + 1.5, SURFACES["dirt"] * 1.05, soft_m=1.0, mask=land)
    stroke(canvas, line, width_m, SURFACES[kind], soft_m=0.5, mask=land)


def draw_loader(
    canvas: Canvas,
    base: tuple[float, float],
    angle: float,
    reach_m: float,
    sun: Sun,
    height: float = 25.0,
) -> None:
    """A ship loader / gantry crane: a rail-mounted portal and a boom over the berth."""
    gsd = canvas.gsd
    c, s = math.cos(angle), math.sin(angle)
    tip = (base[0] + c * reach_m / gsd, base[1] + s * reach_m / gsd)
    dx, dy = sun.shadow_px(height, gsd)
    grid = object_grid(
        canvas,
        ((base[0] + tip[0]) / 2 + dx, (base[1] + tip[1]) / 2 + dy),
        angle,
        reach_m / 2 + 2,
        2.5,
    )
    if grid is not None:
        cast_shadow(canvas, grid, edge(sd_box(grid.u, grid.v, 0, 0, reach_m / 2, 1.0), grid), 0.5)
    stroke(canvas, Polyline([base, tip]), 2.2, color(182, 170, 120, 150), soft_m=0.3)
    grid = object_grid(canvas, base, angle, 6, 6)
    if grid is not None:
        sprite = Sprite(grid)
        sprite.fill(edge(sd_box(grid.u, grid.v, 0, 0, 5, 5), grid), color(150, 140, 100))
        sprite.commit(canvas)


VEHICLES = {  # kind -> (length range m, width m, height m)
    "car": ((4.2, 4.9), 1.8, 1.5),
    "truck": ((8.0, 16.5), 2.5, 3.6),
    "bus": ((10.5, 12.0), 2.5, 3.2),
    "haul": ((9.0, 11.0), 5.0, 5.0),
}
PAINTS = [(190, 60, 50), (60, 90, 150), (210, 210, 205), (70, 110, 70), (200, 170, 60),
          (120, 120, 118), (40, 40, 42)]  # fmt: skip


def draw_vehicles(
    canvas: Canvas,
    line: Polyline,
    count: int,
    rng: np.random.Generator,
    sun: Sun,
    land: np.ndarray | None = None,
    queue: bool = False,
    kinds: tuple[str, ...] = ("car", "truck", "truck", "bus"),
) -> None:
    """Road traffic (unlabelled; trucks in a queue look like a short train: hard negatives).

    ``queue``: the vehicles stand bumper to bumper from a random point, as at a border post.
    """
    gsd = canvas.gsd
    s = rng.uniform(0, line.length_px * 0.7)
    for _ in range(count):
        kind = str(kinds[rng.integers(len(kinds))])
        (lo, hi), width, height = VEHICLES[kind]
        length = float(rng.uniform(lo, hi))
        if queue:
            s += (length + rng.uniform(1.5, 4.0)) / gsd
        else:
            s = rng.uniform(0, line.length_px)
        if s > line.length_px:
            break
        (x, y), heading = line.at(s)
        lane = (1 if rng.random() < 0.5 else -1) * 1.8 / gsd
        x, y = float(x - np.sin(heading) * lane), float(y + np.cos(heading) * lane)
        if land is not None:
            xi, yi = int(np.clip(x, 0, canvas.width - 1)), int(np.clip(y, 0, canvas.height - 1))
            if land[yi, xi] < 0.5:
                continue
        _vehicle(canvas, (x, y), float(heading), kind, length, width, height, sun, rng)


def _vehicle(canvas, center, angle, kind, length, width, height, sun, rng) -> None:
    gsd = canvas.gsd
    hl, hw = length / 2, width / 2
    dx, dy = sun.shadow_px(height, gsd)
    reach = math.hypot(dx, dy) * gsd
    grid = object_grid(canvas, center, angle, hl + reach, hw + reach)
    if grid is not None:
        c, s = math.cos(angle), math.sin(angle)
        su, sv = (dx * c + dy * s) * gsd, (-dx * s + dy * c) * gsd
        cover = swept_cover(lambda u, v: sd_box(u, v, 0, 0, hl, hw), grid, su, sv)
        cast_shadow(canvas, grid, cover, 0.5)
    grid = object_grid(canvas, center, angle, hl, hw, 3 if gsd > 0.4 else 2)
    if grid is None:
        return
    sprite = Sprite(grid)
    paint = color(*PAINTS[rng.integers(len(PAINTS))]) * np.float32(rng.uniform(0.85, 1.1))
    if kind == "haul":
        paint = color(190, 160, 50)
    body = edge(sd_box(grid.u, grid.v, 0, 0, hl, hw), grid)
    if kind == "truck":  # cab at the front, a box or tarp trailer behind
        trailer = color(*PAINTS[rng.integers(len(PAINTS))])
        sprite.fill(body, trailer)
        cab = edge(sd_box(grid.u, grid.v, hl - 1.2, 0, 1.2, hw), grid)
        sprite.fill(cab, paint)
    else:
        sprite.fill(body, paint)
        if kind == "car":
            glass = edge(sd_box(grid.u, grid.v, 0.3, 0, 0.9, hw - 0.25), grid)
            sprite.fill(glass, color(40, 44, 50))
    sprite.commit(canvas)


CONTAINERS = [(176, 60, 48), (60, 96, 150), (200, 200, 196), (70, 120, 80), (210, 160, 60),
              (130, 130, 128), (150, 80, 60), (90, 60, 110)]  # fmt: skip


def draw_container_yard(
    canvas: Canvas,
    rng: np.random.Generator,
    center: tuple[float, float],
    angle: float,
    half_length: float,
    half_width: float,
) -> None:
    """Rows of 40 ft containers in many colours (DOMAIN.md's container yard): a cue that
    this is a port, and a textured, bright hard negative next to the coal."""
    ss = 2 if canvas.gsd > 0.6 else 1
    grid = object_grid(canvas, center, angle, half_length, half_width, ss)
    if grid is None:
        return
    u = grid.u + half_length
    v = grid.v + half_width
    pitch_u, pitch_v = 12.6, 2.75
    cu, cv = np.floor(u / pitch_u).astype(np.int32), np.floor(v / pitch_v).astype(np.int32)
    inside = (u % pitch_u < 12.2) & (v % pitch_v < 2.44) & (u > 0) & (v > 0)
    inside &= (u < 2 * half_length) & (v < 2 * half_width)
    aisle = (cv % 6) == 5  # a driving lane every five rows
    n_u, n_v = int(2 * half_length / pitch_u) + 2, int(2 * half_width / pitch_v) + 2
    table = rng.integers(0, len(CONTAINERS), (n_v, n_u))
    present = rng.random((n_v, n_u)) < 0.8
    cu_c, cv_c = np.clip(cu, 0, n_u - 1), np.clip(cv, 0, n_v - 1)
    cover = (inside & ~aisle & present[cv_c, cu_c]).astype(np.float32)
    muted = np.array(CONTAINERS, np.float32) * 0.6 + 0.4 * 140.0  # faded paint, dust
    paints = muted[table[cv_c, cu_c]]  # (h, w, 3)
    values = np.concatenate([paints, paints.mean(axis=2, keepdims=True)], axis=2)
    ribs = 1 - 0.08 * ((u % 0.6) < 0.15)
    sprite = Sprite(grid)
    sprite.fill(cover, (values.transpose(2, 0, 1) * ribs[None]).astype(np.float32))
    sprite.commit(canvas)
