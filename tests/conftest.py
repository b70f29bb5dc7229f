"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_data(name: str) -> Path:
    """A folder of the shared data sets (``$COALWATCH_SHARED_DATA`` or ``../shared/data``)."""
    repo = Path(__file__).resolve().parents[2]
    roots = [
        os.environ.get("COALWATCH_SHARED_DATA"),
        repo / "shared/data",
        repo.parent / "shared/data",
    ]
    for root in filter(None, roots):
        if (Path(root) / name).is_dir():
            return Path(root) / name
    message = f"shared data set {name} not found (set COALWATCH_SHARED_DATA)"
    if os.environ.get("CI"):  # CI lays shared/ beside the clone: missing data is a failure
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def sen2ships() -> Path:
    """The shared sen2ships development set (7 port scenes, 191 ships)."""
    return shared_data("sen2ships-dev")
