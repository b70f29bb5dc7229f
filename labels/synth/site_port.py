"""Coal port sites: a quay front with piers or a marginal wharf, three berths with ship
loaders, quay stockyards, rail sidings and pier spurs, a breakwater, warehouses, town."""

from __future__ import annotations

import math

import numpy as np

from coalwatch.labels.synth.canvas import Canvas, color
from coalwatch.labels.synth.layout import Berth, Frame, Site, Stockyard
from coalwatch.labels.synth.noise import noise_1d
from coalwatch.labels.synth.paths import Polyline, eased_link, smooth_path, stroke
from coalwatch.labels.synth.rail import Track, paint_track
from coalwatch.labels.synth.sky import Sun
from coalwatch.labels.synth.structures import (
    Building,
    draw_buildings,
    draw_container_yard,
    draw_loader,
    draw_road,
    draw_surface,
    draw_vehicles,
    village,
)

DEFAULTS = {
    "style": "random",  # piers | quay | random
    "berths": 3,
    "pier_width_m": [70, 110],
    "siding_tracks": [3, 5],
    "berth_occupancy": [0.2, 1.0],
    "anchored": [0, 3],
    "tankers": [0, 2],
    "tugs": [0, 3],
    "barges": [0, 2],
    "small_boats": [2, 8],
    "yard_fill": [0.1, 0.9],
    "trains": [0, 3],
    "ore_cars_per_train": [0, 40],
    "other_cars_per_train": [2, 20],
    "loaded_fraction": [0.0, 1.0],
}


def build_port(
    params: dict,
    rng: np.random.Generator,
    width: int,
    height: int,
    gsd: float,
    style: str | None = None,
) -> Site:
    """A random port layout in a random orientation, centred in the scene."""
    style = style or params["style"]
    if style == "random":
        style = "piers" if rng.random() < 0.6 else "quay"
    n_berths = int(params["berths"])
    angle = rng.uniform(0, 2 * math.pi)
    extent = min(width, height) * gsd
    origin = (width / 2 + rng.normal(0, width * 0.03), height / 2 + rng.normal(0, height * 0.03))
    frame = Frame(origin, angle, gsd)
    spacing = rng.uniform(250, 330)
    pier_len = rng.uniform(240, 330)
    pier_w = rng.uniform(*params["pier_width_m"])
    span = spacing * (n_berths - 1) + (pier_w if style == "piers" else 240)
    half = span / 2 + 120
    back = rng.uniform(300, 380)
    n_sidings = int(rng.integers(params["siding_tracks"][0], params["siding_tracks"][1] + 1))

    # shore: straight in the port, natural beyond it; bay or headland either side
    n = 512
    us = np.linspace(-extent * 0.8, extent * 0.8, n)
    bend = rng.uniform(-0.5, 0.5, 2)
    wild = noise_1d(rng, n, 60) * 18
    outside = np.maximum(np.abs(us) - half, 0)
    shore_v = np.where(us < 0, bend[0], bend[1]) * outside + wild * np.clip(outside / 80, 0, 1)
    u_grid, v_grid = frame.grids(width, height)
    shore_at = np.interp(u_grid, us, shore_v).astype(np.float32)
    water = np.clip((v_grid - shore_at) / gsd + 0.5, 0, 1).astype(np.float32)

    berths, yards, aois, piers, tracks = [], [], {}, [], []
    gaps: list[tuple[float, float]] = []  # where pier spurs cross the quay stockyard
    siding_v0 = -(130 if style == "piers" else 230)
    for k in range(n_sidings):
        v = siding_v0 - 5.0 * k
        line = Polyline([frame.px(-half - 400, v), frame.px(half + 50, v)])
        tracks.append(Track(f"siding_{k + 1}", line.resampled(8 / gsd), "siding", "siding"))
    aois["siding"] = frame.rect(-half, siding_v0 + 8, half, siding_v0 - 5.0 * n_sidings - 3)
    main_v = siding_v0 - 5.0 * n_sidings - 12
    tracks.append(
        Track("main", Polyline([frame.px(-extent, main_v), frame.px(extent, main_v)]), "main")
    )
    for i in range(n_berths):
        name = f"berth_{i + 1}"
        uc = -spacing * (n_berths - 1) / 2 + spacing * i
        if style == "piers":
            side = 1 if rng.random() < 0.5 else -1
            piers.append((uc, pier_w, pier_len))
            edge_u = uc + side * pier_w / 2
            qp = frame.px(edge_u, pier_len * 0.5)
            normal = (side * math.cos(angle), side * math.sin(angle))
            berths.append(Berth(name, qp, angle + math.pi / 2, normal, pier_len))
            aois[name] = frame.rect(edge_u, 0, edge_u + side * 45, pier_len + 30)
            yard_u = uc - side * 10.0  # clear of the spur track on the berth side
            yard = Stockyard(
                f"pier_{i + 1}",
                frame.px(yard_u, pier_len * 0.5),
                angle + math.pi / 2,
                pier_len * 0.42,
                pier_w / 2 - 17,
                2,
            )
            yards.append(yard)
            aois[yard.name] = frame.rect(uc - pier_w / 2, 0, uc + pier_w / 2, pier_len)
            spur_u = edge_u - side * 14
            gaps.append(
                (min(spur_u, spur_u - side * 60) - 12, max(spur_u, spur_u - side * 60) + 12)
            )
            spur = eased_link(
                frame.px(spur_u - side * 60, siding_v0),
                frame.px(spur_u, siding_v0 + 60),
                angle + math.pi / 2,
            )
            pts = np.concatenate([spur.points, [frame.px(spur_u, pier_len - 15)]])
            tracks.append(
                Track(
                    f"pier_{i + 1}_spur", Polyline(pts).resampled(8 / gsd), "spur", f"pier_{i + 1}"
                )
            )
        else:
            qp = frame.px(uc, 0)
            normal = (-math.sin(angle), math.cos(angle))
            berths.append(Berth(name, qp, angle, normal, spacing * 0.9))
            aois[name] = frame.rect(uc - spacing * 0.45, 0, uc + spacing * 0.45, 45)
    if style == "quay":
        for i in range(n_berths):
            uc = -spacing * (n_berths - 1) / 2 + spacing * i
            yard = Stockyard(f"quay_yard_{i + 1}", frame.px(uc, -95), angle, spacing * 0.42, 50, 2)
            yards.append(yard)
            aois[yard.name] = frame.rect(uc - spacing * 0.45, -150, uc + spacing * 0.45, -40)
        tracks.append(
            Track(
                "quay_track",
                Polyline([frame.px(-half, -22), frame.px(half, -22)]).resampled(8 / gsd),
                "spur",
                "quay",
            )
        )
    else:
        yard = Stockyard("quay_yard", frame.px(0, -65), angle, span / 2 - 20, 40, 2, tuple(gaps))
        yards.append(yard)
        aois[yard.name] = frame.rect(-span / 2, -110, span / 2, -20)
    for uc, pw, pl in piers:  # piers are land
        inside = (np.abs(u_grid - uc) < pw / 2) & (v_grid < pl) & (v_grid > -5)
        water[inside] = 0.0
    bw_v = pier_len + rng.uniform(140, 220) if style == "piers" else rng.uniform(250, 350)
    bw_side = 1 if rng.random() < 0.5 else -1
    bw_pts = [(bw_side * half, 0.0), (bw_side * half, bw_v), (-bw_side * (half * 0.35), bw_v)]
    breakwater = Polyline([frame.px(u, v) for u, v in bw_pts]).resampled(10 / gsd)
    bw_mask = (
        (np.abs(v_grid - bw_v) < 14)
        & (u_grid * bw_side > -half * 0.35)
        & (u_grid * bw_side < half + 14)
    )
    bw_mask |= (np.abs(u_grid - bw_side * half) < 14) & (v_grid < bw_v + 14) & (v_grid > -5)
    water[bw_mask] = 0.0
    anchorage_v = bw_v + 200

    dry = (water < 0.05).astype(np.float32)

    def paint(canvas: Canvas, prng: np.random.Generator, sun: Sun) -> None:
        # the port zone, quay apron, piers
        draw_surface(canvas, prng, frame.px(0, -back / 2), angle, half + 30, back / 2, "dirt", 0.1)
        draw_surface(canvas, prng, frame.px(0, -20), angle, half, 20, "concrete", 0.1)
        for v in (-back + 80, -back / 2 + 10):  # internal roads of the port zone
            lane = Polyline([frame.px(-half, v), frame.px(half, v)])
            draw_road(canvas, lane, 7)
            draw_vehicles(canvas, lane, int(prng.integers(2, 12)), prng, sun,
                          kinds=("truck", "truck", "car"))  # fmt: skip
        for u in np.linspace(-half + 40, half - 40, int(prng.integers(3, 6))):
            draw_road(canvas, Polyline([frame.px(u, -back), frame.px(u, -45)]), 6)
        for yard in yards:
            draw_surface(
                canvas,
                prng,
                yard.center,
                yard.angle,
                yard.half_length + 10,
                yard.half_width + 10,
                "gravel",
                0.12,
            )
        for uc, pw, pl in piers:
            draw_surface(
                canvas,
                prng,
                frame.px(uc, pl / 2 - 3),
                angle + math.pi / 2,
                pl / 2 + 3,
                pw / 2,
                "concrete",
            )
        stroke(canvas, breakwater, 26, color(118, 114, 106, 110), soft_m=3)
        stroke(canvas, breakwater, 8, color(160, 152, 140, 140), soft_m=1)
        # roads, warehouses, town
        road = Polyline([frame.px(-extent, -back - 20), frame.px(extent, -back - 20)])
        draw_road(canvas, road, 9, land=dry)
        draw_road(
            canvas,
            smooth_path(
                frame.px(prng.uniform(-half, half), -back - 20),
                frame.px(prng.uniform(-1, 1) * extent, -extent),
                prng.normal(0, 60) / gsd,
            ),
            7,
            land=dry,
        )
        sheds = []
        for k in range(int(prng.integers(8, 16))):
            u = -half + (k % 8 + 0.5) * (2 * half / 8) + prng.normal(0, 10)
            where = frame.px(u, -back + 40 + 95 * (k // 8))
            length, width = float(prng.uniform(40, 90)), float(prng.uniform(20, 32))
            if prng.random() < 0.25:  # a container stack in place of a shed
                draw_container_yard(canvas, prng, where, angle, length / 2, width / 2 + 4)
                continue
            sheds.append(Building(where, angle, length, width, float(prng.uniform(8, 15)),
                                  int(prng.integers(0, 7)), bool(prng.random() < 0.4)))  # fmt: skip
        houses = []
        for _ in range(3):
            c = frame.px(prng.uniform(-extent / 2, extent / 2), -back - prng.uniform(120, 350))
            houses += village(prng, c, 150 / gsd, gsd, int(prng.integers(40, 90)))
        draw_buildings(canvas, sheds + houses, sun)
        for track in tracks:
            paint_track(canvas, track)
        for berth in berths:
            c, s = math.cos(berth.angle), math.sin(berth.angle)
            for k in (-1, 1):
                base = (
                    berth.quay_point[0] - berth.normal[0] * 8 / gsd + c * k * 40 / gsd,
                    berth.quay_point[1] - berth.normal[1] * 8 / gsd + s * k * 40 / gsd,
                )
                if prng.random() < 0.8:
                    boom = math.atan2(berth.normal[1], berth.normal[0]) + prng.normal(0, 0.15)
                    draw_loader(canvas, base, boom, float(prng.uniform(28, 40)), sun)

    site = Site(
        "port",
        width,
        height,
        gsd,
        water,
        paint,
        tracks,
        berths,
        [],
        yards,
        aois,
        dict(params, style=style),
    )
    site.anchorage = [
        frame.px(u, anchorage_v + rng.uniform(0, 400)) for u in rng.uniform(-half, half, 8)
    ]
    return site
