"""Freed tensor memory kept for the next tensor of the process, not handed back to the system.

    from shared.allocator import keep_freed_memory
    keep_freed_memory()     # every command does this first (shared.cli.main)

On the CPU, torch takes each tensor's memory from the C library's ``malloc``. glibc serves a
block of 32 MB or more (a 1024 px feature map of 32 channels is 64 MB in bfloat16) by mapping
fresh pages and unmaps them on ``free``, so the next layer's output faults in and zeroes every
page again: the Johnson network at 1024 px in bfloat16, one thread, took 1.0 s a pass with
about 200,000 page faults, and 0.68 s with none once its memory is kept. Raising glibc's
mapping and trimming thresholds keeps freed blocks in the heap, where later tensors reuse them.
The cost is memory: the process keeps its peak until it exits, as PyTorch's CUDA allocator
does, plus what the heap's fragmentation holds (that pass peaked at 1105 MB against 846 MB).

Numbers are unchanged: only where the memory comes from moves. Nothing is changed off glibc
(macOS, musl) or where the user has chosen: ``MALLOC_MMAP_THRESHOLD_`` or
``MALLOC_TRIM_THRESHOLD_`` set, jemalloc or tcmalloc preloaded, or ``VISIONLAB_MALLOC=system``.
"""

from __future__ import annotations

import ctypes
import os
import platform

OPT_OUT = "VISIONLAB_MALLOC"  # "system": leave the C library's allocator as it is
# mallopt's parameters (malloc.h). A block above 1 GB is still mapped on its own (at the largest
# value mallopt takes, 2**31 - 1, glibc 2.36 reused freed blocks only now and then).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MAPPED_ABOVE, TRIMMED_ABOVE = 2**30, 2**31 - 1
_USER_CHOICES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
_OTHER_ALLOCATORS = ("jemalloc", "tcmalloc", "mimalloc")

_applied: list[bool] = []


def keep_freed_memory() -> bool:
    """Keep freed blocks for reuse (once per process); True when glibc took the settings."""
    if not _applied:
        _applied.append(_apply())
    return _applied[0]


def _apply() -> bool:
    if os.environ.get(OPT_OUT, "").lower() == "system":
        return False
    if any(name in os.environ for name in _USER_CHOICES):
        return False
    if any(name in os.environ.get("LD_PRELOAD", "") for name in _OTHER_ALLOCATORS):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    # the mapping threshold first: a block under it comes from the heap, and the heap is only
    # handed back above the trimming threshold
    mapped = libc.mallopt(M_MMAP_THRESHOLD, ctypes.c_int(MAPPED_ABOVE))
    trimmed = libc.mallopt(M_TRIM_THRESHOLD, ctypes.c_int(TRIMMED_ABOVE))
    return bool(mapped and trimmed)
