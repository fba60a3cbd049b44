"""Shared fixtures for the whole suite. Tiny images, tiny models, few steps: CPU only."""

from __future__ import annotations

import os
from collections.abc import Iterator

import matplotlib
import pytest
import torch

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _deterministic():
    """Every test starts seeded and leaves torch's thread count as it found it: float
    reductions depend on the count, so one test choosing threads by load must not change the
    numbers of the next."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _fresh_notices():
    """Each test sees the once-per-process notices (random weights, a failed download) as a new
    command would: none given yet, the network not yet found missing."""
    from shared.backbones.weights import forget_notices

    forget_notices()
    yield
    forget_notices()


@pytest.fixture(scope="session", autouse=True)
def _isolated_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test reads or writes the user's weights cache or the project's own cache (prepared
    photos, precision verdicts). Session-wide, so session fixtures (a trained run) and the
    subprocesses tests start see the same folders as every test."""
    base = tmp_path_factory.getbasetemp()
    patch = pytest.MonkeyPatch()
    patch.setenv("TORCH_HOME", str(base / "torch_home"))
    patch.setenv("XDG_CACHE_HOME", str(base / "xdg_cache"))
    patch.setenv("VISIONLAB_OFFLINE", os.environ.get("VISIONLAB_OFFLINE", "1"))
    yield
    patch.undo()
