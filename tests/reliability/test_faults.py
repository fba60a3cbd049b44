"""Faults: a training run's numbers under another load or other library versions, and a full disk
at every place the commands write.

Threads: float reductions depend on the CPU thread count, so a run computes with one count,
recorded in its config.json, and a resume with that count whatever the load says then. The load
is simulated by replacing ``shared.threads.auto_threads`` (what the idle cores would give).

Full disk: an ENOSPC from the operating system itself, unprivileged. The writer's temporary
name (``shared.atomic``: hidden, ``<pid>-<token>.tmp``) is made predictable, and that name is
made a link to ``/dev/full``, where every write fails with ENOSPC; or, for an append, the file's
``write`` writes half and then fails as the OS does when the disk fills.
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
import re
import shutil
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest
import torch
from PIL import Image

import shared.atomic
import shared.runs
import shared.threads
from retinopathy.__main__ import main as retinopathy
from shared.checkpoint import load_checkpoint
from shared.engine import Callback
from shared.runs import RunPaths
from style_transfer.__main__ import main as style_transfer
from style_transfer.cli import train as cli_train
from style_transfer.johnson.train import train_style
from tests.helpers import photo
from tests.reliability.corpus import case, one_line_error
from tests.retinopathy.fundus_data import write_photo
from tests.style_transfer.johnson.training_setup import (
    tiny_args,
    write_pan,
    write_photos,
    write_style,
)

TOKEN = "feedf00d"  # the temporary name's random part, fixed so a test can lay the trap first
NO_SPACE = r"no space left on .* \(writing .*\): \d+ MB needed, \d+ MB free"
STOP_AT = 4  # of 6 steps: epoch 1 ended (last.pt, best.pt, a metrics row), epoch 2 begun


def load_says(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """The machine's load now leaves ``threads`` cores idle."""
    monkeypatch.setattr(shared.threads, "auto_threads", lambda: threads)


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if shared.atomic.is_temporary(p) or p.is_symlink()]


# ----------------------------------------------------------------------------- style training


class Stop(Exception):
    pass


class StopAt(Callback):
    """End the process's work after optimiser step ``step`` (its checkpoint is the step before)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer, step, logs) -> None:
        if step == self.step:
            raise Stop


def style_args(base: Path, run: Path) -> list[str]:
    """A few-second run (6 photos, 2 epochs of 3 steps), no --threads: chosen by load."""
    args = tiny_args(base / "photos", base / "style.png")
    i = args.index("--threads")
    del args[i : i + 2]
    return [*args, "--style", "mine", "--epochs", "2", "--checkpoint-every", "2",
            "--preview-every", "0", "--out", str(run / "mine-model.safetensors"),
            "--run", str(run)]  # fmt: skip


@dataclass(frozen=True)
class StyleRuns:
    base: Path
    reference: Path  # uninterrupted, at 1 thread (by load)
    stopped: Path  # the same run stopped after STOP_AT steps


@pytest.fixture(scope="module")
def style_runs(tmp_path_factory: pytest.TempPathFactory) -> StyleRuns:
    base = tmp_path_factory.mktemp("style")
    (base / "photos").mkdir()
    write_photos(base / "photos")
    write_style(base / "style.png")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(base / "xdg"))
        load_says(mp, 1)
        reference, stopped = base / "reference", base / "stopped"
        assert style_transfer(["train", *style_args(base, reference)]) == 0
        parser = argparse.ArgumentParser()
        cli_train.add_arguments(parser)
        request = cli_train.request_from(parser.parse_args(style_args(base, stopped)))
        with pytest.raises(Stop):
            train_style(request, callbacks=(StopAt(STOP_AT),), verbose=False)
    assert load_checkpoint(RunPaths(stopped).last)["step"] == STOP_AT - 1
    return StyleRuns(base, reference, stopped)


@pytest.fixture
def stopped_copy(style_runs: StyleRuns, tmp_path: Path, monkeypatch) -> Path:
    """A copy of the stopped run, at its original path's twin (the run records absolute paths
    only for its photos, which stay where they are)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    run = Path(shutil.copytree(style_runs.stopped, tmp_path / "stopped"))
    config = json.loads(RunPaths(run).config.read_text())
    config["johnson"]["out"] = str(run / "mine-model.safetensors")
    RunPaths(run).config.write_text(json.dumps(config))
    return run


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "style-transfer train",
            "two fresh runs with --threads 2, one started with 1 core idle, one with 3",
            "the same weights, bit for bit; 'cpu (2 threads)' printed, and the count and the "
            "library versions recorded in config.json",
            id="style-fresh-threads-given",
        ),
    ],
)
def test_fresh_style_runs_with_the_same_seed_are_bit_identical(
    entry, style_runs: StyleRuns, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    finals, printed = [], []
    for k, idle in enumerate((1, 3)):
        load_says(monkeypatch, idle)
        run = tmp_path / f"run{k}"
        argv = ["train", *style_args(style_runs.base, run), "--threads", "2", "--epochs", "1"]
        assert style_transfer(argv) == 0
        printed.append(capsys.readouterr().out)
        finals.append(load_checkpoint(RunPaths(run).last)["model"])
        config = json.loads(RunPaths(run).config.read_text())
        assert config["train"]["threads"] == 2
        assert config["versions"] == shared.runs.library_versions()
        assert set(config["versions"]) == {"python", "torch", "torchvision", "numpy"}
    assert same_tensors(*finals)
    assert all("cpu (2 threads)" in out for out in printed)


@pytest.mark.parametrize(
    ("entry", "resume_load", "flags"),
    [
        case(
            "style-transfer train --resume",
            "a run started at 1 thread (by load), stopped after 4 of 6 steps, resumed when the "
            "load would choose 2",
            "the run's recorded 1 thread ('cpu (1 thread)' printed); the weights bit-identical "
            "to an uninterrupted run's",
            2,
            [],
            id="style-resume-other-load",
        ),
        case(
            "style-transfer train --resume",
            "the same, resumed with --threads 3",
            "one warning line: computing with the run's own 1 CPU thread(s), not 3; the weights "
            "bit-identical to an uninterrupted run's",
            2,
            ["--threads", "3"],
            message=r"computing with the run's own 1 CPU thread\(s\), not 3",
            id="style-resume-threads-flag",
        ),
    ],
)
def test_resumed_style_run_computes_with_its_recorded_threads(
    entry, resume_load, flags, style_runs: StyleRuns, stopped_copy: Path, monkeypatch, capsys,
    recwarn,
) -> None:  # fmt: skip
    load_says(monkeypatch, resume_load)
    assert style_transfer(["train", "--resume", str(stopped_copy), *flags]) == 0
    ours = load_checkpoint(RunPaths(stopped_copy).last)
    theirs = load_checkpoint(RunPaths(style_runs.reference).last)
    assert ours["step"] == theirs["step"] == 6
    assert same_tensors(ours["model"], theirs["model"])
    assert same_tensors(ours["optimizer"]["state"][0], theirs["optimizer"]["state"][0])
    assert "cpu (1 thread)" in capsys.readouterr().out
    warnings = [str(w.message) for w in recwarn if "thread" in str(w.message)]
    if entry.message is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and entry.matches(warnings[0]) and "\n" not in warnings[0]


def with_other_versions(run: Path) -> None:
    config = json.loads(RunPaths(run).config.read_text())
    config["versions"] = {**config["versions"], "torch": "1.0.0", "numpy": "1.0.0"}
    RunPaths(run).config.write_text(json.dumps(config))


VERSIONS = r"resuming under other library versions \(torch 1\.0\.0 -> .*numpy 1\.0\.0 -> .*\)"


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "style-transfer train --resume",
            "config.json records other library versions (torch and numpy 1.0.0)",
            "one warning line: resuming under other library versions (torch 1.0.0 -> ..., numpy "
            "1.0.0 -> ...): the weights may differ from an uninterrupted run's; it resumes",
            message=VERSIONS,
            id="style-resume-other-versions",
        ),
    ],
)
def test_style_resume_under_other_versions_warns_once(
    entry, stopped_copy: Path, monkeypatch, recwarn
) -> None:
    load_says(monkeypatch, 1)
    with_other_versions(stopped_copy)
    assert style_transfer(["train", "--resume", str(stopped_copy)]) == 0
    found = [str(w.message) for w in recwarn if "version" in str(w.message)]
    assert len(found) == 1 and entry.matches(found[0]) and "\n" not in found[0], found
    assert load_checkpoint(RunPaths(stopped_copy).last)["step"] == 6


# ----------------------------------------------------------------------------- DR runs


def dr_args(cache: Path, run: Path) -> list[str]:
    return [
        "train", "--arch", "resnet18", "--task", "referable", "--epochs", "1",
        "--image-size", "32", "--synthetic-images", "60", "--synthetic-size", "64",
        "--batch-size", "16", "--pretrained", "no", "--cache", str(cache), "--workers", "1",
        "--run", str(run),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def dr_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run folder, cache) of a finished one-epoch run, its thread count chosen by load (1)."""
    base = tmp_path_factory.mktemp("dr")
    with pytest.MonkeyPatch.context() as mp:
        load_says(mp, 1)
        assert retinopathy(dr_args(base / "cache", base / "run")) == 0
    return base / "run", base / "cache"


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "retinopathy train",
            "two fresh runs with --threads 2, one started with 1 core idle, one with 3",
            "the same first-epoch loss, bit for bit; 'cpu (2 threads)' printed and the count "
            "recorded in config.json",
            id="dr-fresh-threads-given",
        ),
    ],
)
def test_dr_first_epoch_does_not_depend_on_the_load(
    entry, dr_run, tmp_path: Path, monkeypatch, capsys
) -> None:
    _, cache = dr_run
    losses = []
    for idle in (1, 3):
        load_says(monkeypatch, idle)
        run = tmp_path / f"run{idle}"
        assert retinopathy([*dr_args(cache, run), "--threads", "2"]) == 0
        assert "on cpu (2 threads)" in capsys.readouterr().out
        assert json.loads(RunPaths(run).config.read_text())["train"]["threads"] == 2
        losses.append(RunPaths(run).metrics.read_text().splitlines()[1])
    assert losses[0].split(",")[1:-1] == losses[1].split(",")[1:-1]  # all but epoch and time


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "retinopathy train --resume",
            "config.json records other library versions (torch and numpy 1.0.0)",
            "one warning line: resuming under other library versions (...); it goes on",
            message=VERSIONS,
            id="dr-resume-other-versions",
        ),
    ],
)
def test_dr_resume_under_other_versions_warns_once(
    entry, dr_run, tmp_path: Path, monkeypatch, recwarn
) -> None:
    run = Path(shutil.copytree(dr_run[0], tmp_path / "run"))
    with_other_versions(run)
    load_says(monkeypatch, 1)
    assert retinopathy(["train", "--resume", str(run)]) == 0
    found = [str(w.message) for w in recwarn if "version" in str(w.message)]
    assert len(found) == 1 and entry.matches(found[0]) and "\n" not in found[0], found
    assert json.loads(RunPaths(run).config.read_text())["train"]["threads"] == 1  # by load


# ----------------------------------------------------------------------------- a full disk


def full_disk_at(monkeypatch: pytest.MonkeyPatch, target: Path) -> Path:
    """The next atomic write of ``target`` lands on /dev/full (ENOSPC from the kernel)."""
    monkeypatch.setattr(shared.atomic, "secrets", types.SimpleNamespace(token_hex=lambda n: TOKEN))
    trap = target.with_name(f".{target.stem}.{os.getpid()}-{TOKEN}.tmp{target.suffix}")
    trap.parent.mkdir(parents=True, exist_ok=True)
    trap.symlink_to("/dev/full")
    real = shared.runs.remove_stale_temporaries

    def sparing_the_trap(folder, **kwargs):
        # a resume clears its own pid's leftovers first; the trap stands for a write to come
        if trap.parent != Path(folder):
            return real(folder, **kwargs)
        aside = trap.with_name("trap-aside")
        trap.rename(aside)
        try:
            return real(folder, **kwargs)
        finally:
            aside.rename(trap)

    monkeypatch.setattr(shared.runs, "remove_stale_temporaries", sparing_the_trap)
    return trap


class FillsUp:
    """A file on a disk that fills up mid-write: half the bytes land, then ENOSPC."""

    def __init__(self, f) -> None:
        self.f = f

    def write(self, data) -> int:
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str):
        return getattr(self.f, name)

    def __enter__(self) -> FillsUp:
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def full_disk_appending(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """Appends to ``target`` (however the file is opened) hit a full disk."""
    real = io.open

    def opening(file, mode="r", *args, **kwargs):
        f = real(file, mode, *args, **kwargs)
        same = isinstance(file, (str, os.PathLike)) and Path(file) == target
        return FillsUp(f) if same and "a" in mode else f

    monkeypatch.setattr(io, "open", opening)
    monkeypatch.setattr("builtins.open", opening)


@dataclass
class Site:
    """One write: the command, the file it writes, the files that must stay as they were."""

    main: Callable[[list[str]], int]
    argv: list[str]
    target: Path
    kept: list[Path]
    root: Path  # where no temporary may be left


def _checkpoint_site(stopped: Path, monkeypatch) -> Site:
    paths = RunPaths(stopped)
    load_says(monkeypatch, 1)
    full_disk_at(monkeypatch, paths.last)
    return Site(style_transfer, ["train", "--resume", str(stopped)], paths.last,
                [paths.last, paths.best], paths.checkpoints)  # fmt: skip


def _metrics_site(stopped: Path, monkeypatch) -> Site:
    paths = RunPaths(stopped)
    load_says(monkeypatch, 1)
    full_disk_appending(monkeypatch, paths.metrics)
    # last.pt moves on (step 4 is checkpointed before epoch 2 ends), best.pt must not
    return Site(style_transfer, ["train", "--resume", str(stopped)], paths.metrics,
                [paths.metrics, paths.best], stopped)  # fmt: skip


def _stylize_site(tmp: Path, monkeypatch) -> Site:
    content, out = tmp / "coffee.png", tmp / "out" / "coffee-starry.png"
    Image.fromarray(photo("coffee")).resize((64, 48)).save(content)
    out.parent.mkdir()
    Image.fromarray(photo("chelsea")).resize((64, 48)).save(out)  # the previous result
    full_disk_at(monkeypatch, out)
    argv = ["stylize", "--style", "starry", "--method", "johnson", "--content", str(content),
            "--out", str(out), "--device", "cpu", "--threads", "1"]  # fmt: skip
    return Site(style_transfer, argv, out, [out], out.parent)


def _video_argv(tmp: Path, codec: str) -> tuple[list[str], Path]:
    clip, out = write_pan(tmp / "pan.mp4"), tmp / "out" / "pan-starry.mp4"
    out.parent.mkdir()
    shutil.copyfile(clip, out)  # the previous result
    argv = ["video", str(clip), "--style", "starry", "--out", str(out), "--codec", codec,
            "--device", "cpu", "--threads", "1"]  # fmt: skip
    return argv, out


def _video_site(tmp: Path, monkeypatch) -> Site:
    argv, out = _video_argv(tmp, "h264")
    full_disk_at(monkeypatch, out)
    return Site(style_transfer, argv, out, [out], out.parent)


def _mp4v_site(tmp: Path, monkeypatch) -> Site:
    argv, out = _video_argv(tmp, "mp4v")
    # OpenCV reports no write error at all: what it sees is a disk with nothing left on it
    usage = shutil.disk_usage(tmp)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=0))
    return Site(style_transfer, argv, out, [out], out.parent)


def _prepare_site(tmp: Path, monkeypatch) -> Site:
    from retinopathy.data.cache import _file_key

    data, cache = tmp / "photos", tmp / "cache"
    for k in range(3):
        write_photo(data / str(k % 2) / f"eye{k}.jpg", grade=k % 2, seed=k)
    argv = ["prepare", str(data), "--cache", str(cache), "--workers", "1", "--size", "32"]
    assert retinopathy(argv) == 0
    (index,) = cache.rglob("index.csv")
    (item, *_) = (index.parent / "items").rglob("*.*")
    new = write_photo(data / "1" / "eye3.jpg", grade=1, seed=3)  # one more photo to cache
    key = _file_key(new)
    target = index.parent / "items" / key[:2] / f"{key}{item.suffix}"
    full_disk_at(monkeypatch, target)
    return Site(retinopathy, argv, target, [index, item], index.parent)


def _predict_site(run: Path, tmp: Path, monkeypatch) -> Site:
    image, out = tmp / "retina.jpg", tmp / "grades.csv"
    cv2.imwrite(str(image), cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR))
    out.write_text("id,grade\nearlier,0\n")  # the previous table
    full_disk_at(monkeypatch, out)
    return Site(retinopathy, ["predict", "--run", str(run), str(image), "--out", str(out)],
                out, [out], tmp)  # fmt: skip


def _report_site(run: Path, tmp: Path, monkeypatch) -> Site:
    paths = RunPaths(run)
    full_disk_at(monkeypatch, paths.report)
    return Site(retinopathy, ["evaluate", "--run", str(run)], paths.report, [paths.report], run)


def _plots_site(run: Path, tmp: Path, monkeypatch) -> Site:
    paths = RunPaths(run)
    target = paths.plot("confusion")
    full_disk_at(monkeypatch, target)
    return Site(retinopathy, ["evaluate", "--run", str(run)], target, [target], run)


STYLE_SITES = {"checkpoint": _checkpoint_site, "metrics": _metrics_site}
TMP_SITES = {"stylize": _stylize_site, "video": _video_site, "mp4v": _mp4v_site,
             "prepare": _prepare_site}  # fmt: skip
RUN_SITES = {"predict": _predict_site, "report": _report_site, "plots": _plots_site}


def _kept_as(entry_site: str) -> str:
    return {"checkpoint": "last.pt and best.pt", "metrics": "metrics.csv (its one row whole)"}.get(
        entry_site, "the previous file"
    )


def _case(command: str, tried: str, site: str) -> pytest.param:
    gets = (f"error: no space left on <mount> (writing <file>): N MB needed, F MB free; "
            f"{_kept_as(site)} byte for byte as before, no temporary left; exit 2")  # fmt: skip
    return case(command, tried, gets, site, message=NO_SPACE, id=f"disk-full-{site}")


@pytest.fixture
def site_of(request, tmp_path: Path, monkeypatch) -> Callable[[str], Site]:
    """Builds the named site: on a copy of the stopped style run, of the DR run, or afresh."""

    def build(name: str) -> Site:
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
        if name in STYLE_SITES:
            return STYLE_SITES[name](request.getfixturevalue("stopped_copy"), monkeypatch)
        if name in TMP_SITES:
            return TMP_SITES[name](tmp_path, monkeypatch)
        run = Path(shutil.copytree(request.getfixturevalue("dr_run")[0], tmp_path / "run"))
        return RUN_SITES[name](run, tmp_path, monkeypatch)

    return build


@pytest.mark.parametrize(
    ("entry", "site"),
    [
        _case("style-transfer train --resume", "disk full while writing checkpoints/last.pt",
              "checkpoint"),
        _case("style-transfer train --resume",
              "disk full while appending an epoch's row to metrics.csv (half the row written)",
              "metrics"),
        _case("style-transfer stylize", "disk full while writing the stylised photo (--out)",
              "stylize"),
        _case("style-transfer video", "disk full while writing the H.264 video (--out)",
              "video"),
        _case("style-transfer video --codec mp4v",
              "disk full while OpenCV writes the video (it reports no error itself)", "mp4v"),
        _case("retinopathy prepare", "disk full while caching a newly added photo", "prepare"),
        _case("retinopathy predict", "disk full while writing the CSV (--out)", "predict"),
        _case("retinopathy evaluate", "disk full while writing report.md", "report"),
        _case("retinopathy evaluate", "disk full while writing plots/confusion.png", "plots"),
    ],
)  # fmt: skip
def test_full_disk_is_one_line_and_keeps_the_previous_files(entry, site, site_of, capsys):
    where = site_of(site)
    before = {p: p.read_bytes() for p in where.kept}
    capsys.readouterr()
    assert where.main(where.argv) == 2
    line = one_line_error(capsys.readouterr().err, entry)
    assert str(where.target) in line
    mb = int(re.search(r": (\d+) MB needed", line)[1])
    assert mb >= 1
    assert {p: p.read_bytes() for p in where.kept} == before
    assert temporaries(where.root) == []
