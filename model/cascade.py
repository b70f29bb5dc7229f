"""Cascade R-CNN box stages on torchvision's ``RoIHeads`` (Cai and Vasconcelos, 2018).

Each extra stage pools the boxes the stage before it refined and is trained on them at a
stricter IoU, with tighter box-coder weights; at test time the last stage places the boxes
and the class probabilities of all stages are averaged. Meant for boxes a few pixels wide,
where one pixel of error costs a tenth of the IoU.

Each stage is a torchvision ``RoIHeads`` with its own head, predictor, matcher and box coder
(all sharing one pooler), so sampling, matching, decoding and post-processing stay
torchvision's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.roi_heads import RoIHeads, fastrcnn_loss
from torchvision.ops import boxes as box_ops

from coalwatch.model.ignore_regions import ignore_aware

STAGE_LOSS_WEIGHTS = (1.0, 0.5, 0.25)  # the paper's weights of stages 1-3; later ones 0.25


class CascadeRoIHeads(nn.Module):
    """``first`` (the detector's own ``RoIHeads``) followed by one refinement stage per IoU
    in ``refine_ious``, with ``first``'s pooler, sampling and post-processing settings."""

    def __init__(
        self,
        first: RoIHeads,
        refine_heads: Sequence[nn.Module],
        refine_predictors: Sequence[nn.Module],
        refine_ious: Sequence[float],
    ) -> None:
        super().__init__()
        if not len(refine_heads) == len(refine_predictors) == len(refine_ious) > 0:
            raise ValueError("a cascade needs one head, predictor and IoU per extra stage")
        stages = [first]
        for k, (head, predictor, iou) in enumerate(
            zip(refine_heads, refine_predictors, refine_ious, strict=True), start=2
        ):
            stages.append(
                ignore_aware(
                    first,
                    box_head=head,
                    box_predictor=predictor,
                    fg_iou_thresh=iou,  # positives at this IoU or more, background below it
                    bg_iou_thresh=iou,
                    bbox_reg_weights=tuple(w * k for w in first.box_coder.weights),  # k x tighter
                )
            )
        self.stages = nn.ModuleList(stages)

    @property
    def detections_per_img(self) -> int:
        """Detections kept per image (the last stage's post-processing, as ``RoIHeads``)."""
        return self.stages[-1].detections_per_img

    def forward(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        targets: list[dict[str, Tensor]] | None = None,
    ) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        if self.training and targets is None:
            raise ValueError("training needs targets")
        losses: dict[str, Tensor] = {}
        probabilities: list[Tensor] = []
        labels: list[Tensor] | None = None
        last = len(self.stages) - 1
        for k, stage in enumerate(self.stages):
            if self.training:
                proposals, _, labels, regression_targets = stage.select_training_samples(
                    proposals, targets
                )
            pooled = stage.box_roi_pool(features, proposals, image_shapes)
            class_logits, box_regression = stage.box_predictor(stage.box_head(pooled))
            if self.training:
                weight = STAGE_LOSS_WEIGHTS[min(k, len(STAGE_LOSS_WEIGHTS) - 1)]
                classifier, box_reg = fastrcnn_loss(
                    class_logits, box_regression, labels, regression_targets
                )
                suffix = "" if k == 0 else f"_{k + 1}"
                losses[f"loss_classifier{suffix}"] = classifier * weight
                losses[f"loss_box_reg{suffix}"] = box_reg * weight
            else:
                probabilities.append(F.softmax(class_logits, -1))
            if k < last:
                proposals = refined_boxes(
                    stage.box_coder, class_logits, box_regression, proposals, labels, image_shapes
                )
        if self.training:
            return [], losses
        # torchvision's post-processing takes logits: the log of the stages' mean probability
        mean = torch.stack(probabilities).mean(0).clamp_min(1e-12).log()
        boxes, scores, classes = self.stages[last].postprocess_detections(
            mean, box_regression, proposals, image_shapes
        )
        return [
            {"boxes": b, "labels": c, "scores": s}
            for b, s, c in zip(boxes, scores, classes, strict=True)
        ], {}


def refined_boxes(
    box_coder: BoxCoder,
    class_logits: Tensor,
    box_regression: Tensor,
    proposals: list[Tensor],
    labels: list[Tensor] | None,
    image_shapes: list[tuple[int, int]],
) -> list[Tensor]:
    """Each proposal moved by the regression of its class (its object's class in training,
    else the most likely object class), clipped to its image, without gradient."""
    decoded = box_coder.decode(box_regression.detach(), proposals)
    cls = class_logits.detach()[:, 1:].argmax(1) + 1
    if labels is not None:
        assigned = torch.cat(labels)
        cls = torch.where(assigned > 0, assigned, cls)
    chosen = decoded[torch.arange(decoded.shape[0], device=decoded.device), cls]
    counts = [p.shape[0] for p in proposals]
    return [
        box_ops.clip_boxes_to_image(boxes, shape)
        for boxes, shape in zip(chosen.split(counts), image_shapes, strict=True)
    ]
