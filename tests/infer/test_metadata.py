"""Model metadata: JSON round trip, validation, which GSD a scene is read at."""

from __future__ import annotations

import json

import numpy as np
import pytest
from affine import Affine

from coalwatch.infer.detections import Detections
from coalwatch.infer.metadata import ModelMetadata
from coalwatch.labels.taxonomy import load_taxonomy


def meta(**kwargs) -> ModelMetadata:
    return ModelMetadata(taxonomy=load_taxonomy().to_dict(), **kwargs)


def test_json_round_trip_and_validation() -> None:
    m = meta(bands=(3, 2, 1), gsd_m=0.75, gsd_range_m=(0.5, 1.0), score_threshold=0.4)
    assert ModelMetadata.from_json(m.to_json()) == m
    with pytest.raises(ValueError, match="tile_overlap"):
        meta(tile_size=256, tile_overlap=256)
    with pytest.raises(ValueError, match="bands"):
        meta(bands=(1, 2))
    with pytest.raises(ValueError, match="not JSON"):
        ModelMetadata.from_json("{")
    with pytest.raises(ValueError, match="taxonomy"):
        ModelMetadata.from_json('{"bands": [1, 2, 3]}')


def test_per_class_thresholds_round_trip_and_index_by_class_id() -> None:
    m = meta(score_threshold=0.5, class_score_thresholds={"ore_car": 0.3, "coal_heap": 0.7})
    assert ModelMetadata.from_json(m.to_json()) == m
    by_id = m.thresholds_by_class_id()  # ore_car, other_railcar, bulk_carrier, ..., coal_heap
    np.testing.assert_allclose(by_id, [0.5, 0.3, 0.5, 0.5, 0.5, 0.7])
    dets = Detections([[0, 0, 4, 4]] * 4, [0.4, 0.4, 0.6, 0.6], [1, 2, 1, 5])
    assert dets.above(by_id).class_ids.tolist() == [1, 1]
    with pytest.raises(ValueError, match="unknown class"):
        meta(class_score_thresholds={"wagon": 0.3})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        meta(class_score_thresholds={"ore_car": 1.5})
    # metadata written before per-class thresholds existed reads as none
    written = json.loads(meta().to_json())
    del written["class_score_thresholds"]
    assert ModelMetadata.from_json(json.dumps(written)).class_score_thresholds == {}
    with pytest.raises(ValueError, match="no threshold"):
        Detections([[0, 0, 4, 4]], [0.9], [7]).above(by_id)


def test_target_gsd_single_and_range() -> None:
    assert meta(gsd_m=0.5).target_gsd(3.0) == 0.5
    assert meta(gsd_m=None).target_gsd(3.0) is None
    spanned = meta(gsd_m=0.75, gsd_range_m=(0.5, 1.0))
    assert [spanned.target_gsd(g) for g in (0.3, 0.5, 0.8, 1.05, 3.0, None)] == [
        0.5,
        None,
        None,
        None,
        1.0,
        None,
    ]


def test_detections_map_coordinates_and_concat() -> None:
    a = Detections([[0, 0, 10, 4]], [0.9], [1], {"tag": np.array(["a"])})
    b = Detections([[10, 10, 12, 12]], [0.6], [5], {"tag": np.array(["b"])})
    both = Detections.concat([a, b])
    assert len(both) == 2 and list(both.extra["tag"]) == ["a", "b"]
    transform = Affine(0.5, 0, 1000.0, 0, -0.5, 2000.0)
    np.testing.assert_allclose(both.to_map(transform)[0], [1000, 1998, 1005, 2000])
    np.testing.assert_allclose(both.map_centres(transform)[1], [1005.5, 1994.5])
    assert both.count_by_class(load_taxonomy().classes)["coal_heap"] == 1
    assert len(both.above(0.7)) == 1 and len(Detections.empty()) == 0
    with pytest.raises(ValueError, match="extra"):
        Detections.concat([a, Detections.empty()])
