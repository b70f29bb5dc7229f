"""Calibrate a trained checkpoint's per-class score thresholds on labelled chips.

``coalwatch calibrate RUN`` does for an existing run what ``inference.calibrate_thresholds``
does at the end of training (:mod:`coalwatch.train.calibration`): on the run's validation
chips, or on any chip folder (labelled chips of the scenes an analyst counts), it finds for
each class the score at which the detector's count matches the truth, and stores the
thresholds in the checkpoint, which ``coalwatch export`` then writes into the ONNX model.
Thresholds the training config set itself (``inference.class_score_thresholds``) are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from coalwatch.atomic import atomic_path
from coalwatch.errors import InputError
from coalwatch.model.checkpoint import load_detector, read_checkpoint
from coalwatch.model.export import resolve_checkpoint
from coalwatch.train.calibration import MIN_OBJECTS, ThresholdCalibration, named_thresholds
from coalwatch.train.datamodule import ChipDataModule, check_chip_folder


@dataclass(frozen=True)
class CalibrationReport:
    """What calibration found and where it was written."""

    checkpoint: Path
    written: Path
    chips: Path
    split: str
    objects: dict[str, int]  # visible objects per class clear of the chips' edges
    before: dict[str, float]  # per-class thresholds the checkpoint had
    after: dict[str, float]


def run_chips(checkpoint_path: Path, config: dict[str, Any]) -> Path:
    """The chip folder a run trained on: ``data.chips`` of its config, else its own
    ``data/`` (synthetic sets are chipped into the run folder)."""
    chips = (config.get("run") or {}).get("data", {}).get("chips")
    if chips:
        return Path(chips)
    return checkpoint_path.parent / "data"


def calibrate_checkpoint(
    source: str | Path,
    chips: str | Path | None = None,
    split: str = "val",
    min_objects: int = MIN_OBJECTS,
    out: str | Path | None = None,
    batch_size: int = 4,
) -> CalibrationReport:
    """Calibrate ``source`` (a run folder or checkpoint) on ``split`` of ``chips`` and write
    the checkpoint with its new thresholds to ``out`` (default: in place, atomically)."""
    checkpoint = resolve_checkpoint(source)
    model, config, taxonomy = load_detector(checkpoint)
    folder = Path(chips) if chips is not None else run_chips(checkpoint, config)
    if not folder.is_dir():
        raise InputError(folder, "chips folder not found (pass --chips)")
    splits = check_chip_folder(folder, taxonomy)
    if split not in splits or not splits[split].records:
        raise InputError(folder, f"no {split!r} chips to calibrate on")
    tile = int(config["detector"]["tile_size"])
    data = ChipDataModule(splits, tile, None, batch_size=batch_size)
    calibration = ThresholdCalibration(taxonomy.num_classes, min_objects)
    with torch.no_grad():
        for images, targets in data.dataset_loader(split):
            sizes = [tuple(image.shape[-2:]) for image in images]
            calibration.update(model(images), targets, sizes)
    found = named_thresholds(calibration.compute(), taxonomy.classes)
    configured = (config.get("run") or {}).get("inference", {}).get("class_score_thresholds")
    after = found | dict(configured or {})

    raw = read_checkpoint(checkpoint)
    inference = dict(raw["hyper_parameters"].get("inference") or {})
    before = dict(inference.get("class_score_thresholds") or {})
    raw["hyper_parameters"]["inference"] = inference | {"class_score_thresholds": after}
    written = Path(out) if out is not None else checkpoint
    with atomic_path(written) as tmp:
        torch.save(raw, tmp)
    objects = {name: int(calibration.true[k]) for k, name in enumerate(taxonomy.classes, start=1)}
    return CalibrationReport(checkpoint, written, folder, split, objects, before, after)
