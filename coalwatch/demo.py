"""The whole pipeline on synthetic data, from nothing: render a dated series of a coal port,
train the CPU default detector on synthetic scenes, export it to ONNX, count the series
without torch, and print the analyst-style summary next to the ground truth, with the
paths to the detections GeoJSON and pictures, the series CSV and the timelines.
--quick (tiny model, small scenes) takes a minute or two; the full run about 20 minutes
on 2 CPU cores."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``coalwatch demo [--quick] [--out DIR] [--seed N] [--config NAME] [KEY=VALUE...]``."""
    parser.add_argument("--quick", action="store_true", help="tiny model, small scenes")
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of scenes and training")
    parser.add_argument("--config", help="training config (default: cpu; with --quick: tiny)")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="training config overrides"
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo and print what it found and where it wrote it."""
    from rich.console import Console

    from coalwatch.pipeline import DemoOptions, run_demo

    console = Console(stderr=True, highlight=False)
    options = DemoOptions(
        out=args.out,
        quick=args.quick,
        seed=args.seed,
        config=args.config,
        overrides=tuple(args.overrides),
        threads=args.threads,
        progress=not args.quiet,
    )
    if args.quiet and not any(o.startswith("trainer.progress") for o in options.overrides):
        options = dataclasses.replace(
            options, overrides=(*options.overrides, "trainer.progress=false")
        )
    result = run_demo(options, say=console.print)
    print()
    print(result.comparison)
    minutes = sum(result.timings.values()) / 60
    print(f"Outputs ({minutes:.1f} min in all):")
    print(
        f"  detections GeoJSON  {result.counts_dir}/*.detections.geojson "
        f"({len(result.detections_geojson)} scenes)"
    )
    print(
        f"  scene pictures      {result.counts_dir}/*.detections.png "
        f"({len(result.scene_pictures)} scenes)"
    )
    print(f"  series CSV          {result.counts_dir / 'series.csv'}")
    print(f"  summary             {result.counts_dir / 'summary.txt'}")
    for path in result.timelines:
        print(f"  timeline            {path}")
    print(f"  scene picture       {result.picture}")
    print(f"  counted vs truth    {result.truth_plot}")
    print(f"  model               {result.model}")
    print(f"  ground truth        {result.truth_csv}")
    return 0
