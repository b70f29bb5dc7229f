"""Run jobs in order, in a pool of processes when asked, reporting each result as it comes.

``coalwatch count --workers N`` counts scenes in N processes and then draws their pictures
(0.5-1 s a 2,048 px scene, 7 s a 16,384 px one) in N processes too. Processes are spawned,
so a job is a module-level function and picklable arguments; each process holds one job at
a time (a 16,384 px scene's picture: about 300 MiB).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

T = TypeVar("T")
# A job: a module-level function and its arguments.
Job = tuple[Callable[..., T], tuple[Any, ...]]


def run_in_order(
    jobs: Sequence[Job[T]], workers: int = 1, on_done: Callable[[T], None] | None = None
) -> list[T]:
    """Run every job, in this process or in ``workers`` processes; returns the results in the
    jobs' order and calls ``on_done`` with each as it is ready (in that order)."""
    results: list[T] = []
    if workers <= 1 or len(jobs) <= 1:
        for function, args in jobs:
            results.append(function(*args))
            if on_done:
                on_done(results[-1])
        return results
    processes = min(workers, len(jobs))
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(function, *args) for function, args in jobs]
        for future in futures:
            results.append(future.result())
            if on_done:
                on_done(results[-1])
    return results
