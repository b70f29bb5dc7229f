"""COCO chip datasets: categories from the taxonomy, round trip, validation on read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coalwatch.errors import InputError
from coalwatch.labels.coco import (
    CocoAnnotation,
    CocoImage,
    chip_dataset,
    image_path,
    read_coco,
    write_coco,
)
from coalwatch.labels.taxonomy import load_taxonomy


def _dataset():
    taxonomy = load_taxonomy("default")
    images = [
        CocoImage(1, "images/a.png", 512, 512, {"scene": "a", "window": [0, 0, 512, 512]}),
        CocoImage(2, "images/b.png", 512, 512, {"scene": "b", "window": [384, 0, 512, 512]}),
    ]
    annotations = [
        CocoAnnotation(1, 1, 3, (10.5, 20.0, 100.0, 18.25), 0, {"loaded": True, "visible": 1.0}),
        CocoAnnotation(2, 1, 1, (200.0, 300.0, 6.0, 2.0)),
    ]
    return chip_dataset(taxonomy, images, annotations, {"split": "train"})


def test_categories_are_the_taxonomy_leaves_with_ids_from_one() -> None:
    dataset = _dataset()
    assert dataset.categories == [
        {"id": 1, "name": "ore_car", "supercategory": "railcar"},
        {"id": 2, "name": "other_railcar", "supercategory": "railcar"},
        {"id": 3, "name": "bulk_carrier", "supercategory": "vessel"},
        {"id": 4, "name": "other_vessel", "supercategory": "vessel"},
        {"id": 5, "name": "coal_heap", "supercategory": "coal_heap"},
    ]
    assert dataset.info["taxonomy"] == load_taxonomy("default").to_dict()


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    dataset = _dataset()
    path = write_coco(tmp_path / "train.json", dataset)
    back = read_coco(path)
    assert back.images == dataset.images
    assert back.annotations == dataset.annotations
    assert back.categories == dataset.categories
    assert back.info == dataset.info and back.taxonomy == load_taxonomy("default")
    raw = json.loads(path.read_text())
    assert raw["annotations"][0]["area"] == pytest.approx(1825.0)
    assert back.annotations[0].xyxy == (10.5, 20.0, 110.5, 38.25)


def test_annotations_by_image_lists_empty_images(tmp_path: Path) -> None:
    grouped = _dataset().annotations_by_image()
    assert [len(v) for v in grouped.values()] == [2, 0]


def test_image_path_is_relative_to_the_json(tmp_path: Path) -> None:
    dataset = _dataset()
    assert image_path(tmp_path / "train.json", dataset.images[0]) == tmp_path / "images/a.png"


def _raw() -> dict:
    return {
        "images": [{"id": 1, "file_name": "a.tif", "width": 100, "height": 80}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}],
        "categories": [{"id": 1, "name": "ship"}],
    }


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.pop("annotations"), "no 'annotations' list"),
        (lambda d: d["annotations"][0].update(image_id=2), "annotation id 7: no image with id 2"),
        (lambda d: d["annotations"][0].update(category_id=9), "annotation id 7: no category 9"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, 0, 4]), "degenerate bbox"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), r"four finite numbers"),
        (lambda d: d["annotations"][0].update(bbox=["x", 2, 3, 4]), "malformed bbox"),
        (lambda d: d["annotations"][0].pop("bbox"), "missing key 'bbox'"),
        (lambda d: d["images"].append(dict(d["images"][0])), "repeated image ids"),
        (lambda d: d["images"][0].update(width=0), "image 0: image size 0x80"),
        (lambda d: d["categories"][0].pop("name"), "category 0: needs an 'id' and a 'name'"),
    ],
)
def test_bad_coco_is_rejected_naming_file_and_entry(tmp_path: Path, change, problem) -> None:
    data = _raw()
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=rf"bad\.json: .*{problem}"):
        read_coco(path)


def test_malformed_json_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{")
    with pytest.raises(InputError, match=r"bad\.json: malformed JSON"):
        read_coco(path)
