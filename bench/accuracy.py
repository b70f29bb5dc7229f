"""Accuracy of an exported model on held-out synthetic layouts and on the seed-like series.

Held-out layouts: fresh scenes of each scenario rendered with seeds far from the training
seeds (training renders from seed + 1000 k and its validation from seed + 100000), scored
with ``coalwatch.infer.evaluate`` at leaf level: AP50 per class and the count error per
class (mean absolute error per scene, and relative error of the total). The series: the
dated port series (``render_series``), scored the same way against its labels.

``--calibrate`` also calibrates per-class count thresholds (:mod:`coalwatch.infer.calibration`)
on the held-out layouts and scores the series at them; and, as an analyst would, on the
series' first dates (``--calibrate-dates``, 3), scoring the later dates at the model's
thresholds, at the early dates' and at the thresholds of least count error on the later
dates themselves (the bound per-class thresholds can reach). Each set is counted once and
scored at every set of thresholds.

    python bench/accuracy.py --model demo_out/model.onnx [--series demo_out/series] [--count 0]
    python bench/accuracy.py --model M --views 8 --calibrate --calibrate-dates 3 2 4 5
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json

from coalwatch.infer.calibration import TOLERANCE

HELD_OUT_SEED = 500_000


def render_held_out(
    scenarios: list[str], count: int, out: Path, seed: int, size_px: int | None
) -> list[Path]:
    """``count`` fresh scenes per scenario (held-out layouts) with their labels."""
    from coalwatch.labels.synth import load_scenario, render_scenario

    paths: list[Path] = []
    for k, name in enumerate(scenarios):
        scenario = load_scenario(name)
        if size_px:
            scenario = dataclasses.replace(scenario, size_px=(size_px, size_px))
        paths += render_scenario(scenario, out / name, seed=seed + 1000 * k, count=count)
    return paths


def count_set(
    scenes: list[Path],
    model: Path,
    threads: int,
    nested: float,
    threshold: float | None,
    views: int,
    class_scores: dict[str, float] | None,
) -> tuple[Any, list[Any], float]:
    """Count labelled ``scenes`` once (every detection kept): the evaluation plan, the
    per-scene results and the seconds it took."""
    from coalwatch.infer.evaluate import EvalOptions, count_labelled, plan_evaluation

    started = time.perf_counter()
    options = EvalOptions(
        threads=threads, nested=nested, score=threshold, views=views, class_scores=class_scores
    )
    plan = plan_evaluation(scenes, None, model, options)
    results = count_labelled(plan)
    return plan, results, time.perf_counter() - started


def summarise(plan: Any, results: list[Any], label: str, seconds: float, **change: Any) -> dict:
    """Per-class rows and overall numbers of counted ``results`` at the thresholds of
    ``plan`` (with ``change`` applied: other thresholds, a calibration)."""
    from coalwatch.infer.evaluate import report_of
    from coalwatch.infer.outcomes import KINDS

    report = report_of(dataclasses.replace(plan, **change), results)
    data = report.to_dict()
    rows = []
    for name, c in data["classes"].items():
        if not c["labels"] and not c["count_predicted"]:
            continue
        rows.append(
            {
                "set": label,
                "class": name,
                "labels": c["labels"],
                "AP50": c["AP50"],
                "AP": c["AP"],
                "precision": c["precision"],
                "recall": c["recall"],
                "count MAE/scene": c["count_mae"],
                "count rel. error": c["count_relative_error"],
                FALSE_ALARMS: "/".join(str(c["false_alarms"][k]) for k in KINDS),
            }
        )
    rows.append(
        {
            "set": label,
            "class": "all (mean)",
            "labels": sum(c["labels"] for c in data["classes"].values()),
            "AP50": data["overall"]["mAP50"],
            "AP": data["overall"]["mAP"],
            "precision": data["overall"]["precision"],
            "recall": data["overall"]["recall"],
        }
    )
    return {"scenes": len(results), "seconds": round(seconds, 1), "rows": rows, "eval": data}


def calibrated(plan: Any, thresholds: dict[str, float]) -> dict[str, dict[str, float]]:
    """``plan``'s per-class thresholds with ``thresholds`` over them."""
    return {"class_thresholds": {**plan.class_thresholds, **thresholds}}


def date_calibration(plan: Any, counted: list[Any], first: int) -> dict[str, dict]:
    """The analyst's way: count the ``first`` dates by hand, calibrate on them and count the
    later dates with their thresholds; beside the later dates at the model's thresholds and
    at the thresholds of least count error on the later dates themselves (a bound)."""
    from coalwatch.infer.evaluate import calibrate_counts

    n = len(counted)
    if not 0 < first < n:
        raise SystemExit(f"--calibrate-dates must be between 1 and {n - 1}")
    early = dataclasses.replace(plan, truths=plan.truths[:first])
    later = dataclasses.replace(plan, truths=plan.truths[first:])
    current = plan.thresholds_by_class_id()

    def thresholds_of(part: Any, results: list[Any], tolerance: float) -> dict[str, float]:
        return calibrate_counts(
            results, part.truths, part.levels, current, tolerance=tolerance
        ).thresholds

    from_early = thresholds_of(early, counted[:first], TOLERANCE)
    least = thresholds_of(later, counted[first:], 0.0)
    base = f"series dates {first + 1}-{n}"
    rows = {
        f"{base}, {SETS[0]}": {},
        f"{base}, {SETS[1]} (dates 1-{first})": calibrated(later, from_early),
        f"{base}, {SETS[2]}": calibrated(later, least),
    }
    return {
        label: summarise(later, counted[first:], label, 0.0, **change)
        for label, change in rows.items()
    }


# the thresholds date_calibration scores the later dates at
SETS = ("the model's thresholds", "calibrated on the labelled dates", "their least error (bound)")
RAIL = ("ore_car", "other_railcar")  # summed apart in date_summary


def date_summary(first: int, scored: dict[str, dict]) -> dict[str, Any]:
    """One line of :func:`date_calibration`'s results: count error per scene summed over the
    classes (and over the two rail classes), per set of thresholds."""
    line: dict[str, Any] = {"dates labelled": first}
    for name, result in zip(SETS, scored.values(), strict=True):
        rows = [r for r in result["rows"] if r["class"] != "all (mean)"]
        line[f"{name}: all"] = round(sum(r["count MAE/scene"] for r in rows), 1)
        rail = [r for r in rows if r["class"] in RAIL]
        line[f"{name}: rail"] = round(sum(r["count MAE/scene"] for r in rail), 1)
    return line


# false alarms by kind (coalwatch.infer.outcomes): duplicate / wrong class / misplaced / background
FALSE_ALARMS = "false alarms dup/cls/loc/bkg"
COLUMNS = [
    "set",
    "class",
    "labels",
    "AP50",
    "AP",
    "precision",
    "recall",
    "count MAE/scene",
    "count rel. error",
    FALSE_ALARMS,
]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from coalwatch.infer.count_command import (
        add_nested_argument,
        add_views_argument,
        thresholds_and_views,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("demo_out/model.onnx"))
    parser.add_argument("--series", type=Path, help="a rendered series folder (else rendered)")
    parser.add_argument("--no-series", action="store_true", help="held-out layouts only")
    parser.add_argument("--scenarios", default="rail_crossing,coal_port")
    parser.add_argument(
        "--count", type=int, default=2, help="held-out scenes per scenario (0: the series alone)"
    )
    parser.add_argument("--size", type=int, help="scene size in px (default: the scenario's)")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    parser.add_argument("--threads", type=int, default=0)
    add_nested_argument(parser)
    add_views_argument(parser)
    parser.add_argument("--work", type=Path, default=Path("bench_out/accuracy"))
    parser.add_argument("--json", type=Path, default=Path("bench_out/accuracy.json"))
    parser.add_argument(
        "--score",
        type=float,
        help="count at this score for every class (default: the model's own thresholds)",
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="calibrate per-class count thresholds on the held-out layouts and count the "
        "series with them; and on the series' first dates, counting the later ones with them",
    )
    parser.add_argument(
        "--calibrate-dates",
        type=int,
        nargs="+",
        default=[3],
        help="series dates labelled for --calibrate (default 3; several: a summary line "
        "each, full rows for the first)",
    )
    args = parser.parse_args(argv)
    if args.count < 0 or (args.count == 0 and args.no_series):
        parser.error("nothing to score: --count must be positive, or the series scored")

    thresholds, views = thresholds_and_views(args.thresholds, args.views, args.model)
    count = (args.model, args.threads, args.nested, args.score, views, thresholds)
    results = {}
    summary: list[dict[str, Any]] = []  # per --calibrate-dates value
    calibration = None
    if args.count:
        held_out = render_held_out(
            args.scenarios.split(","), args.count, args.work / "held_out", args.seed, args.size
        )
        plan, counted, seconds = count_set(held_out, *count)
        results["held-out layouts"] = summarise(
            plan, counted, "held-out layouts", seconds, calibrate=args.calibrate
        )
        calibration = results["held-out layouts"]["eval"]["calibration"]
    series_dir = args.series
    if series_dir is None and not args.no_series:
        from coalwatch.labels.synth import render_series

        series_dir = args.work / "series"
        render_series("port_series", series_dir, seed=0)
    if not args.no_series:
        plan, counted, seconds = count_set(sorted(series_dir.glob("*.tif")), *count)
        results["series"] = summarise(plan, counted, "port series", seconds)
        if calibration is not None:  # the held-out calibration, applied to the series
            label = "port series, held-out calibration"
            chosen = calibration["class_score_thresholds"]
            results[label] = summarise(plan, counted, label, 0.0, **calibrated(plan, chosen))
        if args.calibrate:
            for first in args.calibrate_dates:
                rows_of_first = date_calibration(plan, counted, first)
                summary.append(date_summary(first, rows_of_first))
                if first == args.calibrate_dates[0]:
                    results |= rows_of_first
    rows = [row for r in results.values() for row in r["rows"]]
    print(table(rows, COLUMNS, f"Accuracy of {args.model}"))
    if summary:
        title = "Series count error per scene on the later dates, summed over classes"
        print()
        print(table(summary, list(summary[0]), title))
    record = {
        "model": str(args.model),
        "machine": machine(),
        "results": results,
        "date_calibration": summary,
    }
    write_json(args.json, record)
    print(f"\nwrote {args.json}")
    return record


if __name__ == "__main__":
    main()
