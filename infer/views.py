"""Test-time views: a tile seen rotated and mirrored, the detections fused into one set.

Overhead imagery has no "up": the detector trains on 90-degree rotations and flips, and its
boxes on a rotated copy of a tile are a second opinion on the same objects. ``views=4``
runs the four rotations, ``views=8`` adds their mirror images (the dihedral group), and
weighted box fusion merges the answers: per class, in score order, a box joins the fused
box it overlaps most at IoU above ``FUSE_IOU``; a fused box is the score-weighted mean of
its members and scores their mean score times the share of views that found it (at most
all of them). Boxes of objects a few pixels wide come out tighter, and a box that only one
view believes in scores low. On the CPU default's test chips (docs/benchmarks.md, session
12): mAP50 0.666 -> 0.694 (4 views) / 0.708 (8), mAP 0.334 -> 0.400 / 0.402; each view
costs one more pass of the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from coalwatch.infer.detections import Detections
from coalwatch.infer.merge import iou_with

VIEW_COUNTS = (1, 4, 8)
FUSE_IOU = 0.55  # a box joins a fused box at more than this IoU


def view_image(image: np.ndarray, view: int) -> np.ndarray:
    """``image`` (C, H, W) mirrored left-right when ``view >= 4``, then turned ``view % 4``
    quarter turns counter-clockwise."""
    if view >= 4:
        image = image[:, :, ::-1]
    return np.ascontiguousarray(np.rot90(image, view % 4, axes=(1, 2)))


def boxes_from_view(boxes: np.ndarray, view: int, height: int, width: int) -> np.ndarray:
    """Boxes found on :func:`view_image` of an ``height`` x ``width`` image, in its pixels."""
    out = np.asarray(boxes, np.float64).reshape(-1, 4)
    # after t quarter turns the image is (W, H) for odd t: undo the turns one by one
    for turn in range(view % 4, 0, -1):
        before_width = width if turn % 2 == 1 else height
        x0, y0, x1, y1 = out.T
        out = np.stack([before_width - y1, x0, before_width - y0, x1], axis=1)
    if view >= 4:
        x0, y0, x1, y1 = out.T
        out = np.stack([width - x1, y0, width - x0, y1], axis=1)
    return out


def detect_views(
    detect: Callable[[np.ndarray], Detections], image: np.ndarray, views: int
) -> Detections:
    """``detect`` on ``views`` views of ``image`` (C, H, W), fused in its pixels."""
    if views not in VIEW_COUNTS:
        raise ValueError(f"views must be one of {VIEW_COUNTS}, got {views}")
    if views == 1:
        return detect(image)
    _, height, width = image.shape
    found = []
    for view in range(views):
        dets = detect(view_image(image, view))
        found.append(dets.with_boxes(boxes_from_view(dets.boxes, view, height, width)))
    return fuse_views(found)


def fuse_views(found: Sequence[Detections], iou: float = FUSE_IOU) -> Detections:
    """Weighted box fusion of one image's detections under ``len(found)`` views (boxes,
    scores and classes; extra columns do not carry over)."""
    views = len(found)
    every = Detections.concat([Detections(d.boxes, d.scores, d.class_ids) for d in found])
    parts = [_fuse_class(every.of_class(int(c)), views, iou) for c in np.unique(every.class_ids)]
    return Detections.concat(parts).sorted_by_score() if parts else Detections.empty()


def _fuse_class(dets: Detections, views: int, iou: float) -> Detections:
    """Weighted box fusion of the (non-empty) detections of one class."""
    order = np.argsort(-dets.scores, kind="stable")
    boxes, scores = dets.boxes[order], dets.scores[order].astype(np.float64)
    weighted = np.zeros_like(boxes)  # per fused box: sum of score * box
    weight = np.zeros(len(boxes))  # sum of scores
    members = np.zeros(len(boxes), np.int64)
    fused = np.zeros_like(boxes)
    n = 0
    for box, score in zip(boxes, scores, strict=True):
        j = _best_match(box, fused[:n], iou)
        if j < 0:
            j, n = n, n + 1
        weighted[j] += score * box
        weight[j] += score
        members[j] += 1
        fused[j] = weighted[j] / weight[j]
    mean_score = weight[:n] / members[:n]
    agreement = np.minimum(members[:n], views) / views
    return Detections(fused[:n], mean_score * agreement, np.full(n, dets.class_ids[0]))


def _best_match(box: np.ndarray, fused: np.ndarray, iou: float) -> int:
    """Index of the fused box ``box`` overlaps most at IoU above ``iou``, else -1."""
    if not len(fused):
        return -1
    overlap = iou_with(box, fused)
    j = int(overlap.argmax())
    return j if overlap[j] > iou else -1
