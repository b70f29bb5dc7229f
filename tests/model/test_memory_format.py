"""Channels-last backbones: the same numbers, the same state dict, NHWC features."""

from __future__ import annotations

import copy

import pytest
import torch

from coalwatch.model.detector import DetectorConfig, build_detector
from coalwatch.model.memory_format import use_channels_last


@pytest.mark.parametrize("fine_level", [False, True])
def test_channels_last_backbone_gives_the_same_features_and_losses(fine_level: bool) -> None:
    torch.manual_seed(0)
    cfg = DetectorConfig(
        backbone="efficientnet_lite0",
        num_classes=5,
        tile_size=128,
        fpn_channels=32,
        fine_level=fine_level,
    )
    plain = build_detector(cfg, load_weights=False).eval()
    nhwc = use_channels_last(copy.deepcopy(plain))
    images = [torch.rand(3, 128, 128), torch.rand(3, 128, 128)]
    with torch.no_grad():
        batch = plain.transform(images)[0].tensors
        expected, found = plain.backbone(batch), nhwc.backbone(batch)
    for name, features in expected.items():
        assert found[name].is_contiguous(memory_format=torch.channels_last), name
        torch.testing.assert_close(found[name], features, atol=1e-4, rtol=1e-3)
    targets = [{"boxes": torch.tensor([[10.0, 20.0, 40.0, 30.0]]), "labels": torch.tensor([1])}] * 2
    losses = []
    for model in (plain, nhwc):
        model.train()
        torch.manual_seed(3)  # the same anchor and proposal sampling
        losses.append(sum(model(images, targets).values()))
    # float rounding may reorder near-tied proposals, so the losses agree to 1%, not 1e-6
    torch.testing.assert_close(losses[1], losses[0], atol=1e-3, rtol=1e-2)
    losses[1].backward()  # gradients flow through the NHWC convolutions
    assert nhwc.backbone.fpn.inner_blocks[0][0].weight.grad is not None


def test_channels_last_state_dict_loads_into_a_fresh_detector() -> None:
    cfg = DetectorConfig(backbone="tiny", num_classes=5, tile_size=96)
    torch.manual_seed(0)
    nhwc = use_channels_last(build_detector(cfg))
    fresh = build_detector(cfg)
    fresh.load_state_dict(nhwc.state_dict())
    image = [torch.rand(3, 96, 96)]
    with torch.no_grad():
        a, b = fresh.eval()(image)[0], nhwc.eval()(image)[0]
    torch.testing.assert_close(b["scores"], a["scores"], atol=1e-4, rtol=1e-3)
