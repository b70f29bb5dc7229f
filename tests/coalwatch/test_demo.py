"""coalwatch demo: the report pieces on hand-made results, and ``--quick`` end to end once."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coalwatch.cli import main
from coalwatch.demo_plots import plot_counted_vs_truth
from coalwatch.demo_report import (
    comparison_table,
    counted_value,
    read_truth,
    summary_next_to_truth,
)
from coalwatch.infer.counting import SceneResult
from coalwatch.infer.detections import Detections
from coalwatch.labels.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
CLASSES = TAXONOMY.classes


def result(day: str, ore: int, heap: float, berth_ships: int, cloud: float = 0.0) -> SceneResult:
    counts = dict.fromkeys(CLASSES, 0) | {"ore_car": ore}
    aoi = {"berth_1": dict.fromkeys(CLASSES, 0) | {"bulk_carrier": berth_ships}}
    boxes = np.array([[10 + 30 * i, 40, 36 + 30 * i, 46] for i in range(ore)], float)
    return SceneResult(
        scene=f"/x/s{day}.tif",
        scene_id=f"s{day}",
        date=f"2017-{day}",
        crs_wkt=None,
        transform=(1, 0, 0, 0, -1, 0),
        width=2000,
        height=1000,
        gsd_m=1.0,
        cloud_fraction=cloud,
        valid_fraction=1.0,
        taxonomy=TAXONOMY.to_dict(),
        detections=Detections(boxes.reshape(-1, 4), np.full(ore, 0.9), np.ones(ore, int)),
        counts=counts,
        group_counts={},
        aoi_names=["berth_1"],
        aoi_counts=aoi,
        heap_area_m2=heap,
        aoi_heap_area_m2={"berth_1": 0.0},
    )


TRUTH_CSV = """date,scene,cloud_fraction,ore_car,other_railcar,bulk_carrier,other_vessel,coal_heap,\
heap_area_m2,bulk_carrier@berth_1,heap_area_m2@berth_1
2017-02-08,s02-08,0,42,0,1,0,0,5000,1,0
2017-02-10,s02-10,0,38,0,1,0,0,5100,1,0
2017-02-13,s02-13,0,48,0,1,0,0,5000,1,0
2017-04-30,s04-30,0.8,9,0,0,0,0,5000,0,0
2017-06-22,s06-22,0,8,0,0,0,0,9000,0,0
"""


@pytest.fixture
def series(tmp_path) -> tuple[list[SceneResult], dict]:
    path = tmp_path / "truth.csv"
    path.write_text(TRUTH_CSV)
    results = [
        result("06-22", 7, 8800.0, 0),
        result("02-08", 40, 4900.0, 1),
        result("02-10", 38, 5000.0, 1),
        result("02-13", 45, 5200.0, 1),
        result("04-30", 2, 1000.0, 0, cloud=0.8),  # clouded: left out of the summary
    ]
    return results, read_truth(path)


def test_counted_values_follow_truth_columns(series) -> None:
    results, _ = series
    r = results[1]
    assert counted_value(r, "ore_car") == 40
    assert counted_value(r, "bulk_carrier@berth_1") == 1
    assert counted_value(r, "heap_area_m2") == 4900.0
    assert counted_value(r, "ore_car@nowhere") is None


def test_comparison_table_counted_over_true(series) -> None:
    results, truth = series
    table = comparison_table(results, truth)
    lines = table.splitlines()
    assert lines[1].startswith("2017-02-08")  # sorted by date
    assert "40/42" in lines[1] and "4.9/5.0" in lines[1]
    assert "left out" in lines[4] and "2/9" in lines[4]
    # mean |error| of ore cars over the 4 usable dates: (2 + 0 + 3 + 1) / 4
    assert lines[-1].split()[2] == "1.5"


def test_summary_puts_counts_next_to_truth(series) -> None:
    results, truth = series
    text = summary_next_to_truth(results, truth)
    assert "4 usable image(s), 2017-02-08 to 2017-06-22; 1 left out" in text
    counted = text.split("ore_car\n", 1)[1].splitlines()[0]
    true = text.split("ore_car\n", 1)[1].splitlines()[1]
    assert counted.strip().startswith("counted  38-45 on 3 successive images")
    assert true.strip().startswith("truth    38-48 on 3 successive images")
    assert "berth_1:" in text and "bulk_carrier" in text.split("berth_1:")[1]
    assert "grew most between 2017-02-13 and 2017-06-22" in text


def test_counted_vs_truth_plot(series, tmp_path) -> None:
    results, truth = series
    png = plot_counted_vs_truth(results, truth, tmp_path / "cmp.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_quick_demo_end_to_end(tmp_path, capsys) -> None:
    """``coalwatch demo --quick`` from nothing (the most expensive test of the suite)."""
    pytest.importorskip("torch")
    out = tmp_path / "out"
    assert main(["demo", "--quick", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Counted/true per date" in printed
    assert "counted  " in printed and "truth    " in printed
    assert "timeline" in printed and "series.csv" in printed
    record = json.loads((out / "demo.json").read_text())
    assert set(record["timings_s"]) == {"render", "train", "export", "count", "report"}
    truth_dates = (out / "series" / "truth.csv").read_text().count("\n") - 1
    rows = (out / "counts" / "series.csv").read_text().strip().splitlines()
    assert len(rows) - 1 == truth_dates == 13
    assert len(list((out / "counts").glob("*.detections.geojson"))) == 13
    assert len(list((out / "counts").glob("*.detections.png"))) == 13
    assert "scene pictures" in printed and "(13 scenes)" in printed
    pngs = ["detections.png", "counted_vs_truth.png", "counts/timeline_ore_car.png"]
    for png in [out / name for name in pngs]:
        assert png.read_bytes()[:4] == b"\x89PNG"
    assert (out / "model.onnx").stat().st_size > 10_000
