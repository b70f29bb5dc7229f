"""IoU-balanced background sampling for the box head (Pang et al., Libra R-CNN, 2019).

torchvision samples the box head's background proposals at random, so most are plain ground
far from any object. The hard ones (a box straddling two cars of a train, a box half on a
car) are few, and they are what the head most needs to reject: they overlap a true car at
IoU 0.2-0.4 and, scored high, push true boxes down the ranking or suppress them in NMS.
Here the background quota of each chip is spread evenly over IoU bins below the background
threshold; a bin with too few proposals leaves its share to random draws from the rest.
Objects are sampled as torchvision samples them; inference is untouched.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.ops import boxes as box_ops


def iou_balanced_negatives(
    ious: Tensor, negatives: Tensor, wanted: int, bins: int, top: float
) -> Tensor:
    """Indices of ``wanted`` proposals among ``negatives`` (indices into ``ious``), an equal
    share from each of ``bins`` IoU bins of equal width over [0, ``top``), the shortfall of
    sparse bins drawn at random from the proposals not yet taken."""
    wanted = min(wanted, negatives.numel())
    if wanted == 0:
        return negatives[:0]
    bin_of = (ious[negatives] / top * bins).long().clamp(0, bins - 1)
    share = wanted // bins
    taken = []
    for b in range(bins):
        members = negatives[bin_of == b]
        taken.append(members[torch.randperm(members.numel(), device=members.device)[:share]])
    chosen = torch.cat(taken)
    if chosen.numel() < wanted:
        rest = negatives[~torch.isin(negatives, chosen)]
        extra = rest[torch.randperm(rest.numel(), device=rest.device)[: wanted - chosen.numel()]]
        chosen = torch.cat([chosen, extra])
    return chosen


class IoUBalancedRoIHeads(RoIHeads):
    """torchvision's ``RoIHeads`` whose training background is sampled by
    :func:`iou_balanced_negatives` over ``iou_bins`` bins."""

    def __init__(self, *args, iou_bins: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if iou_bins < 1:
            raise ValueError("iou_bins must be at least 1")
        self.iou_bins = iou_bins
        self._best_ious: list[Tensor] = []  # per chip, set by assign_targets_to_proposals

    def assign_targets_to_proposals(
        self, proposals: list[Tensor], gt_boxes: list[Tensor], gt_labels: list[Tensor]
    ) -> tuple[list[Tensor], list[Tensor]]:
        self._best_ious = [
            box_ops.box_iou(gt, boxes).max(dim=0).values
            if gt.numel()
            else boxes.new_zeros(boxes.shape[0])
            for gt, boxes in zip(gt_boxes, proposals, strict=True)
        ]
        return super().assign_targets_to_proposals(proposals, gt_boxes, gt_labels)

    def subsample(self, labels: list[Tensor]) -> list[Tensor]:
        sampler = self.fg_bg_sampler
        per_image = sampler.batch_size_per_image
        top = self.proposal_matcher.low_threshold
        sampled = []
        for labels_in_image, ious in zip(labels, self._best_ious, strict=True):
            positive = torch.where(labels_in_image >= 1)[0]
            negative = torch.where(labels_in_image == 0)[0]
            num_pos = min(int(per_image * sampler.positive_fraction), positive.numel())
            positive = positive[torch.randperm(positive.numel(), device=positive.device)[:num_pos]]
            negative = iou_balanced_negatives(
                ious, negative, per_image - num_pos, self.iou_bins, top
            )
            sampled.append(torch.cat([positive, negative]).sort().values)
        return sampled
