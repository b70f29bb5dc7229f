"""Score an exported model against labelled scenes, with the same tiled inference as count.

Each scene is counted by :func:`coalwatch.infer.counting.count_scene` with every detection
the model emits kept (for AP); the operating thresholds (the model's, per class where it
has them, or ``score`` for all) then select what ``count`` would report. Scores, at leaf or
group level of the taxonomy: COCO mAP and mAP50 per class (faster-coco-eval),
precision/recall/F1 at the thresholds, and the count error per class per scene (absolute
and relative). No torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from coalwatch.errors import InputError
from coalwatch.infer.calibration import TOLERANCE, CountCalibration, calibrate_class
from coalwatch.infer.coco_metrics import CocoScores, ImageBoxes, coco_scores
from coalwatch.infer.counting import CountOptions, SceneResult, count_scene
from coalwatch.infer.eval_truth import LevelMap, SceneTruth, load_truth
from coalwatch.infer.merge import NESTED_SHARE
from coalwatch.infer.metadata import thresholds_by_class_id
from coalwatch.infer.outcomes import KINDS
from coalwatch.infer.session import detector_for
from coalwatch.labels.taxonomy import Taxonomy, load_taxonomy


@dataclass(frozen=True)
class EvalOptions:
    """How to evaluate; ``None`` means: as the model's metadata says."""

    level: str = "leaf"
    score: float | None = None  # operating threshold for P/R/F1 and counts
    tile_size: int | None = None
    tile_overlap: int | None = None
    threads: int = 0
    label_taxonomy: str | None = None  # taxonomy the labels name (default: the model's)
    class_map: Mapping[str, str] | None = None  # COCO category -> class
    keep_occluded: bool = False  # score labels flagged occluded like any other
    nested: float = NESTED_SHARE  # as CountOptions.nested
    views: int = 1  # as CountOptions.views
    class_scores: Mapping[str, float] | None = None  # per-class thresholds (a calibration)
    calibrate: bool = False  # also calibrate per-class count thresholds (leaf level)


@dataclass
class SceneCounts:
    """True and predicted counts of one scene per category (at the threshold)."""

    scene: str
    truth: dict[str, int]
    predicted: dict[str, int]
    ignored: int = 0

    @property
    def error(self) -> dict[str, int]:
        return {c: self.predicted[c] - self.truth[c] for c in self.truth}

    @property
    def relative_error(self) -> dict[str, float | None]:
        return {c: (e / self.truth[c] if self.truth[c] else None) for c, e in self.error.items()}


@dataclass
class EvalReport:
    """Everything an evaluation found (``to_dict`` is what ``eval.json`` holds)."""

    model: str
    level: str
    categories: tuple[str, ...]
    scores: CocoScores
    scenes: list[SceneCounts]
    left_out: dict[str, int] = field(default_factory=dict)  # labels the model cannot predict
    seconds: float = 0.0
    class_thresholds: dict[str, float] = field(default_factory=dict)  # leaf class -> score
    views: int = 1  # turned and mirrored views fused per tile (CountOptions.views)
    calibration: CountCalibration | None = None  # with EvalOptions.calibrate

    def _per_class_text(self) -> str:
        if not self.class_thresholds:
            return ""
        return " (" + ", ".join(f"{k} {v:g}" for k, v in self.class_thresholds.items()) + ")"

    def false_alarm_kinds(self) -> dict[str, dict[str, int]]:
        """Per category, its false alarms by kind (:mod:`coalwatch.infer.outcomes`), over
        every scene."""
        kinds = {name: dict.fromkeys(KINDS, 0) for name in self.categories}
        for outcome in self.scores.outcomes:
            for name, per in outcome.kind_counts().items():
                for kind in KINDS:
                    kinds[name][kind] += per[kind]
        return kinds

    def count_mae(self, category: str) -> float:
        return float(np.mean([abs(s.error[category]) for s in self.scenes]))

    def to_dict(self) -> dict[str, Any]:
        classes = {}
        alarm_kinds = self.false_alarm_kinds()
        for name in self.categories:
            s = self.scores.classes[name]
            true_total = sum(sc.truth[name] for sc in self.scenes)
            pred_total = sum(sc.predicted[name] for sc in self.scenes)
            classes[name] = {
                "AP": _r(s.ap),
                "AP50": _r(s.ap50),
                "precision": _r(s.precision),
                "recall": _r(s.recall),
                "f1": _r(s.f1),
                "labels": s.gt,
                "tp": s.tp,
                "fp": s.fp,
                "fn": s.fn,
                "false_alarms": alarm_kinds[name],
                "count_true": true_total,
                "count_predicted": pred_total,
                "count_mae": _r(self.count_mae(name)),
                "count_relative_error": _r((pred_total - true_total) / true_total)
                if true_total
                else None,
            }
        tp = sum(s.tp for s in self.scores.classes.values())
        fp = sum(s.fp for s in self.scores.classes.values())
        fn = sum(s.fn for s in self.scores.classes.values())
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision and recall
            else (0.0 if precision is not None and recall is not None else None)
        )
        return {
            "model": self.model,
            "level": self.level,
            "score_threshold": self.scores.threshold,
            "class_score_thresholds": self.class_thresholds,
            "iou_threshold": 0.5,
            "views": self.views,
            "overall": {
                "mAP": _r(self.scores.map),
                "mAP50": _r(self.scores.map50),
                "precision": _r(precision),
                "recall": _r(recall),
                "f1": _r(f1),
            },
            "classes": classes,
            "scenes": [
                {
                    "scene": s.scene,
                    "truth": s.truth,
                    "predicted": s.predicted,
                    "error": s.error,
                    "relative_error": {k: _r(v) for k, v in s.relative_error.items()},
                    "ignored_labels": s.ignored,
                }
                for s in self.scenes
            ],
            "left_out_labels": self.left_out,
            "seconds": round(self.seconds, 2),
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
        }

    def table(self) -> str:
        """A plain-text table per category, for the terminal."""
        head = f"{'class':<16}{'AP':>7}{'AP50':>7}{'prec':>7}{'recall':>7}{'F1':>7}"
        head += f"{'labels':>8}{'true':>7}{'pred':>7}{'MAE':>7}"
        rows = [head]
        data = self.to_dict()
        for name, c in data["classes"].items():
            rows.append(
                f"{name:<16}{_f(c['AP'])}{_f(c['AP50'])}{_f(c['precision'])}{_f(c['recall'])}"
                f"{_f(c['f1'])}{c['labels']:>8}{c['count_true']:>7}{c['count_predicted']:>7}"
                f"{c['count_mae']:>7.2f}"
            )
        o = data["overall"]
        rows.append(
            f"{'all':<16}{_f(o['mAP'])}{_f(o['mAP50'])}{_f(o['precision'])}{_f(o['recall'])}"
            f"{_f(o['f1'])}"
        )
        rows.append(
            f"{self.level} level, {len(self.scenes)} scene(s), score threshold "
            f"{self.scores.threshold:g}{self._per_class_text()}, IoU 0.5 for precision/recall"
        )
        kinds = self.false_alarm_kinds()
        totals = {k: sum(per[k] for per in kinds.values()) for k in KINDS}
        if any(totals.values()):
            rows.append(
                "false alarms: "
                + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in totals.items())
            )
        if self.left_out:
            rows.append(
                "left out (the model predicts no such class): "
                + ", ".join(f"{k} {v}" for k, v in self.left_out.items())
            )
        if self.calibration is not None:
            rows += ["", self.calibration.table()]
        return "\n".join(rows)


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _f(value: float | None) -> str:
    return f"{'-':>7}" if value is None else f"{value:>7.3f}"


def score_results(
    results: Sequence[SceneResult],
    truths: Sequence[SceneTruth],
    levels: LevelMap,
    threshold: float,
    model: str = "",
    class_thresholds: Mapping[str, float] | None = None,
) -> EvalReport:
    """Score counted scenes (all detections kept) against their ground truth, at
    ``threshold`` or, for the model's classes it names, ``class_thresholds``."""
    by_id = thresholds_by_class_id(levels.model.classes, threshold, class_thresholds)
    if len(results) != len(truths):
        raise ValueError("one result per labelled scene")
    images, counts, left_out = [], [], {}
    for result, truth in zip(results, truths, strict=True):
        gt_cats, keep, true_counts = _truth_categories(truth, levels)
        for name, cat in zip(truth.classes, gt_cats, strict=True):
            if cat is None:
                left_out[name] = left_out.get(name, 0) + 1
        dets = result.detections
        dt_cats = [levels.predicted(i) for i in dets.class_ids]
        counted = dets.scores >= by_id[dets.class_ids]
        images.append(
            ImageBoxes(
                width=truth.width,
                height=truth.height,
                gt_boxes=truth.boxes[keep],
                gt_classes=[c for c in gt_cats if c is not None],
                gt_ignore=truth.ignore[keep],
                dt_boxes=dets.boxes,
                dt_classes=dt_cats,
                dt_scores=dets.scores,
                dt_counted=counted,
            )
        )
        predicted = {c: 0 for c in levels.categories}
        for cat, kept in zip(dt_cats, counted, strict=True):
            if kept:
                predicted[cat] += 1
        ignored = int((keep & truth.ignore).sum())
        counts.append(SceneCounts(truth.name, true_counts, predicted, ignored))
    scores = coco_scores(images, levels.categories, threshold)
    seconds = sum(r.seconds for r in results)
    return EvalReport(
        model,
        levels.level,
        levels.categories,
        scores,
        counts,
        left_out,
        seconds,
        dict(class_thresholds or {}),
    )


def _truth_categories(
    truth: SceneTruth, levels: LevelMap
) -> tuple[list[str | None], np.ndarray, dict[str, int]]:
    """Each label's category (None: the model predicts no such kind), which labels the
    model can predict, and the true count per category (labels not ignored)."""
    gt_cats = [levels.labelled(name, truth.image) for name in truth.classes]
    keep = np.array([c is not None for c in gt_cats], bool)
    true_counts = {c: 0 for c in levels.categories}
    for cat, scored in zip(gt_cats, keep & ~truth.ignore, strict=True):
        if scored:
            true_counts[cat] += 1
    return gt_cats, keep, true_counts


def calibrate_counts(
    results: Sequence[SceneResult],
    truths: Sequence[SceneTruth],
    levels: LevelMap,
    thresholds: np.ndarray,
    model: str = "",
    views: int = 1,
    tolerance: float = TOLERANCE,
) -> CountCalibration:
    """Per-class count thresholds calibrated on counted scenes (all detections kept), from
    ``thresholds`` (by class id) as they stand (:mod:`coalwatch.infer.calibration`; its
    rule with ``tolerance``). Leaf level only: thresholds are per model class."""
    if levels.level != "leaf":
        raise ValueError("count thresholds are calibrated at leaf level")
    truth_counts = [_truth_categories(truth, levels)[2] for truth in truths]
    classes, unlabelled = {}, []
    for class_id, name in enumerate(levels.model.classes, start=1):
        true = [counts[name] for counts in truth_counts]
        if not sum(true):
            unlabelled.append(name)
            continue
        scores = [r.detections.scores[r.detections.class_ids == class_id] for r in results]
        classes[name] = calibrate_class(scores, true, float(thresholds[class_id]), tolerance)
    scenes = tuple(t.name for t in truths)
    return CountCalibration(model, views, scenes, classes, tuple(unlabelled))


@dataclass(frozen=True)
class EvalPlan:
    """Checked inputs of an evaluation: the labelled scenes and how to score them."""

    model: Path
    truths: list[SceneTruth]
    levels: LevelMap
    threshold: float
    count_options: CountOptions
    class_thresholds: dict[str, float] = field(default_factory=dict)  # leaf class -> score
    calibrate: bool = False

    def thresholds_by_class_id(self) -> np.ndarray:
        """The threshold each model class id is counted at (index 0, the background)."""
        return thresholds_by_class_id(
            self.levels.model.classes, self.threshold, self.class_thresholds
        )


def plan_evaluation(
    scenes: Sequence[str | Path],
    labels: str | Path | None,
    model_path: str | Path,
    options: EvalOptions = EvalOptions(),
) -> EvalPlan:
    """Load the model's metadata and every label, failing fast on bad input."""
    if options.calibrate and options.level != "leaf":
        raise InputError("--calibrate", "count thresholds are per class: calibrate at leaf level")
    meta = detector_for(model_path, options.threads).metadata
    model_taxonomy = meta.taxonomy_obj
    label_taxonomy = _label_taxonomy(options.label_taxonomy, model_taxonomy)
    levels = LevelMap(options.level, model_taxonomy, label_taxonomy)
    truths = load_truth(scenes, labels, label_taxonomy, options.class_map, options.keep_occluded)
    for truth in truths:  # unknown group labels at leaf level fail here, before any work
        for name in set(truth.classes):
            levels.labelled(name, truth.image)
    threshold, per_class = meta.operating_point(options.score, options.class_scores)
    count_options = CountOptions(
        score=0.0,  # keep all the model emits: AP needs the low scores
        tile_size=options.tile_size,
        tile_overlap=options.tile_overlap,
        threads=options.threads,
        nested=options.nested,
        views=options.views,
    )
    return EvalPlan(
        Path(model_path), truths, levels, threshold, count_options, per_class, options.calibrate
    )


def count_labelled(
    plan: EvalPlan,
    tile_progress: Callable[[int, int], None] | None = None,
    on_scene: Callable[[SceneResult], None] | None = None,
) -> list[SceneResult]:
    """Count every labelled scene of ``plan`` with its model, every detection kept."""
    results = []
    for truth in plan.truths:
        result = count_scene(truth.image, plan.model, plan.count_options, tile_progress)
        results.append(result)
        if on_scene is not None:
            on_scene(result)
    return results


def report_of(plan: EvalPlan, results: Sequence[SceneResult]) -> EvalReport:
    """Score ``results`` (:func:`count_labelled`) at the thresholds of ``plan``, with the
    calibration it asks for; one counting pass can be scored at several thresholds."""
    report = score_results(
        results, plan.truths, plan.levels, plan.threshold, str(plan.model), plan.class_thresholds
    )
    views = plan.count_options.views
    calibration = None
    if plan.calibrate:
        current = plan.thresholds_by_class_id()
        calibration = calibrate_counts(
            results, plan.truths, plan.levels, current, str(plan.model), views
        )
    return replace(report, views=views, calibration=calibration)


def run_evaluation(
    plan: EvalPlan,
    tile_progress: Callable[[int, int], None] | None = None,
    on_scene: Callable[[SceneResult], None] | None = None,
) -> EvalReport:
    """Count every labelled scene of ``plan`` with its model and score the result."""
    return report_of(plan, count_labelled(plan, tile_progress, on_scene))


def evaluate(
    scenes: Sequence[str | Path],
    labels: str | Path | None,
    model_path: str | Path,
    options: EvalOptions = EvalOptions(),
    tile_progress: Callable[[int, int], None] | None = None,
    on_scene: Callable[[SceneResult], None] | None = None,
) -> EvalReport:
    """Count every labelled scene with the model and score it (see the module doc)."""
    plan = plan_evaluation(scenes, labels, model_path, options)
    return run_evaluation(plan, tile_progress, on_scene)


def _label_taxonomy(name: str | None, model_taxonomy: Taxonomy) -> Taxonomy:
    if name is None or name == model_taxonomy.name:
        return model_taxonomy
    try:
        return load_taxonomy(name)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(name, f"not a taxonomy ({exc})") from exc
