"""What ranking costs a detector: test AP50 under its own scores and under oracle ones.

Runs the box head once per chip with no NMS and no score floor, then post-processes the
same candidate boxes several ways and scores each on the chip folder (per class, per
scenario):

- ``model, NMS T``: the detector's own scores, class-wise NMS at IoU T;
- ``oracle IoU, NMS T``: each candidate's score times its true IoU with the nearest object
  of its class, *before* NMS (a perfect localisation-quality score, as an IoU branch would
  learn at best);
- ``oracle IoU^3, NMS T``: the same, the IoU cubed (loose boxes fall further behind).

The oracle rows bound what any re-scoring or re-ranking of these boxes can reach: what is
left below them is objects the head never boxed tightly in any class.

    .venv/bin/python bench/ranking.py --checkpoint RUN/best.ckpt --chips OUT/test_chips
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import checkpoint_bench
from train_cpu import chip_scenes, scenario_of

SCORE_FLOOR = 0.05  # the detector's own floor (box_score_thresh), applied after re-scoring
NMS_THRESHOLDS = (0.25, 0.5)
ORACLE_POWERS = (1, 3)


def nearest_object_iou(candidates: dict[str, Any], target: dict[str, Any]) -> Any:
    """Each candidate's IoU with the object of its class it overlaps most (0 if none)."""
    import torch
    from torchvision.ops import box_iou

    boxes, gt = candidates["boxes"], target["boxes"]
    if not len(boxes) or not len(gt):
        return torch.zeros(len(boxes))
    same_class = candidates["labels"][:, None] == target["labels"][None, :]
    return (box_iou(boxes, gt) * same_class).max(1).values


def select(candidates: dict[str, Any], scores: Any, nms: float, keep_top: int) -> dict[str, Any]:
    """Class-wise NMS at ``nms`` on ``scores`` above the floor, the best ``keep_top``."""
    from torchvision.ops import batched_nms

    kept = scores >= SCORE_FLOOR
    boxes, labels, scores = candidates["boxes"][kept], candidates["labels"][kept], scores[kept]
    order = batched_nms(boxes, scores, labels, nms)[:keep_top]
    return {"boxes": boxes[order], "labels": labels[order], "scores": scores[order]}


def variants(candidates: dict[str, Any], target: dict[str, Any], keep_top: int) -> dict:
    """Every post-processing of one chip's candidates, by name."""
    iou = nearest_object_iou(candidates, target)
    out = {}
    for nms in NMS_THRESHOLDS:
        out[f"model, NMS {nms}"] = select(candidates, candidates["scores"], nms, keep_top)
        for power in ORACLE_POWERS:
            name = "oracle IoU" + ("" if power == 1 else f"^{power}") + f", NMS {nms}"
            rescored = candidates["scores"] * iou**power
            out[name] = select(candidates, rescored, nms, keep_top)
    return out


def ranking(checkpoint: Path, chips: Path, threads: int) -> list[dict[str, Any]]:
    """One row per (post-processing, scenario): mAP50 and AP50 per class."""
    import torch

    from coalwatch.model.checkpoint import load_detector
    from coalwatch.train.datamodule import ChipDataModule, check_chip_folder
    from coalwatch.train.metrics import DetectionMetrics

    torch.set_num_threads(threads)
    model, config, taxonomy = load_detector(checkpoint)
    heads = model.roi_heads
    keep_top = heads.detections_per_img
    # every candidate box: no NMS, no score floor but a tiny one, no top-n cut
    heads.nms_thresh, heads.score_thresh, heads.detections_per_img = 1.0, 1e-3, 100_000
    splits = check_chip_folder(chips, taxonomy)
    scenes = chip_scenes(splits)
    data = ChipDataModule(splits, config["detector"]["tile_size"], None, batch_size=1)
    threshold = config["inference"]["score_threshold"]
    metrics: dict[tuple[str, str], Any] = {}
    with torch.no_grad():
        for split in ("train", "val"):
            records = splits[split].records
            for record, (images, targets) in zip(records, data.dataset_loader(split), strict=True):
                (candidates,) = model(images)
                scenario = scenario_of(record.path, scenes)
                for name, detections in variants(candidates, targets[0], keep_top).items():
                    for where in ("all test chips", scenario):
                        key = (name, where)
                        if key not in metrics:
                            metrics[key] = DetectionMetrics(taxonomy.classes, threshold)
                        metrics[key].update([detections], targets)
    rows = []
    for (name, where), m in sorted(metrics.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        values = m.compute()
        row = {"chips": where, "post-processing": name, "mAP50": round(values["mAP50"], 3)}
        for cls in taxonomy.classes:
            ap = values[f"AP50/{cls}"]
            row[cls] = round(ap, 3) if ap >= 0 else "-"
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    title = "Test AP50 under model and oracle scores"
    return checkpoint_bench(argv, __doc__.splitlines()[0], ranking, "ranking", title)


if __name__ == "__main__":
    sys.exit(main())
