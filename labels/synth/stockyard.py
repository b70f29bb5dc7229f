"""Heaps in stockyards: fixed slots per yard (so a series keeps its heaps in place) filled
up to a target footprint area."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from coalwatch.labels.synth.heaps import Heap
from coalwatch.labels.synth.layout import Stockyard

FOOTPRINT = 0.82  # heap area / bounding rectangle area, for the mound shapes drawn


@dataclass(frozen=True)
class Slot:
    """Room for one heap: centre along/across the yard (m), its longest half-length and
    half-width (m), and a shape seed."""

    u: float
    v: float
    max_half_length: float
    half_width: float
    seed: int


def yard_slots(yard: Stockyard, rng: np.random.Generator) -> list[Slot]:
    """Windrow slots along each row of the yard, some nearly touching their neighbours."""
    slots = []
    row_pitch = 2 * yard.half_width / yard.rows
    for r in range(yard.rows):
        v = -yard.half_width + row_pitch * (r + 0.5)
        hw = row_pitch / 2 * rng.uniform(0.75, 0.95)
        u = -yard.half_length
        while True:
            hl = float(rng.uniform(max(hw, 10.0), max(hw * 3.5, 25.0)))
            if u + 2 * hl > yard.half_length:
                break
            blocked = [g for g in yard.gaps if u < g[1] and u + 2 * hl > g[0]]
            if blocked:  # a track crosses the yard here: start again beyond it
                u = max(g[1] for g in blocked)
                continue
            slots.append(Slot(u + hl, v, hl, hw, int(rng.integers(1 << 30))))
            u += 2 * hl + rng.uniform(-0.03, 0.25) * hl
    order = rng.permutation(len(slots))
    return [slots[i] for i in order]


def slot_capacity(slot: Slot) -> float:
    return FOOTPRINT * 4 * slot.max_half_length * slot.half_width


def fill_yard(
    yard: Stockyard,
    slots: list[Slot],
    target_m2: float,
    material: str,
    gsd: float,
    rng: np.random.Generator,
    aoi: str | None = None,
) -> list[Heap]:
    """Heaps filling ``slots`` in order up to ``target_m2`` of footprint; some empty slots
    keep the dark stain of a reclaimed heap (drawn first, never labelled)."""
    heaps = []
    remaining = target_m2
    c, s = math.cos(yard.angle), math.sin(yard.angle)
    residues = []
    for slot in slots:
        if remaining < 150:
            if rng.random() < 0.5:  # the dark, flat footprint of a reclaimed heap
                residues.append(_residue(yard, slot, gsd, rng))
            continue
        area = min(slot_capacity(slot), remaining)
        hw = slot.half_width
        hl = area / (FOOTPRINT * 4 * hw)
        if hl < hw * 0.8:  # a small conical pile
            hw = math.sqrt(area / (FOOTPRINT * 4))
            hl = hw
        remaining -= area
        u = slot.u - slot.max_half_length + hl  # heaps grow from one end of their slot
        x = yard.center[0] + (u * c - slot.v * s) / gsd
        y = yard.center[1] + (u * s + slot.v * c) / gsd
        height = min(0.5 * hw, 15.0) * rng.uniform(0.8, 1.1)  # near the angle of repose
        heaps.append(
            Heap((x, y), yard.angle, hl, hw, height, material, slot.seed, aoi or yard.name)
        )
    return residues + heaps


def _residue(yard: Stockyard, slot: Slot, gsd: float, rng: np.random.Generator) -> Heap:
    """Coal dust left where a heap stood: a hard negative (dark, flat, unlabelled)."""
    c, s = math.cos(yard.angle), math.sin(yard.angle)
    hl = slot.max_half_length * rng.uniform(0.4, 1.0)
    u = slot.u - slot.max_half_length + hl
    x = yard.center[0] + (u * c - slot.v * s) / gsd
    y = yard.center[1] + (u * s + slot.v * c) / gsd
    return Heap(
        (x, y), yard.angle, hl, slot.half_width * 0.9, 0.3, "residue", int(rng.integers(1 << 30))
    )


def yard_capacity(slots: list[Slot]) -> float:
    return sum(slot_capacity(s) for s in slots)
