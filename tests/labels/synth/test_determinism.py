"""Same scenario and seed give the same bytes, rendered in one process or several; another
seed gives another scene."""

from __future__ import annotations

from coalwatch.labels.synth import render_scenario


def test_same_seed_same_bytes(tmp_path, shrink):
    scenario = shrink("coal_port", 384, cloud_probability=1.0)
    a = render_scenario(scenario, tmp_path / "a", seed=11, count=2)
    b = render_scenario(scenario, tmp_path / "b", seed=11, count=2, workers=2)
    c = render_scenario(scenario, tmp_path / "c", seed=12, count=1)
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes()
        assert pa.with_suffix(".geojson").read_bytes() == pb.with_suffix(".geojson").read_bytes()
    assert a[0].read_bytes() != a[1].read_bytes()
    assert a[0].read_bytes() != c[0].read_bytes()
