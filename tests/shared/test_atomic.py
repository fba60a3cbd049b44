import errno
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import shared.atomic
from shared.atomic import (
    append_text,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    is_temporary,
    remove_stale_temporaries,
)
from shared.checkpoint import save_checkpoint
from shared.errors import UserError


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_write_lands_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "rows.csv"
    atomic_write_text(target, "a,b\r\n1,2\r\n", durable=True)
    assert target.read_bytes() == b"a,b\r\n1,2\r\n"  # line ends as given, not translated
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert _hidden(target.parent) == []


def test_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("previous")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "previous"
    assert _hidden(tmp_path) == []


def test_temporary_is_hidden_beside_the_target_with_its_extension(tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    with atomic_path(target) as tmp:
        seen = tmp
        assert tmp.parent == tmp_path and tmp.name.startswith(".clip.")
        assert tmp.suffix == ".mp4"  # writers that pick a format from the name still can
        assert not target.exists()
        tmp.write_bytes(b"frames")
    assert not seen.exists() and target.read_bytes() == b"frames"


def test_file_gets_the_permissions_a_plain_write_gives(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic_write_text(tmp_path / "atomic.txt", "x")
    assert (tmp_path / "atomic.txt").stat().st_mode == plain.stat().st_mode


def test_stale_temporaries_go_and_writes_in_flight_stay(tmp_path: Path) -> None:
    dead = tmp_path / ".best.999999999-0123abcd.tmp.pt"  # a pid no process has
    dead.write_bytes(b"left by a kill")
    keep = tmp_path / "best.pt"
    keep.write_bytes(b"a real file")
    with atomic_path(tmp_path / "last.pt") as tmp:
        tmp.write_bytes(b"in flight")
        assert is_temporary(tmp) and not is_temporary(keep)
        assert remove_stale_temporaries(tmp_path) == [dead]
        assert tmp.exists()  # this process is alive: its write is left alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs /proc")
def test_a_pid_handed_on_to_a_newer_process_does_not_keep_a_leftover(tmp_path: Path) -> None:
    """The killed writer's pid now belongs to a process started after the temporary's last
    write: that process cannot be its writer, so the temporary goes; one written while the
    same process ran stays."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.3)  # started well before the write below
        left, in_flight = (tmp_path / f".{n}.{other.pid}-0123abcd.tmp.pt" for n in ("a", "b"))
        left.write_bytes(b"left by a kill")
        in_flight.write_bytes(b"being written")
        before = time.time() - 30  # written 30 s ago: before `other` started
        os.utime(left, (before, before))
        assert remove_stale_temporaries(tmp_path) == [left]
        assert in_flight.exists()
    finally:
        other.kill()
        other.wait()


def _on_dev_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every temporary atomic_path names is a link to /dev/full: writes fail with ENOSPC."""
    name = shared.atomic._temporary

    def linked(path: Path) -> Path:
        tmp = name(path)
        tmp.symlink_to("/dev/full")
        return tmp

    monkeypatch.setattr(shared.atomic, "_temporary", linked)


def test_full_disk_is_one_line_naming_the_bytes_a_checkpoint_needs(tmp_path, monkeypatch):
    target = tmp_path / "last.pt"
    target.write_bytes(b"the previous checkpoint")
    _on_dev_full(monkeypatch)
    state = {"model": {"w": torch.zeros(3 * 2**20 // 4 + 1)}, "history": [torch.zeros(10)]}
    with pytest.raises(UserError) as caught:
        save_checkpoint(target, state)  # torch re-raises the OSError as a RuntimeError
    message = str(caught.value)
    assert re.fullmatch(rf"no space left on /\S* \(writing {target}\): 4 MB needed, \d+ MB free",
                        message)  # fmt: skip
    assert target.read_bytes() == b"the previous checkpoint" and _hidden(tmp_path) == []


def test_full_disk_for_text_counts_its_bytes(tmp_path, monkeypatch):
    _on_dev_full(monkeypatch)
    with pytest.raises(UserError, match=r": 2 MB needed"):
        atomic_write_text(tmp_path / "report.md", "x" * (2**20 + 1))
    with pytest.raises(ValueError, match="not the disk"), atomic_path(tmp_path / "a.png"):
        raise ValueError("not the disk")  # other errors pass through as they are
    assert _hidden(tmp_path) == []


class _FillsUp:
    def __init__(self, f) -> None:
        self.f = f

    def write(self, data: bytes) -> int:
        self.f.write(data[:3])
        self.f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def test_append_is_whole_or_cut_back(tmp_path, monkeypatch):
    log = tmp_path / "journal.jsonl"
    append_text(log, "one\n")
    append_text(log, "two\n", durable=True)
    assert log.read_text() == "one\ntwo\n"
    real = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: _FillsUp(real(*a, **k)))
    with pytest.raises(UserError, match=rf"no space left on .*\(writing {log}\): 1 MB needed"):
        append_text(log, "three\n")
    monkeypatch.undo()
    assert log.read_text() == "one\ntwo\n"  # not "one\ntwo\nthr"
