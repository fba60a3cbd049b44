"""Files that are either whole or absent: write to a temporary name beside the target, then rename.

A run killed mid-write (SIGKILL, Ctrl-C, a full disk) leaves the previous file, or none, never a
truncated one that a resume or a reader would trip over later.

    with atomic_path(out / "clip.mp4") as tmp:   # any writer that takes a path
        write_video(tmp)
    atomic_write_text(out / "report.md", text)
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_TMP = ".tmp"
# The writer's pid is in the name, so a folder's leftovers can be told from writes in flight.
_TEMPORARY = re.compile(r"^\..+\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp(\.[^.]*)?$")


@contextmanager
def atomic_path(path: str | Path, *, durable: bool = False) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; renamed onto ``path`` if the block succeeds.

    The temporary name is hidden (leading dot), unique per call (threads and worker processes may
    write side by side) and keeps ``path``'s extension, so writers that choose a format from it
    (matplotlib, OpenCV, PIL, video containers) write the right one. On an exception it is
    removed and ``path`` is left as it was. ``durable``: fsync the file and the folder so that the
    rename survives a power cut (checkpoints, run records).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named, not created: the writer creates the file with the usual permissions (mkstemp's
    # would be 0600, and os.replace would hand them to a report or image meant to be shared).
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}{_TMP}{path.suffix}")
    try:
        yield tmp
        if durable:
            _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if durable:
        _fsync(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes, *, durable: bool = False) -> Path:
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, *, durable: bool = False) -> Path:
    """UTF-8, newlines written as given (CSV rows keep their own line ends)."""
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
    return Path(path)


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; its renames are durable enough
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: str | Path, *, mine: bool = False) -> list[Path]:
    """Delete the temporary files in ``folder`` whose writer is dead (a killed run's leftovers).

    A temporary file whose writing process still runs is left alone: it may be a concurrent
    run's write in flight. ``mine``: this process's own count as dead too, for a caller with no
    write of its own in flight (a resume before it writes): a restarted container gives the new
    process the killed one's pid. Returns what was removed.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        match = _TEMPORARY.match(path.name)
        pid = int(match["pid"]) if match else None
        if pid is not None and ((mine and pid == os.getpid()) or not _alive(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def is_temporary(path: str | Path) -> bool:
    """True for a name :func:`atomic_path` makes."""
    return bool(_TEMPORARY.match(Path(path).name))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
