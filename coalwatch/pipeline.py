"""The whole coalwatch pipeline on synthetic data, as ``coalwatch demo`` runs it.

Steps, each a call into the part that owns it: render the dated series of a Rajin-like
port (``coalwatch.labels.synth.render_series``); train a detector from a shipped config on
synthetic scenarios it renders itself (``coalwatch.train.run.train``); export it to ONNX
with a parity check (``coalwatch.model.export.export_checkpoint``); count the series with
onnxruntime (``coalwatch.infer.counting.count_scenes`` and ``write_outputs``); draw one scene
with its detections; and set the counts next to the series' ground truth.

Output folder: ``series/`` (scenes, labels, aois.geojson, truth.csv), ``run/`` (training
run), ``model.onnx``, ``counts/`` (detections GeoJSON and picture per scene, series.csv,
summary.txt, timelines), ``detections.png`` (the busiest usable scene's picture),
``counted_vs_truth.png``, ``comparison.txt`` and ``demo.json`` (timings, paths).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coalwatch.atomic import write_text_atomic

QUICK_SERIES_PX = 768


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs; ``None`` picks the default of the mode (full or quick)."""

    out: Path = Path("demo_out")
    quick: bool = False
    seed: int = 0
    config: str | None = None  # training config: "cpu" (full) or "tiny" (quick)
    overrides: tuple[str, ...] = ()  # training config overrides, KEY=VALUE
    scenario: str = "port_series"
    series_px: int | None = None  # series scene size; quick: 768 px
    threads: int = 0  # onnxruntime threads (0: all cores)
    progress: bool = True

    @property
    def train_config(self) -> str:
        return self.config or ("tiny" if self.quick else "cpu")

    @property
    def series_size(self) -> int | None:
        return self.series_px or (QUICK_SERIES_PX if self.quick else None)


@dataclass
class DemoResult:
    """Where everything landed, the counted scenes, and how long each step took."""

    out: Path
    scenes: list[Path]
    truth_csv: Path
    run_dir: Path
    model: Path
    counts_dir: Path
    outputs: list[Path]
    picture: Path
    comparison: str
    results: list[Any] = field(default_factory=list)  # SceneResult per scene
    train_metrics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def truth_plot(self) -> Path:
        return self.out / "counted_vs_truth.png"

    @property
    def timelines(self) -> list[Path]:
        return [p for p in self.outputs if p.name.startswith("timeline_")]

    @property
    def detections_geojson(self) -> list[Path]:
        return [p for p in self.outputs if p.name.endswith(".detections.geojson")]

    @property
    def scene_pictures(self) -> list[Path]:
        return [p for p in self.outputs if p.name.endswith(".detections.png")]


Say = Callable[[str], None]


@contextmanager
def _step(timings: dict[str, float], name: str, say: Say, title: str) -> Iterator[None]:
    say(f"[bold]{len(timings) + 1}. {title}[/bold]")
    started = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - started, 1)
    say(f"   done in {timings[name]:.0f} s")


def render_demo_series(
    scenario: str, out_dir: Path, seed: int = 0, size_px: int | None = None
) -> list[Path]:
    """Render the scripted dated series (optionally at a smaller square size)."""
    import logging

    from coalwatch.labels.synth import load_scenario, render_series

    logging.getLogger("coalwatch.labels").setLevel(logging.WARNING)  # one line per scene
    loaded = load_scenario(scenario)
    if size_px:
        loaded = dataclasses.replace(loaded, size_px=(int(size_px), int(size_px)))
    shutil.rmtree(out_dir, ignore_errors=True)
    return list(render_series(loaded, out_dir, seed=seed))


def train_demo_model(
    config: str, overrides: tuple[str, ...], run_dir: Path, seed: int = 0
) -> dict[str, Any]:
    """Train from a shipped config (or a path) into ``run_dir``; returns the run's metrics."""
    import logging
    import os

    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    import lightning.pytorch  # noqa: F401  (importing it sets its loggers to INFO: quiet them after)

    for name in ("lightning.pytorch", "lightning.fabric", "coalwatch.train", "coalwatch.labels"):
        logging.getLogger(name).setLevel(logging.WARNING)  # the progress bar speaks
    from coalwatch.resources import resolve_config
    from coalwatch.train.config import load_run_config
    from coalwatch.train.run import train

    run_config, resolved = load_run_config(resolve_config(config, ""), [f"seed={seed}", *overrides])
    return train(run_config, resolved, run_dir, overwrite=True).metrics


def export_demo_model(run_dir: Path, onnx_path: Path) -> Path:
    """Export the run's best checkpoint to ONNX (parity-checked)."""
    import logging
    import warnings

    from coalwatch.model.export import export_checkpoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        return export_checkpoint(run_dir, onnx_path).path


def count_demo_series(
    scenes: list[Path], model: Path, aois: Path | None, out_dir: Path, threads: int, progress: bool
) -> tuple[list[Any], list[Path]]:
    """Count the series as ``coalwatch count`` does and write its outputs."""
    from coalwatch.infer.aoi import load_aois
    from coalwatch.infer.counting import CountOptions, count_scenes
    from coalwatch.infer.outputs import write_outputs
    from coalwatch.infer.progress import counting_progress

    options = CountOptions(threads=threads, aoi_path=None if aois is None else str(aois))
    with counting_progress(len(scenes), enabled=progress) as bars:
        results = count_scenes(
            [str(p) for p in scenes],
            model,
            options,
            on_scene=bars.scene_done,
            tile_progress=bars.tiles,
        )
        areas = None if aois is None else load_aois(aois)
        paths = write_outputs(results, out_dir, aois=areas, on_picture=bars.pictures(len(results)))
    return results, paths


def picture_scene(results: list[Any]) -> Any:
    """The scene to draw: the usable one with the most detections (earliest on ties)."""
    usable = [r for r in results if r.usable_fraction >= 0.5] or results
    return max(usable, key=lambda r: (len(r.detections), -results.index(r)))


def run_demo(options: DemoOptions, say: Say = print) -> DemoResult:
    """Run every step into ``options.out``; returns paths, results and timings."""
    from coalwatch.demo_plots import plot_counted_vs_truth
    from coalwatch.demo_report import comparison_table, read_truth, summary_next_to_truth
    from coalwatch.infer.aoi import load_aois
    from coalwatch.infer.picture import draw_scene

    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    series_dir = out / "series"
    size = options.series_size
    with _step(
        timings,
        "render",
        say,
        f"render the dated series {options.scenario!r}" + (f" at {size} px" if size else ""),
    ):
        scenes = render_demo_series(options.scenario, series_dir, options.seed, size)
        say(f"   {len(scenes)} dated scenes in {series_dir}")
    run_dir = out / "run"
    with _step(
        timings,
        "train",
        say,
        f"train a detector ({options.train_config} config, on synthetic scenes it renders)",
    ):
        metrics = train_demo_model(options.train_config, options.overrides, run_dir, options.seed)
        best = metrics.get("best") or {}
        if best.get("mAP50") is not None:
            epoch = best.get("epoch")
            say(f"   validation mAP50 {best['mAP50']:.3f} (held-out layouts, epoch {epoch})")
    model = out / "model.onnx"
    with _step(timings, "export", say, "export to ONNX (with a parity check)"):
        export_demo_model(run_dir, model)
    counts_dir = out / "counts"
    aois = series_dir / "aois.geojson"
    with _step(timings, "count", say, "count the series with onnxruntime (no torch)"):
        results, outputs = count_demo_series(
            scenes,
            model,
            aois if aois.is_file() else None,
            counts_dir,
            options.threads,
            options.progress,
        )
    with _step(timings, "report", say, "compare with the ground truth, draw a scene"):
        truth_csv = series_dir / "truth.csv"
        truth = read_truth(truth_csv)
        comparison = (
            "Counted/true per date\n"
            + comparison_table(results, truth)
            + "\n\nThe series in words, counted next to truth\n"
            + summary_next_to_truth(results, truth)
        )
        write_text_atomic(out / "comparison.txt", comparison)
        areas = load_aois(aois) if aois.is_file() else None
        picture = draw_scene(picture_scene(results), out / "detections.png", areas)
        plot_counted_vs_truth(results, truth, out / "counted_vs_truth.png")
    result = DemoResult(
        out,
        scenes,
        truth_csv,
        run_dir,
        model,
        counts_dir,
        outputs,
        picture,
        comparison,
        results,
        metrics,
        timings,
    )
    _write_record(result, options)
    return result


def _write_record(result: DemoResult, options: DemoOptions) -> Path:
    best = result.train_metrics.get("best") or {}
    record = {
        "options": {
            k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(options).items()
        },
        "train_config": options.train_config,
        "timings_s": result.timings,
        "total_s": round(sum(result.timings.values()), 1),
        "validation": {k: best.get(k) for k in ("mAP50", "mAP", "epoch")},
        "paths": {
            "model": str(result.model),
            "counts": str(result.counts_dir),
            "picture": str(result.picture),
            "timelines": [str(p) for p in result.timelines],
        },
    }
    return write_text_atomic(result.out / "demo.json", json.dumps(record, indent=1) + "\n")
