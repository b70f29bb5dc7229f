"""Write everything a count produces into one output folder, all or nothing.

Files: ``<scene>.detections.geojson`` and ``<scene>.detections.png`` (the scene with its
detections and areas of interest drawn) per scene, ``series.csv``, ``summary.txt``,
``counts.json`` and ``timeline_<class>.png`` (plus ``timeline_heap_area.png``). They are
written into a staging folder beside ``out_dir`` and moved in only when all are done, so a
failure leaves no partial output; other files already in ``out_dir`` are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from coalwatch.infer.aoi import AreasOfInterest
from coalwatch.infer.counting import SceneResult
from coalwatch.infer.geojson import write_detections
from coalwatch.infer.picture import draw_scene
from coalwatch.infer.pool import run_in_order
from coalwatch.infer.series import MIN_USABLE, Series
from coalwatch.infer.timeline import write_timelines


def result_summary(result: SceneResult) -> dict[str, Any]:
    """One scene's counts as plain data (``--json`` and ``counts.json``)."""
    return {
        "scene": result.scene,
        "scene_id": result.scene_id,
        "date": result.date,
        "crs": None if result.crs is None else result.crs.to_string(),
        "size_px": [result.width, result.height],
        "gsd_m": result.gsd_m,
        "usable_fraction": round(result.usable_fraction, 4),
        "cloud_fraction": result.cloud_fraction,
        "tiles": {"total": result.tiles_total, "read": result.tiles_read},
        "seconds": round(result.seconds, 3),
        "counts": result.counts,
        "group_counts": result.group_counts,
        "aoi_counts": result.aoi_counts,
        "heap_area_m2": None if result.heap_area_m2 is None else round(result.heap_area_m2, 1),
        "aoi_heap_area_m2": {
            k: None if v is None else round(v, 1) for k, v in result.aoi_heap_area_m2.items()
        },
        "warnings": result.warnings,
    }


def write_outputs(
    results: Sequence[SceneResult],
    out_dir: str | Path,
    wgs84: bool = False,
    min_usable: float = MIN_USABLE,
    settings: dict[str, Any] | None = None,
    pictures: bool = True,
    aois: AreasOfInterest | None = None,
    workers: int = 1,
    on_picture: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write all outputs of a count; returns their final paths. ``settings``
    (:func:`coalwatch.infer.counting.count_settings`) go into counts.json beside the counts;
    ``pictures``: a PNG per scene, with ``aois`` outlined on it, drawn in ``workers``
    processes, each reported to ``on_picture``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".count.", suffix=".tmp", dir=out_dir))
    try:
        series = Series.of(results)
        for result in series.results:
            write_detections(staging / f"{result.scene_id}.detections.geojson", result, wgs84)
        if pictures:
            jobs = [
                (draw_scene, (result, staging / f"{result.scene_id}.detections.png", aois))
                for result in series.results
            ]
            run_in_order(jobs, workers, on_picture)
        series.write_csv(staging / "series.csv")
        (staging / "summary.txt").write_text(series.summary(min_usable))
        counts = {"scenes": [result_summary(r) for r in series.results]}
        if settings is not None:
            counts = {"settings": settings, **counts}
        (staging / "counts.json").write_text(json.dumps(counts, indent=1) + "\n")
        write_timelines(series, staging, min_usable)
        final = []
        for path in sorted(staging.iterdir()):
            if path.name.startswith("."):
                continue
            target = out_dir / path.name
            os.replace(path, target)
            final.append(target)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
