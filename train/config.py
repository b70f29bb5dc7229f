"""The training config: typed sections read from YAML by jsonargparse, with overrides.

One file drives CPU and GPU runs alike; only ``trainer.*`` values differ. Sections:
``data`` (a chips folder, or a synthetic set rendered and chipped into the run folder),
``augment``, ``model`` (:class:`~coalwatch.model.detector.DetectorConfig`), ``optim``,
``trainer`` (Lightning's accelerator, devices, precision, strategy, ...), ``inference``
(what the exported model will carry) and ``seed``. Unknown keys and wrong types are errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coalwatch.errors import InputError
from coalwatch.model.detector import DetectorConfig
from coalwatch.train.augment import AugmentConfig
from coalwatch.train.module import OptimConfig


@dataclass
class SyntheticData:
    """Scenes rendered by ``coalwatch.labels.synth`` and cut by ``coalwatch.labels.chips``.

    Train and validation scenes come from different seeds: validation layouts are held out.
    """

    scenarios: list[str] = field(default_factory=lambda: ["rail_crossing", "coal_port"])
    train_scenes: int = 2  # per scenario
    val_scenes: int = 1  # per scenario
    seed: int = 0
    gsd: float | None = None  # None: the scenario's own GSD
    size_px: list[int] | None = None  # [width, height] at the scenario's GSD; None: its own
    chip_size: int = 512
    chip_overlap: int = 128
    empty_share: float = 0.1
    workers: int | None = None  # processes rendering scenes; None: one per CPU (at most 8)


@dataclass
class DataConfig:
    """Where chips come from and how they are batched."""

    chips: str | None = None  # a chips folder (train.json, val.json, images/, manifest.json)
    synthetic: SyntheticData | None = None  # used when chips is null
    taxonomy: str = "default"
    batch_size: int = 4
    val_batch_size: int | None = None
    num_workers: int = 0


@dataclass
class TrainerConfig:
    """Lightning Trainer settings (same keys on CPU, one GPU or many)."""

    accelerator: str = "auto"
    devices: int | str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"  # "ddp" for several GPUs (Lightning's DDP)
    precision: str = "32-true"  # "16-mixed" or "bf16-mixed" on GPU
    max_epochs: int = 10
    max_steps: int = -1
    max_time: str | None = None  # "DD:HH:MM:SS"
    limit_train_batches: float | int = 1.0
    limit_val_batches: float | int = 1.0
    check_val_every_n_epoch: int = 1
    log_every_n_steps: int = 10
    gradient_clip_val: float | None = 10.0
    accumulate_grad_batches: int = 1
    deterministic: bool = False
    num_threads: int | None = None  # torch CPU threads (None: torch's default)
    # backbone convolutions on NHWC tensors (coalwatch.model.memory_format): 17-28% faster
    # CPU training steps of the CPU default (bench/train_step.py)
    channels_last: bool = False
    progress: bool = True


@dataclass
class InferenceConfig:
    """Inference settings stored in the checkpoint (and the exported model's metadata)."""

    score_threshold: float = 0.5
    # Per-class thresholds for counting (class name -> score), replacing score_threshold for
    # their class (e.g. operating points read off evaluate's precision-recall curves)
    class_score_thresholds: dict[str, float] = field(default_factory=dict)
    # Tiles counting cuts scenes into: the detector is fully convolutional, so it may count
    # on larger tiles than it trained on (fewer seams, ships and heaps whole). None: the
    # training tile (model.tile_size).
    tile_size: int | None = None
    tile_overlap: int | None = None  # None: the chips' overlap
    gsd_m: float | None = None  # None: from the chips' manifest (median scene GSD)

    def __post_init__(self) -> None:
        if self.tile_size is not None and self.tile_size <= (self.tile_overlap or 0) * 2:
            raise ValueError("inference.tile_size must be more than twice inference.tile_overlap")
        for value in [self.score_threshold, *self.class_score_thresholds.values()]:
            if not 0 <= value <= 1:
                raise ValueError(f"inference score thresholds must lie in [0, 1], got {value}")


@dataclass
class RunConfig:
    """A whole training run."""

    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: DetectorConfig = field(default_factory=DetectorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)


def _parser():
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(exit_on_error=False, prog="coalwatch train", allow_abbrev=False)
    parser.add_argument("--config", action="config")
    parser.add_class_arguments(RunConfig, None)
    return parser


def _override_args(overrides: Sequence[str]) -> list[str]:
    """``key.sub=value`` pairs as jsonargparse options (``--key.sub=value``)."""
    args = []
    for item in overrides:
        key, sep, value = item.lstrip("-").partition("=")
        if not sep or not key:
            raise InputError(None, f"override {item!r} is not KEY=VALUE (e.g. seed=3)")
        args.append(f"--{key}={value}")
    return args


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:300]


def load_run_config(
    path: str | Path, overrides: Sequence[str] = ()
) -> tuple[RunConfig, dict[str, Any]]:
    """Parse a YAML config plus overrides: ``(typed config, resolved plain dict)``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "config file not found")
    try:
        yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(path, f"not valid YAML ({_one_line(exc)})") from exc
    parser = _parser()
    try:
        namespace = parser.parse_args(["--config", str(path), *_override_args(overrides)])
        config = parser.instantiate(namespace)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(path, _one_line(exc)) from exc
    run = RunConfig(**{k: v for k, v in vars(config).items() if k != "config"})
    return run, plain(asdict(run))


def plain(value: Any) -> Any:
    """Tuples as lists, recursively (YAML- and JSON-ready)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
