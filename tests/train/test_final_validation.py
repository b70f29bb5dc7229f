"""A run stopped by max_steps between two validations still validates its final weights."""

from __future__ import annotations

import json

import torch

from coalwatch.cli import main


def _val_steps(run) -> list[int]:
    metrics = json.loads((run / "metrics.json").read_text())
    return [int(h["step"]) for h in metrics["history"] if "val/mAP50" in h]


def test_max_steps_between_validations_validates_the_final_weights(tiny_config, tmp_path):
    out = tmp_path / "run"
    overrides = ["trainer.max_steps=7", "trainer.check_val_every_n_epoch=50"]
    assert (
        main(["train", "--config", str(tiny_config(epochs=100)), "--out", str(out), *overrides])
        == 0
    )
    assert _val_steps(out) == [7]
    best = torch.load(out / "best.ckpt", map_location="cpu", weights_only=False)
    assert best["global_step"] == 7


def test_a_step_already_validated_is_not_validated_again(tiny_config, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--config", str(tiny_config(epochs=1)), "--out", str(out)]) == 0
    assert len(_val_steps(out)) == 1  # the epoch's own validation, none after it
