"""Read a dataset folder into records: which photo, which grade, which patient and eye.

    from retinopathy.data.sources import read_records
    records = read_records("~/data/eyepacs")          # format detected from the folder

Formats (``--format`` overrides the detection):

============  ==========================================================================
eyepacs       ``trainLabels.csv`` (``image,level``), photos ``train/<patient>_<left|right>.jpeg``
aptos         ``train.csv`` (``id_code,diagnosis``), photos ``train_images/<id_code>.png``
messidor2     ``messidor_data.csv`` (``image_id,adjudicated_dr_grade,...,adjudicated_gradable``),
              photos anywhere below the folder
idrid         IDRiD grading CSVs (``Image name,Retinopathy grade,...``), photos in the matching
              ``Training Set`` / ``Testing Set`` folder
csv           a CSV with ``path,label`` (optional ``patient``, ``eye``, ``id``); DATA is the CSV or
              a folder holding exactly one such CSV; paths are relative to the CSV
folder        class folders ``<root>/<grade>/*.jpg``
============  ==========================================================================

Rows that cannot become a record (a label outside 0-4, a duplicate id, a name that leaves the
data folder) are kept as :class:`Problem` entries in :attr:`Source.rejected`, so ``prepare`` can
list them with the unreadable photos. Only EyePACS (and a generic CSV with a ``patient`` column)
carries patient ids; the others leave ``patient`` as None and are split photo by photo.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from retinopathy.tasks import GRADE_RANGE, GRADES
from shared.errors import UserError
from shared.image_files import is_image_file


@dataclass(frozen=True)
class Record:
    """One graded photo. ``path`` is absolute; ``id`` is unique within a dataset."""

    path: Path
    grade: int
    patient: str | None = None
    eye: str | None = None  # "left" / "right" when known
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", self.path.stem)


@dataclass(frozen=True)
class Problem:
    """A file or row that needed attention: ``action`` is "rejected" or "converted"."""

    path: str
    id: str
    action: str
    reason: str


@dataclass
class Source:
    """What a dataset folder holds: good records plus the rows rejected while reading."""

    format: str
    root: Path
    records: list[Record] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)


# -- helpers ---------------------------------------------------------------------------------


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header (stripped) and ``(line number, row)`` pairs; IDRiD headers carry stray spaces."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        rows = [
            (line, {h: v.strip() for h, v in zip(header, values, strict=False)})
            for line, values in enumerate(reader, start=2)
            if any(v.strip() for v in values)
        ]
    return header, rows


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [h.strip() for h in next(csv.reader(f), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _parse_grade(text: str) -> int | None:
    """ "2", "2.0" -> 2; anything else (blank, 2.5, 7, "x") -> None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and int(value) in GRADES else None


def escapes(name: str) -> bool:
    """True when a name from a label file is absolute or climbs out with ``..``."""
    p = PurePosixPath(name.replace("\\", "/"))
    return p.is_absolute() or bool(re.match(r"^[A-Za-z]:", name)) or ".." in p.parts


def _image_index(folder: Path) -> dict[str, Path]:
    """File name and stem (both lower-case) -> path, for every image below ``folder``."""
    index: dict[str, Path] = {}
    for p in sorted(folder.rglob("*")):
        if is_image_file(p) and p.is_file():
            index.setdefault(p.name.lower(), p)
            index.setdefault(p.stem.lower(), p)
    return index


class _Collector:
    """Accumulates records, rejecting bad labels, duplicate ids and escaping names."""

    def __init__(self, fmt: str, root: Path) -> None:
        self.source = Source(fmt, root)
        self._seen: dict[str, str] = {}

    def reject(self, path: Path | str, id_: str, reason: str) -> None:
        self.source.rejected.append(Problem(str(path), id_, "rejected", reason))

    def add(
        self, name: str, label: str, resolve: Callable[[str], Path], where: str, **extra
    ) -> None:
        id_ = extra.pop("id", None) or name
        if escapes(name):
            self.reject(name, id_, f"{where}: name leaves the data folder")
            return
        path = resolve(name)
        grade = _parse_grade(label)
        if grade is None:
            self.reject(path, id_, f"{where}: label {label!r} is not a grade {GRADE_RANGE}")
        elif id_ in self._seen:
            self.reject(path, id_, f"{where}: duplicate id (first at {self._seen[id_]})")
        else:
            self._seen[id_] = where
            self.source.records.append(Record(path, grade, id=id_, **extra))


# -- readers ---------------------------------------------------------------------------------


def _read_eyepacs(root: Path) -> Source:
    out = _Collector("eyepacs", root)
    image_dir = root / "train" if (root / "train").is_dir() else root
    on_disk = {p.stem: p for p in image_dir.iterdir() if is_image_file(p)}
    header, rows = _read_csv(root / "trainLabels.csv")
    _require(header, ("image", "level"), root / "trainLabels.csv")
    for line, row in rows:
        name = row["image"]
        patient, _, side = name.rpartition("_")
        eye = side.lower() if side.lower() in ("left", "right") else None
        out.add(
            name,
            row["level"],
            lambda n: on_disk.get(n, image_dir / f"{n}.jpeg"),
            f"trainLabels.csv line {line}",
            patient=patient if eye and patient else None,
            eye=eye,
        )
    return out.source


def _read_aptos(root: Path) -> Source:
    out = _Collector("aptos", root)
    image_dir = root / "train_images"
    header, rows = _read_csv(root / "train.csv")
    _require(header, ("id_code", "diagnosis"), root / "train.csv")
    for line, row in rows:
        out.add(
            row["id_code"],
            row["diagnosis"],
            lambda n: image_dir / f"{n}.png",
            f"train.csv line {line}",
        )
    return out.source


def _read_messidor2(root: Path) -> Source:
    out = _Collector("messidor2", root)
    index = _image_index(root)
    header, rows = _read_csv(root / "messidor_data.csv")
    _require(header, ("image_id", "adjudicated_dr_grade"), root / "messidor_data.csv")
    for line, row in rows:
        name, where = row["image_id"], f"messidor_data.csv line {line}"
        if row.get("adjudicated_gradable", "1") in ("0", "0.0"):
            out.reject(name, name, f"{where}: ungradable (adjudicated_gradable=0)")
            continue
        out.add(name, row["adjudicated_dr_grade"], lambda n: index.get(n.lower(), root / n), where)
    return out.source


IDRID_COLUMNS = ("Image name", "Retinopathy grade")


def _idrid_csvs(root: Path) -> list[Path]:
    found = [p for p in sorted(root.rglob("*.csv")) if _depth(p, root) <= 4]
    return [p for p in found if all(c in _csv_header(p) for c in IDRID_COLUMNS)]


def _read_idrid(root: Path) -> Source:
    out = _Collector("idrid", root)
    images = [p for p in sorted(root.rglob("*")) if is_image_file(p)]
    for table in _idrid_csvs(root):
        part = "test" if "test" in table.name.lower() else "train"
        # Training and testing photos share names (IDRiD_001.jpg in both), so match the folder.
        index = {
            p.stem.lower(): p for p in images if part in str(p.parent.relative_to(root)).lower()
        }
        _, rows = _read_csv(table)
        for line, row in rows:
            name = row["Image name"]
            out.add(
                name,
                row["Retinopathy grade"],
                lambda n, idx=index, t=table: idx.get(n.lower(), t.parent / f"{n}.jpg"),
                f"{table.name} line {line}",
                id=f"{part}/{name}",
            )
    return out.source


def _generic_csv(root: Path) -> Path | None:
    if root.is_file():
        return root
    tables = [p for p in sorted(root.glob("*.csv")) if {"path", "label"} <= set(_csv_header(p))]
    return tables[0] if len(tables) == 1 else None


def _read_csv_format(root: Path) -> Source:
    table = _generic_csv(root)
    if table is None:
        raise UserError(f"{root}: expected one CSV with columns path,label")
    base = table.parent
    out = _Collector("csv", base)
    header, rows = _read_csv(table)
    _require(header, ("path", "label"), table)
    for line, row in rows:
        eye = row.get("eye", "").lower() or None
        out.add(
            row["path"],
            row["label"],
            lambda n: base / n,
            f"{table.name} line {line}",
            patient=row.get("patient") or None,
            eye=eye if eye in ("left", "right") else None,
            id=row.get("id") or None,
        )
    return out.source


def _read_folder(root: Path) -> Source:
    out = _Collector("folder", root)
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()):
        for p in sorted(class_dir.iterdir()):
            if is_image_file(p):
                rel = f"{class_dir.name}/{p.name}"
                out.add(rel, class_dir.name, lambda _n, p=p: p, rel, id=rel)
    return out.source


READERS: dict[str, Callable[[Path], Source]] = {
    "eyepacs": _read_eyepacs,
    "aptos": _read_aptos,
    "messidor2": _read_messidor2,
    "idrid": _read_idrid,
    "csv": _read_csv_format,
    "folder": _read_folder,
}
FORMATS = tuple(READERS)


def _require(header: Iterable[str], columns: Iterable[str], table: Path) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise UserError(f"{table}: missing column(s) {', '.join(missing)}")


def _depth(path: Path, root: Path) -> int:
    return len(path.relative_to(root).parts)


def _has_class_folders(root: Path) -> bool:
    return any(
        p.is_dir() and p.name.isdigit() and any(is_image_file(q) for q in p.iterdir())
        for p in root.iterdir()
    )


def detect_format(root: str | Path) -> str:
    """The dataset format of ``root`` (one of :data:`FORMATS`), from the label files it holds."""
    root = Path(root).expanduser()
    if not root.exists():
        raise UserError(f"{root}: no such file or folder")
    if root.is_file():
        if root.suffix.lower() == ".csv" and {"path", "label"} <= set(_csv_header(root)):
            return "csv"
        raise UserError(f"{root}: a file must be a CSV with columns path,label")
    checks = (
        ("eyepacs", lambda: (root / "trainLabels.csv").is_file()),
        ("aptos", lambda: "id_code" in _csv_header(root / "train.csv")),
        ("messidor2", lambda: (root / "messidor_data.csv").is_file()),
        ("csv", lambda: _generic_csv(root) is not None),
        ("idrid", lambda: bool(_idrid_csvs(root))),
        ("folder", lambda: _has_class_folders(root)),
    )
    for name, check in checks:
        if check():
            return name
    raise UserError(
        f"{root}: cannot tell the dataset format (looked for trainLabels.csv, train.csv, "
        f"messidor_data.csv, a path,label CSV, IDRiD grading CSVs, class folders {GRADE_RANGE}); "
        f"pass --format {{{','.join(FORMATS)}}}"
    )


def load_source(root: str | Path, fmt: str | None = None) -> Source:
    """Records and rejected rows of the dataset at ``root``; raises UserError if it has none."""
    root = Path(root).expanduser().absolute()
    fmt = fmt or detect_format(root)
    if fmt not in READERS:
        raise UserError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    try:
        source = READERS[fmt](root)
    except FileNotFoundError as exc:
        raise UserError(f"{root} is not in {fmt} format: {exc.filename} not found") from None
    if not source.records:
        raise UserError(
            f"{root}: no usable photos in {fmt} format ({len(source.rejected)} rejected)"
        )
    return source


def read_records(root: str | Path, fmt: str | None = None) -> list[Record]:
    """The good records of ``root`` (see :func:`load_source` for the rejected rows too)."""
    return load_source(root, fmt).records
