"""Per-class thresholds calibrated so that each class's count matches the validation truth."""

from __future__ import annotations

import torch

from coalwatch.train.calibration import (
    SCORE_RANGE,
    ThresholdCalibration,
    count_matching_threshold,
    named_thresholds,
)


def test_count_matching_threshold_is_the_nth_highest_score() -> None:
    scores = torch.tensor([0.3, 0.9, 0.1, 0.8])
    assert count_matching_threshold(scores, 2) == torch.tensor(0.8).item()
    assert count_matching_threshold(scores, 3) == torch.tensor(0.3).item()
    # fewer detections than objects: keep them all
    assert count_matching_threshold(scores, 10) == torch.tensor(0.1).item()
    assert count_matching_threshold(torch.zeros(0), 5) == SCORE_RANGE[1]


def _grid_boxes(n: int, offset: float = 0.0) -> torch.Tensor:
    """``n`` disjoint 10 px boxes in a row."""
    x = torch.arange(n, dtype=torch.float32) * 20 + offset
    return torch.stack([x, torch.zeros(n), x + 10, torch.full((n,), 10.0)], dim=1)


def _image(n_true: int, scores: list[float], label: int, hidden: int = 0) -> tuple[dict, dict]:
    """``n_true`` visible and ``hidden`` hidden objects of ``label`` in a row, and one
    detection per score: the first ones on the objects (visible, then hidden), the rest on
    empty ground."""
    boxes = _grid_boxes(max(n_true + hidden, len(scores)))
    target = {
        "boxes": boxes[: n_true + hidden],
        "labels": torch.full((n_true + hidden,), label),
        "iscrowd": torch.arange(n_true + hidden) >= n_true,
    }
    pred = {
        "boxes": boxes[: len(scores)] + 0.5,
        "scores": torch.tensor(scores),
        "labels": torch.full((len(scores),), label),
    }
    return pred, target


def test_each_class_with_enough_objects_gets_the_score_that_matches_its_count() -> None:
    calibration = ThresholdCalibration(num_classes=5, min_objects=4)
    # class 1: 5 objects over two images, 7 detections; the 5th best scores 0.4
    calibration.update(*zip(_image(3, [0.9, 0.8, 0.4, 0.2], 1), strict=True))
    calibration.update(*zip(_image(2, [0.7, 0.5, 0.3], 1), strict=True))
    # class 5: 3 objects, too few to calibrate
    calibration.update(*zip(_image(3, [0.9, 0.9, 0.9], 5), strict=True))
    found = calibration.compute()
    assert set(found) == {1}
    assert found[1] == torch.tensor(0.4).item()
    names = ["ore_car", "other_railcar", "bulk_carrier", "other_vessel", "coal_heap"]
    assert named_thresholds(found, names) == {"ore_car": 0.4}


def test_detections_on_hidden_objects_are_not_counted() -> None:
    calibration = ThresholdCalibration(num_classes=1, min_objects=1)
    # two visible objects and two hidden ones; the detections on the hidden objects score
    # highest (0.95, 0.9 go to visible; then 0.85 and 0.8 fall on the hidden two)
    pred, target = _image(2, [0.95, 0.9, 0.85, 0.8, 0.6, 0.3], 1, hidden=2)
    calibration.update([pred], [target])
    # counted detections: 0.95, 0.9, 0.6, 0.3; two objects: threshold 0.9
    assert calibration.compute()[1] == torch.tensor(0.9).item()
    calibration.reset()
    target["iscrowd"][:] = False  # all four visible: the 4th best of all six, 0.8
    calibration.update([pred], [target])
    assert calibration.compute()[1] == torch.tensor(0.8).item()


def test_thresholds_stay_within_the_score_range() -> None:
    calibration = ThresholdCalibration(num_classes=1, min_objects=1)
    calibration.update(*zip(_image(3, [0.99, 0.99, 0.02], 1), strict=True))
    assert calibration.compute()[1] == SCORE_RANGE[0]
    calibration.reset()
    calibration.update(*zip(_image(2, [], 1), strict=True))  # nothing detected
    assert calibration.compute()[1] == SCORE_RANGE[1]
