"""shared.threads.auto_threads: as many threads as there are idle cores, at least one."""

from __future__ import annotations

import os

import pytest
import torch

from shared.threads import auto_threads


@pytest.mark.parametrize(("load", "expected"), [(0.0, 2), (0.9, 2), (1.2, 1), (5.0, 1)])
def test_threads_follow_the_idle_cores(monkeypatch, load: float, expected: int) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    threads = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        assert auto_threads() == expected
    finally:
        torch.set_num_threads(threads)


def test_never_more_than_torch_would_use(monkeypatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert auto_threads() == torch.get_num_threads()
