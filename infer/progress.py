"""Progress over scenes, tiles and pictures (rich, on stderr)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from coalwatch.infer.counting import SceneResult


class CountingProgress:
    """Two bars: scenes done, and tiles of the scene being read; a third for the pictures
    drawn after counting."""

    def __init__(self, progress: Progress | None, scenes: int) -> None:
        self._progress = progress
        if progress is not None:
            self._scenes = progress.add_task("scenes", total=scenes)
            self._tiles = progress.add_task("tiles", total=None)

    def tiles(self, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._tiles, completed=done, total=total)

    def scene_done(self, result: SceneResult) -> None:
        if self._progress is not None:
            counted = ", ".join(f"{k} {v}" for k, v in result.counts.items() if v)
            self._progress.console.log(f"{result.scene_id}: {counted or 'nothing'}")
            self._progress.advance(self._scenes)

    def pictures(self, total: int) -> Callable[[Path], None]:
        """Start a bar of ``total`` pictures; returns what to call as each is drawn."""
        progress = self._progress
        if progress is None:
            return lambda path: None
        task = progress.add_task("pictures", total=total)
        return lambda path: progress.advance(task)


@contextmanager
def counting_progress(scenes: int, enabled: bool = True) -> Iterator[CountingProgress]:
    """A ``CountingProgress`` shown on stderr while the block runs (silent if disabled)."""
    if not enabled:
        yield CountingProgress(None, scenes)
        return
    columns = (
        TextColumn("{task.description:>6}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        yield CountingProgress(progress, scenes)
