"""Detector checkpoints: rebuild a trained model from the file alone.

A checkpoint is a Lightning checkpoint (``RUN/best.ckpt``, ``RUN/last.ckpt``) or the same
layout written by :func:`save_detector`. Its ``hyper_parameters`` hold plain data:

- ``detector``: :class:`~coalwatch.model.detector.DetectorConfig` as a dict;
- ``taxonomy``: the taxonomy dict (leaf classes in detector order, ids from 1);
- ``inference``: :class:`InferenceSettings` as a dict (what ONNX metadata needs: tile size and
  overlap, GSD, bands, radiometric scaling of the chips, default score threshold and
  per-class thresholds);
- ``run`` (Lightning runs only): the fully resolved training config.

``state_dict`` holds the detector's weights under the prefix ``model.``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torchvision.models.detection import FasterRCNN

from coalwatch.atomic import atomic_path
from coalwatch.errors import InputError
from coalwatch.labels.taxonomy import Taxonomy
from coalwatch.model.detector import DetectorConfig, build_detector
from coalwatch.model.torchfile import load_torch_file

STATE_PREFIX = "model."
# Detector settings whose default changed: a checkpoint written before the key existed was
# trained (and must run) with the old behaviour.
LEGACY_DETECTOR = {"roi_align_aligned": False}


@dataclass
class InferenceSettings:
    """How tiles must be prepared for the model, and its default operating point."""

    tile_size: int = 512
    tile_overlap: int = 64  # pixels shared by neighbouring tiles
    gsd_m: float | None = None  # ground sample distance the model was trained at
    # (min, max) GSD of the training scenes when they span several: scenes inside the
    # span are counted as they are, others resampled to the nearer end
    gsd_range_m: tuple[float, float] | None = None
    bands: list[int] = field(default_factory=lambda: [1, 2, 3])  # 1-based source bands -> RGB
    scaling: dict[str, Any] = field(default_factory=lambda: {"method": "gain", "gain": 1.0})
    score_threshold: float = 0.5
    # per-class thresholds (class name -> score) that replace score_threshold for their class
    class_score_thresholds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InferenceSettings:
        """From a mapping; unknown keys raise ValueError."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown inference setting(s): {', '.join(unknown)}")
        values = dict(data)
        if values.get("gsd_range_m") is not None:
            values["gsd_range_m"] = tuple(float(v) for v in values["gsd_range_m"])
        return cls(**values)


def config_digest(config: Mapping[str, Any]) -> str:
    """A short stable digest of a config (sorted JSON, SHA-256, 16 hex digits)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def hyper_parameters(
    detector: DetectorConfig,
    taxonomy: Taxonomy,
    inference: InferenceSettings,
    run: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The checkpoint's ``hyper_parameters`` block (plain data only)."""
    return {
        "detector": detector.to_dict(),
        "taxonomy": taxonomy.to_dict(),
        "inference": inference.to_dict(),
        "run": dict(run or {}),
    }


def save_detector(
    path: str | Path,
    model: FasterRCNN,
    detector: DetectorConfig,
    taxonomy: Taxonomy,
    inference: InferenceSettings | None = None,
    run: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint that :func:`load_detector` reads (atomically)."""
    if detector.num_classes != taxonomy.num_classes:
        raise ValueError(
            f"detector has {detector.num_classes} classes, taxonomy {taxonomy.num_classes}"
        )
    checkpoint = {
        "state_dict": {STATE_PREFIX + k: v for k, v in model.state_dict().items()},
        "hyper_parameters": hyper_parameters(
            detector, taxonomy, inference or InferenceSettings(tile_size=detector.tile_size), run
        ),
    }
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return Path(path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint dict (tensors on the CPU), or InputError."""
    path = Path(path)
    checkpoint = load_torch_file(path, "checkpoint not found", "not a readable checkpoint")
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise InputError(path, "not a coalwatch checkpoint (no state_dict)")
    hparams = checkpoint.get("hyper_parameters") or {}
    for key in ("detector", "taxonomy"):
        if key not in hparams:
            raise InputError(path, f"not a coalwatch checkpoint (hyper_parameters lack {key!r})")
    return checkpoint


def load_detector(path: str | Path) -> tuple[FasterRCNN, dict[str, Any], Taxonomy]:
    """Rebuild the detector of a checkpoint: ``(model.eval(), config, taxonomy)``.

    ``config`` is the checkpoint's ``hyper_parameters``: ``detector``, ``taxonomy``,
    ``inference`` (always complete, defaults filled in), ``run`` and ``config_digest``.
    """
    checkpoint = read_checkpoint(path)
    hparams = dict(checkpoint["hyper_parameters"])
    try:
        detector = DetectorConfig.from_dict(LEGACY_DETECTOR | hparams["detector"])
        taxonomy = Taxonomy.from_dict(hparams["taxonomy"])
        inference = InferenceSettings.from_dict(
            hparams.get("inference") or {"tile_size": detector.tile_size}
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(path, f"bad hyper_parameters: {exc}") from exc
    # Weights come from the checkpoint: no pretrained or local backbone file is needed.
    model = build_detector(detector, load_weights=False)
    state = {
        k[len(STATE_PREFIX) :]: v
        for k, v in checkpoint["state_dict"].items()
        if k.startswith(STATE_PREFIX)
    }
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(path, f"weights do not fit the stored config: {exc}") from exc
    config = {
        "detector": detector.to_dict(),
        "taxonomy": taxonomy.to_dict(),
        "inference": inference.to_dict(),
        "run": dict(hparams.get("run") or {}),
    }
    config["config_digest"] = config_digest({k: config[k] for k in ("detector", "run")})
    return model.eval(), config, taxonomy
