"""Counted against true, over the dated series: one panel per class and one for heap area.

Solid: what coalwatch counted; dashed: the ground truth of the rendered series; hollow
markers: images left out for cloud or nodata. Light: matplotlib only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from coalwatch.atomic import save_figure
from coalwatch.demo_report import HEAP_AREA, counted_value
from coalwatch.infer.counting import SceneResult
from coalwatch.infer.series import MIN_USABLE, Series


def plot_counted_vs_truth(
    results: Sequence[SceneResult],
    truth: dict[str, dict[str, Any]],
    out: str | Path,
    min_usable: float = MIN_USABLE,
) -> Path:
    """Write the comparison PNG to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = Series.of(results)
    kept = [r for r in series.results if r.scene_id in truth]
    xs = [date.fromisoformat(r.date) if r.date else i for i, r in enumerate(kept)]
    usable = [r.usable_fraction >= min_usable for r in kept]
    columns = [*series.classes, HEAP_AREA]
    fig, axes = plt.subplots(
        len(columns), 1, figsize=(9, 1.7 * len(columns) + 0.6), dpi=100, sharex=True
    )
    for ax, column in zip(axes, columns, strict=True):
        scale = 1000.0 if column == HEAP_AREA else 1.0
        counted = [(counted_value(r, column) or 0) / scale for r in kept]
        true = [float(truth[r.scene_id].get(column, 0)) / scale for r in kept]
        ax.plot(xs, true, "--", color="grey", lw=1.5, label="truth")
        ax.plot(xs, counted, "-", color="black", lw=1.8, label="counted")
        for x, y, ok in zip(xs, counted, usable, strict=True):
            ax.plot(x, y, "o", ms=4, color="black" if ok else "white", mec="black")
        ax.set_ylabel("heap k m²" if column == HEAP_AREA else column, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize=8, ncol=2)
    axes[0].set_title("coalwatch counts against the series' ground truth (hollow: cloud)")
    fig.autofmt_xdate()
    fig.tight_layout()
    return save_figure(fig, out)
