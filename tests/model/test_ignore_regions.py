"""Ignore regions: anchors and proposals inside them are neither objects nor background."""

from __future__ import annotations

import torch

from coalwatch.model.detector import build_detector
from coalwatch.model.ignore_regions import (
    IGNORE_KEY,
    IGNORED,
    IgnoreRegionRoIHeads,
    ignore_background,
    share_inside,
)

SMALL = {"backbone": "tiny", "tile_size": 96, "box_batch_size_per_image": 64}
REGION = torch.tensor([[0.0, 0.0, 40.0, 40.0]])


def test_share_inside_is_the_box_area_inside_the_region() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10, 10], [30, 0, 50, 10], [60, 60, 70, 70]])
    share = share_inside(boxes, REGION)
    torch.testing.assert_close(share, torch.tensor([1.0, 0.5, 0.0]))
    assert share_inside(boxes, torch.zeros((0, 4))).tolist() == [0.0, 0.0, 0.0]


def test_only_background_inside_a_region_is_ignored() -> None:
    boxes = torch.tensor([[0.0, 0, 10, 10], [5, 5, 15, 15], [30, 0, 50, 10], [60, 60, 70, 70]])
    labels = torch.tensor([0, 3, 0, 0])
    assert ignore_background(boxes, labels, REGION).tolist() == [IGNORED, 3, IGNORED, 0]
    assert ignore_background(boxes, labels, REGION, min_inside=0.6).tolist() == [IGNORED, 3, 0, 0]
    assert ignore_background(boxes, labels, None) is labels


def _target(ignore: torch.Tensor | None) -> dict[str, torch.Tensor]:
    target = {"boxes": torch.tensor([[70.0, 70, 80, 90]]), "labels": torch.tensor([1])}
    if ignore is not None:
        target[IGNORE_KEY] = ignore
    return target


def test_rpn_leaves_anchors_in_ignore_regions_out() -> None:
    rpn = build_detector(SMALL).rpn
    anchors = torch.tensor([[70.0, 70, 80, 90], [2, 2, 12, 12], [10, 10, 30, 30], [45, 45, 60, 60]])
    plain, _ = rpn.assign_targets_to_anchors([anchors], [_target(None)])
    ignored, _ = rpn.assign_targets_to_anchors([anchors], [_target(REGION)])
    assert plain[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert ignored[0].tolist() == [1.0, -1.0, -1.0, 0.0]
    empty = {"boxes": torch.zeros((0, 4)), "labels": torch.zeros(0, dtype=torch.int64)}
    only_regions, _ = rpn.assign_targets_to_anchors([anchors], [empty | {IGNORE_KEY: REGION}])
    assert only_regions[0].tolist() == [0.0, -1.0, -1.0, 0.0]


def test_box_head_samples_no_background_inside_ignore_regions() -> None:
    heads = build_detector(SMALL).roi_heads
    assert isinstance(heads, IgnoreRegionRoIHeads)
    torch.manual_seed(0)
    corners = torch.rand(400, 2) * 80
    proposals = torch.cat([corners, corners + torch.rand(400, 2) * 15 + 2], 1)
    for region, expect_inside in [(None, True), (REGION, False)]:
        sampled, _, labels, _ = heads.select_training_samples([proposals], [_target(region)])
        background = sampled[0][labels[0] == 0]
        inside = share_inside(background, REGION) >= 0.5
        assert bool(inside.any()) is expect_inside
        assert (labels[0] > 0).any()  # the object and its proposals stay positives
    assert heads._regions is None


def test_cascade_stages_and_training_honour_ignore_regions() -> None:
    model = build_detector(SMALL | {"cascade_iou_thresholds": [0.6]})
    assert all(isinstance(stage, IgnoreRegionRoIHeads) for stage in model.roi_heads.stages)
    torch.manual_seed(0)
    images = [torch.rand(3, 96, 96), torch.rand(3, 96, 96)]
    empty = {"boxes": torch.zeros((0, 4)), "labels": torch.zeros(0, dtype=torch.int64)}
    losses = model(images, [_target(REGION), empty | {IGNORE_KEY: REGION}])
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["loss_classifier"] > 0
