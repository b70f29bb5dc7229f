"""Merge per-tile detections into one set per scene, across tile seams, per class.

Rules (all per class, and only ever between detections from *different* tiles, so that
objects the model separated inside one tile — coupled ore cars in a train — stay apart):

1. A detection lying wholly in its tile's exclusive region (no other tile sees it) is kept.
2. The others are ranked: whole and centred in the tile's core first, then whole but
   centred in a neighbour's core, then *cut* ones (touching an interior tile edge); by
   score within a rank. Greedily, a detection is dropped when most of it (intersection
   over the smaller box > ``match``) lies in a box already kept from another tile — the
   same object seen twice — so each object whole in some tile is counted once.
3. A cut piece that no whole detection explains is fused (box union) with a kept cut
   piece from another tile when they meet across the seam — one cut on its right (bottom)
   edge, the other on its left (top) edge — and line up across it (1-D overlap of their
   extents along the seam > ``match``): objects larger than the overlap come out whole.

Inside one tile, :func:`drop_nested` removes a box lying almost wholly inside a
higher-scoring box of its class (part of a ship or a heap beside the whole of it); class-wise
NMS misses those because their IoU is low.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from coalwatch.infer.detections import Detections
from coalwatch.infer.tiling import Tile

LEFT, TOP, RIGHT, BOTTOM = range(4)
# default share of a box inside a stronger one of its class that makes it the same object
NESTED_SHARE = 0.8


def cut_sides(boxes: np.ndarray, tile: Tile, edge_px: float) -> np.ndarray:
    """(N, 4) bools: whether each box touches the tile's left/top/right/bottom interior edge."""
    interior = tile.interior_edges()
    x0, y0, x1, y1 = tile.bounds
    near = np.stack(
        [
            boxes[:, 0] <= x0 + edge_px,
            boxes[:, 1] <= y0 + edge_px,
            boxes[:, 2] >= x1 - edge_px,
            boxes[:, 3] >= y1 - edge_px,
        ],
        axis=1,
    )
    return near & np.array(interior)[None, :]


def _inside(points: np.ndarray, region: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = region
    return (points[:, 0] >= x0) & (points[:, 0] < x1) & (points[:, 1] >= y0) & (points[:, 1] < y1)


def _contained(boxes: np.ndarray, region: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = region
    return (boxes[:, 0] >= x0) & (boxes[:, 1] >= y0) & (boxes[:, 2] <= x1) & (boxes[:, 3] <= y1)


def _intersection(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    w = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    h = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """Areas of xyxy boxes (..., 4); inverted boxes count 0."""
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(
        boxes[..., 3] - boxes[..., 1], 0, None
    )


def _share_of_smaller(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection of ``box`` with each of ``boxes`` over the smaller box's area."""
    smaller = np.maximum(np.minimum(box_areas(box), box_areas(boxes)), 1e-9)
    return _intersection(box, boxes) / smaller


def iou_with(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of ``box`` with each of ``boxes``."""
    inter = _intersection(box, boxes)
    return inter / np.maximum(box_areas(box) + box_areas(boxes) - inter, 1e-9)


def _overlap_1d(lo: float, hi: float, los: np.ndarray, his: np.ndarray) -> np.ndarray:
    """1-D intersection over the shorter interval."""
    inter = np.clip(np.minimum(hi, his) - np.maximum(lo, los), 0, None)
    shorter = np.maximum(np.minimum(hi - lo, his - los), 1e-9)
    return inter / shorter


def _meets_across_seam(
    box: np.ndarray, cut: np.ndarray, boxes: np.ndarray, cuts: np.ndarray, tol: float, match: float
) -> np.ndarray:
    """Which kept cut pieces meet ``box`` across a seam and line up with it."""
    x_touch = (boxes[:, 0] <= box[2] + tol) & (box[0] <= boxes[:, 2] + tol)
    y_touch = (boxes[:, 1] <= box[3] + tol) & (box[1] <= boxes[:, 3] + tol)
    # box cut on its right meets a piece cut on its left lying to its right, and vice versa
    horizontal = (
        (cut[RIGHT] & cuts[:, LEFT] & (boxes[:, 0] >= box[0]))
        | (cut[LEFT] & cuts[:, RIGHT] & (boxes[:, 0] <= box[0]))
    ) & (_overlap_1d(box[1], box[3], boxes[:, 1], boxes[:, 3]) > match)
    vertical = (
        (cut[BOTTOM] & cuts[:, TOP] & (boxes[:, 1] >= box[1]))
        | (cut[TOP] & cuts[:, BOTTOM] & (boxes[:, 1] <= box[1]))
    ) & (_overlap_1d(box[0], box[2], boxes[:, 0], boxes[:, 2]) > match)
    return x_touch & y_touch & (horizontal | vertical)


def drop_nested(dets: Detections, overlap: float = NESTED_SHARE) -> Detections:
    """Per class, drop each box whose intersection with a higher-scoring kept box exceeds
    ``overlap`` of the smaller box's area (the same object seen whole and in part).

    Boxes of neighbouring objects share far less than that: coupled cars on one track only
    touch, and cars on parallel tracks at 45 degrees share under half of a box.
    """
    if len(dets) < 2 or overlap >= 1.0:
        return dets
    keep: list[int] = []
    for class_id in np.unique(dets.class_ids):
        kept: list[int] = []
        members = np.flatnonzero(dets.class_ids == class_id)
        for i in members[np.argsort(-dets.scores[members], kind="stable")]:
            if kept and np.any(_share_of_smaller(dets.boxes[i], dets.boxes[kept]) > overlap):
                continue
            kept.append(int(i))
        keep.extend(kept)
    return dets.select(np.asarray(sorted(keep), dtype=np.int64))


def merge_tiles(
    tiles: Sequence[tuple[Tile, Detections]], edge_px: float = 2.0, match: float = 0.5
) -> Detections:
    """One scene's detections from per-tile detections already in scene pixels.

    ``edge_px``: how close (scene pixels) a box must come to an interior tile edge to count
    as cut. ``match``: the overlap above which two boxes from different tiles are the same
    object. ``extra`` columns are kept for surviving detections (fused ones keep the
    highest-scoring piece's values).
    """
    kept_parts: list[Detections] = []
    pending: list[tuple[Detections, np.ndarray, np.ndarray, np.ndarray]] = []
    for tile_index, (tile, dets) in enumerate(tiles):
        if not len(dets):
            continue
        cuts = cut_sides(dets.boxes, tile, edge_px)
        is_cut = cuts.any(axis=1)
        alone = _contained(dets.boxes, tile.exclusive) & ~is_cut
        kept_parts.append(dets.select(alone))
        rest = ~alone
        if rest.any():
            sub = dets.select(rest)
            rank = np.where(
                is_cut[rest], 2, np.where(_inside(sub.centres, tile.core), 0, 1)
            ).astype(np.int64)
            pending.append((sub, rank, cuts[rest], np.full(len(sub), tile_index)))
    if pending:
        kept_parts.append(_greedy_merge(pending, edge_px, match))
    if not kept_parts:
        return Detections.empty()
    return Detections.concat(kept_parts)


def _greedy_merge(
    pending: list[tuple[Detections, np.ndarray, np.ndarray, np.ndarray]],
    tol: float,
    match: float,
) -> Detections:
    dets = Detections.concat([p[0] for p in pending])
    rank = np.concatenate([p[1] for p in pending])
    cuts = np.concatenate([p[2] for p in pending])
    tile_of = np.concatenate([p[3] for p in pending])
    boxes = dets.boxes.copy()
    scores = dets.scores.copy()
    keep: list[int] = []
    for class_id in np.unique(dets.class_ids):
        members = np.flatnonzero(dets.class_ids == class_id)
        order = members[np.lexsort((-dets.scores[members], rank[members]))]
        kept: list[int] = []
        for i in order:
            if kept:
                k = np.asarray(kept)
                other = tile_of[k] != tile_of[i]
                same = other & (_share_of_smaller(boxes[i], boxes[k]) > match)
                if np.any(same & (rank[k] < 2)):
                    continue  # seen whole by another tile
                if rank[i] == 2:
                    meets = other & (rank[k] == 2)
                    meets &= _meets_across_seam(boxes[i], cuts[i], boxes[k], cuts[k], tol, match)
                    if meets.any():
                        j = k[np.flatnonzero(meets)[0]]
                        boxes[j, :2] = np.minimum(boxes[j, :2], boxes[i, :2])
                        boxes[j, 2:] = np.maximum(boxes[j, 2:], boxes[i, 2:])
                        cuts[j] |= cuts[i]
                        scores[j] = max(scores[j], scores[i])
                        continue
                if np.any(same):
                    continue
            kept.append(int(i))
        keep.extend(kept)
    index = np.asarray(sorted(keep), dtype=np.int64)
    merged = Detections(boxes, scores, dets.class_ids, dets.extra)
    return merged.select(index)
