"""Occluded flags match the clouds drawn; the scene's cloud fraction is recorded."""

from __future__ import annotations

import numpy as np
import rasterio

from coalwatch.labels.schema import SceneGrid, read_scene_labels
from coalwatch.labels.synth import render_scenario


def test_occluded_flags_match_cloud_cover(shrink, tmp_path):
    scenario = shrink(
        "coal_port", 768, cloud_probability=1.0, cloud_fraction=(0.45, 0.55), nodata_probability=0.0
    )
    (tif,) = render_scenario(scenario, tmp_path, seed=5)
    with rasterio.open(tif) as src:
        grey = src.read().astype(np.float32).mean(axis=0)
        fraction = float(src.tags()["CLOUD_FRACTION"])
    assert 0.3 < fraction < 0.7
    # clouds are the brightest thing in the scene: bright area ~ the recorded fraction
    assert abs((grey > 185).mean() - fraction) < 0.15
    objects = read_scene_labels(tif.with_suffix(".geojson"), SceneGrid.from_raster(tif)).objects
    occluded = [o for o in objects if o.attributes["occluded"]]
    clear = [o for o in objects if not o.attributes["occluded"]]
    assert occluded and clear

    def brightness(obj):
        x0, y0, x1, y1 = (round(v) for v in obj.box)
        return grey[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)].mean()

    assert np.mean([brightness(o) > 150 for o in occluded]) > 0.9
    assert np.mean([brightness(o) > 200 for o in clear]) < 0.1
