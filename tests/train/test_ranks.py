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
from coalwatch.train import ranks
from coalwatch.train.config import load_run_config
from coalwatch.train.ranks import (
    LAUNCH_FILE,
    LAUNCH_VARIABLE,
    RANK_VARIABLES,
    launched_worker,
    main_launch_id,
    wait_for,
    worker_launch_id,
)
from coalwatch.train.run import train

LAUNCHER_VARIABLES = ("SLURM_JOB_ID", "SLURM_STEP_ID", "TORCHELASTIC_RUN_ID")


@pytest.fixture
def no_rank(monkeypatch):
    for name in (*RANK_VARIABLES, *LAUNCHER_VARIABLES, LAUNCH_VARIABLE):
        monkeypatch.setenv(name, "")  # restored afterwards, also when the code sets it
        monkeypatch.delenv(name)
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


def test_waiting_for_a_file_holding_another_launch_fails_as_stale(tmp_path) -> None:
    launch = tmp_path / LAUNCH_FILE
    launch.write_text("earlier\n")
    with pytest.raises(CoalwatchError, match="another launch"):
        wait_for([], timeout=0.05, poll=0.01, contents={launch: "this"})
    launch.write_text("this\n")
    wait_for([], timeout=0.05, poll=0.01, contents={launch: "this"})


def test_the_launch_id_comes_from_the_launcher_else_is_made_and_exported(no_rank) -> None:
    made = main_launch_id()
    assert len(made) == 32 and os.environ[LAUNCH_VARIABLE] == made
    assert main_launch_id() != made  # each run of the main process is a new launch
    assert worker_launch_id() == os.environ[LAUNCH_VARIABLE]  # inherited by Lightning's workers
    no_rank.delenv(LAUNCH_VARIABLE)
    assert worker_launch_id() is None  # no launcher id: nothing to compare
    no_rank.setenv("TORCHELASTIC_RUN_ID", "none")  # torchrun's default: not one launch's
    assert worker_launch_id() is None
    no_rank.setenv("TORCHELASTIC_RUN_ID", "abc")
    assert main_launch_id() == worker_launch_id() == "torchrun-abc.0"
    no_rank.delenv(LAUNCH_VARIABLE)
    no_rank.setenv("SLURM_JOB_ID", "77")
    no_rank.setenv("SLURM_STEP_ID", "3")
    assert worker_launch_id() == "slurm-77.3" == main_launch_id()


def test_a_worker_does_not_join_a_stale_run_folder(tiny_config, tmp_path, no_rank) -> None:
    """torchrun and SLURM start every process at once: a worker that finds ``RUN.partial``
    of an earlier launch waits for its own main process, and fails if it never comes."""
    run, resolved = load_run_config(tiny_config())
    out = tmp_path / "run"
    stale = out.with_name("run.partial")
    stale.mkdir()
    (stale / "config.yaml").write_text("from an earlier run\n")
    (stale / LAUNCH_FILE).write_text("earlier\n")
    no_rank.setenv("RANK", "1")
    no_rank.setenv("SLURM_JOB_ID", "78")
    no_rank.setattr(ranks, "WAIT_SECONDS", 0.5)
    with pytest.raises(CoalwatchError, match=r"launch\.id is from another launch"):
        train(run, resolved, out)


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
    assert len((out / LAUNCH_FILE).read_text().strip()) == 32  # made by the main process
    metrics = json.loads((out / "metrics.json").read_text())
    # each process takes 6 of the 12 training chips: two batches (of up to 4) per epoch
    assert metrics["global_step"] == 2 * 2
    model, config, _ = load_detector(out / "best.ckpt")
    assert config["run"]["trainer"]["devices"] == 2
    with torch.no_grad():
        assert len(model([torch.rand(3, 96, 96)])) == 1
