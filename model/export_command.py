"""Export a trained detector (a run directory or a checkpoint) to ONNX with coalwatch
metadata; the export is checked against PyTorch before the file is put in place."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``coalwatch export RUN_OR_CHECKPOINT --out model.onnx``."""
    parser.add_argument(
        "source",
        metavar="RUN_OR_CHECKPOINT",
        type=Path,
        help="training run directory (best.ckpt, else last.ckpt) or a .ckpt file",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("model.onnx"),
        help="ONNX file to write (default: model.onnx)",
    )
    parser.add_argument(
        "--no-parity",
        action="store_true",
        help="skip the PyTorch/ONNX comparison (not recommended)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    """Export, check parity, report."""
    import torch

    from coalwatch.model.export import export_checkpoint

    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    report = export_checkpoint(args.source, args.out, parity=not args.no_parity)
    rows = [
        {
            "tile": r.name,
            "shape": list(r.shape),
            "detections": r.torch_detections,
            "onnx_detections": r.onnx_detections,
            "unpaired_below_threshold": len(r.unpaired_scores),
            "max_box_diff_px": r.max_box_diff,
            "max_score_diff": r.max_score_diff,
        }
        for r in report.parity
    ]
    if args.json:
        summary = {
            "onnx": str(report.path),
            "checkpoint": str(report.checkpoint),
            "metadata": json.loads(report.metadata.to_json()),
            "parity": rows,
        }
        print(json.dumps(summary, indent=1))
        return 0
    print(f"wrote {report.path} from {report.checkpoint}")
    meta = report.metadata
    print(
        f"  classes {list(meta.taxonomy_obj.classes)}; tile {meta.tile_size} px, overlap "
        f"{meta.tile_overlap}, GSD {meta.gsd_m} m, bands {list(meta.bands)}, scaling "
        f"{meta.scaling['method']}, score >= {meta.score_threshold}"
    )
    if meta.class_score_thresholds:
        per_class = ", ".join(f"{k} {v:g}" for k, v in meta.class_score_thresholds.items())
        print(f"  per-class score thresholds: {per_class}")
    for row in rows:
        print(
            f"  parity {row['tile']:<12} {row['shape'][0]}x{row['shape'][1]}: "
            f"{row['detections']:>3} detections, boxes within {row['max_box_diff_px']:.1e} px"
            + (
                f", {row['unpaired_below_threshold']} low-score one(s) unpaired"
                if row["unpaired_below_threshold"]
                else ""
            )
        )
    return 0
