"""shared.allocator: a freed large tensor's memory serves the next one without new page faults,
and the user's own allocator choices are left alone."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from shared import allocator

ROOT = Path(__file__).resolve().parents[2]
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# Page faults of a layer's 64 MB output (a ReLU of a 32-channel 1024 px map in bfloat16), made
# and freed 20 times, the last 10 counted: with freed memory kept, the first few grow the heap
# (glibc's aligned allocation asks for a little more than a freed block of the same size) until
# freed blocks merge and serve every later one; without, each is mapped and faulted in afresh.
FAULTS = """
import resource, sys, torch
from shared.allocator import keep_freed_memory
kept = keep_freed_memory()
x = torch.randn(1, 32, 1024, 1024, dtype=torch.bfloat16)
def faults_of_a_layer():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.relu(x)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults = [faults_of_a_layer() for _ in range(20)]
print(kept, sum(faults[10:]))
"""


def _layer_faults(**env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", FAULTS], env={**clean, "PYTHONPATH": str(ROOT),
                          "OMP_NUM_THREADS": "1", **env}, capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    kept, faults = done.stdout.split()
    return kept, int(faults)


@pytest.mark.skipif(not GLIBC, reason="glibc's allocator")
def test_freed_memory_is_reused_without_faulting_it_in_again() -> None:
    kept, faults = _layer_faults()
    assert kept == "True" and faults < 300  # 64 MB is 16384 pages of 4 KB
    kept, faults = _layer_faults(VISIONLAB_MALLOC="system")
    assert kept == "False" and faults > 10 * 15000  # glibc maps each afresh


@pytest.mark.parametrize(
    "env",
    [{"VISIONLAB_MALLOC": "system"}, {"MALLOC_TRIM_THRESHOLD_": "0"},
     {"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}],
)  # fmt: skip
def test_the_users_own_choice_is_left_alone(monkeypatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert allocator._apply() is False
