"""Pictures of counted scenes: detections in class colours, AOIs in place, the busiest zoom."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from pyproj import Transformer

from coalwatch.infer import counting
from coalwatch.infer.aoi import load_aois
from coalwatch.infer.counting import count_scene
from coalwatch.infer.detections import Detections
from coalwatch.infer.outcomes import ImageOutcome
from coalwatch.infer.picture import (
    MISSED,
    OUTCOME_COLOURS,
    _display,
    _rings,
    _stretch,
    aoi_outlines,
    class_colour,
    densest_window,
    draw_outcomes,
    draw_scene,
)

from .scenes import DarkBlobDetector, scene_to_map, write_scene

CARS = [(40 + 29 * i, 300, 66 + 29 * i, 306) for i in range(8)]
HEAP = (600, 100, 680, 160)


@pytest.fixture
def counted(tmp_path, monkeypatch):
    monkeypatch.setattr(counting, "detector_for", lambda *a, **k: DarkBlobDetector())
    scene = write_scene(tmp_path / "quay_20180204.tif", [*CARS, HEAP])
    result = count_scene(scene, "unused.onnx")
    assert result.counts["ore_car"] == len(CARS) and result.counts["coal_heap"] == 1
    return result


def _pixels_of(png, colour: str, tol: int = 12) -> int:
    import matplotlib.image

    rgb = (matplotlib.image.imread(png)[..., :3] * 255).round().astype(int)
    want = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - want).max(axis=-1) <= tol).sum())


def test_each_detection_is_outlined_in_its_class_colour(counted, tmp_path) -> None:
    drawn = draw_scene(counted, tmp_path / "drawn.png")
    bare = dataclasses.replace(counted, detections=Detections.empty(counted.detections.extra))
    empty = draw_scene(bare, tmp_path / "bare.png")
    assert drawn.read_bytes()[:4] == b"\x89PNG"
    ore, heap = class_colour(1), class_colour(5)
    # beyond the legend's line of each colour, which both pictures have
    assert _pixels_of(drawn, ore) > _pixels_of(empty, ore) + 100
    assert _pixels_of(drawn, heap) > _pixels_of(empty, heap) + 100


def test_outcomes_are_drawn_in_their_own_colours(counted, tmp_path) -> None:
    boxes = counted.detections.boxes[:8]  # the cars
    classes = ("ore_car",) * 8
    all_hits = ImageOutcome(boxes, classes, ("hit",) * 8, np.zeros((0, 4)), labelled=8)
    hits = draw_outcomes(counted, all_hits, tmp_path / "hits.png")
    kinds = ("hit", "hit", "misplaced", "misplaced", "background", "background", "hit", "hit")
    errors = ImageOutcome(boxes[:6], classes[:6], kinds[:6], boxes[6:], labelled=8)
    mixed = draw_outcomes(counted, errors, tmp_path / "mixed.png")
    colours = [OUTCOME_COLOURS["misplaced"], OUTCOME_COLOURS["background"], MISSED]
    for colour in colours:
        assert _pixels_of(mixed, colour) > _pixels_of(hits, colour) + 100
    assert _pixels_of(hits, OUTCOME_COLOURS["hit"]) > _pixels_of(mixed, OUTCOME_COLOURS["hit"])


def test_aoi_outlines_land_on_the_pixels_they_were_drawn_around(counted, tmp_path) -> None:
    to_wgs84 = Transformer.from_crs("EPSG:32652", "EPSG:4326", always_xy=True)
    corners = [scene_to_map(x, y) for x, y in [(30, 280), (300, 280), (300, 330), (30, 330)]]
    ring = [list(to_wgs84.transform(*c)) for c in corners]
    feature = {
        "type": "Feature",
        "properties": {"name": "siding"},
        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
    }
    path = tmp_path / "aois.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    aois = load_aois(path)
    ((name, (pixels,)),) = aoi_outlines(counted, aois)
    assert name == "siding"
    np.testing.assert_allclose(pixels.min(axis=0), (30, 280), atol=0.01)
    np.testing.assert_allclose(pixels.max(axis=0), (300, 330), atol=0.01)
    assert draw_scene(counted, tmp_path / "with_aois.png", aois).is_file()
    # a scene without a CRS has no place on the map: nothing to outline
    assert aoi_outlines(dataclasses.replace(counted, crs_wkt=None), aois) == []


def test_densest_window_holds_the_cluster(counted) -> None:
    """The zoom square holds every centre of the cluster, not the scattered ones."""
    sparse = [[100.0 * i, 100.0, 100.0 * i + 20, 106.0] for i in range(5)]
    cluster = [
        [600.0 + 25 * i, 500.0 + 10 * j, 620.0 + 25 * i, 506.0 + 10 * j]
        for i in range(4)
        for j in range(4)
    ]
    boxes = np.array(sparse + cluster)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    x, y, w, h = densest_window(centres, counted.width, counted.height, 320)
    assert (w, h) == (320, 320)
    assert x <= 610 and x + w > 685 and y <= 503 and y + h > 533  # every cluster centre


def test_sixteen_bit_scenes_are_stretched_on_their_imaged_pixels() -> None:
    data = np.zeros((3, 10, 100), np.uint16)
    data[:, :, 50:] = np.linspace(1000, 3000, 50, dtype=np.uint16)  # left half: nodata
    lo, hi = _stretch(data)
    assert 1000 < lo < 1100 and 2900 < hi < 3000
    shown = _display(data, lo, hi)
    assert shown.shape == (10, 100, 3) and shown.dtype == np.uint8
    assert shown[0, 50, 0] == 0 and shown[0, 99, 0] == 255
    assert 100 < shown[0, 75, 0] < 160  # mid-range stays mid-grey


def test_the_scene_is_shown_in_the_bands_the_model_read(counted, tmp_path) -> None:
    """A blue-green-red product read by a model as bands (3, 2, 1) shows its red as red."""
    import rasterio

    path = tmp_path / "bgr.tif"
    with rasterio.open(counted.scene) as src:
        profile = src.profile
    data = np.full((3, counted.height, counted.width), 10, np.uint8)
    data[2] = 250  # band 3 holds the red
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    bgr = dataclasses.replace(counted, scene=str(path), bands=(3, 2, 1))
    as_read = draw_scene(bgr, tmp_path / "as_read.png")
    in_order = draw_scene(dataclasses.replace(bgr, bands=(1, 2, 3)), tmp_path / "in_order.png")
    assert _pixels_of(as_read, "#fa0a0a") > 10_000
    assert _pixels_of(in_order, "#fa0a0a") == 0


def test_boxes_sit_on_pixel_edges_in_both_panels() -> None:
    """A box over pixels 10-35 x 20-25 outlines their outer edges (imshow: integers are pixel
    centres), at full resolution and decimated 4x."""
    box = np.array([[10.0, 20.0, 36.0, 26.0]])
    (ring,) = _rings(box, (1.0, 1.0), (0.0, 0.0))
    np.testing.assert_allclose(ring.min(axis=0), (9.5, 19.5))
    np.testing.assert_allclose(ring.max(axis=0), (35.5, 25.5))
    (zoomed,) = _rings(box, (1.0, 1.0), (10.0, 20.0))
    np.testing.assert_allclose(zoomed.min(axis=0), (-0.5, -0.5))
    (decimated,) = _rings(box, (0.25, 0.25), (0.0, 0.0))
    np.testing.assert_allclose(decimated.min(axis=0), (2.0, 4.5))
