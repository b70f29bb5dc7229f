"""Vessels: bulk carriers (tapered bow, hatch-cover row, stern superstructure, deck cranes,
shadow) and other vessels (tugs, barges, small boats), in any heading."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from coalwatch.labels.schema import ObjectLabel
from coalwatch.labels.synth.canvas import (
    Canvas,
    Sprite,
    cast_shadow,
    color,
    edge,
    object_grid,
    rotated_bounds,
    sd_box,
    supersampling,
    swept_cover,
)
from coalwatch.labels.synth.sky import Sun

DECKS = [(104, 56, 46), (78, 96, 78), (112, 108, 100), (92, 62, 52), (70, 80, 96)]
HATCHES = [(132, 60, 48), (96, 116, 96), (150, 146, 138), (70, 96, 128), (160, 120, 60)]


@dataclass
class Ship:
    """A vessel to draw: kind (bulk, tug, barge, boat), pose (pixels, radians), size (m)."""

    kind: str
    center: tuple[float, float]
    angle: float
    length: float
    beam: float
    seed: int
    berth: str | None = None
    loaded_cargo: bool = False
    underway: bool = False

    @property
    def cls(self) -> str:
        return "bulk_carrier" if self.kind == "bulk" else "other_vessel"


def random_ship(rng: np.random.Generator, kind: str, center, angle: float, berth=None) -> Ship:
    """A ship of ``kind`` with a size drawn from its class's range."""
    if kind == "bulk":
        length = float(rng.uniform(130, 230))
        beam = float(np.clip(length * rng.uniform(0.135, 0.16), 23, 32.3))
    elif kind == "tanker":
        length = float(rng.uniform(100, 185))
        beam = float(np.clip(length * rng.uniform(0.15, 0.18), 16, 32))
    elif kind == "tug":
        length, beam = float(rng.uniform(24, 34)), float(rng.uniform(8.5, 11))
    elif kind == "barge":
        length, beam = float(rng.uniform(50, 90)), float(rng.uniform(12, 20))
    else:
        length = float(rng.uniform(8, 20))
        beam = length * float(rng.uniform(0.25, 0.33))
    underway = kind in ("boat", "tug") and berth is None and rng.random() < 0.5
    return Ship(
        kind,
        center,
        angle,
        length,
        beam,
        int(rng.integers(1 << 30)),
        berth,
        bool(rng.random() < 0.5),
        underway,
    )


def _wake(canvas: Canvas, ship: Ship, rng: np.random.Generator) -> None:
    """Foam behind a vessel under way: a turbulent centre trail and two Kelvin arms."""
    hl, hw = ship.length / 2, ship.beam / 2
    length = ship.length * rng.uniform(2.5, 6.0)
    grid = object_grid(canvas, ship.center, ship.angle, hl + length, hw + length * 0.4, 1)
    if grid is None:
        return
    u, v = grid.u, grid.v
    d = -(u + hl * 0.8)
    behind = (d > 0).astype(np.float32)
    arms = np.exp(-(((np.abs(v) - d * 0.36) / (0.8 + 0.04 * d)) ** 2))
    trail = np.exp(-((v / (hw * 0.7 + 0.06 * np.maximum(d, 0))) ** 2))
    fade = np.exp(-np.maximum(d, 0) / (length * 0.35))
    foam = np.clip(0.7 * trail + 0.22 * arms, 0, 1) * fade * behind
    sprite = Sprite(grid)
    sprite.fill((0.6 * foam).astype(np.float32), color(150, 165, 165, 60))
    sprite.commit(canvas)


def _hull_halfwidth(u: np.ndarray, hl: float, hw: float, bow: float, stern: float):
    """Half-width of a hull at positions ``u`` (bow towards +u)."""
    w = np.full_like(u, hw)
    fwd = u > hl - bow
    t = np.clip((u - (hl - bow)) / bow, 0, 1)
    w = np.where(fwd, hw * np.sqrt(np.clip(1 - t**2.2, 0, 1)), w)
    aft = u < -hl + stern
    t2 = np.clip((-hl + stern - u) / stern, 0, 1)
    w = np.where(aft, hw * np.sqrt(np.clip(1 - t2**4, 0, 1)) * (1 - 0.1 * t2), w)
    return w


def _hull_sd(u, v, hl, hw, bow, stern):
    return np.maximum(np.abs(v) - _hull_halfwidth(u, hl, hw, bow, stern), np.abs(u) - hl)


def _outline(hl: float, hw: float, bow: float, stern: float) -> np.ndarray:
    us = np.linspace(-hl, hl, 41, dtype=np.float32)
    ws = _hull_halfwidth(us, hl, hw, bow, stern)
    return np.concatenate([np.stack([us, ws], 1), np.stack([us, -ws], 1)])


def _shadow(canvas: Canvas, ship: Ship, sun: Sun, parts, strength: float) -> None:
    """Shadows on the water: ``parts`` are (height m, sd function) pairs."""
    gsd = canvas.gsd
    hl, hw = ship.length / 2, ship.beam / 2
    longest = max(math.hypot(*sun.shadow_px(h, gsd)) * gsd for h, _ in parts)
    grid = object_grid(canvas, ship.center, ship.angle, hl + longest + 2, hw + longest + 2, 1)
    if grid is None:
        return
    c, s = math.cos(ship.angle), math.sin(ship.angle)
    cover = np.zeros(grid.shape, np.float32)
    for height, sdf in parts:
        dx, dy = sun.shadow_px(height, gsd)
        su, sv = (dx * c + dy * s) * gsd, (-dx * s + dy * c) * gsd
        np.maximum(cover, swept_cover(sdf, grid, su, sv, 1.0), out=cover)
    cast_shadow(canvas, grid, cover, strength)


def _bulk(canvas: Canvas, ship: Ship, sun: Sun, rng: np.random.Generator) -> np.ndarray:
    hl, hw = ship.length / 2, ship.beam / 2
    bow, stern = ship.length * rng.uniform(0.1, 0.14), ship.length * 0.04
    house_len, house_u = ship.length * 0.075, -hl + ship.length * 0.1
    freeboard = 6.0 if ship.loaded_cargo else 13.0

    def hull(u, v):
        return _hull_sd(u, v, hl, hw, bow, stern)

    def house(u, v):
        return sd_box(u, v, house_u, 0, house_len / 2, hw * 0.8)

    _shadow(canvas, ship, sun, [(freeboard, hull), (freeboard + 22.0, house)], 0.5)
    grid = object_grid(canvas, ship.center, ship.angle, hl + 1, hw + 1, supersampling(canvas.gsd))
    if grid is None:
        return _outline(hl, hw, bow, stern)
    u, v = grid.u, grid.v
    sp = Sprite(grid)
    deck = np.array(DECKS[rng.integers(len(DECKS))], np.float32) * rng.uniform(0.9, 1.1)
    body = edge(hull(u, v), grid)
    sp.fill(body, color(*deck, deck.mean() * 0.9))
    rim = body * edge(-(hull(u, v) + 0.7), grid)
    sp.fill(body - rim, color(*(deck * 0.72)))
    # forecastle and hatch row
    sp.fill(edge(-(u - (hl - bow * 0.9)), grid) * rim, color(*(deck * 1.15)))
    n_hatch = 5 if ship.length < 160 else (7 if ship.length < 200 else 9)
    first, last = house_u + house_len / 2 + 6, hl - bow * 0.9 - 3
    pitch = (last - first) / n_hatch
    hatch = np.array(HATCHES[rng.integers(len(HATCHES))], np.float32) * rng.uniform(0.9, 1.1)
    open_hatches = rng.random(n_hatch) < (0.35 if ship.berth else 0.0)
    light = sun.light_vector()
    across_light = light[0] * -math.sin(ship.angle) + light[1] * math.cos(ship.angle)
    geared = ship.length < 200 and rng.random() < 0.6
    for k in range(n_hatch):
        cu = first + pitch * (k + 0.5)
        hatch_sd = sd_box(u, v, cu, 0, pitch * 0.36, hw * 0.62)
        cover = edge(hatch_sd, grid)
        sp.fill(cover, color(*(hatch * 0.8)))
        top = edge(hatch_sd + 0.5, grid)
        ridge = 1 + 0.18 * np.sign(v) * np.sign(across_light + 1e-6)
        if open_hatches[k]:
            sp.fill(
                top,
                color(38, 37, 36, 30)[:, None, None]
                * (1 + 0.1 * rng.standard_normal(u.shape))[None],
            )
        else:
            panels = 1 - 0.07 * (np.abs(((u - cu) % 2.2) - 1.1) < 0.12)  # transverse seams
            sp.fill(top, color(*hatch)[:, None, None] * (ridge * panels)[None])
            seam = edge(np.abs(v) - 0.15, grid) * top
            sp.fill(seam, color(*(hatch * 0.6)))
        if geared and k < n_hatch - 1:  # deck crane: pedestal and a jib stowed fore or aft
            pu = cu + pitch / 2
            post = edge(np.hypot(u - pu, v - hw * 0.1) - 1.4, grid)
            jib_dir = 1 if k % 2 == 0 else -1
            jib = edge(sd_box(u, v, pu + jib_dir * 11, hw * 0.1, 11, 0.5), grid)
            sp.fill(jib, color(205, 195, 170))
            sp.fill(post, color(200, 190, 170))
    # accommodation block, funnel and bridge wings at the stern
    sp.fill(
        edge(sd_box(u, v, house_u + house_len * 0.35, 0, 1.0, hw - 0.3), grid), color(205, 205, 198)
    )
    sp.fill(edge(house(u, v), grid), color(222, 220, 214, 200))
    sp.fill(
        edge(sd_box(u, v, house_u - house_len * 0.1, 0, house_len * 0.3, hw * 0.6), grid),
        color(236, 234, 228),
    )
    sp.fill(edge(sd_box(u, v, house_u - house_len * 0.55, 0, 1.8, 1.6), grid), color(60, 60, 62))
    sp.commit(canvas)
    return _outline(hl, hw, bow, stern)


def _tanker(canvas: Canvas, ship: Ship, sun: Sun, rng: np.random.Generator) -> np.ndarray:
    """A product tanker (other_vessel): a bulk carrier's silhouette without hatch covers,
    a flat deck with a catwalk and pipework along the centre, a manifold amidships."""
    hl, hw = ship.length / 2, ship.beam / 2
    bow, stern = ship.length * rng.uniform(0.1, 0.14), ship.length * 0.04
    house_len, house_u = ship.length * 0.08, -hl + ship.length * 0.1

    def hull(u, v):
        return _hull_sd(u, v, hl, hw, bow, stern)

    def house(u, v):
        return sd_box(u, v, house_u, 0, house_len / 2, hw * 0.8)

    _shadow(canvas, ship, sun, [(8.0, hull), (30.0, house)], 0.5)
    grid = object_grid(canvas, ship.center, ship.angle, hl + 1, hw + 1, supersampling(canvas.gsd))
    if grid is None:
        return _outline(hl, hw, bow, stern)
    u, v = grid.u, grid.v
    sp = Sprite(grid)
    deck = np.array([(110, 120, 103), (120, 70, 58), (96, 110, 96)][rng.integers(3)], np.float32)
    body = edge(hull(u, v), grid)
    sp.fill(body, color(*deck) * np.float32(rng.uniform(0.9, 1.1)))
    rim = body * edge(-(hull(u, v) + 0.7), grid)
    sp.fill(body - rim, color(*(deck * 0.7)))
    deck_span = (u > house_u + house_len / 2) & (u < hl - bow * 0.8)
    pipes = edge(np.abs(v) - 1.6, grid) * deck_span
    sp.fill(pipes, color(170, 168, 160))
    catwalk = edge(np.abs(v) - 0.5, grid) * deck_span
    sp.fill(catwalk, color(205, 200, 190))
    manifold = edge(sd_box(u, v, house_u / 4, 0, 2.5, hw * 0.75), grid)
    sp.fill(manifold, color(180, 176, 166))
    sp.fill(edge(house(u, v), grid), color(224, 222, 216, 200))
    sp.fill(edge(sd_box(u, v, house_u - house_len * 0.55, 0, 1.8, 1.6), grid), color(60, 60, 62))
    sp.commit(canvas)
    return _outline(hl, hw, bow, stern)


def _small(canvas: Canvas, ship: Ship, sun: Sun, rng: np.random.Generator) -> np.ndarray:
    hl, hw = ship.length / 2, ship.beam / 2
    if ship.kind == "barge":
        bow, stern = 2.0, 2.0
    elif ship.kind == "tug":
        bow, stern = ship.length * 0.35, ship.length * 0.2
    else:
        bow, stern = ship.length * 0.4, ship.length * 0.08

    def hull(u, v):
        return _hull_sd(u, v, hl, hw, bow, stern)

    height = {"barge": 2.5, "tug": 7.0}.get(ship.kind, 2.0)
    if ship.underway:
        _wake(canvas, ship, rng)
    _shadow(canvas, ship, sun, [(height, hull)], 0.45)
    grid = object_grid(canvas, ship.center, ship.angle, hl + 1, hw + 1, supersampling(canvas.gsd))
    if grid is None:
        return _outline(hl, hw, bow, stern)
    u, v = grid.u, grid.v
    sp = Sprite(grid)
    body = edge(hull(u, v), grid)
    if ship.kind == "barge":
        sp.fill(body, color(92, 70, 58))
        hold = edge(sd_box(u, v, 0, 0, hl - 2.5, hw - 1.2), grid)
        cargo = color(50, 49, 46, 40) if ship.loaded_cargo else color(70, 56, 48)
        sp.fill(hold, cargo[:, None, None] * (1 + 0.1 * rng.standard_normal(u.shape))[None])
    elif ship.kind == "tug":
        sp.fill(body, color(40, 40, 42))
        sp.fill(edge(hull(u, v) + 0.8, grid), color(150, 56, 44))
        sp.fill(edge(sd_box(u, v, hl * 0.15, 0, hl * 0.3, hw * 0.55), grid), color(228, 226, 220))
    else:
        deck = [color(225, 225, 222), color(80, 110, 150), color(180, 70, 60)][rng.integers(3)]
        sp.fill(body, deck)
        sp.fill(edge(sd_box(u, v, -hl * 0.2, 0, hl * 0.25, hw * 0.5), grid), color(200, 200, 196))
    sp.commit(canvas)
    return _outline(hl, hw, bow, stern)


def draw_ship(canvas: Canvas, ship: Ship, sun: Sun) -> ObjectLabel:
    """Draw a vessel and return its label (box = bounds of the rotated hull)."""
    rng = np.random.default_rng(ship.seed)
    painter = {"bulk": _bulk, "tanker": _tanker}.get(ship.kind, _small)
    outline = painter(canvas, ship, sun, rng)
    box = rotated_bounds(ship.center, ship.angle, outline, canvas.gsd)
    heading = (90.0 + math.degrees(ship.angle)) % 360.0
    attrs: dict = {
        "kind": ship.kind,
        "heading_deg": round(heading, 1),
        "length_m": round(ship.length, 1),
        "beam_m": round(ship.beam, 1),
    }
    if ship.underway:
        attrs["underway"] = True
    if ship.berth:
        attrs["berth"] = ship.berth
        attrs["aoi"] = ship.berth
    return ObjectLabel(ship.cls, box, attrs)
