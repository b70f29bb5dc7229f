"""Validation metrics: greedy matching, and hidden (``iscrowd``) boxes neither hit nor miss."""

from __future__ import annotations

import torch

from coalwatch.train.metrics import DetectionMetrics, OperatingPoint, match_predictions

CLASSES = ["ore_car", "other_railcar", "bulk_carrier", "other_vessel", "coal_heap"]


def _boxes(*rows: tuple[float, float, float, float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


def test_each_true_box_is_matched_once_best_score_first() -> None:
    preds = _boxes((0, 0, 10, 10), (1, 1, 11, 11), (50, 50, 60, 60))
    matched = match_predictions(preds, torch.tensor([0.6, 0.9, 0.8]), _boxes((0, 0, 10, 10)))
    assert matched.tolist() == [False, True, False]
    assert not match_predictions(preds, torch.ones(3), _boxes()).any()


def _one_image(hidden: bool) -> tuple[list[dict], list[dict]]:
    """A visible heap found, and a detection on a second heap that may be hidden."""
    truth = {
        "boxes": _boxes((0, 0, 20, 20), (40, 40, 60, 60)),
        "labels": torch.tensor([5, 5]),
        "iscrowd": torch.tensor([False, hidden]),
    }
    pred = {
        "boxes": _boxes((0, 0, 20, 21), (40, 40, 60, 61)),
        "scores": torch.tensor([0.9, 0.8]),
        "labels": torch.tensor([5, 5]),
    }
    return [pred], [truth]


def test_a_detection_of_a_hidden_object_is_neither_hit_nor_false_alarm() -> None:
    point = OperatingPoint(len(CLASSES), score_threshold=0.5)
    point.update(*_one_image(hidden=True))
    out = point.compute(CLASSES)
    assert out["precision"] == 1.0 and out["recall"] == 1.0
    assert out["count_true/coal_heap"] == 1 and out["count_pred/coal_heap"] == 1
    assert out["count_mae/coal_heap"] == 0.0


def test_a_hidden_object_missed_is_not_a_miss() -> None:
    preds, targets = _one_image(hidden=True)
    preds[0] = {k: v[:1] for k, v in preds[0].items()}  # only the visible heap is found
    metrics = DetectionMetrics(CLASSES, score_threshold=0.5)
    metrics.update(preds, targets)
    out = metrics.compute()
    assert out["recall"] == 1.0 and out["AP/coal_heap"] > 0.99


def test_visible_objects_are_all_scored() -> None:
    preds, targets = _one_image(hidden=False)
    preds[0] = {k: v[:1] for k, v in preds[0].items()}
    metrics = DetectionMetrics(CLASSES, score_threshold=0.5)
    metrics.update(preds, targets)
    out = metrics.compute()
    assert out["recall"] == 0.5 and out["AP/coal_heap"] < 0.6


def test_ap50_per_class_counts_a_loose_box_that_coco_ap_discounts() -> None:
    truth = {"boxes": _boxes((0, 0, 20, 20), (40, 40, 60, 60)), "labels": torch.tensor([5, 1])}
    pred = {
        "boxes": _boxes((0, 0, 20, 26), (40, 40, 60, 60)),  # the heap box: IoU 0.77
        "scores": torch.tensor([0.9, 0.8]),
        "labels": torch.tensor([5, 1]),
    }
    metrics = DetectionMetrics(CLASSES, score_threshold=0.5)
    metrics.update([pred], [truth])
    out = metrics.compute()
    assert out["AP50/coal_heap"] > 0.99 and 0.2 < out["AP/coal_heap"] < 0.7
    assert out["AP50/ore_car"] > 0.99 and out["AP/ore_car"] > 0.99
    assert out["AP50/bulk_carrier"] == -1.0
