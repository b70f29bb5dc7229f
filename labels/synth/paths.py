"""Polylines in pixel coordinates (tracks, roads, shores): arc length, sampling, offsets,
and drawing as strokes of a given metric width."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from coalwatch.labels.synth.canvas import Canvas, color


@dataclass
class Polyline:
    """An ordered list of points in scene pixels (float), shape (N, 2) as (x, y)."""

    points: np.ndarray

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, np.float64)
        seg = np.diff(self.points, axis=0)
        self._cum = np.concatenate([[0.0], np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))])

    @property
    def length_px(self) -> float:
        return float(self._cum[-1])

    def at(self, s_px: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points and headings (radians) at arc lengths ``s_px`` along the line."""
        s = np.clip(np.asarray(s_px, np.float64), 0, self.length_px)
        x = np.interp(s, self._cum, self.points[:, 0])
        y = np.interp(s, self._cum, self.points[:, 1])
        i = np.clip(np.searchsorted(self._cum, s, side="right") - 1, 0, len(self.points) - 2)
        d = self.points[i + 1] - self.points[i]
        heading = np.arctan2(d[..., 1], d[..., 0])
        return np.stack([x, y], axis=-1), heading

    def offset(self, distance_px: float) -> Polyline:
        """A parallel line shifted ``distance_px`` to the right of the direction of travel."""
        p = self.points
        d = np.gradient(p, axis=0)
        n = np.stack([-d[:, 1], d[:, 0]], axis=1)
        n /= np.maximum(np.hypot(n[:, 0], n[:, 1])[:, None], 1e-9)
        return Polyline(p + n * distance_px)

    def resampled(self, step_px: float) -> Polyline:
        n = max(math.ceil(self.length_px / step_px) + 1, 2)
        pts, _ = self.at(np.linspace(0, self.length_px, n))
        return Polyline(pts)


def smooth_path(
    start: tuple[float, float], end: tuple[float, float], bend_px: float = 0.0, n: int = 64
) -> Polyline:
    """A gently curved line from ``start`` to ``end`` bowing ``bend_px`` sideways at mid-way."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    a, b = np.asarray(start, float), np.asarray(end, float)
    d = b - a
    normal = np.array([-d[1], d[0]]) / max(math.hypot(*d), 1e-9)
    pts = a + t * d + normal * (bend_px * 4 * t * (1 - t))
    return Polyline(pts)


def eased_link(
    a: tuple[float, float], b: tuple[float, float], heading: float, n: int = 24
) -> Polyline:
    """An S-curve from ``a`` to ``b`` that leaves and arrives along ``heading`` (a switch)."""
    t = np.linspace(0.0, 1.0, n)
    a_, b_ = np.asarray(a, float), np.asarray(b, float)
    along = np.array([math.cos(heading), math.sin(heading)])
    across = np.array([-along[1], along[0]])
    d = b_ - a_
    da, dc = d @ along, d @ across
    ease = t * t * (3 - 2 * t)
    pts = a_ + np.outer(t * da, along) + np.outer(ease * dc, across)
    return Polyline(pts)


def _subdivided(points: np.ndarray, max_len: float) -> np.ndarray:
    """The same polyline with no segment longer than ``max_len`` (keeps every vertex), so
    that each segment's window stays small."""
    out = [points[:1]]
    for a, b in itertools.pairwise(points):
        n = max(int(np.ceil(np.hypot(*(b - a)) / max_len)), 1)
        t = np.linspace(0, 1, n + 1)[1:, None]
        out.append(a + (b - a) * t)
    return np.concatenate(out)


def stroke(
    canvas: Canvas,
    line: Polyline,
    width_m: float,
    values: np.ndarray,
    soft_m: float = 0.0,
    texture: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> None:
    """Paint a band of ``width_m`` metres along ``line`` (exact distance to each segment).

    ``texture`` (H, W) multiplies the colour where given (e.g. asphalt grain); ``mask``
    (H, W) limits where the band may be painted (e.g. dry land only).
    """
    gsd = canvas.gsd
    half = width_m / 2.0 / gsd
    soft = max(soft_m / gsd, 1.0)
    pad = half + soft + 1
    pts = _subdivided(line.points, 48.0)
    x0 = max(int(pts[:, 0].min() - pad), 0)
    x1 = min(int(pts[:, 0].max() + pad) + 1, canvas.width)
    y0 = max(int(pts[:, 1].min() - pad), 0)
    y1 = min(int(pts[:, 1].max() + pad) + 1, canvas.height)
    if x1 <= x0 or y1 <= y0:
        return
    for a, b in itertools.pairwise(pts):
        sx0 = max(int(min(a[0], b[0]) - pad), x0)
        sx1 = min(int(max(a[0], b[0]) + pad) + 1, x1)
        sy0 = max(int(min(a[1], b[1]) - pad), y0)
        sy1 = min(int(max(a[1], b[1]) + pad) + 1, y1)
        if sx1 <= sx0 or sy1 <= sy0:
            continue
        xs = np.arange(sx0, sx1, dtype=np.float32)[None, :] + 0.5
        ys = np.arange(sy0, sy1, dtype=np.float32)[:, None] + 0.5
        d = b - a
        dd = float(d @ d) or 1e-9
        t = np.clip(((xs - a[0]) * d[0] + (ys - a[1]) * d[1]) / dd, 0.0, 1.0)
        dist = np.hypot(xs - (a[0] + t * d[0]), ys - (a[1] + t * d[1]))
        cover = np.clip((half - dist) / soft + 0.5, 0.0, 1.0).astype(np.float32)
        if mask is not None:
            cover *= mask[sy0:sy1, sx0:sx1]
        win = canvas.bands[:, sy0:sy1, sx0:sx1]
        vals = values[:, None, None]
        if texture is not None:
            vals = vals * texture[None, sy0:sy1, sx0:sx1]
        win += cover[None] * (vals - win)


def grey(level: float, nir_ratio: float = 1.0) -> np.ndarray:
    """A neutral grey material."""
    return color(level, level, level, level * nir_ratio)
