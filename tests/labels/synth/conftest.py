"""Small, fast synthetic scenes shared by the synth tests (rendered once per session)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from coalwatch.labels.synth import load_scenario, render_scenario


def small(name: str, size: int, **changes):
    """A shipped scenario shrunk to ``size`` pixels a side (and other field changes)."""
    scenario = load_scenario(name)
    return dataclasses.replace(scenario, size_px=(size, size), **changes)


@pytest.fixture(scope="session")
def shrink():
    """The ``small`` helper, for tests that need their own variant of a scenario."""
    return small


@pytest.fixture(scope="session")
def scenes(tmp_path_factory) -> dict[str, Path]:
    """One small scene per shipped single-scene scenario: name -> tif path."""
    out = tmp_path_factory.mktemp("synth")
    sizes = {"rail_crossing": 1024, "coal_port": 768, "mine": 640}
    paths = {}
    for name, size in sizes.items():
        (tif,) = render_scenario(small(name, size, cloud_probability=0.0), out, seed=3)
        paths[name] = tif
    return paths
