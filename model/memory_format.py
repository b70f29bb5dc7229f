"""Channels-last (NHWC) memory for a detector's backbone and feature pyramid.

oneDNN's CPU convolutions (and tensor-core GPU ones under mixed precision) run faster on
NHWC tensors. The backbone's convolution weights are stored channels-last and a forward
pre-hook hands it its input batch in that layout; everything after the pyramid takes the
features as they come. Numbers stay those of the NCHW model up to float rounding, and the
state dict is the same (a fresh detector loads it), so checkpoints and ONNX export do not
change.
"""

from __future__ import annotations

import torch
from torchvision.models.detection import FasterRCNN


def _to_channels_last(module: torch.nn.Module, args: tuple) -> tuple:
    return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])


def use_channels_last(model: FasterRCNN) -> FasterRCNN:
    """Run ``model``'s backbone channels-last (in place; returns the model)."""
    model.backbone.to(memory_format=torch.channels_last)
    model.backbone.register_forward_pre_hook(_to_channels_last)
    return model
