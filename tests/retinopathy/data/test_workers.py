"""The photo workers import what they run: the preprocessing, not the training stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]


def test_preprocessing_workers_do_not_load_torch() -> None:
    """A worker process imports only what it runs: the photo jobs, not the training stack."""
    code = (
        "import sys, retinopathy, retinopathy.data.cache, retinopathy.data.synthetic; "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


FORKED_WORKER = """
import os, time, cv2, numpy as np
from retinopathy.data import workers
cv2.setNumThreads(2)
cv2.resize(np.zeros((1000, 1000, 3), np.uint8), (700, 700), interpolation=cv2.INTER_CUBIC)
time.sleep(0.5)  # the pool's threads asleep on their condition variable
pid = os.fork()  # as a DataLoader forks its workers
if pid == 0:
    workers.init_worker(0)
    os._exit(10 + cv2.getNumThreads())
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), cv2.getNumThreads())
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_worker_takes_one_opencv_thread_without_hanging() -> None:
    """Setting the count in a child forked from a process whose OpenCV pool was in use waited
    forever; the child now starts with one thread, and the parent keeps its count."""
    done = subprocess.run(
        [sys.executable, "-c", FORKED_WORKER], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["11", "2"]
