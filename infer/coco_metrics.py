"""COCO box metrics through faster-coco-eval: AP, AP50, and scores at an operating threshold.

Boxes arrive per image as numpy arrays in pixels ``(x0, y0, x1, y1)`` with category
names; ground truth may carry an ``ignore`` flag (scored as COCO ``iscrowd``: a detection
on it is neither right nor wrong). faster-coco-eval does all the matching (greedy by
score, IoU >= 0.5 for the operating point). Precision, recall and F1 at the threshold
(or per-class thresholds) count its matches among the detections kept there: because matching
is greedy in score order, those matches are exactly what matching only those detections
would give.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from coalwatch.infer.outcomes import IOU_MATCH, ImageOutcome, classify

log = logging.getLogger(__name__)

IOU_OPERATING = IOU_MATCH


@dataclass(frozen=True)
class ImageBoxes:
    """Ground truth and detections of one image, in pixels."""

    width: int
    height: int
    gt_boxes: np.ndarray  # (G, 4) xyxy
    gt_classes: Sequence[str]
    gt_ignore: np.ndarray  # (G,) bool
    dt_boxes: np.ndarray  # (D, 4) xyxy
    dt_classes: Sequence[str]
    dt_scores: np.ndarray  # (D,)
    # (D,) bool: the detections at the operating point (per-class thresholds); None: those
    # scoring at least coco_scores' threshold
    dt_counted: np.ndarray | None = None


@dataclass
class ClassScores:
    """One category's AP and its confusion counts at the operating threshold."""

    ap: float | None  # AP@[.50:.95]; None without ground truth
    ap50: float | None
    gt: int
    tp: int
    fp: int
    fn: int
    pr_recall: list[float] = field(default_factory=list)  # interpolated PR curve, IoU 0.5
    pr_precision: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.gt if self.gt else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)


@dataclass
class CocoScores:
    """Per-category scores, COCO's overall mAP and mAP50, the threshold used and what
    became of each image's boxes (``outcomes``, in image order)."""

    classes: dict[str, ClassScores]
    map: float | None
    map50: float | None
    threshold: float
    outcomes: list[ImageOutcome] = field(default_factory=list)


def _xywh(box: np.ndarray) -> list[float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return [x0, y0, x1 - x0, y1 - y0]


def _datasets(
    images: Sequence[ImageBoxes], categories: Sequence[str]
) -> tuple[dict, list[dict], int]:
    cat_id = {name: i + 1 for i, name in enumerate(categories)}
    gt: dict = {
        "images": [],
        "annotations": [],
        "categories": [{"id": i, "name": n} for n, i in cat_id.items()],
    }
    dts: list[dict] = []
    most = 1
    for image_id, image in enumerate(images, start=1):
        gt["images"].append({"id": image_id, "width": image.width, "height": image.height})
        for box, cls, ignore in zip(image.gt_boxes, image.gt_classes, image.gt_ignore, strict=True):
            xywh = _xywh(box)
            gt["annotations"].append(
                {
                    "id": len(gt["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": cat_id[cls],
                    "bbox": xywh,
                    "area": xywh[2] * xywh[3],
                    "iscrowd": int(bool(ignore)),
                }
            )
        per_class: dict[str, int] = {}
        for box, cls, score in zip(image.dt_boxes, image.dt_classes, image.dt_scores, strict=True):
            per_class[cls] = per_class.get(cls, 0) + 1
            dts.append(
                {
                    "id": len(dts) + 1,
                    "image_id": image_id,
                    "category_id": cat_id[cls],
                    "bbox": _xywh(box),
                    "score": float(score),
                }
            )
        most = max([most, *per_class.values()])
    return gt, dts, most


def _ap(precision: np.ndarray) -> float | None:
    valid = precision[precision > -1]
    return float(valid.mean()) if valid.size else None


def coco_scores(
    images: Sequence[ImageBoxes], categories: Sequence[str], threshold: float
) -> CocoScores:
    """Score detections against ground truth over all ``images`` for ``categories``."""
    from faster_coco_eval import COCO, COCOeval_faster

    gt_data, dts, most = _datasets(images, categories)
    counted = np.concatenate(
        [
            np.asarray(i.dt_scores) >= threshold if i.dt_counted is None else i.dt_counted
            for i in images
        ]
        or [np.zeros(0, bool)]
    )
    gt = COCO()
    gt.dataset = gt_data
    gt.createIndex()
    quiet = lambda *args, **kwargs: None  # noqa: E731
    gt.print_function = quiet
    dt = gt.loadRes(dts) if dts else None
    scores: dict[str, ClassScores] = {}
    n_gt = {name: 0 for name in categories}
    for ann in gt_data["annotations"]:
        if not ann["iscrowd"]:
            n_gt[categories[ann["category_id"] - 1]] += 1
    if dt is None:  # no detection at all: AP 0 where there is ground truth
        for name in categories:
            ap = 0.0 if n_gt[name] else None
            scores[name] = ClassScores(ap, ap, n_gt[name], 0, 0, n_gt[name])
        return CocoScores(
            scores,
            _mean(s.ap for s in scores.values()),
            _mean(s.ap50 for s in scores.values()),
            threshold,
            _image_outcomes(images, counted, {}),
        )
    evaluator = COCOeval_faster(gt, dt, "bbox", extra_calc=True, print_function=quiet)
    evaluator.params.maxDets = [1, 100, max(1000, most)]
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    iou50 = int(np.flatnonzero(np.isclose(evaluator.params.iouThrs, IOU_OPERATING))[0])
    precision = evaluator.eval["precision"]  # [T, R, K, A, M]
    matched = _matches(evaluator)
    tp, fp = _operating_counts(matched, gt, dt, categories, counted)
    rec_thrs = [float(r) for r in evaluator.params.recThrs]
    for k, name in enumerate(categories):
        curve = precision[iou50, :, k, 0, -1]
        ap = _ap(precision[:, :, k, 0, -1])
        ap50 = _ap(curve)
        kept = curve > -1
        scores[name] = ClassScores(
            ap=ap,
            ap50=ap50,
            gt=n_gt[name],
            tp=tp[name],
            fp=fp[name],
            fn=n_gt[name] - tp[name],
            pr_recall=[r for r, ok in zip(rec_thrs, kept, strict=True) if ok],
            pr_precision=[float(p) for p in curve[kept]],
        )
    stats = evaluator.stats_as_dict
    outcomes = _image_outcomes(images, counted, matched)
    return CocoScores(scores, _stat(stats["AP_all"]), _stat(stats["AP_50"]), threshold, outcomes)


def _matches(evaluator) -> dict[int, int]:
    """Detection id -> ground-truth id of the library's matches at IoU 0.5 (ids from 1)."""
    matched: dict[int, int] = {}
    for pair, iou in evaluator.eval["matched"].items():
        dt_id, gt_id = (int(v) for v in pair.split("_", 1))
        if iou >= IOU_OPERATING - 1e-9:
            matched[dt_id] = gt_id
    return matched


def _image_outcomes(
    images: Sequence[ImageBoxes], counted: np.ndarray, matched: dict[int, int]
) -> list[ImageOutcome]:
    """Each image's counted detections sorted by outcome (:mod:`coalwatch.infer.outcomes`);
    detection and ground-truth ids run from 1 over the images in order, as
    :func:`_datasets` numbers them."""
    outcomes = []
    dt_start = gt_start = 0
    for image in images:
        n_dt, n_gt = len(image.dt_boxes), len(image.gt_boxes)
        kept = counted[dt_start : dt_start + n_dt]
        gt_ids = np.array([matched.get(dt_start + i + 1, 0) for i in range(n_dt)], np.int64)
        hit_object = np.where(gt_ids > 0, gt_ids - gt_start - 1, -1)
        ignore = np.asarray(image.gt_ignore, bool)
        on_ignored = hit_object >= 0
        on_ignored[on_ignored] = ignore[hit_object[on_ignored]]
        hit_object[on_ignored] = -2
        outcomes.append(
            classify(
                np.asarray(image.dt_boxes, float).reshape(-1, 4)[kept],
                [c for c, k in zip(image.dt_classes, kept, strict=True) if k],
                np.asarray(image.dt_scores, float)[kept],
                hit_object[kept],
                image.gt_boxes,
                image.gt_classes,
                ignore,
            )
        )
        dt_start, gt_start = dt_start + n_dt, gt_start + n_gt
    return outcomes


def _operating_counts(
    matched: dict[int, int], gt, dt, categories: Sequence[str], counted: np.ndarray
) -> tuple[dict[str, int], dict[str, int]]:
    """True and false positives among the counted detections (``counted``, by detection id
    from 1; library matches)."""
    tp = {name: 0 for name in categories}
    fp = {name: 0 for name in categories}
    for dt_id, ann in dt.anns.items():
        if not counted[dt_id - 1]:
            continue
        name = categories[ann["category_id"] - 1]
        gt_id = matched.get(dt_id)
        if gt_id is None:
            fp[name] += 1
        elif not gt.anns[gt_id].get("iscrowd"):
            tp[name] += 1
        # a match to an ignored (crowd) box counts neither way
    return tp, fp


def _stat(value: float) -> float | None:
    return None if value < 0 else float(value)


def _mean(values) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None
