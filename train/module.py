"""The LightningModule: a torchvision Faster R-CNN, its losses, validation metrics, optimiser.

Its hyper-parameters are plain data in the checkpoint layout of
:mod:`coalwatch.model.checkpoint` (``detector``, ``taxonomy``, ``inference``, ``run``), so
``load_detector`` rebuilds the model from ``best.ckpt`` or ``last.ckpt`` alone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import lightning as L
import torch

from coalwatch.labels.taxonomy import Taxonomy
from coalwatch.model.checkpoint import InferenceSettings
from coalwatch.model.detector import DetectorConfig, build_detector
from coalwatch.train.metrics import DetectionMetrics

LOSS_NAMES = ("loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg")


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule (linear warm-up, then cosine or constant)."""

    name: str = "sgd"  # sgd or adamw
    lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # cosine or constant
    warmup_steps: int = 50
    min_lr_ratio: float = 0.02  # cosine floor, as a share of lr
    # Weight of each torchvision loss in the sum (the others weigh 1): loss_classifier,
    # loss_box_reg, loss_objectness, loss_rpn_box_reg; a cascade stage's losses
    # (loss_box_reg_2, ...) take their loss's weight
    loss_weights: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.loss_weights) - set(LOSS_NAMES))
        if unknown:
            raise ValueError(f"optim.loss_weights: unknown loss {unknown}; known: {LOSS_NAMES}")
        if any(w < 0 for w in self.loss_weights.values()):
            raise ValueError("optim.loss_weights must not be negative")
        if self.name not in ("sgd", "adamw"):
            raise ValueError(f"optim.name must be sgd or adamw, got {self.name!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"optim.schedule must be cosine or constant, got {self.schedule!r}")
        if self.lr <= 0:
            raise ValueError("optim.lr must be positive")


def lr_factor(step: int, total: int, warmup: int, schedule: str, floor: float) -> float:
    """Multiplier of the base learning rate at ``step`` (of ``total``)."""
    if warmup > 0 and step < warmup:
        return max(step + 1, 1) / warmup
    if schedule == "constant" or total <= warmup:
        return 1.0
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class DetectorModule(L.LightningModule):
    """Faster R-CNN training and validation."""

    def __init__(
        self,
        detector: dict[str, Any],
        taxonomy: dict[str, Any],
        inference: dict[str, Any],
        optim: dict[str, Any] | None = None,
        run: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.detector_config = DetectorConfig.from_dict(detector)
        self.taxonomy = Taxonomy.from_dict(taxonomy)
        self.inference = InferenceSettings.from_dict(inference)
        self.optim = OptimConfig(**(optim or {}))
        self.model = build_detector(self.detector_config)
        self.metrics = DetectionMetrics(self.taxonomy.classes, self.inference.score_threshold)

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        return self.model(images)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        images, targets = batch
        losses = self.model(images, targets)
        loss = sum(value * self.loss_weight(name) for name, value in losses.items())
        size = len(images)
        for name, value in losses.items():
            self.log(f"train/{name}", value, batch_size=size, on_step=True, on_epoch=True)
        self.log("train/loss", loss, batch_size=size, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def loss_weight(self, name: str) -> float:
        """The configured weight of a loss (a cascade stage's ``loss_box_reg_2`` takes
        ``loss_box_reg``'s)."""
        base, _, stage = name.rpartition("_")
        key = base if stage.isdigit() else name
        return self.optim.loss_weights.get(key, 1.0)

    def on_validation_epoch_start(self) -> None:
        self.metrics.reset()

    def validation_step(self, batch, batch_idx: int) -> None:
        images, targets = batch
        self.metrics.update(self.model(images), targets)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.world_size > 1:
            # torchmetrics gathers mAP states itself; the operating-point counts are summed here
            point = self.metrics.point
            for name in ("tp", "predicted", "true", "abs_count_error", "images"):
                total = self.trainer.strategy.reduce(
                    getattr(point, name).to(self.device), reduce_op="sum"
                )
                setattr(point, name, total.cpu())
        values = self.metrics.compute()
        logged = {f"val/{k}": float(v) for k, v in values.items() if k != "mAP50"}
        self.log_dict(logged)
        self.log("val/mAP50", values["mAP50"], prog_bar=True)

    def configure_optimizers(self):
        params = [p for p in self.model.parameters() if p.requires_grad]
        cfg = self.optim
        if cfg.name == "sgd":
            optimizer = torch.optim.SGD(
                params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
        else:
            optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        total = int(self.trainer.estimated_stepping_batches) if self.trainer else 1
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: lr_factor(step, total, cfg.warmup_steps, cfg.schedule, cfg.min_lr_ratio),
        )
        schedule = {"scheduler": scheduler, "interval": "step"}
        return {"optimizer": optimizer, "lr_scheduler": schedule}


def optim_dict(cfg: OptimConfig) -> dict[str, Any]:
    """Plain form of an optimiser config (for hyper-parameters)."""
    return asdict(cfg)
