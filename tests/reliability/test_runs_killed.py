"""SIGKILL a training run ten times, at random moments and inside each checkpoint write; every
resume must end bit-identical to the run never stopped, with no temporary file left.

The engine is the one both apps' ``train`` stand on; the run is the engine tests' tiny one
(``tests/shared/tiny_training.py``: a conv net with BatchNorm and dropout, augmented data drawn
from all three RNGs, a checkpoint every 2 optimiser steps). Each killed run is a child process
that a wrapper script, written here, arms with one fault: a timer at a random moment, or a kill
inside ``torch.save`` (half the bytes written) or around the rename of ``best.pt``, ``last.pt`` or
``metrics.csv``. The library carries no hook for it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from shared.atomic import is_temporary
from shared.checkpoint import load_checkpoint
from shared.runs import MetricsLog, RunPaths
from tests.reliability.corpus import case

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "tests" / "shared"))
from tiny_training import make_trainer  # noqa: E402

SETTINGS = {"epochs": 3, "batch_size": 4}  # 10 steps an epoch: 4 mid-epoch checkpoints each

CHILD = '''
import io, json, os, signal, sys, threading
from pathlib import Path

sys.path[:0] = [sys.argv[4], os.path.join(sys.argv[4], "tests", "shared")]
import torch
from tiny_training import make_trainer


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def in_rename(target, nth, when):
    """Kill at the nth rename onto ``target``: before it (the temporary is whole) or after it."""
    real, seen = os.replace, []

    def replace(src, dst):
        if Path(dst).name == target:
            seen.append(dst)
            if len(seen) == nth and when == "before":
                die()
        real(src, dst)
        if len(seen) == nth and when == "after" and Path(dst).name == target:
            die()

    os.replace = replace


def in_save(prefix, nth):
    """Kill halfway through writing the nth checkpoint whose temporary starts with ``prefix``."""
    real, seen = torch.save, []

    def save(obj, f, *args, **kwargs):
        if Path(getattr(f, "name", "")).name.startswith(prefix):
            seen.append(f)
            if len(seen) == nth:
                buf = io.BytesIO()
                real(obj, buf, *args, **kwargs)
                f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
                f.flush()
                die()
        return real(obj, f, *args, **kwargs)

    torch.save = save


run, fault, threads = Path(sys.argv[1]), sys.argv[2].split(":"), int(sys.argv[3])
torch.set_num_threads(threads)
trainer = make_trainer(run, **json.loads(sys.argv[5]))
if fault[0] == "rename":
    in_rename(fault[1], int(fault[2]), fault[3])
elif fault[0] == "save":
    in_save(fault[1], int(fault[2]))
else:
    threading.Timer(float(fault[1]), die).start()
trainer.fit()
if fault[0] == "at":
    die()  # the timer had not fired: killed after the last write instead
'''

# (fault, what it hits); the random moments are added by the test.
FAULTS = [
    ("save:.best.:1", "halfway through the first best.pt"),
    ("rename:best.pt:2:before", "the second best.pt written, not yet renamed"),
    ("rename:best.pt:1:after", "between best.pt and last.pt"),
    ("save:.last.:3", "halfway through a mid-epoch last.pt"),
    ("rename:last.pt:5:before", "last.pt written after best.pt at an epoch end, not yet renamed"),
    ("rename:metrics.csv:1:before", "metrics.csv rewritten with its header, not yet renamed"),
]
RANDOM_KILLS = 4

KILLED = [
    case(
        "retinopathy train --resume, style-transfer train --resume",
        "SIGKILL 10 times: at 4 random moments, halfway through best.pt and last.pt, before and "
        "after their renames, and in metrics.csv's rewrite",
        "every resume ends bit-identical to the run never stopped (every tensor of last.pt and "
        "best.pt, every metrics row); no temporary file is left", message=None,
        id="sigkill-ten-times",
    ),
]  # fmt: skip


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _rows(run: Path) -> list[dict]:
    rows = MetricsLog(RunPaths(run).metrics).rows()
    return [{k: v for k, v in row.items() if k != "time"} for row in rows]


def _start(child: Path, run: Path, fault: str) -> subprocess.Popen:
    run.mkdir()
    argv = [sys.executable, str(child), str(run), fault, str(torch.get_num_threads()), str(ROOT),
            json.dumps(SETTINGS)]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("entry", KILLED)
def test_sigkill_anywhere_resumes_bit_identical_and_leaves_no_temporary(entry, tmp_path):
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    reference = make_trainer(tmp_path / "reference", **SETTINGS)
    start = time.perf_counter()
    reference.fit()
    seconds = time.perf_counter() - start
    assert reference.best_epoch == 2  # two best.pt writes, epochs 1 and 2: the faults hit both
    draw = random.Random(13)
    faults = [f for f, _ in FAULTS]
    faults += [f"at:{draw.uniform(0.0, seconds):.4f}" for _ in range(RANDOM_KILLS)]
    procs = {fault: _start(child, tmp_path / f"run{i}", fault) for i, fault in enumerate(faults)}
    ref = RunPaths(tmp_path / "reference")
    for i, (fault, proc) in enumerate(procs.items()):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, f"{fault}: {err}"
        run = tmp_path / f"run{i}"
        resumed = make_trainer(run, **SETTINGS)
        resumed.fit(resume=True)
        assert _same(resumed.model.state_dict(), reference.model.state_dict()), fault
        for mine, theirs in ((RunPaths(run).last, ref.last), (RunPaths(run).best, ref.best)):
            assert _same(load_checkpoint(mine)["model"], load_checkpoint(theirs)["model"]), fault
        assert _rows(run) == _rows(ref.root), fault
        assert [p.name for p in run.rglob("*") if is_temporary(p)] == [], fault
    assert sorted(os.listdir(ref.root)) == sorted(os.listdir(tmp_path / "run0"))
