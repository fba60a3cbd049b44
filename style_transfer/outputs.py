"""Where a stylize command's files go: beside ``--out``, or in a new run folder made at the end.

    outputs = Outputs(out=None, style="starry")       # runs/style_transfer/<stamp>-starry/
    outputs.image()                                   # .../stylized.png (the folder made now)
    outputs.beside("sheet", ".png")                   # .../plots/sheet.png
    Outputs(Path("me.png"), "starry").beside("config", ".json")   # me-config.json

With ``out``, everything sits beside it: ``<out>``, ``<out stem>-sheet.png``,
``<out stem>-config.json`` (and ``-loss.png`` for Gatys); for several photos ``out`` is a folder,
the photos keep their names in it, and the sheet and record are ``<out>-sheet.png`` and
``<out>-config.json``. Without ``out``, a new run folder holds ``stylized.png`` (or
``stylized/<name>`` for several photos), ``plots/<kind>.png`` and ``config.json``. The run folder
is created only when the first result is written (under torchrun, before the work, and removed
again if nothing was written), so bad input or a failed run leaves nothing.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.atomic import atomic_write_text
from shared.errors import UserError
from shared.runs import RunPaths, new_run_dir
from style_transfer.images import check_writable

APP = "style_transfer"  # the run folders are runs/<APP>/...


@dataclass
class Outputs:
    """The paths of one stylize command's results (see the module docstring)."""

    out: Path | None
    style: str  # names the run folder
    many: bool = False
    _run: Path | None = None

    def check(self, n: int = 1) -> None:
        """Refuse an ``out`` the results cannot be written to, before any work."""
        if self.out is None:
            return
        if self.many and self.out.suffix:
            raise UserError(f"{n} photos: out must be a folder, not {self.out}")
        if not self.many:
            check_writable(self.out)

    @property
    def root(self) -> Path:
        if self.out is not None:
            return self.out if self.many else self.out.parent
        if self._run is None:
            self._run = new_run_dir(APP, self.style)
        return self._run

    def image(self, name: str | None = None) -> Path:
        """The result's path; ``name``: the photo's file name, when there are several."""
        if self.many:
            return (self.out if self.out is not None else self.root / "stylized") / str(name)
        return self.out if self.out is not None else self.root / "stylized.png"

    def beside(self, kind: str, suffix: str) -> Path:
        """``<out>-<kind><suffix>``, or the run folder's config.json or plots/<kind>.png."""
        if self.out is None:
            run = RunPaths(self.root)
            return run.config if kind == "config" else run.plot(kind)
        stem = self.out if self.many else self.out.with_suffix("")
        return Path(f"{stem}-{kind}{suffix}")

    def make_folder(self) -> None:
        """Make the run folder now, not at the first write: under torchrun every rank writes
        into the one rank 0 names, and a rank may have nothing to write."""
        if self.out is None:
            self._run = self.root

    def remove_if_empty(self) -> None:
        """Remove a run folder made early (:meth:`make_folder`) that nothing was written to."""
        if self._run is not None:
            with contextlib.suppress(OSError):  # not empty, or already gone
                self._run.rmdir()

    @property
    def where(self) -> Path:
        return self.out if self.out is not None else self.root


def write_record(path: Path, record: dict[str, Any]) -> Path:
    """The run's record (what was asked, what ran, how long it took) as JSON."""
    return atomic_write_text(path, json.dumps(record, indent=2, default=str))
