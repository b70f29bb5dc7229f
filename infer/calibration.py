"""Per-class count thresholds calibrated on labelled scenes: ``coalwatch evaluate --calibrate``
writes them, ``count --thresholds`` and ``evaluate --thresholds`` apply them.

A model ships one operating point, chosen for one view on its own validation chips. Fused
views (``--views``) score lower than one view (a box that some views miss is scored down),
and another site's imagery may ask for another threshold per class. For each class the
calibration looks at the per-scene count error (mean absolute, over the calibration scenes),
the number analysts compare, at thresholds 0.01 to 0.99, and moves the class's threshold
only as far as the labels ask: to the threshold nearest the current one among those whose
error is within half an object per scene of the least (the higher of two equally near). A
few labelled dates are a small sample; on the port series this rule beat taking the least
error outright (docs/benchmarks.md, session 13). A class with no labelled object in the
calibration scenes keeps its threshold. The file records the views it was made with, and a
count under other views is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coalwatch.errors import InputError

GRID = np.round(np.arange(1, 100) / 100, 2)  # candidate thresholds
TOLERANCE = 0.5  # objects per scene: errors this close to the least are as good
FORMAT = "coalwatch-count-thresholds"


@dataclass(frozen=True)
class ClassCalibration:
    """One class: its calibrated threshold and the count error before and after."""

    threshold: float
    threshold_before: float
    count_true: int  # over the calibration scenes
    count_mae_before: float  # per scene
    count_mae_after: float
    bias_before: int  # predicted minus true, over the calibration scenes
    bias_after: int


@dataclass(frozen=True)
class CountCalibration:
    """Calibrated thresholds of one model under one view count (``thresholds.json``)."""

    model: str
    views: int
    scenes: tuple[str, ...]
    classes: dict[str, ClassCalibration]
    unlabelled: tuple[str, ...] = ()  # classes left as they were: no object to count

    @property
    def thresholds(self) -> dict[str, float]:
        return {name: c.threshold for name, c in self.classes.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": self.model,
            "views": self.views,
            "class_score_thresholds": self.thresholds,
            "scenes": list(self.scenes),
            "classes": {name: asdict(c) for name, c in self.classes.items()},
            "not_calibrated": list(self.unlabelled),
        }

    def table(self) -> str:
        """Plain text for the terminal: thresholds and count errors before and after."""
        rows = [
            f"{'class':<16}{'threshold':>17}{'true':>7}{'count MAE':>17}{'bias':>15}",
        ]
        for name, c in self.classes.items():
            rows.append(
                f"{name:<16}{c.threshold_before:>8.2f} ->{c.threshold:>5.2f}{c.count_true:>7}"
                f"{c.count_mae_before:>8.2f} ->{c.count_mae_after:>5.2f}"
                f"{c.bias_before:>+7d} ->{c.bias_after:>+4d}"
            )
        rows.append(
            f"count thresholds calibrated on {len(self.scenes)} scene(s), {self.views} view(s)"
        )
        if self.unlabelled:
            rows.append(f"not calibrated (no labelled object): {', '.join(self.unlabelled)}")
        return "\n".join(rows)


def calibrate_class(
    scores: Sequence[np.ndarray],
    true_counts: Sequence[int],
    threshold_before: float,
    tolerance: float = TOLERANCE,
) -> ClassCalibration:
    """The calibrated threshold of one class (see the module doc): ``scores`` of its
    detections and its true count, per scene, and the threshold it has now; ``tolerance``
    0 takes the least error outright."""
    truth = np.asarray(true_counts, dtype=np.int64)
    errors = _counts(scores, GRID) - truth[None, :]
    mae = np.abs(errors).mean(axis=1)
    bias = errors.sum(axis=1)
    good = np.flatnonzero(mae <= mae.min() + tolerance + 1e-9)
    distance = np.round(np.abs(GRID[good] - threshold_before), 6)
    best = good[np.lexsort((-GRID[good], distance))[0]]  # nearest, then the higher
    before = _counts(scores, [threshold_before])[0] - truth
    return ClassCalibration(
        threshold=float(GRID[best]),
        threshold_before=round(float(threshold_before), 4),
        count_true=int(truth.sum()),
        count_mae_before=round(float(np.abs(before).mean()), 4),
        count_mae_after=round(float(mae[best]), 4),
        bias_before=int(before.sum()),
        bias_after=int(bias[best]),
    )


def _counts(scores: Sequence[np.ndarray], thresholds: Sequence[float]) -> np.ndarray:
    """Detections scoring at least each threshold (rows) in each scene (columns), compared
    in float32 as count compares them (a score of 0.35 passes a threshold of 0.35)."""
    at = np.asarray(thresholds, np.float32)[:, None]
    return np.stack([(np.asarray(s, np.float32)[None, :] >= at).sum(axis=1) for s in scores], 1)


def write_thresholds(calibration: CountCalibration, path: Path) -> None:
    """Write ``thresholds.json`` (the caller writes it atomically)."""
    path.write_text(json.dumps(calibration.to_dict(), indent=1) + "\n")


@dataclass(frozen=True)
class CountThresholds:
    """A thresholds file as read: per-class thresholds and the views they were made for."""

    path: Path
    class_scores: dict[str, float]
    views: int


def read_thresholds(path: str | Path, classes: Sequence[str]) -> CountThresholds:
    """Read and check a thresholds file against the model's ``classes``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "no such thresholds file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a thresholds JSON file ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(path, "not a thresholds file (write one with evaluate --calibrate)")
    scores = data.get("class_score_thresholds")
    views = data.get("views")
    if not isinstance(scores, Mapping) or not isinstance(views, int):
        raise InputError(path, "thresholds file lacks class_score_thresholds or views")
    unknown = sorted(set(scores) - set(classes))
    if unknown:
        raise InputError(path, f"thresholds name class(es) the model lacks: {', '.join(unknown)}")
    if any(not isinstance(v, (int, float)) or not 0 <= v <= 1 for v in scores.values()):
        raise InputError(path, "thresholds must be numbers in [0, 1]")
    return CountThresholds(path, {str(k): float(v) for k, v in scores.items()}, views)


def check_views(thresholds: CountThresholds | None, views: int | None) -> int:
    """The view count to use: the file's unless ``views`` is given; a different one is refused."""
    if thresholds is None:
        return views or 1
    if views is not None and views != thresholds.views:
        raise InputError(
            thresholds.path,
            f"thresholds were calibrated with --views {thresholds.views}, not {views}: "
            "count with those views or calibrate again",
        )
    return thresholds.views
