"""IoU-balanced background sampling: even shares per IoU bin, the shortfall filled, the box
head built with it trains and predicts as the plain one does."""

from __future__ import annotations

import pytest
import torch

from coalwatch.model.detector import DetectorConfig, build_detector
from coalwatch.model.sampling import IoUBalancedRoIHeads, iou_balanced_negatives

torch.set_num_threads(1)
TILE = 64


def test_each_bin_gets_an_equal_share_where_it_has_enough() -> None:
    torch.manual_seed(0)
    # 900 easy negatives near IoU 0, 50 in each of the four harder bins of width 0.1
    ious = torch.cat(
        [torch.rand(900) * 0.09] + [0.1 * b + torch.rand(50) * 0.09 for b in range(1, 5)]
    )
    negatives = torch.arange(ious.numel())
    chosen = iou_balanced_negatives(ious, negatives, 100, 5, 0.5)
    per_bin = torch.histc(ious[chosen], 5, 0, 0.5)
    assert per_bin.tolist() == [20.0] * 5
    assert chosen.unique().numel() == 100


def test_sparse_bins_leave_their_share_to_the_rest() -> None:
    torch.manual_seed(0)
    ious = torch.cat([torch.rand(300) * 0.09, torch.full((3,), 0.45)])
    negatives = torch.arange(ious.numel())
    chosen = iou_balanced_negatives(ious, negatives, 50, 5, 0.5)
    assert chosen.numel() == 50 and chosen.unique().numel() == 50
    assert set(range(300, 303)) <= set(chosen.tolist())  # every hard one taken
    assert iou_balanced_negatives(ious, negatives[:10], 50, 5, 0.5).numel() == 10
    assert iou_balanced_negatives(ious, negatives[:0], 50, 5, 0.5).numel() == 0


def _config(**extra) -> DetectorConfig:
    small = {"rpn_pre_nms_top_n_train": 128, "rpn_post_nms_top_n_train": 64}
    small |= {"rpn_pre_nms_top_n_test": 128, "rpn_post_nms_top_n_test": 64}
    return DetectorConfig(
        backbone="tiny", tile_size=TILE, box_batch_size_per_image=32, **small, **extra
    )


def _batch() -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    generator = torch.Generator().manual_seed(3)
    images = [torch.rand(3, TILE, TILE, generator=generator) for _ in range(2)]
    boxes = torch.tensor([[10.0, 10.0, 30.0, 20.0], [40.0, 30.0, 50.0, 60.0]])
    targets = [
        {"boxes": boxes, "labels": torch.tensor([1, 2])},
        {"boxes": torch.zeros((0, 4)), "labels": torch.zeros(0, dtype=torch.int64)},  # empty chip
    ]
    return images, targets


def test_detector_samples_by_iou_and_trains() -> None:
    torch.manual_seed(0)
    model = build_detector(_config(box_negative_iou_bins=5))
    heads = model.roi_heads
    assert isinstance(heads, IoUBalancedRoIHeads) and heads.iou_bins == 5
    assert heads.fg_bg_sampler.batch_size_per_image == 32
    sampled: list[torch.Tensor] = []
    subsample = heads.subsample
    heads.subsample = lambda labels: sampled.extend(out := subsample(labels)) or out
    losses = model.train()(*_batch())
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert [s.numel() for s in sampled] == [32, 32]  # a chip's quota, the empty chip's too
    assert all((s.diff() > 0).all() for s in sampled)  # sorted, no proposal twice
    model.eval()
    with torch.no_grad():
        (detections,) = model([torch.rand(3, TILE, TILE)])
    assert set(detections) == {"boxes", "scores", "labels"}


def test_plain_sampling_unless_asked_and_bad_bins_refused() -> None:
    assert type(build_detector(_config()).roi_heads).__name__ == "RoIHeads"
    with pytest.raises(ValueError, match="box_negative_iou_bins"):
        _config(box_negative_iou_bins=-1)
