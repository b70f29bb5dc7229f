"""Cascade R-CNN stages: each trained, refining boxes by the right class, scores averaged."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from coalwatch.labels.taxonomy import load_taxonomy
from coalwatch.model.cascade import CascadeRoIHeads, refined_boxes
from coalwatch.model.checkpoint import load_detector, save_detector
from coalwatch.model.detector import DetectorConfig, build_detector

torch.set_num_threads(1)
TILE = 64


def _config(**extra) -> DetectorConfig:
    small = {"rpn_pre_nms_top_n_train": 128, "rpn_post_nms_top_n_train": 64}
    small |= {"rpn_pre_nms_top_n_test": 128, "rpn_post_nms_top_n_test": 64}
    return DetectorConfig(
        backbone="tiny",
        tile_size=TILE,
        box_batch_size_per_image=32,
        cascade_iou_thresholds=(0.6, 0.7),
        **small,
        **extra,
    )


def _cascade(**extra) -> torch.nn.Module:
    return build_detector(_config(**extra))


def test_every_stage_is_trained_at_its_iou_with_tighter_coding() -> None:
    torch.manual_seed(0)
    model = _cascade()
    heads = model.roi_heads
    assert isinstance(heads, CascadeRoIHeads)
    assert [s.proposal_matcher.high_threshold for s in heads.stages] == [0.5, 0.6, 0.7]
    assert [s.proposal_matcher.low_threshold for s in heads.stages] == [0.5, 0.6, 0.7]
    assert [s.box_coder.weights for s in heads.stages] == [
        (10.0, 10.0, 5.0, 5.0),
        (20.0, 20.0, 10.0, 10.0),
        (30.0, 30.0, 15.0, 15.0),
    ]
    target = {"boxes": torch.tensor([[8.0, 10.0, 40.0, 20.0]]), "labels": torch.tensor([2])}
    losses = model([torch.rand(3, TILE, TILE)], [target])
    stage_losses = {
        f"loss_{kind}{s}" for kind in ("classifier", "box_reg") for s in ("", "_2", "_3")
    }
    assert stage_losses <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    for stage in heads.stages:
        assert stage.box_roi_pool is heads.stages[0].box_roi_pool
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in stage.parameters())


def test_refined_boxes_move_by_the_assigned_class_else_the_likeliest() -> None:
    coder = _cascade().roi_heads.stages[0].box_coder
    proposals = [torch.tensor([[10.0, 10.0, 20.0, 20.0], [50.0, 50.0, 60.0, 60.0]])]
    logits = torch.tensor([[0.0, 5.0, 0.0, 0.0, 0.0, 0.0], [9.0, 0.0, 0.0, 3.0, 0.0, 0.0]])
    deltas = torch.zeros(2, 6, 4)
    deltas[:, 1, 0] = 0.1  # class 1 moves boxes right by 0.1 x width / weight 10
    deltas[:, 2, 1] = 0.1  # class 2 moves them down
    deltas[:, 3, 2] = 0.1  # class 3 widens them
    flat = deltas.reshape(2, -1).requires_grad_()
    # training: the first is an object of class 2, the second background (likeliest object: 3)
    (trained,) = refined_boxes(coder, logits, flat, proposals, [torch.tensor([2, 0])], [(64, 64)])
    torch.testing.assert_close(trained[0], torch.tensor([10.0, 10.1, 20.0, 20.1]))
    assert trained[1, 2] > 60.0 and trained[1, 0] < 50.0  # widened, clipped at most to 64
    assert not trained.requires_grad
    # inference: the likeliest object class (1 for the first box), clipped to the image
    (tested,) = refined_boxes(coder, logits, flat, [proposals[0] + 45.0], None, [(64, 64)])
    torch.testing.assert_close(tested[0], torch.tensor([55.1, 55.0, 64.0, 64.0]))


class _Constant(nn.Module):
    """A predictor answering the same class logits and no box movement for every RoI."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        return self.logits.expand(n, -1), torch.zeros(n, 4 * len(self.logits))


def test_scores_are_the_mean_of_the_stages() -> None:
    torch.manual_seed(0)
    model = _cascade(box_score_thresh=0.0).eval()
    stages = model.roi_heads.stages
    stage_logits = [[0.0, 2.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]]
    stage_logits.append([1.0, 3.0, 0.0, 0.0, 0.0, 0.0])
    for stage, logits in zip(stages, stage_logits, strict=True):
        stage.box_predictor = _Constant(logits)
    with torch.no_grad():
        (out,) = model([torch.rand(3, TILE, TILE)])
    mean = torch.stack([torch.tensor(s).softmax(0) for s in stage_logits]).mean(0)
    assert len(out["scores"]) > 0
    top = out["scores"][out["labels"] == 1].max()
    torch.testing.assert_close(top, mean[1])


def test_cascade_checkpoint_round_trip(tmp_path) -> None:
    torch.manual_seed(2)
    cfg = _config()
    model = build_detector(cfg).eval()
    assert DetectorConfig.from_dict(cfg.to_dict()) == cfg
    path = save_detector(tmp_path / "c.ckpt", model, cfg, load_taxonomy("default"))
    loaded, config, _ = load_detector(path)
    assert isinstance(loaded.roi_heads, CascadeRoIHeads)
    assert config["detector"]["cascade_iou_thresholds"] == [0.6, 0.7]
    image = torch.rand(3, TILE, TILE)
    with torch.no_grad():
        torch.testing.assert_close(model([image])[0]["boxes"], loaded([image])[0]["boxes"])


@pytest.mark.parametrize("bad", [(0.0,), (0.6, 1.0)])
def test_thresholds_outside_zero_one_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="cascade_iou_thresholds"):
        DetectorConfig(cascade_iou_thresholds=bad)
