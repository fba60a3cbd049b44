"""shared.threads: as many threads as there are idle cores, at least one, set for a block."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

import shared.threads
from shared.errors import UserError
from shared.threads import (
    auto_threads,
    choose_threads,
    cpu_threads,
    resumed_threads,
    running_elsewhere,
)


def busy_machine(monkeypatch, load: float, running: int | None) -> None:
    """A 2-core machine with this load average and ``running`` other threads runnable now."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(shared.threads, "running_elsewhere", lambda: running)


@pytest.mark.parametrize(("load", "expected"), [(0.0, 2), (0.9, 2), (1.2, 1), (5.0, 1)])
def test_threads_follow_the_idle_cores(monkeypatch, load: float, expected: int) -> None:
    busy_machine(monkeypatch, load, running=8)  # the load average decides
    with cpu_threads(4):  # torch's own count, given back after
        assert auto_threads() == expected


@pytest.mark.parametrize(("running", "expected"), [(0, 2), (1, 1), (None, 1)])
def test_a_load_average_left_by_a_finished_job_does_not_count(
    monkeypatch, running: int | None, expected: int
) -> None:
    # load 1.6 a moment after the previous command ended: both cores are free again, unless
    # something runs now, or the system cannot say
    busy_machine(monkeypatch, 1.6, running)
    with cpu_threads(2):  # torch's own count, given back after
        assert auto_threads() == expected


def test_the_run_queue_is_not_read_when_the_load_already_allows_every_thread(monkeypatch) -> None:
    def unread() -> int:
        raise AssertionError("the run queue was read")

    busy_machine(monkeypatch, 0.4, running=None)
    monkeypatch.setattr(shared.threads, "running_elsewhere", unread)
    with cpu_threads(2):
        assert auto_threads() == 2


def test_the_run_queue_sees_a_spinning_process() -> None:
    if running_elsewhere() is None:
        pytest.skip("the system does not say what runs now (/proc/stat)")
    code = "import time\nend = time.monotonic() + 20\nwhile time.monotonic() < end:\n    pass\n"
    spinner = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(0.3)  # started and spinning
        assert running_elsewhere() >= 1
    finally:
        spinner.kill()
        spinner.wait()


def test_never_more_than_torch_would_use(monkeypatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert auto_threads() == torch.get_num_threads()


def test_cpu_threads_sets_the_count_for_the_block_and_gives_it_back(monkeypatch) -> None:
    busy_machine(monkeypatch, 1.5, running=1)  # one core busy
    before = torch.get_num_threads()
    with cpu_threads(3) as chosen:
        assert chosen == torch.get_num_threads() == 3
    assert torch.get_num_threads() == before
    with cpu_threads(None) as chosen:
        assert chosen == torch.get_num_threads() == 1  # by load
    with pytest.raises(UserError, match="at least 1"), cpu_threads(0):
        pass
    assert torch.get_num_threads() == before


def test_a_resume_takes_the_recorded_count_over_the_flag_and_the_load(monkeypatch) -> None:
    monkeypatch.setattr("shared.threads.auto_threads", lambda: 5)
    assert choose_threads(None) == 5 and choose_threads(2) == 2
    assert resumed_threads(1, None) == 1  # whatever the load says now
    with pytest.warns(UserWarning, match=r"the run's own 1 CPU thread\(s\), not 3"):
        assert resumed_threads(1, 3) == 1
    assert resumed_threads(None, 3) == 3  # a run that recorded none
    assert resumed_threads(None, None) is None  # by load, in cpu_threads
