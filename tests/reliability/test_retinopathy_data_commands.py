"""Hostile flags and inputs for ``retinopathy train``, ``prepare`` and ``predict``, and what
``train`` and its report say about the photos ``prepare`` rejected or converted.

One tiny run (ResNet-18 at 32 px, one epoch, 24 photos of which one is empty and one greyscale)
is trained once for the module.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from retinopathy.__main__ import main
from retinopathy.config import DataConfig, PredictConfig, RunConfig
from shared.engine import TrainConfig
from shared.errors import UserError
from tests.reliability.corpus import case, one_line_error
from tests.retinopathy.fundus_data import photo, write_eyepacs


def _grades() -> dict[str, int]:
    return {f"{p}_{eye}": (0, 1, 2, 4)[p % 4] for p in range(12) for eye in ("left", "right")}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The run, its data and cache, and what ``train`` printed."""
    base = tmp_path_factory.mktemp("dr-data-run")
    data = write_eyepacs(base / "data", _grades(), size=64)
    (data / "train" / "3_left.jpeg").write_bytes(b"")  # rejected by prepare
    Image.fromarray(photo(2, size=64)[..., 0]).save(data / "train" / "5_right.jpeg")  # converted
    run, cache = base / "run", base / "cache"
    argv = ["train", str(data), "--task", "referable", "--arch", "resnet18", "--epochs", "1",
            "--image-size", "32", "--batch-size", "8", "--pretrained", "no", "--workers", "1",
            "--cache", str(cache), "--run", str(run)]  # fmt: skip
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return {"run": run, "data": data, "cache": cache, "out": out.getvalue()}


# -- what prepare left out, said by train and the report -------------------------------------

PHOTOS_LINE = r"23 photos usable; 1 rejected, 1 converted \(listed in (?P<list>\S+/problems\.csv)\)"


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "retinopathy train", "a dataset where prepare rejects one photo (empty) and "
            "converts one (greyscale)", "train prints `data: 23 photos usable; 1 rejected, 1 "
            "converted (listed in <cache>/problems.csv)`; report.md's data section says the "
            "same, also after `evaluate`", message=PHOTOS_LINE, id="train-says-rejected",
        )
    ],
)  # fmt: skip
def test_train_and_the_report_count_what_prepare_left_out(trained, capsys, entry) -> None:
    printed = [line for line in trained["out"].splitlines() if line.startswith("data: ")]
    assert len(printed) == 1 and entry.matches(printed[0]), trained["out"]
    listing = Path(re.search(PHOTOS_LINE, printed[0])["list"])
    assert "3_left.jpeg" in listing.read_text() and "5_right.jpeg" in listing.read_text()
    report = trained["run"] / "report.md"
    data_section = report.read_text().split("## Data", 1)[1]
    assert re.search(PHOTOS_LINE, data_section.split("|", 1)[0]), data_section[:300]
    report.unlink()
    assert main(["evaluate", "--run", str(trained["run"])]) == 0
    capsys.readouterr()
    assert re.search(PHOTOS_LINE, report.read_text().split("## Data", 1)[1])


# -- predict ---------------------------------------------------------------------------------


def _unreadable(folder: Path) -> Path:
    folder.mkdir()
    (folder / "a.jpeg").write_bytes(b"")
    (folder / "b.jpeg").write_text("not a photo")
    (folder / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return folder


PREDICT_CASES = [
    case(
        "retinopathy predict", "a folder where no photo is readable", "exit 2: `none of the 3 "
        "photos could be read: <dir>/a.jpeg: empty file (0 bytes); <dir>/b.jpeg: not an image "
        "...; <dir>/c.png: not an image ...`", ["{bad}"],
        message=r"none of the 3 photos could be read: \S+/a\.jpeg: empty file \(0 bytes\); "
        r"\S+/b\.jpeg: not an image .*; \S+/c\.png: not an image", id="predict-none-readable",
    ),
    case(
        "retinopathy predict", "--out naming an existing folder", "exit 2: `--out <dir> is a "
        "folder; --out names the CSV file to write (e.g. <dir>/grades.csv)`, before any photo "
        "is read", ["{photos}", "--out", "{folder}"],
        message=r"--out \S+ is a folder; --out names the CSV file to write \(e\.g\. "
        r"\S+/grades\.csv\)", id="predict-out-folder",
    ),
    case(
        "retinopathy predict", "--batch-size 0", "exit 2: `--batch-size must be at "
        "least 1, not 0`", ["{photos}", "--batch-size", "0"],
        message=r"--batch-size must be at least 1, not 0$", id="predict-batch-size-0",
    ),
    case(
        "retinopathy predict", "--batch-size -4", "exit 2: `--batch-size must be at least 1, "
        "not -4`", ["{photos}", "--batch-size", "-4"],
        message=r"--batch-size must be at least 1, not -4$", id="predict-batch-size-negative",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "args"), PREDICT_CASES)
def test_predict_refuses_in_one_line(trained, tmp_path: Path, capsys, entry, args) -> None:
    places = {
        "bad": _unreadable(tmp_path / "bad"),
        "photos": trained["data"] / "train",
        "folder": tmp_path,
    }
    argv = ["predict", "--run", str(trained["run"]), *(a.format(**places) for a in args)]
    assert main(argv) == 2
    one_line_error(capsys.readouterr().err, entry)
    assert not (trained["run"] / "predictions").exists()


# -- numeric flags ---------------------------------------------------------------------------


def _flags(command: str, tried: str, *refused: tuple[str, str, str]) -> object:
    said = "; ".join(f"`{message}`" for _, _, message in refused)
    return case(
        f"retinopathy {command}",
        tried,
        f"exit 2 before any work, one line each: {said}",
        refused,
        message=r"must (be|lie) ",
        id=f"{command}-{refused[0][0].strip('-')}",
    )


FLAG_CASES = [
    _flags("train", "--workers 0 or -1",
           ("--workers", "0", "--workers must be at least 1, not 0"),
           ("--workers", "-1", "--workers must be at least 1, not -1")),
    _flags("train", "--image-size 5000",
           ("--image-size", "5000", "--image-size must be between 16 and 4096 px, not 5000")),
    _flags("train", "--test-size 0 or 1.5, --val-size 1",
           ("--test-size", "0", "--test-size must lie strictly between 0 and 1, not 0.0"),
           ("--test-size", "1.5", "--test-size must lie strictly between 0 and 1, not 1.5"),
           ("--val-size", "1", "--val-size must lie strictly between 0 and 1, not 1.0")),
    _flags("train", "--split-seed -1",
           ("--split-seed", "-1", "--split-seed must be >= 0, not -1")),
    _flags("train", "--momentum -0.5, --weight-decay -1, --plateau-patience -1",
           ("--momentum", "-0.5", "momentum must be >= 0, not -0.5"),
           ("--weight-decay", "-1", "weight_decay must be >= 0, not -1.0"),
           ("--plateau-patience", "-1", "plateau_patience must be >= 0, not -1")),
    _flags("train", "--early-stopping 0, --clip-grad-norm 0, --lr -0.1",
           ("--early-stopping", "0", "early_stopping_patience must be >= 1, not 0"),
           ("--clip-grad-norm", "0", "clip_grad_norm must be positive, not 0.0"),
           ("--lr", "-0.1", "lr must be positive, not -0.1")),
    _flags("prepare", "--workers 0 or -3",
           ("--workers", "0", "--workers must be at least 1, not 0"),
           ("--workers", "-3", "--workers must be at least 1, not -3")),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "refused"), FLAG_CASES)
def test_a_numeric_flag_out_of_range_is_refused(tmp_path: Path, capsys, entry, refused):
    data = tmp_path / "data"
    data.mkdir()  # empty: any work would stop on it with another message
    command = entry.command.split()[1]
    for flag, value, said in refused:
        argv = [command, str(data), f"{flag}={value}", "--cache", str(tmp_path / "c")]
        assert main(argv) == 2
        assert one_line_error(capsys.readouterr().err, entry).endswith(f"error: {said}")
    assert not (tmp_path / "c").exists()


API_CASES = [
    case("retinopathy (Python API)", tried, "UserError, as on the command line: "
         + "; ".join(f"`{said}`" for _, said in checks), checks, id=f"api-{tried.split('(')[0]}")
    for tried, checks in [
        ("DataConfig(workers=0), DataConfig(image_size=8)", [
            (lambda: DataConfig(workers=0), "--workers must be at least 1, not 0"),
            (lambda: DataConfig(image_size=8), "--image-size must be between 16 and 4096 px, "
             "not 8")]),
        ("RunConfig(test_size=0), RunConfig.from_options(epochs=0 or lr=0)", [
            (lambda: RunConfig(test_size=0.0), "--test-size must lie strictly between 0 and 1, "
             "not 0.0"),
            (lambda: RunConfig.from_options(epochs=0), "epochs must be >= 1, not 0"),
            (lambda: RunConfig.from_options(lr=0.0), "lr must be positive, not 0.0")]),
        ("TrainConfig(clip_grad_norm=nan)", [
            (lambda: TrainConfig(clip_grad_norm=float("nan")),
             "clip_grad_norm must be positive, not nan")]),
        ("PredictConfig(batch_size=0)", [
            (lambda: PredictConfig(Path("r"), Path("x"), batch_size=0),
             "--batch-size must be at least 1, not 0")]),
    ]
]  # fmt: skip


@pytest.mark.parametrize(("entry", "checks"), API_CASES)
def test_the_python_api_is_guarded_too(entry, checks) -> None:
    for make, said in checks:
        with pytest.raises(UserError) as caught:
            make()
        assert str(caught.value) == said
