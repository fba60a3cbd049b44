"""Shared fixtures for the whole suite. Tiny images, tiny models, few steps: CPU only."""

from __future__ import annotations

import os

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
def _isolated_torch_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """No test reads or writes the user's weights cache, or the project's own cache."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.getbasetemp() / "torch_home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg_cache"))
    os.environ.setdefault("VISIONLAB_OFFLINE", "1")
