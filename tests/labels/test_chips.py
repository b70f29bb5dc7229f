"""Chipping: whole objects, clipping, splits by scene, empty share, nodata, radiometry, errors."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from PIL import Image

from coalwatch import cli
from coalwatch.errors import CoalwatchError, InputError
from coalwatch.labels.chips import ChipOptions, chip_starts, make_chips, split_scenes
from coalwatch.labels.coco import image_path, read_coco
from coalwatch.labels.radiometry import Scaling

QUIET = {"progress": False}


@pytest.fixture
def chips_cli(monkeypatch):
    """``coalwatch`` main() with only the chips verb (other verbs' imports stay out of it)."""
    monkeypatch.setattr(cli, "VERBS", {"chips": cli.VERBS["chips"]})
    return cli.main


def _png(out: Path, file_name: str) -> np.ndarray:
    return np.asarray(Image.open(out / file_name))


def _chips(out: Path) -> dict[str, dict]:
    return {split: json.loads((out / f"{split}.json").read_text()) for split in ("train", "val")}


def test_chip_starts_cover_the_axis_with_the_overlap() -> None:
    assert chip_starts(700, 256, 64) == [0, 192, 384, 444]
    assert chip_starts(256, 256, 64) == [0]
    assert chip_starts(100, 256, 64) == [0]


def test_every_object_smaller_than_the_overlap_is_whole_in_a_chip(make_scene, tmp_path) -> None:
    rng = np.random.default_rng(3)
    objects = []
    for _ in range(40):
        w, h = rng.integers(8, 60), rng.integers(4, 20)
        x, y = rng.uniform(0, 700 - w), rng.uniform(0, 500 - h)
        objects.append(("bulk_carrier", (float(x), float(y), float(x + w), float(y + h))))
    # One object longer than the overlap across a seam: no chip can hold it whole.
    objects.append(("coal_heap", (150.0, 300.0, 290.0, 330.0)))
    make_scene("yard", width=700, height=500, objects=objects)
    out = tmp_path / "chips"
    options = ChipOptions(size=256, overlap=64, val_share=0, **QUIET)
    summary = make_chips([tmp_path / "scenes"], out, options)
    assert (summary.objects, summary.objects_whole) == (41, 40)
    assert summary.line().startswith("40/41 objects whole in at least one chip")
    assert "1 objects never whole (the largest 140 px; --overlap 64" in summary.line()
    train = _chips(out)["train"]
    for image in train["images"]:
        pixels = _png(out, image["file_name"])
        assert pixels.shape == (256, 256, 3)
        for ann in (a for a in train["annotations"] if a["image_id"] == image["id"]):
            x, y, w, h = ann["bbox"]
            assert x >= 0 and y >= 0 and x + w <= 256 and y + h <= 256
            centre = pixels[int(y + h / 2), int(x + w / 2)]
            assert centre[0] >= 200, "a box in the chip sits on its bright object"


def test_boxes_are_clipped_at_chip_borders_and_dropped_below_min_visible(
    make_scene, tmp_path
) -> None:
    make_scene("edge", width=512, height=128, objects=[("ore_car", (240.0, 100.0, 280.0, 110.0))])
    out = tmp_path / "chips"
    options = ChipOptions(size=128, overlap=0, min_visible=0.5, empty_share=0, val_share=0, **QUIET)
    summary = make_chips([tmp_path / "scenes"], out, options)
    train = _chips(out)["train"]
    # chip at column 128 shows 16/40 of the car (dropped); the one at 256 shows 24/40 (kept)
    assert [im["window"][0] for im in train["images"]] == [256]
    (ann,) = train["annotations"]
    assert ann["bbox"] == [0.0, 100.0, 24.0, 10.0] and ann["attributes"]["visible"] == 0.6
    assert summary.objects_whole == 0


def test_fragments_beside_kept_objects_are_ignored_boxes(make_scene, tmp_path) -> None:
    """A car mostly outside a chip is an ignored box there, not background."""
    objects = [("ore_car", (240.0, 100.0, 280.0, 110.0)), ("ore_car", (300.0, 20.0, 340.0, 30.0))]
    make_scene("edge", width=512, height=128, objects=objects)
    out = tmp_path / "chips"
    options = ChipOptions(size=128, overlap=0, min_visible=0.7, empty_share=0, val_share=0, **QUIET)
    summary = make_chips([tmp_path / "scenes"], out, options)
    train = _chips(out)["train"]
    # the chip at column 256 holds the second car whole and 24/40 of the first
    assert [im["window"][0] for im in train["images"]] == [256]
    kept, fragment = sorted(train["annotations"], key=lambda a: a["iscrowd"])
    assert kept["bbox"] == [44.0, 20.0, 40.0, 10.0] and kept["iscrowd"] == 0
    assert fragment["bbox"] == [0.0, 100.0, 24.0, 10.0] and fragment["iscrowd"] == 1
    assert fragment["attributes"] == {**fragment["attributes"], "fragment": True, "visible": 0.6}
    assert summary.hidden == 1
    records = read_coco(out / "train.json").annotations
    assert [a.hidden for a in sorted(records, key=lambda a: a.iscrowd)] == [False, True]


def test_train_and_val_are_split_by_scene(make_scene, tmp_path) -> None:
    for k in range(4):
        make_scene(f"s{k}", objects=[("ore_car", (20.0 + 10 * k, 30.0, 30.0 + 10 * k, 34.0))])
    out = tmp_path / "chips"
    summary = make_chips([tmp_path / "scenes"], out, ChipOptions(size=128, val_share=0.5, **QUIET))
    splits = _chips(out)
    scenes = {sp: {im["scene"] for im in splits[sp]["images"]} for sp in splits}
    assert len(summary.scenes["val"]) == 2 and scenes["val"] == set(summary.scenes["val"])
    assert not scenes["train"] & scenes["val"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert {s["name"]: s["split"] for s in manifest["scenes"]} == {
        **dict.fromkeys(summary.scenes["train"], "train"),
        **dict.fromkeys(summary.scenes["val"], "val"),
    }
    named = ChipOptions(size=128, val_scenes=("s1",), **QUIET)
    again = make_chips([tmp_path / "scenes"], tmp_path / "named", named)
    assert again.scenes == {"train": ["s0", "s2", "s3"], "val": ["s1"]}


def test_split_rules() -> None:
    assert split_scenes(["a"], 0.5) == {"a": "train"}
    assert list(split_scenes(list("abcd"), 0.9).values()).count("train") == 1
    assert split_scenes(list("abcd"), 0.25, seed=1) == split_scenes(list("abcd"), 0.25, seed=1)
    with pytest.raises(CoalwatchError, match="not among"):
        split_scenes(["a", "b"], 0, ["c"])
    with pytest.raises(CoalwatchError, match="none is left to train on"):
        split_scenes(["a", "b"], 0, ["a", "b"])


def test_single_scene_is_all_train_and_says_so(make_scene, tmp_path) -> None:
    make_scene("one", objects=[("ore_car", (20.0, 30.0, 30.0, 34.0))])
    summary = make_chips([tmp_path / "scenes"], tmp_path / "chips", ChipOptions(size=128, **QUIET))
    assert summary.chips["val"] == 0 and summary.chips["train"] > 0
    assert "one scene: every chip is train and val.json is empty" in summary.line()
    assert _chips(tmp_path / "chips")["val"]["images"] == []


def test_empty_chips_make_up_the_set_share(make_scene, tmp_path) -> None:
    # 16 windows of 128 px; objects in 6 of them
    objects = [("ore_car", (128.0 * k + 10, 10.0, 128.0 * k + 30, 16.0)) for k in range(6)]
    make_scene("line", width=1024, height=256, objects=objects)
    options = ChipOptions(size=128, overlap=0, empty_share=0.25, val_share=0, **QUIET)
    first = make_chips([tmp_path / "scenes"], tmp_path / "a", options)
    assert first.chips["train"] == 8 and first.empty_chips["train"] == 2
    names = sorted(p.name for p in (tmp_path / "a/images").iterdir())
    make_chips([tmp_path / "scenes"], tmp_path / "b", options)
    assert names == sorted(p.name for p in (tmp_path / "b/images").iterdir()), "seeded"
    none = make_chips([tmp_path / "scenes"], tmp_path / "c", ChipOptions(
        size=128, overlap=0, empty_share=0, val_share=0, **QUIET))  # fmt: skip
    assert none.chips["train"] == 6 and none.empty_chips["train"] == 0


def test_chips_mostly_nodata_are_skipped(make_scene, tmp_path) -> None:
    objects = [("ore_car", (400.0, 20.0, 420.0, 26.0)), ("ore_car", (40.0, 20.0, 60.0, 26.0))]
    make_scene("border", width=512, height=128, objects=objects, nodata=0, nodata_cols=300)
    out = tmp_path / "chips"
    options = ChipOptions(size=128, overlap=0, empty_share=0.9, val_share=0, **QUIET)
    summary = make_chips([tmp_path / "scenes"], out, options)
    manifest = json.loads((out / "manifest.json").read_text())
    cols = sorted(c["window"]["col_off"] for c in manifest["chips"])
    assert cols == [256, 384]  # 0 and 128 are all nodata; 256 is 44/128 nodata
    assert summary.skipped_nodata == 2 and summary.objects_whole == 1
    chip = next(c for c in manifest["chips"] if c["window"]["col_off"] == 256)
    assert chip["valid_fraction"] == pytest.approx(84 / 128, abs=1e-4)
    assert (_png(out, chip["file"])[:, :44] == 0).all()


def test_16bit_scene_gets_a_percentile_stretch(make_scene, tmp_path) -> None:
    objects = [("bulk_carrier", (30.0, 40.0, 130.0, 100.0))]  # 12 % of the scene
    make_scene("analytic", dtype="uint16", background=1000, brightness=20000, objects=objects)
    out = tmp_path / "chips"
    make_chips([tmp_path / "scenes"], out, ChipOptions(size=128, overlap=0, val_share=0, **QUIET))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scaling"] == {"method": "percentile", "percentiles": [2.0, 98.0]}
    fitted = Scaling.from_dict(manifest["scenes"][0]["scaling"])
    assert fitted.low == (1000, 2000, 3000) and fitted.high == (21000, 22000, 23000)
    pixels = _png(out, manifest["chips"][0]["file"])
    assert pixels[45, 60].tolist() == [255, 255, 255] and pixels[5, 5].tolist() == [0, 0, 0]


def test_band_selection_sets_the_chip_colours(make_scene, tmp_path) -> None:
    make_scene("nir", count=4, objects=[("ore_car", (20.0, 30.0, 30.0, 34.0))])
    out = tmp_path / "chips"
    options = ChipOptions(size=128, overlap=0, bands=(4, 3, 2), val_share=0, **QUIET)
    make_chips([tmp_path / "scenes"], out, options)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["bands"] == [4, 3, 2]
    assert _png(out, manifest["chips"][0]["file"])[0, 0].tolist() == [160, 120, 80]


def test_manifest_records_chip_geotransforms(make_scene, tmp_path) -> None:
    scene = make_scene("geo", objects=[("ore_car", (200.0, 150.0, 210.0, 154.0))])
    out = tmp_path / "chips"
    make_chips([scene], out, ChipOptions(size=128, overlap=32, **QUIET))
    manifest = json.loads((out / "manifest.json").read_text())
    scene_t = Affine(*manifest["scenes"][0]["transform"])
    assert scene_t.b == scene_t.d == 0
    assert manifest["scenes"][0]["gsd_m"] == pytest.approx(3.0, rel=0.01)
    for chip in manifest["chips"]:
        col, row = chip["window"]["col_off"], chip["window"]["row_off"]
        origin = (scene_t.c + col * scene_t.a, scene_t.f + row * scene_t.e)
        assert (chip["transform"][2], chip["transform"][5]) == pytest.approx(origin)
    coco = read_coco(out / "train.json")
    assert all(image_path(out / "train.json", im).is_file() for im in coco.images)
    assert (out / "labels/geo.geojson").is_file()


def test_group_labels_need_a_taxonomy_whose_leaves_they_are(make_scene, tmp_path) -> None:
    make_scene("vessels", objects=[("vessel", (20.0, 30.0, 60.0, 40.0))])
    with pytest.raises(InputError, match=r"vessels\.tif: label 'vessel' is a group of taxonomy"):
        make_chips([tmp_path / "scenes"], tmp_path / "chips", ChipOptions(size=128, **QUIET))
    assert not (tmp_path / "chips").exists()
    ship = ChipOptions(size=128, taxonomy="ship", **QUIET)
    make_chips([tmp_path / "scenes"], tmp_path / "chips", ship)
    assert read_coco(tmp_path / "chips/train.json").category_names == {1: "ship"}


def test_an_existing_output_folder_is_replaced_whole(make_scene, tmp_path) -> None:
    make_scene("one", objects=[("ore_car", (20.0, 30.0, 30.0, 34.0))])
    out = tmp_path / "chips"
    (out / "images").mkdir(parents=True)
    (out / "images/stale.png").write_bytes(b"old")
    make_chips([tmp_path / "scenes"], out, ChipOptions(size=128, **QUIET))
    assert not (out / "images/stale.png").exists()


def _bad_not_geotiff(tmp_path: Path, make_scene) -> tuple[list[str], str]:
    (tmp_path / "notes.tif").write_text("not an image")
    return [str(tmp_path / "notes.tif")], r"notes\.tif: not a readable"


def _bad_png(tmp_path: Path, make_scene) -> tuple[list[str], str]:
    Image.new("RGB", (64, 64)).save(tmp_path / "photo.png")
    return [str(tmp_path / "photo.png")], r"photo\.png: not a GeoTIFF \(a PNG raster\)"


def _bad_missing(tmp_path: Path, make_scene) -> tuple[list[str], str]:
    return [str(tmp_path / "gone.tif")], r"gone\.tif: no such scene file"


def _bad_bands(tmp_path: Path, make_scene) -> tuple[list[str], str]:
    scene = make_scene("rgb")
    return [str(scene), "--bands", "1,2,4"], r"rgb\.tif: has 3 band\(s\)"


def _bad_truncated(tmp_path: Path, make_scene) -> tuple[list[str], str]:
    car = ("ore_car", (280, 280, 290, 285))  # in the last tiles, which the cut loses
    scene = make_scene("cut", count=4, width=300, height=300, objects=[car])
    data = scene.read_bytes()
    scene.write_bytes(data[: len(data) // 2])
    return [str(scene)], r"cut\.tif: cannot read pixels at col \d+, row \d+: truncated or corrupt"


@pytest.mark.parametrize(
    "bad",
    [_bad_missing, _bad_not_geotiff, _bad_png, _bad_bands, _bad_truncated],
    ids=lambda f: f.__name__[5:],
)
def test_bad_input_names_the_file_and_writes_nothing(
    tmp_path, make_scene, capsys, chips_cli, bad
) -> None:
    good = make_scene("good", count=4, objects=[("ore_car", (20.0, 30.0, 30.0, 34.0))])
    args, problem = bad(tmp_path, make_scene)
    out = tmp_path / "chips"
    code = chips_cli(
        ["chips", str(good), *args, "--out", str(out), "--size", "128", "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("coalwatch chips: error: ")
    assert len(err.strip().splitlines()) == 1
    assert re.search(problem, err), err
    assert not out.exists() and not list(tmp_path.glob(".chips*"))


def test_sen2ships_chips_hold_every_ship_whole(
    sen2ships: Path, tmp_path, capsys, chips_cli
) -> None:
    out = tmp_path / "ships"
    start = time.perf_counter()
    code = chips_cli(
        ["chips", "--coco", str(sen2ships / "annotations.coco.json"), "--class-map", "ship=ship",
         "--taxonomy", "ship", "--out", str(out), "--no-progress"]
    )  # fmt: skip
    seconds = time.perf_counter() - start
    line = capsys.readouterr().out.strip()
    assert code == 0
    assert line.startswith("191/191 objects whole in at least one chip"), line
    splits = {sp: read_coco(out / f"{sp}.json") for sp in ("train", "val")}
    scenes = {sp: {im.extra["scene"] for im in d.images} for sp, d in splits.items()}
    assert not scenes["train"] & scenes["val"] and len(scenes["train"] | scenes["val"]) == 7
    assert splits["train"].category_names == {1: "ship"}
    assert splits["train"].taxonomy.name == "ship"
    image = splits["val"].images[0]
    assert Image.open(image_path(out / "val.json", image)).size == (512, 512)
    assert len(list((out / "labels").glob("*.geojson"))) == 7
    assert seconds < 20


def test_scenes_are_read_window_by_window(make_scene, tmp_path, monkeypatch) -> None:
    from rasterio.io import DatasetReader

    from coalwatch.labels.radiometry import FIT_MAX_SIDE

    shapes: list[tuple[int, int]] = []
    for name in ("read", "read_masks"):
        original = getattr(DatasetReader, name)

        def spy(self, indexes=None, *args, _original=original, **kwargs):
            out = _original(self, indexes, *args, **kwargs)
            shapes.append(out.shape[-2:])
            return out

        monkeypatch.setattr(DatasetReader, name, spy)
    objects = [("ore_car", (100.0 * k, 1200.0, 100.0 * k + 12, 1204.0)) for k in range(15)]
    make_scene("big", width=1600, height=1300, objects=objects, dtype="uint16")
    options = ChipOptions(size=256, overlap=32, val_share=0, **QUIET)
    summary = make_chips([tmp_path / "scenes"], tmp_path / "chips", options)
    assert summary.objects_whole == 15 and len(shapes) > 2 * summary.chips["train"]
    assert max(h * w for h, w in shapes) <= max(256 * 256, FIT_MAX_SIDE**2)


def test_hidden_objects_are_kept_flagged_and_counted(make_scene, tmp_path) -> None:
    tif = make_scene(
        "clouded", objects=[("coal_heap", (20, 20, 60, 50)), ("ore_car", (90, 30, 100, 34))]
    )
    labels = json.loads(tif.with_suffix(".geojson").read_text())
    labels["features"][0]["properties"]["occluded"] = True  # the heap is under cloud
    tif.with_suffix(".geojson").write_text(json.dumps(labels))
    summary = make_chips([tif], tmp_path / "chips", ChipOptions(size=128, **QUIET))
    coco = read_coco(tmp_path / "chips" / "train.json")
    flags = {a.category_id: a.hidden for a in coco.annotations}
    assert flags == {5: True, 1: False}
    assert summary.hidden == sum(flags.values()) == 1
    assert "1 of 2 boxes are hidden (occluded, crowd, or a fragment" in summary.line()
    manifest = json.loads((tmp_path / "chips" / "manifest.json").read_text())
    assert manifest["summary"]["hidden"] == 1
