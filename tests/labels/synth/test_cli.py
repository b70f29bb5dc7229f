"""The synth verb writes scenes and rejects bad input with one line and no output."""

from __future__ import annotations

import yaml

from coalwatch.cli import main
from coalwatch.resources import shipped_config


def _tiny_yaml(tmp_path):
    raw = yaml.safe_load(shipped_config("synth/coal_port.yaml").read_text())
    raw.update(size_px=[256, 256], gsd_m=3.0, name="tiny_port")
    path = tmp_path / "tiny_port.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_cli_writes_scenes_and_previews(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(
        [
            "synth",
            "--scenario",
            str(_tiny_yaml(tmp_path)),
            "--out",
            str(out),
            "--count",
            "2",
            "--seed",
            "4",
            "--preview",
        ]
    )
    assert rc == 0
    assert len(list(out.glob("*.tif"))) == 2
    assert len(list(out.glob("*.geojson"))) == 2
    assert len(list(out.glob("*_preview.png"))) == 2
    assert "wrote 2 scene(s)" in capsys.readouterr().out


def test_cli_rejects_unknown_scenario(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["synth", "--scenario", "no_such_place", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and "no_such_place" in err
    assert not out.exists()


def test_cli_rejects_bad_gsd_and_bad_yaml(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["synth", "--scenario", str(_tiny_yaml(tmp_path)), "--out", str(out), "--gsd", "9"])
    assert rc == 2 and "gsd" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsite: volcano\nplace: {lon: 1, lat: 2, epsg: 32652}\n")
    rc = main(["synth", "--scenario", str(bad), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "bad.yaml" in err and "site" in err
    assert not out.exists() or not any(out.iterdir())


def test_cli_series_needs_a_script(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["synth", "--scenario", str(_tiny_yaml(tmp_path)), "--out", str(out), "--series"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "series" in err
