"""Validate the final weights when training stopped after its last validation.

``max_steps`` or ``max_time`` can end a run part-way between two validations (every
``check_val_every_n_epoch`` epochs): the last steps, taken at the end of the schedule's
decay, would otherwise never be scored, and ``best.ckpt`` would be an earlier model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L


class ValidationSteps(L.Callback):
    """Remembers the global step of the last validation run while fitting."""

    def __init__(self) -> None:
        self.last_step: int | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self.last_step = trainer.global_step


def validate_final_weights(
    trainer: L.Trainer,
    module: L.LightningModule,
    data: L.LightningDataModule,
    steps: ValidationSteps,
    monitor: str,
    best_path: Path,
) -> float | None:
    """Validate the weights training ended with, unless that step was already validated;
    save them as ``best_path`` when they beat the best validation so far. Returns their score
    (None when nothing was validated)."""
    if trainer.global_step == 0 or steps.last_step == trainer.global_step:
        return None
    best = next((c for c in trainer.checkpoint_callbacks if c.monitor == monitor), None)
    results: list[dict[str, Any]] = trainer.validate(module, datamodule=data, verbose=False)
    if not results or monitor not in results[0]:
        return None
    score = float(results[0][monitor])
    best_score = None if best is None or best.best_model_score is None else best.best_model_score
    if best_score is None or score > float(best_score):
        trainer.save_checkpoint(best_path)
    return score
