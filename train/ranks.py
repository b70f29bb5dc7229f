"""Which process of a multi-process (DDP) run this is, for the run folder's sake.

Lightning's DDP launcher starts each extra process on a node by running the same command
again (``LOCAL_RANK`` 1, 2, ...); torchrun and SLURM start every process that way. Only the
main process may create, fill and rename the run folder: the others wait until it has
written the config and the chips, then join the fit in ``RUN.partial``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from coalwatch.errors import CoalwatchError

RANK_VARIABLES = ("LOCAL_RANK", "NODE_RANK", "RANK", "SLURM_PROCID")
WAIT_SECONDS = 3600.0


def launched_worker() -> bool:
    """True in a process started beside the main one of a DDP run (any rank variable > 0)."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return True
    return False


def wait_for(paths: Sequence[Path], timeout: float = WAIT_SECONDS, poll: float = 1.0) -> None:
    """Block until every path exists (the main process prepares them), or fail."""
    deadline = time.monotonic() + timeout
    while not all(Path(p).exists() for p in paths):
        if time.monotonic() > deadline:
            missing = [str(p) for p in paths if not Path(p).exists()]
            raise CoalwatchError(f"DDP worker: the main process never wrote {', '.join(missing)}")
        time.sleep(poll)
