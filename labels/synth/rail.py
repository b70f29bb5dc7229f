"""Rail tracks and trains: ore cars (open top, dark interior, empty or loaded) among box,
tank, flat and passenger cars and locomotives, each drawn at its true size with a shadow."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from coalwatch.labels.schema import ObjectLabel
from coalwatch.labels.synth.canvas import (
    Canvas,
    Sprite,
    cast_shadow,
    color,
    edge,
    object_grid,
    rect_outline,
    rotated_bounds,
    sd_box,
    sd_round_box,
    supersampling,
    swept_cover,
)
from coalwatch.labels.synth.paths import Polyline, stroke
from coalwatch.labels.synth.sky import Sun

# kind -> (length range m, width m, height m)
CAR_SIZES: dict[str, tuple[tuple[float, float], float, float]] = {
    "ore": ((12.0, 14.0), 3.1, 3.3),
    "box": ((14.0, 17.0), 3.1, 4.3),
    "tank": ((11.0, 13.0), 2.9, 4.0),
    "flat": ((13.0, 19.0), 2.9, 1.3),
    "passenger": ((23.0, 25.0), 3.1, 4.2),
    "locomotive": ((17.0, 21.0), 3.2, 4.6),
}
OTHER_KINDS = ("box", "tank", "flat", "passenger", "locomotive")

BALLAST = color(118, 110, 100, 110)
RAIL_DARK = color(62, 60, 58, 60)


@dataclass
class Car:
    """One rail car: its kind, length, paint and (ore cars) whether it is loaded."""

    kind: str
    length: float
    paint: np.ndarray
    loaded: bool = False
    cargo: str = "coal"
    seed: int = 0

    @property
    def cls(self) -> str:
        return "ore_car" if self.kind == "ore" else "other_railcar"


@dataclass
class Track:
    """A named track (centre line in pixels) and its role (main, yard, siding, spur)."""

    name: str
    line: Polyline
    role: str = "yard"
    aoi: str | None = None


@dataclass
class Train:
    """Cars standing on a track from arc length ``start_px`` onwards."""

    track: Track
    start_px: float
    cars: list[Car] = field(default_factory=list)

    def car_midpoints_px(self, gsd: float, gap_m: float = 1.0) -> np.ndarray:
        """Arc length (pixels) of each car's middle along the track, ``gap_m`` between cars."""
        lengths = np.array([c.length for c in self.cars]) / gsd
        starts = self.start_px + np.concatenate([[0.0], np.cumsum(lengths + gap_m / gsd)[:-1]])
        return starts + lengths / 2


_PAINTS = {
    "ore": [(98, 78, 62), (88, 86, 84), (112, 86, 66), (72, 70, 68), (120, 100, 80)],
    "box": [(128, 74, 58), (150, 146, 138), (96, 104, 92), (116, 90, 70), (170, 160, 148)],
    "tank": [(38, 38, 40), (44, 42, 40), (178, 176, 170), (120, 118, 112)],
    "flat": [(96, 82, 66), (84, 78, 70)],
    "passenger": [(78, 110, 86), (140, 140, 136), (70, 96, 120), (120, 76, 60)],
    "locomotive": [(74, 112, 84), (128, 70, 56), (70, 92, 130), (160, 150, 70)],
}


def make_car(rng: np.random.Generator, kind: str, loaded: bool = False) -> Car:
    """A car of ``kind`` with a random length within its range and a random livery."""
    (lo, hi), _, _ = CAR_SIZES[kind]
    paint = _PAINTS[kind][rng.integers(len(_PAINTS[kind]))]
    jitter = rng.normal(1.0, 0.025, 3) * rng.uniform(0.88, 1.1)
    cargo = "coal" if rng.random() < 0.7 else "ore"
    return Car(
        kind,
        float(rng.uniform(lo, hi)),
        color(*(np.array(paint) * jitter)),
        loaded,
        cargo,
        int(rng.integers(1 << 30)),
    )


def compose_train(
    rng: np.random.Generator, n_ore: int, n_other: int, n_loaded: int = 0, locomotive: bool = True
) -> list[Car]:
    """A train with ``n_ore`` ore cars (``n_loaded`` of them loaded) and ``n_other`` others.

    Ore cars run in blocks, as in real consists; locomotives count among the others.
    """
    others: list[Car] = []
    if locomotive and n_other > 0:
        others.append(make_car(rng, "locomotive"))
        n_other -= 1
    pool = rng.choice(["box", "tank", "flat", "passenger"], p=[0.4, 0.25, 0.2, 0.15])
    for _ in range(n_other):
        kind = pool if rng.random() < 0.6 else rng.choice(["box", "tank", "flat", "passenger"])
        others.append(make_car(rng, str(kind)))
    loaded = np.zeros(n_ore, bool)
    loaded[rng.permutation(n_ore)[:n_loaded]] = True
    ores = [make_car(rng, "ore", bool(b)) for b in np.sort(loaded)]
    head = others[:1] if locomotive and others and others[0].kind == "locomotive" else []
    rest = others[len(head) :]
    cuts: list[int] = []
    if len(ores) > 1 and rest:
        n_cuts = min(int(rng.integers(0, 3)), len(ores) - 1)
        cuts = sorted(int(c) for c in rng.choice(np.arange(1, len(ores)), n_cuts, replace=False))
    ore_blocks = np.split(np.arange(len(ores)), cuts) if ores else []
    other_cuts = np.linspace(0, len(rest), len(ore_blocks) + 1).astype(int)
    cars = list(head)
    for i, block in enumerate(ore_blocks):
        cars.extend(rest[other_cuts[i] : other_cuts[i + 1]])
        cars.extend(ores[j] for j in block)
    cars.extend(rest[other_cuts[-1] :] if ore_blocks else rest)
    return cars


def train_length_m(cars: list[Car], gap: float = 1.0) -> float:
    return sum(c.length for c in cars) + gap * max(len(cars) - 1, 0)


def paint_track(canvas: Canvas, track: Track, texture: np.ndarray | None = None) -> None:
    """Ballast bed and two rails along the track centre line."""
    gsd = canvas.gsd
    stroke(canvas, track.line, 3.6, BALLAST, soft_m=0.8, texture=texture)
    gauge = 1.435 / 2 / gsd
    for side in (-gauge, gauge):
        stroke(canvas, track.line.offset(side), 0.25, RAIL_DARK, soft_m=0.0)


def _draw_car(canvas: Canvas, car: Car, center, angle: float, sun: Sun) -> np.ndarray:
    """Draw one car; returns its outline points (object frame) for the label box."""
    _, width, height = CAR_SIZES[car.kind]
    hl, hw = car.length / 2, width / 2
    gsd = canvas.gsd
    sdx, sdy = sun.shadow_px(height, gsd)
    # shadow: the footprint swept towards the shadow offset
    shadow_len = math.hypot(sdx, sdy) * gsd
    grid = object_grid(canvas, center, angle, hl + shadow_len + 1, hw + shadow_len + 1, 1)
    if grid is not None:
        c, s = math.cos(angle), math.sin(angle)
        su = (sdx * c + sdy * s) * gsd
        sv = (-sdx * s + sdy * c) * gsd
        cover = swept_cover(lambda u, v: sd_box(u, v, 0, 0, hl, hw), grid, su, sv)
        cast_shadow(canvas, grid, cover, 0.45)
    ss = supersampling(gsd, 0.2)
    grid = object_grid(canvas, center, angle, hl + 0.5, hw + 0.5, ss)
    if grid is None:
        return rect_outline(hl, hw)
    rng = np.random.default_rng(car.seed)
    u, v = grid.u, grid.v
    sprite = Sprite(grid)
    body = edge(sd_box(u, v, 0, 0, hl, hw), grid)
    light = sun.light_vector()
    if car.kind == "ore":
        sprite.fill(body, car.paint * 1.15)
        inner = edge(sd_box(u, v, 0, 0, hl - 0.45, hw - 0.33), grid)
        if car.loaded:
            base = color(48, 47, 45, 40) if car.cargo == "coal" else color(92, 68, 54, 80)
            mound = np.clip(1 - (v / (hw - 0.2)) ** 2, 0, 1) * np.clip(
                1 - (np.abs(u) / (hl - 0.3)) ** 4, 0, 1
            )
            lit = 1 + 0.25 * np.gradient(mound, axis=0) * np.sign(light[1] + 1e-6) * grid.ss
            grain = 1 + 0.12 * rng.standard_normal(u.shape).astype(np.float32)
            sprite.fill(inner, base[:, None, None] * (lit * grain)[None])
        else:
            # empty: dark floor, the sunward wall shading the floor, hopper bay ridges
            floor = color(40, 38, 36, 34)
            sprite.fill(inner, floor)
            n_bays = 3 if rng.random() < 0.6 else 4
            bay = ((u + hl) / car.length * n_bays) % 1.0
            ridge = np.exp(-(((bay - 0.5) / 0.12) ** 2)).astype(np.float32)
            sprite.shade(inner * (1 - ridge), 0.85)
            wall_side = np.sign(-(light[0] * -math.sin(angle) + light[1] * math.cos(angle)) + 1e-6)
            shade_band = edge(np.abs(v - wall_side * (hw - 0.6)) - 0.45, grid) * inner
            sprite.shade(shade_band, 0.7)
            ribs = (np.abs(((u + hl) % 1.6) - 0.8) < 0.12).astype(np.float32) * (
                np.abs(np.abs(v) - hw) < 0.35
            )
            sprite.fill(ribs * body * 0.6, car.paint * 0.8)
    elif car.kind == "tank":
        body = edge(sd_round_box(u, v, 0, 0, hl, hw, hw * 0.95), grid)
        across = np.clip(v / hw, -1, 1)
        normal_z = np.sqrt(np.clip(1 - across**2, 0, 1))
        normal_v = across
        dir_v = light[0] * -math.sin(angle) + light[1] * math.cos(angle)
        lambert = np.clip(normal_z * light[2] + normal_v * dir_v, 0.15, 1.0) / max(light[2], 0.3)
        sprite.fill(body, car.paint[:, None, None] * (0.55 + 0.55 * lambert)[None])
        dome = edge(np.hypot(u, v) - 0.6, grid)
        sprite.fill(dome, car.paint * 1.25)
        deck = edge(sd_box(u, v, 0, 0, hl, 0.5), grid) * (np.abs(u) > hl - 1.0)
        sprite.fill(deck, color(70, 68, 64))
    elif car.kind == "flat":
        sprite.fill(body, car.paint)
        planks = 1 + 0.08 * np.sin(v * 2 * np.pi / 0.3)
        sprite.shade(body, planks)
        load = rng.random()
        if load < 0.4:
            clen = 6.1 if rng.random() < 0.6 else 12.2
            cont = edge(sd_box(u, v, 0, 0, min(clen / 2, hl - 0.3), 1.22), grid)
            tint = np.array(_PAINTS["box"][rng.integers(5)], np.float32) * rng.uniform(0.9, 1.2)
            sprite.fill(cont, color(*tint))
        elif load < 0.6:
            logs = edge(sd_box(u, v, 0, 0, hl - 0.8, hw - 0.3), grid)
            sprite.fill(
                logs,
                color(110, 92, 70)[:, None, None] * (1 + 0.15 * np.sin(v * 2 * np.pi / 0.35))[None],
            )
    else:
        sprite.fill(body, car.paint)
        if car.kind == "box":
            seams = 1 - 0.1 * (np.abs(((u + hl) % 0.9) - 0.45) < 0.08)
            sprite.shade(body, seams)
            walk = edge(np.abs(v) - 0.25, grid) * body
            sprite.fill(walk * 0.7, car.paint * 0.75)
        elif car.kind == "passenger":
            vents = edge(np.hypot(((u + hl) % 3.0) - 1.5, v) - 0.35, grid) * body
            sprite.fill(vents, car.paint * 0.7)
            ends = ((np.abs(u) > hl - 0.5) * body).astype(np.float32)
            sprite.shade(ends, 0.8)
        else:  # locomotive: cabs at the ends, hood features, fans
            for cu in (-hl + 1.5, hl - 1.5):
                cab = edge(sd_box(u, v, cu, 0, 1.2, hw - 0.15), grid)
                sprite.fill(cab, car.paint * 1.2)
            for k in range(3):
                fan = edge(np.hypot(u - (-3 + 3 * k), v) - 0.7, grid)
                sprite.fill(fan, color(52, 52, 52))
            hood = edge(sd_box(u, v, 0, 0, hl - 3.2, hw - 0.5), grid)
            sprite.shade(hood, 0.9)
    sprite.commit(canvas)
    return rect_outline(hl, hw)


def draw_train(canvas: Canvas, train: Train, sun: Sun, gap_m: float = 1.0) -> list[ObjectLabel]:
    """Draw a train along its track; returns one label per car, in order."""
    gsd = canvas.gsd
    labels = []
    for car, mid in zip(train.cars, train.car_midpoints_px(gsd, gap_m), strict=True):
        (center, heading) = train.track.line.at(mid)
        cx, cy = float(center[0]), float(center[1])
        outline = _draw_car(canvas, car, (cx, cy), float(heading), sun)
        box = rotated_bounds((cx, cy), float(heading), outline, gsd)
        attrs: dict = {"kind": car.kind}
        if car.kind == "ore":
            attrs = {"loaded": car.loaded}
            if car.loaded:
                attrs["cargo"] = car.cargo
        attrs["length_m"] = round(car.length, 2)
        attrs["heading_deg"] = round((90.0 + math.degrees(float(heading))) % 360.0, 1)
        if train.track.aoi:
            attrs["aoi"] = train.track.aoi
        labels.append(ObjectLabel(car.cls, box, attrs))
    return labels
