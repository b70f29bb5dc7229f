"""What became of each box of an evaluated image at the operating point (IoU 0.5).

A counted detection is a **hit** when the COCO matching paired it with a labelled object.
The others (false alarms) are sorted by what they lie on, in the spirit of the TIDE error
taxonomy (Bolya et al., 2020), in score order:

- **duplicate**: a second box, at IoU 0.5, on an object of its class that a hit found;
- **wrong class**: on an object of another class, at IoU 0.5;
- **misplaced**: near an object of its class (IoU 0.1 to 0.5): the right thing, with a
  box too loose, too tight or straddling two cars;
- **background**: none of these (on nothing labelled, or only loosely on another class).

A wrong-class or misplaced box claims the nearest unfound object it lies on (each object
once); a labelled object that no counted detection found nor claimed is **missed**. So an
object called by the wrong name shows once, as the box drawn, though the scores count it
both a false positive and a false negative. Detections on ignored (occluded) objects are
left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from coalwatch.infer.merge import iou_with

IOU_MATCH = 0.5  # as the scores' operating point
IOU_NEAR = 0.1  # a box this close to an unfound object of its class is misplaced, not background
KINDS = ("duplicate", "wrong_class", "misplaced", "background")  # of false alarms


@dataclass(frozen=True)
class ImageOutcome:
    """An image's counted detections with their outcome, and its missed objects."""

    boxes: np.ndarray  # (K, 4) counted detections, not on ignored objects
    classes: tuple[str, ...]  # (K,)
    kinds: tuple[str, ...]  # (K,) "hit" or one of KINDS
    missed: np.ndarray  # (M, 4) labelled objects nothing found or claimed
    missed_classes: tuple[str, ...] = ()
    labelled: int = 0  # labelled objects, ignored ones left out

    def of_kind(self, kind: str) -> np.ndarray:
        """Boxes ``(N, 4)`` of one outcome (``"hit"`` or one of :data:`KINDS`)."""
        return self.boxes[np.array([k == kind for k in self.kinds], bool).reshape(-1)]

    def kind_counts(self) -> dict[str, dict[str, int]]:
        """Per class, how many of its counted detections went each way."""
        counts: dict[str, dict[str, int]] = {}
        for cls, kind in zip(self.classes, self.kinds, strict=True):
            per = counts.setdefault(cls, dict.fromkeys(("hit", *KINDS), 0))
            per[kind] += 1
        return counts


def _claim(claimed: np.ndarray, iou: np.ndarray, least: float) -> None:
    """Mark the unclaimed object of highest ``iou`` (at least ``least``) as claimed."""
    free = np.where(claimed, -1.0, iou)
    if len(free) and free.max() >= least:
        claimed[int(np.argmax(free))] = True


def classify(
    boxes: np.ndarray,
    classes: Sequence[str],
    scores: np.ndarray,
    hit_object: np.ndarray,
    gt_boxes: np.ndarray,
    gt_classes: Sequence[str],
    gt_ignore: np.ndarray,
) -> ImageOutcome:
    """Sort one image's counted detections (``hit_object``: the index of the labelled
    object each was matched to, -1 for none; -2 for a match to an ignored object)."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, float).reshape(-1, 4)
    gt_classes = np.asarray(list(gt_classes), dtype=object)
    found = np.zeros(len(gt_boxes), bool)
    found[hit_object[hit_object >= 0]] = True
    claimed = found | np.asarray(gt_ignore, bool)
    kinds = np.where(hit_object >= 0, "hit", "").astype(object)
    for i in np.argsort(-np.asarray(scores, float), kind="stable"):
        if kinds[i] == "hit" or hit_object[i] == -2:
            continue
        iou = iou_with(boxes[i], gt_boxes)
        same = gt_classes == classes[i]
        if np.any(iou[found & same] >= IOU_MATCH):
            kinds[i] = "duplicate"
        elif np.any(iou[~same] >= IOU_MATCH):
            kinds[i] = "wrong_class"
            _claim(claimed, np.where(~same, iou, -1.0), IOU_MATCH)
        elif np.any(iou[same] >= IOU_NEAR):
            kinds[i] = "misplaced"
            _claim(claimed, np.where(same, iou, -1.0), IOU_NEAR)
        else:
            kinds[i] = "background"
    shown = hit_object != -2
    return ImageOutcome(
        boxes=boxes[shown],
        classes=tuple(np.asarray(list(classes), dtype=object)[shown]),
        kinds=tuple(kinds[shown]),
        missed=gt_boxes[~claimed],
        missed_classes=tuple(gt_classes[~claimed]),
        labelled=int((~np.asarray(gt_ignore, bool)).sum()),
    )
