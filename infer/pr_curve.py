"""Precision-recall PNG of an evaluation: one curve per category at IoU 0.5.

The curves are COCO's interpolated precision at 101 recall points (faster-coco-eval);
a marker shows each category's operating point at the score threshold.
"""

from __future__ import annotations

from pathlib import Path

from coalwatch.atomic import save_figure
from coalwatch.infer.eval_report import EvalReport


def write_pr_curve(report: EvalReport, path: str | Path) -> Path:
    """Write the precision-recall plot of ``report`` to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 5.2), dpi=110)
    colors = plt.get_cmap("tab10")
    for k, name in enumerate(report.categories):
        s = report.scores.classes[name]
        if not s.gt:
            continue
        color = colors(k % 10)
        ap50 = "-" if s.ap50 is None else f"{s.ap50:.3f}"
        ax.plot(s.pr_recall, s.pr_precision, color=color, lw=1.8, label=f"{name} (AP50 {ap50})")
        if s.recall is not None and s.precision is not None:
            ax.plot(s.recall, s.precision, "o", color=color, ms=7, mec="black")
    point = "per-class scores" if report.class_thresholds else f"score {report.scores.threshold:g}"
    ax.plot([], [], "o", color="grey", mec="black", label=f"at {point}")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(f"Precision-recall at IoU 0.5 ({report.level} level, {len(report.scenes)} scenes)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
