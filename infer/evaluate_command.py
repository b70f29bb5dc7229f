"""Score an exported ONNX model against labelled GeoTIFF scenes (no torch): the same tiled
inference as count, then COCO mAP and mAP50 per class, precision/recall/F1 at the model's
threshold and the count error per class per scene, at leaf or group level. Labels: X.geojson
beside each scene X.tif, a folder of them, or a COCO file whose images are the scenes.
Writes eval.json, pr_curve.png and a picture of each scene's hits, false alarms and missed
objects; with --calibrate, thresholds.json: per-class count thresholds calibrated on these
scenes' count error, for count --thresholds."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from coalwatch.infer.count_command import (
    add_nested_argument,
    add_views_argument,
    thresholds_and_views,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``coalwatch evaluate --model M SCENES [LABELS] [--level leaf|group] [--out DIR]``."""
    parser.add_argument(
        "paths",
        metavar="PATH",
        nargs="+",
        type=Path,
        help="SCENES (GeoTIFFs or folders of them), then optionally LABELS: a COCO .json file "
        "or a folder of <scene>.geojson (default: the .geojson beside each scene)",
    )
    parser.add_argument("--model", required=True, type=Path, help="ONNX model (coalwatch export)")
    parser.add_argument(
        "--level",
        choices=("leaf", "group"),
        default="leaf",
        help="score leaf classes or taxonomy groups (default: leaf)",
    )
    parser.add_argument("--out", type=Path, default=Path("eval"), help="output folder")
    parser.add_argument(
        "--score",
        type=float,
        help="operating threshold for every class (default: the model's, per class if it has them)",
    )
    parser.add_argument("--label-taxonomy", help="taxonomy the labels name (default: the model's)")
    parser.add_argument(
        "--class-map",
        action="append",
        default=[],
        metavar="SRC=CLASS",
        help="COCO category to class, e.g. ship=vessel (repeatable)",
    )
    parser.add_argument(
        "--keep-occluded",
        action="store_true",
        help="score labels flagged occluded (by default they are ignored)",
    )
    parser.add_argument("--tile-size", type=int, help="tile size (default: the model's)")
    parser.add_argument("--tile-overlap", type=int, help="tile overlap (default: the model's)")
    add_nested_argument(parser)
    add_views_argument(parser)
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="also calibrate per-class count thresholds on these scenes' count error (each "
        "moves only as far as the labels ask) and write thresholds.json (for count/evaluate "
        "--thresholds)",
    )
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads")
    parser.add_argument(
        "--no-pictures",
        action="store_true",
        help="no <scene>.errors.png (hits, false alarms and missed objects drawn)",
    )
    parser.add_argument("--json", action="store_true", help="print eval.json to stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def split_paths(paths: list[Path]) -> tuple[list[Path], Path | None]:
    """Scenes and the optional LABELS argument (a .json file or a folder without GeoTIFFs)."""
    if len(paths) > 1:
        last = paths[-1]
        is_coco = last.suffix.lower() == ".json"
        is_label_dir = last.is_dir() and not any(last.glob("*.tif"))
        if is_coco or is_label_dir:
            return paths[:-1], last
    return paths, None


def run(args: argparse.Namespace) -> int:
    """Evaluate, then write eval.json, pr_curve.png and the pictures together (nothing on
    failure)."""
    from coalwatch.errors import InputError
    from coalwatch.infer.eval_outputs import write_eval_outputs
    from coalwatch.infer.evaluate import EvalOptions, count_labelled, plan_evaluation, report_of
    from coalwatch.infer.progress import counting_progress
    from coalwatch.labels.importers import parse_class_map

    scenes, labels = split_paths(args.paths)
    try:
        class_map = parse_class_map(args.class_map)
    except ValueError as exc:
        raise InputError("--class-map", str(exc)) from exc
    class_scores, views = thresholds_and_views(args.thresholds, args.views, args.model)
    options = EvalOptions(
        level=args.level,
        score=args.score,
        tile_size=args.tile_size,
        tile_overlap=args.tile_overlap,
        threads=args.threads,
        label_taxonomy=args.label_taxonomy,
        class_map=class_map or None,
        keep_occluded=args.keep_occluded,
        nested=args.nested,
        views=views,
        class_scores=class_scores,
        calibrate=args.calibrate,
    )
    plan = plan_evaluation(scenes, labels, args.model, options)
    with counting_progress(len(plan.truths), enabled=not args.quiet) as progress:
        results = count_labelled(plan, progress.tiles, progress.scene_done)
        report = report_of(plan, results)
        if args.no_pictures:
            paths = write_eval_outputs(report, args.out)
        else:
            drawn = progress.pictures(len(results))
            paths = write_eval_outputs(report, args.out, results, on_picture=drawn)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report.table())
        print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0
