"""Chips for training: a COCO chip folder as a dataset and a LightningDataModule.

A chip folder (written by ``coalwatch chips``) holds ``images/*.png``, ``train.json``,
``val.json`` (categories = the taxonomy's leaf classes, ids from 1; ``info.taxonomy``) and
``manifest.json``. Each sample is ``(image, target)``: a float32 (3, H, W) tensor in [0, 1]
and ``{"boxes": float32 (N, 4) xyxy pixels, "labels": int64 (N,), "iscrowd": bool (N,)}``
with N = 0 allowed. Batches are lists (never stacked), so chips without objects keep their
place in a batch.

Hidden objects, labelled but not visible (flagged ``occluded``, e.g. under cloud, or COCO's
``iscrowd``), are neither objects nor background: training leaves them out of the targets,
and scoring keeps them as ``iscrowd`` boxes, which a detection may match without counting as
a hit or a false alarm (as ``coalwatch evaluate`` does on whole scenes). With
``augment.ignore_regions`` training targets carry them, and the objects a crop cuts, as
``"ignore"`` boxes (float32 (M, 4)) that the detector leaves out of its losses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from coalwatch.errors import InputError
from coalwatch.labels.coco import image_path, read_coco
from coalwatch.labels.taxonomy import Taxonomy
from coalwatch.model.ignore_regions import IGNORE_KEY
from coalwatch.train.augment import AugmentConfig, apply, apply_with_regions, build_transforms

SPLITS = ("train", "val")


@dataclass
class ChipRecord:
    """One chip: its PNG and its boxes (xyxy pixels) with class ids from 1."""

    path: Path
    boxes: np.ndarray  # float32 (N, 4)
    labels: np.ndarray  # int64 (N,)
    hidden: np.ndarray  # bool (N,): labelled but not visible (not trained on, not scored)


@dataclass
class ChipSplit:
    """One COCO file of a chip folder, checked against the taxonomy."""

    path: Path
    records: list[ChipRecord]
    info: dict[str, Any]

    @property
    def num_objects(self) -> int:
        """Number of visible boxes over every chip."""
        return sum(int((~r.hidden).sum()) for r in self.records)


def check_categories(path: Path, categories: list[dict[str, Any]], taxonomy: Taxonomy) -> None:
    """The file's categories must be the taxonomy's leaves with the same ids."""
    found = {int(c["id"]): str(c["name"]) for c in categories}
    expected = {taxonomy.class_id(name): name for name in taxonomy.classes}
    if found != expected:
        extra = sorted(set(found.items()) - set(expected.items()))
        missing = sorted(set(expected.items()) - set(found.items()))
        raise InputError(
            path,
            f"categories do not match taxonomy {taxonomy.name!r} "
            f"(unexpected {extra or 'none'}, missing {missing or 'none'})",
        )


def read_split(path: Path, taxonomy: Taxonomy) -> ChipSplit:
    """Read and check one COCO chip file: categories and image files."""
    dataset = read_coco(path)
    check_categories(path, dataset.categories, taxonomy)
    records = []
    by_image = dataset.annotations_by_image()
    for image in dataset.images:
        annotations = by_image[image.id]
        boxes = np.array([a.xyxy for a in annotations], dtype=np.float32).reshape(-1, 4)
        labels = np.array([a.category_id for a in annotations], dtype=np.int64)
        hidden = np.array([a.hidden for a in annotations], dtype=bool)
        chip = image_path(path, image)
        if not chip.is_file():
            raise InputError(chip, f"chip image listed in {path.name} is missing")
        records.append(ChipRecord(chip, boxes, labels, hidden))
    return ChipSplit(path, records, dataset.info)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The chip folder's manifest (empty when the folder has none)."""
    path = folder / "manifest.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(path, f"cannot read manifest ({exc.__class__.__name__})") from exc


def check_chip_folder(folder: Path, taxonomy: Taxonomy) -> dict[str, ChipSplit]:
    """Both splits of a chip folder, or InputError naming what is wrong."""
    if not folder.is_dir():
        raise InputError(folder, "chips folder not found")
    splits = {}
    for split in SPLITS:
        path = folder / f"{split}.json"
        if not path.is_file():
            raise InputError(path, f"chips folder has no {split}.json")
        splits[split] = read_split(path, taxonomy)
    if not splits["train"].records:
        raise InputError(splits["train"].path, "empty training set (no chips)")
    if not splits["train"].num_objects:
        raise InputError(splits["train"].path, "empty training set (no labelled objects)")
    if not splits["val"].records:
        raise InputError(splits["val"].path, "empty validation set (no chips)")
    return splits


def read_image(path: Path) -> np.ndarray:
    """An 8-bit RGB chip as a (H, W, 3) uint8 array."""
    with Image.open(path) as image:
        return np.array(image.convert("RGB"))


class ChipDataset(Dataset):
    """Chips with boxes, augmented by an albumentations pipeline.

    ``training``: hidden objects are left out of the targets (or, with ``regions_below`` set,
    come as ignore regions with the objects a crop leaves less of than that share);
    otherwise they come with ``iscrowd`` set, for scoring.
    """

    def __init__(
        self,
        records: list[ChipRecord],
        transform,
        training: bool = False,
        regions_below: float | None = None,
    ) -> None:
        self.records = records
        self.transform = transform
        self.training = training
        self.regions_below = regions_below if training else None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        record = self.records[index]
        if self.regions_below is not None:
            return self._with_regions(record, self.regions_below)
        keep = ~record.hidden if self.training else np.ones(len(record.labels), bool)
        image, boxes, labels, hidden = apply(
            self.transform,
            read_image(record.path),
            record.boxes[keep],
            record.labels[keep],
            record.hidden[keep],
        )
        tensor = _to_tensor(image)
        target = {
            "boxes": torch.from_numpy(boxes),
            "labels": torch.from_numpy(labels),
            "iscrowd": torch.from_numpy(hidden),
        }
        return tensor, target

    def _with_regions(
        self, record: ChipRecord, min_visibility: float
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image, boxes, labels, regions = apply_with_regions(
            self.transform,
            read_image(record.path),
            record.boxes,
            record.labels,
            record.hidden,
            min_visibility,
        )
        target = {
            "boxes": torch.from_numpy(boxes),
            "labels": torch.from_numpy(labels),
            "iscrowd": torch.zeros(len(labels), dtype=torch.bool),
            IGNORE_KEY: torch.from_numpy(regions),
        }
        return _to_tensor(image), target


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 to float32 (3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0


def seed_worker(worker_id: int) -> None:
    """Give each loader worker its own augmentation stream, derived from the loader's seed."""
    info = torch.utils.data.get_worker_info()
    transform = getattr(info.dataset, "transform", None)
    if transform is not None and hasattr(transform, "set_random_seed"):
        transform.set_random_seed(info.seed % 2**32)


def collate(batch: list[tuple[torch.Tensor, dict]]) -> tuple[list[torch.Tensor], list[dict]]:
    """Keep images and targets as lists: chips differ in size and in box count."""
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)


class ChipDataModule(L.LightningDataModule):
    """Train and validation loaders over a checked chip folder."""

    def __init__(
        self,
        splits: dict[str, ChipSplit],
        tile_size: int,
        augment: AugmentConfig | None,
        batch_size: int = 4,
        num_workers: int = 0,
        val_batch_size: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.seed = seed
        self.splits = splits
        self.tile_size = tile_size
        self.augment = augment
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers

    def dataset(self, split: str, training: bool) -> ChipDataset:
        """A split as training sees it (augmented, hidden objects left out) or as scoring does
        (as written, hidden objects flagged ``iscrowd``)."""
        transform = build_transforms(self.augment, self.tile_size, train=training, seed=self.seed)
        regions = self.augment is not None and self.augment.ignore_regions
        below = self.augment.min_visibility if regions else None
        return ChipDataset(self.splits[split].records, transform, training, below)

    def _loader(self, split: str, training: bool, batch_size: int) -> DataLoader:
        return DataLoader(
            self.dataset(split, training),
            batch_size=batch_size,
            shuffle=training,
            num_workers=self.num_workers,
            collate_fn=collate,
            worker_init_fn=seed_worker if self.num_workers > 0 else None,
            persistent_workers=self.num_workers > 0,
        )

    def dataset_loader(self, split: str) -> DataLoader:
        """A loader over ``split`` as written, in file order (for checks and scoring)."""
        return self._loader(split, False, self.batch_size)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True, self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False, self.val_batch_size)
