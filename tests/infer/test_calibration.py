"""Count thresholds calibrated per class: the least count error, ties settled, files checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coalwatch.errors import InputError
from coalwatch.infer.calibration import (
    ClassCalibration,
    CountCalibration,
    calibrate_class,
    check_views,
    read_thresholds,
    write_thresholds,
)

CLASSES = ("ore_car", "other_railcar", "bulk_carrier", "other_vessel", "coal_heap")


def test_threshold_moves_as_far_as_the_labels_ask() -> None:
    # three scenes of 4, 2 and 3 cars; true cars score 0.3-0.9, false alarms 0.1-0.2
    scores = [
        np.array([0.9, 0.8, 0.35, 0.3, 0.2, 0.1]),
        np.array([0.7, 0.32, 0.15]),
        np.array([0.95, 0.6, 0.31]),
    ]
    c = calibrate_class(scores, [4, 2, 3], threshold_before=0.5)
    # 0.21-0.30 count every car; 0.31 misses one car in one scene (1/3 per scene, within
    # half an object of the least) and is the nearest such threshold to 0.5
    assert c.threshold == pytest.approx(0.31)
    assert (c.count_mae_after, c.bias_after) == (pytest.approx(1 / 3, abs=1e-4), -1)
    assert c.count_mae_before == pytest.approx(4 / 3, abs=1e-4) and c.bias_before == -4
    assert c.count_true == 9 and c.threshold_before == 0.5
    # from below: 0.16-0.20 count one false alarm in one scene, and 0.16 is nearest to 0.1
    assert calibrate_class(scores, [4, 2, 3], threshold_before=0.1).threshold == pytest.approx(0.16)


def test_errors_within_half_an_object_keep_the_threshold() -> None:
    # 2 cars scored 0.8 and 0.4 beside a scene of none with a 0.6 false alarm: the error is
    # 0.5 per scene up to 0.40 and at 0.61-0.80, 1.0 at 0.5: within half an object, kept
    c = calibrate_class([np.array([0.8, 0.4]), np.array([0.6])], [2, 0], 0.5)
    assert c.threshold == pytest.approx(0.5) and c.count_mae_after == pytest.approx(1.0)
    # two equally near thresholds: the higher
    c = calibrate_class([np.array([0.8, 0.4]), np.array([0.6])], [2, 0], 0.505)
    assert c.threshold == pytest.approx(0.51)


def _write(path, **data) -> None:
    path.write_text(json.dumps({"format": "coalwatch-count-thresholds", **data}))


def test_a_written_file_reads_back(tmp_path) -> None:
    one = ClassCalibration(0.31, 0.5, 9, 1.33, 0.0, -4, 0)
    calibration = CountCalibration("m.onnx", 8, ("a", "b"), {"ore_car": one})
    write_thresholds(calibration, tmp_path / "thresholds.json")
    read = read_thresholds(tmp_path / "thresholds.json", CLASSES)
    assert read.class_scores == {"ore_car": 0.31} and read.views == 8
    assert "0.50 -> 0.31" in calibration.table() and "8 view(s)" in calibration.table()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such thresholds file"),
        ("{nope", "not a thresholds JSON file"),
        ('{"format": "other"}', "not a thresholds file"),
        ({"views": 1}, "lacks class_score_thresholds or views"),
        ({"views": 1, "class_score_thresholds": {"wagon": 0.3}}, "wagon"),
        ({"views": 1, "class_score_thresholds": {"ore_car": 1.5}}, r"numbers in \[0, 1\]"),
    ],
)
def test_bad_files_are_refused_by_name(tmp_path, content, message) -> None:
    path = tmp_path / "thresholds.json"
    if isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        _write(path, **content)
    with pytest.raises(InputError, match=message) as err:
        read_thresholds(path, CLASSES)
    assert "thresholds.json" in str(err.value)


def test_views_come_from_the_file_and_others_are_refused(tmp_path) -> None:
    _write(tmp_path / "t.json", views=8, class_score_thresholds={"ore_car": 0.3})
    thresholds = read_thresholds(tmp_path / "t.json", CLASSES)
    assert check_views(thresholds, None) == 8 and check_views(thresholds, 8) == 8
    assert check_views(None, None) == 1 and check_views(None, 4) == 4
    with pytest.raises(InputError, match="calibrated with --views 8, not 1"):
        check_views(thresholds, 1)
