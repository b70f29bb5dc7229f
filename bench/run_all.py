"""Run every benchmark on the demo's model (``make demo`` first) and gather the results.

accuracy.py (held-out synthetic layouts and the port series), speed.py (eager vs
onnxruntime per tile, scene throughput, overhead), ships.py (held-out sen2ships ports,
when a ship model exists or with --ships-train) and count_scene.py (peak memory on a
20,000 x 20,000 px scene, in its own process). Tables are printed as Markdown; everything
is written to ``bench_out/all.json`` (each script also writes its own JSON).

    python bench/run_all.py [--model demo_out/model.onnx --run demo_out/run] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import accuracy  # noqa: E402
import ships  # noqa: E402
import speed  # noqa: E402
from common import machine, write_json  # noqa: E402


def _banner(text: str) -> None:
    print(f"\n## {text}\n", flush=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("demo_out/model.onnx"))
    parser.add_argument("--run", type=Path, default=Path("demo_out/run"))
    parser.add_argument("--series", type=Path, default=Path("demo_out/series"))
    parser.add_argument("--ships-model", type=Path, default=Path("bench_out/ships/ships.onnx"))
    parser.add_argument("--ships-train", action="store_true", help="train the ship model")
    parser.add_argument("--quick", action="store_true", help="fewer, smaller scenes")
    parser.add_argument("--skip", default="", help="comma-separated: accuracy,speed,ships,memory")
    parser.add_argument("--out", type=Path, default=Path("bench_out"))
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    for path in (args.model, args.run):
        if not path.exists():
            parser.error(f"{path} not found: run `make demo` (or pass --model and --run)")
    started = time.perf_counter()
    record: dict[str, Any] = {"machine": machine(), "model": str(args.model)}
    series = args.series if args.series.is_dir() else None

    if "accuracy" not in skip:
        _banner("Accuracy")
        acc_args = [
            "--model",
            str(args.model),
            "--work",
            str(args.out / "accuracy"),
            "--json",
            str(args.out / "accuracy.json"),
        ]
        if series:
            acc_args += ["--series", str(series)]
        if args.quick:
            acc_args += ["--count", "1", "--size", "1024", "--no-series"]
        record["accuracy"] = accuracy.main(acc_args)["results"]
    if "speed" not in skip:
        _banner("Speed")
        speed_args = [
            "--model",
            str(args.model),
            "--run",
            str(args.run),
            "--json",
            str(args.out / "speed.json"),
        ]
        if series:
            speed_args += ["--scene", str(sorted(series.glob("*.tif"))[0])]
        record["speed"] = speed.main(speed_args)
    if "ships" not in skip and (args.ships_train or args.ships_model.is_file()):
        _banner("Real ships (sen2ships)")
        ship_args = ["--work", str(args.out / "ships"), "--json", str(args.out / "ships.json")]
        ship_args += ["--train"] if args.ships_train else ["--model", str(args.ships_model)]
        record["ships"] = ships.main(ship_args)
    if "memory" not in skip and (HERE / "count_scene.py").is_file():
        _banner("Memory: counting a 20,000 x 20,000 px scene")
        memory_json = args.out / "memory.json"
        command = [
            sys.executable,
            str(HERE / "count_scene.py"),
            "--model",
            str(args.model),
            "--out",
            str(memory_json),
        ]
        if args.quick:
            command += ["--sizes", "5000"]
        done = subprocess.run(command, capture_output=True, text=True)
        print(done.stdout + (done.stderr[-2000:] if done.returncode else ""))
        record["memory"] = (
            json.loads(memory_json.read_text())
            if done.returncode == 0 and memory_json.is_file()
            else {"returncode": done.returncode, "stderr": done.stderr[-2000:]}
        )
    record["minutes"] = round((time.perf_counter() - started) / 60, 1)
    write_json(args.out / "all.json", record)
    print(f"\nall benchmarks in {record['minutes']} min; wrote {args.out / 'all.json'}")
    return record


if __name__ == "__main__":
    main()
