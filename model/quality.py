"""Localisation-quality scoring for the box head (an IoU branch, as in IoU-Net, Jiang et al.,
2018, and IoU-aware single-stage detectors).

Beside its class logits and box deltas, the box head predicts for each proposal and class
the IoU that its refined box will have with the object. A detection's score is then
``p ** (1 - w) * iou ** w`` (``w``: ``score_weight``), and class-wise NMS keeps the box that
scores highest on that product. Rail cars need it: a box between two cars of a train scores
as high a class probability as a box on one car, suppresses the true one in NMS and ranks
among the hits; ranked by their true IoU instead, the same detections of the CPU default
reach test mAP50 0.85 against 0.63 (docs/benchmarks.md, session 12).

Training: every sampled proposal that overlaps an object at IoU >= ``min_overlap`` learns,
for that object's class, the IoU of its own refined box (deltas detached) with the object;
proposals on background learn IoU 0 for every class. Binary cross-entropy on those soft
targets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection.roi_heads import RoIHeads, fastrcnn_loss
from torchvision.ops import boxes as box_ops

MIN_OVERLAP = 0.1  # proposals overlapping an object less than this are background here


def paired_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of ``a[i]`` with ``b[i]`` (both ``(N, 4)`` xyxy)."""
    lt = torch.maximum(a[:, :2], b[:, :2])
    rb = torch.minimum(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    union = box_ops.box_area(a) + box_ops.box_area(b) - inter
    return inter / union.clamp(min=1e-6)


class QualityRoIHeads(RoIHeads):
    """torchvision's ``RoIHeads`` (boxes only) with an IoU branch on the box head's output."""

    def __init__(
        self,
        base: RoIHeads,
        representation: int,
        score_weight: float = 0.5,
        min_overlap: float = MIN_OVERLAP,
    ) -> None:
        super().__init__(
            base.box_roi_pool,
            base.box_head,
            base.box_predictor,
            base.proposal_matcher.high_threshold,
            base.proposal_matcher.low_threshold,
            base.fg_bg_sampler.batch_size_per_image,
            base.fg_bg_sampler.positive_fraction,
            base.box_coder.weights,
            base.score_thresh,
            base.nms_thresh,
            base.detections_per_img,
        )
        num_classes = base.box_predictor.cls_score.out_features
        self.iou_predictor = nn.Linear(representation, num_classes)
        self.score_weight = score_weight
        self.min_overlap = min_overlap

    def forward(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        targets: list[dict[str, Tensor]] | None = None,
    ) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        if self.training:
            if targets is None:
                raise ValueError("training needs targets")
            proposals, _, labels, regression_targets = self.select_training_samples(
                proposals, targets
            )
        shared = self.box_head(self.box_roi_pool(features, proposals, image_shapes))
        class_logits, box_regression = self.box_predictor(shared)
        iou_logits = self.iou_predictor(shared)
        if self.training:
            classifier, box_reg = fastrcnn_loss(
                class_logits, box_regression, labels, regression_targets
            )
            quality = self.quality_loss(iou_logits, box_regression, proposals, targets)
            losses = {"loss_classifier": classifier, "loss_box_reg": box_reg}
            return [], {**losses, "loss_box_iou": quality}
        scores = self.quality_scores(class_logits, iou_logits)
        boxes, scores, classes = self.select_detections(
            scores, box_regression, proposals, image_shapes
        )
        return [
            {"boxes": b, "labels": c, "scores": s}
            for b, s, c in zip(boxes, scores, classes, strict=True)
        ], {}

    def quality_scores(self, class_logits: Tensor, iou_logits: Tensor) -> Tensor:
        """``p ** (1 - w) * iou ** w`` per proposal and class (background column included)."""
        probability = F.softmax(class_logits, -1)
        iou = torch.sigmoid(iou_logits)
        w = self.score_weight
        return probability.pow(1 - w) * iou.pow(w)

    def quality_loss(
        self,
        iou_logits: Tensor,
        box_regression: Tensor,
        proposals: list[Tensor],
        targets: list[dict[str, Tensor]],
    ) -> Tensor:
        """BCE of the predicted IoU against :meth:`quality_targets`."""
        wanted, trained = self.quality_targets(box_regression, proposals, targets)
        if not trained.any():
            return iou_logits.sum() * 0.0
        return F.binary_cross_entropy_with_logits(iou_logits[trained], wanted[trained])

    def quality_targets(
        self,
        box_regression: Tensor,
        proposals: list[Tensor],
        targets: list[dict[str, Tensor]],
    ) -> tuple[Tensor, Tensor]:
        """The IoU each proposal's refined box (deltas detached) reaches with the object it
        overlaps most, in that object's class column, and which columns train: that one for
        a proposal on an object, every object class (at IoU 0) for one on background."""
        decoded = self.box_coder.decode(box_regression.detach(), proposals)
        num_columns = decoded.shape[1]
        wanted = decoded.new_zeros(decoded.shape[0], num_columns)
        trained = torch.ones_like(wanted, dtype=torch.bool)
        trained[:, 0] = False  # the background column scores nothing
        start = 0
        for boxes, target in zip(proposals, targets, strict=True):
            gt = target["boxes"]
            count = boxes.shape[0]
            if gt.numel():
                overlap, nearest = box_ops.box_iou(boxes, gt).max(1)
                on_object = torch.where(overlap >= self.min_overlap)[0]
                rows = on_object + start
                cls = target["labels"][nearest[on_object]]
                trained[rows] = False
                trained[rows, cls] = True
                wanted[rows, cls] = paired_iou(decoded[rows, cls], gt[nearest[on_object]])
            start += count
        return wanted, trained

    def select_detections(
        self,
        scores: Tensor,
        box_regression: Tensor,
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
    ) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """torchvision's post-processing on given scores: one candidate per proposal and
        object class, above ``score_thresh``, non-empty, class-wise NMS, the best
        ``detections_per_img``."""
        counts = [p.shape[0] for p in proposals]
        decoded = self.box_coder.decode(box_regression, proposals)
        all_boxes, all_scores, all_labels = [], [], []
        for boxes, score, shape in zip(
            decoded.split(counts), scores.split(counts), image_shapes, strict=True
        ):
            boxes = box_ops.clip_boxes_to_image(boxes, shape)[:, 1:].reshape(-1, 4)
            labels = torch.arange(1, score.shape[1], device=score.device)
            labels = labels.view(1, -1).expand(score.shape[0], -1).reshape(-1)
            score = score[:, 1:].reshape(-1)
            keep = torch.where(score > self.score_thresh)[0]
            boxes, score, labels = boxes[keep], score[keep], labels[keep]
            keep = box_ops.remove_small_boxes(boxes, min_size=1e-2)
            boxes, score, labels = boxes[keep], score[keep], labels[keep]
            keep = box_ops.batched_nms(boxes, score, labels, self.nms_thresh)
            keep = keep[: self.detections_per_img]
            all_boxes.append(boxes[keep])
            all_scores.append(score[keep])
            all_labels.append(labels[keep])
        return all_boxes, all_scores, all_labels
