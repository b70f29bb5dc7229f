"""Accuracy of an exported model on held-out synthetic layouts and on the seed-like series.

Held-out layouts: fresh scenes of each scenario rendered with seeds far from the training
seeds (training renders from seed + 1000 k and its validation from seed + 100000), scored
with ``coalwatch.infer.evaluate`` at leaf level: AP50 per class and the count error per
class (mean absolute error per scene, and relative error of the total). The series: the
dated port series (``render_series``), scored the same way against its labels.

``--calibrate`` also calibrates per-class count thresholds on the held-out layouts
(:mod:`coalwatch.infer.calibration`) and scores the series at them, beside the series
calibrated on itself: the least count error per-class thresholds can reach there. Each set
is counted once and scored at every set of thresholds.

    python bench/accuracy.py --model demo_out/model.onnx [--series demo_out/series] [--count 0]
    python bench/accuracy.py --model M --views 8 --calibrate
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
        "series with them too (beside the bound: the series calibrated on itself)",
    )
    args = parser.parse_args(argv)
    if args.count < 0 or (args.count == 0 and args.no_series):
        parser.error("nothing to score: --count must be positive, or the series scored")

    thresholds, views = thresholds_and_views(args.thresholds, args.views, args.model)
    count = (args.model, args.threads, args.nested, args.score, views, thresholds)
    results = {}
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
        results["series"] = summarise(plan, counted, "port series", seconds, calibrate=True)
        if calibration is not None:  # the held-out calibration, applied to the series
            label = "port series, held-out calibration"
            chosen = calibration["class_score_thresholds"]
            results[label] = summarise(plan, counted, label, 0.0, **calibrated(plan, chosen))
        if args.calibrate:  # the least count error per-class thresholds reach on the series
            label = "port series, its own calibration (bound)"
            own = results["series"]["eval"]["calibration"]["class_score_thresholds"]
            results[label] = summarise(plan, counted, label, 0.0, **calibrated(plan, own))
    rows = [row for r in results.values() for row in r["rows"]]
    print(table(rows, COLUMNS, f"Accuracy of {args.model}"))
    record = {"model": str(args.model), "machine": machine(), "results": results}
    write_json(args.json, record)
    print(f"\nwrote {args.json}")
    return record


if __name__ == "__main__":
    main()
