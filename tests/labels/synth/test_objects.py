"""Ground truth sits on what is drawn, at the size the GSD implies."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from coalwatch.labels.synth.layout import Contents
from coalwatch.labels.synth.rail import CAR_SIZES
from coalwatch.labels.synth.random_contents import RANDOM_CONTENTS
from coalwatch.labels.synth.render import build_site
from coalwatch.labels.synth.scene import render_scene

KIND = {"rail_crossing": "rail_crossing", "coal_port": "port", "mine": "mine"}


def _footprint_px(obj, gsd: float) -> float:
    """The object's own area in pixels, from its attributes."""
    a = obj.attributes
    if obj.cls == "coal_heap":
        return a["area_m2"] / gsd**2
    if obj.cls in ("ore_car", "other_railcar"):
        return a["length_m"] * CAR_SIZES[a.get("kind", "ore")][1] / gsd**2
    return 0.8 * a["length_m"] * a["beam_m"] / gsd**2


def with_and_without(scenario, seed: int):
    """The same acquisition rendered with its contents and without its labelled ones."""
    rng = np.random.default_rng([seed, 0])
    site = build_site(scenario, int(rng.integers(1 << 62)), scenario.gsd_m)
    contents = RANDOM_CONTENTS[KIND[scenario.site]](site, rng)
    when = dt.datetime(2017, 6, 1, 10, 30)
    args = (when, scenario.place.lat, 5)
    full = render_scene(site, contents, *args, np.random.default_rng(9), 0.0, False)
    unlabelled = Contents(heaps=[h for h in contents.heaps if not h.labelled])  # spoil dumps
    empty = render_scene(site, unlabelled, *args, np.random.default_rng(9), 0.0, False)
    return full, empty


@pytest.mark.parametrize(
    ("name", "size"), [("rail_crossing", 1024), ("coal_port", 768), ("mine", 640)]
)
def test_boxes_sit_on_drawn_objects(shrink, name, size):
    scenario = shrink(name, size)
    full, empty = with_and_without(scenario, seed=4)
    diff = np.abs(full.data.astype(np.int16) - empty.data.astype(np.int16)).sum(axis=0) > 12
    assert full.objects
    covered = np.zeros_like(diff)
    for obj in full.objects:
        x0, y0, x1, y1 = (round(v) for v in obj.box)
        inside = diff[y0:y1, x0:x1]
        # the object fills its box as much as a rotated shape can fill its bounds
        footprint = _footprint_px(obj, scenario.gsd_m)
        expected = min(1.0, footprint / max(inside.size, 1))
        assert inside.mean() > 0.5 * expected, (obj.cls, obj.box, inside.mean(), expected)
        pad = 40  # shadows; a vessel under way also leaves a wake of a few lengths
        if obj.attributes.get("underway"):
            pad = int(7 * obj.attributes["length_m"] / scenario.gsd_m)
        covered[max(y0 - pad, 0) : y1 + pad, max(x0 - pad, 0) : x1 + pad] = True
    # and nothing is drawn far from every box (shadows and wakes stay near their object)
    assert diff[~covered].mean() < 0.002


def test_box_statistics_differ_from_surroundings(shrink):
    full, _ = with_and_without(shrink("coal_port", 768), seed=4)
    grey = full.data.astype(np.float32).mean(axis=0)
    darker = []
    for obj in full.objects:
        x0, y0, x1, y1 = (round(v) for v in obj.box)
        pad = 6
        ring = grey[max(y0 - pad, 0) : y1 + pad, max(x0 - pad, 0) : x1 + pad].copy()
        inner = grey[y0:y1, x0:x1]
        ring_mean = (ring.sum() - inner.sum()) / max(ring.size - inner.size, 1)
        if obj.cls == "coal_heap":
            darker.append(inner.mean() < ring_mean)
        if obj.cls == "bulk_carrier":  # hull, hatches and house are brighter than water
            assert inner.mean() > ring_mean + 5
    assert darker and np.mean(darker) > 0.8


def _expected_extent(length_m, width_m, heading_deg, gsd):
    a = math.radians(heading_deg - 90.0)
    c, s = abs(math.cos(a)), abs(math.sin(a))
    return (length_m * c + width_m * s) / gsd, (length_m * s + width_m * c) / gsd


@pytest.mark.parametrize("gsd", [0.5, 1.0, 3.0])
def test_object_sizes_follow_gsd(shrink, tmp_path, gsd):
    from coalwatch.labels.schema import SceneGrid, read_scene_labels
    from coalwatch.labels.synth import render_scenario

    scenario = shrink("coal_port", 512, cloud_probability=0.0, nodata_probability=0.0)
    objects = []
    for tif in render_scenario(scenario, tmp_path, seed=2, count=2, gsd=gsd):
        grid = SceneGrid.from_raster(tif)
        objects += read_scene_labels(tif.with_suffix(".geojson"), grid).objects
    checked = 0
    for obj in objects:
        if obj.attributes.get("truncated") or "heading_deg" not in obj.attributes:
            continue
        length = obj.attributes["length_m"]
        if obj.cls in ("ore_car", "other_railcar"):
            width = CAR_SIZES[obj.attributes.get("kind", "ore")][1]
            assert 11.0 <= length <= 25.0
            ew, eh = _expected_extent(length, width, obj.attributes["heading_deg"], gsd)
            assert obj.width == pytest.approx(ew, abs=1.0) and obj.height == pytest.approx(
                eh, abs=1.0
            )
            checked += 1
        else:  # vessels
            beam = obj.attributes["beam_m"]
            if obj.cls == "bulk_carrier":
                assert 130 <= length <= 230 and 23 <= beam <= 32.3
            else:
                assert 8 <= length <= 90
            ew, eh = _expected_extent(length, beam, obj.attributes["heading_deg"], gsd)
            # a tapered bow and rounded stern make the box at most the hull rectangle's bounds
            lo = 0.8 if obj.cls == "bulk_carrier" else 0.6
            assert lo * ew - 1 <= obj.width <= ew + 1 and lo * eh - 1 <= obj.height <= eh + 1
            checked += 1
    assert checked >= 3
