"""Run folders: where one training run keeps everything, and the one place that knows the layout.

    runs/<app>/<timestamp>-<name>/
        config.json          everything needed to reproduce the run (engine settings: "train",
                             the library versions it computes with: "versions")
        metrics.csv          one row per finished epoch, appended as the run goes
        checkpoints/last.pt  the latest state (epoch ends, and every N steps when asked)
        checkpoints/best.pt  the state at the best epoch on the monitored metric (the kept model)
        plots/*.png          curves, confusion matrices, image grids
        report.md            written by the app at the end

    from shared.runs import new_run_dir, RunPaths, write_config
    run_dir = new_run_dir("retinopathy", "resnet50")   # runs/retinopathy/20250101-120000-resnet50
    write_config(run_dir, {"arch": "resnet50", "train": {...}})
    RunPaths(run_dir).last                              # .../checkpoints/last.pt

Apps ask :class:`RunPaths` for a path instead of spelling ``"checkpoints/last.pt"`` themselves.
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import platform
import re
import sys
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from shared.atomic import append_text, atomic_write_text, remove_stale_temporaries
from shared.checkpoint import load_checkpoint
from shared.distributed import is_main_process, on_main
from shared.errors import UserError

RUNS_ROOT = Path("runs")
# The libraries whose versions a run's numbers depend on (with Python's own).
LIBRARIES = ("torch", "torchvision", "numpy")


@dataclass(frozen=True)
class RunPaths:
    """The files of one run folder."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    def plot(self, name: str) -> Path:
        """``plots/<name>.png``."""
        return self.plots / f"{name}.png"


def is_run_dir(path: str | Path) -> bool:
    """A run folder is one with a ``config.json``."""
    return RunPaths(path).config.is_file()


def require_run_dir(path: str | Path) -> RunPaths:
    """The run's paths, or a one-line :class:`UserError` when ``path`` is not a run folder."""
    if not Path(path).exists():
        raise UserError(f"{path} does not exist")
    if not Path(path).is_dir():
        raise UserError(f"{path} is a file, not a run folder")
    if not is_run_dir(path):
        raise UserError(f"{path} is not a run folder (no config.json)")
    return RunPaths(path)


def check_new_run_dir(run: str | Path) -> Path:
    """``run`` if a new run may be made there (absent, or an empty folder), else a one-line
    :class:`UserError`. Called before any work, so a refused folder is left byte for byte.

    A folder that is already a run is continued by a resume, never trained into afresh; one that
    holds anything else is the user's, and a run written into it would overwrite their
    ``report.md`` or merge its rows into their ``metrics.csv``.
    """
    path = Path(run)
    if not path.exists() and not path.is_symlink():
        return path
    if not path.is_dir():
        raise UserError(f"{path} exists and is not a folder; choose a new or empty run folder")
    if is_run_dir(path):
        raise UserError(f"{path} is already a run folder; resume it or choose another folder")
    names = sorted(p.name for p in path.iterdir())
    if names:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        raise UserError(
            f"{path} already holds files and is not a run folder ({shown}); "
            "choose a new or empty folder (nothing was written)"
        )
    return path


def remove_run_temporaries(run_dir: str | Path, *, mine: bool = False) -> list[Path]:
    """Delete the temporary files killed writers left in the run folder and its sub-folders.

    ``mine``: this process's own are leftovers too (:func:`shared.atomic.remove_stale_temporaries`).
    """
    root = Path(run_dir)
    folders = [root, *(p for p in root.iterdir() if p.is_dir())] if root.is_dir() else []
    return [p for folder in folders for p in remove_stale_temporaries(folder, mine=mine)]


def kept_checkpoint(run_dir: str | Path) -> Path:
    """The run's kept model: ``best.pt`` when the run kept one, else ``last.pt``.

    The one answer to "which file is this run's model" for evaluation, prediction and export.
    """
    paths = require_run_dir(run_dir)
    for path in (paths.best, paths.last):
        if path.is_file():
            return path
    raise UserError(f"{paths.root} has no checkpoint yet (checkpoints/best.pt or last.pt)")


@dataclass(frozen=True)
class KeptCheckpoint:
    """A run's kept checkpoint: where it was read from, its state, and whether it is the best.

    ``note`` says why the model is not the run's best one (``best.pt`` missing); None when it is.
    """

    path: Path
    state: dict[str, Any]
    note: str | None = None

    @property
    def epoch(self) -> int | None:
        """The epochs the state has finished (its batches into the next: :attr:`when`)."""
        return self.state.get("epoch")

    @property
    def when(self) -> str:
        """Which point of training the state is: ``"epoch 3"``, or mid-epoch with its batch."""
        epoch, batch = self.state.get("epoch"), self.state.get("batch") or 0
        if not isinstance(epoch, int):
            return "an unknown epoch"
        return f"epoch {epoch + 1}, batch {batch}" if batch else f"epoch {epoch}"


def load_kept_checkpoint(run_dir: str | Path, map_location: str | Any = "cpu") -> KeptCheckpoint:
    """The kept checkpoint, read once (safely, format checked).

    Without ``best.pt``, ``last.pt`` is used with a warning naming it and its epoch: the run's
    best model is then not the one evaluated, and nothing may pass it off as such.
    """
    path = kept_checkpoint(run_dir)
    state = load_checkpoint(path, map_location=map_location)
    if path.name == RunPaths(run_dir).best.name:
        return KeptCheckpoint(path, state)
    when, best = KeptCheckpoint(path, state).when, state.get("best_epoch")
    if best is None:
        note = "no epoch has finished yet, so the run has no best model"
    elif when == f"epoch {best}":
        note = f"best.pt is missing; this is the same state, of the best epoch {best}"
    else:
        note = f"best.pt, of the best epoch {best}, is missing"
    warnings.warn(f"{path} ({when}) is the model used: {note}", stacklevel=2)
    return KeptCheckpoint(path, state, note)


def new_run_dir(
    app: str, name: str, root: str | Path = RUNS_ROOT, run: str | Path | None = None
) -> Path:
    """A fresh run folder: ``run`` itself if given, else ``<root>/<app>/<stamp>-<name>``.

    A ``run`` that exists is accepted only when empty (:func:`check_new_run_dir`). Under DDP
    rank 0 alone makes it and names it for every rank: one run, one folder, however many ranks.
    """
    return on_main(_make_run_dir, app, name, root, run)


def _make_run_dir(app: str, name: str, root: str | Path, run: str | Path | None) -> Path:
    if run is not None:
        path = check_new_run_dir(run)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot make the run folder {path}: {exc.strerror}") from None
        return path
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}"
    parent = Path(root) / app
    parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 1000):
        path = parent / (stem if k == 1 else f"{stem}-{k}")
        try:
            path.mkdir()  # atomic: two runs started in the same second get different folders
            return path
        except FileExistsError:
            continue
    raise UserError(f"could not create a new run folder under {parent}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"config value {value!r} ({type(value).__name__}) is not JSON-serialisable")


def library_versions() -> dict[str, str]:
    """Python's and :data:`LIBRARIES`' versions: a run is bit-identical only under the same."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def warn_other_versions(config: Mapping[str, Any]) -> None:
    """One warning when the run's recorded versions (config.json) are not the ones running now."""
    recorded, now = config.get("versions") or {}, library_versions()
    changed = [f"{k} {recorded[k]} -> {now.get(k)}" for k in recorded if recorded[k] != now.get(k)]
    if changed:
        warnings.warn(
            f"resuming under other library versions ({', '.join(changed)}): the weights may "
            "differ from an uninterrupted run's, which are bit-identical only under the same",
            stacklevel=2,
        )


def write_config(run_dir: str | Path, config: Mapping[str, Any]) -> Path:
    """Write ``config.json`` atomically, with the library versions (:func:`library_versions`)
    unless ``config`` has its own. Paths become strings; anything else non-JSON raises."""
    path = RunPaths(run_dir).config
    record = {**config, "versions": config.get("versions") or library_versions()}
    text = json.dumps(record, indent=2, default=_jsonable) + "\n"
    atomic_write_text(path, text, durable=True)
    return path


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """The run's ``config.json``; :class:`UserError` when ``run_dir`` is not a run folder."""
    paths = require_run_dir(run_dir)
    try:
        record = json.loads(paths.config.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{paths.config} is not valid JSON: {exc}") from None
    if not isinstance(record, dict):
        raise UserError(f"{paths.config} holds a JSON {type(record).__name__}, not a run's config")
    return record


def _parse_cell(text: str) -> Any:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


class MetricsLog:
    """``metrics.csv``: one row per epoch, keyed by an ``epoch`` column (1 = the first epoch).

    Each row is appended whole (or not at all, on a full disk) and fsync'ed, so what was written
    survives a kill. A row bringing a new
    column rewrites the file (atomically) with the wider header. Floats are written with ``repr``
    and so read back exactly.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def rows(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="", encoding="utf-8") as f:
            return [{k: _parse_cell(v) for k, v in row.items()} for row in csv.DictReader(f)]

    def _header(self) -> list[str]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="", encoding="utf-8") as f:
            return next(csv.reader(f), [])

    def append(self, row: Mapping[str, Any]) -> None:
        if "epoch" not in row:
            raise ValueError("a metrics row needs an 'epoch' value")
        header = self._header()
        if header and set(row) <= set(header):
            line = io.StringIO()
            csv.DictWriter(line, fieldnames=header).writerow(dict(row))
            append_text(self.path, line.getvalue(), durable=True)
            return
        new_keys = [k for k in row if k not in header]
        self._rewrite([*self.rows(), dict(row)], header + new_keys)

    def truncate(self, last_epoch: int) -> None:
        """Drop rows after ``last_epoch``: a resumed run re-runs those epochs and rewrites them."""
        if not self.path.is_file():
            return
        rows = self.rows()
        kept = [r for r in rows if r.get("epoch") is not None and r["epoch"] <= last_epoch]
        if len(kept) != len(rows):
            self._rewrite(kept, self._header())

    def _rewrite(self, rows: Iterable[Mapping[str, Any]], header: list[str]) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=header)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        atomic_write_text(self.path, buf.getvalue(), durable=True)


def progress(iterable: Iterable | None = None, *, enabled: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar that stays quiet off a terminal and on DDP ranks other than 0."""
    disable = None if enabled and is_main_process() else True  # None: tqdm hides it off a TTY
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("file", sys.stderr)
    return tqdm(iterable, disable=disable, **kwargs)
