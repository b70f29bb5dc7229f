"""Input radiometry: bit depths, band selection, gain and percentile scaling, nodata."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from coalwatch.errors import InputError
from coalwatch.labels import radiometry
from coalwatch.labels.radiometry import Scaling, check_bands, parse_bands, read_window


def test_8bit_gain_is_the_identity(make_scene) -> None:
    path = make_scene("s8", objects=[("ore_car", (10, 10, 20, 14))])
    with rasterio.open(path) as src:
        fitted = Scaling("gain").fit(src, (1, 2, 3))
        rgb, valid = read_window(src, Window(0, 0, 64, 32), (1, 2, 3), fitted)
        raw = src.read((1, 2, 3), window=Window(0, 0, 64, 32))
    assert fitted.gain == 1.0 and valid.all()
    np.testing.assert_array_equal(rgb, raw)


def test_16bit_gain_follows_the_nbits_tag(make_scene) -> None:
    path = make_scene("s12", dtype="uint16", background=1000, nbits=12)
    with rasterio.open(path) as src:
        fitted = Scaling("gain").fit(src, (1, 2, 3))
        rgb, _ = read_window(src, Window(0, 0, 8, 8), (1, 2, 3), fitted)
    assert fitted.gain == pytest.approx(255 / 4095)
    assert rgb[:, 0, 0].tolist() == [62, 125, 187]  # 1000, 2000, 3000 * 255 / 4095


def test_16bit_percentile_stretch_spans_the_8bit_range(make_scene) -> None:
    objects = [("bulk_carrier", (40, 40, 120, 60))]
    path = make_scene("s16", dtype="uint16", background=1000, brightness=20000, objects=objects)
    with rasterio.open(path) as src:
        fitted = Scaling("percentile", percentiles=(1, 99)).fit(src, (1, 2, 3))
        rgb, _ = read_window(src, Window(0, 0, 256, 192), (1, 2, 3), fitted)
    # Band b is 1000 (b + 1) on the sea and 20000 more on the ship: the stretch maps them to 0/255.
    assert fitted.low == (1000, 2000, 3000) and fitted.high == (21000, 22000, 23000)
    assert rgb.dtype == np.uint8 and rgb[:, 50, 80].tolist() == [255] * 3
    assert rgb[:, 5, 5].tolist() == [0] * 3


def test_percentile_fit_reads_a_decimated_overview(make_scene, monkeypatch) -> None:
    path = make_scene("dec", width=256, height=192, dtype="uint16", background=100)
    calls = []
    original = radiometry._overview

    def spy(src, bands):
        values, valid = original(src, bands)
        calls.append(values.shape)
        return values, valid

    monkeypatch.setattr(radiometry, "FIT_MAX_SIDE", 64)
    monkeypatch.setattr(radiometry, "_overview", spy)
    with rasterio.open(path) as src:
        Scaling("percentile").fit(src, (1, 2, 3))
    assert calls == [(3, 48, 64)]


def test_nodata_is_left_out_of_the_fit_and_written_as_zero(make_scene) -> None:
    path = make_scene("nd", dtype="uint16", background=1000, nodata=0, nodata_cols=100)
    with rasterio.open(path) as src:
        fitted = Scaling("percentile").fit(src, (1, 2, 3))
        rgb, valid = read_window(src, Window(90, 0, 20, 10), (1, 2, 3), fitted)
    assert fitted.low == (1000, 2000, 3000)  # the nodata zeros do not pull the stretch down
    assert not valid[:, :10].any() and valid[:, 10:].all()
    assert (rgb[:, :, :10] == 0).all()


def test_band_selection_picks_and_orders_bands(make_scene) -> None:
    path = make_scene("nir", count=4, background=40)
    with rasterio.open(path) as src:
        fitted = Scaling("gain").fit(src, (4, 3, 2))
        rgb, _ = read_window(src, Window(0, 0, 4, 4), (4, 3, 2), fitted)
    assert rgb[:, 0, 0].tolist() == [160, 120, 80]


def test_window_beyond_the_scene_is_padded_and_invalid(make_scene) -> None:
    path = make_scene("pad", width=100, height=50)
    with rasterio.open(path) as src:
        rgb, valid = read_window(src, Window(0, 0, 128, 128), (1, 2, 3), Scaling("gain", gain=1))
    assert rgb.shape == (3, 128, 128) and valid.sum() == 100 * 50
    assert (rgb[:, 50:, :] == 0).all() and (rgb[:, :, 100:] == 0).all()


def test_band_selection_beyond_the_band_count_names_the_file(tmp_path) -> None:
    with pytest.raises(InputError, match=r"scene\.tif: has 3 band\(s\).*asks for \[4\]"):
        check_bands(tmp_path / "scene.tif", 3, (1, 2, 4))


@pytest.mark.parametrize(
    "scaling",
    [
        Scaling("gain", gain=0.0625),
        Scaling("gain"),
        Scaling("percentile", percentiles=(1, 99), low=(1.0, 2.0, 3.0), high=(9.0, 8.0, 7.5)),
    ],
)
def test_scaling_round_trips_through_dict(scaling: Scaling) -> None:
    assert Scaling.from_dict(scaling.to_dict()) == scaling


def test_recipe_drops_the_per_scene_fit() -> None:
    fitted = Scaling("percentile", low=(1.0,), high=(2.0,))
    assert fitted.recipe().to_dict() == {"method": "percentile", "percentiles": [2.0, 98.0]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gain", Scaling("gain")),
        ("gain=0.0625", Scaling("gain", gain=0.0625)),
        ("percentile", Scaling("percentile")),
        ("percentile=1,99.5", Scaling("percentile", percentiles=(1, 99.5))),
    ],
)
def test_scaling_parses_from_the_command_line(text: str, expected: Scaling) -> None:
    assert Scaling.parse(text) == expected


@pytest.mark.parametrize("text", ["gamma", "gain=-1", "percentile=99,1", "percentile=5"])
def test_bad_scaling_text_is_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        Scaling.parse(text)


def test_unfitted_scaling_cannot_be_applied() -> None:
    with pytest.raises(ValueError, match="fit"):
        Scaling("percentile").apply(np.zeros((3, 2, 2)))


def test_parse_bands() -> None:
    assert parse_bands("4,3,2") == (4, 3, 2)
    for bad in ("1,2", "0,1,2", "a,b,c"):
        with pytest.raises(ValueError):
            parse_bands(bad)
