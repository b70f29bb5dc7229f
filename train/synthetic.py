"""A synthetic chip set for a run: scenes rendered by ``coalwatch.labels.synth`` and cut by
``coalwatch.labels.chips``. Validation scenes use other seeds than training scenes, so they
are held-out layouts, not other chips of the training scenes."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from pathlib import Path

from coalwatch.train.config import SyntheticData

log = logging.getLogger(__name__)
VAL_SEED_OFFSET = 100_000


def _render(cfg: SyntheticData, scenario: str, out: Path, seed: int, count: int) -> list[Path]:
    from coalwatch.labels.synth import load_scenario, render_scenario

    loaded = load_scenario(scenario)
    if cfg.size_px:
        width, height = cfg.size_px
        loaded = dataclasses.replace(loaded, size_px=(int(width), int(height)))
    return list(render_scenario(loaded, out, seed=seed, count=count, gsd=cfg.gsd))


def _rename(tif: Path, dest: Path, name: str) -> Path:
    """Move a scene and its labels under a unique name (labels follow the image's stem)."""
    target = dest / f"{name}.tif"
    shutil.move(tif, target)
    labels = tif.with_suffix(".geojson")
    if labels.is_file():
        shutil.move(labels, target.with_suffix(".geojson"))
    return target


def render_scenes(cfg: SyntheticData, scenes_dir: Path) -> tuple[list[Path], list[str]]:
    """Render train and validation scenes into ``scenes_dir``: (paths, names of val scenes)."""
    scenes_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    val_names: list[str] = []
    for k, scenario in enumerate(cfg.scenarios):
        for split, count, seed in (
            ("train", cfg.train_scenes, cfg.seed + 1000 * k),
            ("val", cfg.val_scenes, cfg.seed + 1000 * k + VAL_SEED_OFFSET),
        ):
            if count <= 0:
                continue
            raw = scenes_dir / f".raw-{split}-{k}"
            log.info("rendering %d %s scene(s) of %s", count, split, scenario)
            for i, tif in enumerate(_render(cfg, scenario, raw, seed, count)):
                name = f"{split}-{Path(scenario).stem}-{i:03d}"
                paths.append(_rename(tif, scenes_dir, name))
                if split == "val":
                    val_names.append(name)
            shutil.rmtree(raw, ignore_errors=True)
    return paths, val_names


def synthesise_chips(cfg: SyntheticData, taxonomy: str, out_dir: Path, progress: bool) -> Path:
    """Render scenes into a temporary folder and chip them into ``out_dir``."""
    from coalwatch.labels.chips import ChipOptions, make_chips

    with tempfile.TemporaryDirectory(prefix=".scenes-", dir=out_dir.parent) as tmp:
        scenes, val_names = render_scenes(cfg, Path(tmp))
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
