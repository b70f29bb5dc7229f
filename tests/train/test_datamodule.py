"""Chip folders: reading, checks, and batches with empty chips."""

from __future__ import annotations

import json

import pytest
import torch

from coalwatch.errors import InputError
from coalwatch.labels.taxonomy import load_taxonomy
from coalwatch.model.detector import build_detector
from coalwatch.model.ignore_regions import IGNORE_KEY
from coalwatch.train.augment import AugmentConfig
from coalwatch.train.datamodule import ChipDataModule, check_chip_folder

TAXONOMY = load_taxonomy("default")
NOISY = ["hflip", "vflip", "rotate90", "scale", "brightness_contrast", "haze", "noise", "blur"]
SMALL = {
    "backbone": "tiny",
    "tile_size": 96,
    "rpn_post_nms_top_n_train": 100,
    "box_batch_size_per_image": 32,
}


def _module(folder) -> ChipDataModule:
    splits = check_chip_folder(folder, TAXONOMY)
    return ChipDataModule(splits, tile_size=96, augment=None, batch_size=4)


def test_batch_whose_first_chip_is_empty_keeps_the_other_boxes(tmp_path, chipgen) -> None:
    folder = chipgen.write_folder(tmp_path / "chips", n_train=4, n_val=1, empty_train=1)
    data = _module(folder)
    images, targets = next(iter(data.dataset_loader("train")))
    records = data.splits["train"].records
    assert len(images) == 4 and targets[0]["boxes"].shape == (0, 4)
    for target, record in zip(targets[1:], records[1:], strict=True):
        assert len(target["boxes"]) == len(record.boxes) > 0
        torch.testing.assert_close(target["boxes"], torch.from_numpy(record.boxes))
        assert target["labels"].dtype == torch.int64
    torch.manual_seed(0)
    losses = build_detector(SMALL)(images, targets)
    assert losses["loss_box_reg"] > 0 and all(torch.isfinite(v) for v in losses.values())


def test_a_batch_of_only_empty_chips_trains(tmp_path, chipgen) -> None:
    folder = chipgen.write_folder(tmp_path / "chips", n_train=6, n_val=1, empty_train=4)
    images, targets = next(iter(_module(folder).dataset_loader("train")))
    assert all(len(t["boxes"]) == 0 for t in targets)
    torch.manual_seed(0)
    model = build_detector(SMALL)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    losses = model(images, targets)
    assert losses["loss_box_reg"].item() == 0.0 and losses["loss_classifier"].item() > 0
    sum(losses.values()).backward()
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_missing_folder_and_empty_sets(tmp_path, chipgen) -> None:
    with pytest.raises(InputError, match="chips folder not found"):
        check_chip_folder(tmp_path / "nowhere", TAXONOMY)
    folder = chipgen.write_folder(tmp_path / "empty", n_train=3, n_val=1, empty_train=3)
    with pytest.raises(InputError, match="empty training set"):
        check_chip_folder(folder, TAXONOMY)
    folder = chipgen.write_folder(tmp_path / "none", n_train=0, n_val=1)
    with pytest.raises(InputError, match="empty training set"):
        check_chip_folder(folder, TAXONOMY)


def test_taxonomy_must_match_the_categories(tmp_path, chipgen) -> None:
    folder = chipgen.write_folder(tmp_path / "chips", n_train=2, n_val=1)
    with pytest.raises(InputError, match="do not match taxonomy 'ship'"):
        check_chip_folder(folder, load_taxonomy("ship"))
    data = json.loads((folder / "train.json").read_text())
    data["categories"][0]["name"] = "wagon"
    (folder / "train.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"train\.json: categories do not match"):
        check_chip_folder(folder, TAXONOMY)


def test_hidden_objects_are_left_out_of_training_and_flagged_for_scoring(tmp_path, chipgen):
    folder = chipgen.write_folder(tmp_path / "chips", n_train=4, n_val=1)
    coco = json.loads((folder / "train.json").read_text())
    first = [a for a in coco["annotations"] if a["image_id"] == 1]
    first[0]["attributes"] = {"occluded": True}  # under cloud
    first[1]["iscrowd"] = 1
    (folder / "train.json").write_text(json.dumps(coco))
    data = _module(folder)
    assert data.splits["train"].num_objects == len(coco["annotations"]) - 2

    trained = data.dataset("train", training=True)[0][1]
    assert len(trained["boxes"]) == len(first) - 2 and not trained["iscrowd"].any()
    scored = data.dataset("train", training=False)[0][1]
    assert len(scored["boxes"]) == len(first)
    assert scored["iscrowd"].tolist() == [True, True] + [False] * (len(first) - 2)
    assert IGNORE_KEY not in trained and IGNORE_KEY not in scored

    # as ignore regions: the same objects, and the hidden boxes beside them
    regions = AugmentConfig(**dict.fromkeys(NOISY, 0.0), crop=False, ignore_regions=True)
    splits = check_chip_folder(folder, TAXONOMY)
    data = ChipDataModule(splits, tile_size=96, augment=regions, batch_size=4)
    ignored = data.dataset("train", training=True)[0][1]
    torch.testing.assert_close(ignored["boxes"], trained["boxes"])
    torch.testing.assert_close(ignored[IGNORE_KEY], scored["boxes"][:2])
    assert IGNORE_KEY not in data.dataset("val", training=False)[0][1]
