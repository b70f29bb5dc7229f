"""Where a detector's proposals reach: anchor and RPN proposal coverage per scenario and class.

For every visible object of a chip folder (as ``bench/train_cpu.py`` makes its test set,
``OUT/test_chips``): the best IoU of any anchor the RPN places on its chip, and of any
proposal it keeps (test-time settings). An object no proposal overlaps at IoU 0.5 cannot be
detected at IoU 0.5 unless the box head moves the proposal a long way: this separates what
the RPN loses from what the box head loses.

    .venv/bin/python bench/proposals.py --checkpoint RUN/best.ckpt --chips OUT/test_chips
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import checkpoint_bench
from train_cpu import chip_scenes, scenario_of


def best_overlaps(model: Any, image: Any, boxes: Any) -> tuple[Any, Any]:
    """(best anchor IoU, best proposal IoU) of each box (xyxy) on one chip."""
    import torch
    from torchvision.ops import box_iou

    with torch.no_grad():
        images, _ = model.transform([image])
        maps = model.rpn.anchored_maps(model.backbone(images.tensors))
        anchors = model.rpn.anchor_generator(images, list(maps.values()))[0]
        proposals, _ = model.rpn(images, maps)
    return box_iou(boxes, anchors).max(1).values, box_iou(boxes, proposals[0]).max(1).values


def coverage(checkpoint: Path, chips: Path, threads: int) -> list[dict[str, Any]]:
    """One row per (scenario, class): objects, anchor and proposal coverage."""
    import torch

    from coalwatch.model.checkpoint import load_detector
    from coalwatch.train.datamodule import SPLITS, check_chip_folder, read_image

    torch.set_num_threads(threads)
    model, _, taxonomy = load_detector(checkpoint)
    model.eval()
    splits = check_chip_folder(chips, taxonomy)
    found: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    scenes = chip_scenes(splits)
    for split in SPLITS:
        for record in splits[split].records:
            visible = ~record.hidden
            if not visible.any():
                continue
            scenario = scenario_of(record.path, scenes)
            image = torch.from_numpy(read_image(record.path)).permute(2, 0, 1).float() / 255.0
            boxes = torch.from_numpy(record.boxes[visible])
            anchor, proposal = best_overlaps(model, image, boxes)
            for label, a, p in zip(record.labels[visible], anchor, proposal, strict=True):
                found[(scenario, taxonomy.classes[label - 1])].append((float(a), float(p)))
    rows = []
    for (scenario, cls), pairs in sorted(found.items()):
        anchor = torch.tensor([a for a, _ in pairs])
        proposal = torch.tensor([p for _, p in pairs])
        rows.append(
            {
                "scenario": scenario,
                "class": cls,
                "objects": len(pairs),
                "anchor IoU>=0.5": round(float((anchor >= 0.5).float().mean()), 2),
                "median best anchor IoU": round(float(anchor.median()), 2),
                "proposal IoU>=0.5": round(float((proposal >= 0.5).float().mean()), 2),
                "proposal IoU>=0.7": round(float((proposal >= 0.7).float().mean()), 2),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    title = "Anchor and proposal coverage"
    return checkpoint_bench(argv, __doc__.splitlines()[0], coverage, "proposals", title)


if __name__ == "__main__":
    sys.exit(main())
