"""Multi-process (DDP) runs: only the main process builds the run folder; the others join."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from coalwatch.errors import CoalwatchError
from coalwatch.model.checkpoint import load_detector
from coalwatch.train.ranks import RANK_VARIABLES, launched_worker, wait_for


@pytest.fixture
def no_rank(monkeypatch):
    for name in RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_process_with_a_rank_above_zero_is_a_worker(no_rank) -> None:
    assert not launched_worker()
    no_rank.setenv("LOCAL_RANK", "0")
    no_rank.setenv("SLURM_PROCID", "0")
    assert not launched_worker()
    no_rank.setenv("LOCAL_RANK", "1")
    assert launched_worker()
    no_rank.setenv("LOCAL_RANK", "0")
    no_rank.setenv("NODE_RANK", "2")  # the main process of another node
    assert launched_worker()


def test_waiting_for_what_never_comes_fails_with_its_name(tmp_path) -> None:
    there = tmp_path / "config.yaml"
    there.write_text("x")
    wait_for([there], timeout=0.1, poll=0.01)
    with pytest.raises(CoalwatchError, match=r"train\.json"):
        wait_for([there, tmp_path / "train.json"], timeout=0.05, poll=0.01)


def test_two_process_ddp_run_on_cpu_lands_one_run_folder(tiny_config, tmp_path, no_rank) -> None:
    """``coalwatch train`` with two DDP processes (gloo, one thread each): Lightning starts the
    second by running the command again; the run folder is built once and lands whole."""
    coalwatch = shutil.which("coalwatch", path=str(Path(sys.executable).parent))
    assert coalwatch, "the coalwatch command is installed beside this Python"
    out = tmp_path / "run"
    args = ["trainer.devices=2", "trainer.strategy=ddp", "trainer.num_threads=1"]
    args += ["trainer.max_epochs=2"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [coalwatch, "train", "--config", str(tiny_config()), "--out", str(out), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert not out.with_name("run.partial").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    # each process takes 6 of the 12 training chips: two batches (of up to 4) per epoch
    assert metrics["global_step"] == 2 * 2
    model, config, _ = load_detector(out / "best.ckpt")
    assert config["run"]["trainer"]["devices"] == 2
    with torch.no_grad():
        assert len(model([torch.rand(3, 96, 96)])) == 1
