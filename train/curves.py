"""Training history from the CSV log, and a PNG of the curves (matplotlib)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coalwatch.atomic import save_figure

LOSSES = ("loss", "loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_history(metrics_csvs: Sequence[Path]) -> list[dict[str, Any]]:
    """One row per epoch: mean train losses (``train/*_epoch``) and validation metrics.

    Several CSV files (a run and its resumptions, in order) merge; later rows win.
    """
    epochs: dict[int, dict[str, Any]] = {}
    for metrics_csv in metrics_csvs:
        _read_rows(metrics_csv, epochs)
    return [epochs[e] for e in sorted(epochs)]


def _read_rows(metrics_csv: Path, epochs: dict[int, dict[str, Any]]) -> None:
    with metrics_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            epoch = _number(row.get("epoch", ""))
            if epoch is None:
                continue
            entry = epochs.setdefault(int(epoch), {"epoch": int(epoch)})
            for key, text in row.items():
                value = _number(text or "")
                if value is None or key == "epoch":
                    continue
                if key.startswith("val/") or key.endswith("_epoch") or key == "step":
                    name = key.removesuffix("_epoch")
                    entry[name] = max(value, entry.get(name, value)) if key == "step" else value


def plot_curves(history: list[dict[str, Any]], out: Path, title: str = "") -> Path:
    """Losses (left) and validation mAP, mAP50, F1 (right) per epoch, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    for name in LOSSES:
        points = [(h["epoch"], h[f"train/{name}"]) for h in history if f"train/{name}" in h]
        if points:
            ax_loss.plot(*zip(*points, strict=True), marker="o", ms=3, label=name)
    ax_loss.set(xlabel="epoch", ylabel="training loss (epoch mean)", title="losses")
    if ax_loss.lines:
        ax_loss.set_yscale("log")
        ax_loss.legend(fontsize=8)
    for name in ("mAP50", "mAP", "f1", "precision", "recall"):
        points = [(h["epoch"], h[f"val/{name}"]) for h in history if f"val/{name}" in h]
        if points:
            ax_val.plot(*zip(*points, strict=True), marker="o", ms=3, label=name)
    ax_val.set(xlabel="epoch", ylabel="validation", title="validation", ylim=(0, 1.02))
    if ax_val.lines:
        ax_val.legend(fontsize=8)
    for ax in (ax_loss, ax_val):
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out, dpi=100)
