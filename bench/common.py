"""Shared helpers of the benchmark scripts: tables, JSON records, the machine they ran on."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """What the numbers were measured on (cores, load, library versions)."""
    import numpy
    import onnxruntime

    info: dict[str, Any] = {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "onnxruntime": onnxruntime.__version__,
        "utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        pass
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str = "") -> str:
    """A Markdown table (readable in a terminal, pasteable into docs/benchmarks.md)."""
    cells = [[fmt(row.get(c)) for c in columns] for row in rows]
    widths = [
        max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)
    ]
    lines = [f"### {title}", ""] if title else []
    lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        lines.append("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(lines)


def write_json(path: str | Path, record: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return path


def checkpoint_bench(
    argv: list[str] | None,
    description: str,
    measure: Callable[[Path, Path, int], list[dict[str, Any]]],
    name: str,
    title: str,
) -> int:
    """The command line of a bench measuring one checkpoint on a chip folder: ``--checkpoint
    --chips [--threads] [--out]``; ``measure(checkpoint, chips, threads)`` gives the rows,
    written to ``bench_out/NAME.json`` (or ``--out``) and printed as a table."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--chips", type=Path, required=True, help="a chip folder (test chips)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(f"bench_out/{name}.json"))
    args = parser.parse_args(argv)
    rows = measure(args.checkpoint, args.chips, args.threads)
    write_json(args.out, {"checkpoint": str(args.checkpoint), "rows": rows})
    print(table(rows, list(rows[0]), f"{title}: {args.checkpoint}"))
    return 0
