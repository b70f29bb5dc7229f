"""Export a trained detector to ONNX with coalwatch metadata, then check parity.

The legacy TorchScript-based exporter (``dynamo=False``, opset 17) is used: the dynamo
path fails on torchvision's batched NMS. The graph takes one float32 image ``(3, H, W)``
in [0, 1] with dynamic H and W and returns ``boxes`` (N, 4) xyxy pixels, ``labels``
(int64, ids from 1) and ``scores``. The file carries ``coalwatch`` metadata
(``coalwatch.infer.metadata``), so counting needs nothing else. The file is written under
a temporary name and only renamed into place once parity with PyTorch holds.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.detection import FasterRCNN

from coalwatch import __version__
from coalwatch.atomic import atomic_path
from coalwatch.errors import InputError
from coalwatch.infer.metadata import METADATA_KEY, ModelMetadata
from coalwatch.labels.taxonomy import Taxonomy
from coalwatch.model.checkpoint import load_detector
from coalwatch.model.parity import TileParity, check_parity, parity_tiles

log = logging.getLogger(__name__)

OPSET = 17
CHECKPOINT_NAMES = ("best.ckpt", "last.ckpt")


class SingleImageDetector(nn.Module):
    """One image in, three tensors out: the ONNX contract around a torchvision detector."""

    def __init__(self, model: FasterRCNN) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        out = self.model([image])[0]
        return out["boxes"], out["labels"], out["scores"]


@dataclass(frozen=True)
class ExportReport:
    """What was written and how parity went."""

    path: Path
    checkpoint: Path
    metadata: ModelMetadata
    parity: list[TileParity]


def resolve_checkpoint(run_or_checkpoint: str | Path) -> Path:
    """A checkpoint file, or the best (else last) checkpoint of a run directory."""
    path = Path(run_or_checkpoint)
    if path.is_dir():
        for name in CHECKPOINT_NAMES:
            if (path / name).is_file():
                return path / name
        raise InputError(path, f"run directory holds no {' or '.join(CHECKPOINT_NAMES)}")
    if not path.is_file():
        raise InputError(path, "no such checkpoint or run directory")
    return path


def metadata_for(config: dict[str, Any], taxonomy: Taxonomy) -> ModelMetadata:
    """The ONNX metadata of a checkpoint's config (from ``load_detector``)."""
    inference = dict(config.get("inference") or {})
    return ModelMetadata(
        taxonomy=taxonomy.to_dict(),
        bands=tuple(int(b) for b in inference.get("bands", (1, 2, 3))),
        scaling=dict(inference.get("scaling") or {"method": "gain", "gain": 1.0}),
        tile_size=int(inference.get("tile_size", config["detector"]["tile_size"])),
        tile_overlap=int(inference.get("tile_overlap", 64)),
        gsd_m=inference.get("gsd_m"),
        gsd_range_m=None
        if inference.get("gsd_range_m") is None
        else tuple(float(v) for v in inference["gsd_range_m"]),
        score_threshold=float(inference.get("score_threshold", 0.5)),
        class_score_thresholds=dict(inference.get("class_score_thresholds") or {}),
        version=__version__,
        config_digest=str(config.get("config_digest", "")),
    )


def export_model(
    model: FasterRCNN, metadata: ModelMetadata, out: str | Path, parity: bool = True
) -> list[TileParity]:
    """Export ``model`` to ``out`` (atomically) with ``metadata``; check parity first."""
    import onnx

    model = model.eval()
    wrapper = SingleImageDetector(model).eval()
    size = metadata.tile_size
    example = torch.rand(3, size, size)
    results: list[TileParity] = []
    with atomic_path(out) as tmp:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the legacy exporter warns ~100 times; all benign
            torch.onnx.export(
                wrapper,
                (example,),
                str(tmp),
                dynamo=False,
                opset_version=OPSET,
                input_names=["image"],
                output_names=["boxes", "labels", "scores"],
                dynamic_axes={
                    "image": {1: "height", 2: "width"},
                    "boxes": {0: "detections"},
                    "labels": {0: "detections"},
                    "scores": {0: "detections"},
                },
            )
        proto = onnx.load(str(tmp))
        onnx.checker.check_model(proto)
        del proto.metadata_props[:]
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, metadata.to_json()
        proto.producer_name = "coalwatch"
        proto.producer_version = __version__
        onnx.save(proto, str(tmp))
        if parity:
            results = check_parity(
                model,
                tmp,
                parity_tiles(size),
                score_threshold=float(metadata.thresholds_by_class_id()[1:].min()),
            )
    return results


def export_checkpoint(
    run_or_checkpoint: str | Path, out: str | Path, parity: bool = True
) -> ExportReport:
    """``coalwatch export``: checkpoint (or run directory) → ONNX with metadata, parity-checked."""
    checkpoint = resolve_checkpoint(run_or_checkpoint)
    model, config, taxonomy = load_detector(checkpoint)
    metadata = metadata_for(config, taxonomy)
    results = export_model(model, metadata, out, parity=parity)
    return ExportReport(Path(out), checkpoint, metadata, results)
