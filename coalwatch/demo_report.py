"""Counts of a rendered series next to its ground truth (``truth.csv`` of the synth series).

The table lists, per date, what coalwatch counted and what was drawn ("counted/true"); the
summary puts the analyst-style sentence from the counts beside the same sentence built
from the truth, over the same usable images, for whole scenes and areas of interest.
Light: numpy and the counting results only.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coalwatch.errors import InputError
from coalwatch.infer.counting import SceneResult
from coalwatch.infer.series import MIN_USABLE, Series, describe_area, describe_counts

HEAP_AREA = "heap_area_m2"


def read_truth(path: str | Path) -> dict[str, dict[str, Any]]:
    """``truth.csv`` rows by scene id (numbers as floats, ``date`` and ``scene`` as text)."""
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise InputError(path, f"cannot read the truth table ({exc})") from exc
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        if "scene" not in row:
            raise InputError(path, "truth table has no 'scene' column")
        table[row["scene"]] = {
            k: (v if k in ("date", "scene") else float(v or 0)) for k, v in row.items()
        }
    return table


def counted_value(result: SceneResult, column: str) -> float | None:
    """A counted value under a truth.csv column name (``cls``, ``cls@aoi``, heap areas)."""
    name, _, aoi = column.partition("@")
    if name == HEAP_AREA:
        return result.heap_area_m2 if not aoi else result.aoi_heap_area_m2.get(aoi)
    if not aoi:
        return result.counts.get(name)
    counts = result.aoi_counts.get(aoi)
    return None if counts is None else counts.get(name)


def _cell(counted: float | None, true: float | None, area: bool) -> str:
    def fmt(v: float | None) -> str:
        if v is None:
            return "-"
        return f"{v / 1000:.1f}" if area else f"{v:.0f}"

    return f"{fmt(counted)}/{fmt(true)}"


def comparison_table(
    results: Sequence[SceneResult],
    truth: dict[str, dict[str, Any]],
    min_usable: float = MIN_USABLE,
) -> str:
    """Per date: counted/true per class and heap area (thousand m²); cloudy dates marked."""
    series = Series.of(results)
    columns = [*series.classes, HEAP_AREA]
    names = [c if c != HEAP_AREA else "heap k m²" for c in columns]
    width = max(11, *(len(n) + 1 for n in names))
    lines = [f"{'date':<11}{'usable':>7}  " + "".join(f"{n:>{width}}" for n in names)]
    errors: dict[str, list[float]] = {c: [] for c in columns}
    for r in series.results:
        row = truth.get(r.scene_id)
        usable = r.usable_fraction >= min_usable
        cells = []
        for column in columns:
            counted = counted_value(r, column)
            true = None if row is None else row.get(column)
            cells.append(_cell(counted, true, column == HEAP_AREA))
            if usable and counted is not None and true is not None:
                errors[column].append(abs(counted - true))
        flag = "" if usable else "  (left out: cloud/nodata)"
        date = r.date or r.scene_id
        lines.append(
            f"{date:<11}{r.usable_fraction:>7.2f}  "
            + "".join(f"{c:>{width}}" for c in cells)
            + flag
        )
    mae = []
    for column in columns:
        values = errors[column]
        if not values:
            mae.append("-")
        elif column == HEAP_AREA:
            mae.append(f"{sum(values) / len(values) / 1000:.1f}")
        else:
            mae.append(f"{sum(values) / len(values):.1f}")
    lines.append(f"{'mean |error|':<20}" + "".join(f"{m:>{width}}" for m in mae))
    return "\n".join(lines)


def _sentence(label: str, text: str) -> str:
    return text.removeprefix(f"{label}: ")


def _pair(
    label: str, dates: list[str], counted: list[float | None], true: list[float | None], area: bool
) -> list[str]:
    if area:
        mine = describe_area(label, dates, counted)
        theirs = describe_area(label, dates, true)
    else:
        mine = describe_counts(label, dates, [int(v or 0) for v in counted])
        theirs = describe_counts(label, dates, [int(v or 0) for v in true])
    return [
        f"{label}",
        f"  counted  {_sentence(label, mine)}",
        f"  truth    {_sentence(label, theirs)}",
    ]


def summary_next_to_truth(
    results: Sequence[SceneResult],
    truth: dict[str, dict[str, Any]],
    min_usable: float = MIN_USABLE,
) -> str:
    """The analyst-style sentences from the counts and from the truth, over usable images."""
    series = Series.of(results)
    kept = [r for r in series.usable(min_usable) if r.scene_id in truth]
    if not kept:
        return "no usable image with ground truth\n"
    dates = [r.date or r.scene_id for r in kept]
    left_out = len(series.results) - len(kept)
    lines = [
        f"{len(kept)} usable image(s), {dates[0]} to {dates[-1]}"
        + (f"; {left_out} left out for cloud/nodata" if left_out else ""),
        "",
        "Whole scenes:",
    ]
    columns = [*series.classes, HEAP_AREA]
    for aoi in [None, *series.aoi_names]:
        block = []
        for cls in columns:
            column = cls if aoi is None else f"{cls}@{aoi}"
            true = [truth[r.scene_id].get(column) for r in kept]
            counted = [counted_value(r, column) for r in kept]
            if aoi is not None and not any(true) and not any(counted):
                continue
            label = "coal heap area" if cls == HEAP_AREA else cls
            block += ["  " + line for line in _pair(label, dates, counted, true, cls == HEAP_AREA)]
        if aoi is not None and block:
            lines += ["", f"{aoi}:"]
        lines += block
    return "\n".join(lines) + "\n"
