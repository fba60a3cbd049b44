"""Per-photo work (preprocessing, drawing the sample set) spread over one process per core.

    for result in map_unordered(process_one, jobs, worker_count(None, len(jobs)), chunksize=8):
        ...

Results come back as they finish, not in job order. One worker means no pool at all: the jobs
run in this process, which is also what a debugger or a profiler wants, with OpenCV's threads
as the caller set them (:func:`shared.threads.opencv_threads`: ``prepare --threads``); in a
pool every worker computes on one thread.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.pool
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import cv2

from shared.errors import UserError


def worker_count(requested: int | None, jobs: int) -> int:
    """``requested`` (None: every core), but never more than there are jobs, and at least 1."""
    if requested is not None and requested < 1:
        raise UserError(f"--workers must be at least 1, not {requested}")
    wanted = (os.cpu_count() or 1) if requested is None else requested
    return max(1, min(wanted, jobs or 1))


def init_worker(*_: object) -> None:
    """A worker process's start (a pool's, or a DataLoader's: the worker id is ignored).

    One process per core already; OpenCV's own threads would oversubscribe the cores: workers
    x cores threads, each photo's resize or warp waiting for the slowest of them.
    """
    cv2.setNumThreads(1)


# OpenCV's thread pool does not survive a fork: a forked child (a DataLoader worker) that sets
# the count of a pool whose threads slept in its parent waits for them forever, on a condition
# variable only they could release. So before every fork of this process the pool shrinks to
# one thread, which the child keeps (a worker process wants no more), and the parent gets its
# count back after.
_counts_before_fork: list[int] = []


def _before_fork() -> None:
    _counts_before_fork.append(cv2.getNumThreads())
    cv2.setNumThreads(1)


def _after_fork_in_parent() -> None:
    cv2.setNumThreads(_counts_before_fork.pop())


if hasattr(os, "register_at_fork"):  # not on Windows, which never forks
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_counts_before_fork.clear,
    )


def worker_pool(workers: int) -> mp.pool.Pool:
    """A process pool that is safe to start from a process already running torch.

    ``fork`` copies the parent's thread pools (torch, OpenMP) mid-state and can deadlock the
    children; ``forkserver`` forks from a clean server process instead (``spawn`` where there is
    none).
    """
    methods = mp.get_all_start_methods()
    context = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
    return context.Pool(workers, initializer=init_worker)


def map_unordered(
    fn: Callable[[Any], Any], jobs: Iterable[Any], workers: int, chunksize: int = 1
) -> Iterator[Any]:
    """``fn`` over ``jobs``, here when ``workers`` is 1, else in a pool; results as they finish."""
    if workers <= 1:
        for job in jobs:
            yield fn(job)
        return
    with worker_pool(workers) as pool:
        yield from pool.imap_unordered(fn, jobs, chunksize=chunksize)
