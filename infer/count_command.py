"""Count ore cars, bulk carriers and coal heaps in GeoTIFF scenes with an exported ONNX
model (no torch): detections GeoJSON and a picture per scene, counts per class, group and
area of interest, coal heap area, and over a dated series a CSV, a summary in words and
timelines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``coalwatch count SCENE... --model model.onnx [--aoi AOIS] [--out DIR] ...``."""
    parser.add_argument("scenes", metavar="SCENE", nargs="+", type=Path, help="GeoTIFF scenes")
    parser.add_argument(
        "--model", required=True, type=Path, help="ONNX model from coalwatch export"
    )
    parser.add_argument("--aoi", type=Path, help="GeoJSON of named areas of interest (any CRS)")
    parser.add_argument("--out", type=Path, default=Path("counts"), help="output folder")
    parser.add_argument(
        "--score", type=float, help="score threshold for every class (default: the model's own)"
    )
    parser.add_argument(
        "--tile-size", type=int, help="tile size in model pixels (default: model's)"
    )
    parser.add_argument("--tile-overlap", type=int, help="tile overlap (default: the model's)")
    add_nested_argument(parser)
    add_views_argument(parser)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="onnxruntime threads per process (default: all cores)",
    )
    parser.add_argument("--workers", type=int, default=1, help="scenes counted in parallel")
    parser.add_argument(
        "--min-usable",
        type=float,
        default=0.5,
        help="usable fraction (not cloud, not nodata) an image needs to be "
        "summarised (default 0.5)",
    )
    parser.add_argument(
        "--no-resample",
        action="store_true",
        help="read scenes at their own GSD, even where the model was trained at another",
    )
    parser.add_argument("--wgs84", action="store_true", help="write detections in WGS84")
    parser.add_argument(
        "--no-pictures",
        action="store_true",
        help="no <scene>.detections.png (the scene with its detections and AOIs drawn)",
    )
    parser.add_argument("--json", action="store_true", help="print per-scene counts as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_nested_argument(parser: argparse.ArgumentParser) -> None:
    """``--nested SHARE``, shared by ``count`` and ``evaluate``."""
    from coalwatch.infer.merge import NESTED_SHARE

    parser.add_argument(
        "--nested",
        type=_share,
        default=NESTED_SHARE,
        help="drop a detection lying this share of its area inside a stronger one of its "
        f"class (part of a ship or heap beside the whole); 1 keeps them all "
        f"(default {NESTED_SHARE})",
    )


def add_views_argument(parser: argparse.ArgumentParser) -> None:
    """``--views N`` and ``--thresholds FILE``, shared by ``count`` and ``evaluate``
    (resolved together by :func:`thresholds_and_views`)."""
    from coalwatch.infer.views import VIEW_COUNTS

    parser.add_argument(
        "--views",
        type=int,
        choices=VIEW_COUNTS,
        help="also detect on each tile turned (4: the quarter turns) and mirrored (8), and "
        "fuse the boxes: tighter boxes, fewer lone false alarms, N times the time "
        "(default 1, or the views of --thresholds)",
    )
    parser.add_argument(
        "--thresholds",
        type=Path,
        help="per-class score thresholds from evaluate --calibrate (thresholds.json); "
        "classes it names override --score and the model's",
    )


def thresholds_and_views(
    thresholds_path: Path | None, views: int | None, model: Path
) -> tuple[dict[str, float] | None, int]:
    """The per-class thresholds of ``--thresholds`` (None without it) and the view count:
    ``--views``, else the file's, else 1; a file made under other views is refused."""
    from coalwatch.infer.calibration import check_views, read_thresholds
    from coalwatch.infer.session import detector_for

    if thresholds_path is None:
        return None, check_views(None, views)
    classes = detector_for(model).metadata.taxonomy_obj.classes
    thresholds = read_thresholds(thresholds_path, classes)
    return thresholds.class_scores, check_views(thresholds, views)


def _share(text: str) -> float:
    """A number in (0, 1] for argparse."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share in (0, 1]")
    return value


def run(args: argparse.Namespace) -> int:
    """Validate every input, count every scene, then write all outputs at once."""
    from coalwatch.infer.aoi import load_aois
    from coalwatch.infer.counting import CountOptions, count_scenes, count_settings
    from coalwatch.infer.outputs import result_summary, write_outputs
    from coalwatch.infer.preflight import preflight
    from coalwatch.infer.progress import counting_progress

    class_scores, views = thresholds_and_views(args.thresholds, args.views, args.model)
    options = CountOptions(
        score=args.score,
        tile_size=args.tile_size,
        tile_overlap=args.tile_overlap,
        threads=args.threads,
        aoi_path=None if args.aoi is None else str(args.aoi),
        resample=not args.no_resample,
        nested=args.nested,
        views=views,
        class_scores=class_scores,
    )
    preflight(args.scenes, args.model, options)
    with counting_progress(len(args.scenes), enabled=not args.quiet) as progress:
        results = count_scenes(
            [str(p) for p in args.scenes],
            args.model,
            options,
            workers=args.workers,
            on_scene=progress.scene_done,
            tile_progress=progress.tiles,
        )
        settings = count_settings(args.model, options)
        if args.thresholds is not None:
            settings["thresholds_file"] = str(args.thresholds)
        paths = write_outputs(
            results,
            args.out,
            wgs84=args.wgs84,
            min_usable=args.min_usable,
            settings=settings,
            pictures=not args.no_pictures,
            aois=None if args.aoi is None else load_aois(args.aoi),
            workers=args.workers,
            on_picture=None if args.no_pictures else progress.pictures(len(results)),
        )
    if args.json:
        print(
            json.dumps(
                {
                    "scenes": [result_summary(r) for r in results],
                    "outputs": [str(p) for p in paths],
                },
                indent=1,
            )
        )
        return 0
    summary = args.out / "summary.txt"
    print(summary.read_text(), end="")
    print(f"wrote {len(paths)} file(s) to {args.out}", file=sys.stderr)
    return 0
