"""The video pipeline's network stage: batches in, stylised batches out, in order.

    from style_transfer.video.network_stage import network_workers, stylised_in_order
    workers = network_workers(budget=2, device_type="cpu")          # 2 workers of 1 thread
    for batch, outputs in stylised_in_order(model, batches, workers, timer):
        ...

On a CPU with a budget of two or more threads the network does not run as one OpenMP team over
the whole budget but as one single-threaded worker per thread, each on its own batch. A team is
only as fast as its slowest member at every layer's end, so the decoder or encoder waking on one
of its cores holds up the others (on 2 cores the pipeline ran at 73% of the network's own frame
rate); a single-threaded worker that loses its core for a moment loses that moment and no more.
Single-threaded convolutions also waste nothing on splitting the work: on 2 cores two of them
styled 384x256 frames faster than one team of two. Beside a GPU (or with one thread) there is
one worker, the calling thread.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from torch import nn

from shared.compiled import is_compiled
from shared.threads import cpu_threads
from style_transfer.johnson.infer import transform_images

Batch = list[np.ndarray]


def network_workers(budget: int, device_type: str) -> int:
    """How many batches the network computes at once, each on one thread of ``budget``."""
    if budget < 1:
        raise ValueError(f"a thread budget is at least 1, not {budget}")
    return budget if device_type == "cpu" else 1


class NetworkTimer:
    """Seconds of network work, summed over workers and divided by their number: the wall time
    the network would take alone with the same workers."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.total = 0.0

    @property
    def seconds(self) -> float:
        return self.total / self.workers

    def timed(self, fn: Callable[[], list]) -> list:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            self.total += time.perf_counter() - start  # a float add under the GIL: atomic


def stylised_in_order(
    model: nn.Module,
    batches: Iterable[Batch],
    workers: int,
    timer: NetworkTimer,
    preserve_color: bool = False,
) -> Iterator[tuple[Batch, list[np.ndarray]]]:
    """Each batch with its stylised frames, in the batches' order, ``workers`` at a time;
    ``preserve_color``: the frames keep their own colours (the network's luminance only)."""

    full = 0  # the first batch's size: a compiled network is built for it
    # A shorter last batch would make a compiled network build again, for any batch size
    # (seconds to minutes); repeated frames fill it instead, and instance norm keeps each
    # frame's result its own.
    fill = is_compiled(model)

    def stylise(batch: Batch) -> list[np.ndarray]:
        padded = batch + batch[-1:] * (full - len(batch)) if fill else batch
        return timer.timed(
            lambda: transform_images(
                model, padded, batch_size=len(padded), preserve_color=preserve_color
            )[: len(batch)]
        )

    batches = iter(batches)
    first = next(batches, None)
    if first is None:
        return
    full = len(first)
    batches = itertools.chain([first], batches)
    if workers == 1:
        for batch in batches:
            yield batch, stylise(batch)
        return
    # One thread per worker: torch's count is process-wide and each worker is its own team of 1.
    with cpu_threads(1), ThreadPoolExecutor(workers, thread_name_prefix="video-network") as pool:
        pending: deque[tuple[Batch, Future]] = deque()
        try:
            for batch in batches:
                pending.append((batch, pool.submit(stylise, batch)))
                if len(pending) > workers:  # one queued beyond the busy ones, no more
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:  # stopped early: what has not started never will
                future.cancel()
