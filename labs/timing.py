"""Timing for the benches: implementations alternated, medians kept."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_times(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per run; the candidates alternate so load changes hit all alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for fn in runs.values():
        fn()  # warm-up: oneDNN builds its kernels for the shape
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}
