"""Files that are either whole or absent: write to a temporary name beside the target, then rename.

A run killed mid-write (SIGKILL, Ctrl-C, a full disk) leaves the previous file, or none, never a
truncated one that a resume or a reader would trip over later.

    with atomic_path(out / "clip.mp4") as tmp:   # any writer that takes a path
        write_video(tmp)
    atomic_write_text(out / "report.md", text)
    append_text(run / "metrics.csv", row)         # a log's new line, or nothing

Every file the project writes goes through here, so this is also the one place a full disk is
told to the user: a write that fails with ENOSPC (however its library wraps the OSError) raises
:class:`~shared.errors.UserError` "no space left on <mount> (writing <file>): N MB needed, F MB
free", with the temporary removed and the previous file untouched. :func:`no_space_in` words
the same line for an ENOSPC that escapes from anywhere else (``shared.cli.main``).
"""

from __future__ import annotations

import errno
import math
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.errors import UserError

_TMP = ".tmp"
_MB = 2**20
# The writer's pid is in the name, so a folder's leftovers can be told from writes in flight.
_TEMPORARY = re.compile(r"^\..+\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp(\.[^.]*)?$")


@contextmanager
def atomic_path(path: str | Path, *, durable: bool = False, needs: int = 0) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; renamed onto ``path`` if the block succeeds.

    The temporary name is hidden (leading dot), unique per call (threads and worker processes may
    write side by side) and keeps ``path``'s extension, so writers that choose a format from it
    (matplotlib, OpenCV, PIL, video containers) write the right one. On an exception it is
    removed and ``path`` is left as it was. ``durable``: fsync the file and the folder so that the
    rename survives a power cut (checkpoints, run records). ``needs``: the bytes the write is
    expected to take, for the message when the disk fills (default: what it had written then).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        yield tmp
        if durable:
            _fsync(tmp)
        os.replace(tmp, path)
    except Exception as exc:
        if _no_space(exc) is None:
            raise
        written = tmp.stat().st_size if tmp.is_file() else 0
        raise UserError(no_space_message(path, max(needs, written + 1))) from None
    finally:
        tmp.unlink(missing_ok=True)
    if durable:
        _fsync(path.parent)


def _temporary(path: Path) -> Path:
    # Named, not created: the writer creates the file with the usual permissions (mkstemp's
    # would be 0600, and os.replace would hand them to a report or image meant to be shared).
    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}{_TMP}{path.suffix}")


def atomic_write_bytes(path: str | Path, data: bytes, *, durable: bool = False) -> Path:
    with atomic_path(path, durable=durable, needs=len(data)) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, *, durable: bool = False) -> Path:
    """UTF-8, newlines written as given (CSV rows keep their own line ends)."""
    data = text.encode("utf-8")
    with atomic_path(path, durable=durable, needs=len(data)) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def append_text(path: str | Path, text: str, *, durable: bool = False) -> Path:
    """Add ``text`` (UTF-8) at the end of ``path``: all of it, or, if the write fails, nothing.

    For logs that grow a line at a time (metrics.csv, a job's journal), where rewriting the whole
    file each time would cost more than the line. A failed write is cut off again, so the file
    never ends in half a line.
    """
    path, data = Path(path), text.encode("utf-8")
    with open(path, "ab") as f:
        size = f.tell()
        try:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        except BaseException as exc:
            _cut(f, size)
            if isinstance(exc, Exception) and _no_space(exc) is not None:
                raise UserError(no_space_message(path, len(data))) from None
            raise
    return path


def _cut(f, size: int) -> None:
    """Truncate ``f`` to ``size`` bytes, whatever its write buffer still holds."""
    try:
        os.ftruncate(f.fileno(), size)
        f.seek(size)
    except OSError:  # nothing more to do: the reader skips a line cut short
        pass


def no_space_message(path: str | Path | None, needed: int = 0) -> str:
    """The one line for a full disk: its mount point, the file, the MB needed and free.

    ``needed`` in bytes, rounded up to whole MB (at least 1: a write that failed needed some).
    """
    target = Path(path) if path is not None else Path.cwd()
    mount = _mount_point(target)
    where = mount if path is None else f"{mount} (writing {target})"
    text = f"no space left on {where}: {max(1, math.ceil(needed / _MB))} MB needed"
    try:
        return f"{text}, {shutil.disk_usage(mount).free // _MB} MB free"
    except OSError:
        return text


def no_space_in(exc: BaseException) -> str | None:
    """:func:`no_space_message` for ``exc`` when a full disk caused it (ENOSPC anywhere in its
    chain), else None."""
    cause = _no_space(exc)
    if cause is None:
        return None
    return no_space_message(cause.filename if isinstance(cause.filename, str) else None)


def _no_space(exc: BaseException) -> OSError | None:
    """The ENOSPC OSError behind ``exc``: libraries re-raise it as their own errors (torch's
    serialiser as a RuntimeError "file write failed"), with the OSError as cause or context.

    A UserError is already worded for the user (a nested write's own "no space left" line)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and not isinstance(current, UserError):
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return current
        hidden = current.__suppress_context__  # raise ... from None: not the cause
        current = current.__cause__ or (None if hidden else current.__context__)
    return None


def _mount_point(path: Path) -> Path:
    """The mount point of the file system ``path`` is (or would be) on: what is full."""
    here = Path(os.path.abspath(path))
    while not here.exists() and here != here.parent:
        here = here.parent
    while not os.path.ismount(here):
        here = here.parent
    return here


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
        if match is None:
            continue
        pid = int(match["pid"])
        if (mine and pid == os.getpid()) or not writer_alive(pid, written_at(path)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def written_at(path: Path) -> float | None:
    """``path``'s mtime; None once it is gone (a writer renamed it meanwhile)."""
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile
        return None


def is_temporary(path: str | Path) -> bool:
    """True for a name :func:`atomic_path` makes."""
    return bool(_TEMPORARY.match(Path(path).name))


def writer_alive(pid: int, wrote_at: float | None = None) -> bool:
    """True while the process ``pid`` (a temporary's writer) runs; this one always does.

    ``wrote_at``: when the temporary was last written (its mtime). A process that holds ``pid``
    but started after that cannot be its writer: the pid was handed on after the writer died
    (a busy machine recycles pids within seconds; a restarted container starts from the same
    ones), so the temporary is a leftover.
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    if wrote_at is None:
        return True
    started = process_start(pid)
    return started is None or started <= wrote_at + _START_SLACK


# /proc gives a start in clock ticks (1/100 s): a writer that started within a tick of its last
# write must not be taken for a newer process.
_START_SLACK = 0.05


def process_start(pid: int) -> float | None:
    """When process ``pid`` started, in ``time.time()`` seconds; None where /proc cannot say."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
        # the fields after the command name, which may itself hold spaces and parentheses
        ticks = int(stat[stat.rindex(")") + 2 :].split()[19])
        since_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        return time.time() - since_boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
