"""A synthetic chip set for a run: scenes rendered by ``coalwatch.labels.synth`` and cut by
``coalwatch.labels.chips``. Validation scenes use other seeds than training scenes, so they
are held-out layouts, not other chips of the training scenes."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coalwatch.train.config import SyntheticData

if TYPE_CHECKING:
    from coalwatch.labels.synth.config import Scenario

log = logging.getLogger(__name__)
VAL_SEED_OFFSET = 100_000


@dataclass(frozen=True)
class SceneJob:
    """One scene to render: its unique name, and what makes it (scenario, seed, index)."""

    name: str
    scenario: Scenario
    seed: int
    index: int
    is_val: bool


def plan_scenes(cfg: SyntheticData) -> list[SceneJob]:
    """Every training and validation scene of the config, in a fixed order."""
    from coalwatch.labels.synth import load_scenario

    jobs: list[SceneJob] = []
    for k, name in enumerate(cfg.scenarios):
        scenario = load_scenario(name)
        if cfg.size_px:
            width, height = cfg.size_px
            scenario = dataclasses.replace(scenario, size_px=(int(width), int(height)))
        stem = Path(name).stem
        for split, count, seed in (
            ("train", cfg.train_scenes, cfg.seed + 1000 * k),
            ("val", cfg.val_scenes, cfg.seed + 1000 * k + VAL_SEED_OFFSET),
        ):
            jobs += [
                SceneJob(f"{split}-{stem}-{i:03d}", scenario, seed, i, split == "val")
                for i in range(max(count, 0))
            ]
    return jobs


def _rename(tif: Path, dest: Path, name: str) -> Path:
    """Move a scene and its labels under a unique name (labels follow the image's stem)."""
    target = dest / f"{name}.tif"
    shutil.move(tif, target)
    labels = tif.with_suffix(".geojson")
    if labels.is_file():
        shutil.move(labels, target.with_suffix(".geojson"))
    return target


def render_scenes(
    cfg: SyntheticData, scenes_dir: Path, progress: bool = False
) -> tuple[list[Path], list[str]]:
    """Render train and validation scenes into ``scenes_dir``: (paths, names of val scenes).

    Scenes render in ``cfg.workers`` processes (None: one per CPU); the bytes do not depend
    on how many.
    """
    from rich.progress import Progress

    from coalwatch.labels.synth.render import default_workers, render_many

    jobs = plan_scenes(cfg)
    workers = min(cfg.workers or default_workers(), len(jobs))
    log.info("rendering %d synthetic scene(s) in %d process(es)", len(jobs), workers)
    raw = scenes_dir / ".raw"
    raw.mkdir(parents=True, exist_ok=True)
    scenes = [(job.scenario, raw, job.seed, job.index, cfg.gsd, False) for job in jobs]
    paths: list[Path] = []
    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("scenes", total=len(jobs))
        for job, tif in zip(jobs, render_many(scenes, workers), strict=True):
            paths.append(_rename(tif, scenes_dir, job.name))
            bar.advance(task)
    shutil.rmtree(raw, ignore_errors=True)
    return paths, [job.name for job in jobs if job.is_val]


def synthesise_chips(cfg: SyntheticData, taxonomy: str, out_dir: Path, progress: bool) -> Path:
    """Render scenes into a temporary folder and chip them into ``out_dir``."""
    from coalwatch.labels.chips import ChipOptions, make_chips

    with tempfile.TemporaryDirectory(prefix=".scenes-", dir=out_dir.parent) as tmp:
        scenes, val_names = render_scenes(cfg, Path(tmp), progress)
        options = ChipOptions(
            size=cfg.chip_size,
            overlap=cfg.chip_overlap,
            empty_share=cfg.empty_share,
            val_share=0.0,
            val_scenes=tuple(val_names),
            taxonomy=taxonomy,
            seed=cfg.seed,
            progress=progress,
        )
        make_chips(scenes, out_dir, options)
    return out_dir
