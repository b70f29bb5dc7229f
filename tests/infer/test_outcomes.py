"""Sorting an evaluated image's false alarms by kind, and what counts as missed."""

from __future__ import annotations

import numpy as np

from coalwatch.infer.outcomes import classify

CAR_A = (0.0, 0.0, 26.0, 6.0)
CAR_B = (30.0, 0.0, 56.0, 6.0)
HEAP = (100.0, 100.0, 160.0, 150.0)


def test_each_false_alarm_gets_its_kind() -> None:
    gt = np.array([CAR_A, CAR_B, HEAP])
    gt_classes = ["ore_car", "ore_car", "coal_heap"]
    boxes = np.array(
        [
            CAR_A,  # hit on car A
            (1.0, 0.0, 27.0, 6.0),  # a second box on car A: duplicate
            (15.0, 0.0, 41.0, 6.0),  # straddling A and B: misplaced, claims B
            (101.0, 100.0, 160.0, 150.0),  # a car on the heap: wrong class, claims it
            (300.0, 300.0, 326.0, 306.0),  # on nothing: background
        ]
    )
    classes = ["ore_car"] * 5
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    hit = np.array([0, -1, -1, -1, -1])
    outcome = classify(boxes, classes, scores, hit, gt, gt_classes, np.zeros(3, bool))
    assert outcome.kinds == ("hit", "duplicate", "misplaced", "wrong_class", "background")
    assert len(outcome.missed) == 0  # B and the heap were claimed: shown once, as the box
    assert outcome.labelled == 3
    assert outcome.kind_counts()["ore_car"] == {
        "hit": 1,
        "duplicate": 1,
        "wrong_class": 1,
        "misplaced": 1,
        "background": 1,
    }


def test_unclaimed_objects_are_missed_and_ignored_ones_left_out() -> None:
    gt = np.array([CAR_A, CAR_B, HEAP])
    ignore = np.array([False, False, True])
    boxes = np.array([CAR_A, HEAP])
    hit = np.array([0, -2])  # the second matched the ignored heap
    outcome = classify(
        boxes,
        ["ore_car", "coal_heap"],
        np.array([0.9, 0.9]),
        hit,
        gt,
        ["ore_car", "ore_car", "coal_heap"],
        ignore,
    )
    assert outcome.kinds == ("hit",)  # the box on the ignored heap is neither right nor wrong
    np.testing.assert_array_equal(outcome.missed, [CAR_B])
    assert outcome.missed_classes == ("ore_car",) and outcome.labelled == 2


def test_a_misplaced_box_claims_only_an_unfound_object_once() -> None:
    gt = np.array([CAR_A])
    boxes = np.array([(10.0, 0.0, 36.0, 6.0), (12.0, 0.0, 38.0, 6.0)])  # both loose on A
    outcome = classify(
        boxes,
        ["ore_car"] * 2,
        np.array([0.8, 0.7]),
        np.array([-1, -1]),
        gt,
        ["ore_car"],
        np.zeros(1, bool),
    )
    assert outcome.kinds == ("misplaced", "misplaced") and len(outcome.missed) == 0
