from pathlib import Path

import pytest

from shared.atomic import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    is_temporary,
    remove_stale_temporaries,
)


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
