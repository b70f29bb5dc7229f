"""Render one acquisition of a site: ground, contents, atmosphere and sensor, and the
labels of what can be seen (clipped to the scene, flagged when under cloud)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from coalwatch.labels.schema import ObjectLabel
from coalwatch.labels.synth.canvas import Canvas
from coalwatch.labels.synth.heaps import draw_heap
from coalwatch.labels.synth.layout import Contents, Site, aoi_of
from coalwatch.labels.synth.rail import draw_train
from coalwatch.labels.synth.sensor import (
    apply_clouds,
    apply_haze,
    cloud_cover,
    cloud_offset,
    finish,
    footprint,
    random_atmosphere,
)
from coalwatch.labels.synth.ships import draw_ship
from coalwatch.labels.synth.sky import greenness, sun_for
from coalwatch.labels.synth.terrain import paint_land, paint_water

OCCLUDED_OPACITY = 0.5  # mean cloud opacity over a box above which the object is hidden
MIN_VISIBLE = 0.5  # objects with less of their box inside the valid scene are dropped


@dataclass
class RenderedScene:
    """Pixels as written, labels and facts of one acquisition."""

    data: np.ndarray
    objects: list[ObjectLabel]
    cloud_fraction: float
    sun: tuple[float, float]
    heap_area_m2: dict[str, float] = field(default_factory=dict)
    spoil_area_m2: float = 0.0


def _visible(obj: ObjectLabel, valid: np.ndarray, opacity: np.ndarray) -> ObjectLabel | None:
    h, w = valid.shape
    x0, y0, x1, y1 = obj.box
    area = max((x1 - x0) * (y1 - y0), 1e-9)
    cx0, cy0, cx1, cy1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(w)), min(y1, float(h))
    if cx1 - cx0 <= 0 or cy1 - cy0 <= 0:
        return None
    inside = (cx1 - cx0) * (cy1 - cy0) / area
    ix0, iy0 = int(cx0), int(cy0)
    ix1, iy1 = max(int(np.ceil(cx1)), ix0 + 1), max(int(np.ceil(cy1)), iy0 + 1)
    valid_frac = float(valid[iy0:iy1, ix0:ix1].mean()) * inside
    if valid_frac < MIN_VISIBLE:
        return None
    attrs = dict(obj.attributes)
    attrs["occluded"] = bool(opacity[iy0:iy1, ix0:ix1].mean() > OCCLUDED_OPACITY)
    if valid_frac < 0.999:
        attrs["truncated"] = True
    return ObjectLabel(obj.cls, (cx0, cy0, cx1, cy1), attrs)


def _in_aoi(site: Site, obj: ObjectLabel) -> ObjectLabel:
    """Set the ``aoi`` attribute from where the object's centre lies (none: no attribute)."""
    attrs = dict(obj.attributes)
    attrs.pop("aoi", None)
    name = aoi_of(site, (obj.box[0] + obj.box[2]) / 2, (obj.box[1] + obj.box[3]) / 2)
    if name:
        attrs["aoi"] = name
    return ObjectLabel(obj.cls, obj.box, attrs)


def render_scene(
    site: Site,
    contents: Contents,
    when: dt.datetime,
    lat: float,
    ground_seed: int,
    rng: np.random.Generator,
    cloud_target: float,
    cut_footprint: bool,
    product: str = "visual",
) -> RenderedScene:
    """Draw the site and its contents on ``when`` and pass it through air and sensor.

    ``ground_seed`` fixes the textures of the ground (the same for every date of a series);
    ``rng`` drives everything that changes per acquisition.
    """
    canvas = Canvas.blank(site.width, site.height, site.gsd)
    sun = sun_for(when, lat, rng)
    ground = np.random.default_rng(ground_seed)
    paint_land(canvas, ground, greenness(when), sun)
    paint_water(canvas, site.water, ground, float(rng.uniform(0, 1)))
    site.painter(canvas, ground, sun)
    raw: list[ObjectLabel] = []
    heap_area: dict[str, float] = {}
    spoil = 0.0
    for heap in contents.heaps:
        label, area = draw_heap(canvas, heap, sun)
        if label is not None:
            raw.append(label)
            key = heap.aoi or "other"
            heap_area[key] = heap_area.get(key, 0.0) + area
        elif heap.material == "spoil":
            spoil += area
    for train in contents.trains:
        raw.extend(draw_train(canvas, train, sun))
    for ship in contents.ships:
        raw.append(draw_ship(canvas, ship, sun))
    atm = random_atmosphere(rng, cloud_target, cut_footprint)
    apply_haze(canvas, atm, rng)
    shape = (site.height, site.width)
    offset = cloud_offset(sun, atm, site.gsd, shape)
    opacity, shadow = cloud_cover(rng, shape, site.gsd, cloud_target, offset)
    apply_clouds(canvas, opacity, shadow, rng)
    valid = footprint(rng, site.width, site.height, cut_footprint)
    data = finish(canvas, valid, rng, product)
    objects = [o for o in (_visible(obj, valid, opacity) for obj in raw) if o is not None]
    objects = [_in_aoi(site, o) for o in objects]
    cloud_fraction = float((opacity[valid] > 0.5).mean()) if valid.any() else 0.0
    return RenderedScene(
        data, objects, round(cloud_fraction, 4), (sun.azimuth, sun.elevation), heap_area, spoil
    )
