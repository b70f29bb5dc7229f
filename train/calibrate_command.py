"""Calibrate a trained detector's per-class score thresholds on labelled chips (the run's
validation chips by default): for each class with enough objects, the score at which its
count matches the truth. The thresholds go into the checkpoint; export carries them into
the ONNX model, and count and evaluate apply them."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``coalwatch calibrate RUN_OR_CHECKPOINT [--chips FOLDER] [--split val] [--out CKPT]``."""
    parser.add_argument(
        "source",
        metavar="RUN_OR_CHECKPOINT",
        type=Path,
        help="training run directory (best.ckpt, else last.ckpt) or a .ckpt file",
    )
    parser.add_argument(
        "--chips", type=Path, help="chip folder (default: the one the run trained on)"
    )
    parser.add_argument("--split", default="val", choices=["train", "val"])
    parser.add_argument(
        "--min-objects",
        type=int,
        default=30,
        help="objects a class needs for a threshold of its own (default: 30)",
    )
    parser.add_argument("--out", type=Path, help="checkpoint to write (default: in place)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's)")


def run(args: argparse.Namespace) -> int:
    """Calibrate, write, report."""
    import torch

    from coalwatch.train.calibrate import calibrate_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    report = calibrate_checkpoint(args.source, args.chips, args.split, args.min_objects, args.out)
    print(f"calibrated {report.checkpoint} on {report.chips} ({report.split}) -> {report.written}")
    for name, objects in report.objects.items():
        before = report.before.get(name)
        after = report.after.get(name)
        change = "default" if after is None else f"{after:g}"
        if before is not None:
            change = f"{before:g} -> {change}"
        print(f"  {name:<16} {objects:>6} objects  threshold {change}")
    return 0
