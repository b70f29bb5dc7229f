"""Tiling covers the scene; merging counts an object cut by a seam once, keeps trains apart."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from coalwatch.infer.detections import Detections
from coalwatch.infer.merge import drop_nested, merge_tiles
from coalwatch.infer.tiling import TileGrid, tile_starts


def test_tile_starts_cover_and_end_at_edge() -> None:
    assert tile_starts(100, 512, 64) == [0]
    assert tile_starts(1000, 512, 64) == [0, 448, 488]
    starts = tile_starts(2000, 256, 32)
    assert starts[-1] + 256 == 2000
    assert all(b - a <= 256 - 32 for a, b in itertools.pairwise(starts))


def test_cores_partition_the_scene() -> None:
    grid = TileGrid(1000, 700, 256, 48)
    area = sum((t.core[2] - t.core[0]) * (t.core[3] - t.core[1]) for t in grid)
    assert area == pytest.approx(1000 * 700)
    for tile in grid:
        x0, y0, x1, y1 = tile.core
        assert tile.x <= x0 < x1 <= tile.x + tile.width
        assert tile.y <= y0 < y1 <= tile.y + tile.height


def oracle(grid: TileGrid, objects: np.ndarray, class_id: int = 1, jitter: float = 0.0, seed=0):
    """What a perfect detector sees per tile: every object it overlaps, clipped to the tile."""
    rng = np.random.default_rng(seed)
    out = []
    for tile in grid:
        x0, y0, x1, y1 = tile.bounds
        clipped = objects.copy()
        clipped[:, 0::2] = clipped[:, 0::2].clip(x0, x1)
        clipped[:, 1::2] = clipped[:, 1::2].clip(y0, y1)
        visible = (clipped[:, 2] - clipped[:, 0] > 1) & (clipped[:, 3] - clipped[:, 1] > 1)
        boxes = clipped[visible] + rng.normal(0, jitter, (int(visible.sum()), 4))
        n = len(boxes)
        out.append((tile, Detections(boxes, np.full(n, 0.9), np.full(n, class_id))))
    return out


def test_object_straddling_a_seam_counted_once() -> None:
    grid = TileGrid(1000, 600, 256, 64)
    seams = [t.x + t.width for t in grid if t.row == 0][:-1]
    ship = np.array([[seams[0] - 20, 100, seams[0] + 15, 120]], dtype=float)
    merged = merge_tiles(oracle(grid, ship))
    assert len(merged) == 1
    np.testing.assert_allclose(merged.boxes[0], ship[0])


def test_object_larger_than_the_overlap_is_fused_whole() -> None:
    grid = TileGrid(1200, 900, 256, 32)
    ship = np.array([[100, 200, 700, 260], [300, 180, 420, 560]], dtype=float)
    merged = merge_tiles(oracle(grid, ship[:1]))
    assert len(merged) == 1
    np.testing.assert_allclose(merged.boxes[0], ship[0])
    # a large object over a tile corner (four tiles) comes out whole too
    merged = merge_tiles(oracle(grid, ship[1:]))
    assert len(merged) == 1
    np.testing.assert_allclose(merged.boxes[0], ship[1])


@pytest.mark.parametrize("gap", [1.0, 0.0, -1.0])
def test_coupled_ore_car_train_keeps_its_count(gap: float) -> None:
    grid = TileGrid(1500, 300, 256, 64)
    length = 26.0
    starts = 40 + np.arange(45) * (length + gap)
    cars = np.stack([starts, np.full(45, 140.0), starts + length, np.full(45, 146.0)], axis=1)
    merged = merge_tiles(oracle(grid, cars))
    assert len(merged) == 45
    np.testing.assert_allclose(np.sort(merged.boxes[:, 0]), np.sort(cars[:, 0]))


def test_jittered_duplicates_across_a_seam_are_merged() -> None:
    grid = TileGrid(900, 900, 256, 64)
    rng = np.random.default_rng(3)
    xy = rng.uniform(20, 860, (60, 2))
    cars = np.concatenate([xy, xy + np.array([26, 6])], axis=1)
    merged = merge_tiles(oracle(grid, cars, jitter=0.7))
    assert len(merged) == 60


def test_classes_merge_separately_and_extras_follow() -> None:
    grid = TileGrid(600, 300, 256, 64)
    seam = next(iter(grid)).width
    box = np.array([[seam - 30, 50, seam - 10, 60]], dtype=float)
    tiles = []
    for (tile, dets_a), (_, dets_b) in zip(oracle(grid, box, 1), oracle(grid, box, 2), strict=True):
        both = Detections.concat([dets_a, dets_b])
        tiles.append((tile, both.with_extra(tile=np.full(len(both), tile.index))))
    merged = merge_tiles(tiles)
    assert sorted(merged.class_ids.tolist()) == [1, 2]
    assert "tile" in merged.extra and len(merged.extra["tile"]) == 2


def test_nothing_in_nothing_out() -> None:
    grid = TileGrid(600, 300, 256, 64)
    assert len(merge_tiles([(t, Detections.empty()) for t in grid])) == 0


def _dets(boxes, scores, classes) -> Detections:
    return Detections(
        np.asarray(boxes, dtype=float),
        np.asarray(scores, dtype=np.float32),
        np.asarray(classes, dtype=np.int64),
    )


def test_drop_nested_keeps_the_whole_ship_and_drops_its_parts() -> None:
    ship = [100, 100, 300, 140]
    bow, stern = [100, 102, 160, 138], [240, 100, 300, 140]
    dets = _dets([bow, ship, stern], [0.9, 0.8, 0.6], [3, 3, 3])
    kept = drop_nested(dets)
    # the bow scored higher than the whole ship: the pair is one object, the bow stays
    assert len(kept) == 2 and kept.scores.tolist() == pytest.approx([0.9, 0.6])
    dets = _dets([ship, bow, stern], [0.9, 0.8, 0.6], [3, 3, 3])
    np.testing.assert_allclose(drop_nested(dets).boxes, [ship])
    # another class inside the ship's box is not its part; 1.0 switches the rule off
    assert len(drop_nested(_dets([ship, bow], [0.9, 0.8], [3, 4]))) == 2
    assert len(drop_nested(dets, overlap=1.0)) == 3


def test_drop_nested_keeps_cars_on_parallel_diagonal_tracks() -> None:
    # 45-degree cars (22 px boxes) on one track touch at the corners; a parallel track 10 px
    # away (7 px in x and y) shares under half of each box
    one = np.array([[i * 19.0, i * 19.0, i * 19.0 + 22, i * 19.0 + 22] for i in range(10)])
    other = one + np.array([7.0, -7.0, 7.0, -7.0])
    boxes = np.concatenate([one, other])
    dets = _dets(boxes, np.linspace(0.9, 0.5, 20), [1] * 20)
    assert len(drop_nested(dets)) == 20
