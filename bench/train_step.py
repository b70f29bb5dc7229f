"""Speed of a CPU training step: two variants of one detector, alternating.

The CPU default's detector (``configs/cpu.yaml``) takes training steps on batches shaped as
training makes them (``data.batch_size`` crops of ``augment.crop_size`` px, a few dozen boxes
each), from the same weights, in turn under two variants:

- ``--compare pooler`` (default): torchvision's ``MultiScaleRoIAlign`` as the box pooler
  against :class:`coalwatch.model.roi_pool.SparseRoIAlign`;
- ``--compare memory-format``: the backbone on NCHW tensors against channels-last
  (:mod:`coalwatch.model.memory_format`, ``trainer.channels_last``).

Prints the median milliseconds per step, images per second and the ratio, and the loss of
the first step under each (they must agree).

    .venv/bin/python bench/train_step.py [--config cpu] [--compare pooler] [--steps 12]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json


def synthetic_batch(generator, batch: int, size: int, boxes: int, classes: int) -> tuple:
    """Random images with random small and elongated boxes (the sampled RoI count, not the
    content, sets the pooler's cost)."""
    import torch

    images = [torch.rand(3, size, size, generator=generator) for _ in range(batch)]
    targets = []
    for _ in range(batch):
        xy = torch.rand(boxes, 2, generator=generator) * (size - 40)
        wh = torch.rand(boxes, 2, generator=generator) * 30 + 4
        targets.append(
            {
                "boxes": torch.cat([xy, xy + wh], dim=1),
                "labels": torch.randint(1, classes + 1, (boxes,), generator=generator),
            }
        )
    return images, targets


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cpu")
    parser.add_argument("--compare", choices=["pooler", "memory-format"], default="pooler")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per variant")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench_out/train_step.json"))
    args = parser.parse_args(argv)

    import torch
    from torchvision.ops import MultiScaleRoIAlign

    from coalwatch.model.detector import build_detector
    from coalwatch.model.memory_format import use_channels_last
    from coalwatch.resources import resolve_config
    from coalwatch.train.config import load_run_config

    torch.set_num_threads(args.threads)
    run, _ = load_run_config(resolve_config(args.config, ""), [])
    size = run.augment.crop_size or run.model.tile_size
    generator = torch.Generator().manual_seed(0)
    batch = synthetic_batch(generator, run.data.batch_size, size, 30, run.model.num_classes)

    torch.manual_seed(0)
    model = build_detector(run.model).train()
    variant = copy.deepcopy(model)
    if args.compare == "pooler":
        variant.roi_heads.box_roi_pool = MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2)
        models = {"torchvision RoIAlign": variant, "sparse-product RoIAlign": model}
    else:
        models = {"NCHW": model, "channels-last": use_channels_last(variant)}
    baseline = next(iter(models))
    times: dict[str, list[float]] = {name: [] for name in models}
    first_loss: dict[str, float] = {}

    def step(name: str) -> float:
        model = models[name]
        torch.manual_seed(1)  # the same proposal sampling for both
        start = time.perf_counter()
        loss = sum(model(*batch).values())
        loss.backward()
        elapsed = time.perf_counter() - start
        model.zero_grad(set_to_none=True)
        first_loss.setdefault(name, loss.item())
        return elapsed

    for name in models:  # warm-up (oneDNN kernels, allocator)
        step(name)
        step(name)
    for _ in range(args.steps):
        for name in models:
            times[name].append(step(name))

    base = statistics.median(times[baseline])
    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        rows.append(
            {
                "variant": name,
                "ms per step": round(median * 1000),
                "images/s": round(run.data.batch_size / median, 2),
                "speed-up": round(base / median, 2),
                "first loss": round(first_loss[name], 5),
            }
        )
    title = (
        f"CPU training step (forward + backward), {args.config} config, batch "
        f"{run.data.batch_size} x {size} px, {args.threads} threads, median of {args.steps}"
    )
    print(table(rows, ["variant", "ms per step", "images/s", "speed-up", "first loss"], title))
    record = {"machine": machine(), "config": args.config, "compare": args.compare, "rows": rows}
    write_json(args.out, record)
    return record


if __name__ == "__main__":
    main()
