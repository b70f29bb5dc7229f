"""Train a Faster R-CNN detector from a YAML config (shipped name or path) with overrides.

Examples:
  coalwatch train --config tiny                        # shipped configs/tiny.yaml, synthetic data
  coalwatch train --config configs/cpu.yaml --out runs/cpu trainer.max_epochs=20
  coalwatch train --config gpu data.chips=chips/ trainer.devices=4 trainer.strategy=ddp
  coalwatch train --config tiny --resume runs/tiny/last.ckpt trainer.max_epochs=24  # in place
  coalwatch train --config tiny --resume runs/tiny/last.ckpt --out runs/tiny-more   # new folder
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--config, --out, --resume, --overwrite and KEY=VALUE overrides."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--config", required=True, help="YAML config: a path or a shipped name (tiny, cpu, gpu)"
    )
    parser.add_argument(
        "--out", help="run folder (default: runs/<config>-<UTC time>; resuming: the checkpoint's)"
    )
    parser.add_argument("--resume", help="continue from a checkpoint (e.g. RUN/last.ckpt)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. seed=3"
    )


def run(args: argparse.Namespace) -> int:
    """Parse the config, train, print where the run landed."""
    import os

    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    from coalwatch.resources import resolve_config
    from coalwatch.train.config import load_run_config
    from coalwatch.train.run import run_folder_of, train

    config_path = resolve_config(args.config, "")
    run_config, resolved = load_run_config(config_path, args.overrides)
    resume = Path(args.resume) if args.resume else None
    if args.out:
        out = Path(args.out)
    else:
        out = run_folder_of(resume) if resume else default_out(config_path)
    result = train(run_config, resolved, out, resume=resume, overwrite=args.overwrite)
    best = result.metrics.get("best", {})
    if best:
        print(
            f"run folder: {result.run_dir}  best mAP50 {best.get('mAP50', float('nan')):.3f} "
            f"(epoch {best.get('epoch')}), mAP {best.get('mAP', float('nan')):.3f}"
        )
    return 0


def default_out(config_path: Path) -> Path:
    """``runs/<config stem>-<UTC timestamp>``."""
    return Path("runs") / f"{config_path.stem}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
