"""Per-class score thresholds calibrated on the validation chips, for counting.

One score threshold for every class counts some classes high and others low: a detector
scores small rail cars lower than ships, and by how much changes from one training run to
the next. For each class with enough validation objects, the calibrated threshold is the
score at which the detector's count equals the true count over the validation chips. There,
precision equals recall, so the count is unbiased; it lies close to the F1-maximising score
whenever precision and recall cross near their best balance. Classes with fewer validation
objects keep the default threshold. Chips are counted as ``coalwatch count`` counts tiles:
a box lying mostly inside a stronger one of its class is dropped (the nested-box rule), and
objects and detections cut by a chip's edge are left out (counting merges a scene's tiles,
where they are whole).

Detections that fall on hidden objects (``iscrowd``) are set aside, as in
:mod:`coalwatch.train.metrics`: they are neither counted nor missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from coalwatch.infer.detections import Detections
from coalwatch.infer.merge import NESTED_SHARE, drop_nested
from coalwatch.train.metrics import match_predictions

MIN_OBJECTS = 30  # default: validation objects a class needs for a threshold of its own
SCORE_RANGE = (0.05, 0.95)  # calibrated thresholds are kept within
EDGE_PX = 1.0  # boxes this close to a chip's edge are cut by it


def count_matching_threshold(scores: torch.Tensor, true_count: int) -> float:
    """The score at which ``scores`` (of one class's detections) count ``true_count``: the
    ``true_count``-th highest score, or the lowest score when there are fewer detections."""
    if len(scores) == 0 or true_count <= 0:
        return SCORE_RANGE[1]
    ranked = torch.sort(scores, descending=True).values
    return float(ranked[min(true_count, len(ranked)) - 1])


class ThresholdCalibration(Metric):
    """Collects, per class, the scores of detections that are not on hidden objects and the
    number of visible true objects; ``compute`` gives the calibrated thresholds.

    A torchmetrics ``Metric``: under DDP its states are gathered over the processes.
    """

    full_state_update = False

    def __init__(
        self,
        num_classes: int,
        min_objects: int = MIN_OBJECTS,
        iou_threshold: float = 0.5,
        nested: float = NESTED_SHARE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.min_objects = min_objects
        self.iou_threshold = iou_threshold
        self.nested = nested
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")
        self.add_state("true", default=torch.zeros(num_classes + 1), dist_reduce_fx="sum")

    def update(
        self,
        preds: Sequence[dict],
        targets: Sequence[dict],
        image_sizes: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        """Add a batch of torchvision detection dicts (``iscrowd`` optional in targets).

        With ``image_sizes`` (height, width per image), objects and detections touching the
        image's edge are left out on both sides: a chip cuts a heap or a ship into a piece
        that the model may or may not call an object, which counting whole scenes over
        overlapping tiles never sees."""
        sizes = image_sizes or [None] * len(preds)
        for pred, target, size in zip(preds, targets, sizes, strict=True):
            pred = {k: v.detach().cpu() for k, v in pred.items()}
            target = {k: v.detach().cpu() for k, v in target.items()}
            if size is not None:
                pred = _select(pred, _inside(pred["boxes"], size))
                target = _select(target, _inside(target["boxes"], size))
            pred = _select(pred, _not_nested(pred, self.nested))
            hidden = target.get("iscrowd")
            hidden = (
                torch.zeros(len(target["labels"]), dtype=torch.bool)
                if hidden is None
                else hidden.bool()
            )
            kept = torch.ones(len(pred["scores"]), dtype=torch.bool)
            for cls in range(1, self.num_classes + 1):
                p, t = pred["labels"] == cls, target["labels"] == cls
                self.true[cls] += int((t & ~hidden).sum())
                if not bool((t & hidden).any()) or not bool(p.any()):
                    continue
                index = torch.nonzero(p).flatten()
                boxes, scores = pred["boxes"][index], pred["scores"][index]
                hits = match_predictions(
                    boxes, scores, target["boxes"][t & ~hidden], self.iou_threshold
                )
                excused = match_predictions(
                    boxes[~hits], scores[~hits], target["boxes"][t & hidden], self.iou_threshold
                )
                kept[index[~hits][excused]] = False
            self.scores.append(pred["scores"][kept].float().to(self.device))
            self.labels.append(pred["labels"][kept].long().to(self.device))

    def compute(self) -> dict[int, float]:
        """``{class id: threshold}`` for the classes with at least ``min_objects`` objects."""
        scores = _cat(self.scores, torch.float32)
        labels = _cat(self.labels, torch.long)
        low, high = SCORE_RANGE
        thresholds = {}
        for cls in range(1, self.num_classes + 1):
            true_count = int(self.true[cls])
            if true_count < self.min_objects:
                continue
            found = count_matching_threshold(scores[labels == cls], true_count)
            thresholds[cls] = min(max(found, low), high)
        return thresholds


def _inside(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Boxes clear of the image's edge by more than ``EDGE_PX``."""
    height, width = size
    return (
        (boxes[:, 0] > EDGE_PX)
        & (boxes[:, 1] > EDGE_PX)
        & (boxes[:, 2] < width - EDGE_PX)
        & (boxes[:, 3] < height - EDGE_PX)
    )


def _not_nested(pred: dict[str, torch.Tensor], nested: float) -> torch.Tensor:
    """Mask of the detections that counting keeps by its nested-box rule
    (:func:`coalwatch.infer.merge.drop_nested`)."""
    n = len(pred["scores"])
    dets = Detections(
        pred["boxes"].numpy(), pred["scores"].numpy(), pred["labels"].numpy(), {"i": np.arange(n)}
    )
    keep = torch.zeros(n, dtype=torch.bool)
    keep[torch.from_numpy(drop_nested(dets, nested).extra["i"])] = True
    return keep


def _select(detections: dict[str, torch.Tensor], keep: torch.Tensor) -> dict[str, torch.Tensor]:
    return {k: v[keep] for k, v in detections.items()}


def _cat(state: list[torch.Tensor] | torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A list state as one tensor (after a DDP sync it already is one)."""
    if isinstance(state, list) and not state:
        return torch.zeros(0, dtype=dtype)
    return dim_zero_cat(state).cpu()


def named_thresholds(thresholds: dict[int, float], class_names: Sequence[str]) -> dict[str, float]:
    """Class ids (from 1) to class names, thresholds rounded to 3 decimals."""
    return {class_names[cls - 1]: round(value, 3) for cls, value in sorted(thresholds.items())}
