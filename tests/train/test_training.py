"""A tiny training run on generated chips: it learns, writes its run folder, resumes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from coalwatch.model.checkpoint import load_detector
from coalwatch.train.config import load_run_config
from coalwatch.train.datamodule import check_chip_folder
from coalwatch.train.metrics import DetectionMetrics
from coalwatch.train.run import train

EPOCHS = 14


@pytest.fixture(scope="module")
def trained(tmp_path_factory, request):
    """One run shared by the tests of this module: (run folder, chips folder, config path)."""
    root = tmp_path_factory.mktemp("tiny")
    gen = request.getfixturevalue("chipgen")
    chips = gen.write_folder(root / "chips", n_train=16, n_val=6, empty_train=2)
    config = root / "tiny.yaml"
    text = request.getfixturevalue("tiny_config_text")
    config.write_text(text.format(chips=chips, epochs=EPOCHS))
    run, resolved = load_run_config(config, ["inference.class_score_thresholds={ore_car: 0.6}"])
    result = train(run, resolved, root / "run")
    return result, chips, config


def _val_map50(model, chips: Path) -> float:
    from coalwatch.labels.taxonomy import load_taxonomy
    from coalwatch.train.datamodule import ChipDataModule

    taxonomy = load_taxonomy("default")
    data = ChipDataModule(check_chip_folder(chips, taxonomy), 96, None, batch_size=4)
    metrics = DetectionMetrics(taxonomy.classes, 0.5)
    model.eval()
    with torch.no_grad():
        for images, targets in data.dataset_loader("val"):
            metrics.update(model(images), targets)
    return metrics.compute()["mAP50"]


def test_training_learns_and_writes_the_run_folder(trained) -> None:
    result, chips, _ = trained
    run_dir = result.run_dir
    for name in ("best.ckpt", "last.ckpt", "config.yaml", "metrics.json", "curves.png"):
        assert (run_dir / name).is_file(), name
    assert not run_dir.with_name(run_dir.name + ".partial").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = metrics["history"]
    assert len(history) == EPOCHS and metrics["global_step"] == EPOCHS * 4
    losses = [h["train/loss"] for h in history]
    assert sum(losses[-3:]) / 3 < 0.8 * losses[0]
    # trivial baseline: the same architecture untrained (seeded) scores about zero
    model, config, _ = load_detector(run_dir / "best.ckpt")
    trained_map = _val_map50(model, chips)
    assert trained_map == pytest.approx(metrics["best"]["mAP50"], abs=1e-6)
    from coalwatch.model.detector import build_detector

    torch.manual_seed(0)
    baseline = _val_map50(build_detector(config["detector"]), chips)
    assert trained_map > max(0.5, baseline + 0.4), (trained_map, baseline)
    assert config["inference"]["gsd_m"] == 0.5 and config["inference"]["tile_overlap"] == 16
    assert config["inference"]["class_score_thresholds"] == {"ore_car": 0.6}
    resolved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert resolved["trainer"]["max_epochs"] == EPOCHS and config["run"] == resolved


def test_resume_in_place_continues_at_the_right_step(trained, tmp_path) -> None:
    result, _, config = trained
    run_dir = shutil.copytree(result.run_dir, tmp_path / "run")
    run, resolved = load_run_config(config, [f"trainer.max_epochs={EPOCHS + 1}"])
    resumed = train(run, resolved, run_dir, resume=run_dir / "last.ckpt")
    assert resumed.run_dir == run_dir and not (tmp_path / "run.partial").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == (EPOCHS + 1) * 4
    assert [h["epoch"] for h in metrics["history"]] == list(range(EPOCHS + 1))
    state = torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["global_step"] == (EPOCHS + 1) * 4 and state["epoch"] == EPOCHS
    assert sorted(p.name for p in (run_dir / "logs").iterdir() if p.name.startswith("csv")) == [
        "csv",
        "csv-1",
    ]


def test_resume_into_a_new_folder(trained, tmp_path) -> None:
    result, _, config = trained
    run, resolved = load_run_config(config, [f"trainer.max_epochs={EPOCHS + 1}"])
    resumed = train(run, resolved, tmp_path / "next", resume=result.run_dir / "last.ckpt")
    metrics = json.loads((resumed.run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == (EPOCHS + 1) * 4
    assert [h["epoch"] for h in metrics["history"]] == [EPOCHS]
    assert (resumed.run_dir / "best.ckpt").is_file()


def test_same_seed_same_weights(tiny_config, tmp_path) -> None:
    """Seeded runs (shuffling, augmentation, initialisation) give identical weights."""
    config = tiny_config()
    weights = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        run, resolved = load_run_config(config, ["trainer.max_steps=3", f"seed={seed}"])
        result = train(run, resolved, tmp_path / name)
        state = torch.load(result.run_dir / "last.ckpt", map_location="cpu", weights_only=True)
        weights.append(state["state_dict"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_resume_with_another_model_config_is_refused(trained, tmp_path) -> None:
    from coalwatch.errors import InputError

    result, _, config = trained
    run, resolved = load_run_config(config, ["model.fpn_channels=32"])
    with pytest.raises(InputError, match="another model config"):
        train(run, resolved, tmp_path / "other", resume=result.run_dir / "last.ckpt")
    assert not (tmp_path / "other").exists() and not (tmp_path / "other.partial").exists()
