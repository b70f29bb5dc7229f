"""Placing the day's contents on a site: trains on tracks, ships at berths and at anchor,
tugs, barges and small boats on open water, heaps in stockyards."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from coalwatch.labels.synth.layout import Site, water_points
from coalwatch.labels.synth.rail import Car, Track, Train, train_length_m
from coalwatch.labels.synth.ships import Ship, random_ship

# Cars stand clear of the fouling point: where another track comes closer than this (a switch,
# a throat where yard tracks converge, a spur leaving a siding), no car is placed.
CLEARANCE_M = 3.6


def usable_span(
    track: Track,
    width: int,
    height: int,
    margin_px: float = 8,
    others: list[Track] | None = None,
    clearance_px: float = 0.0,
) -> tuple[float, float]:
    """The longest arc-length interval (pixels) of a track that lies inside the scene and,
    given ``others``, stays at least ``clearance_px`` from every other track."""
    s = np.arange(0, track.line.length_px, 2.0)
    pts, _ = track.line.at(s)
    usable = (
        (pts[:, 0] > margin_px)
        & (pts[:, 0] < width - margin_px)
        & (pts[:, 1] > margin_px)
        & (pts[:, 1] < height - margin_px)
    )
    neighbours = [t.line.resampled(1.0).points for t in others or [] if t.name != track.name]
    if neighbours and clearance_px > 0:
        distance, _ = cKDTree(np.concatenate(neighbours)).query(pts)
        usable &= distance >= clearance_px
    return _longest_run(s, usable)


def _longest_run(s: np.ndarray, flags: np.ndarray) -> tuple[float, float]:
    """The (first, last) value of ``s`` over the longest run of True in ``flags``."""
    if not flags.any():
        return (0.0, 0.0)
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    k = int(np.argmax(ends - starts))
    return float(s[starts[k]]), float(s[ends[k] - 1])


def place_trains(
    site: Site,
    tracks: list[Track],
    consists: list[list[Car]],
    rng: np.random.Generator,
    strict: bool = False,
) -> list[Train]:
    """Put each consist on its own track (longest first), on the stretch clear of every other
    track (``CLEARANCE_M``); cut cars that do not fit unless ``strict`` (then split the
    consist over further tracks so that every car stands)."""
    gsd = site.gsd
    clearance = CLEARANCE_M / gsd
    free = {
        t.name: usable_span(t, site.width, site.height, others=site.tracks, clearance_px=clearance)
        for t in tracks
    }
    order = sorted(range(len(consists)), key=lambda i: -len(consists[i]))
    trains: list[Train] = []
    queue = [consists[i] for i in order if consists[i]]
    available = sorted(tracks, key=lambda t: -(free[t.name][1] - free[t.name][0]))
    while queue and available:
        cars = queue.pop(0)
        track = available.pop(0)
        s0, s1 = free[track.name]
        room_m = (s1 - s0) * gsd
        fit = list(cars)
        while fit and train_length_m(fit) > room_m:
            fit.pop()
        if strict and len(fit) < len(cars):
            queue.insert(0, cars[len(fit) :])
        if not fit:
            continue
        slack = room_m - train_length_m(fit)
        start = s0 + rng.uniform(0, max(slack, 0)) / gsd
        trains.append(Train(track, start, fit))
    if strict and queue:
        raise ValueError(f"{sum(len(q) for q in queue)} cars do not fit on the site's tracks")
    return trains


def berth_ship(site: Site, berth_index: int, rng: np.random.Generator) -> Ship:
    """A bulk carrier moored alongside a berth, either way round."""
    berth = site.berths[berth_index]
    ship = random_ship(rng, "bulk", (0.0, 0.0), 0.0, berth.name)
    ship.length = float(min(ship.length, berth.length_m + 25))
    ship.beam = float(np.clip(ship.length * 0.15, 23, 32.3))
    shift = rng.uniform(-0.1, 0.1) * max(berth.length_m - ship.length, 0)
    ship.center = berth.ship_center(ship.beam, site.gsd, shift)
    ship.angle = berth.angle + (math.pi if rng.random() < 0.5 else 0.0)
    return ship


def anchored_ships(
    site: Site, rng: np.random.Generator, n: int, taken: list[Ship], kind: str = "bulk"
) -> list[Ship]:
    """Ships of ``kind`` at anchor on open water, any heading."""
    if n <= 0:
        return []
    points = water_points(site, rng, n + len(taken), 150 / site.gsd)
    ships = []
    for p in points:
        if any(math.dist(p, s.center) < (s.length / 2 + 140) / site.gsd for s in taken + ships):
            continue
        ships.append(random_ship(rng, kind, p, float(rng.uniform(0, 2 * math.pi))))
        if len(ships) == n:
            break
    return ships


def small_craft(
    site: Site, rng: np.random.Generator, taken: list[Ship], tugs: int, barges: int, boats: int
) -> list[Ship]:
    """Tugs beside berthed ships, barges and boats on water clear of other vessels."""
    out: list[Ship] = []
    berthed = [s for s in taken if s.berth]
    for k in range(tugs):
        if berthed:
            s = berthed[k % len(berthed)]
            c, si = math.cos(s.angle), math.sin(s.angle)
            end = rng.choice([-1, 1]) * (s.length / 2 + 25) / site.gsd
            normal = site.berths[[b.name for b in site.berths].index(s.berth)].normal
            off = (s.beam + 8) / site.gsd
            p = (s.center[0] + c * end + normal[0] * off, s.center[1] + si * end + normal[1] * off)
            if site.on_water(*p):
                out.append(random_ship(rng, "tug", p, s.angle + rng.normal(0, 0.3)))
                continue
    kinds = ["barge"] * barges + ["boat"] * boats + ["tug"] * (tugs - len(out))
    points = water_points(site, rng, len(kinds) * 3, 25 / site.gsd)
    rng.shuffle(points)
    for kind in kinds:
        while points:
            p = points.pop()
            clear = all(
                math.dist(p, s.center) > (s.length / 2 + 40) / site.gsd for s in taken + out
            )
            if clear:
                out.append(random_ship(rng, kind, p, float(rng.uniform(0, 2 * math.pi))))
                break
    return out
