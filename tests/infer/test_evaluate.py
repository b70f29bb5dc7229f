"""evaluate: COCO scores, operating-point counts and count errors, leaf and group level."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from coalwatch.errors import InputError
from coalwatch.infer import counting, evaluate
from coalwatch.infer.calibration import read_thresholds
from coalwatch.infer.coco_metrics import ImageBoxes, coco_scores
from coalwatch.infer.eval_outputs import write_eval_outputs
from coalwatch.infer.eval_truth import load_truth
from coalwatch.infer.evaluate import EvalOptions
from coalwatch.labels.coco import CocoAnnotation, CocoDataset, CocoImage, write_coco
from coalwatch.labels.schema import ObjectLabel, SceneGrid, SceneLabels, write_scene_labels
from coalwatch.labels.taxonomy import load_taxonomy

from .scenes import DarkBlobDetector, write_scene

CARS = [(40 + i * 40, 100, 66 + i * 40, 106) for i in range(5)]  # 26 x 6 px ore cars
HEAP = (400, 300, 480, 360)


@pytest.fixture
def blobs(monkeypatch):
    detector = DarkBlobDetector(tile_size=256, overlap=64)
    monkeypatch.setattr(counting, "detector_for", lambda *a, **k: detector)
    monkeypatch.setattr(evaluate, "detector_for", lambda *a, **k: detector)
    return detector


def labelled_scene(folder: Path, name: str, objects: list[ObjectLabel], drawn=None) -> Path:
    """A scene with ``drawn`` dark boxes (default: the labelled ones) and its GeoJSON."""
    boxes = [o.box for o in objects] if drawn is None else drawn
    tif = write_scene(folder / f"{name}.tif", [tuple(int(v) for v in b) for b in boxes])
    labels = SceneLabels(objects, taxonomy="default")
    write_scene_labels(tif.with_suffix(".geojson"), labels, SceneGrid.from_raster(tif))
    return tif


def cars_and_heap(**attrs) -> list[ObjectLabel]:
    return [ObjectLabel("ore_car", b, dict(attrs)) for b in CARS] + [ObjectLabel("coal_heap", HEAP)]


def test_perfect_detections_score_one(tmp_path, blobs) -> None:
    tif = labelled_scene(tmp_path, "yard", cars_and_heap())
    report = evaluate.evaluate([tif], None, "unused.onnx")
    data = report.to_dict()
    assert data["classes"]["ore_car"]["AP50"] == pytest.approx(1.0)
    assert data["classes"]["coal_heap"]["AP50"] == pytest.approx(1.0)
    assert data["classes"]["bulk_carrier"]["AP50"] is None  # no labels: no AP
    assert data["overall"]["precision"] == 1.0 and data["overall"]["recall"] == 1.0
    assert data["scenes"][0]["error"] == {c: 0 for c in report.categories}
    assert data["classes"]["ore_car"]["count_true"] == 5
    assert data["views"] == 1


def test_fused_views_are_recorded_and_score_alike(tmp_path, blobs) -> None:
    tif = labelled_scene(tmp_path, "yard", cars_and_heap())
    data = evaluate.evaluate([tif], None, "unused.onnx", EvalOptions(views=8)).to_dict()
    assert data["views"] == 8
    assert data["classes"]["ore_car"]["AP50"] == pytest.approx(1.0)
    assert data["classes"]["ore_car"]["count_predicted"] == 5


def test_per_class_thresholds_of_the_model_pick_what_is_counted(tmp_path, blobs) -> None:
    tif = labelled_scene(tmp_path, "yard", cars_and_heap())
    # the blob detector scores everything 0.9: above the default, below the cars' own 0.95
    blobs.metadata = replace(blobs.metadata, class_score_thresholds={"ore_car": 0.95})
    report = evaluate.evaluate([tif], None, "unused.onnx")
    data = report.to_dict()
    car, heap = data["classes"]["ore_car"], data["classes"]["coal_heap"]
    assert (car["tp"], car["fn"], car["count_predicted"]) == (0, 5, 0)
    assert car["AP50"] == pytest.approx(1.0)  # AP ranks every detection, whatever is counted
    assert (heap["tp"], heap["count_predicted"]) == (1, 1)
    assert data["class_score_thresholds"] == {"ore_car": 0.95}
    assert "ore_car 0.95" in report.table()
    # --score sets one threshold for every class
    data = evaluate.evaluate([tif], None, "unused.onnx", EvalOptions(score=0.5)).to_dict()
    assert data["classes"]["ore_car"]["tp"] == 5 and data["class_score_thresholds"] == {}


def test_missed_and_spurious_objects(tmp_path, blobs) -> None:
    objects = cars_and_heap()
    drawn = [*CARS[:3], HEAP, (700, 500, 726, 506)]  # two cars missing, one extra car
    tif = labelled_scene(tmp_path, "yard", objects, drawn)
    data = evaluate.evaluate([tif], None, "unused.onnx").to_dict()
    car = data["classes"]["ore_car"]
    assert (car["tp"], car["fp"], car["fn"]) == (3, 1, 2)
    assert car["precision"] == pytest.approx(0.75)
    assert car["recall"] == pytest.approx(0.6)
    assert car["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35, abs=1e-4)
    scene = data["scenes"][0]
    assert scene["truth"]["ore_car"] == 5 and scene["predicted"]["ore_car"] == 4
    assert scene["error"]["ore_car"] == -1
    assert scene["relative_error"]["ore_car"] == pytest.approx(-0.2)
    assert scene["relative_error"]["bulk_carrier"] is None
    # what the picture draws: the same matches, box by box
    (outcome,) = evaluate.evaluate([tif], None, "unused.onnx").scores.outcomes
    assert sorted(map(tuple, outcome.of_kind("hit").tolist())) == sorted([*CARS[:3], HEAP])
    np.testing.assert_array_equal(outcome.of_kind("background"), [(700, 500, 726, 506)])
    assert sorted(map(tuple, outcome.missed.tolist())) == sorted(CARS[3:])
    assert outcome.labelled == 6
    assert data["classes"]["ore_car"]["false_alarms"]["background"] == 1


def test_group_level_scores_group_labels(tmp_path, blobs) -> None:
    objects = [ObjectLabel("railcar", b) for b in CARS] + [ObjectLabel("coal_heap", HEAP)]
    tif = labelled_scene(tmp_path, "yard", objects)
    with pytest.raises(InputError, match="--level group"):
        evaluate.evaluate([tif], None, "unused.onnx")
    report = evaluate.evaluate([tif], None, "unused.onnx", EvalOptions(level="group"))
    assert report.categories == ("railcar", "vessel", "coal_heap")
    data = report.to_dict()
    assert data["classes"]["railcar"]["AP50"] == pytest.approx(1.0)
    assert data["scenes"][0]["truth"] == {"railcar": 5, "vessel": 0, "coal_heap": 1}


def test_occluded_labels_are_ignored_unless_kept(tmp_path, blobs) -> None:
    objects = cars_and_heap()
    objects[0] = ObjectLabel("ore_car", CARS[0], {"occluded": True})
    objects[1] = ObjectLabel("ore_car", CARS[1], {"occluded": True})
    tif = labelled_scene(tmp_path, "yard", objects, drawn=[CARS[0], *CARS[2:], HEAP])
    data = evaluate.evaluate([tif], None, "unused.onnx").to_dict()
    car = data["classes"]["ore_car"]
    # the found occluded car is neither right nor wrong; the hidden one is not missed
    assert (car["tp"], car["fp"], car["fn"]) == (3, 0, 0)
    assert data["scenes"][0]["ignored_labels"] == 2
    (outcome,) = evaluate.evaluate([tif], None, "unused.onnx").scores.outcomes
    assert outcome.kinds == ("hit",) * 4 and len(outcome.missed) == 0  # the ignored car left out
    kept = evaluate.evaluate([tif], None, "unused.onnx", EvalOptions(keep_occluded=True))
    car = kept.to_dict()["classes"]["ore_car"]
    assert (car["tp"], car["fp"], car["fn"]) == (4, 0, 1)


def test_coco_labels_with_class_map(tmp_path, blobs) -> None:
    write_scene(tmp_path / "port.tif", [*CARS, HEAP])
    ann = [
        CocoAnnotation(i + 1, 1, 1, (b[0], b[1], b[2] - b[0], b[3] - b[1]))
        for i, b in enumerate(CARS)
    ]
    coco = CocoDataset([CocoImage(1, "port.tif", 1000, 700)], ann, [{"id": 1, "name": "wagon"}])
    path = write_coco(tmp_path / "labels.json", coco)
    options = EvalOptions(level="group", class_map={"wagon": "railcar"})
    data = evaluate.evaluate([tmp_path], path, "unused.onnx", options).to_dict()
    assert data["classes"]["railcar"]["tp"] == 5
    assert data["classes"]["coal_heap"]["fp"] == 1  # unlabelled heap
    with pytest.raises(InputError, match="wagon"):
        evaluate.evaluate([tmp_path], path, "unused.onnx")  # no map: unknown category


def test_scores_below_threshold_shape_ap_not_counts() -> None:
    gt = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], float)
    dt = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10], [60, 0, 70, 10]], float)
    image = ImageBoxes(
        100, 100, gt, ["a"] * 3, np.zeros(3, bool), dt, ["a"] * 4, np.array([0.9, 0.8, 0.3, 0.6])
    )
    scores = coco_scores([image], ["a"], threshold=0.5)
    a = scores.classes["a"]
    assert (a.tp, a.fp, a.fn) == (2, 1, 1)
    assert 0.7 < a.ap50 < 1.0  # the low-scored true box still adds recall, after a false one
    assert a.pr_recall[0] == 0.0 and a.pr_precision[0] == pytest.approx(1.0)
    (outcome,) = scores.outcomes
    np.testing.assert_array_equal(outcome.of_kind("hit"), dt[:2])
    np.testing.assert_array_equal(outcome.of_kind("background"), dt[3:])  # near nothing
    np.testing.assert_array_equal(outcome.missed, gt[2:])  # found only below the threshold


def test_outputs_written_together(tmp_path, blobs) -> None:
    tif = labelled_scene(tmp_path, "yard", cars_and_heap())
    plan = evaluate.plan_evaluation([tif], None, "unused.onnx")
    results = evaluate.count_labelled(plan)
    report = evaluate.report_of(plan, results)
    paths = write_eval_outputs(report, tmp_path / "out")
    assert [p.name for p in paths] == ["eval.json", "pr_curve.png"]
    assert json.loads(paths[0].read_text())["level"] == "leaf"
    assert paths[1].read_bytes()[:4] == b"\x89PNG"
    assert "ore_car" in report.table()
    pictured = write_eval_outputs(report, tmp_path / "pictured", results)
    assert [p.name for p in pictured][-1] == "yard.errors.png"
    assert pictured[-1].read_bytes()[:4] == b"\x89PNG"


def test_missing_labels_fail_before_counting(tmp_path, blobs) -> None:
    tif = write_scene(tmp_path / "bare.tif", CARS)
    with pytest.raises(InputError, match="no labels"):
        evaluate.evaluate([tif], None, "unused.onnx")


def test_sen2ships_coco_truth_loads_all_ships(sen2ships: Path) -> None:
    truths = load_truth(
        [sen2ships / "images"], sen2ships / "annotations.coco.json", load_taxonomy("ship")
    )
    assert len(truths) == 7
    assert sum(len(t.classes) for t in truths) == 191
    assert {c for t in truths for c in t.classes} == {"ship"}


def test_calibrated_thresholds_count_the_faint_cars(tmp_path, blobs) -> None:
    blobs.short_score = 0.35  # cars under 24 px: found, but below the model's 0.5
    short_cars = [(40 + i * 40, 200, 60 + i * 40, 206) for i in range(2)]
    objects = cars_and_heap() + [ObjectLabel("ore_car", b) for b in short_cars]
    tif = labelled_scene(tmp_path, "yard", objects)
    report = evaluate.evaluate([tif], None, "unused.onnx", EvalOptions(calibrate=True))
    assert report.to_dict()["classes"]["ore_car"]["count_predicted"] == 5  # at 0.5
    car = report.calibration.classes["ore_car"]
    assert car.threshold == pytest.approx(0.35) and car.count_true == 7
    assert (car.bias_before, car.bias_after, car.count_mae_after) == (-2, 0, 0.0)
    assert report.calibration.classes["coal_heap"].threshold == pytest.approx(0.5)  # right
    assert "bulk_carrier" in report.calibration.unlabelled  # no label: left as it was
    assert "0.50 -> 0.35" in report.table()

    paths = write_eval_outputs(report, tmp_path / "out")
    assert [p.name for p in paths] == ["eval.json", "pr_curve.png", "thresholds.json"]
    thresholds = read_thresholds(paths[2], report.categories)
    assert set(thresholds.class_scores) == {"ore_car", "coal_heap"}
    options = EvalOptions(class_scores=thresholds.class_scores)
    again = evaluate.evaluate([tif], None, "unused.onnx", options).to_dict()
    assert again["classes"]["ore_car"]["count_predicted"] == 7
    assert again["class_score_thresholds"]["ore_car"] == pytest.approx(0.35)
    assert again["calibration"] is None


def test_calibration_is_per_class_only(tmp_path, blobs) -> None:
    tif = labelled_scene(tmp_path, "yard", cars_and_heap())
    with pytest.raises(InputError, match="leaf level"):
        evaluate.evaluate([tif], None, "unused.onnx", EvalOptions(level="group", calibrate=True))
