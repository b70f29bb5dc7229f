"""GPU training check: train a config on a GPU and report images per second and utilisation.

Runs ``coalwatch train`` in this process (same config keys as on the CPU) while a sampler
thread reads ``nvidia-smi`` (GPU utilisation and memory) every ``--sample-ms``. Throughput is
reported two ways: inside training batches (``metrics.json``, data loading excluded) and over
the wall time of the fit (loading, validation and checkpoints included).

    python bench/gpu_train.py --config gpu --out bench_out/gpu [KEY=VALUE ...]

Prints a Markdown table and writes OUT/gpu_benchmark.json. Needs an NVIDIA GPU; never run in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import table, write_json

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def nvidia_smi(*args: str) -> str | None:
    """``nvidia-smi`` output for GPU 0, or None where it cannot be run."""
    try:
        out = subprocess.run(
            ["nvidia-smi", *args, "--id=0"], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


class GpuSampler(threading.Thread):
    """Polls ``nvidia-smi`` for utilisation (%) and memory used (MiB) of GPU 0."""

    QUERY = "--query-gpu=utilization.gpu,memory.used"

    def __init__(self, period_ms: int) -> None:
        super().__init__(daemon=True)
        self.period = period_ms / 1000
        self.util: list[float] = []
        self.memory: list[float] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            fields = (nvidia_smi(self.QUERY, "--format=csv,noheader,nounits") or "").split(",")
            if len(fields) == 2:
                self.util.append(float(fields[0]))
                self.memory.append(float(fields[1]))
            self._halt.wait(self.period)

    def stop(self) -> dict[str, float | None]:
        self._halt.set()
        self.join()
        busy = [u for u in self.util if u > 0]
        return {
            "samples": len(self.util),
            "util_mean": round(statistics.mean(self.util), 1) if self.util else None,
            "util_median_busy": round(statistics.median(busy), 1) if busy else None,
            "memory_peak_mib": max(self.memory) if self.memory else None,
        }


def gpu_name() -> str:
    return nvidia_smi("--query-gpu=name", "--format=csv,noheader") or "no GPU seen"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="gpu")
    parser.add_argument("--out", default="bench_out/gpu")
    parser.add_argument("--sample-ms", type=int, default=500)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    from coalwatch.train import command

    out = Path(args.out)
    sampler = GpuSampler(args.sample_ms)
    sampler.start()
    started = time.perf_counter()
    command.run(
        argparse.Namespace(
            config=args.config, out=str(out), resume=None, overwrite=True, overrides=args.overrides
        )
    )
    wall = time.perf_counter() - started
    gpu = sampler.stop()
    metrics = json.loads((out / "metrics.json").read_text())
    resolved = (out / "config.yaml").read_text()
    import yaml

    config = yaml.safe_load(resolved)
    steps = metrics.get("global_step") or 0
    batch = config["data"]["batch_size"]
    row = {
        "config": args.config,
        "gpu": gpu_name(),
        "precision": config["trainer"]["precision"],
        "tile": config["model"]["tile_size"],
        "batch": batch,
        "steps": steps,
        "images/s in batches": metrics.get("train_images_per_second"),
        "images/s wall": round(steps * batch / wall, 2) if wall else None,
        "wall s": round(wall, 1),
        "GPU util mean %": gpu["util_mean"],
        "GPU util median busy %": gpu["util_median_busy"],
        "GPU memory peak MiB": gpu["memory_peak_mib"],
        "best mAP50": metrics.get("best", {}).get("mAP50"),
    }
    print(table([row], list(row), "GPU training check"))
    write_json(out / "gpu_benchmark.json", {"row": row, "gpu": gpu, "overrides": args.overrides})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
