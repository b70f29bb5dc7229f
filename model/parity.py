"""Check that an exported ONNX detector answers like the PyTorch model it came from.

Parity is checked on several tiles: a blank tile (no detections: a zero-row output is a
known trap of exported detectors), a tile with one dark object on a bright quay, textured
tiles with several objects, and a tile of another size (dynamic height and width).

Detections of the two runs are paired (same label, boxes within ``PAIR_PX``); paired boxes
must agree within ``box_tol`` pixels. A detection left unpaired fails the check when it
scores at or above the model's score threshold (the operating point counting uses).
Below it, a few unpaired low-score detections are expected and only reported: float
noise of 1e-6 can swap which proposal makes the RPN's top-n cut or an NMS decision at the
IoU boundary, and the box head then scores that one proposal (measured on a briefly
trained tiny model: one extra 0.33 detection among 16, all others within 1e-5 px).

Nor is it a disagreement when a runtime returns its full ``detections_per_img`` and the
unpaired detections tie in score with the last one kept (within ``TIE_SCORE``): which of
equally scored detections make the cut is arbitrary. An untrained model on a blank tile
scores hundreds of boxes alike (0.17304705 and 0.17304704) and each runtime keeps another
few of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torchvision.models.detection import FasterRCNN

from coalwatch.errors import CoalwatchError

PAIR_PX = 1.0  # boxes this close (and of one label) are the same detection
TIE_SCORE = 1e-4  # scores this close to a full list's last one tie with it at the cut


class ParityError(CoalwatchError):
    """The ONNX model disagrees with PyTorch."""


@dataclass(frozen=True)
class TileParity:
    """The comparison on one tile."""

    name: str
    shape: tuple[int, ...]
    torch_detections: int
    onnx_detections: int
    paired: int
    max_box_diff: float
    max_score_diff: float
    unpaired_scores: list[float] = field(default_factory=list)
    cut_score: float | None = None  # the last score kept where a runtime's list is full

    def disagreements(self, score_threshold: float) -> list[float]:
        """Scores of detections at or above ``score_threshold`` that only one runtime found,
        ties at a full list's cut left out."""
        tied = self.cut_score + TIE_SCORE if self.cut_score is not None else -1.0
        return [s for s in self.unpaired_scores if s >= score_threshold and s > tied]

    def failures(self, box_tol: float, score_threshold: float) -> list[str]:
        """What is wrong at this operating point (empty: parity holds)."""
        problems = []
        if self.max_box_diff > box_tol:
            problems.append(f"boxes differ by up to {self.max_box_diff:.2e} px")
        strong = self.disagreements(score_threshold)
        if strong:
            problems.append(
                f"{len(strong)} detection(s) scoring >= {score_threshold:g} found by only one "
                f"runtime (PyTorch {self.torch_detections}, ONNX {self.onnx_detections} in all)"
            )
        return problems


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


def _pair(t_boxes, t_labels, o_boxes, o_labels) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (rows into torch, cols into onnx) of same-label boxes within ``PAIR_PX``."""
    from scipy.optimize import linear_sum_assignment

    if not len(t_boxes) or not len(o_boxes):
        return np.zeros(0, int), np.zeros(0, int)
    cost = np.abs(t_boxes[:, None, :] - o_boxes[None, :, :]).max(axis=2)
    cost[t_labels[:, None] != o_labels[None, :]] = 1e9
    rows, cols = linear_sum_assignment(cost)
    close = cost[rows, cols] <= PAIR_PX
    return rows[close], cols[close]


def compare_tile(model: FasterRCNN, session, name: str, image: np.ndarray) -> TileParity:
    """Run both models on ``image`` and compare their outputs (paired box to box)."""
    with torch.no_grad():
        out = model([torch.from_numpy(image)])[0]
    t_boxes, t_labels, t_scores = (out[k].numpy() for k in ("boxes", "labels", "scores"))
    o_boxes, o_labels, o_scores = session.run(["boxes", "labels", "scores"], {"image": image})
    o_boxes, o_labels, o_scores = o_boxes.reshape(-1, 4), o_labels.reshape(-1), o_scores.reshape(-1)
    rows, cols = _pair(t_boxes, t_labels, o_boxes, o_labels)
    box_diff = float(np.abs(t_boxes[rows] - o_boxes[cols]).max()) if len(rows) else 0.0
    score_diff = float(np.abs(t_scores[rows] - o_scores[cols]).max()) if len(rows) else 0.0
    unpaired = [float(v) for v in np.delete(t_scores, rows)]
    unpaired += [float(v) for v in np.delete(o_scores, cols)]
    cap = getattr(model.roi_heads, "detections_per_img", None)
    full = [scores.min() for scores in (t_scores, o_scores) if len(scores) and len(scores) == cap]
    return TileParity(
        name,
        tuple(image.shape[1:]),
        len(t_boxes),
        len(o_boxes),
        len(rows),
        box_diff,
        score_diff,
        sorted(unpaired, reverse=True),
        float(max(full)) if full else None,
    )


def check_parity(
    model: FasterRCNN,
    onnx_path: str | Path,
    tiles: dict[str, np.ndarray],
    box_tol: float = 1e-3,
    score_threshold: float = 0.5,
    threads: int = 1,
) -> list[TileParity]:
    """Compare on every tile; raise ``ParityError`` naming the first tile that disagrees."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    model.eval()
    results = [compare_tile(model, session, n, image) for n, image in tiles.items()]
    for r in results:
        problems = r.failures(box_tol, score_threshold)
        if problems:
            raise ParityError(
                f"ONNX parity failed on tile {r.name!r} {r.shape[0]}x{r.shape[1]}: "
                + "; ".join(problems)
            )
    return results
