"""(placeholder: this verb is being built; see the open issues)."""

from __future__ import annotations

import argparse

from coalwatch.errors import CoalwatchError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No arguments yet."""


def run(args: argparse.Namespace) -> int:
    """Not built yet."""
    raise CoalwatchError("this verb is not built yet")
