"""The IoU branch: targets, training, scores, post-processing, checkpoints, config."""

from __future__ import annotations

import pytest
import torch

from coalwatch.labels.taxonomy import load_taxonomy
from coalwatch.model.checkpoint import load_detector, save_detector
from coalwatch.model.detector import DetectorConfig, build_detector
from coalwatch.model.quality import QualityRoIHeads, paired_iou

torch.set_num_threads(1)
TILE = 64


def _config(**extra) -> DetectorConfig:
    small = {"rpn_pre_nms_top_n_train": 128, "rpn_post_nms_top_n_train": 64}
    small |= {"rpn_pre_nms_top_n_test": 128, "rpn_post_nms_top_n_test": 64}
    return DetectorConfig(
        backbone="tiny", tile_size=TILE, box_batch_size_per_image=32, **small, **extra
    )


def test_paired_iou() -> None:
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [5.0, 5.0, 6.0, 6.0]])
    torch.testing.assert_close(paired_iou(a, b), torch.tensor([1.0, 50 / 150, 0.0]))


def test_targets_are_the_refined_boxes_iou_in_the_objects_class_column() -> None:
    heads = build_detector(_config(iou_branch=True)).roi_heads
    assert isinstance(heads, QualityRoIHeads)
    target = {
        "boxes": torch.tensor([[10.0, 10.0, 20.0, 40.0], [40.0, 40.0, 50.0, 50.0]]),
        "labels": torch.tensor([2, 4]),
    }
    proposals = [
        torch.tensor(
            [
                [10.0, 10.0, 20.0, 40.0],  # on car 1 exactly
                [10.0, 25.0, 20.0, 55.0],  # half on car 1: IoU 1/3
                [41.0, 41.0, 51.0, 51.0],  # on the class-4 object, a pixel off
                [0.0, 0.0, 5.0, 5.0],  # background
            ]
        )
    ]
    deltas = torch.zeros(4, 6, 4)
    deltas[0, 2, 1] = 1 / 3  # class 2 moves the first proposal down a pixel (weight 10, 30 px)
    wanted, trained = heads.quality_targets(deltas.reshape(4, -1), proposals, [target])
    assert trained.tolist() == [
        [False, False, True, False, False, False],
        [False, False, True, False, False, False],
        [False, False, False, False, True, False],
        [False, True, True, True, True, True],
    ]
    torch.testing.assert_close(wanted[0, 2], torch.tensor(29 / 31))
    torch.testing.assert_close(wanted[1, 2], torch.tensor(1 / 3))
    torch.testing.assert_close(wanted[2, 4], torch.tensor(81 / 119))
    assert wanted[3].abs().sum() == 0


def test_training_learns_the_iou_branch_and_lowers_its_loss() -> None:
    torch.manual_seed(0)
    model = build_detector(_config(iou_branch=True)).train()
    image = torch.rand(3, TILE, TILE)
    target = {"boxes": torch.tensor([[8.0, 10.0, 40.0, 20.0]]), "labels": torch.tensor([2])}
    optimizer = torch.optim.Adam(model.roi_heads.parameters(), lr=1e-3)
    first = None
    for _ in range(30):
        torch.manual_seed(1)  # the same sampled proposals each step
        losses = model([image], [target])
        assert set(losses) >= {"loss_classifier", "loss_box_reg", "loss_box_iou"}
        first = first if first is not None else losses["loss_box_iou"].item()
        optimizer.zero_grad()
        sum(losses.values()).backward()
        assert model.roi_heads.iou_predictor.weight.grad.abs().sum() > 0
        optimizer.step()
    assert losses["loss_box_iou"].item() < first * 0.9


def test_an_empty_chip_trains_the_branch_towards_zero() -> None:
    torch.manual_seed(0)
    model = build_detector(_config(iou_branch=True)).train()
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}
    losses = model([torch.rand(3, TILE, TILE)], [empty])
    assert torch.isfinite(losses["loss_box_iou"]) and losses["loss_box_iou"] > 0


def test_weight_zero_scores_and_selects_exactly_as_torchvision() -> None:
    torch.manual_seed(0)
    plain = build_detector(_config(box_score_thresh=0.0)).eval()
    quality = build_detector(_config(box_score_thresh=0.0, iou_branch=True, iou_score_weight=0.0))
    missing, unexpected = quality.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("roi_heads.iou_predictor") for k in missing)
    quality.eval()
    image = torch.rand(3, TILE, TILE)
    with torch.no_grad():
        (expected,) = plain([image])
        (got,) = quality([image])
    assert len(expected["boxes"]) > 0
    for key in ("boxes", "labels", "scores"):
        torch.testing.assert_close(got[key], expected[key])


def test_scores_combine_probability_and_predicted_iou() -> None:
    heads = build_detector(_config(iou_branch=True, iou_score_weight=0.5)).roi_heads
    logits = torch.tensor([[0.0, 2.0, 0.0, 0.0, 0.0, 0.0]])
    iou_logits = torch.tensor([[0.0, 1.0, -1.0, 0.0, 0.0, 0.0]])
    scores = heads.quality_scores(logits, iou_logits)
    expected = (logits.softmax(1) * iou_logits.sigmoid()).sqrt()
    torch.testing.assert_close(scores, expected)
    heads.score_weight = 1.0
    torch.testing.assert_close(heads.quality_scores(logits, iou_logits), iou_logits.sigmoid())


def test_checkpoint_round_trip(tmp_path) -> None:
    torch.manual_seed(2)
    cfg = _config(iou_branch=True, iou_score_weight=0.7)
    model = build_detector(cfg).eval()
    path = save_detector(tmp_path / "q.ckpt", model, cfg, load_taxonomy("default"))
    loaded, config, _ = load_detector(path)
    assert isinstance(loaded.roi_heads, QualityRoIHeads)
    assert loaded.roi_heads.score_weight == 0.7
    assert config["detector"]["iou_branch"] is True
    image = torch.rand(3, TILE, TILE)
    with torch.no_grad():
        torch.testing.assert_close(model([image])[0]["scores"], loaded([image])[0]["scores"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"iou_score_weight": 1.5}, "iou_score_weight"),
        ({"iou_branch": True, "cascade_iou_thresholds": (0.6,)}, "cannot be combined"),
    ],
)
def test_bad_settings_are_refused(settings, message) -> None:
    with pytest.raises(ValueError, match=message):
        DetectorConfig(**settings)
