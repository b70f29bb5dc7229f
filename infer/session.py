"""Run an exported coalwatch ONNX detector with onnxruntime (no torch).

``OnnxDetector`` loads the model once, checks the input/output contract (input ``image``
float32 (3, H, W) in [0, 1]; outputs ``boxes``, ``labels``, ``scores``) and turns one
tile into ``Detections`` in the tile's pixels. ``detector_for`` caches one detector per
process and model, so that a pool of worker processes loads each model only once.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from coalwatch.errors import InputError
from coalwatch.infer.detections import Detections
from coalwatch.infer.metadata import ModelMetadata, metadata_of_session
from coalwatch.infer.views import detect_views

INPUT_NAME = "image"
OUTPUT_NAMES = ("boxes", "labels", "scores")


def open_session(model_path: str | Path, threads: int = 0) -> Any:
    """An onnxruntime session for ``model_path`` (``threads`` 0: onnxruntime's default)."""
    import onnxruntime as ort

    path = Path(model_path)
    if not path.is_file():
        raise InputError(path, "no such model file")
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(0, int(threads))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own unrelated exception types
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(path, f"not a loadable ONNX model ({message[:200]})") from exc


class OnnxDetector:
    """An exported detector: ``detect(image) -> Detections`` in the image's pixels."""

    def __init__(self, model_path: str | Path, threads: int = 0) -> None:
        self.path = Path(model_path)
        self.session = open_session(self.path, threads)
        self.metadata: ModelMetadata = metadata_of_session(self.session, self.path)
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if inputs != [INPUT_NAME] or set(OUTPUT_NAMES) - set(outputs):
            raise InputError(
                self.path,
                f"ONNX model has inputs {inputs} and outputs {outputs}; coalwatch needs "
                f"input {INPUT_NAME!r} and outputs {list(OUTPUT_NAMES)}",
            )

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.metadata.taxonomy_obj.classes

    def detect(
        self, image: np.ndarray, score: float | np.ndarray | None = None, views: int = 1
    ) -> Detections:
        """Detections for one float32 (3, H, W) image in [0, 1], scoring at least ``score``.

        ``score``: one threshold, or one per class id (the background's first); it defaults
        to the model's own thresholds (per class where it has them);
        ``views`` 4 or 8 fuses the detections of rotated and mirrored copies
        (:mod:`coalwatch.infer.views`) before the threshold.
        """
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"image must be (3, H, W), got {image.shape}")
        dets = detect_views(self.raw_detections, image, views)
        return dets.above(self.metadata.thresholds_by_class_id() if score is None else score)

    def raw_detections(self, image: np.ndarray) -> Detections:
        """Everything the model outputs for one (3, H, W) image (its own score floor)."""
        feed = {INPUT_NAME: np.ascontiguousarray(image, dtype=np.float32)}
        boxes, labels, scores = self.session.run(list(OUTPUT_NAMES), feed)
        return Detections(boxes.reshape(-1, 4), scores.reshape(-1), labels.reshape(-1))


@lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int, threads: int, pid: int) -> OnnxDetector:
    return OnnxDetector(path, threads)


def detector_for(model_path: str | Path, threads: int = 0) -> OnnxDetector:
    """The process's detector for ``model_path`` (loaded once per process and file version)."""
    path = Path(model_path).resolve()
    if not path.is_file():
        raise InputError(model_path, "no such model file")
    return _cached(str(path), path.stat().st_mtime_ns, int(threads), os.getpid())
