"""The app's layout holds: argparse only in the command line, no torch in the photo workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
APP = ROOT / "retinopathy"


def test_argparse_only_in_the_command_line() -> None:
    users = {
        p.relative_to(APP).as_posix() for p in APP.rglob("*.py") if "argparse" in p.read_text()
    }
    assert users and all(p.startswith("cli/") or p == "__main__.py" for p in users), users


def test_preprocessing_workers_do_not_load_torch() -> None:
    """A worker process imports only what it runs: the photo jobs, not the training stack."""
    code = (
        "import sys, retinopathy, retinopathy.data.cache, retinopathy.data.synthetic; "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
