"""What a site is made of, independent of the day: the site frame, water, tracks, berths,
stockyards and named areas of interest, and the painter of its static ground."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from coalwatch.labels.synth.canvas import Canvas
from coalwatch.labels.synth.heaps import Heap
from coalwatch.labels.synth.rail import Track, Train
from coalwatch.labels.synth.ships import Ship
from coalwatch.labels.synth.sky import Sun


@dataclass(frozen=True)
class Frame:
    """A site frame: metres (u along the site's main axis, v across) to scene pixels."""

    origin: tuple[float, float]
    angle: float
    gsd: float

    def px(self, u: float, v: float) -> tuple[float, float]:
        c, s = math.cos(self.angle), math.sin(self.angle)
        return (
            self.origin[0] + (u * c - v * s) / self.gsd,
            self.origin[1] + (u * s + v * c) / self.gsd,
        )

    def grids(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Site coordinates (u, v) in metres of every pixel centre."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        xs = (np.arange(width, dtype=np.float32) + 0.5 - self.origin[0]) * self.gsd
        ys = (np.arange(height, dtype=np.float32) + 0.5 - self.origin[1]) * self.gsd
        u = xs[None, :] * c + ys[:, None] * s
        v = ys[:, None] * c - xs[None, :] * s
        return u, v

    def rect(self, u0: float, v0: float, u1: float, v1: float) -> list[tuple[float, float]]:
        """A site-frame rectangle as a pixel polygon (for AOIs)."""
        return [self.px(u0, v0), self.px(u1, v0), self.px(u1, v1), self.px(u0, v1)]


@dataclass
class Berth:
    """A ship's place alongside a quay: where the quay edge is, the way along it, and the
    unit normal pointing to the water (all in pixels)."""

    name: str
    quay_point: tuple[float, float]
    angle: float
    normal: tuple[float, float]
    length_m: float

    def ship_center(self, beam_m: float, gsd: float, shift_m: float = 0.0):
        off = (beam_m / 2 + 2.0) / gsd
        c, s = math.cos(self.angle), math.sin(self.angle)
        return (
            self.quay_point[0] + self.normal[0] * off + c * shift_m / gsd,
            self.quay_point[1] + self.normal[1] * off + s * shift_m / gsd,
        )


@dataclass
class Stockyard:
    """A rectangle where heaps stand in rows (windrows), named for its AOI."""

    name: str
    center: tuple[float, float]
    angle: float
    half_length: float
    half_width: float
    rows: int = 2
    gaps: tuple[tuple[float, float], ...] = ()  # (u0, u1) metres kept clear (tracks across)


@dataclass
class Contents:
    """What stands on the site on one day."""

    trains: list[Train] = field(default_factory=list)
    ships: list[Ship] = field(default_factory=list)
    heaps: list[Heap] = field(default_factory=list)


Painter = Callable[[Canvas, np.random.Generator, Sun], None]


@dataclass
class Site:
    """A fixed site layout: everything that does not change between dates."""

    kind: str
    width: int
    height: int
    gsd: float
    water: np.ndarray
    painter: Painter
    tracks: list[Track] = field(default_factory=list)
    berths: list[Berth] = field(default_factory=list)
    anchorage: list[tuple[float, float]] = field(default_factory=list)
    stockyards: list[Stockyard] = field(default_factory=list)
    aois: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    def on_water(self, x: float, y: float) -> bool:
        xi, yi = int(x), int(y)
        if not (0 <= xi < self.width and 0 <= yi < self.height):
            return False
        return bool(self.water[yi, xi] > 0.5)

    def sidings(self) -> list[Track]:
        return [t for t in self.tracks if t.role in ("siding", "yard")]


def point_in_polygon(x: float, y: float, polygon: list[tuple[float, float]]) -> bool:
    """Even-odd rule test of a point against a closed or open ring of (x, y) vertices."""
    inside = False
    n = len(polygon)
    for i in range(n):
        (x0, y0), (x1, y1) = polygon[i], polygon[(i + 1) % n]
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def aoi_of(site: Site, x: float, y: float) -> str | None:
    """The name of the first AOI (sorted by name) that contains the pixel point."""
    for name in sorted(site.aois):
        if point_in_polygon(x, y, site.aois[name]):
            return name
    return None


def water_points(site: Site, rng: np.random.Generator, n: int, margin_px: float) -> list:
    """Up to ``n`` random points on open water at least ``margin_px`` from land."""
    from scipy import ndimage

    step = 4
    small = site.water[::step, ::step] > 0.5
    depth = ndimage.distance_transform_edt(small) * step
    ys, xs = np.nonzero(depth > margin_px)
    if xs.size == 0:
        return []
    pick = rng.choice(xs.size, size=min(n * 4, xs.size), replace=False)
    chosen: list[tuple[float, float]] = []
    for i in pick:
        p = (float(xs[i] * step), float(ys[i] * step))
        if all(math.dist(p, q) > 2 * margin_px for q in chosen):
            chosen.append(p)
        if len(chosen) == n:
            break
    return chosen
