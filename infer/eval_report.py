"""An evaluation's report: scores per category, counts per scene, false alarms by kind, an
optional count calibration; as ``eval.json`` (``to_dict``) and a terminal table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coalwatch.infer.calibration import CountCalibration
from coalwatch.infer.coco_metrics import CocoScores
from coalwatch.infer.outcomes import KINDS


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
