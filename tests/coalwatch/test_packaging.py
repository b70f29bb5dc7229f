"""The wheel holds every subpackage and the shipped configs, and imports from elsewhere."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (path,) = out.glob("coalwatch-*.whl")
    return path


def test_wheel_maps_folders_under_coalwatch(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("coalwatch-")}
    assert tops == {"coalwatch"}, tops
    for sub in ("labels", "labels/synth", "model", "train", "infer", "configs"):
        assert f"coalwatch/{sub}/__init__.py" in names, sub
    assert "coalwatch/configs/taxonomy/default.yaml" in names


def test_wheel_imports_from_elsewhere(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    probe = (
        "import coalwatch, coalwatch.labels.taxonomy as t;"
        f"assert coalwatch.__file__.startswith({str(target)!r}), coalwatch.__file__;"
        "print(t.load_taxonomy('default').classes)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "ore_car" in result.stdout
