"""Scene label GeoJSON: round trip, reprojection and one test per validation failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyproj import Transformer

from coalwatch.errors import InputError
from coalwatch.labels.schema import (
    ObjectLabel,
    SceneGrid,
    SceneLabels,
    read_scene_labels,
    write_scene_labels,
)
from coalwatch.labels.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy("default")
UTM = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32652"}}
BOXES = [("bulk_carrier", (10.0, 20.0, 90.0, 40.0)), ("ore_car", (100.5, 50.25, 108.0, 53.0))]


@pytest.fixture
def scene(make_scene) -> Path:
    return make_scene("scene", width=200, height=120, objects=BOXES)


def _feature(ring, cls="bulk_carrier", **extra) -> dict:
    geometry = {"type": "Polygon", "coordinates": [ring]}
    return {"type": "Feature", "geometry": geometry, "properties": {"class": cls}, **extra}


def _write(path: Path, features: list, **members) -> Path:
    collection = {"type": "FeatureCollection", **members, "features": features}
    path.write_text(json.dumps(collection))
    return path


def _map_ring(grid: SceneGrid, box, order=(0, 1, 2, 3)) -> list:
    x0, y0, x1, y1 = grid.box_to_map(box)
    corners = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    ring = [corners[i] for i in order]
    return [*ring, ring[0]]


def _read_utm(path: Path, scene: Path, features: list) -> None:
    grid = SceneGrid.from_raster(scene)
    _write(path, features, crs=UTM)
    read_scene_labels(path, grid, TAXONOMY)


def test_round_trip_keeps_boxes_classes_attributes_and_properties(scene: Path, tmp_path) -> None:
    grid = SceneGrid.from_raster(scene)
    labels = SceneLabels(
        [ObjectLabel("bulk_carrier", (10, 20, 90, 40), {"loaded": True, "occluded": False})],
        taxonomy="default",
        properties={"acquired": "2017-06-20"},
    )
    path = write_scene_labels(tmp_path / "out.geojson", labels, grid)
    data = json.loads(path.read_text())
    assert data["crs"]["properties"]["name"].endswith("EPSG::32652")
    back = read_scene_labels(path, grid, TAXONOMY)
    assert back.taxonomy == "default" and back.properties == {"acquired": "2017-06-20"}
    (obj,) = back.objects
    assert obj.cls == "bulk_carrier" and dict(obj.attributes) == {"loaded": True, "occluded": False}
    assert obj.box == pytest.approx((10, 20, 90, 40), abs=1e-6)


def test_fixture_labels_read_back_exactly(scene: Path) -> None:
    labels = read_scene_labels(scene.with_suffix(".geojson"), SceneGrid.from_raster(scene))
    assert [(o.cls, o.box) for o in labels.objects] == [
        (c, pytest.approx(b, abs=1e-6)) for c, b in BOXES
    ]


def test_wgs84_labels_are_reprojected_to_a_utm_scene(scene: Path, tmp_path) -> None:
    grid = SceneGrid.from_raster(scene)
    to_wgs84 = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    box = (40.0, 30.0, 80.0, 50.0)
    lon0, lat0, lon1, lat1 = to_wgs84.transform_bounds(*grid.box_to_map(box))
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    path = _write(tmp_path / "wgs84.geojson", [_feature(ring)])  # no crs member: RFC 7946 WGS84
    (obj,) = read_scene_labels(path, grid, TAXONOMY).objects
    # A lon/lat box is a slightly rotated box in UTM: its envelope holds the original, within 1 px.
    assert obj.box == pytest.approx(box, abs=1.0)
    assert obj.box[0] <= box[0] + 1e-6 and obj.box[2] >= box[2] - 1e-6


def test_pixel_coordinate_labels_need_no_crs(scene: Path, tmp_path) -> None:
    ring = [[5, 5], [15, 5], [15, 9], [5, 9], [5, 5]]
    path = _write(tmp_path / "px.geojson", [_feature(ring)], coalwatch={"coordinates": "pixel"})
    (obj,) = read_scene_labels(path, SceneGrid.from_raster(scene), TAXONOMY).objects
    assert obj.box == (5, 5, 15, 9)


def test_clockwise_ring_is_accepted(scene: Path, tmp_path) -> None:
    grid = SceneGrid.from_raster(scene)
    path = tmp_path / "cw.geojson"
    _write(path, [_feature(_map_ring(grid, (10, 20, 90, 40), order=(0, 3, 2, 1)))], crs=UTM)
    (obj,) = read_scene_labels(path, grid, TAXONOMY).objects
    assert obj.box == pytest.approx((10, 20, 90, 40), abs=1e-6)


def test_box_mostly_inside_is_clipped_to_the_scene(scene: Path, tmp_path) -> None:
    grid = SceneGrid.from_raster(scene)
    path = tmp_path / "edge.geojson"
    _write(path, [_feature(_map_ring(grid, (190, 10, 204, 20)))], crs=UTM)
    (obj,) = read_scene_labels(path, grid, TAXONOMY).objects
    assert obj.box == pytest.approx((190, 10, 200, 20), abs=1e-6)


# --- one test per validation failure ---------------------------------------------------------


def test_unknown_class_is_rejected(scene: Path, tmp_path) -> None:
    grid = SceneGrid.from_raster(scene)
    ring = _map_ring(grid, (1, 1, 5, 5))
    features = [_feature(ring), _feature(ring, "tank")]
    with pytest.raises(InputError, match=r"bad\.geojson: feature 1: unknown class 'tank'"):
        _read_utm(tmp_path / "bad.geojson", scene, features)


def test_degenerate_box_is_rejected(scene: Path, tmp_path) -> None:
    grid = SceneGrid.from_raster(scene)
    x0, y0, _, y1 = grid.box_to_map((10, 10, 20, 20))
    ring = [[x0, y0], [x0, y0], [x0, y1], [x0, y1], [x0, y0]]  # zero width
    with pytest.raises(InputError, match=r"bad\.geojson: feature 0: degenerate box"):
        _read_utm(tmp_path / "bad.geojson", scene, [_feature(ring)])


def test_inverted_box_ring_crossing_itself_is_rejected(scene: Path, tmp_path) -> None:
    grid = SceneGrid.from_raster(scene)
    bow_tie = _map_ring(grid, (10, 10, 20, 20), order=(0, 2, 1, 3))  # corners out of order
    with pytest.raises(InputError, match=r"bad\.geojson: feature 0: inverted box"):
        _read_utm(tmp_path / "bad.geojson", scene, [_feature(bow_tie)])


def test_inverted_bbox_member_is_rejected(scene: Path, tmp_path) -> None:
    grid = SceneGrid.from_raster(scene)
    x0, y0, x1, y1 = grid.box_to_map((10, 10, 20, 20))
    feature = _feature(_map_ring(grid, (10, 10, 20, 20)), bbox=[x1, y0, x0, y1])
    with pytest.raises(InputError, match=r"bad\.geojson: feature 0: inverted box"):
        _read_utm(tmp_path / "bad.geojson", scene, [feature])


def test_rotated_polygon_is_not_a_box(scene: Path, tmp_path) -> None:
    grid = SceneGrid.from_raster(scene)
    x0, y0, x1, y1 = grid.box_to_map((10, 10, 20, 20))
    diamond = [[x0, (y0 + y1) / 2], [(x0 + x1) / 2, y0], [x1, (y0 + y1) / 2],
               [(x0 + x1) / 2, y1], [x0, (y0 + y1) / 2]]  # fmt: skip
    with pytest.raises(InputError, match=r"feature 0: polygon is not an axis-aligned box"):
        _read_utm(tmp_path / "bad.geojson", scene, [_feature(diamond)])


def test_box_outside_the_scene_is_rejected(scene: Path, tmp_path) -> None:
    grid = SceneGrid.from_raster(scene)
    inside, outside = _map_ring(grid, (10, 10, 20, 20)), _map_ring(grid, (300, 10, 320, 20))
    features = [_feature(inside), _feature(outside)]
    with pytest.raises(InputError, match=r"bad\.geojson: feature 1: box .* outside the 200x120"):
        _read_utm(tmp_path / "bad.geojson", scene, features)


@pytest.mark.parametrize(
    ("crs_name", "why"),
    [("IAU_2015:49900", "Mars"), ("EPSG:5714", "not a horizontal CRS")],
    ids=["other-celestial-body", "vertical-crs"],
)
def test_labels_in_a_crs_that_cannot_be_reprojected_are_rejected(
    scene: Path, tmp_path, crs_name: str, why: str
) -> None:
    ring = [[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]
    path = _write(tmp_path / "bad.geojson", [_feature(ring)],
                  crs={"type": "name", "properties": {"name": crs_name}})  # fmt: skip
    problem = rf"bad\.geojson: labels in .*cannot be reprojected.*{why}"
    with pytest.raises(InputError, match=problem):
        read_scene_labels(path, SceneGrid.from_raster(scene), TAXONOMY)


def test_unknown_crs_name_is_rejected(scene: Path, tmp_path) -> None:
    ring = [[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]
    path = _write(tmp_path / "bad.geojson", [_feature(ring)],
                  crs={"type": "name", "properties": {"name": "EPSG:999999"}})  # fmt: skip
    with pytest.raises(InputError, match=r"bad\.geojson: unknown CRS"):
        read_scene_labels(path, SceneGrid.from_raster(scene), TAXONOMY)


def test_malformed_json_is_rejected(scene: Path, tmp_path) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(InputError, match=r"bad\.geojson: malformed JSON"):
        read_scene_labels(path, SceneGrid.from_raster(scene), TAXONOMY)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        ('{"type": "FeatureCollection", "features": {}}', "'features' must be a list"),
        ('{"type": "FeatureCollection", "features": [[1, 2]]}', "feature 0: not a GeoJSON Feature"),
        (
            '{"type": "FeatureCollection", "features": [{"geometry": null, "properties": {}}]}',
            "feature 0: no 'class' property",
        ),
    ],
    ids=["not-a-collection", "features-not-a-list", "feature-not-an-object", "no-class"],
)
def test_wrong_geojson_structure_is_rejected(
    scene: Path, tmp_path, text: str, problem: str
) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"bad\.geojson: {problem}"):
        read_scene_labels(path, SceneGrid.from_raster(scene), TAXONOMY)


def test_map_coordinates_for_a_scene_without_crs_are_rejected(make_scene, tmp_path) -> None:
    scene = make_scene("nocrs", crs=None, labels=False)
    ring = [[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]
    path = _write(tmp_path / "bad.geojson", [_feature(ring)],
                  crs={"type": "name", "properties": {"name": "EPSG:32652"}})  # fmt: skip
    with pytest.raises(InputError, match="map coordinates but the scene has no CRS"):
        read_scene_labels(path, SceneGrid.from_raster(scene), TAXONOMY)


def test_missing_label_file_is_named(scene: Path, tmp_path) -> None:
    with pytest.raises(InputError, match=r"none\.geojson: no such label file"):
        read_scene_labels(tmp_path / "none.geojson", SceneGrid.from_raster(scene), TAXONOMY)


def test_object_label_rejects_an_inverted_pixel_box() -> None:
    with pytest.raises(ValueError, match="x0<x1"):
        ObjectLabel("ore_car", (10, 10, 5, 20))
