"""The photo workers import what they run: the preprocessing, not the training stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
