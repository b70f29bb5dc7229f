"""Scene files: labels valid against the schema, contract tags, CRS and transform."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from coalwatch.labels.schema import SceneGrid, read_scene_labels
from coalwatch.labels.synth import load_scenario, render_scenario
from coalwatch.labels.taxonomy import load_taxonomy

EPSG = {"rail_crossing": 32652, "coal_port": 32651, "mine": 32652}


@pytest.mark.parametrize("name", ["rail_crossing", "coal_port", "mine"])
def test_labels_validate_and_tags(scenes, name):
    tif = scenes[name]
    labels = read_scene_labels(
        tif.with_suffix(".geojson"), SceneGrid.from_raster(tif), load_taxonomy("default")
    )
    assert labels.objects, "every scenario draws something to count"
    assert labels.properties["scenario"] == name
    with rasterio.open(tif) as src:
        tags = src.tags()
        assert src.count == 3 and src.dtypes[0] == "uint8" and src.nodata == 0
        assert src.profile["tiled"] and src.compression is not None
    for key in ("ACQUISITION_DATETIME", "CLOUD_FRACTION", "COALWATCH_SCENARIO", "GSD_M"):
        assert key in tags
    assert tags["COALWATCH_SCENARIO"] == name
    assert 0.0 <= float(tags["CLOUD_FRACTION"]) <= 1.0


@pytest.mark.parametrize("name", ["rail_crossing", "coal_port", "mine"])
def test_crs_and_transform_round_trip(scenes, name):
    tif = scenes[name]
    scenario = load_scenario(name)
    with rasterio.open(tif) as src:
        assert src.crs.to_epsg() == EPSG[name]
        t = src.transform
        assert t.a == pytest.approx(scenario.gsd_m) and t.e == pytest.approx(-scenario.gsd_m)
        assert t.b == 0 and t.d == 0
        centre = t @ (src.width / 2, src.height / 2)
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{EPSG[name]}", always_xy=True)
    x, y = to_utm.transform(scenario.place.lon, scenario.place.lat)
    assert abs(centre[0] - x) <= scenario.gsd_m and abs(centre[1] - y) <= scenario.gsd_m
    # label polygons are in map units of the same CRS and map back to in-scene pixels
    doc = json.loads(tif.with_suffix(".geojson").read_text())
    assert doc["crs"]["properties"]["name"].endswith(str(EPSG[name]))
    grid = SceneGrid.from_raster(tif)
    for feature in doc["features"]:
        ring = np.array(feature["geometry"]["coordinates"][0])
        box = grid.box_to_pixels(
            (ring[:, 0].min(), ring[:, 1].min(), ring[:, 0].max(), ring[:, 1].max())
        )
        assert -0.01 <= box[0] < box[2] <= grid.width + 0.01
        assert -0.01 <= box[1] < box[3] <= grid.height + 0.01


def test_analytic_product_has_nir(shrink, tmp_path):
    summer = (dt.date(2017, 6, 15), dt.date(2017, 8, 15))
    scenario = shrink("rail_crossing", 768, product="analytic", cloud_probability=0.0, dates=summer)
    (tif,) = render_scenario(scenario, tmp_path, seed=1)
    with rasterio.open(tif) as src:
        assert src.count == 4 and src.dtypes[0] == "uint16"
        assert src.descriptions == ("red", "green", "blue", "nir")
        data = src.read().astype(np.float32)
    red, nir = data[0], data[3]
    valid = red > 0
    ndvi = (nir - red) / np.maximum(nir + red, 1)
    # summer countryside is mostly vegetated (NIR well above red); the river is dark in NIR
    assert np.median(ndvi[valid]) > 0.1
    assert ndvi[valid].min() < 0
