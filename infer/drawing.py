"""Draw many pictures, in order, in parallel processes when asked, reporting each one drawn.

Counting a series in ``--workers`` processes leaves its scene pictures (0.5-1 s a 2,048 px
scene, 7 s a 16,384 px one) to be drawn afterwards; with ``workers`` > 1 they are drawn in
a pool of that many processes too. Each process holds one scene's picture at a time (about
300 MiB for a 16,384 px scene).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

# A picture to draw: a module-level function returning the path it wrote, and its arguments.
PictureJob = tuple[Callable[..., Path], tuple[Any, ...]]


def draw_all(
    jobs: Sequence[PictureJob],
    workers: int = 1,
    on_drawn: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Run every job, in this process or in ``workers`` processes; returns the paths in the
    jobs' order and calls ``on_drawn`` with each as it is done (in that order)."""
    paths: list[Path] = []
    if workers <= 1 or len(jobs) <= 1:
        for draw, args in jobs:
            paths.append(draw(*args))
            if on_drawn:
                on_drawn(paths[-1])
        return paths
    processes = min(workers, len(jobs))
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(draw, *args) for draw, args in jobs]
        for future in futures:
            paths.append(future.result())
            if on_drawn:
                on_drawn(paths[-1])
    return paths
