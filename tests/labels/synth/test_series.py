"""A series follows its script of counts per date and writes its AOIs and truth."""

from __future__ import annotations

import csv
import json

import rasterio

from coalwatch.labels.schema import SceneGrid, count_by_class, read_scene_labels
from coalwatch.labels.synth import load_scenario, render_series
from coalwatch.labels.synth.layout import point_in_polygon
from coalwatch.labels.taxonomy import load_taxonomy


def test_series_follows_its_script(shrink, tmp_path):
    full = load_scenario("port_series")
    script = [full.series[i] for i in (0, 3, 5, 6)]  # busy Feb, clouded Mar, Jun 20 / Jun 22
    scenario = shrink("port_series", 1024, gsd_m=2.0, series=script, nodata_probability=0.0)
    tifs = render_series(scenario, tmp_path, seed=1)
    assert len(tifs) == len(script)
    rows = list(csv.DictReader((tmp_path / "truth.csv").open()))
    aois = json.loads((tmp_path / "aois.geojson").read_text())
    names = {f["properties"]["name"] for f in aois["features"]}
    assert {"berth_1", "berth_2", "berth_3", "pier_1", "pier_2", "pier_3", "siding"} <= names
    taxonomy = load_taxonomy("default")
    polygons = {f["properties"]["name"]: f["geometry"]["coordinates"][0] for f in aois["features"]}
    grid = SceneGrid.from_raster(tifs[0])
    for day, row, tif in zip(script, rows, tifs, strict=True):
        labels = read_scene_labels(
            tif.with_suffix(".geojson"), SceneGrid.from_raster(tif), taxonomy
        )
        counts = count_by_class(labels.objects)
        assert counts.get("ore_car", 0) == day.ore_car == int(row["ore_car"])
        assert counts.get("other_railcar", 0) == day.other_railcar == int(row["other_railcar"])
        loaded = sum(bool(o.attributes.get("loaded")) for o in labels.objects)
        assert loaded == day.ore_car_loaded == int(row["ore_car_loaded"])
        for i, flag in enumerate(day.berths):
            assert int(row[f"bulk_carrier@berth_{i + 1}"]) == flag
        assert int(row["bulk_carrier"]) == sum(day.berths) + day.anchored
        with rasterio.open(tif) as src:
            assert src.tags()["ACQUISITION_DATETIME"].startswith(day.date.date().isoformat())
            assert (float(src.tags()["CLOUD_FRACTION"]) > 0.2) == (day.cloud > 0)
        # every object attributed to an AOI lies inside that AOI's polygon (map coordinates)
        for obj in labels.objects:
            name = obj.attributes.get("aoi")
            if name:
                ring = polygons[name]
                x, y = grid.transform @ (
                    (obj.box[0] + obj.box[2]) / 2,
                    (obj.box[1] + obj.box[3]) / 2,
                )
                assert point_in_polygon(x, y, ring), (obj.cls, name)
    # the layout is fixed: every date has the same grid
    grids = {SceneGrid.from_raster(t) for t in tifs}
    assert len({(g.width, g.height, g.transform) for g in grids}) == 1
    # coal on pier 3 jumps between the last two dates (June 20 -> June 22)
    before, after = float(rows[2]["heap_area_m2@pier_3"]), float(rows[3]["heap_area_m2@pier_3"])
    assert after > 1.5 * before > 0
