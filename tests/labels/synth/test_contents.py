"""Trains stand clear of each other: no car is drawn over another train's car."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from coalwatch.labels.synth import load_scenario
from coalwatch.labels.synth.contents import CLEARANCE_M, usable_span
from coalwatch.labels.synth.paths import Polyline, eased_link
from coalwatch.labels.synth.rail import CAR_SIZES, Track
from coalwatch.labels.synth.random_contents import RANDOM_CONTENTS
from coalwatch.labels.synth.render import build_site

KIND = {"rail_crossing": "rail_crossing", "coal_port": "port", "mine": "mine"}


def test_usable_span_stops_short_of_a_converging_track():
    main = Track("main", Polyline([(0, 50), (400, 50)]).resampled(2), "main")
    link = eased_link((0, 50), (100, 70), 0.0)
    siding = Track(
        "siding", Polyline(np.concatenate([link.points, [(400, 70)]])).resampled(2), "yard"
    )
    alone = usable_span(siding, 400, 200, margin_px=1)
    clear = usable_span(siding, 400, 200, margin_px=1, others=[main, siding], clearance_px=12)
    assert alone[0] < 5
    start, _ = siding.line.at(clear[0])
    assert abs(start[1] - 50) >= 12 - 2  # first usable point is 12 px from the main line
    assert clear[1] == pytest.approx(alone[1])


@pytest.mark.parametrize("name", ["rail_crossing", "coal_port", "mine"])
def test_cars_of_different_trains_never_overlap(name):
    scenario = load_scenario(name)
    widest_car_m = max(width for _, width, _ in CAR_SIZES.values())
    assert widest_car_m < CLEARANCE_M
    for seed in range(4):
        rng = np.random.default_rng([seed, 0])
        site = build_site(scenario, int(rng.integers(1 << 62)), scenario.gsd_m)
        trains = RANDOM_CONTENTS[KIND[scenario.site]](site, rng).trains
        centres = [t.track.line.at(t.car_midpoints_px(site.gsd))[0] for t in trains]
        for a, b in itertools.combinations(centres, 2):
            gap_px = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1).min()
            assert gap_px * site.gsd >= widest_car_m, (name, seed)
