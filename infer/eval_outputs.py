"""Write an evaluation's outputs, ``eval.json`` and ``pr_curve.png``, all or nothing."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from coalwatch.infer.evaluate import EvalReport
from coalwatch.infer.pr_curve import write_pr_curve


def write_eval_outputs(report: EvalReport, out_dir: str | Path) -> list[Path]:
    """Write ``eval.json`` and ``pr_curve.png`` into ``out_dir``; returns their paths.

    Both are written in a staging folder first and moved in only when both are done;
    other files in ``out_dir`` are kept.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".eval.", suffix=".tmp", dir=out_dir))
    try:
        (staging / "eval.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n")
        write_pr_curve(report, staging / "pr_curve.png")
        final = []
        for name in ("eval.json", "pr_curve.png"):
            os.replace(staging / name, out_dir / name)
            final.append(out_dir / name)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
