"""Errors that the command line turns into one clear line and a non-zero exit."""

from __future__ import annotations

from os import PathLike


class CoalwatchError(Exception):
    """An expected failure the user can act on; the CLI prints it as one line."""


class InputError(CoalwatchError):
    """Bad input: names the offending file and the problem in one line."""

    def __init__(self, path: str | PathLike[str] | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = " ".join(problem.split())
        super().__init__(self.problem if self.path is None else f"{self.path}: {self.problem}")
