"""RoIAlign for CPU training steps as one sparse matrix product.

torchvision's CPU ``roi_align`` backward scatters every bilinear sample into the feature
gradient one RoI at a time, on one thread: in a CPU training step of the default detector it
took about 40% of the time. RoIAlign is linear in the features, so for a batch of RoIs it is
one sparse matrix ``S`` (a row per output bin, the bilinear weights of its samples averaged)
times the flattened features, and its backward is ``S^T @ grad``: both are multithreaded
sparse-dense products. :class:`SparseRoIAlign` uses that in training on the CPU and
torchvision's operator everywhere else (inference, ONNX export, GPU), with the same numbers.

``aligned=True`` is RoIAlign with the half-pixel correction (Detectron2's ROIAlignV2): a box
edge at image pixel x samples the feature map at ``x * scale - 0.5``, where the feature cell
whose centre it is lies, and boxes narrower than a cell stay narrower. Without it (torchvision's
``MultiScaleRoIAlign``) a box is read half a cell off (2 px at stride 4) and at least a cell
wide: a 3 px wide rail car at 1 m is pooled as 4 px, shifted by 2.
"""

from __future__ import annotations

import warnings

import torch
import torchvision
from torch import Tensor
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.poolers import (
    _convert_to_roi_format,
    _filter_input,
    _onnx_merge_levels,
    _setup_scales,
)


def _corners(coord: Tensor, size: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Low and high neighbour, their weights and validity of sample coordinates along one axis,
    following torchvision's RoIAlign (samples beyond [-1, size] read zero; others clamp)."""
    valid = (coord >= -1.0) & (coord <= size)
    coord = coord.clamp(min=0.0)
    low = coord.floor().long().clamp(max=size - 1)
    high = (low + 1).clamp(max=size - 1)
    coord = torch.where(low >= size - 1, low.to(coord.dtype), coord)
    frac = coord - low
    return low, high, 1.0 - frac, frac, valid


def sampling_matrix(
    rois: Tensor,
    feature_shape: tuple[int, int, int],
    output_size: tuple[int, int],
    spatial_scale: float,
    sampling_ratio: int,
    aligned: bool = False,
) -> Tensor:
    """Sparse CSR matrix of shape (R * ph * pw, N * H * W): row ``(r, i, j)`` averages the
    bilinear samples of bin ``(i, j)`` of RoI ``r`` (``rois`` rows are batch index, x1, y1, x2,
    y2 in image pixels; ``feature_shape`` is N, H, W; torchvision's RoIAlign with ``aligned``)."""
    n, h, w = feature_shape
    ph, pw = output_size
    s = sampling_ratio
    count = len(rois)
    shift = 0.5 if aligned else 0.0
    x1 = rois[:, 1] * spatial_scale - shift
    y1 = rois[:, 2] * spatial_scale - shift
    roi_w = rois[:, 3] * spatial_scale - shift - x1
    roi_h = rois[:, 4] * spatial_scale - shift - y1
    if not aligned:
        roi_w, roi_h = roi_w.clamp(min=1.0), roi_h.clamp(min=1.0)
    steps_x = (torch.arange(pw * s, dtype=rois.dtype, device=rois.device) + 0.5) / (pw * s)
    steps_y = (torch.arange(ph * s, dtype=rois.dtype, device=rois.device) + 0.5) / (ph * s)
    x_low, x_high, wx_low, wx_high, x_ok = _corners(x1[:, None] + roi_w[:, None] * steps_x, w)
    y_low, y_high, wy_low, wy_high, y_ok = _corners(y1[:, None] + roi_h[:, None] * steps_y, h)

    offset = rois[:, 0].long()[:, None, None] * (h * w)
    index = torch.stack(
        [
            offset + yi[:, :, None] * w + xi[:, None, :]
            for yi in (y_low, y_high)
            for xi in (x_low, x_high)
        ],
        dim=-1,
    )  # (R, ph*s, pw*s, 4)
    weight = torch.stack(
        [wy[:, :, None] * wx[:, None, :] for wy in (wy_low, wy_high) for wx in (wx_low, wx_high)],
        dim=-1,
    )
    weight = weight * (y_ok[:, :, None] & x_ok[:, None, :]).unsqueeze(-1) / (s * s)
    per_bin = s * s * 4
    # Order the entries bin by bin: (R, ph, s, pw, s, 4) -> (R, ph, pw, s, s, 4).
    index = index.reshape(count, ph, s, pw, s, 4).permute(0, 1, 3, 2, 4, 5).reshape(-1)
    weight = weight.reshape(count, ph, s, pw, s, 4).permute(0, 1, 3, 2, 4, 5).reshape(-1)
    rows = torch.arange(0, count * ph * pw * per_bin + 1, per_bin, device=rois.device)
    shape = (count * ph * pw, n * h * w)
    with warnings.catch_warnings():  # "sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(rows, index, weight, shape, check_invariants=False)


def roi_align_sparse(
    feature: Tensor,
    rois: Tensor,
    output_size: tuple[int, int],
    spatial_scale: float,
    sampling_ratio: int,
    aligned: bool = False,
) -> Tensor:
    """``torchvision.ops.roi_align(feature, rois, ...)`` as a sparse product."""
    n, c, h, w = feature.shape
    matrix = sampling_matrix(
        rois.detach(), (n, h, w), output_size, spatial_scale, sampling_ratio, aligned
    )
    flat = feature.permute(0, 2, 3, 1).reshape(n * h * w, c)
    pooled = matrix @ flat
    return pooled.reshape(len(rois), *output_size, c).permute(0, 3, 1, 2)


class SparseRoIAlign(MultiScaleRoIAlign):
    """torchvision's ``MultiScaleRoIAlign`` with a choice of ``aligned`` (torchvision's pooler
    is always ``aligned=False``), whose CPU training forward (and so its backward) is
    :func:`roi_align_sparse`; inference, tracing and other devices use torchvision's operator."""

    def __init__(
        self,
        featmap_names: list[str],
        output_size: int | tuple[int, int],
        sampling_ratio: int,
        *,
        aligned: bool = False,
    ) -> None:
        super().__init__(featmap_names, output_size, sampling_ratio)
        self.aligned = aligned

    def _sparse(self, feature: Tensor) -> bool:
        return (
            self.training
            and self.sampling_ratio > 0
            and not torchvision._is_tracing()
            and not torch.jit.is_scripting()
            and feature.device.type == "cpu"
            and feature.dtype == torch.float32
        )

    def forward(
        self, x: dict[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]]
    ) -> Tensor:
        features = _filter_input(x, self.featmap_names)
        if self.scales is None or self.map_levels is None:
            self.scales, self.map_levels = _setup_scales(
                features, image_shapes, self.canonical_scale, self.canonical_level
            )
        # both take (features, rois, output size, scale, sampling ratio, aligned) in that order
        pool = roi_align_sparse if self._sparse(features[0]) else torchvision.ops.roi_align
        rois = _convert_to_roi_format(boxes)
        levels = self.map_levels(boxes)
        dtype = features[0].dtype
        pooled = features[0].new_zeros((len(rois), features[0].shape[1], *self.output_size))
        per_level = []
        for level, (feature, scale) in enumerate(zip(features, self.scales, strict=True)):
            picked = torch.where(levels == level)[0]
            result = pool(
                feature, rois[picked], self.output_size, scale, self.sampling_ratio, self.aligned
            )
            if torchvision._is_tracing():
                per_level.append(result.to(dtype))
            else:
                # autocast may give levels other dtypes: cast before the in-place copy
                pooled[picked] = result.to(dtype)
        if torchvision._is_tracing():
            return _onnx_merge_levels(levels, per_level)
        return pooled
