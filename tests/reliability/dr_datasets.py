"""Small datasets in the real layouts of :mod:`retinopathy.data.sources`, and ``prepare`` run on
them in this process, for the reliability cases of the retinopathy data paths."""

from __future__ import annotations

import csv
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from retinopathy.__main__ import main
from tests.retinopathy.fundus_data import write_photo


@dataclass(frozen=True)
class Layout:
    """Where one dataset format keeps its label file and photos."""

    table: str
    header: str
    grade: str  # the grade column
    photo: Callable[[str], str]
    names: tuple[str, ...]
    tail: str = ""  # the fields after the grade in a full row


IDRID = "B. Disease Grading"
LAYOUTS = {
    "eyepacs": Layout(
        "trainLabels.csv", "image,level", "level", lambda n: f"train/{n}.jpeg",
        ("1_left", "1_right", "2_left"),
    ),
    "aptos": Layout(
        "train.csv", "id_code,diagnosis", "diagnosis", lambda n: f"train_images/{n}.png",
        ("0a1b", "0a1c", "0a1d"),
    ),
    "messidor2": Layout(
        "messidor_data.csv",
        "image_id,adjudicated_dr_grade,adjudicated_dme,adjudicated_gradable",
        "adjudicated_dr_grade", lambda n: f"IMAGES/{n}", ("a.png", "b.png", "c.png"), ",0,1",
    ),
    "idrid": Layout(
        f"{IDRID}/2. Groundtruths/a. IDRiD_Disease Grading_Training Labels.csv",
        "Image name,Retinopathy grade,Risk of macular edema ", "Retinopathy grade",
        lambda n: f"{IDRID}/1. Original Images/a. Training Set/{n}.jpg",
        ("IDRiD_001", "IDRiD_002", "IDRiD_003"), ",0",
    ),
    "csv": Layout("labels.csv", "path,label", "label", lambda n: n, ("a.png", "b.png", "c.png")),
}  # fmt: skip


def labelled(root: Path, fmt: str, grades: list[str | None], header: str | None = None) -> Path:
    """The format's three photos, labelled ``grades`` (None: the row stops before its grade);
    returns the label file."""
    layout = LAYOUTS[fmt]
    for k, name in enumerate(layout.names):
        write_photo(root / layout.photo(name), size=64, seed=k)
    rows = [
        name if grade is None else f"{name},{grade}{layout.tail}"
        for name, grade in zip(layout.names, grades, strict=True)
    ]
    table = root / layout.table
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_text("\n".join([header or layout.header, *rows]) + "\n")
    return table


def run_prepare(capsys, data: Path, cache: Path, *flags: str) -> tuple[int, str, str]:
    code = main(["prepare", str(data), "--size", "32", "--cache", str(cache), "--workers", "1",
                 *flags])  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


def problems(cache: Path) -> dict[str, str]:
    """problems.csv of the one prepared folder under ``cache``: file name -> reasons."""
    (listing,) = cache.rglob("problems.csv")
    out: dict[str, str] = {}
    with open(listing, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            name = Path(row["path"]).name
            out[name] = f"{out[name]}; {row['reason']}" if name in out else row["reason"]
    return out


def csv_dataset(root: Path, files: dict[str, Callable[[Path], object] | None]) -> Path:
    """A path,label CSV over ``files`` (None: a good photo; else what writes the file)."""
    root.mkdir(parents=True, exist_ok=True)
    for k, (name, write) in enumerate(files.items()):
        (write or (lambda p, k=k: write_photo(p, size=64, seed=k)))(root / name)
    rows = "".join(f"{name},{k % 2}\n" for k, name in enumerate(files))
    (root / "labels.csv").write_text("path,label\n" + rows)
    return root


def huge_png(path: Path, width: int, height: int) -> Path:
    """A valid all-black greyscale PNG, compressed row by row: a few hundred kB on disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    packer, row = zlib.compressobj(9), bytes(width + 1)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))  # fmt: skip
    return path
