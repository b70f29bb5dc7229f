"""Finding labelled scenes, leaf classes for group labels, ground pixel size."""

from __future__ import annotations

from pathlib import Path

import pytest
import rasterio

from coalwatch.errors import InputError
from coalwatch.labels.scenes import find_scenes, ground_pixel_size_m, leaf_class
from coalwatch.labels.taxonomy import load_taxonomy

DEFAULT = load_taxonomy("default")


def test_leaf_class_of_leaves_and_one_leaf_groups() -> None:
    assert leaf_class(DEFAULT, "ore_car", "x") == "ore_car"
    assert leaf_class(DEFAULT, "coal_heap", "x") == "coal_heap"  # a group and its only leaf
    assert leaf_class(load_taxonomy("ship"), "vessel", "x") == "ship"
    with pytest.raises(InputError, match=r"x: label 'railcar' is a group .*ore_car, other_railcar"):
        leaf_class(DEFAULT, "railcar", "x")
    with pytest.raises(InputError, match="not in taxonomy"):
        leaf_class(DEFAULT, "tank", "x")


def test_find_scenes_in_folders_and_files(make_scene, tmp_path: Path) -> None:
    a = make_scene("a", objects=[("ore_car", (1.0, 1.0, 5.0, 3.0))])
    make_scene("b")
    scenes = find_scenes([tmp_path / "scenes"], DEFAULT)
    assert [(s.name, len(s.labels.objects)) for s in scenes] == [("a", 1), ("b", 0)]
    assert [s.name for s in find_scenes([a], DEFAULT)] == ["a"]


def test_repeated_scene_names_are_rejected(make_scene, tmp_path: Path) -> None:
    one = make_scene("same", folder=tmp_path / "x")
    two = make_scene("same", folder=tmp_path / "y")
    with pytest.raises(InputError, match=r"scene name 'same' repeats"):
        find_scenes([one, two], DEFAULT)


def test_folder_without_scenes_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: folder holds no GeoTIFF"):
        find_scenes([tmp_path / "empty"], DEFAULT)


def test_scene_without_labels_is_named(make_scene) -> None:
    scene = make_scene("bare", labels=False)
    with pytest.raises(InputError, match=r"bare\.tif: no labels for the scene .*bare\.geojson"):
        find_scenes([scene], DEFAULT)


def test_ground_pixel_size(make_scene, sen2ships: Path) -> None:
    with rasterio.open(make_scene("utm")) as src:
        assert ground_pixel_size_m(src) == pytest.approx(3.0, rel=2e-3)  # UTM scale ~0.9996
    with rasterio.open(sen2ships / "images/busan_rgb8.tif") as src:
        # 10 m Web-Mercator pixels at 35.1 deg N are about 10 x cos(35.1) = 8.18 m on the ground
        assert ground_pixel_size_m(src) == pytest.approx(8.18, abs=0.05)
