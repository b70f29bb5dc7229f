"""Cascade R-CNN box stages on torchvision's ``RoIHeads`` (Cai and Vasconcelos, 2018).

Each extra stage pools the boxes the stage before it refined and is trained on them at a
stricter IoU, with tighter box-coder weights; at test time the last stage places the boxes
and the class probabilities of all stages are averaged. For boxes a few pixels wide, where
one pixel of error costs a tenth of the IoU, the first stage's boxes are too loose to count.

The first stage is torchvision's own (``box_head``, ``box_predictor``), so its weights keep
their names; sampling, matching, decoding and post-processing are torchvision's, called with
each stage's matcher and box coder.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.roi_heads import RoIHeads, fastrcnn_loss
from torchvision.ops import boxes as box_ops

STAGE_LOSS_WEIGHTS = (1.0, 0.5, 0.25)  # the paper's weights of stages 1-3; later ones 0.25


class CascadeRoIHeads(RoIHeads):
    """``first``'s box stage followed by one refinement stage per IoU in ``refine_ious``."""

    def __init__(
        self,
        first: RoIHeads,
        refine_heads: Sequence[nn.Module],
        refine_predictors: Sequence[nn.Module],
        refine_ious: Sequence[float],
    ) -> None:
        if not len(refine_heads) == len(refine_predictors) == len(refine_ious) > 0:
            raise ValueError("a cascade needs one head, predictor and IoU per extra stage")
        super().__init__(
            first.box_roi_pool,
            first.box_head,
            first.box_predictor,
            first.proposal_matcher.high_threshold,
            first.proposal_matcher.low_threshold,
            first.fg_bg_sampler.batch_size_per_image,
            first.fg_bg_sampler.positive_fraction,
            first.box_coder.weights,
            first.score_thresh,
            first.nms_thresh,
            first.detections_per_img,
        )
        self.refine_heads = nn.ModuleList(refine_heads)
        self.refine_predictors = nn.ModuleList(refine_predictors)
        base = first.box_coder.weights
        self.stage_matchers = [first.proposal_matcher] + [
            det_utils.Matcher(iou, iou, allow_low_quality_matches=False) for iou in refine_ious
        ]
        self.stage_coders = [first.box_coder] + [
            det_utils.BoxCoder(tuple(w * (k + 2) for w in base)) for k in range(len(refine_ious))
        ]

    def forward(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        targets: list[dict[str, Tensor]] | None = None,
    ) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        stages = [(self.box_head, self.box_predictor)]
        stages += list(zip(self.refine_heads, self.refine_predictors, strict=True))
        losses: dict[str, Tensor] = {}
        probabilities: list[Tensor] = []
        labels: list[Tensor] | None = None
        for k, (head, predictor) in enumerate(stages):
            # torchvision's sampling and decoding read these two attributes
            self.proposal_matcher, self.box_coder = self.stage_matchers[k], self.stage_coders[k]
            if self.training:
                if targets is None:
                    raise ValueError("training needs targets")
                proposals, _, labels, regression_targets = self.select_training_samples(
                    proposals, targets
                )
            features_k = head(self.box_roi_pool(features, proposals, image_shapes))
            class_logits, box_regression = predictor(features_k)
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
            if k < len(stages) - 1:
                proposals = self._refined(
                    class_logits, box_regression, proposals, labels, image_shapes
                )
        if self.training:
            return [], losses
        # torchvision's post-processing takes logits: the log of the stages' mean probability
        mean = torch.stack(probabilities).mean(0).clamp_min(1e-12).log()
        boxes, scores, classes = self.postprocess_detections(
            mean, box_regression, proposals, image_shapes
        )
        return [
            {"boxes": b, "labels": c, "scores": s}
            for b, s, c in zip(boxes, scores, classes, strict=True)
        ], {}

    def _refined(
        self,
        class_logits: Tensor,
        box_regression: Tensor,
        proposals: list[Tensor],
        labels: list[Tensor] | None,
        image_shapes: list[tuple[int, int]],
    ) -> list[Tensor]:
        """Each proposal moved by the regression of its class (its object's class in
        training, else the most likely object class), clipped, without gradient."""
        decoded = self.box_coder.decode(box_regression.detach(), proposals)
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
