"""Ignore regions in training: parts of a chip that are neither object nor background.

A training target may carry ``"ignore"``, float (M, 4) xyxy boxes: objects the labels know
but the chip does not show whole (a fragment cut by the chip's or the crop's border, an
object under cloud). torchvision's matchers would call every anchor and proposal on them
background, teaching the model that half a heap is not a heap. Here an anchor or proposal
that the matcher calls background and that lies mostly inside an ignore region (at least
half its area, as COCO scoring matches a detection to a crowd region) is left out of the
sampled losses instead: neither a positive nor a negative. Positives are never changed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchvision.models.detection.roi_heads import RoIHeads

IGNORE_KEY = "ignore"
MIN_INSIDE = 0.5  # share of a box's area inside an ignore region that makes it ignored
IGNORED = -1  # the label torchvision's samplers skip


def share_inside(boxes: Tensor, regions: Tensor) -> Tensor:
    """(N,) largest share of each box's area that lies inside one of ``regions``."""
    if boxes.numel() == 0 or regions.numel() == 0:
        return boxes.new_zeros(len(boxes))
    top_left = torch.maximum(boxes[:, None, :2], regions[None, :, :2])
    bottom_right = torch.minimum(boxes[:, None, 2:], regions[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    area = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0).prod(-1)
    return (inter / area.clamp(min=1e-6)[:, None]).amax(1)


def ignore_background(
    boxes: Tensor, labels: Tensor, regions: Tensor | None, min_inside: float = MIN_INSIDE
) -> Tensor:
    """``labels`` with background entries (0) inside an ignore region set to -1."""
    if regions is None or regions.numel() == 0:
        return labels
    inside = share_inside(boxes, regions.to(boxes)) >= min_inside
    return torch.where((labels == 0) & inside, torch.full_like(labels, IGNORED), labels)


class IgnoreRegionRoIHeads(RoIHeads):
    """torchvision's box head, with proposals inside a target's ignore regions left out of
    the sampled background."""

    _regions: list[Tensor | None] | None = None

    def select_training_samples(
        self, proposals: list[Tensor], targets: list[dict[str, Tensor]] | None
    ) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
        self._regions = [t.get(IGNORE_KEY) for t in targets] if targets is not None else None
        try:
            return super().select_training_samples(proposals, targets)
        finally:
            self._regions = None

    def assign_targets_to_proposals(
        self, proposals: list[Tensor], gt_boxes: list[Tensor], gt_labels: list[Tensor]
    ) -> tuple[list[Tensor], list[Tensor]]:
        matched, labels = super().assign_targets_to_proposals(proposals, gt_boxes, gt_labels)
        if self._regions is not None:
            labels = [
                ignore_background(p, lab, regions)
                for p, lab, regions in zip(proposals, labels, self._regions, strict=True)
            ]
        return matched, labels


def ignore_aware(heads: RoIHeads, **changes: Any) -> IgnoreRegionRoIHeads:
    """An :class:`IgnoreRegionRoIHeads` with ``heads``' modules and settings (``changes``
    replace some: ``box_head``, ``box_predictor``, ``fg_iou_thresh``, ``bg_iou_thresh``,
    ``bbox_reg_weights``)."""
    settings: dict[str, Any] = {
        "box_roi_pool": heads.box_roi_pool,
        "box_head": heads.box_head,
        "box_predictor": heads.box_predictor,
        "fg_iou_thresh": heads.proposal_matcher.high_threshold,
        "bg_iou_thresh": heads.proposal_matcher.low_threshold,
        "batch_size_per_image": heads.fg_bg_sampler.batch_size_per_image,
        "positive_fraction": heads.fg_bg_sampler.positive_fraction,
        "bbox_reg_weights": heads.box_coder.weights,
        "score_thresh": heads.score_thresh,
        "nms_thresh": heads.nms_thresh,
        "detections_per_img": heads.detections_per_img,
    }
    unknown = set(changes) - set(settings)
    if unknown:
        raise ValueError(f"unknown RoIHeads setting(s): {', '.join(sorted(unknown))}")
    return IgnoreRegionRoIHeads(**(settings | changes))
