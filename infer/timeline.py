"""Timeline plots of a counted series: one PNG per class (and one for coal heap area).

Counts per image over time, for the whole scene and each area of interest; images left
out for cloud or nodata (for heap area: any image more than lightly clouded) are drawn
hollow in grey. The sanctions dates (DOMAIN.md) are
marked with vertical lines when they fall in the plotted span, else noted at the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

from coalwatch.atomic import save_figure
from coalwatch.infer.counting import SceneResult
from coalwatch.infer.series import MAX_CLOUD_FOR_AREA, MIN_USABLE, Series

SANCTIONS: tuple[tuple[date, str], ...] = (
    (date(2016, 3, 2), "UNSCR 2270: coal, iron and iron ore exports banned (livelihood exception)"),
    (date(2017, 8, 5), "UNSCR 2371: coal exports banned outright"),
)


def _x_values(results: Sequence[SceneResult]) -> tuple[list, bool]:
    if results and all(r.date for r in results):
        return [date.fromisoformat(r.date) for r in results], True
    return list(range(len(results))), False


def _plot(
    series: Series,
    title: str,
    ylabel: str,
    value: Callable[[SceneResult, str | None], float | None],
    out: Path,
    keep: Callable[[SceneResult], bool],
    left_out: str,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = list(series.results)
    xs, dated = _x_values(results)
    usable = [keep(r) for r in results]
    fig, ax = plt.subplots(figsize=(10, 4.2), dpi=110)
    for aoi in [None, *series.aoi_names]:
        ys = [value(r, aoi) for r in results]
        if aoi is not None and not any(y for y in ys if y):
            continue
        points = [(x, y) for x, y, ok in zip(xs, ys, usable, strict=True) if ok and y is not None]
        if not points:
            continue
        label = "whole scene" if aoi is None else aoi
        px, py = zip(*points, strict=True)
        style = {"lw": 2.2, "color": "black"} if aoi is None else {"lw": 1.3}
        ax.plot(px, py, marker="o", ms=4, label=label, **style)
        skipped = [
            (x, y) for x, y, ok in zip(xs, ys, usable, strict=True) if not ok and y is not None
        ]
        if skipped and aoi is None:
            sx, sy = zip(*skipped, strict=True)
            ax.scatter(
                sx,
                sy,
                facecolors="none",
                edgecolors="grey",
                zorder=3,
                label=left_out,
            )
    if dated and xs:
        _mark_sanctions(ax, min(xs), max(xs))
        fig.autofmt_xdate()
    elif xs:
        ax.set_xticks(xs, [r.scene_id for r in results], rotation=45, ha="right", fontsize=7)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save_figure(fig, out)


def _mark_sanctions(ax, first: date, last: date) -> None:
    pad = max(timedelta(days=7), (last - first) * 0.05)
    lo, hi = first - pad, last + pad
    ax.set_xlim(lo, hi)
    notes = []
    for when, text in SANCTIONS:
        short = text.split(":")[0]
        if lo <= when <= hi:
            ax.axvline(when, color="firebrick", ls="--", lw=1.2)
            ax.annotate(
                f"{short}\n{when}",
                (when, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -3),
                textcoords="offset points",
                va="top",
                fontsize=7,
                color="firebrick",
            )
        else:
            side = "before" if when < lo else "after"
            notes.append(
                f"{short} ({when}, {abs((when - (lo if when < lo else hi)).days)} days "
                f"{side} this span)"
            )
    if notes:
        ax.text(
            0.0,
            -0.28,
            "Sanctions outside the plot: " + "; ".join(notes),
            transform=ax.transAxes,
            fontsize=7,
            color="firebrick",
        )


def write_timelines(
    series: Series, out_dir: str | Path, min_usable: float = MIN_USABLE
) -> list[Path]:
    """``timeline_<class>.png`` per class and ``timeline_heap_area.png``; returns the paths."""
    out_dir = Path(out_dir)
    paths = []

    def usable(r: SceneResult) -> bool:
        return r.usable_fraction >= min_usable

    for cls in series.classes:

        def count(r: SceneResult, aoi: str | None, cls: str = cls) -> float | None:
            if aoi is None:
                return r.counts[cls]
            return r.aoi_counts[aoi][cls] if aoi in r.aoi_counts else None

        out = out_dir / f"timeline_{cls}.png"
        title = f"{cls}: detections per image"
        left_out = f"left out (usable < {min_usable:.0%})"
        paths.append(_plot(series, title, "count", count, out, usable, left_out))
    if series.has_heaps:

        def area(r: SceneResult, aoi: str | None) -> float | None:
            return r.heap_area_m2 if aoi is None else r.aoi_heap_area_m2.get(aoi)

        def clear(r: SceneResult) -> bool:
            return usable(r) and r.cloud_fraction <= MAX_CLOUD_FOR_AREA

        out = out_dir / "timeline_heap_area.png"
        title = "coal heap area per image (dark pixels in heap boxes)"
        left_out = f"left out (cloud > {MAX_CLOUD_FOR_AREA:.0%} or usable < {min_usable:.0%})"
        paths.append(_plot(series, title, "area (m²)", area, out, clear, left_out))
    return paths
