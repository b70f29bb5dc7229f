"""Open-pit mines: a terraced pit, spoil dumps, haul roads, a processing plant with dark
concentrate stockpiles, and a railhead with loading tracks; a river in the valley."""

from __future__ import annotations

import math

import numpy as np

from coalwatch.labels.synth.canvas import Canvas, Sprite, color, object_grid
from coalwatch.labels.synth.heaps import Heap
from coalwatch.labels.synth.layout import Frame, Site, Stockyard
from coalwatch.labels.synth.noise import angular_noise, fractal_noise, noise_1d
from coalwatch.labels.synth.paths import Polyline, smooth_path, stroke
from coalwatch.labels.synth.rail import Track, paint_track
from coalwatch.labels.synth.sky import Sun
from coalwatch.labels.synth.structures import (
    Building,
    draw_buildings,
    draw_road,
    draw_surface,
    draw_vehicles,
)

DEFAULTS = {
    "loading_tracks": [3, 5],
    "trains": [1, 4],
    "ore_cars_per_train": [5, 40],
    "other_cars_per_train": [1, 6],
    "loaded_fraction": [0.4, 1.0],
    "yard_fill": [0.2, 0.9],
    "dumps": [3, 6],
}

HAUL = color(158, 146, 126, 140)


def _draw_pit(
    canvas: Canvas, rng: np.random.Generator, center, angle: float, a: float, b: float, sun: Sun
) -> None:
    """Concentric benches stepping down into the pit, shaded by the sun."""
    grid = object_grid(canvas, center, angle, a * 1.15, b * 1.15, 1)
    if grid is None:
        return
    u, v = grid.u, grid.v
    radius = angular_noise(rng, 5, 0.1)(np.arctan2(v / b, u / a)).astype(np.float32)
    wobble = fractal_noise(rng, grid.shape, max(grid.shape) / 4, beta=2.8)
    rho = np.hypot(u / a, v / b) / radius + 0.02 * wobble
    benches = int(rng.integers(8, 14))
    x = np.clip(1 - rho, 0, 1) * benches
    level = np.floor(x)
    face = np.clip((x - level - 0.6) / 0.4, 0, 1)
    depth = -(level + face * face * (3 - 2 * face)) * 12.0
    gy, gx = np.gradient(depth, grid.pixel_m)
    gy, gx = np.clip(gy, -2, 2), np.clip(gx, -2, 2)
    lx, ly, lz = sun.light_vector()  # gradients are along scene x and y (the grid's layout)
    shade = np.clip((-gx * lx - gy * ly + lz) / np.sqrt(gx * gx + gy * gy + 1), 0.1, 1) / lz
    rock = color(118, 110, 102, 110) * rng.uniform(0.9, 1.1)
    band_tone = rng.normal(1.0, 0.07, benches + 1).astype(np.float32)
    bench_tone = band_tone[level.astype(np.int32)] + 0.06 * fractal_noise(rng, grid.shape, 30, 1.6)
    sprite = Sprite(grid)
    alpha = np.clip((1.03 - rho) / 0.05, 0, 1).astype(np.float32)
    tone = (0.6 + 0.45 * shade) * bench_tone
    sprite.fill(alpha, rock[:, None, None] * tone[None].astype(np.float32))
    pond = (rho < 0.12).astype(np.float32)
    sprite.fill(pond, color(60, 82, 74, 20))
    sprite.commit(canvas)


def build_mine(params: dict, rng: np.random.Generator, width: int, height: int, gsd: float) -> Site:
    extent = min(width, height) * gsd
    angle = rng.uniform(0, 2 * math.pi)
    frame = Frame((width / 2, height / 2), angle, gsd)
    u_grid, v_grid = frame.grids(width, height)
    # a river along one side of the valley
    n = 512
    us = np.linspace(-extent, extent, n)
    river_v = extent * 0.42 + noise_1d(rng, n, 60) * 25
    bank = rng.uniform(30, 70)
    dist = np.abs(v_grid - np.interp(u_grid, us, river_v).astype(np.float32))
    water = np.clip((bank - dist) / gsd + 0.5, 0, 1).astype(np.float32)
    pit_c = (rng.uniform(-0.2, 0.1) * extent, -rng.uniform(0.12, 0.22) * extent)
    pit_a, pit_b = rng.uniform(0.17, 0.27) * extent, rng.uniform(0.12, 0.2) * extent
    pit_angle = rng.uniform(0, math.pi)
    rail_v = extent * 0.3
    n_tracks = int(rng.integers(params["loading_tracks"][0], params["loading_tracks"][1] + 1))
    tracks = [
        Track(
            "main",
            Polyline([frame.px(-extent, rail_v + 14), frame.px(extent, rail_v + 14)]).resampled(
                8 / gsd
            ),
            "main",
        )
    ]
    load_u0, load_u1 = -0.1 * extent, 0.42 * extent
    for k in range(n_tracks):
        line = Polyline(
            [frame.px(load_u0 - 40 * k, rail_v - 5.0 * k), frame.px(load_u1, rail_v - 5.0 * k)]
        )
        tracks.append(Track(f"loading_{k + 1}", line.resampled(8 / gsd), "siding", "railhead"))
    plant_u = -0.3 * extent
    yard = Stockyard(
        "concentrate_yard",
        frame.px(0.16 * extent, rail_v - 5.0 * n_tracks - 50),
        angle,
        0.22 * extent,
        32,
        2,
    )
    aois = {
        "railhead": frame.rect(load_u0, rail_v + 4, load_u1, rail_v - 5.0 * n_tracks - 3),
        "concentrate_yard": frame.rect(
            0.16 * extent - 0.22 * extent,
            rail_v - 5.0 * n_tracks - 86,
            0.16 * extent + 0.22 * extent,
            rail_v - 5.0 * n_tracks - 14,
        ),
    }
    dumps = []
    for _ in range(int(rng.integers(params["dumps"][0], params["dumps"][1] + 1))):
        t = rng.uniform(0, 2 * math.pi)
        r = rng.uniform(1.25, 1.6)
        du = pit_c[0] + math.cos(t) * pit_a * r
        dv = min(pit_c[1] + math.sin(t) * pit_b * r, rail_v - 140)
        size = rng.uniform(70, 160)
        dumps.append(
            Heap(
                frame.px(du, dv),
                angle + rng.uniform(0, math.pi),
                size * rng.uniform(1, 1.8),
                size,
                rng.uniform(15, 35),
                "spoil",
                int(rng.integers(1 << 30)),
            )
        )
    params = dict(params, _dumps=dumps)
    haul_ends = [frame.px(plant_u, rail_v - 80)] + [d.center for d in dumps]

    dry = (water < 0.05).astype(np.float32)

    def paint(canvas: Canvas, prng: np.random.Generator, sun: Sun) -> None:
        bare = fractal_noise(prng, (height, width), 500 / gsd, beta=3.0)
        zone = np.clip(
            (
                1.2
                - np.hypot((u_grid - pit_c[0]) / (pit_a * 2.0), (v_grid - pit_c[1]) / (pit_b * 2.2))
                + 0.15 * bare
            )
            * 3,
            0,
            1,
        )
        dust = color(140, 132, 118, 122)[:, None, None] * (1 + 0.06 * bare)[None]
        canvas.blend((zone * (1 - water)).astype(np.float32), dust)
        _draw_pit(canvas, prng, frame.px(*pit_c), angle + pit_angle, pit_a, pit_b, sun)
        centre = np.array(frame.px(*pit_c))
        for end in haul_ends:
            d = np.array(end) - centre
            reach = 1.12 * max(pit_a, pit_b) / gsd
            rim = tuple(centre + d / max(np.hypot(*d), 1e-6) * min(reach, np.hypot(*d) * 0.5))
            haul = smooth_path(rim, end, prng.normal(0, 60) / gsd)
            stroke(canvas, haul, 14, HAUL, soft_m=2)
            draw_vehicles(canvas, haul, int(prng.integers(0, 4)), prng, sun, kinds=("haul",))
        draw_surface(
            canvas, prng, frame.px(0.1 * extent, rail_v - 30), angle, 0.42 * extent, 60, "yard", 0.2
        )
        draw_surface(
            canvas,
            prng,
            yard.center,
            yard.angle,
            yard.half_length + 8,
            yard.half_width + 8,
            "gravel",
            0.08,
        )
        road = Polyline([frame.px(-extent, rail_v + 40), frame.px(extent, rail_v + 40)])
        draw_road(canvas, road, 8, land=dry)
        sheds = []
        for _k in range(int(prng.integers(5, 10))):
            sheds.append(
                Building(
                    frame.px(plant_u + prng.uniform(-150, 150), rail_v - 60 - prng.uniform(0, 200)),
                    angle,
                    float(prng.uniform(40, 120)),
                    float(prng.uniform(20, 40)),
                    float(prng.uniform(10, 25)),
                    int(prng.integers(0, 7)),
                    bool(prng.random() < 0.3),
                )
            )
        silo = Building(
            frame.px(load_u1 + 30, rail_v - 5.0 * (n_tracks - 1) / 2),
            angle,
            30,
            5.0 * n_tracks + 8,
            20,
            4,
            False,
        )
        draw_buildings(canvas, sheds, sun)
        for track in tracks:
            paint_track(canvas, track)
        draw_buildings(canvas, [silo], sun)

    return Site(
        "mine",
        width,
        height,
        gsd,
        water,
        paint,
        tracks,
        stockyards=[yard],
        aois=aois,
        params=params,
    )
