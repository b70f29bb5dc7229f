"""Rail border crossings: a double-track main line crossing a border river on a bridge,
a border station yard of parallel tracks with switches, station, roads and villages."""

from __future__ import annotations

import math

import numpy as np

from coalwatch.labels.synth.canvas import Canvas, color
from coalwatch.labels.synth.layout import Frame, Site
from coalwatch.labels.synth.noise import noise_1d
from coalwatch.labels.synth.paths import Polyline, eased_link, smooth_path, stroke
from coalwatch.labels.synth.rail import Track, paint_track
from coalwatch.labels.synth.sky import Sun
from coalwatch.labels.synth.structures import (
    Building,
    draw_buildings,
    draw_road,
    draw_surface,
    draw_vehicles,
    village,
)

DEFAULTS = {
    "yard_tracks": [4, 8],
    "trains": [1, 5],
    "ore_cars_per_train": [0, 60],
    "other_cars_per_train": [2, 30],
    "loaded_fraction": [0.0, 1.0],
    "river_width_m": [60, 220],
}


def _yard_track(frame: Frame, name: str, u0: float, u1: float, v: float, link: float) -> Track:
    a = eased_link(frame.px(u0 - link, 0), frame.px(u0, v), frame.angle)
    b = eased_link(frame.px(u1, v), frame.px(u1 + link, 0), frame.angle)
    pts = np.concatenate([a.points, b.points])
    return Track(name, Polyline(pts).resampled(6 / frame.gsd), "yard", "yard")


def build_rail_crossing(
    params: dict, rng: np.random.Generator, width: int, height: int, gsd: float
) -> Site:
    """A random border-crossing layout in a random orientation."""
    extent = math.hypot(width, height) * gsd / 2
    short = min(width, height) * gsd
    angle = rng.uniform(0, 2 * math.pi)
    frame = Frame((width / 2, height / 2), angle, gsd)
    side = 1 if rng.random() < 0.5 else -1
    river_w = min(rng.uniform(*params["river_width_m"]), 0.2 * short)
    river_u = side * rng.uniform(0.28, 0.4) * short
    skew = rng.uniform(-0.45, 0.45)
    n = 512
    vs = np.linspace(-extent, extent, n)
    meander = vs * math.tan(skew) + noise_1d(rng, n, 80) * 12
    u_grid, v_grid = frame.grids(width, height)
    centre = river_u + np.interp(v_grid, vs, meander).astype(np.float32)
    dist = np.abs(u_grid - centre) * math.cos(skew)
    bank = river_w / 2 + np.interp(u_grid, vs, noise_1d(rng, n, 40) * 4).astype(np.float32)
    water = np.clip((bank - dist) / gsd + 0.5, 0, 1).astype(np.float32)

    n_tracks = int(rng.integers(params["yard_tracks"][0], params["yard_tracks"][1] + 1))
    near_bank = river_u - side * (river_w / 2 + min(60, 0.08 * short))
    curved = rng.random() < 0.5  # a shorter yard, the main line curving away beyond it
    far_end = -side * (rng.uniform(-0.05, 0.15) if curved else 0.48) * short
    u_lo, u_hi = sorted((near_bank, far_end))
    link = min(70.0, 0.08 * short)
    y_side = 1 if rng.random() < 0.5 else -1
    spacing = rng.uniform(4.8, 5.6)
    u_curve = far_end - side * (link * (1 + 0.4 * (n_tracks - 1)) + 20)
    radius = rng.uniform(250, 600) * (1 if rng.random() < 0.5 else -1)

    def main_offset(u):
        """Sideways offset (m) of the main line at ``u``: straight, then a curve."""
        beyond = np.maximum(-side * (np.asarray(u, np.float32) - u_curve), 0)
        return beyond * beyond / (2 * radius) if curved else beyond * 0

    def main_line(v_off: float) -> Polyline:
        us = np.linspace(-extent, extent, 240)
        return Polyline([frame.px(u, v_off + float(main_offset(u))) for u in us])

    tracks = [
        Track("main_1", main_line(0.0).resampled(8 / gsd), "main"),
        Track("main_2", main_line(-y_side * 4.5).resampled(8 / gsd), "main"),
    ]
    for k in range(n_tracks):
        lk = link * (1 + 0.4 * k)
        tracks.append(
            _yard_track(
                frame, f"yard_{k + 1}", u_lo + lk, u_hi - lk, y_side * spacing * (k + 1), lk
            )
        )
    yard_half_w = spacing * (n_tracks + 1) / 2 + 6
    aois = {"yard": frame.rect(u_lo, 0, u_hi, y_side * spacing * (n_tracks + 1))}
    road_v = -y_side * rng.uniform(45, 80)

    dry = (water < 0.05).astype(np.float32)
    # farm tracks keep off the railway corridor (yard, main lines and their embankment)
    in_yard = (np.abs(v_grid - y_side * (yard_half_w - 8)) < yard_half_w + 12) & (
        (u_grid > u_lo - 120) & (u_grid < u_hi + 120)
    )
    corridor = in_yard | (np.abs(v_grid - main_offset(u_grid) + y_side * 2.2) < 14)
    farm = dry * ~corridor

    def paint(canvas: Canvas, prng: np.random.Generator, sun: Sun) -> None:
        yard_c = frame.px((u_lo + u_hi) / 2, y_side * (yard_half_w - 8))
        draw_surface(
            canvas, prng, yard_c, angle, (u_hi - u_lo) / 2 + 40, yard_half_w + 4, "gravel", 0.18
        )
        rail_bed = main_line(-y_side * 2.2)
        stroke(canvas, rail_bed, 16, color(132, 124, 112, 120), soft_m=3)
        # bridge over the river: shadow on the water, deck, piers
        bridge_u0, bridge_u1 = river_u - river_w, river_u + river_w
        deck = Polyline([frame.px(bridge_u0, -y_side * 2.2), frame.px(bridge_u1, -y_side * 2.2)])
        dx, dy = sun.shadow_px(9, gsd)
        shadow = Polyline(deck.points + np.array([dx, dy]))
        stroke(canvas, shadow, 10, color(26, 34, 32, 8), soft_m=3)
        stroke(canvas, deck, 13, color(112, 108, 104, 100), soft_m=0.6)
        road = smooth_path(
            frame.px(-extent, road_v), frame.px(extent, road_v), prng.normal(0, 30) / gsd
        )
        road_deck = Polyline([frame.px(bridge_u0, road_v), frame.px(bridge_u1, road_v)])
        stroke(
            canvas,
            Polyline(road_deck.points + np.array([dx, dy])),
            9,
            color(22, 28, 27, 8),
            soft_m=2,
        )
        draw_road(canvas, road, 8)
        # lorries queue for the border bridge, other traffic along the road
        draw_vehicles(canvas, road, int(prng.integers(5, 30)), prng, sun, dry, queue=True,
                      kinds=("truck",))  # fmt: skip
        draw_vehicles(canvas, road, int(prng.integers(3, 15)), prng, sun, dry)
        for _ in range(int(prng.integers(2, 5))):
            start = frame.px(prng.uniform(-extent, extent) * 0.8, road_v)
            end = frame.px(prng.uniform(-extent, extent), -y_side * prng.choice([-1, 1]) * extent)
            draw_road(canvas, smooth_path(start, end, prng.normal(0, 50) / gsd), 5, "dirt", farm)
        plat_u = (u_lo + u_hi) / 2
        draw_surface(canvas, prng, frame.px(plat_u, -y_side * 9.5), angle, 120, 3, "concrete")
        station = [
            Building(frame.px(plat_u, -y_side * 24), angle, 70, 16, 9, 3, True),
            Building(frame.px(plat_u + 90, -y_side * 28), angle, 30, 14, 6, 0, False),
        ]
        houses = []
        for _ in range(int(prng.integers(2, 4))):
            c = frame.px(
                prng.uniform(-0.45, 0.45) * short,
                -y_side * prng.uniform(min(150, 0.2 * short), 0.45 * short),
            )
            if water[int(np.clip(c[1], 0, height - 1)), int(np.clip(c[0], 0, width - 1))] < 0.5:
                houses += village(prng, c, 90 / gsd, gsd, int(prng.integers(12, 35)))
        houses = [b for b in houses if _dry(water, b.center)]
        draw_buildings(canvas, station + houses, sun)
        for track in tracks:
            paint_track(canvas, track)

    return Site(
        "rail_crossing", width, height, gsd, water, paint, tracks, aois=aois, params=dict(params)
    )


def _dry(water: np.ndarray, p: tuple[float, float]) -> bool:
    h, w = water.shape
    x, y = int(np.clip(p[0], 0, w - 1)), int(np.clip(p[1], 0, h - 1))
    return bool(water[y, x] < 0.1)
