"""Test-time views: turned and mirrored tiles, boxes mapped back and fused."""

from __future__ import annotations

import numpy as np
import pytest

from coalwatch.infer.detections import Detections
from coalwatch.infer.views import (
    boxes_from_view,
    detect_views,
    fuse_views,
    view_image,
)

BOX = (30.0, 10.0, 52.0, 16.0)  # a car-like rectangle on a 48 x 64 (H x W) image


def _image() -> np.ndarray:
    image = np.zeros((3, 48, 64), np.float32)
    x0, y0, x1, y1 = (int(v) for v in BOX)
    image[:, y0:y1, x0:x1] = 1.0
    image[0, 0, 0] = 0.5  # a marker that makes every view different
    return image


def _bright_box(image: np.ndarray, score: float = 0.8) -> Detections:
    ys, xs = np.nonzero(image[1] > 0.9)
    box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    return Detections(np.array([box], float), [score], [1])


@pytest.mark.parametrize("view", range(8))
def test_boxes_map_back_from_every_view(view: int) -> None:
    image = _image()
    seen = view_image(image, view)
    assert seen.shape == ((3, 64, 48) if view % 2 else (3, 48, 64))
    found = _bright_box(seen).boxes
    np.testing.assert_allclose(boxes_from_view(found, view, 48, 64), [BOX])


def test_views_are_the_eight_distinct_orientations() -> None:
    image = _image()
    seen = {view_image(image, v).tobytes() for v in range(8)}
    assert len(seen) == 8


def test_fusion_averages_agreeing_boxes_by_score_and_scores_agreement() -> None:
    a = Detections([[10.0, 10.0, 20.0, 40.0]], [0.9], [1])
    b = Detections([[11.0, 10.0, 21.0, 40.0], [60.0, 60.0, 70.0, 70.0]], [0.3, 0.8], [1, 1])
    c = Detections([[10.0, 10.0, 20.0, 40.0]], [0.6], [2])  # same place, other class
    fused = fuse_views([a, b, c])
    assert len(fused) == 3
    by_score = {round(float(s), 6): box for s, box in zip(fused.scores, fused.boxes, strict=True)}
    # class 1, two views of three agree: mean score 0.6 x 2/3; box weighted 0.9 : 0.3
    np.testing.assert_allclose(by_score[0.4], [10.25, 10.0, 20.25, 40.0])
    np.testing.assert_allclose(by_score[round(0.8 / 3, 6)], [60.0, 60.0, 70.0, 70.0])
    np.testing.assert_allclose(by_score[0.2], [10.0, 10.0, 20.0, 40.0])
    assert list(fused.scores) == sorted(fused.scores, reverse=True)


def test_boxes_below_the_fusion_iou_stay_apart() -> None:
    # two cars of a train, a pixel apart: IoU 0, never one box
    cars = Detections([[0.0, 0.0, 26.0, 6.0], [27.0, 0.0, 53.0, 6.0]], [0.9, 0.8], [1, 1])
    fused = fuse_views([cars, cars])
    assert len(fused) == 2
    np.testing.assert_allclose(fused.scores, [0.9, 0.8], rtol=1e-6)


def test_one_view_is_the_detector_itself_and_other_counts_are_refused() -> None:
    image = _image()
    np.testing.assert_array_equal(detect_views(_bright_box, image, 1).boxes, [BOX])
    with pytest.raises(ValueError, match="views"):
        detect_views(_bright_box, image, 3)


@pytest.mark.parametrize("views", [4, 8])
def test_an_orientation_blind_detector_is_fused_to_its_own_answer(views: int) -> None:
    fused = detect_views(_bright_box, _image(), views)
    np.testing.assert_allclose(fused.boxes, [BOX])
    np.testing.assert_allclose(fused.scores, [0.8], rtol=1e-6)
    assert len(fused) == 1 and fused.class_ids[0] == 1


def test_nothing_found_in_any_view() -> None:
    assert len(fuse_views([Detections.empty(), Detections.empty()])) == 0
