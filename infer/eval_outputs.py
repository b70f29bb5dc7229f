"""Write an evaluation's outputs, ``eval.json``, ``pr_curve.png``, ``<scene>.errors.png``
per scene (hits, false alarms and missed objects drawn) and, when calibrated,
``thresholds.json``, all or nothing."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from coalwatch.infer.calibration import write_thresholds
from coalwatch.infer.counting import SceneResult
from coalwatch.infer.eval_report import EvalReport
from coalwatch.infer.picture import draw_outcomes
from coalwatch.infer.pool import run_in_order
from coalwatch.infer.pr_curve import write_pr_curve


def write_eval_outputs(
    report: EvalReport,
    out_dir: str | Path,
    results: Sequence[SceneResult] | None = None,
    on_picture: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write ``eval.json``, ``pr_curve.png``, the calibration's ``thresholds.json`` and, given
    the scored ``results`` (in the report's scene order), a picture of each scene's hits,
    false alarms and misses into ``out_dir`` (each reported to ``on_picture``); returns
    their paths.

    All are written in a staging folder first and moved in only when all are done; other
    files in ``out_dir`` are kept.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".eval.", suffix=".tmp", dir=out_dir))
    try:
        (staging / "eval.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n")
        write_pr_curve(report, staging / "pr_curve.png")
        names = ["eval.json", "pr_curve.png"]
        if report.calibration is not None:
            write_thresholds(report.calibration, staging / "thresholds.json")
            names.append("thresholds.json")
        if results is not None:
            jobs = [
                (draw_outcomes, (result, outcome, staging / f"{result.scene_id}.errors.png"))
                for result, outcome in zip(results, report.scores.outcomes, strict=True)
            ]
            names += [path.name for path in run_in_order(jobs, on_done=on_picture)]
        final = []
        for name in names:
            os.replace(staging / name, out_dir / name)
            final.append(out_dir / name)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
