"""coalwatch count end to end with a trained, exported model; bad inputs; no torch loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from coalwatch.cli import main
from coalwatch.infer.counting import count_scene
from coalwatch.infer.session import OnnxDetector

from .conftest import synthetic_tile
from .scenes import write_scene

CARS_PER_DATE = {"2018-02-04": 14, "2018-02-08": 16, "2018-02-12": 15, "2018-03-01": 3}


def cars(n: int, x0: int = 40, y: int = 120, gap: int = 3) -> list[tuple[int, int, int, int]]:
    return [(x0 + i * (26 + gap), y, x0 + i * (26 + gap) + 26, y + 6) for i in range(n)]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``coalwatch`` in a fresh interpreter and report whether torch got imported."""
    probe = (
        "import sys\n"
        "from coalwatch.cli import main\n"
        f"rc = main({list(args)!r})\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchvision'})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def series_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("series")
    for day, n in CARS_PER_DATE.items():
        boxes = [*cars(n), (300, 300, 340, 330)] if n > 10 else cars(n)
        tags = {"ACQUISITION_DATETIME": f"{day}T02:00:00Z", "CLOUD_FRACTION": "0.0"}
        write_scene(folder / f"site_{day}.tif", boxes, size=(600, 400), tags=tags)
    return folder


def test_trained_model_counts_a_train_across_tiles(trained_onnx, series_dir) -> None:
    result = count_scene(series_dir / "site_2018-02-08.tif", trained_onnx)
    assert result.tiles_total > 4  # 128 px tiles: the train crosses several seams
    assert abs(result.counts["ore_car"] - 16) <= 1
    x0 = np.sort(result.detections.boxes[result.detections.class_ids == 1][:, 0])
    assert np.all(np.diff(x0) > 15)  # no car counted twice


def test_count_cli_writes_everything_without_torch(trained_onnx, series_dir, tmp_path) -> None:
    scenes = sorted(str(p) for p in series_dir.glob("*.tif"))
    out = tmp_path / "out"
    done = run_cli(
        "count",
        *scenes,
        "--model",
        str(trained_onnx),
        "--out",
        str(out),
        "--json",
        "--quiet",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stderr
    report = json.loads(done.stdout)
    counted = [s["counts"]["ore_car"] for s in report["scenes"]]
    true = list(CARS_PER_DATE.values())
    assert all(abs(c - n) <= 1 for c, n in zip(counted, true, strict=True)), (counted, true)
    names = {p.name for p in out.iterdir()}
    assert {"series.csv", "summary.txt", "counts.json", "timeline_ore_car.png"} <= names
    assert len([n for n in names if n.endswith(".detections.geojson")]) == 4
    assert len([n for n in names if n.endswith(".detections.png")]) == 4
    summary = (out / "summary.txt").read_text()
    assert "ore_car:" in summary and "successive images, 2018-02-04 to 2018-02-12" in summary
    header = (out / "series.csv").read_text().splitlines()[0]
    assert header.startswith("scene,date,usable_fraction")


def test_no_pictures_leaves_the_scene_pictures_out(trained_onnx, series_dir, tmp_path) -> None:
    scene = str(series_dir / "site_2018-02-08.tif")
    out = tmp_path / "out"
    assert (
        main(
            [
                "count",
                scene,
                "--model",
                str(trained_onnx),
                "--out",
                str(out),
                "--quiet",
                "--no-pictures",
            ]
        )
        == 0
    )
    names = {p.name for p in out.iterdir()}
    assert "site_2018-02-08.detections.geojson" in names
    assert not any(n.endswith(".detections.png") for n in names)


def _onnx_without_metadata(path: Path) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["boxes"])],
        "plain",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [3, None, None])],
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [3, None, None])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_bad_inputs_exit_2_with_one_line_and_no_outputs(trained_onnx, series_dir, tmp_path, capsys):
    scene = str(series_dir / "site_2018-02-04.tif")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(trained_onnx.read_bytes()[:5000])
    plain = _onnx_without_metadata(tmp_path / "plain.onnx")
    not_tiff = tmp_path / "image.tif"
    not_tiff.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    bad_aoi = tmp_path / "aois.geojson"
    bad_aoi.write_text('{"type": "FeatureCollection", "features": [{"geometry": 5}]}')
    one_band = write_scene(tmp_path / "one_band.tif", [], size=(64, 64), bands=1)
    cases = [
        ([scene, "--model", str(corrupt)], "corrupt.onnx"),
        ([scene, "--model", str(plain)], "no coalwatch metadata"),
        ([str(not_tiff), "--model", str(trained_onnx)], "image.tif"),
        ([str(one_band), "--model", str(trained_onnx)], "1 band"),
        ([scene, "--model", str(trained_onnx), "--aoi", str(bad_aoi)], "aois.geojson"),
    ]
    for args, expected in cases:
        out = tmp_path / "out"
        assert main(["count", *args, "--out", str(out), "--quiet"]) == 2, args
        stderr = capsys.readouterr().err
        errors = [line for line in stderr.splitlines() if "error:" in line]
        assert len(errors) == 1 and expected in errors[0], stderr
        assert not out.exists() or not any(out.iterdir())


def test_a_process_pool_gives_the_same_counts(trained_onnx, series_dir) -> None:
    from coalwatch.infer.counting import count_scenes

    scenes = sorted(str(p) for p in series_dir.glob("*.tif"))[:2]
    serial = count_scenes(scenes, trained_onnx, workers=1)
    pooled = count_scenes(scenes, trained_onnx, workers=2)
    assert [r.counts for r in pooled] == [r.counts for r in serial]
    assert [r.scene_id for r in pooled] == [r.scene_id for r in serial]


@pytest.mark.parametrize("share", ["0", "1.5", "-0.2"])
def test_nested_must_be_a_share(share, trained_onnx, series_dir, capsys) -> None:
    scene = str(series_dir / "site_2018-02-04.tif")
    with pytest.raises(SystemExit) as stop:
        main(["count", scene, "--model", str(trained_onnx), "--nested", share])
    assert stop.value.code == 2
    assert f"{share} is not a share in (0, 1]" in capsys.readouterr().err


def test_views_fuse_what_the_trained_model_sees_in_each_orientation(trained_onnx) -> None:
    """The test model trained on level cars only: of four quarter turns, the two that keep
    the cars level find them, so each fused car box sits on the car at half its score."""
    image, _, labels = synthetic_tile(np.random.default_rng(5))
    detector = OnnxDetector(trained_onnx)
    one = detector.detect(image, score=0.3).of_class(1)
    four = detector.detect(image, score=0.3 / 2, views=4).of_class(1)
    assert len(one) == len(four) == int((labels == 1).sum()) > 0
    one, four = one.select(np.lexsort(one.boxes.T)), four.select(np.lexsort(four.boxes.T))
    np.testing.assert_allclose(four.boxes, one.boxes, atol=1.5)
    np.testing.assert_allclose(four.scores, one.scores / 2, atol=0.02)


def test_views_must_be_one_four_or_eight(trained_onnx, series_dir, capsys) -> None:
    scene = str(series_dir / "site_2018-02-04.tif")
    with pytest.raises(SystemExit) as stop:
        main(["count", scene, "--model", str(trained_onnx), "--views", "3"])
    assert stop.value.code == 2
    assert "--views" in capsys.readouterr().err
