"""A dated series of counted scenes: the series table, its CSV and a summary in words.

CSV columns follow the synthetic ``truth.csv``: ``ore_car``, ``ore_car@berth_1``,
``heap_area_m2@pier_3``, so counts and truth line up column by column.

A reduction over ``SceneResult``s (in any order; sorted by date here). The summary speaks
like an analyst, per class and per area of interest: the main spell of high counts on
successive images, with what came before and after ("ore_car: 30-50 on 3 successive
images, 2018-02-04 to 2018-02-12; at most 12 afterwards"), and for coal heaps the area's
course and its largest change between successive images; a quiet spell (no detections
on two or more successive images) is named. Images whose usable fraction (not nodata, not
cloud) is below ``min_usable`` are left out, as analysts drop them; heap areas use only
clear images (cloud hides dark pixels) when there are at least two.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from coalwatch.atomic import write_text_atomic
from coalwatch.infer.counting import SceneResult

MIN_USABLE = 0.5
# Heap area is a measurement of dark pixels that cloud hides: only images at most this
# clouded are used for it (when at least two such images exist).
MAX_CLOUD_FOR_AREA = 0.2


@dataclass(frozen=True)
class Series:
    """Counted scenes sorted by date (undated scenes last, by name)."""

    results: tuple[SceneResult, ...]

    @classmethod
    def of(cls, results: Sequence[SceneResult]) -> Series:
        ordered = sorted(results, key=lambda r: (r.date is None, r.date or "", r.scene_id))
        return cls(tuple(ordered))

    @property
    def classes(self) -> tuple[str, ...]:
        return self.results[0].taxonomy_obj.classes if self.results else ()

    @property
    def groups(self) -> tuple[str, ...]:
        return self.results[0].taxonomy_obj.group_names if self.results else ()

    @property
    def aoi_names(self) -> list[str]:
        names: list[str] = []
        for result in self.results:
            names += [n for n in result.aoi_names if n not in names]
        return names

    @property
    def has_heaps(self) -> bool:
        return any(r.heap_area_m2 is not None for r in self.results)

    def usable(self, min_usable: float = MIN_USABLE) -> list[SceneResult]:
        return [r for r in self.results if r.usable_fraction >= min_usable]

    # -- table -------------------------------------------------------------------------
    def columns(self) -> list[str]:
        cols = ["scene", "date", "usable_fraction", "valid_fraction", "cloud_fraction"]
        cols += list(self.classes)
        cols += [f"group_{g}" for g in self.groups]
        if self.has_heaps:
            cols.append("heap_area_m2")
        for aoi in self.aoi_names:
            cols += [f"{c}@{aoi}" for c in self.classes]
            if self.has_heaps:
                cols.append(f"heap_area_m2@{aoi}")
        return cols

    def rows(self) -> list[dict[str, object]]:
        rows = []
        for r in self.results:
            row: dict[str, object] = {
                "scene": r.scene_id,
                "date": r.date or "",
                "usable_fraction": round(r.usable_fraction, 4),
                "valid_fraction": round(r.valid_fraction, 4),
                "cloud_fraction": round(r.cloud_fraction, 4),
                **r.counts,
                **{f"group_{g}": n for g, n in r.group_counts.items()},
            }
            if self.has_heaps:
                row["heap_area_m2"] = _area_cell(r.heap_area_m2)
            for aoi in self.aoi_names:
                counts = r.aoi_counts.get(aoi)
                for c in self.classes:
                    row[f"{c}@{aoi}"] = "" if counts is None else counts[c]
                if self.has_heaps:
                    row[f"heap_area_m2@{aoi}"] = _area_cell(r.aoi_heap_area_m2.get(aoi))
            rows.append(row)
        return rows

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns(), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        return buffer.getvalue()

    def write_csv(self, path: str | Path) -> Path:
        return write_text_atomic(path, self.to_csv())

    # -- words -------------------------------------------------------------------------
    def summary(self, min_usable: float = MIN_USABLE) -> str:
        """The series in words, one line per class, per AOI and class, and for heap area."""
        kept = self.usable(min_usable)
        dropped = len(self.results) - len(kept)
        dates = [r.date or r.scene_id for r in kept]
        lines = []
        head = f"{len(kept)} usable image(s)"
        if kept:
            head += f", {dates[0]} to {dates[-1]}"
        if dropped:
            head += f"; {dropped} left out (usable fraction below {min_usable:.0%}: cloud/nodata)"
        lines.append(head + ".")
        if not kept:
            return "\n".join(lines) + "\n"
        lines.append("")
        lines.append("Whole scenes:")
        for cls in self.classes:
            lines.append("  " + describe_counts(cls, dates, [r.counts[cls] for r in kept]))
        clear = [r for r in kept if r.cloud_fraction <= MAX_CLOUD_FOR_AREA]
        area_from = clear if len(clear) >= 2 else kept
        area_label = "coal heap area" + (
            " (clear images only)" if len(area_from) < len(kept) else ""
        )
        if self.has_heaps:
            area_dates = [r.date or r.scene_id for r in area_from]
            areas = [r.heap_area_m2 for r in area_from]
            lines.append("  " + describe_area(area_label, area_dates, areas))
        for aoi in self.aoi_names:
            with_aoi = [r for r in kept if aoi in r.aoi_counts]
            if not with_aoi:
                continue
            aoi_dates = [r.date or r.scene_id for r in with_aoi]
            lines.append("")
            lines.append(f"{aoi}:")
            for cls in self.classes:
                values = [r.aoi_counts[aoi][cls] for r in with_aoi]
                if any(values):
                    lines.append("  " + describe_counts(cls, aoi_dates, values))
            if self.has_heaps:
                measured = [r for r in area_from if aoi in r.aoi_counts]
                areas = [r.aoi_heap_area_m2.get(aoi) for r in measured]
                if any(a for a in areas if a):
                    area_dates = [r.date or r.scene_id for r in measured]
                    lines.append("  " + describe_area(area_label, area_dates, areas))
            if all(not any(r.aoi_counts[aoi].values()) for r in with_aoi):
                lines.append("  nothing detected on any image")
        return "\n".join(lines) + "\n"


def _area_cell(value: float | None) -> object:
    return "" if value is None else round(value, 1)


def _range(lo: int, hi: int) -> str:
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def _images(n: int) -> str:
    return "1 image" if n == 1 else f"{n} images"


def _all(n: int) -> str:
    return {1: "", 2: "both "}.get(n, "all ")


def describe_counts(label: str, dates: Sequence[str], counts: Sequence[int]) -> str:
    """One analyst-style sentence on a series of counts (dates sorted, same length)."""
    n = len(counts)
    if n == 0:
        return f"{label}: no images"
    lo, hi = min(counts), max(counts)
    span = f"{dates[0]} to {dates[-1]}" if n > 1 else dates[0]
    if hi == 0:
        return f"{label}: none on {'any of ' if n > 1 else ''}{_images(n)}, {span}"
    if hi - lo <= max(2, 0.25 * hi):
        text = f"{label}: {_range(lo, hi)} on {_all(n)}{_images(n)}, {span}"
        return text + _quiet_spell(dates, counts)
    start, end = _main_spell(counts, (lo + hi) / 2)
    spell = counts[start : end + 1]
    run = end - start + 1
    when = dates[start] if run == 1 else f"{dates[start]} to {dates[end]}"
    words = "successive images" if run > 1 else "image"
    text = f"{label}: {_range(min(spell), max(spell))} on {run} {words}, {when}"
    before, after = counts[:start], counts[end + 1 :]
    context = []
    if before:
        context.append(_at_most(max(before)) + " before")
    if after:
        context.append(_at_most(max(after)) + " afterwards")
    if before and after and max(before) == max(after):
        context = [_at_most(max(before)) + " before and afterwards"]
    others = _spells(counts, (lo + hi) / 2)
    if len(others) > 1:
        context.append(f"{len(others)} high spells in all")
    return text + ("; " + ", ".join(context) if context else "") + _quiet_spell(dates, counts)


def _at_most(value: int) -> str:
    return "none" if value == 0 else f"at most {value}"


def _quiet_spell(dates: Sequence[str], counts: Sequence[int]) -> str:
    """``; none on 3 successive images, A to B`` for the longest run of zeros (2 or more)."""
    zeros = _spells([-c for c in counts], 0)
    if not zeros or max(counts) == 0:
        return ""
    start, end = max(zeros, key=lambda s: s[1] - s[0])
    if end == start:
        return ""
    return f"; none on {end - start + 1} successive images, {dates[start]} to {dates[end]}"


def _spells(counts: Sequence[int], threshold: float) -> list[tuple[int, int]]:
    spells, start = [], None
    for i, value in enumerate([*counts, -math.inf]):
        if value >= threshold and start is None:
            start = i
        elif value < threshold and start is not None:
            spells.append((start, i - 1))
            start = None
    return spells


def _main_spell(counts: Sequence[int], threshold: float) -> tuple[int, int]:
    """The longest run of counts at or above ``threshold`` (ties: the larger total)."""
    spells = _spells(counts, threshold)
    return max(spells, key=lambda s: (s[1] - s[0], sum(counts[s[0] : s[1] + 1])))


def _m2(value: float) -> str:
    return f"{value:,.0f} m²"


def describe_area(label: str, dates: Sequence[str], areas: Sequence[float | None]) -> str:
    """One sentence on an area series: its course and largest change between images."""
    known = [(d, a) for d, a in zip(dates, areas, strict=True) if a is not None]
    if not known:
        return f"{label}: unknown (no pixel size)"
    if len(known) == 1:
        return f"{label}: {_m2(known[0][1])} on {known[0][0]}"
    values = [a for _, a in known]
    first, last = known[0], known[-1]
    peak = max(known, key=lambda item: item[1])
    text = f"{label}: {_m2(first[1])} on {first[0]}, {_m2(last[1])} on {last[0]}"
    text += f", at most {_m2(peak[1])} ({peak[0]})"
    steps = [(known[i + 1][1] - known[i][1], i) for i in range(len(known) - 1)]
    change, i = max(steps, key=lambda s: abs(s[0]))
    scale = max(max(values), 1.0)
    if abs(change) >= 0.2 * scale:
        verb = "grew" if change > 0 else "shrank"
        text += (
            f"; {verb} most between {known[i][0]} and {known[i + 1][0]} "
            f"({'+' if change > 0 else '-'}{_m2(abs(change))})"
        )
    elif max(values) - min(values) <= 0.2 * scale:
        text += "; steady"
    return text
