"""``Detections``: the one detections type of coalwatch (numpy, no torch).

A set of N axis-aligned boxes with scores and class ids, plus optional per-detection
columns (e.g. ``heap_area_m2``). Boxes are ``(x0, y0, x1, y1)`` in pixels of whatever
frame the producer works in: a tile's pixels straight out of the model, then the scene's
pixels after ``translate``/``scale``, and map coordinates via ``to_map``. The same type
flows through tiling, merging, counting, writing and evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from affine import Affine


def _column(values: Any, dtype: Any, n: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    if n is not None and array.shape[0] != n:
        raise ValueError(f"column has {array.shape[0]} rows, expected {n}")
    return array


@dataclass(frozen=True)
class Detections:
    """N boxes ``(x0, y0, x1, y1)`` (float64), ``scores`` (float32), ``class_ids`` (int64, from 1).

    ``extra`` holds further per-detection columns (arrays of length N) that follow every
    selection and concatenation.
    """

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        boxes = _column(self.boxes, np.float64).reshape(-1, 4)
        n = boxes.shape[0]
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", _column(self.scores, np.float32, n).reshape(n))
        object.__setattr__(self, "class_ids", _column(self.class_ids, np.int64, n).reshape(n))
        extra = {
            k: np.asarray(v).reshape(n, *np.asarray(v).shape[1:]) for k, v in self.extra.items()
        }
        object.__setattr__(self, "extra", extra)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def empty(cls, extra_names: Iterable[str] = ()) -> Detections:
        """No detections."""
        return cls(
            np.zeros((0, 4)),
            np.zeros(0),
            np.zeros(0, np.int64),
            {k: np.zeros(0) for k in extra_names},
        )

    @classmethod
    def concat(cls, parts: Sequence[Detections]) -> Detections:
        """All detections of ``parts`` in order; ``extra`` columns must match across parts."""
        parts = list(parts)
        if not parts:
            return cls.empty()
        names = set(parts[0].extra)
        if any(set(p.extra) != names for p in parts):
            raise ValueError("cannot concatenate detections with different extra columns")
        return cls(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.class_ids for p in parts]),
            {k: np.concatenate([p.extra[k] for p in parts]) for k in sorted(names)},
        )

    # -- basic properties ---------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @property
    def widths(self) -> np.ndarray:
        return self.boxes[:, 2] - self.boxes[:, 0]

    @property
    def heights(self) -> np.ndarray:
        return self.boxes[:, 3] - self.boxes[:, 1]

    @property
    def areas(self) -> np.ndarray:
        """Box areas in the boxes' units squared."""
        return np.clip(self.widths, 0, None) * np.clip(self.heights, 0, None)

    @property
    def centres(self) -> np.ndarray:
        """Box centres, shape (N, 2)."""
        return np.stack(
            [(self.boxes[:, 0] + self.boxes[:, 2]) / 2, (self.boxes[:, 1] + self.boxes[:, 3]) / 2],
            axis=1,
        )

    # -- selection and transformation ---------------------------------------------------
    def select(self, index: Any) -> Detections:
        """A subset by boolean mask or integer index array."""
        index = np.asarray(index)
        return Detections(
            self.boxes[index],
            self.scores[index],
            self.class_ids[index],
            {k: v[index] for k, v in self.extra.items()},
        )

    def with_extra(self, **columns: Any) -> Detections:
        """A copy with more (or replaced) per-detection columns."""
        return Detections(self.boxes, self.scores, self.class_ids, {**self.extra, **columns})

    def with_boxes(self, boxes: np.ndarray) -> Detections:
        """A copy with new boxes (same length)."""
        return Detections(boxes, self.scores, self.class_ids, self.extra)

    def above(self, score: float | np.ndarray) -> Detections:
        """Detections scoring at least ``score``: one threshold, or an array of thresholds
        indexed by class id."""
        if np.ndim(score) == 0:
            return self.select(self.scores >= score)
        thresholds = np.asarray(score, dtype=np.float32)
        if len(self) and self.class_ids.max() >= len(thresholds):
            raise ValueError(f"class id {self.class_ids.max()} has no threshold")
        return self.select(self.scores >= thresholds[self.class_ids])

    def of_class(self, class_id: int) -> Detections:
        """Detections of one class id."""
        return self.select(self.class_ids == class_id)

    def translate(self, dx: float, dy: float) -> Detections:
        """Shift boxes by ``(dx, dy)`` (e.g. a tile's offset in the scene)."""
        return self.with_boxes(self.boxes + np.array([dx, dy, dx, dy], dtype=np.float64))

    def scale(self, sx: float, sy: float | None = None) -> Detections:
        """Multiply box coordinates (e.g. from resampled model pixels back to scene pixels)."""
        sy = sx if sy is None else sy
        return self.with_boxes(self.boxes * np.array([sx, sy, sx, sy], dtype=np.float64))

    def clip(self, width: float, height: float) -> Detections:
        """Clip boxes to ``[0, width] x [0, height]``."""
        boxes = self.boxes.copy()
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
        return self.with_boxes(boxes)

    def sorted_by_score(self) -> Detections:
        """Highest score first (stable)."""
        return self.select(np.argsort(-self.scores, kind="stable"))

    # -- coordinates and counts ---------------------------------------------------------
    def to_map(self, transform: Affine) -> np.ndarray:
        """Boxes in map coordinates ``(xmin, ymin, xmax, ymax)`` for a pixel→map ``transform``.

        Works for north-up and rotated or flipped transforms: each box's four corners are
        transformed and their envelope taken.
        """
        if not len(self):
            return np.zeros((0, 4))
        a, b, c, d, e, f = tuple(transform)[:6]
        xs = self.boxes[:, [0, 2, 0, 2]]
        ys = self.boxes[:, [1, 1, 3, 3]]
        mx = a * xs + b * ys + c
        my = d * xs + e * ys + f
        return np.stack([mx.min(1), my.min(1), mx.max(1), my.max(1)], axis=1)

    def map_centres(self, transform: Affine) -> np.ndarray:
        """Box centres in map coordinates, shape (N, 2)."""
        c = self.centres
        a, b, cc, d, e, f = tuple(transform)[:6]
        return np.stack([a * c[:, 0] + b * c[:, 1] + cc, d * c[:, 0] + e * c[:, 1] + f], axis=1)

    def count_by_class(self, class_names: Sequence[str]) -> dict[str, int]:
        """Number of detections per class name (every class listed, ids from 1)."""
        counts = np.bincount(self.class_ids, minlength=len(class_names) + 1)
        return {name: int(counts[i + 1]) for i, name in enumerate(class_names)}

    def to_records(self, class_names: Sequence[str]) -> list[dict[str, Any]]:
        """Plain dicts (class name, score, box and extra columns), e.g. for JSON."""
        records = []
        for i in range(len(self)):
            record: dict[str, Any] = {
                "class": class_names[int(self.class_ids[i]) - 1],
                "score": round(float(self.scores[i]), 4),
                "box": [round(float(v), 2) for v in self.boxes[i]],
            }
            for name, column in self.extra.items():
                value = column[i]
                record[name] = value.item() if hasattr(value, "item") else value
            records.append(record)
        return records
