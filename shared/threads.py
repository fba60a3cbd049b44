"""How many CPU threads a command computes with.

    from shared.threads import choose_threads, cpu_threads, resumed_threads
    with cpu_threads(None):        # the idle cores (auto_threads); cpu_threads(3): three
        ...                        # the previous count is given back after the block
    threads = choose_threads(None)         # a training run: chosen once, recorded in config.json
    with cpu_threads(resumed_threads(recorded, asked)):   # its resume: the recorded count
        ...

Intra-op threads wait for each other at every operator; on a machine busy with other work a
descheduled thread stalls the rest, and one thread can run several times faster than two (an
epoch 4.8x, a video 14x, with one of two cores taken by another job).

Float reductions (a convolution's gradient, a Gram matrix) depend on the count, so a training run
computes with one count from its first operation to its last, and a resumed run with the count
it recorded, whatever the load says then: otherwise "exact resume" is not.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from shared.errors import UserError


def auto_threads() -> int:
    """CPU threads worth using now: the cores not already busy, >= 1.

    Busy is the 1-minute load average, but no more than the threads other than ours runnable
    at this moment (:func:`running_elsewhere`, where the system tells): the average still holds
    a job that has just ended, such as the previous command, which would otherwise halve the
    next one's threads for a minute.
    """
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # not available on every platform
        return torch.get_num_threads()
    cores, most = os.cpu_count() or 1, torch.get_num_threads()
    if math.ceil(cores - busy) < most:  # only then can what runs now give more threads (10 ms)
        now = running_elsewhere()
        if now is not None:
            busy = min(busy, now)
    # Rounded up: a core that is mostly idle is worth a thread (2 cores, load 0.9: 2 threads
    # ran a 512 px style transfer 1.7x faster than 1; at load 5, 1 thread ran it 1.7x faster
    # than 2).
    return max(1, min(most, math.ceil(cores - busy)))


def running_elsewhere(readings: int = 3, gap: float = 0.005) -> int | None:
    """Threads runnable on the machine now besides the caller: the most of ``readings`` of the
    kernel's run queue ``gap`` s apart (a job between bursts is still seen); None where the
    system does not say (not Linux)."""
    counts = []
    for k in range(readings):
        if k:
            time.sleep(gap)
        try:
            with open("/proc/stat", "rb") as stat:
                running = next(line for line in stat if line.startswith(b"procs_running"))
        except (OSError, StopIteration):
            return None
        counts.append(int(running.split()[1]) - 1)  # the reader itself is running
    return max(counts)


def choose_threads(count: int | None) -> int:
    """The count a command computes with: ``count``, or by load (:func:`auto_threads`) when None."""
    if count is not None and count < 1:
        raise UserError(f"threads must be at least 1, not {count}")
    return count or auto_threads()


def resumed_threads(recorded: int | None, asked: int | None) -> int | None:
    """The count a resumed run computes with: the one it recorded, not ``asked`` nor the load.

    ``recorded`` None (a run from before the count was recorded in its config): ``asked``, and
    the checkpoint's own record then sets the count for the training (:mod:`shared.engine.resume`).
    """
    if recorded is None:
        return asked
    if asked is not None and asked != recorded:
        warnings.warn(
            f"computing with the run's own {recorded} CPU thread(s), not {asked}: an exact "
            "resume needs the count the run was trained with",
            stacklevel=2,
        )
    return recorded


@contextmanager
def cpu_threads(count: int | None) -> Iterator[int]:
    """Torch's intra-op thread count inside the block: ``count``, or by load when None."""
    chosen = choose_threads(count)
    before = torch.get_num_threads()
    torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        torch.set_num_threads(before)


@contextmanager
def opencv_threads(count: int) -> Iterator[int]:
    """OpenCV's own thread pool in this process inside the block: ``count`` threads; the
    previous count after it. The commands count OpenCV's threads in the same budget as torch's:
    both pools compete for the same cores."""
    import cv2  # only the commands that use OpenCV pay for its import

    before = cv2.getNumThreads()
    cv2.setNumThreads(count)
    try:
        yield count
    finally:
        cv2.setNumThreads(before)
