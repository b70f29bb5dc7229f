"""Scenario YAML: shipped scenarios load; bad files fail with one clear message."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from coalwatch.errors import InputError
from coalwatch.labels.synth import load_scenario
from coalwatch.labels.synth.noise import upsample
from coalwatch.resources import shipped_config


@pytest.mark.parametrize("name", ["rail_crossing", "coal_port", "mine", "port_series"])
def test_shipped_scenarios_load(name):
    scenario = load_scenario(name)
    assert scenario.name == name and 0.3 <= scenario.gsd_m <= 3.0
    assert scenario.place.epsg in (32651, 32652)


def test_series_script_mirrors_domain():
    days = load_scenario("port_series").series
    assert all(30 <= d.ore_car <= 50 for d in days[:3])
    assert all(d.ore_car <= 12 for d in days[3:])
    assert any(d.cloud > 0 for d in days)
    jump = {d.date.strftime("%m-%d"): d.heaps["pier_3"] for d in days}
    assert jump["06-22"] > 2 * jump["06-20"]


def _write(tmp_path, **changes):
    raw = yaml.safe_load(shipped_config("synth/port_series.yaml").read_text())
    raw.update(changes)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"colour": "blue"}, "unknown keys"),
        ({"gsd_m": 10}, "gsd_m"),
        ({"place": {"lon": 1}}, "place"),
        ({"params": {"no_such_knob": 1}}, None),  # checked when the site is built
        ({"series": [{"date": "2017-02-10"}, {"date": "2017-02-08"}]}, "in order"),
        ({"series": [{"date": "2017-02-10", "ore_car": -1}]}, "ore_car"),
        ({"series": [{"date": "2017-02-10", "trucks": 3}]}, "unknown keys"),
    ],
)
def test_bad_scenarios_are_rejected(tmp_path, changes, words):
    path = _write(tmp_path, **changes)
    if words is None:
        from coalwatch.labels.synth import render_series

        with pytest.raises(InputError, match="no_such_knob"):
            render_series(path, tmp_path / "out")
        return
    with pytest.raises(InputError, match=words) as info:
        load_scenario(path)
    assert str(path) in str(info.value)


def test_upsample_is_bilinear():
    small = np.random.default_rng(0).standard_normal((20, 30)).astype(np.float32)
    big = upsample(small, 4, (80, 120))
    rows, cols = (np.arange(80) + 0.5) / 4 - 0.5, (np.arange(120) + 0.5) / 4 - 0.5
    across = np.array([np.interp(cols, np.arange(30), r) for r in small])  # (20, 120)
    expected = np.array([np.interp(rows, np.arange(20), c) for c in across.T]).T
    assert np.allclose(big, expected, atol=1e-5)
