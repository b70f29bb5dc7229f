"""Augmentation keeps every box on its object; labels stay int64; 1.x argument names fail."""

from __future__ import annotations

import albumentations as A
import numpy as np
import pytest

from coalwatch.train.augment import (
    AugmentConfig,
    apply,
    apply_with_regions,
    build_transforms,
    strict,
)

GEOMETRIC = AugmentConfig(
    hflip=0.5,
    vflip=0.5,
    rotate90=0.5,
    scale=1.0,
    scale_range=(0.7, 1.3),
    brightness_contrast=0.0,
    haze=0.0,
    noise=0.0,
    blur=0.0,
    min_visibility=0.5,
)


def _object_share(image: np.ndarray, box: np.ndarray, colour: tuple[int, int, int]) -> float:
    # whole pixels inside the box (its edge pixels are blended by interpolation)
    x0, y0 = np.ceil(box[:2]).astype(int)
    x1, y1 = np.floor(box[2:]).astype(int)
    patch = image[y0:y1, x0:x1].astype(int)
    close = np.abs(patch - np.array(colour)).max(axis=-1) < 40
    return float(close.mean()) if close.size else 0.0


def test_geometric_augmentation_keeps_boxes_on_objects(chipgen) -> None:
    draw_chip, SHAPES = chipgen.draw, chipgen.shapes
    rng = np.random.default_rng(0)
    transform = build_transforms(GEOMETRIC, tile_size=80, train=True)
    checked = 0
    for _ in range(30):
        image, objects = draw_chip(rng, 96, 4)
        boxes = np.array([[x, y, x + w, y + h] for _, (x, y, w, h) in objects], np.float32)
        labels = np.array([c for c, _ in objects], np.int64)
        out, new_boxes, new_labels, _ = apply(transform, image, boxes, labels)
        assert out.shape == (80, 80, 3)
        assert new_labels.dtype == np.int64 and new_boxes.dtype == np.float32
        assert len(new_boxes) <= len(boxes)
        for box, cls in zip(new_boxes, new_labels, strict=True):
            assert cls in SHAPES
            # the box is filled by its object (a scaled, flipped or rotated rectangle)
            share = _object_share(out, box, SHAPES[int(cls)][2])
            assert share > 0.8, (share, box)
            checked += 1
    assert checked > 60


def test_full_pipeline_runs_and_keeps_empty_chips_empty() -> None:
    transform = build_transforms(AugmentConfig(haze=1.0, noise=1.0, blur=1.0), 64, train=True)
    image = np.full((64, 64, 3), 90, np.uint8)
    out, boxes, labels, _ = apply(transform, image, np.zeros((0, 4)), np.zeros(0))
    assert out.shape == (64, 64, 3) and boxes.shape == (0, 4) and labels.dtype == np.int64


def test_validation_pipeline_changes_nothing(chipgen) -> None:
    rng = np.random.default_rng(1)
    image, objects = chipgen.draw(rng, 96, 3)
    boxes = np.array([[x, y, x + w, y + h] for _, (x, y, w, h) in objects], np.float32)
    labels = np.array([c for c, _ in objects])
    transform = build_transforms(None, 96, train=False)
    out, new_boxes, new_labels, _ = apply(transform, image, boxes, labels)
    np.testing.assert_array_equal(out, image)
    np.testing.assert_allclose(new_boxes, boxes)
    assert new_labels.tolist() == labels.tolist()


def test_albumentations_1x_argument_is_an_error() -> None:
    with pytest.raises(UserWarning, match="var_limit"):
        strict(A.GaussNoise, var_limit=(10.0, 50.0))


def test_bad_augment_config() -> None:
    with pytest.raises(ValueError, match="hflip"):
        AugmentConfig(hflip=1.5)


def _crop_only(**changes) -> AugmentConfig:
    quiet = dict.fromkeys(["hflip", "vflip", "rotate90", "scale"], 0.0)
    quiet |= dict.fromkeys(["brightness_contrast", "haze", "noise", "blur"], 0.0)
    return AugmentConfig(**(quiet | {"ignore_regions": True} | changes))


@pytest.mark.parametrize("min_visibility", [0.4, 0.6])
def test_cut_and_hidden_objects_become_ignore_regions(min_visibility: float) -> None:
    # a 30 px crop of a 60 x 30 chip always leaves exactly half of the chip-wide box
    wide, hidden = [0.0, 0.0, 60.0, 30.0], [25.0, 10.0, 35.0, 20.0]
    config = _crop_only(crop_size=30, min_visibility=min_visibility)
    transform = build_transforms(config, 30, train=True, seed=0)
    for _ in range(5):
        _, boxes, labels, regions = apply_with_regions(
            transform,
            np.zeros((30, 60, 3), np.uint8),
            np.array([wide, hidden]),
            np.array([2, 5]),
            np.array([False, True]),
            min_visibility,
        )
        widths = np.concatenate([boxes, regions])[:, 2] - np.concatenate([boxes, regions])[:, 0]
        assert len(boxes) + len(regions) == 2 and 30.0 in widths
        assert labels.tolist() == ([2] if min_visibility < 0.5 else [])
        assert len(regions) == (1 if min_visibility < 0.5 else 2)


def test_ignore_regions_account_for_the_scale_jitter() -> None:
    # halved, the 40 px chip fits the 20 px crop whole: every box stays an object
    config = _crop_only(crop_size=20, scale=1.0, scale_range=(0.5, 0.5), min_visibility=0.9)
    transform = build_transforms(config, 20, train=True, seed=0)
    _, boxes, labels, regions = apply_with_regions(
        transform,
        np.zeros((40, 40, 3), np.uint8),
        np.array([[0.0, 0.0, 40.0, 40.0], [4.0, 4.0, 12.0, 30.0]]),
        np.array([1, 3]),
        np.array([False, False]),
        0.9,
    )
    np.testing.assert_allclose(boxes, [[0, 0, 20, 20], [2, 2, 6, 15]], atol=0.5)
    assert labels.tolist() == [1, 3] and regions.shape == (0, 4)
