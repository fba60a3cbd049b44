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

Rows that cannot become a record (a field missing, a label outside 0-4, a duplicate id, a photo
listed twice, a name two photos answer to, a name or a link that leaves the data folder) are kept
as :class:`Problem` entries in :attr:`Source.rejected`, with the label file's line, so
``prepare`` can list them with the unreadable photos; a label file that cannot be read at all is
a UserError (:mod:`retinopathy.data.label_tables`). Only EyePACS (and a generic CSV with a
``patient`` column) carries patient ids; the others leave ``patient`` as None and are split
photo by photo.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from retinopathy.data.label_tables import (
    missing_fields,
    read_table,
    require_columns,
    table_header,
)
from retinopathy.tasks import GRADE_RANGE, GRADES
from shared.errors import UserError
from shared.image_files import is_image_file

NOT_A_GRADE = "is not a grade"  # the reason a row's label is refused: outside the scale


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


# -- names, files and rows -------------------------------------------------------------------


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


class _Ambiguous(LookupError):
    """More than one photo answers to a label file's name."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__(paths)
        self.paths = paths


def _image_index(files: Iterable[Path]) -> dict[str, list[Path]]:
    """File name and stem (both lower-case) -> every image of ``files`` so named."""
    index: dict[str, list[Path]] = {}
    for p in files:
        if is_image_file(p) and p.is_file():
            for key in dict.fromkeys((p.name.lower(), p.stem.lower())):
                index.setdefault(key, []).append(p)
    return index


def _lookup(index: dict[str, list[Path]], name: str, default: Path) -> Path:
    """The one photo named ``name`` (``default`` if none); two or more raise :class:`_Ambiguous`."""
    found = index.get(name.lower(), [])
    if len(found) > 1:
        raise _Ambiguous(found)
    return found[0] if found else default


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


class _Collector:
    """Accumulates records, rejecting bad rows and labels, duplicates and names or links that
    leave the data folder (a link is followed to where it leads before the check)."""

    def __init__(self, fmt: str, root: Path) -> None:
        self.source = Source(fmt, root)
        self._real_root = os.path.realpath(root)
        self._seen: dict[str, str] = {}  # id -> where it was first listed
        self._files: dict[str, str] = {}  # real path -> where it was first listed

    def reject(self, path: Path | str, id_: str, reason: str) -> None:
        self.source.rejected.append(Problem(str(path), id_, "rejected", reason))

    def rows(
        self, table: Path, columns: Sequence[str], required: Sequence[str] | None = None
    ) -> Iterator[tuple[str, dict[str, str]]]:
        """``(where, row)`` of each row of ``table`` (which must have ``columns``) with every
        ``required`` field (default: ``columns``) filled; the others are rejected by line."""
        real = os.path.realpath(table)
        if not _inside(real, self._real_root):
            raise UserError(
                f"{table}: the label file is a link leading outside the data folder (to {real}); "
                "copy it into the folder"
            )
        header, rows = read_table(table)
        require_columns(header, columns, table)
        for line, row in rows:
            where = f"{table.name} line {line}"
            missing = missing_fields(row, columns if required is None else required)
            if missing:
                first = row.get(header[0], "")
                self.reject(table, first, f"{where}: no value for {', '.join(missing)}")
                continue
            yield where, row

    def add(
        self, name: str, label: str, resolve: Callable[[str], Path], where: str, **extra
    ) -> None:
        id_ = extra.pop("id", None) or name
        if escapes(name):
            self.reject(name, id_, f"{where}: name leaves the data folder")
            return
        if "\0" in name:  # no file system takes it: stat() would raise ValueError
            shown = name.replace("\0", "\\0")
            self.reject(shown, id_.replace("\0", "\\0"), f"{where}: NUL byte in the name")
            return
        try:
            path = resolve(name)
        except _Ambiguous as exc:
            names = ", ".join(os.path.relpath(p, self.source.root) for p in exc.paths)
            self.reject(name, id_, f"{where}: {len(exc.paths)} photos answer to {name!r} ({names})")
            return
        grade = _parse_grade(label)
        real = os.path.realpath(path)
        if grade is None:
            self.reject(path, id_, f"{where}: label {label!r} {NOT_A_GRADE} {GRADE_RANGE}")
        elif not _inside(real, self._real_root):
            self.reject(path, id_, f"{where}: a link leading outside the data folder (to {real})")
        elif id_ in self._seen:
            self.reject(path, id_, f"{where}: duplicate id (first at {self._seen[id_]})")
        elif real in self._files:
            self.reject(path, id_, f"{where}: the same photo as {self._files[real]}")
        else:
            self._seen[id_] = self._files[real] = where
            self.source.records.append(Record(path, grade, id=id_, **extra))


# -- readers ---------------------------------------------------------------------------------


def _read_eyepacs(root: Path) -> Source:
    out = _Collector("eyepacs", root)
    image_dir = root / "train" if (root / "train").is_dir() else root
    index = _image_index(image_dir.iterdir())
    for where, row in out.rows(root / "trainLabels.csv", ("image", "level")):
        name = row["image"]
        patient, _, side = name.rpartition("_")
        eye = side.lower() if side.lower() in ("left", "right") else None
        out.add(
            name,
            row["level"],
            lambda n: _lookup(index, n, image_dir / f"{n}.jpeg"),
            where,
            patient=patient if eye and patient else None,
            eye=eye,
        )
    return out.source


def _read_aptos(root: Path) -> Source:
    out = _Collector("aptos", root)
    image_dir = root / "train_images"
    for where, row in out.rows(root / "train.csv", ("id_code", "diagnosis")):
        out.add(row["id_code"], row["diagnosis"], lambda n: image_dir / f"{n}.png", where)
    return out.source


def _read_messidor2(root: Path) -> Source:
    out = _Collector("messidor2", root)
    index = _image_index(sorted(root.rglob("*")))
    table = root / "messidor_data.csv"
    for where, row in out.rows(table, ("image_id", "adjudicated_dr_grade"), ("image_id",)):
        name = row["image_id"]
        if row.get("adjudicated_gradable", "1") in ("0", "0.0"):
            out.reject(name, name, f"{where}: ungradable (adjudicated_gradable=0)")
        elif not row.get("adjudicated_dr_grade"):
            out.reject(name, name, f"{where}: no value for adjudicated_dr_grade")
        else:
            grade = row["adjudicated_dr_grade"]
            out.add(name, grade, lambda n: _lookup(index, n, root / n), where)
    return out.source


IDRID_COLUMNS = ("Image name", "Retinopathy grade")


def _idrid_csvs(root: Path, columns: Sequence[str] = IDRID_COLUMNS) -> list[Path]:
    found = [p for p in sorted(root.rglob("*.csv")) if _depth(p, root) <= 4]
    return [p for p in found if all(c in table_header(p) for c in columns)]


def _read_idrid(root: Path) -> Source:
    out = _Collector("idrid", root)
    images = [p for p in sorted(root.rglob("*")) if is_image_file(p)]
    # Any table naming images is read, so that one lacking the grade column says so.
    tables = _idrid_csvs(root, IDRID_COLUMNS[:1])
    if not tables:
        raise UserError(
            f"{root}: no IDRiD grading CSV (with columns {', '.join(IDRID_COLUMNS)}) in the folder"
        )
    for table in tables:
        part = "test" if "test" in table.name.lower() else "train"
        # Training and testing photos share names (IDRiD_001.jpg in both), so match the folder.
        index = _image_index(p for p in images if part in str(p.parent.relative_to(root)).lower())
        for where, row in out.rows(table, IDRID_COLUMNS):
            name = row["Image name"]
            out.add(
                name,
                row["Retinopathy grade"],
                lambda n, idx=index, t=table: _lookup(idx, n, t.parent / f"{n}.jpg"),
                where,
                id=f"{part}/{name}",
            )
    return out.source


def _generic_csv(root: Path, *, strict: bool = True) -> Path | None:
    """The path,label CSV that ``root`` is or holds. Not ``strict`` (``--format csv`` given),
    a folder's only CSV counts whatever its header, so reading it says what is wrong with it."""
    if root.is_file():
        return root
    found = sorted(root.glob("*.csv"))
    tables = [p for p in found if {"path", "label"} <= set(table_header(p))]
    if not tables and not strict:
        tables = found
    return tables[0] if len(tables) == 1 else None


def _read_csv_format(root: Path) -> Source:
    table = _generic_csv(root, strict=False)
    if table is None:
        raise UserError(f"{root}: expected one CSV with columns path,label")
    if root.is_file():  # the CSV named itself: its photos are beside the file a link leads to
        table = table.resolve()
    base = table.parent
    out = _Collector("csv", base)
    for where, row in out.rows(table, ("path", "label")):
        eye = row.get("eye", "").lower() or None
        out.add(
            row["path"],
            row["label"],
            lambda n: base / n,
            where,
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
        if root.suffix.lower() == ".csv" and {"path", "label"} <= set(table_header(root)):
            return "csv"
        raise UserError(f"{root}: a file must be a CSV with columns path,label")
    checks = (
        ("eyepacs", lambda: (root / "trainLabels.csv").is_file()),
        ("aptos", lambda: "id_code" in table_header(root / "train.csv")),
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
        if not source.rejected:
            raise UserError(f"{root}: no usable photos in {fmt} format: none listed")
        raise UserError(
            f"{root}: no usable photos in {fmt} format ({len(source.rejected)} rejected: "
            f"{source.rejected[0].reason})"
        )
    return source


def read_records(root: str | Path, fmt: str | None = None) -> list[Record]:
    """The good records of ``root`` (see :func:`load_source` for the rejected rows too)."""
    return load_source(root, fmt).records
