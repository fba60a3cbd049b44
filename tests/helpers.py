"""Small things several test modules share: real photos from scikit-image, tiny tensors, the
README's torchrun commands and a launcher for them."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import skimage


def skimage_data_dir() -> Path:
    return Path(skimage.__file__).parent / "data"


def photo(name: str) -> np.ndarray:
    """A real photo shipped with scikit-image (``coffee``, ``retina``...) as HxWx3 uint8."""
    import skimage.data

    return getattr(skimage.data, name)()


ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_checked(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``cmd`` in ``cwd`` on this checkout with one OpenMP thread; it must succeed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def torchrun(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``.venv/bin/torchrun ARGV...`` as the README spells it, run in ``cwd``: torchrun is
    ``python -m torch.distributed.run``, started by this interpreter on a free port."""
    assert argv[0] == ".venv/bin/torchrun"
    port = ["--master-port", str(free_port())]
    return run_checked([sys.executable, "-m", "torch.distributed.run", *port, *argv[1:]], cwd)


def readme_torchrun_commands(app: str) -> dict[str, list[str]]:
    """The README's ``.venv/bin/torchrun ... -m <app> <command> ...`` commands, by command."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [shlex.split(c) for c in re.findall(r"`(\.venv/bin/torchrun [^`]+)`", text)]
    return {c[c.index(app) + 1]: c for c in commands if c[c.index("-m") + 1] == app}
