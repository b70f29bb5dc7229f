"""Which process of a multi-process (DDP) run this is, for the run folder's sake.

Lightning's DDP launcher starts each extra process on a node by running the same command
again (``LOCAL_RANK`` 1, 2, ...); torchrun and SLURM start every process that way. Only the
main process may create, fill and rename the run folder: the others wait until it has
written the config and the chips, then join the fit in ``RUN.partial``.

Under torchrun and SLURM every process starts at once, so a worker could find a
``RUN.partial`` left by an earlier, stopped run before the main process replaces it. The
main process therefore writes a launch id into the folder first (``launch.id``), and the
workers wait for their own: one the launcher gives every process (SLURM's job and step,
torchrun's rendezvous id), else one the main process makes and passes on to the processes
Lightning starts (``COALWATCH_LAUNCH_ID`` in their environment). torchrun without
``--standalone`` or ``--rdzv-id`` names every launch "none": its workers cannot tell.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from coalwatch.errors import CoalwatchError

RANK_VARIABLES = ("LOCAL_RANK", "NODE_RANK", "RANK", "SLURM_PROCID")
LAUNCH_VARIABLE = "COALWATCH_LAUNCH_ID"
LAUNCH_FILE = "launch.id"
WAIT_SECONDS = 3600.0


def launched_worker() -> bool:
    """True in a process started beside the main one of a DDP run (any rank variable > 0)."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return True
    return False


def launcher_id() -> str | None:
    """The id a multi-process launcher gives every process of one launch, if any."""
    job = os.environ.get("SLURM_JOB_ID")
    if job:
        return f"slurm-{job}.{os.environ.get('SLURM_STEP_ID', '')}"
    rendezvous = os.environ.get("TORCHELASTIC_RUN_ID", "none")
    if rendezvous != "none":  # torchrun's default id is "none": not one launch's
        restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        return f"torchrun-{rendezvous}.{restart}"
    return None


def main_launch_id() -> str:
    """The main process's launch id: the launcher's, else a new one, exported to the
    processes Lightning's DDP launcher will start from this environment."""
    launch = launcher_id() or uuid.uuid4().hex
    os.environ[LAUNCH_VARIABLE] = launch
    return launch


def worker_launch_id() -> str | None:
    """A launched worker's launch id (None: no launcher named one, nothing to check)."""
    return os.environ.get(LAUNCH_VARIABLE) or launcher_id()


def wait_for(
    paths: Sequence[Path],
    timeout: float | None = None,
    poll: float = 1.0,
    contents: Mapping[Path, str] | None = None,
) -> None:
    """Block until every path exists (the main process prepares them) and each file of
    ``contents`` holds its text, or fail after ``timeout`` seconds (``WAIT_SECONDS``)."""
    contents = contents or {}
    deadline = time.monotonic() + (WAIT_SECONDS if timeout is None else timeout)
    while True:
        missing = [str(p) for p in [*paths, *contents] if not Path(p).exists()]
        stale = [] if missing else [str(p) for p, t in contents.items() if _read(p) != t]
        if not missing and not stale:
            return
        if time.monotonic() > deadline:
            problem = (
                f"the main process never wrote {', '.join(missing)}"
                if missing
                else f"{', '.join(stale)} is from another launch (a stale run folder)"
            )
            raise CoalwatchError(f"DDP worker: {problem}")
        time.sleep(poll)


def _read(path: Path) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:  # being replaced
        return None
