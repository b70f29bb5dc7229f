"""build_detector and checkpoints: every backbone builds and runs; a checkpoint rebuilds alone."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import box_iou

from coalwatch.errors import InputError
from coalwatch.labels.taxonomy import load_taxonomy
from coalwatch.model.checkpoint import InferenceSettings, load_detector, save_detector
from coalwatch.model.detector import DetectorConfig, build_detector, count_parameters

torch.set_num_threads(1)


def test_tiny_is_small_and_never_resizes() -> None:
    model = build_detector(DetectorConfig(backbone="tiny", tile_size=128)).eval()
    assert count_parameters(model) < 1_000_000
    torch.manual_seed(0)
    with torch.no_grad():
        images, _ = model.transform([torch.rand(3, 96, 128)])
    # normalised and padded to a multiple of 32, never scaled up to the tile size
    assert images.image_sizes == [(96, 128)]
    with torch.no_grad():
        (out,) = model([torch.rand(3, 128, 128)])
    assert set(out) == {"boxes", "labels", "scores"}
    assert out["boxes"].shape[1] == 4


def test_anchors_cover_ore_cars_to_ships() -> None:
    cfg = DetectorConfig()
    sizes = [s for level in cfg.anchor_sizes for s in level]
    # an ore car at 0.5 m is about 26 x 6 px (sqrt area 12.5); ships reach 500 px
    assert min(sizes) <= 12 and max(sizes) >= 500
    assert min(cfg.aspect_ratios) <= 0.25 and max(cfg.aspect_ratios) >= 4


@pytest.mark.parametrize(
    ("backbone", "extra"),
    [
        ("mobilenet_v3", {}),
        ("resnet50_fpn_v2", {"box_head": "conv"}),
        ("efficientnet_lite0", {"pretrained": True}),
        ("efficientnet_lite0_tiny", {"pretrained": True, "trainable_backbone_layers": 0}),
    ],
)
def test_backbones_train_step_and_predict(backbone: str, extra: dict) -> None:
    torch.manual_seed(0)
    small = {"rpn_pre_nms_top_n_train": 128, "rpn_post_nms_top_n_train": 64}
    small |= {"rpn_pre_nms_top_n_test": 128, "rpn_post_nms_top_n_test": 64}
    cfg = DetectorConfig(
        backbone=backbone, tile_size=64, box_batch_size_per_image=32, **small, **extra
    )
    model = build_detector(cfg)
    target = {"boxes": torch.tensor([[8.0, 10.0, 40.0, 20.0]]), "labels": torch.tensor([2])}
    losses = model([torch.rand(3, 64, 64)], [target])
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    sum(losses.values()).backward()
    model.eval()
    with torch.no_grad():
        (out,) = model([torch.rand(3, 64, 64)])
    assert out["boxes"].ndim == 2


def test_config_round_trip_and_unknown_key() -> None:
    cfg = DetectorConfig(backbone="mobilenet_v3", anchor_sizes=[[4, 8]] * 5, aspect_ratios=[1, 2])
    again = DetectorConfig.from_dict(cfg.to_dict())
    assert again == cfg
    with pytest.raises(ValueError, match="anchor_szes"):
        DetectorConfig.from_dict({"anchor_szes": [[8]]})
    with pytest.raises(ValueError, match="same number"):
        DetectorConfig(anchor_sizes=[[8, 16], [32], [64], [128], [256]])


def test_checkpoint_rebuilds_the_same_model(tmp_path) -> None:
    taxonomy = load_taxonomy("default")
    cfg = DetectorConfig(backbone="tiny", tile_size=64, num_classes=taxonomy.num_classes)
    torch.manual_seed(1)
    model = build_detector(cfg).eval()
    settings = InferenceSettings(tile_size=64, tile_overlap=8, gsd_m=0.5, score_threshold=0.4)
    path = save_detector(tmp_path / "m.ckpt", model, cfg, taxonomy, settings, run={"seed": 3})
    loaded, config, tax = load_detector(path)
    assert not loaded.training
    assert tax == taxonomy
    assert config["inference"]["gsd_m"] == 0.5 and config["inference"]["tile_overlap"] == 8
    assert config["detector"]["tile_size"] == 64 and config["run"] == {"seed": 3}
    assert len(config["config_digest"]) == 16
    image = torch.rand(3, 64, 64)
    with torch.no_grad():
        a, b = model([image])[0], loaded([image])[0]
    torch.testing.assert_close(a["boxes"], b["boxes"])


def test_checkpoint_from_before_aligned_pooling_keeps_its_pooler(tmp_path) -> None:
    taxonomy = load_taxonomy("default")
    cfg = DetectorConfig(backbone="tiny", tile_size=64)
    assert cfg.roi_align_aligned  # new detectors pool with the half-pixel correction
    path = save_detector(tmp_path / "m.ckpt", build_detector(cfg), cfg, taxonomy)
    checkpoint = torch.load(path, weights_only=False)
    del checkpoint["hyper_parameters"]["detector"]["roi_align_aligned"]
    torch.save(checkpoint, path)
    loaded, config, _ = load_detector(path)
    assert config["detector"]["roi_align_aligned"] is False
    assert loaded.roi_heads.box_roi_pool.aligned is False


def test_fine_level_feeds_the_box_pooler_not_the_proposals(tmp_path) -> None:
    cfg = DetectorConfig(backbone="efficientnet_lite0", tile_size=128, fine_level=True)
    model = build_detector(cfg, load_weights=False)
    assert model.roi_heads.box_roi_pool.featmap_names == ["fine", "0", "1", "2", "3"]
    target = {"boxes": torch.tensor([[20.0, 30.0, 33.0, 34.0]]), "labels": torch.tensor([1])}
    losses = model([torch.rand(3, 128, 128)], [target])  # five anchored levels, one pooled more
    assert torch.isfinite(sum(losses.values()))
    losses["loss_box_reg"].backward()
    assert model.backbone.fine.lateral.weight.grad.abs().sum() > 0
    taxonomy = load_taxonomy("default")
    path = save_detector(tmp_path / "fine.ckpt", model, cfg, taxonomy)
    loaded, config, _ = load_detector(path)
    assert config["detector"]["fine_level"] is True
    loaded_maps = loaded.backbone(torch.rand(1, 3, 128, 128))
    assert next(iter(loaded_maps)) == "fine"
    with pytest.raises(ValueError, match="fine_level needs"):
        DetectorConfig(backbone="tiny", fine_level=True)


def _best_anchor_iou(model, boxes: torch.Tensor, tile: int) -> torch.Tensor:
    """Each box's best IoU with any anchor the model's RPN places on a ``tile`` px tile."""
    images, _ = model.transform([torch.zeros(3, tile, tile)])
    maps = model.backbone(images.tensors)
    anchored = list(model.rpn.anchored_maps(maps).values())
    anchors = model.rpn.anchor_generator(images, anchored)[0]
    return box_iou(boxes, anchors).max(1).values


def test_rpn_fine_level_anchors_thin_cars_at_every_offset(tmp_path) -> None:
    """A 1 m ore car (about 5 x 13 px) may sit between stride-4 anchor centres: on the
    stride-2 map some anchor overlaps it at IoU 0.5 wherever it lies."""
    cars = torch.tensor(
        [[x, 50.0 + x / 3, x + 4.9, 63.2 + x / 3] for x in torch.arange(60, 64, 0.25).tolist()]
    )
    sizes = ((6, 10), (8, 16), (24, 32), (48, 64), (96, 160), (256, 512))
    coarse = DetectorConfig(backbone="efficientnet_lite0", tile_size=128, fine_level=True)
    fine = DetectorConfig(**{**coarse.to_dict(), "rpn_fine_level": True, "anchor_sizes": sizes})
    with torch.no_grad():
        coarse_best = _best_anchor_iou(build_detector(coarse, load_weights=False), cars, 128)
        model = build_detector(fine, load_weights=False)
        fine_best = _best_anchor_iou(model, cars, 128)
    assert coarse_best.min() < 0.5 <= fine_best.min()
    target = {"boxes": cars[:3], "labels": torch.tensor([1, 2, 1])}
    losses = model([torch.rand(3, 128, 128)], [target])
    losses["loss_objectness"].backward()
    assert model.backbone.fine.lateral.weight.grad.abs().sum() > 0  # proposals train it
    path = save_detector(tmp_path / "m.ckpt", model, fine, load_taxonomy("default"))
    loaded, config, _ = load_detector(path)
    assert loaded.rpn.fine and config["detector"]["anchor_sizes"][0] == [6, 10]
    with pytest.raises(ValueError, match="rpn_fine_level needs fine_level"):
        DetectorConfig(backbone="efficientnet_lite0", rpn_fine_level=True, anchor_sizes=sizes)
    with pytest.raises(ValueError, match=r"anchored level \(6 levels\)"):
        DetectorConfig(backbone="efficientnet_lite0", fine_level=True, rpn_fine_level=True)


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "efficientnet_lite0_tiny"])
def test_pretrained_checkpoint_loads_without_weights_file(backbone: str, tmp_path) -> None:
    taxonomy = load_taxonomy("default")
    cfg = DetectorConfig(backbone=backbone, pretrained=True, tile_size=64)
    model = build_detector(cfg)
    path = save_detector(tmp_path / "e.ckpt", model, cfg, taxonomy)
    loaded, _, _ = load_detector(path)
    first = next(iter(model.backbone.body.state_dict().values()))
    torch.testing.assert_close(next(iter(loaded.backbone.body.state_dict().values())), first)


def test_bad_checkpoints(tmp_path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_detector(tmp_path / "missing.ckpt")
    junk = tmp_path / "junk.ckpt"
    junk.write_text("not a checkpoint")
    with pytest.raises(InputError, match=r"junk\.ckpt"):
        load_detector(junk)
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    with pytest.raises(InputError, match="hyper_parameters"):
        load_detector(tmp_path / "foreign.ckpt")
