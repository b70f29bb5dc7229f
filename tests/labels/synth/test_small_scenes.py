"""Small scenes clip heaps to slivers at the edge; they must still render."""

from __future__ import annotations

import dataclasses

import rasterio

from coalwatch.labels.synth import render_scenario
from coalwatch.labels.synth.config import load_scenario


def test_small_coal_port_with_edge_sliver_heaps_renders(tmp_path) -> None:
    # seed 1 at 320 px clips a heap to a one-pixel sliver (np.gradient used to fail there)
    scenario = dataclasses.replace(load_scenario("coal_port"), size_px=(320, 320))
    paths = render_scenario(scenario, tmp_path, seed=1, count=3)
    assert len(paths) == 3
    for path in paths:
        with rasterio.open(path) as src:
            assert (src.width, src.height) == (320, 320)
