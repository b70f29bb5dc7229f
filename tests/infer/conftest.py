"""A small trained detector, exported to ONNX once per test session.

The tiny Faster R-CNN is trained for a few seconds on synthetic 128 px tiles (dark ore
cars and coal heaps on a bright quay), saved as a checkpoint and exported with coalwatch
export, so counting tests run a real ONNX model end to end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

TILE = 128
GSD = 0.5


def synthetic_tile(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bright tile with a few dark ore cars (26 x 6 px) and maybe one heap."""
    image = np.full((3, TILE, TILE), 0.7, np.float32) + rng.normal(0, 0.03, (3, TILE, TILE))
    boxes, labels = [], []
    for _ in range(int(rng.integers(1, 5))):
        x, y = int(rng.integers(2, TILE - 30)), int(rng.integers(2, TILE - 8))
        if any(x < b[2] + 2 and b[0] < x + 28 and y < b[3] + 2 and b[1] < y + 8 for b in boxes):
            continue
        image[:, y : y + 6, x : x + 26] = 0.15
        boxes.append((x, y, x + 26, y + 6))
        labels.append(1)
    if rng.random() < 0.5:
        w, h = int(rng.integers(24, 40)), int(rng.integers(20, 32))
        x, y = int(rng.integers(0, TILE - w)), int(rng.integers(0, TILE - h))
        if not any(x < b[2] and b[0] < x + w and y < b[3] and b[1] < y + h for b in boxes):
            image[:, y : y + h, x : x + w] = 0.25
            boxes.append((x, y, x + w, y + h))
            labels.append(5)
    return (
        image.clip(0, 1).astype(np.float32),
        np.array(boxes, np.float32),
        np.array(labels, np.int64),
    )


def train_tiny(steps: int = 400, seed: int = 0):
    """Train the tiny detector briefly; returns (model, DetectorConfig)."""
    import torch

    from coalwatch.model.detector import DetectorConfig, build_detector

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = DetectorConfig(
        backbone="tiny",
        num_classes=5,
        tile_size=TILE,
        rpn_pre_nms_top_n_train=300,
        rpn_post_nms_top_n_train=150,
        rpn_pre_nms_top_n_test=300,
        rpn_post_nms_top_n_test=150,
        rpn_batch_size_per_image=64,
        box_batch_size_per_image=64,
        box_detections_per_img=100,
    )
    model = build_detector(cfg)
    data = [synthetic_tile(rng) for _ in range(16)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    model.train()
    for step in range(steps):
        batch = [data[(2 * step + k) % len(data)] for k in range(2)]
        images = [torch.from_numpy(b[0]) for b in batch]
        targets = [
            {"boxes": torch.from_numpy(b[1]), "labels": torch.from_numpy(b[2])} for b in batch
        ]
        loss = sum(model(images, targets).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), cfg


@pytest.fixture(scope="session")
def trained_onnx(tmp_path_factory) -> Path:
    """Path of an exported ONNX model of the briefly trained tiny detector."""
    pytest.importorskip("torch")
    from coalwatch.labels.taxonomy import load_taxonomy
    from coalwatch.model.checkpoint import InferenceSettings, save_detector
    from coalwatch.model.export import export_checkpoint

    folder = tmp_path_factory.mktemp("model")
    model, cfg = train_tiny()
    settings = InferenceSettings(tile_size=TILE, tile_overlap=32, gsd_m=GSD, score_threshold=0.5)
    save_detector(folder / "best.ckpt", model, cfg, load_taxonomy(), settings)
    export_checkpoint(folder, folder / "model.onnx")
    return folder / "model.onnx"
