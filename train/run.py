"""A whole training run: check the inputs, prepare chips, fit, write the run folder.

The run folder (``RUN/``) holds ``best.ckpt`` (best validation mAP50), ``last.ckpt``,
``config.yaml`` (resolved), ``metrics.json``, ``curves.png`` and ``logs/`` (CSV and
TensorBoard). It is built as ``RUN.partial/`` and renamed at the end: bad input leaves
nothing behind; a run that fails after its first checkpoint keeps ``RUN.partial/`` so that it
can be resumed (``--resume RUN.partial/last.ckpt``). In a multi-process (DDP) run only the
main process builds the folder; the others join it (:mod:`coalwatch.train.ranks`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from coalwatch.atomic import write_text_atomic
from coalwatch.errors import CoalwatchError, InputError
from coalwatch.labels.taxonomy import Taxonomy, load_taxonomy
from coalwatch.model.checkpoint import InferenceSettings, config_digest, read_checkpoint
from coalwatch.model.detector import DetectorConfig
from coalwatch.train.config import RunConfig
from coalwatch.train.datamodule import ChipSplit, check_chip_folder, read_manifest
from coalwatch.train.ranks import (
    LAUNCH_FILE,
    launched_worker,
    main_launch_id,
    wait_for,
    worker_launch_id,
)

log = logging.getLogger(__name__)
MONITOR = "val/mAP50"


@dataclass
class TrainResult:
    """Where the run landed and its headline numbers."""

    run_dir: Path
    metrics: dict[str, Any]


def partial_dir(out: Path) -> Path:
    """The folder a run is built in before it is renamed to ``out``."""
    return out.with_name(out.name + ".partial")


def inference_settings(run: RunConfig, manifest: dict[str, Any]) -> InferenceSettings:
    """What the model needs at inference: from the config, else from the chips' manifest."""
    options = manifest.get("options") or {}
    gsds = [
        float(s["gsd_m"])
        for s in manifest.get("scenes") or []
        if isinstance(s, dict) and s.get("gsd_m")
    ]
    gsd = run.inference.gsd_m or (statistics.median(gsds) if gsds else None)
    spans_gsds = run.inference.gsd_m is None and len(set(gsds)) > 1
    gsd_range = (min(gsds), max(gsds)) if spans_gsds else None
    overlap = run.inference.tile_overlap
    if overlap is None:
        overlap = int(options.get("overlap", run.model.tile_size // 4))
    return InferenceSettings(
        tile_size=run.inference.tile_size or run.model.tile_size,
        tile_overlap=overlap,
        gsd_m=gsd,
        gsd_range_m=gsd_range,
        bands=list(manifest.get("bands") or [1, 2, 3]),
        scaling=dict(manifest.get("scaling") or {"method": "gain", "gain": 1.0}),
        score_threshold=run.inference.score_threshold,
        class_score_thresholds=dict(run.inference.class_score_thresholds),
    )


def _check_resume(resume: Path, detector: dict[str, Any], taxonomy: Taxonomy) -> None:
    hparams = read_checkpoint(resume)["hyper_parameters"]
    try:  # through the dataclass: keys added since the checkpoint get their defaults
        stored = DetectorConfig.from_dict(hparams["detector"]).to_dict()
    except (TypeError, ValueError) as exc:
        raise InputError(resume, f"bad detector config in checkpoint: {exc}") from exc
    if stored != detector:
        raise InputError(resume, "checkpoint was trained with another model config")
    if Taxonomy.from_dict(hparams["taxonomy"]) != taxonomy:
        raise InputError(resume, "checkpoint was trained with another taxonomy")


def _prepare_chips(run: RunConfig, taxonomy: Taxonomy, work: Path) -> Path:
    if run.data.chips:
        return Path(run.data.chips)
    if (work / "data" / "train.json").is_file():  # resuming in place: chips already made
        return work / "data"
    from coalwatch.train.synthetic import synthesise_chips

    return synthesise_chips(run.data.synthetic, taxonomy.name, work / "data", run.trainer.progress)


def _csv_logs(work: Path) -> list[Path]:
    """CSV log folders of a run in order: ``csv``, then ``csv-1``, ``csv-2``... (resumptions)."""
    found = (work / "logs").glob("csv*")
    return sorted(found, key=lambda p: int(p.name.partition("-")[2] or 0))


def _log_version(work: Path) -> str:
    """A fresh log folder name per fit (a resumed run keeps its earlier logs)."""
    done = _csv_logs(work)
    return "csv" if not done else f"csv-{len(done)}"


def _trainer(run: RunConfig, work: Path, callbacks: list) -> Any:
    import lightning as L
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    t = run.trainer
    # Two callbacks: Lightning's save_last only writes when a new best is saved.
    best = ModelCheckpoint(
        dirpath=work,
        filename="best",
        monitor=MONITOR,
        mode="max",
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    last = ModelCheckpoint(
        dirpath=work,
        filename="last",
        monitor=None,
        save_top_k=1,
        enable_version_counter=False,
        save_on_train_epoch_end=True,  # also in epochs without validation
    )
    callbacks = [best, last, LearningRateMonitor(logging_interval="step"), *callbacks]
    if t.progress:
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks.append(RichProgressBar(leave=True))
    version = _log_version(work)
    loggers = [
        CSVLogger(work, name="logs", version=version),
        TensorBoardLogger(
            work,
            name="logs",
            version=version.replace("csv", "tensorboard"),
            default_hp_metric=False,
        ),
    ]
    return L.Trainer(
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=t.precision,
        max_epochs=t.max_epochs,
        max_steps=t.max_steps,
        max_time=t.max_time,
        limit_train_batches=t.limit_train_batches,
        limit_val_batches=t.limit_val_batches,
        check_val_every_n_epoch=t.check_val_every_n_epoch,
        log_every_n_steps=t.log_every_n_steps,
        gradient_clip_val=t.gradient_clip_val,
        accumulate_grad_batches=t.accumulate_grad_batches,
        deterministic=t.deterministic,
        callbacks=callbacks,
        logger=loggers,
        default_root_dir=work,
        enable_progress_bar=t.progress,
        enable_model_summary=t.progress,
        num_sanity_val_steps=0,
    )


def _summary(trainer: Any, best_path: str, history: list[dict[str, Any]], speed: Any) -> dict:
    best_epoch = None
    if history and any(MONITOR in h for h in history):
        best_epoch = max((h for h in history if MONITOR in h), key=lambda h: h[MONITOR])
    last = next((h for h in reversed(history) if MONITOR in h), {})

    def val(entry: dict[str, Any]) -> dict[str, Any]:
        return {k.removeprefix("val/"): v for k, v in entry.items() if k.startswith("val/")}

    speed_ips = round(speed.images / speed.seconds, 3) if speed.seconds else None
    return {
        "best": {"epoch": (best_epoch or {}).get("epoch"), **val(best_epoch or {})},
        "last": val(last),
        "global_step": int(trainer.global_step),
        "epochs": int(trainer.current_epoch),
        "train_seconds": round(speed.seconds, 2),
        "train_images_per_second": speed_ips,
        "best_checkpoint": Path(best_path).name if best_path else None,
        "history": history,
    }


def run_folder_of(checkpoint: Path) -> Path:
    """The run folder a checkpoint belongs to (``RUN/last.ckpt`` or ``RUN.partial/last.ckpt``)."""
    folder = checkpoint.parent
    return folder.with_name(folder.name.removesuffix(".partial"))


def _open_work(out: Path, resume: Path | None, overwrite: bool) -> tuple[Path, Path | None]:
    """Create (or, resuming in place, reopen) ``RUN.partial``: (work folder, checkpoint)."""
    work = partial_dir(out)
    if resume is not None and run_folder_of(resume) == out:
        if resume.parent == out:  # a finished run goes on: back to RUN.partial while training
            if work.exists():
                raise InputError(work, "both the run folder and its .partial exist; remove one")
            os.replace(out, work)
            resume = work / resume.name
        return work, resume
    if out.exists() and not overwrite:
        raise InputError(out, "run folder exists (choose another --out or pass --overwrite)")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work, resume


def train(
    run: RunConfig,
    resolved: dict[str, Any],
    out: Path,
    resume: Path | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Train as ``run`` says into ``out`` (see the module docstring).

    ``resume``: a checkpoint to continue from (optimiser, schedule, epoch and step included).
    When it lies in ``out`` (or ``out.partial``) the run goes on in place; elsewhere, ``out``
    is a new run folder whose ``best.ckpt`` covers the new epochs only.
    """
    out = Path(out)
    taxonomy = load_taxonomy(run.data.taxonomy)
    run.model.num_classes = taxonomy.num_classes
    resolved["model"]["num_classes"] = taxonomy.num_classes
    unknown = sorted(set(run.inference.class_score_thresholds) - set(taxonomy.classes))
    if unknown:
        raise InputError(
            None,
            f"inference.class_score_thresholds names {', '.join(unknown)}, not a class of "
            f"taxonomy {taxonomy.name!r} ({', '.join(taxonomy.classes)})",
        )
    if resume is not None:
        resume = Path(resume)
        _check_resume(resume, run.model.to_dict(), taxonomy)
    splits: dict[str, ChipSplit] | None = None
    if run.data.chips:  # checked before anything is written
        splits = check_chip_folder(Path(run.data.chips), taxonomy)
    elif run.data.synthetic is None:
        raise InputError(None, "config sets neither data.chips nor data.synthetic")

    if launched_worker():  # a DDP process beside the main one: join its run folder
        return _join_run(run, resolved, taxonomy, splits, out, resume)
    work, resume = _open_work(out, resume, overwrite)
    try:
        write_text_atomic(work / LAUNCH_FILE, main_launch_id() + "\n")
        write_text_atomic(work / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
        chips = _prepare_chips(run, taxonomy, work)
        if splits is None:
            splits = check_chip_folder(chips, taxonomy)
        result = _fit(run, resolved, taxonomy, splits, read_manifest(chips), work, resume)
    except BaseException:
        if (work / "last.ckpt").is_file():
            log.error("run stopped; checkpoints kept in %s (resume from last.ckpt)", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    os.replace(work, out)
    return TrainResult(out, result)


def _join_run(
    run: RunConfig,
    resolved: dict[str, Any],
    taxonomy: Taxonomy,
    splits: dict[str, ChipSplit] | None,
    out: Path,
    resume: Path | None,
) -> TrainResult:
    """Fit as one more DDP process in the run folder the main process prepares."""
    work = partial_dir(out)
    chips = Path(run.data.chips) if run.data.chips else work / "data"
    launch = worker_launch_id()
    wait_for(
        [work / "config.yaml", chips / "train.json", chips / "manifest.json"],
        contents={work / LAUNCH_FILE: launch} if launch else None,
    )
    if resume is not None and run_folder_of(resume) == out:
        resume = work / resume.name  # the main process moved a finished run back to .partial
    if splits is None:
        splits = check_chip_folder(chips, taxonomy)
    _fit(run, resolved, taxonomy, splits, read_manifest(chips), work, resume)
    return TrainResult(out, {})


@contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Silence Lightning warnings that need no action here."""
    with warnings.catch_warnings():
        # the run folder already holds config.yaml (and, resuming, earlier checkpoints)
        warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not")
        warnings.filterwarnings("ignore", message="The dirpath has changed")
        # Lightning's own use of a torch pytree API that torch has deprecated; nothing to act on
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)`")
        # DDP: validation values come from metric states already gathered over the processes
        warnings.filterwarnings("ignore", message=r"It is recommended to use `self.log\(")
        yield


def _fit(
    run: RunConfig,
    resolved: dict[str, Any],
    taxonomy: Taxonomy,
    splits: dict[str, ChipSplit],
    manifest: dict[str, Any],
    work: Path,
    resume: Path | None,
) -> dict[str, Any]:
    import lightning as L
    import torch

    from coalwatch.model.memory_format import use_channels_last
    from coalwatch.train.curves import plot_curves, read_history
    from coalwatch.train.datamodule import ChipDataModule
    from coalwatch.train.final_validation import ValidationSteps, validate_final_weights
    from coalwatch.train.module import DetectorModule
    from coalwatch.train.speed import Throughput

    if run.trainer.num_threads:
        torch.set_num_threads(run.trainer.num_threads)
    L.seed_everything(run.seed, workers=True, verbose=False)
    settings = inference_settings(run, manifest)
    module = DetectorModule(
        detector=run.model.to_dict(),
        taxonomy=taxonomy.to_dict(),
        inference=settings.to_dict(),
        optim=resolved["optim"],
        run=resolved,
    )
    if run.trainer.channels_last:
        use_channels_last(module.model)
    data = ChipDataModule(
        splits,
        run.model.tile_size,
        run.augment,
        batch_size=run.data.batch_size,
        num_workers=run.data.num_workers,
        val_batch_size=run.data.val_batch_size,
        seed=run.seed,
    )
    speed = Throughput()
    validated = ValidationSteps()
    trainer = _trainer(run, work, [speed, validated])
    with _quiet_lightning():
        trainer.fit(module, datamodule=data, ckpt_path=str(resume) if resume else None)
    if trainer.interrupted:
        raise CoalwatchError("training interrupted")
    # stopped inside an epoch (max_steps, max_time); every process must take the same branch
    # (saving is collective), so the main process decides
    if trainer.strategy.broadcast(not (work / "last.ckpt").is_file()):
        trainer.save_checkpoint(work / "last.ckpt")
    if run.trainer.limit_val_batches != 0:
        with _quiet_lightning():
            validate_final_weights(trainer, module, data, validated, MONITOR, work / "best.ckpt")
    if not trainer.is_global_zero:
        return {}
    if not (work / "best.ckpt").is_file():  # no validation ran: the last is the best we have
        shutil.copyfile(work / "last.ckpt", work / "best.ckpt")
    logs = [p / "metrics.csv" for p in _csv_logs(work)]
    history = read_history([p for p in logs if p.is_file()])
    summary = _summary(trainer, str(work / "best.ckpt"), history, speed)
    summary["config_digest"] = config_digest({"detector": run.model.to_dict(), "run": resolved})
    summary["chips"] = {k: len(v.records) for k, v in splits.items()}
    write_text_atomic(work / "metrics.json", json.dumps(summary, indent=1) + "\n")
    plot_curves(history, work / "curves.png", title=f"coalwatch train ({run.model.backbone})")
    return summary
