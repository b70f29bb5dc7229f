"""A small rendered series counted with perfect detections: merge, AOIs, heaps, series, words.

The synthetic generator renders a dated series of a rail-fed port (scenes, aois.geojson,
truth.csv). Each scene's labels, cut into overlapping tiles as a perfect detector would
see them and merged back, go through the same counting and series code as model output.
"""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import numpy as np
import pytest

from coalwatch.infer.aoi import load_aois
from coalwatch.infer.counting import scene_result
from coalwatch.infer.detections import Detections
from coalwatch.infer.merge import merge_tiles
from coalwatch.infer.outputs import write_outputs
from coalwatch.infer.scene_reader import Scene
from coalwatch.infer.series import Series, describe_area, describe_counts
from coalwatch.infer.tiling import TileGrid
from coalwatch.labels.schema import SceneGrid, read_scene_labels
from coalwatch.labels.taxonomy import load_taxonomy

SCENARIO = """
name: mini_series
site: rail_port
description: small dated series for tests
place: {name: Rajin, lon: 130.302, lat: 42.243, epsg: 32652}
gsd_m: 1.0
size_px: [1024, 1024]
product: visual
nodata_probability: 0.0
params:
  siding_tracks: [2, 2]
series:
  - {date: 2017-02-08, ore_car: 30, other_railcar: 6, berths: [1, 0], heaps: {pier_1: 3000}}
  - {date: 2017-02-10, ore_car: 36, other_railcar: 4, berths: [1, 1], heaps: {pier_1: 3000}}
  - {date: 2017-02-13, ore_car: 33, other_railcar: 5, berths: [1, 1], heaps: {pier_1: 3000}}
  - {date: 2017-03-21, ore_car: 8, other_railcar: 6, berths: [0, 1], cloud: 0.7,
     heaps: {pier_1: 3000}}
  - {date: 2017-04-30, ore_car: 10, other_railcar: 6, berths: [0, 0], heaps: {pier_1: 6000}}
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    from coalwatch.labels.synth import render_series

    folder = tmp_path_factory.mktemp("mini_series")
    (folder / "mini.yaml").write_text(textwrap.dedent(SCENARIO))
    render_series(folder / "mini.yaml", folder / "out", seed=0)
    return folder / "out"


def tiles_seen_by_a_perfect_detector(grid: TileGrid, dets: Detections):
    for tile in grid:
        x0, y0, x1, y1 = tile.bounds
        clipped = dets.clip(x1, y1).translate(-x0, -y0).clip(x1 - x0, y1 - y0)
        visible = (clipped.widths > 0.5) & (clipped.heights > 0.5)
        yield tile, clipped.select(visible).translate(x0, y0)


@pytest.fixture(scope="module")
def results(rendered):
    taxonomy = load_taxonomy()
    aois = load_aois(rendered / "aois.geojson")
    out = []
    for tif in sorted(rendered.glob("*.tif")):
        labels = read_scene_labels(
            tif.with_suffix(".geojson"), SceneGrid.from_raster(tif), taxonomy
        )
        truth = Detections(
            [o.box for o in labels.objects],
            np.ones(len(labels.objects)),
            [taxonomy.class_id(o.cls) for o in labels.objects],
        )
        with Scene(tif) as scene:
            grid = TileGrid(scene.width, scene.height, 256, 48)
            merged = merge_tiles(list(tiles_seen_by_a_perfect_detector(grid, truth)))
            out.append((scene_result(scene, merged, taxonomy, aois), truth))
    return out


def truth_rows(rendered: Path) -> dict[str, dict[str, str]]:
    with open(rendered / "truth.csv") as f:
        return {row["scene"]: row for row in csv.DictReader(f)}


def test_merged_tiles_give_back_every_labelled_object(results) -> None:
    for result, truth in results:
        assert len(result.detections) == len(truth)
        assert result.counts == truth.count_by_class(result.taxonomy_obj.classes)


def test_counts_per_aoi_and_heap_area_match_truth(results, rendered) -> None:
    rows = truth_rows(rendered)
    for result, _ in results:
        row = rows[result.scene_id]
        for cls in ("ore_car", "bulk_carrier", "coal_heap"):
            assert result.counts[cls] == int(row[cls])
            for aoi in result.aoi_names:
                assert result.aoi_counts[aoi][cls] == int(row[f"{cls}@{aoi}"]), (aoi, cls)
        if result.cloud_fraction < 0.3:  # under thick cloud a heap's dark pixels are hidden
            true_area = float(row["heap_area_m2"])
            assert result.heap_area_m2 == pytest.approx(true_area, rel=0.3)


def test_series_csv_summary_and_timelines(results, rendered, tmp_path) -> None:
    series = Series.of([r for r, _ in results])
    summary = series.summary()
    assert "4 usable image(s), 2017-02-08 to 2017-04-30; 1 left out" in summary
    assert (
        "ore_car: 30-36 on 3 successive images, 2017-02-08 to 2017-02-13; at most 10 afterwards"
        in summary
    )
    assert "siding:" in summary
    written = {p.name for p in write_outputs(series.results, tmp_path)}
    assert {
        "series.csv",
        "summary.txt",
        "timeline_ore_car.png",
        "timeline_heap_area.png",
    } <= written
    assert (tmp_path / "timeline_ore_car.png").read_bytes()[:4] == b"\x89PNG"
    header = (tmp_path / "series.csv").read_text().splitlines()[0].split(",")
    truth_header = (rendered / "truth.csv").read_text().splitlines()[0].split(",")
    shared = set(header) & set(truth_header)
    assert {"ore_car", "ore_car@siding", "heap_area_m2@pier_1"} <= shared


def test_words_for_steady_empty_and_changing_series() -> None:
    dates = ["2018-02-04", "2018-02-08", "2018-02-12", "2018-03-01", "2018-04-01"]
    assert describe_counts("ore_car", dates, [30, 50, 41, 12, 3]) == (
        "ore_car: 30-50 on 3 successive images, 2018-02-04 to 2018-02-12; at most 12 afterwards"
    )
    assert describe_counts("bulk_carrier", dates, [0, 0, 0, 0, 0]).endswith(
        "none on any of 5 images, 2018-02-04 to 2018-04-01"
    )
    assert "2-3 on all 5 images" in describe_counts("x", dates, [2, 3, 3, 2, 3])
    assert "at most 1 before" in describe_counts("x", dates, [1, 0, 9, 8, 9])
    assert describe_counts("x", dates, [0, 0, 4, 0, 0]).startswith(
        "x: 4 on 1 image, 2018-02-12; none before and afterwards"
    )
    text = describe_area("coal heap area", dates, [3000.0, 3100.0, 2900.0, 9500.0, 9400.0])
    assert "grew most between 2018-02-12 and 2018-03-01 (+6,600 m²)" in text
