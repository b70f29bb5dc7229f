"""Generated chip folders for the training tests: bright cars and long ships on a noisy
ground, written as PNG chips with COCO train/val files (as ``coalwatch chips`` writes them)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from coalwatch.labels.taxonomy import load_taxonomy

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
torch.set_num_threads(2)

# class id (default taxonomy) -> (long side, short side) in pixels and RGB colour
SHAPES = {1: ((18, 24), (5, 7), (230, 200, 60)), 3: ((40, 56), (10, 14), (240, 240, 240))}


def draw_chip(rng: np.random.Generator, size: int, n_objects: int):
    """One chip: (uint8 image, list of (class id, [x, y, w, h]))."""
    image = rng.normal(90, 12, (size, size, 3)).clip(0, 255).astype(np.uint8)
    objects: list[tuple[int, list[float]]] = []
    taken = np.zeros((size, size), bool)
    for _ in range(n_objects * 20):
        if len(objects) == n_objects:
            break
        cls = int(rng.choice(list(SHAPES)))
        (l_lo, l_hi), (w_lo, w_hi), colour = SHAPES[cls]
        long, short = int(rng.integers(l_lo, l_hi + 1)), int(rng.integers(w_lo, w_hi + 1))
        w, h = (long, short) if rng.random() < 0.5 else (short, long)
        x, y = int(rng.integers(1, size - w - 1)), int(rng.integers(1, size - h - 1))
        if taken[y - 1 : y + h + 1, x - 1 : x + w + 1].any():
            continue
        taken[y : y + h, x : x + w] = True
        image[y : y + h, x : x + w] = colour
        objects.append((cls, [float(x), float(y), float(w), float(h)]))
    return image, objects


def write_chip_folder(
    folder: Path,
    n_train: int = 12,
    n_val: int = 4,
    size: int = 96,
    seed: int = 0,
    empty_train: int = 0,
    taxonomy_name: str = "default",
) -> Path:
    """A chip folder with ``images/``, ``train.json``, ``val.json`` and ``manifest.json``."""
    taxonomy = load_taxonomy(taxonomy_name)
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    categories = [
        {"id": taxonomy.class_id(c), "name": c, "supercategory": taxonomy.group_of(c)}
        for c in taxonomy.classes
    ]
    ann_id = 1
    for split, count in (("train", n_train), ("val", n_val)):
        images, annotations = [], []
        for i in range(count):
            empty = split == "train" and i < empty_train
            image, objects = draw_chip(rng, size, 0 if empty else int(rng.integers(2, 5)))
            name = f"images/{split}_{i:03d}.png"
            Image.fromarray(image).save(folder / name)
            images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
            for cls, bbox in objects:
                annotations.append(
                    {
                        "id": ann_id,
                        "image_id": i + 1,
                        "category_id": cls,
                        "bbox": bbox,
                        "area": bbox[2] * bbox[3],
                        "iscrowd": 0,
                    }
                )
                ann_id += 1
        coco = {
            "info": {"taxonomy": taxonomy.to_dict()},
            "categories": categories,
            "images": images,
            "annotations": annotations,
        }
        (folder / f"{split}.json").write_text(json.dumps(coco))
    manifest = {
        "bands": [1, 2, 3],
        "scaling": {"method": "gain", "gain": 1.0},
        "options": {"overlap": 16},
        "scenes": [{"gsd_m": 0.5}],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture
def chip_folder(tmp_path: Path) -> Path:
    return write_chip_folder(tmp_path / "chips")


TINY_CONFIG = """
seed: 0
data:
  chips: {chips}
  batch_size: 4
model:
  backbone: tiny
  tile_size: 96
  anchor_sizes: [[8, 16], [24, 32], [48, 64], [96, 128], [160, 256]]
  rpn_pre_nms_top_n_train: 300
  rpn_post_nms_top_n_train: 150
  rpn_pre_nms_top_n_test: 300
  rpn_post_nms_top_n_test: 100
  box_batch_size_per_image: 64
  rpn_batch_size_per_image: 128
augment:
  scale: 0.0
  haze: 0.0
  blur: 0.0
optim:
  name: adamw
  lr: 0.003
  weight_decay: 0.0001
  warmup_steps: 5
trainer:
  accelerator: cpu
  devices: 1
  max_epochs: {epochs}
  log_every_n_steps: 1
  progress: false
  num_threads: 1
inference:
  score_threshold: 0.5
"""


@pytest.fixture(scope="session")
def tiny_config_text() -> str:
    return TINY_CONFIG


@pytest.fixture
def tiny_config(tmp_path: Path, chip_folder: Path):
    def make(epochs: int = 2) -> Path:
        path = tmp_path / f"tiny-{epochs}.yaml"
        path.write_text(TINY_CONFIG.format(chips=chip_folder, epochs=epochs))
        return path

    return make


@pytest.fixture(scope="session")
def chipgen():
    """The generator functions, for tests that draw their own chips."""

    class Gen:
        shapes = SHAPES
        draw = staticmethod(draw_chip)
        write_folder = staticmethod(write_chip_folder)

    return Gen
