"""Random day contents for independent scenes of each site kind (counts drawn from the
scenario's ranges)."""

from __future__ import annotations

import numpy as np

from coalwatch.labels.synth.contents import (
    anchored_ships,
    berth_ship,
    place_trains,
    small_craft,
)
from coalwatch.labels.synth.heaps import Heap
from coalwatch.labels.synth.layout import Contents, Site
from coalwatch.labels.synth.rail import compose_train
from coalwatch.labels.synth.stockyard import fill_yard, yard_capacity, yard_slots


def _int(rng: np.random.Generator, lo_hi) -> int:
    lo, hi = (int(v) for v in lo_hi)
    return int(rng.integers(lo, hi + 1))


def random_trains(site: Site, rng: np.random.Generator, tracks) -> list:
    p = site.params
    consists = []
    for _ in range(min(_int(rng, p["trains"]), len(tracks))):
        n_ore = _int(rng, p["ore_cars_per_train"])
        n_other = _int(rng, p["other_cars_per_train"])
        loaded = round(n_ore * rng.uniform(*p["loaded_fraction"]))
        consists.append(compose_train(rng, n_ore, n_other, loaded, rng.random() < 0.8))
    return place_trains(site, tracks, consists, rng)


def random_yard_heaps(site: Site, rng: np.random.Generator, material: str) -> list[Heap]:
    heaps = []
    lo, hi = site.params["yard_fill"]
    for yard in site.stockyards:
        slots = yard_slots(yard, rng)
        target = yard_capacity(slots) * rng.uniform(lo, hi)
        heaps += fill_yard(yard, slots, target, material, site.gsd, rng)
    return heaps


def rail_crossing_contents(site: Site, rng: np.random.Generator) -> Contents:
    tracks = [t for t in site.tracks if t.role == "yard"]
    if rng.random() < 0.3:
        tracks += [t for t in site.tracks if t.role == "main"][:1]
    return Contents(trains=random_trains(site, rng, tracks))


def port_contents(site: Site, rng: np.random.Generator) -> Contents:
    p = site.params
    occupancy = rng.uniform(*p["berth_occupancy"])
    ships = [berth_ship(site, i, rng) for i in range(len(site.berths)) if rng.random() < occupancy]
    ships += anchored_ships(site, rng, _int(rng, p["anchored"]), ships)
    ships += anchored_ships(site, rng, _int(rng, p["tankers"]), ships, "tanker")
    ships += small_craft(
        site, rng, ships, _int(rng, p["tugs"]), _int(rng, p["barges"]), _int(rng, p["small_boats"])
    )
    material = "coal" if rng.random() < 0.8 else "coke"
    heaps = random_yard_heaps(site, rng, material)
    trains = random_trains(site, rng, site.sidings() + [t for t in site.tracks if t.role == "spur"])
    return Contents(trains=trains, ships=ships, heaps=heaps)


def mine_contents(site: Site, rng: np.random.Generator) -> Contents:
    heaps = random_yard_heaps(site, rng, "ore")
    heaps += [
        Heap(
            d.center,
            d.angle,
            d.half_length * rng.uniform(0.75, 1.0),
            d.half_width * rng.uniform(0.75, 1.0),
            d.height,
            "spoil",
            d.seed,
        )
        for d in site.params["_dumps"]
    ]
    trains = random_trains(site, rng, site.sidings())
    return Contents(trains=trains, heaps=heaps)


RANDOM_CONTENTS = {
    "rail_crossing": rail_crossing_contents,
    "port": port_contents,
    "mine": mine_contents,
}
