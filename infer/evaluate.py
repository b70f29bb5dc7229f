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

import numpy as np

from coalwatch.errors import InputError
from coalwatch.infer.calibration import TOLERANCE, CountCalibration, calibrate_class
from coalwatch.infer.coco_metrics import ImageBoxes, coco_scores
from coalwatch.infer.counting import CountOptions, SceneResult, count_scene
from coalwatch.infer.eval_report import EvalReport, SceneCounts
from coalwatch.infer.eval_truth import LevelMap, SceneTruth, load_truth
from coalwatch.infer.merge import NESTED_SHARE
from coalwatch.infer.metadata import thresholds_by_class_id
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
