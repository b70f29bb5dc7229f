"""Validation metrics: COCO mAP (torchmetrics, faster_coco_eval backend) plus what an analyst
reads at the operating point: precision, recall and F1 at the default score threshold (IoU
0.5, greedy matching per class) and the count error per class per chip.

Targets may flag boxes ``iscrowd`` (hidden objects, see :mod:`coalwatch.train.datamodule`):
they are not scored, and a detection on one is neither a hit nor a false alarm. The mAP
applies COCO's crowd rule; the operating point excuses one detection per hidden box (IoU at
least the matching threshold), after the visible boxes have taken theirs."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torchmetrics.detection import MeanAveragePrecision
from torchvision.ops import box_iou

# faster_coco_eval prints its summary table at INFO level on every validation
logging.getLogger("faster_coco_eval").setLevel(logging.WARNING)


def match_predictions(
    pred_boxes: torch.Tensor,
    pred_scores: torch.Tensor,
    true_boxes: torch.Tensor,
    iou_threshold: float = 0.5,
) -> torch.Tensor:
    """Which predictions of one class in one image hit a true box: greedy matching by
    descending score, each true box taken once. Returns a bool mask over the predictions."""
    matched = torch.zeros(len(pred_boxes), dtype=torch.bool)
    if len(pred_boxes) == 0 or len(true_boxes) == 0:
        return matched
    iou = box_iou(pred_boxes, true_boxes)
    taken = torch.zeros(len(true_boxes), dtype=torch.bool)
    for i in torch.argsort(pred_scores, descending=True).tolist():
        candidates = iou[i].clone()
        candidates[taken] = -1.0
        best = int(torch.argmax(candidates))
        if candidates[best] >= iou_threshold:
            taken[best] = True
            matched[i] = True
    return matched


class OperatingPoint:
    """Counts of true/false positives, misses and count errors at one score threshold."""

    def __init__(self, num_classes: int, score_threshold: float, iou_threshold: float = 0.5):
        self.num_classes = num_classes
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.reset()

    def reset(self) -> None:
        """Forget every image seen."""
        n = self.num_classes + 1
        self.tp = torch.zeros(n, dtype=torch.long)
        self.predicted = torch.zeros(n, dtype=torch.long)
        self.true = torch.zeros(n, dtype=torch.long)
        self.abs_count_error = torch.zeros(n, dtype=torch.float64)
        self.images = torch.zeros((), dtype=torch.long)

    def update(self, preds: Sequence[dict], targets: Sequence[dict]) -> None:
        """Add a batch of predictions and targets (torchvision detection dicts, optionally
        with ``iscrowd``)."""
        for pred, target in zip(preds, targets, strict=True):
            keep = pred["scores"] >= self.score_threshold
            boxes, scores, labels = pred["boxes"][keep], pred["scores"][keep], pred["labels"][keep]
            hidden = target.get("iscrowd")
            hidden = (
                torch.zeros(len(target["labels"]), dtype=torch.bool)
                if hidden is None
                else hidden.bool()
            )
            for cls in range(1, self.num_classes + 1):
                p, t = labels == cls, target["labels"] == cls
                cls_boxes, cls_scores = boxes[p], scores[p]
                hits = match_predictions(
                    cls_boxes, cls_scores, target["boxes"][t & ~hidden], self.iou_threshold
                )
                # a detection of a hidden object is not a false alarm: it is not counted at all
                excused = match_predictions(
                    cls_boxes[~hits],
                    cls_scores[~hits],
                    target["boxes"][t & hidden],
                    self.iou_threshold,
                )
                n_pred = int(p.sum()) - int(excused.sum())
                n_true = int((t & ~hidden).sum())
                self.predicted[cls] += n_pred
                self.true[cls] += n_true
                self.abs_count_error[cls] += abs(n_pred - n_true)
                self.tp[cls] += int(hits.sum())
            self.images += 1

    def compute(self, class_names: Sequence[str]) -> dict[str, float]:
        """Overall precision/recall/F1 and, per class, recall, precision and count error."""
        tp, npred, ntrue = (int(x[1:].sum()) for x in (self.tp, self.predicted, self.true))
        precision = tp / npred if npred else 0.0
        recall = tp / ntrue if ntrue else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out = {"precision": precision, "recall": recall, "f1": f1}
        images = max(int(self.images), 1)
        for cls, name in enumerate(class_names, start=1):
            out[f"count_mae/{name}"] = float(self.abs_count_error[cls]) / images
            out[f"count_true/{name}"] = int(self.true[cls])
            out[f"count_pred/{name}"] = int(self.predicted[cls])
        return out


def _ap50(precision: torch.Tensor, k: int) -> float:
    """AP at IoU 0.5 of the k-th class from COCO's precision array (IoU, recall, class, area,
    max detections): the mean over recall levels, all areas, the largest detection budget."""
    curve = precision[0, :, k, 0, -1]
    curve = curve[curve > -1]
    return float(curve.mean()) if len(curve) else -1.0


class DetectionMetrics:
    """COCO mAP, mAP50, per-class AP, and the operating-point figures, over a validation epoch."""

    def __init__(self, class_names: Sequence[str], score_threshold: float) -> None:
        self.class_names = list(class_names)
        self.map = MeanAveragePrecision(
            box_format="xyxy",
            iou_type="bbox",
            class_metrics=True,
            backend="faster_coco_eval",
            max_detection_thresholds=[1, 10, 300],
            extended_summary=True,  # precision curves, for AP50 per class
        )
        self.point = OperatingPoint(len(self.class_names), score_threshold)

    def reset(self) -> None:
        """Start a new epoch."""
        self.map.reset()
        self.point.reset()

    def update(self, preds: Sequence[dict], targets: Sequence[dict]) -> None:
        """Add one batch (tensors on any device; moved to the CPU)."""
        preds = [{k: v.detach().cpu() for k, v in p.items()} for p in preds]
        targets = [{k: v.detach().cpu() for k, v in t.items()} for t in targets]
        self.map.update(preds, targets)
        self.point.update(preds, targets)

    def compute(self) -> dict[str, float]:
        """Flat ``{name: value}``; per class, COCO AP (IoU 0.5:0.95) as ``AP/<class>`` and AP at
        IoU 0.5 as ``AP50/<class>`` (-1 when a class is absent)."""
        result = self.map.compute()
        out = {"mAP": float(result["map"]), "mAP50": float(result["map_50"])}
        classes, per_class = result["classes"].reshape(-1), result["map_per_class"].reshape(-1)
        ap = {int(c): float(v) for c, v in zip(classes, per_class, strict=True)}
        ap50 = {int(c): _ap50(result["precision"], k) for k, c in enumerate(classes)}
        for cls, name in enumerate(self.class_names, start=1):
            out[f"AP/{name}"] = ap.get(cls, -1.0)
            out[f"AP50/{name}"] = ap50.get(cls, -1.0)
        out.update(self.point.compute(self.class_names))
        return out
