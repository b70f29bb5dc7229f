"""Check that an exported ONNX detector answers like the PyTorch model it came from.

Parity is checked on several tiles: a blank tile (no detections: a zero-row output is a
known trap of exported detectors), a tile with one dark object on a bright quay, textured
tiles with several objects, and a tile of another size (dynamic height and width).
Boxes must agree within ``box_tol`` pixels and labels exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torchvision.models.detection import FasterRCNN

from coalwatch.errors import CoalwatchError


class ParityError(CoalwatchError):
    """The ONNX model disagrees with PyTorch."""


@dataclass(frozen=True)
class TileParity:
    """The comparison on one tile."""

    name: str
    shape: tuple[int, int]
    torch_detections: int
    onnx_detections: int
    max_box_diff: float
    max_score_diff: float
    labels_equal: bool


def parity_tiles(tile_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Named float32 (3, H, W) tiles in [0, 1] for the parity check."""
    rng = np.random.default_rng(seed)
    size = tile_size
    tiles: dict[str, np.ndarray] = {"blank": np.full((3, size, size), 0.5, np.float32)}
    quay = np.full((3, size, size), 0.62, np.float32) + rng.normal(0, 0.02, (3, size, size))
    c = size // 2
    quay[:, c - 20 : c + 20, c - 40 : c + 40] = 0.22  # one dark heap-like object
    tiles["one_object"] = quay.clip(0, 1).astype(np.float32)
    for k in range(2):
        tile = rng.uniform(0.15, 0.75, (3, 1, 1)) + rng.normal(0, 0.05, (3, size, size))
        for _ in range(int(rng.integers(5, 30))):
            x, y = rng.integers(0, size - 40, 2)
            w, h = rng.integers(4, 40, 2)
            tile[:, y : y + h, x : x + w] = rng.uniform(0, 1, (3, 1, 1))
        tiles[f"textured_{k}"] = tile.clip(0, 1).astype(np.float32)
    odd_h, odd_w = max(32, size - 32), max(32, size + 64)
    tiles["other_size"] = rng.uniform(0, 1, (3, odd_h, odd_w)).astype(np.float32)
    return tiles


def _above_tied_cutoff(
    boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop detections tied with the last one when the output hit ``limit`` detections.

    When more candidates tie at the cut-off score than there is room for, which of them
    are kept is arbitrary (and differs between runtimes); the ones above it are not.
    """
    if len(scores) < limit or limit <= 0:
        return boxes, labels, scores
    keep = scores > scores.min() + 1e-6
    return boxes[keep], labels[keep], scores[keep]


def _match(t_boxes: np.ndarray, o_boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair boxes of the two runs, closest first (order may differ between equal scores)."""
    from scipy.optimize import linear_sum_assignment

    cost = np.abs(t_boxes[:, None, :] - o_boxes[None, :, :]).max(axis=2)
    return linear_sum_assignment(cost)


def _compare(name: str, shape: tuple[int, ...], torch_out, onnx_out) -> TileParity:
    (t_boxes, t_labels, t_scores), (o_boxes, o_labels, o_scores) = torch_out, onnx_out
    n_t, n_o = len(t_boxes), len(o_boxes)
    if n_t != n_o:
        return TileParity(name, shape, n_t, n_o, float("inf"), float("inf"), False)
    if n_t == 0:
        return TileParity(name, shape, 0, 0, 0.0, 0.0, True)
    rows, cols = _match(t_boxes, o_boxes)
    return TileParity(
        name,
        shape,
        n_t,
        n_o,
        float(np.abs(t_boxes[rows] - o_boxes[cols]).max()),
        float(np.abs(t_scores[rows] - o_scores[cols]).max()),
        bool(np.array_equal(t_labels[rows], o_labels[cols])),
    )


def compare_tile(
    model: FasterRCNN, session, name: str, image: np.ndarray, box_tol: float = 1e-3
) -> TileParity:
    """Run both models on ``image`` and compare their outputs (matched box to box)."""
    with torch.no_grad():
        out = model([torch.from_numpy(image)])[0]
    torch_out = tuple(out[k].numpy() for k in ("boxes", "labels", "scores"))
    o_boxes, o_labels, o_scores = session.run(["boxes", "labels", "scores"], {"image": image})
    onnx_out = (o_boxes.reshape(-1, 4), o_labels.reshape(-1), o_scores.reshape(-1))
    shape = tuple(image.shape[1:])
    result = _compare(name, shape, torch_out, onnx_out)
    if result.labels_equal and result.max_box_diff <= box_tol:
        return result
    limit = int(model.roi_heads.detections_per_img)
    return _compare(
        name,
        shape,
        _above_tied_cutoff(*torch_out, limit),
        _above_tied_cutoff(*onnx_out, limit),
    )


def check_parity(
    model: FasterRCNN,
    onnx_path: str | Path,
    tiles: dict[str, np.ndarray],
    box_tol: float = 1e-3,
    threads: int = 1,
) -> list[TileParity]:
    """Compare on every tile; raise ``ParityError`` naming the first tile that disagrees."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    model.eval()
    results = [compare_tile(model, session, n, image, box_tol) for n, image in tiles.items()]
    for r in results:
        if r.torch_detections != r.onnx_detections:
            raise ParityError(
                f"ONNX parity failed on tile {r.name!r} {r.shape}: PyTorch found "
                f"{r.torch_detections} detections, ONNX {r.onnx_detections}"
            )
        if not r.labels_equal or r.max_box_diff > box_tol:
            raise ParityError(
                f"ONNX parity failed on tile {r.name!r} {r.shape}: labels equal "
                f"{r.labels_equal}, boxes differ by up to {r.max_box_diff:.2e} px "
                f"(tolerance {box_tol:g})"
            )
    return results
