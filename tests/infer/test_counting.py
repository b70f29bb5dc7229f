"""count_scene on hand-made GeoTIFFs with a stand-in detector: tiling, merging, AOIs, heaps."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from pyproj import Transformer

from coalwatch.errors import InputError
from coalwatch.infer import counting
from coalwatch.infer.counting import CountOptions, count_scene, count_scenes
from coalwatch.infer.outputs import write_outputs

from .scenes import DarkBlobDetector, scene_to_map, write_scene


@pytest.fixture
def blobs(monkeypatch):
    def install(**kwargs):
        detector = DarkBlobDetector(**kwargs)
        monkeypatch.setattr(counting, "detector_for", lambda *a, **k: detector)
        return detector

    return install


def train_of_cars(x0: int, y: int, n: int, gap: int = 1) -> list[tuple[int, int, int, int]]:
    return [(x0 + i * (26 + gap), y, x0 + i * (26 + gap) + 26, y + 6) for i in range(n)]


def test_train_across_seams_and_heap_on_a_seam(tmp_path, blobs) -> None:
    blobs(tile_size=256, overlap=64)
    cars = train_of_cars(30, 300, 30)  # 30 cars over ~800 px: crosses three seams
    heap = (180, 100, 260, 150)  # straddles the first seam (tile 0 ends at 256)
    scene = write_scene(tmp_path / "s.tif", [*cars, heap])
    result = count_scene(scene, "unused.onnx")
    assert result.counts["ore_car"] == 30
    assert result.counts["coal_heap"] == 1
    assert result.group_counts["railcar"] == 30
    heap_index = int(np.flatnonzero(result.detections.class_ids == 5)[0])
    np.testing.assert_allclose(result.detections.boxes[heap_index], heap)
    # dark-pixel heap area: 80 x 50 px at 0.25 m² each
    assert result.heap_area_m2 == pytest.approx(80 * 50 * 0.25)
    assert result.valid_fraction == pytest.approx(1.0)
    assert result.tiles_read == result.tiles_total
    pickle.loads(pickle.dumps(result))  # ready for a process pool or a cluster


def test_turned_and_mirrored_views_count_the_same_train(tmp_path, blobs) -> None:
    """A detector that sees the same in any orientation: 8 fused views change nothing."""
    blobs(tile_size=256, overlap=64)
    scene = write_scene(tmp_path / "s.tif", [*train_of_cars(30, 300, 12), (180, 100, 260, 150)])
    one = count_scene(scene, "unused.onnx")
    eight = count_scene(scene, "unused.onnx", CountOptions(views=8))
    assert eight.counts == one.counts and one.counts["ore_car"] == 12
    order = np.lexsort(one.detections.boxes.T)
    np.testing.assert_allclose(
        eight.detections.boxes[np.lexsort(eight.detections.boxes.T)], one.detections.boxes[order]
    )
    np.testing.assert_allclose(eight.detections.scores, 0.9, rtol=1e-6)


def test_resampled_read_returns_scene_pixels(tmp_path, blobs) -> None:
    blobs(tile_size=256, overlap=64, gsd=1.0)  # model at 1 m, scene at 0.5 m
    cars = train_of_cars(40, 200, 12, gap=4)
    scene = write_scene(tmp_path / "s.tif", cars)
    result = count_scene(scene, "unused.onnx")
    assert result.counts["ore_car"] == 12
    order = np.argsort(result.detections.boxes[:, 0])
    np.testing.assert_allclose(result.detections.boxes[order], np.array(cars, float), atol=2.0)


def test_aoi_in_another_crs_counts_by_centre(tmp_path, blobs) -> None:
    blobs()
    cars = train_of_cars(30, 300, 20)
    scene = write_scene(tmp_path / "s.tif", cars)
    to_wgs84 = Transformer.from_crs("EPSG:32652", "EPSG:4326", always_xy=True)

    def lonlat_rect(x0, y0, x1, y1):
        corners = [scene_to_map(x, y) for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]]
        ring = [list(to_wgs84.transform(*c)) for c in corners]
        return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}

    # siding A holds the centres of cars 0-9 (centres at x = 43 + 27 i)
    aois = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "siding A"},
                "geometry": lonlat_rect(0, 250, 30 + 27 * 10, 350),
            },
            {
                "type": "Feature",
                "properties": {"name": "berth 1"},
                "geometry": lonlat_rect(600, 0, 900, 200),
            },
        ],
    }
    (tmp_path / "aois.geojson").write_text(json.dumps(aois))
    result = count_scene(scene, "m.onnx", CountOptions(aoi_path=str(tmp_path / "aois.geojson")))
    assert result.aoi_counts["siding A"]["ore_car"] == 10
    assert result.aoi_counts["berth 1"]["ore_car"] == 0
    assert list(result.detections.extra["aoi"]).count("siding A") == 10


def test_nodata_tiles_skipped_and_usable_fraction(tmp_path, blobs) -> None:
    blobs(tile_size=256, overlap=64)
    tags = {"ACQUISITION_DATETIME": "2018-02-04T02:10:00Z", "CLOUD_FRACTION": "0.2"}
    scene = write_scene(tmp_path / "x.tif", train_of_cars(600, 300, 5), tags=tags, nodata_cols=400)
    result = count_scene(scene, "m.onnx")
    assert result.tiles_read < result.tiles_total
    assert result.valid_fraction == pytest.approx(0.6, abs=0.01)
    assert result.usable_fraction == pytest.approx(0.48, abs=0.01)
    assert result.date == "2018-02-04"
    assert result.counts["ore_car"] == 5


def test_scene_without_crs_counts_in_pixels_with_a_warning(tmp_path, blobs) -> None:
    blobs(gsd=None)
    scene = write_scene(tmp_path / "raw_20180210.tif", train_of_cars(30, 30, 4), crs=None)
    result = count_scene(scene, "m.onnx")
    assert result.counts["ore_car"] == 4
    assert result.crs is None and result.date == "2018-02-10"
    assert any("no CRS" in w for w in result.warnings)
    write_outputs([result], tmp_path / "out")
    geo = json.loads((tmp_path / "out" / "raw_20180210.detections.geojson").read_text())
    assert geo["coalwatch"]["coordinates"] == "pixel" and "crs" not in geo


def test_outputs_geojson_in_scene_crs_and_wgs84(tmp_path, blobs) -> None:
    blobs()
    scene = write_scene(tmp_path / "s.tif", [*train_of_cars(30, 300, 3), (500, 100, 560, 140)])
    results = count_scenes([scene], "m.onnx")
    write_outputs(results, tmp_path / "utm")
    write_outputs(results, tmp_path / "geo", wgs84=True)
    utm = json.loads((tmp_path / "utm" / "s.detections.geojson").read_text())
    assert utm["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32652"
    heap = next(f for f in utm["features"] if f["properties"]["class"] == "coal_heap")
    assert heap["properties"]["group"] == "coal_heap"
    assert heap["properties"]["heap_area_m2"] == pytest.approx(600.0)
    xs = [p[0] for p in heap["geometry"]["coordinates"][0]]
    assert min(xs) == pytest.approx(scene_to_map(500, 0)[0])
    geo = json.loads((tmp_path / "geo" / "s.detections.geojson").read_text())
    assert "crs" not in geo
    lon, lat = geo["features"][0]["geometry"]["coordinates"][0][0]
    assert 125 < lon < 132 and 35 < lat < 45
    names = sorted(p.name for p in (tmp_path / "utm").iterdir())
    assert "series.csv" in names and "summary.txt" in names and "timeline_ore_car.png" in names


def test_bad_scene_inputs_are_one_line_errors(tmp_path, blobs) -> None:
    blobs()
    text = tmp_path / "notes.tif"
    text.write_text("not an image")
    with pytest.raises(InputError, match=r"notes\.tif"):
        count_scene(text, "m.onnx")
    two_bands = write_scene(tmp_path / "two.tif", [], bands=2)
    with pytest.raises(InputError, match="2 band"):
        count_scene(two_bands, "m.onnx")
    good = write_scene(tmp_path / "good.tif", train_of_cars(30, 300, 30))
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match=r"cut\.tif"):
        count_scene(cut, "m.onnx")
    bad_aoi = tmp_path / "aoi.geojson"
    bad_aoi.write_text("{ nope")
    with pytest.raises(InputError, match=r"aoi\.geojson"):
        count_scene(good, "m.onnx", CountOptions(aoi_path=str(bad_aoi)))
