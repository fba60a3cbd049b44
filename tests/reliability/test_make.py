"""The Makefile's user targets: the program's own line comes first, with make's status after it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.corpus import case

ROOT = Path(__file__).resolve().parents[2]

CASES = [
    case(
        "make evaluate",
        "RUN= a folder that does not exist",
        "exit 2; the program's one line first, no echo of the command make ran; GNU make then "
        "adds its own `*** [...] Error 2` status line, which no recipe can suppress without "
        "losing the exit status",
        ["evaluate", "RUN=nowhere-at-all"],
        message=r"^retinopathy: error: nowhere-at-all does not exist$",
        id="make-evaluate-missing-run",
    ),
    case(
        "make stylize",
        "STYLE= a name that is neither bundled nor given an image",
        "exit 2; the program's one line first, naming the bundled styles; no command echo",
        ["stylize", "STYLE=no-such-style"],
        message=r"^style_transfer: error: unknown style 'no-such-style'",
        id="make-stylize-unknown-style",
    ),
]


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
@pytest.mark.parametrize(("entry", "goals"), CASES)
def test_make_targets_print_the_program_line_first(entry, goals):
    # -o: the virtualenv counts as built; PY: this interpreter, whatever made it. Run as the
    # user's own make, not as a sub-make of `make test` (which would say "make[1]").
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", f"PY={sys.executable}", *goals],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""  # make echoed nothing
    lines = result.stderr.splitlines()
    assert entry.matches(lines[0]), result.stderr
    assert all(line.startswith("make: ***") for line in lines[1:]), result.stderr
    assert len(lines) <= 2, result.stderr
