"""The prepare job: every kind of bad file listed and skipped, no redone work, resume after SIGKILL,
and a concurrent writer's files left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from retinopathy.__main__ import main
from retinopathy.data import cache
from retinopathy.data.cache import default_cache_dir, prepare_records
from retinopathy.data.sources import load_source
from shared.errors import UserError
from tests.retinopathy.fundus_data import png_claiming, write_eyepacs, write_photo

GOOD = ["good_0.jpeg", "good_1.jpeg", "good_2.png", "good_3.jpeg"]


CONVERTED = {"grey.png": "greyscale", "rgba.png": "alpha", "deep.png": "16-bit"}


REJECTED = {  # id -> reason the list must give
    "missing.jpeg": "file not found",
    "cut.jpeg": "truncated JPEG",
    "empty.jpeg": "empty file",
    "notes.jpeg": "not an image",
    "tiny.png": "tiny image",
    "bomb.png": "decompression bomb",
    "label7": "not a grade 0-4",
    "good_0.jpeg#2": "duplicate id",
    "escape": "leaves the data folder",
}


def _bad_folder(root: Path) -> Path:
    """A path,label CSV dataset with good photos and one of every kind of bad file."""
    img = root / "img"
    for k, name in enumerate(GOOD):
        write_photo(img / name, grade=k % 5, seed=k, size=80)
    colour = cv2.resize(cv2.imread(str(img / "good_0.jpeg")), (90, 90))
    cv2.imwrite(str(img / "grey.png"), cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(img / "rgba.png"), np.dstack([colour, np.full((90, 90), 255, np.uint8)]))
    cv2.imwrite(str(img / "deep.png"), colour.astype(np.uint16) * 257)
    data = (img / "good_1.jpeg").read_bytes()
    (img / "cut.jpeg").write_bytes(data[: len(data) // 2])
    (img / "empty.jpeg").write_bytes(b"")
    (img / "notes.jpeg").write_text("this is not a photo\n" * 10)
    cv2.imwrite(str(img / "tiny.png"), np.full((30, 30, 3), 90, np.uint8))
    (img / "bomb.png").write_bytes(png_claiming(50_000, 50_000))
    (root / "secret.jpeg").write_bytes(data)
    rows = [f"img/{n},{k % 5},{n}" for k, n in enumerate(GOOD)]
    rows += [f"img/{n},1,{n}" for n in CONVERTED]
    rows += [f"img/{n},2,{n}" for n in REJECTED if n.endswith((".jpeg", ".png"))]
    rows += ["img/good_1.jpeg,7,label7", "img/good_2.png,3,good_0.jpeg", "../secret.jpeg,0,escape"]
    (root / "labels.csv").write_text("path,label,id\n" + "\n".join(rows) + "\n")
    return root


def test_bad_files_listed_good_ones_kept(tmp_path: Path, capsys) -> None:
    source = load_source(_bad_folder(tmp_path / "data"))
    prepared = prepare_records(
        source.records,
        48,
        cache_dir=tmp_path / "c",
        workers=2,
        rejected=source.rejected,
        progress=False,
    )
    assert sorted(r.id for r in prepared.records) == sorted(GOOD + list(CONVERTED))
    rejected = {
        p.id if p.id != "good_0.jpeg" else "good_0.jpeg#2": p.reason for p in prepared.rejected
    }
    assert set(rejected) == set(REJECTED)
    for name, reason in REJECTED.items():
        assert reason in rejected[name], (name, rejected[name])
    converted = {p.id: p.reason for p in prepared.converted}
    assert set(converted) == set(CONVERTED)
    for name, word in CONVERTED.items():
        assert word in converted[name]
    listed = (prepared.folder / "problems.csv").read_text().splitlines()
    assert listed[0] == "path,id,action,reason"
    assert len(listed) - 1 == len(REJECTED) + len(CONVERTED)
    for i in range(len(prepared)):
        assert prepared.load(i).shape == (48, 48, 3)
    # the command counts them on screen (and does no work: everything is cached)
    argv = ["prepare", str(tmp_path / "data"), "--size", "48", "--cache", str(tmp_path / "c")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{len(GOOD) + len(CONVERTED)} photos ready at 48 px (crop): 0 preprocessed" in out
    assert f"{len(REJECTED)} rejected, {len(CONVERTED)} converted" in out
    assert str(prepared.folder / "problems.csv") in out


def test_second_run_does_no_work_and_a_changed_photo_is_redone(tmp_path: Path) -> None:
    root = write_eyepacs(
        tmp_path / "eyepacs", {f"{p}_{s}": p % 5 for p in range(6) for s in ("left", "right")}
    )
    records = load_source(root).records
    first = prepare_records(records, 40, cache_dir=tmp_path / "c", workers=2, progress=False)
    assert (first.processed, first.reused, len(first)) == (12, 0, 12)
    mtimes = [f.stat().st_mtime_ns for f in first.files]
    second = prepare_records(records, 40, cache_dir=tmp_path / "c", workers=2, progress=False)
    assert (second.processed, second.reused) == (0, 12)
    assert [f.stat().st_mtime_ns for f in second.files] == mtimes
    time.sleep(0.01)
    write_photo(records[3].path, grade=4, seed=99, size=96)  # the photo changes on disk
    third = prepare_records(records, 40, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert (third.processed, third.reused) == (1, 11)
    assert len(list((third.folder / "items").rglob("*.npy"))) == 12  # the stale one is gone
    other = prepare_records(records, 32, mode="graham", cache_dir=tmp_path / "c", progress=False)
    assert other.processed == 12 and other.folder != first.folder


def test_default_cache_dir_respects_xdg(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "visionlab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "visionlab"


SLOW_PREPARE = """
import sys, time
from retinopathy.data import cache
from retinopathy.data.sources import load_source

original = cache.process_one


def slow(job):
    time.sleep(0.15)
    return original(job)


cache.process_one = slow  # also in the pool's workers, which import this file as __mp_main__

if __name__ == "__main__":
    records = load_source(sys.argv[1]).records
    cache.prepare_records(records, 40, cache_dir=sys.argv[2], workers=2, progress=False)
"""


def test_killed_prepare_resumes_without_redoing(tmp_path: Path) -> None:
    names = {f"{p}_{s}": p % 5 for p in range(15) for s in ("left", "right")}
    root = write_eyepacs(tmp_path / "eyepacs", names, size=80)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")]),
    }
    script = tmp_path / "slow_prepare.py"
    script.write_text(SLOW_PREPARE)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root), str(tmp_path / "c")],
        env=env,
        start_new_session=True,
    )
    deadline = time.time() + 60
    journal = None
    while time.time() < deadline:
        found = list((tmp_path / "c").rglob("journal.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 6:
            journal = found[0]
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert journal is not None, "prepare never got going"
    done_before = len(journal.read_text().splitlines())
    assert 6 <= done_before < len(names)
    resumed = prepare_records(
        load_source(root).records, 40, cache_dir=tmp_path / "c", workers=2, progress=False
    )
    assert resumed.reused >= done_before and resumed.processed == len(names) - resumed.reused
    assert len(resumed) == len(names)
    for i in range(len(resumed)):
        assert resumed.load(i).shape == (40, 40, 3)
    leftovers = [p for p in (resumed.folder / "items").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_nothing_usable_is_a_user_error(tmp_path: Path) -> None:
    root = write_eyepacs(tmp_path / "eyepacs", {"1_left": 0})
    (root / "train" / "1_left.jpeg").write_bytes(b"")
    with pytest.raises(UserError, match="none of the 1 photos"):
        prepare_records(load_source(root).records, 32, cache_dir=tmp_path / "c", progress=False)
    with pytest.raises(UserError, match="unknown mode"):
        prepare_records(load_source(root).records, 32, mode="blur", cache_dir=tmp_path / "c")
    assert cache.STORAGES == ("npy", "jpeg")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_concurrent_writers_temporary_is_left_and_a_dead_ones_removed(tmp_path: Path) -> None:
    root = write_eyepacs(tmp_path / "eyepacs", {"1_left": 0, "1_right": 2})
    records = load_source(root).records
    first = prepare_records(records, 32, cache_dir=tmp_path / "c", progress=False)
    sub = first.files[0].parent
    # the names shared.atomic gives files being written, by a live and by a dead process
    in_flight = sub / f".{first.files[0].stem}.{os.getpid()}-0123abcd.tmp.npy"
    leftover = sub / f".{first.files[0].stem}.{_dead_pid()}-4567cdef.tmp.npy"
    in_flight.write_bytes(b"half a photo")
    leftover.write_bytes(b"half a photo")
    again = prepare_records(records, 32, cache_dir=tmp_path / "c", progress=False)
    assert again.reused == 2
    assert in_flight.exists() and not leftover.exists()
    assert all(f.exists() for f in again.files)


def test_a_killed_ddp_prepares_rank_journals_are_resumed_and_merged(tmp_path: Path) -> None:
    """A torchrun prepare killed mid-way leaves rank 1's own journal: it counts as done work."""
    root = write_eyepacs(tmp_path / "eyepacs", {f"{p}_left": p % 5 for p in range(6)})
    records = load_source(root).records
    first = prepare_records(records, 40, cache_dir=tmp_path / "c", workers=1, progress=False)
    journal = first.folder / cache.JOURNAL
    whole = journal.read_text()
    lines = whole.splitlines(keepends=True)
    journal.write_text("".join(lines[::2]))  # rank 0's share, as the kill left it
    (first.folder / "journal.1.jsonl").write_text("".join(lines[1::2]))
    again = prepare_records(records, 40, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert (again.processed, again.reused) == (0, 6)
    assert journal.read_text() == whole and not (first.folder / "journal.1.jsonl").exists()
