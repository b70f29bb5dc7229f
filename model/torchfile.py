"""Reading local torch files (checkpoints, weights) with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from coalwatch.errors import InputError


def load_torch_file(path: str | Path, missing: str, unreadable: str) -> Any:
    """``torch.load`` a local file onto the CPU (tensors only, no pickled code).

    ``missing`` and ``unreadable`` are the problems reported when the file is absent or
    cannot be read, e.g. ``"checkpoint not found"`` and ``"not a readable checkpoint"``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, missing)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(path, f"{unreadable} ({type(exc).__name__})") from exc
