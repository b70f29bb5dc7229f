"""Locate the YAML configs shipped inside the package (``configs/`` in the repo)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from coalwatch.errors import InputError


def shipped_config(relative: str) -> Path:
    """Path of a shipped config, e.g. ``"taxonomy/default.yaml"`` or ``"synth/port.yaml"``."""
    path = Path(str(files("coalwatch.configs").joinpath(relative)))
    if not path.is_file():
        raise InputError(relative, "no such shipped config")
    return path


def resolve_config(name_or_path: str, folder: str, suffix: str = ".yaml") -> Path:
    """A file path if it exists, else the shipped config ``folder/name.yaml``."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    if path.suffix == "" and "/" not in name_or_path:
        rel = f"{folder}/{name_or_path}{suffix}" if folder else f"{name_or_path}{suffix}"
        try:
            return shipped_config(rel)
        except InputError:
            pass
    raise InputError(name_or_path, "no such config file or shipped config name")
