"""Importing COCO + GeoTIFF sets: the shared sen2ships set as it is, class maps, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coalwatch.errors import InputError
from coalwatch.labels.importers import import_coco, parse_class_map, write_scene_label_files
from coalwatch.labels.scenes import find_scenes
from coalwatch.labels.taxonomy import load_taxonomy

SHIP = load_taxonomy("ship")
SIZES = {
    "algiers_rgb8": (1351, 1126, 27),
    "athens_rgb8": (1380, 1145, 48),
    "busan_rgb8": (1042, 699, 54),
    "casablanca_rgb8": (511, 339, 15),
    "genoa_rgb8": (2201, 871, 29),
    "honolulu_rgb8": (424, 316, 12),
    "san_francisco_rgb8": (448, 938, 6),
}


def test_sen2ships_imports_as_it_is(sen2ships: Path, tmp_path: Path) -> None:
    scenes = import_coco(sen2ships / "annotations.coco.json", SHIP, {"ship": "ship"})
    assert {s.name: len(s.labels.objects) for s in scenes} == {k: v[2] for k, v in SIZES.items()}
    assert sum(len(s.labels.objects) for s in scenes) == 191
    busan = next(s for s in scenes if s.name == "busan_rgb8")
    assert busan.image == sen2ships / "images/busan_rgb8.tif"
    first = busan.labels.objects[0]
    assert first.cls == "ship" and first.box == (479.0, 425.0, 486.0, 431.0)
    assert dict(first.attributes) == {"occluded": False}
    # Written as GeoJSON in the scenes' CRS and read back as scenes: the same boxes.
    write_scene_label_files(scenes, tmp_path / "labels")
    again = find_scenes([sen2ships / "images"], SHIP, labels_dir=tmp_path / "labels")
    assert [s.name for s in again] == sorted(SIZES)
    for scene in again:
        original = next(s for s in scenes if s.name == scene.name)
        for a, b in zip(original.labels.objects, scene.labels.objects, strict=True):
            assert a.cls == b.cls and b.box == pytest.approx(a.box, abs=1e-4)


def test_sen2ships_without_a_class_map_asks_for_one(sen2ships: Path) -> None:
    default = load_taxonomy("default")
    with pytest.raises(InputError, match=r"annotations\.coco\.json: category 'ship' .*--class-map"):
        import_coco(sen2ships / "annotations.coco.json", default)


def test_category_named_as_in_the_taxonomy_needs_no_map(sen2ships: Path) -> None:
    scenes = import_coco(sen2ships / "annotations.coco.json", SHIP)
    assert sum(len(s.labels.objects) for s in scenes) == 191


def _coco_set(make_scene, tmp_path: Path, width: int = 120) -> Path:
    make_scene("port", folder=tmp_path / "images", width=120, height=90, labels=False)
    coco = {
        "images": [{"id": 5, "file_name": "port.tif", "width": width, "height": 90}],
        "annotations": [
            {"id": 1, "image_id": 5, "category_id": 3, "bbox": [10, 10, 30, 8]},
            {"id": 2, "image_id": 5, "category_id": 4, "bbox": [50, 10, 5, 4]},
            {"id": 3, "image_id": 5, "category_id": 3, "bbox": [110, 20, 15, 8]},
        ],
        "categories": [{"id": 3, "name": "carrier"}, {"id": 4, "name": "tug"}],
    }
    path = tmp_path / "set.json"
    path.write_text(json.dumps(coco))
    return path


def test_class_map_maps_and_drops_categories(make_scene, tmp_path: Path) -> None:
    path = _coco_set(make_scene, tmp_path)
    default = load_taxonomy("default")
    (scene,) = import_coco(path, default, parse_class_map(["carrier=bulk_carrier,tug="]))
    assert [o.cls for o in scene.labels.objects] == ["bulk_carrier", "bulk_carrier"]
    # the box sticking out of the 120 px wide scene by 5 of its 15 px is clipped
    assert scene.labels.objects[1].box == (110, 20, 120, 28)


def test_class_map_naming_no_category_is_rejected(make_scene, tmp_path: Path) -> None:
    path = _coco_set(make_scene, tmp_path)
    with pytest.raises(InputError, match=r"set\.json: the class map names \['ship'\]"):
        import_coco(path, load_taxonomy("default"), {"ship": "other_vessel"})


def test_missing_image_is_named(make_scene, tmp_path: Path) -> None:
    path = _coco_set(make_scene, tmp_path)
    (tmp_path / "images/port.tif").unlink()
    with pytest.raises(InputError, match=r"set\.json: image id 5: port\.tif not found"):
        import_coco(path, load_taxonomy("default"), {"carrier": "bulk_carrier", "tug": ""})


def test_image_size_mismatch_is_rejected(make_scene, tmp_path: Path) -> None:
    path = _coco_set(make_scene, tmp_path, width=200)
    with pytest.raises(InputError, match=r"port\.tif: is 120x90 px but set\.json image id 5"):
        import_coco(path, load_taxonomy("default"), {"carrier": "bulk_carrier", "tug": ""})


def test_parse_class_map() -> None:
    assert parse_class_map(["a=b", "c=d, e="]) == {"a": "b", "c": "d", "e": ""}
    with pytest.raises(ValueError, match="SOURCE=CLASS"):
        parse_class_map(["ship"])
