"""``coalwatch evaluate`` end to end with a real exported model, in a process without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from coalwatch.infer.evaluate_command import split_paths
from coalwatch.labels.schema import ObjectLabel, SceneGrid, SceneLabels, write_scene_labels

from .scenes import write_scene

CARS = [(60 + i * 60, 80 + 90 * (i % 3), 86 + i * 60, 86 + 90 * (i % 3)) for i in range(6)]

RUN_WITHOUT_TORCH = """
import sys
from coalwatch.cli import main
rc = main(sys.argv[1:])
assert "torch" not in sys.modules, "evaluate loaded torch"
sys.exit(rc)
"""


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_TORCH, "evaluate", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_evaluate_writes_report_without_torch(tmp_path, trained_onnx) -> None:
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    tif = write_scene(scenes / "yard.tif", CARS, size=(420, 300))
    labels = SceneLabels([ObjectLabel("ore_car", b) for b in CARS], taxonomy="default")
    write_scene_labels(tif.with_suffix(".geojson"), labels, SceneGrid.from_raster(tif))
    out = tmp_path / "eval"
    done = run_cli("--model", str(trained_onnx), str(scenes), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "eval.json").read_text())
    car = report["classes"]["ore_car"]
    assert car["labels"] == 6
    assert car["AP50"] > 0.5  # the briefly trained tiny model finds dark cars
    assert report["scenes"][0]["truth"]["ore_car"] == 6
    assert (out / "pr_curve.png").stat().st_size > 1000
    assert (out / "yard.errors.png").read_bytes()[:4] == b"\x89PNG"
    assert "ore_car" in done.stdout

    grouped = run_cli(
        "--model",
        str(trained_onnx),
        str(tif),
        "--level",
        "group",
        "--json",
        "--quiet",
        "--out",
        str(tmp_path / "g"),
    )
    assert grouped.returncode == 0, grouped.stderr
    assert json.loads(grouped.stdout)["classes"]["railcar"]["labels"] == 6


def test_bad_labels_exit_2_without_output(tmp_path, trained_onnx) -> None:
    tif = write_scene(tmp_path / "yard.tif", CARS, size=(420, 300))
    tif.with_suffix(".geojson").write_text("{not json")
    out = tmp_path / "eval"
    done = run_cli("--model", str(trained_onnx), str(tif), "--out", str(out), "--quiet")
    assert done.returncode == 2
    assert "yard.geojson" in done.stderr and "malformed JSON" in done.stderr
    assert not out.exists()


def test_split_paths_recognises_labels_argument(tmp_path) -> None:
    scenes = tmp_path / "scenes"
    labels = tmp_path / "labels"
    scenes.mkdir()
    labels.mkdir()
    (scenes / "a.tif").write_bytes(b"")
    assert split_paths([scenes]) == ([scenes], None)
    assert split_paths([scenes, labels]) == ([scenes], labels)
    assert split_paths([scenes, tmp_path / "x.json"]) == ([scenes], tmp_path / "x.json")
    assert split_paths([scenes / "a.tif", scenes]) == ([scenes / "a.tif", scenes], None)
    assert isinstance(split_paths([Path("a.tif")])[0][0], Path)


def test_calibrate_then_count_with_the_thresholds(tmp_path, trained_onnx, capsys) -> None:
    from coalwatch.cli import main

    tif = write_scene(tmp_path / "yard.tif", CARS, size=(420, 300))
    labels = SceneLabels([ObjectLabel("ore_car", b) for b in CARS], taxonomy="default")
    write_scene_labels(tif.with_suffix(".geojson"), labels, SceneGrid.from_raster(tif))
    out = tmp_path / "eval"
    done = run_cli("--model", str(trained_onnx), str(tif), "--calibrate", "--out", str(out))
    assert done.returncode == 0, done.stderr
    calibration = json.loads((out / "thresholds.json").read_text())
    assert calibration["views"] == 1 and set(calibration["class_score_thresholds"]) == {"ore_car"}
    car = calibration["classes"]["ore_car"]
    assert car["count_true"] == 6 and car["count_mae_after"] <= car["count_mae_before"]
    assert "count thresholds calibrated on 1 scene(s)" in done.stdout

    counts = tmp_path / "counts"
    args = [str(tif), "--model", str(trained_onnx), "--quiet", "--json", "--out", str(counts)]
    assert main(["count", *args, "--thresholds", str(out / "thresholds.json")]) == 0
    counted = json.loads(capsys.readouterr().out)["scenes"][0]["counts"]["ore_car"]
    assert abs(counted - 6) == car["count_mae_after"]  # one scene: its error is the MAE
    settings = json.loads((counts / "counts.json").read_text())["settings"]
    assert settings["score_thresholds"]["ore_car"] == car["threshold"]
    assert settings["score_thresholds"]["coal_heap"] == 0.5  # not calibrated: the model's
    assert settings["views"] == 1 and settings["thresholds_file"].endswith("thresholds.json")

    wrong_views = tmp_path / "wrong"
    args[-1] = str(wrong_views)
    assert main(["count", *args, "--thresholds", str(out / "thresholds.json"), "--views", "4"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "thresholds.json" in errors[0] and "--views 1" in errors[0]
    assert not wrong_views.exists()
