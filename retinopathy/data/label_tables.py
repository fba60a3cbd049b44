"""The datasets' label tables (CSV files) read strictly: a bad file is one line, a bad row a reason.

    header, rows = read_table(Path("trainLabels.csv"))    # rows: (line number, {column: value})
    require_columns(header, ("image", "level"), path)     # UserError naming what is missing
    missing_fields(row, ("image", "level"))                # ["level"] for a row "10_left" alone

A file that cannot be a label table at all (not UTF-8, empty, not CSV, a column missing) raises
:class:`~shared.errors.UserError` naming the file and, where there is one, the line. A row that
is short or has a blank field is for the caller to reject with its line number, so one bad row
among 35,000 costs that row only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path

from shared.errors import UserError

Row = dict[str, str]


def _text(path: Path) -> str:
    """The file's text; UserError naming the line of the first byte that is not UTF-8."""
    try:
        data = path.read_bytes()
    except (IsADirectoryError, PermissionError) as exc:
        raise UserError(f"{path}: cannot read the label file ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
            "save the label file as UTF-8"
        ) from None


def read_table(path: Path) -> tuple[list[str], list[tuple[int, Row]]]:
    """Header (stripped: IDRiD's carry stray spaces) and ``(line number, row)`` of each non-blank
    row; a short row lacks the keys of its missing fields."""
    reader = csv.reader(io.StringIO(_text(path), newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        if not any(header):
            raise UserError(f"{path}: empty label file (no header row)")
        rows = [
            (reader.line_num, {h: v.strip() for h, v in zip(header, values, strict=False)})
            for values in reader
            if any(v.strip() for v in values)
        ]
    except csv.Error as exc:
        raise UserError(f"{path}: line {reader.line_num}: not CSV ({exc})") from None
    return header, rows


def table_header(path: Path) -> list[str]:
    """The header of ``path`` for format detection: ``[]`` when it has none that can be read.

    Undecodable bytes are replaced here, so that a non-UTF-8 file is still recognised by its
    header and then refused by :func:`read_table` with the reason, not as an unknown format.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            return [h.strip() for h in next(csv.reader(f), [])]
    except (OSError, csv.Error):
        return []


def require_columns(header: Iterable[str], columns: Iterable[str], path: Path) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}")


def missing_fields(row: Mapping[str, str], columns: Iterable[str]) -> list[str]:
    """The columns of ``columns`` that ``row`` lacks or leaves blank."""
    return [c for c in columns if not row.get(c)]
