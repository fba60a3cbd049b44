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
        "make evaluate",
        "no RUN= at all",
        "exit 2; one line naming the make variable (RUN=), not the flag it becomes",
        ["evaluate"],
        message=r"^make evaluate: RUN=<run folder> is required$",
        id="make-evaluate-no-run",
    ),
    case(
        "make evaluate",
        "DATA= another dataset given, no RUN=",
        "exit 2; one line naming RUN=, before the dataset is read",
        ["evaluate", "DATA=some-other-dataset"],
        message=r"^make evaluate: RUN=<run folder> is required$",
        id="make-evaluate-data-no-run",
    ),
    case(
        "make predict",
        "RUN= given, no IMAGES=",
        "exit 2; one line naming IMAGES=, before any model is loaded",
        ["predict", "RUN=nowhere-at-all"],
        message=r"^make predict: IMAGES=<photo or folder> is required$",
        id="make-predict-no-images",
    ),
    case(
        "make stylize-video",
        "no VIDEO=",
        "exit 2; one line naming VIDEO=",
        ["stylize-video"],
        message=r"^make stylize-video: VIDEO=<video file> is required$",
        id="make-video-no-video",
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


def _make(*goals: str) -> subprocess.CompletedProcess:
    # -o: the virtualenv counts as built; PY: this interpreter, whatever made it. Run as the
    # user's own make, not as a sub-make of `make test` (which would say "make[1]").
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", f"PY={sys.executable}", *goals],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
@pytest.mark.parametrize(("entry", "goals"), CASES)
def test_make_targets_print_the_program_line_first(entry, goals):
    result = _make(*goals)
    assert result.returncode == 2
    assert result.stdout == ""  # make echoed nothing
    lines = result.stderr.splitlines()
    assert entry.matches(lines[0]), result.stderr
    assert all(line.startswith("make: ***") for line in lines[1:]), result.stderr
    assert len(lines) <= 2, result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_make_retinopathy_passes_only_the_variables_the_user_set():
    # A resume refuses a changed option, so a default the Makefile added itself (--arch) would
    # stand in the way of resuming a run trained with another architecture.
    resumed = _make("-n", "retinopathy", "RESUME=runs/some-run").stdout
    assert "--resume runs/some-run" in resumed
    assert "--arch" not in resumed and "--epochs" not in resumed
    chosen = _make("-n", "retinopathy", "ARCH=resnet50", "EPOCHS=3").stdout
    assert "--arch resnet50" in chosen and "--epochs 3" in chosen
