"""Run folders under faults: the kept model never lost or misnamed, a user's folder never written
into, a foreign checkpoint refused by name, and a killed run's leftovers cleaned.

One tiny run (SqueezeNet 1.1 at 32 px, 2 epochs, 60 synthetic photos, the referable task) is
trained for the module into an existing empty folder; each case works on a copy of it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import pytest
import torch

from retinopathy.__main__ import main as retinopathy
from retinopathy.models import build_model
from shared.checkpoint import load_checkpoint, save_checkpoint
from shared.runs import RunPaths
from style_transfer.__main__ import main as style_transfer
from tests.helpers import photo
from tests.reliability.corpus import case, one_line_error
from tests.style_transfer.johnson.training_setup import tiny_args, write_photos, write_style

ARCH = "squeezenet1_1"
DEAD_PID = 999999999  # above any pid_max: a writer that cannot be alive


def train_argv(cache: Path, run: Path) -> list[str]:
    return [
        "train", "--arch", ARCH, "--task", "referable", "--epochs", "2", "--image-size", "32",
        "--synthetic-images", "60", "--synthetic-size", "64", "--batch-size", "16",
        "--pretrained", "no", "--cache", str(cache), "--workers", "1", "--run-dir", str(run),
        "--keep-last",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def dr_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run folder, cache) of a finished run; its folder existed, empty, before training."""
    base = tmp_path_factory.mktemp("runs")
    run = base / "run"
    run.mkdir()  # an empty folder is a fine place for a new run
    assert retinopathy(train_argv(base / "cache", run)) == 0
    return run, base / "cache"


@pytest.fixture
def run_copy(dr_run, tmp_path: Path) -> Path:
    return Path(shutil.copytree(dr_run[0], tmp_path / "run"))


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ``root``."""
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
        for p in sorted(root.rglob("*"))
    }


def warned(recwarn: pytest.WarningsRecorder, entry) -> str:
    """The one warning of the case (a user sees it as one ``<prog>: warning:`` line)."""
    found = [str(w.message) for w in recwarn if entry.matches(str(w.message))]
    assert len(found) == 1, [str(w.message) for w in recwarn]
    assert "\n" not in found[0]
    return found[0]


def retina_jpg(folder: Path) -> Path:
    path = folder / "retina.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR))
    return path


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------ item 2: a folder that is not a run


def _user_folder(tmp: Path) -> Path:
    folder = tmp / "mine"
    folder.mkdir()
    (folder / "report.md").write_text("# my notes\n\nNot a run.\n")
    (folder / "metrics.csv").write_text("patient,score\n17,0.5\n")
    return folder


def _a_file(tmp: Path) -> Path:
    path = tmp / "notes.txt"
    path.write_text("a file, not a folder\n")
    return path


NOT_A_RUN = [
    case(
        "retinopathy train --run-dir", "RUN= a folder holding the user's report.md and metrics.csv",
        "refused in one line before any work, exit 2; the folder is left byte for byte",
        "retinopathy", _user_folder,
        message=r"mine already holds files and is not a run folder \(metrics\.csv, report\.md\)",
        id="train-run-user-folder",
    ),
    case(
        "retinopathy train --run-dir", "RUN= an existing file",
        "refused in one line, exit 2; the file is left as it was", "retinopathy", _a_file,
        message=r"notes\.txt exists and is not a folder", id="train-run-a-file",
    ),
    case(
        "style-transfer train --run-dir",
        "--run-dir a folder holding the user's report.md and metrics.csv",
        "refused in one line before any work, exit 2; the folder is left byte for byte",
        "style_transfer", _user_folder,
        message=r"mine already holds files and is not a run folder",
        id="train-style-run-user-folder",
    ),
]  # fmt: skip


@pytest.mark.filterwarnings("ignore:skipping unreadable image")
@pytest.mark.parametrize(("entry", "app", "make"), NOT_A_RUN)
def test_a_run_is_never_written_into_a_folder_that_is_not_one(
    entry, app, make, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # a default run folder made by mistake would land here
    target = make(tmp_path)
    if app == "retinopathy":
        argv = train_argv(tmp_path / "cache", target)
        main = retinopathy
    else:
        (tmp_path / "photos").mkdir()
        photos, style = write_photos(tmp_path / "photos"), write_style(tmp_path / "style.png")
        argv = ["train", "--style", "mine", *tiny_args(photos, style), "--run-dir", str(target)]
        main = style_transfer
    before = snapshot(tmp_path)
    assert main(argv) == 2
    one_line_error(capsys.readouterr().err, entry)
    assert snapshot(tmp_path) == before  # nothing changed, nothing added (not even a cache)


def _json_list(tmp: Path) -> Path:
    folder = tmp / "listed"
    folder.mkdir()
    (folder / "config.json").write_text("[1, 2]\n")
    return folder


NOT_RESUMABLE = [
    case(
        "retinopathy train --resume", "--resume an existing file",
        "one line saying it is a file, not a run folder, exit 2", _a_file,
        message=r"notes\.txt is a file, not a run folder", id="resume-a-file",
    ),
    case(
        "retinopathy train --resume", "--resume a folder whose config.json holds a JSON list",
        "one line naming the file, exit 2 (was a traceback)", _json_list,
        message=r"config\.json holds a JSON list, not a run's config", id="resume-config-a-list",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "make"), NOT_RESUMABLE)
def test_resuming_what_is_not_a_run_is_one_line(entry, make, tmp_path, capsys):
    target = make(tmp_path)
    before = snapshot(tmp_path)
    assert retinopathy(["train", "--resume", str(target)]) == 2
    one_line_error(capsys.readouterr().err, entry)
    assert snapshot(tmp_path) == before


RESUMED_OTHERWISE = [
    case(
        "retinopathy train --resume", "--resume RUN --arch resnet34 (the run is a resnet18)",
        "one line naming --arch, saying only --epochs may grow; the run untouched, exit 2 (the "
        "flag was silently ignored)", ["--arch", "resnet34"],
        message=r"cannot resume .* with other settings \(--arch\): .* may only add epochs",
        id="resume-other-flag",
    ),
    case(
        "retinopathy train --resume", "--resume RUN --epochs 1 on a two-epoch run",
        "one line: a resume can add epochs, not remove them; the run untouched, exit 2",
        ["--epochs", "1"],
        message=r"is planned for 2 epochs: a resume can add epochs, not remove them",
        id="resume-fewer-epochs",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "flags"), RESUMED_OTHERWISE)
def test_a_resume_refuses_other_settings(entry, flags, run_copy, capsys):
    before = snapshot(run_copy)
    assert retinopathy(["train", "--resume", str(run_copy), *flags]) == 2
    one_line_error(capsys.readouterr().err, entry)
    assert snapshot(run_copy) == before


def test_a_resume_takes_the_runs_own_values_and_harmless_ones(run_copy, capsys):
    config = json.loads((run_copy / "config.json").read_text())
    same = ["--arch", config["arch"], "--epochs", str(config["train"]["epochs"]),
            "--loader-workers", "0", "--precision", "auto"]  # fmt: skip
    assert retinopathy(["train", "--resume", str(run_copy), *same]) == 0
    assert "more epochs (--epochs) continue it" in capsys.readouterr().out


# ------------------------------------------------------------ item 1: the best model, never lost


MISSING_BEST = [
    case(
        "retinopathy evaluate", "best.pt deleted (best epoch 1), last.pt at epoch 2",
        "a warning line naming last.pt and its epoch; report.md's \"Kept model\" names "
        "`checkpoints/last.pt`, epoch 2 and why (was: silent, \"epoch 1\")", "evaluate",
        message=r"checkpoints/last\.pt \(epoch 2\) is the model used: best\.pt, of the best "
        r"epoch 1, is missing", id="evaluate-best-missing",
    ),
    case(
        "retinopathy predict", "best.pt deleted (best epoch 1), last.pt at epoch 2",
        "grades with last.pt and says so in a warning line (was: silent)", "predict",
        message=r"checkpoints/last\.pt \(epoch 2\) is the model used: best\.pt, of the best "
        r"epoch 1, is missing", id="predict-best-missing",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "command"), MISSING_BEST)
def test_a_missing_best_model_is_never_replaced_silently(
    entry, command, run_copy, tmp_path, recwarn
):
    paths = RunPaths(run_copy)
    last = load_checkpoint(paths.last)
    assert (last["epoch"], last["best_epoch"]) == (2, 1)  # the tiny run's own history
    paths.best.unlink()
    if command == "evaluate":
        assert retinopathy(["evaluate", "--run-dir", str(run_copy)]) == 0
    else:
        out = tmp_path / "grades.csv"
        argv = ["predict", "--run-dir", str(run_copy), str(retina_jpg(tmp_path)), "--out", str(out)]
        assert retinopathy(argv) == 0 and out.is_file()
    warned(recwarn, entry)
    if command == "evaluate":
        report = paths.report.read_text()
        assert (
            "Kept model: `checkpoints/last.pt`, epoch 2 (best.pt, of the best epoch 1, is "
            "missing)." in report
        )
        assert "epoch 1 (best" not in report


def _plant_temporaries(run: Path) -> list[Path]:
    """What kills leave: a half metrics.csv, plot and checkpoints, hidden beside their targets.
    The last one carries this process's pid, as a restarted container hands the killed run's
    pid to the next process."""
    paths = RunPaths(run)
    planted = [
        run / f".metrics.{DEAD_PID}-0123abcd.tmp.csv",
        paths.plots / f".curves.{DEAD_PID}-0123abcd.tmp.png",
        paths.checkpoints / f".best.{DEAD_PID}-0123abcd.tmp.pt",
        paths.checkpoints / f".last.{os.getpid()}-0123abcd.tmp.pt",
    ]
    for path in planted:
        path.write_bytes(b"half a file")
    return planted


TEMPORARIES = [
    case(
        "retinopathy train --resume",
        "hidden temporaries left by kills in the run folder, plots/ and checkpoints/ (one with "
        "the resuming process's own pid, as after a container restart)",
        "all removed by the resume; the user's files are kept", message=None,
        id="resume-cleans-temporaries",
    ),
]  # fmt: skip


@pytest.mark.parametrize("entry", TEMPORARIES)
def test_resume_removes_every_temporary_a_kill_left(entry, run_copy):
    planted = _plant_temporaries(run_copy)
    keep = run_copy / "notes.md"
    keep.write_text("kept\n")
    assert retinopathy(["train", "--resume", str(run_copy)]) == 0  # finished: evaluated again
    assert [p for p in planted if p.exists()] == []
    assert keep.read_text() == "kept\n"


REBUILT_BEST = [
    case(
        "retinopathy train --resume",
        "best.pt lost (deleted by hand, or by an older version killed while copying it) from a "
        "run whose last.pt is the best epoch's state",
        "the resume rebuilds best.pt from last.pt, as slim as a fresh one (no optimiser state); "
        "its weights bit-identical to an uninterrupted run's best.pt, and the report keeps it "
        "(was: best.pt lost, last.pt evaluated)", message=None,
        id="resume-rebuilds-best",
    ),
]  # fmt: skip


@pytest.mark.parametrize("entry", REBUILT_BEST)
def test_resume_rebuilds_a_best_model_the_kill_took(entry, dr_run, tmp_path, capsys):
    reference = RunPaths(dr_run[0])
    assert load_checkpoint(reference.best)["epoch"] == 1  # of 2
    run = tmp_path / "one"
    argv = train_argv(dr_run[1], run)
    argv[argv.index("--epochs") + 1] = "1"  # its last epoch, the first, is its best
    threads = str(load_checkpoint(reference.last)["threads"])
    before = torch.get_num_threads()
    try:
        assert retinopathy([*argv, "--threads", threads]) == 0
        paths = RunPaths(run)
        paths.best.unlink()
        paths.report.unlink()
        assert retinopathy(["train", "--resume", str(run)]) == 0
    finally:
        torch.set_num_threads(before)
    assert "rebuilt from last.pt" in capsys.readouterr().out
    rebuilt = load_checkpoint(paths.best)
    assert "optimizer" not in rebuilt and rebuilt["epoch"] == 1
    assert same_tensors(rebuilt["model"], load_checkpoint(reference.best)["model"])
    assert "Kept model: `checkpoints/best.pt`, epoch 1 (best `val_qwk`)." in (
        paths.report.read_text()
    )


# ------------------------------------------------------------ item 3: a checkpoint of another model


def _other_arch(paths: RunPaths, state: dict) -> None:
    """best.pt of a resnet18, written as this version writes checkpoints (it names its model)."""
    model = build_model("resnet18", 2)
    save_checkpoint(paths.best, {**state, "arch": "resnet18", "model": model.state_dict()})


def _other_arch_unnamed(paths: RunPaths, state: dict) -> None:
    """The same from before checkpoints named their model: the tensors alone must tell."""
    model = build_model("resnet18", 2)
    state = {k: v for k, v in state.items() if k != "arch"}
    save_checkpoint(paths.best, {**state, "model": model.state_dict()})


def _other_classes(paths: RunPaths, state: dict) -> None:
    """The run's architecture with a 5-grade head, not naming itself."""
    state = {k: v for k, v in state.items() if k != "arch"}
    save_checkpoint(paths.best, {**state, "model": build_model(ARCH, 5).state_dict()})


def _no_weights(paths: RunPaths, state: dict) -> None:
    save_checkpoint(paths.best, {k: v for k, v in state.items() if k != "model"})


FOREIGN = [
    case(
        "retinopathy evaluate", "best.pt of a resnet18 placed in a squeezenet1_1 run",
        "one line naming both architectures, exit 2; the report is not rewritten", "evaluate",
        _other_arch, message=r"best\.pt holds a resnet18 model, not the run's squeezenet1_1",
        id="evaluate-other-arch",
    ),
    case(
        "retinopathy predict", "best.pt of a resnet18 placed in a squeezenet1_1 run",
        "one line naming both architectures, exit 2; nothing written", "predict", _other_arch,
        message=r"best\.pt holds a resnet18 model, not the run's squeezenet1_1",
        id="predict-other-arch",
    ),
    case(
        "retinopathy evaluate", "best.pt of a resnet18 that does not name its architecture",
        "one line: the file does not fit the run's squeezenet1_1, how many tensors are missing",
        "evaluate", _other_arch_unnamed,
        message=r"best\.pt does not fit the run's squeezenet1_1: \d+ tensor\(s\) missing",
        id="evaluate-other-arch-unnamed",
    ),
    case(
        "retinopathy predict", "best.pt of the same architecture with a 5-class head",
        "one line naming the tensor and both shapes, exit 2", "predict", _other_classes,
        message=r"classifier\.1\.weight is \(5, 512, 1, 1\) in the file, \(2, 512, 1, 1\) in "
        r"the model", id="predict-other-head",
    ),
    case(
        "retinopathy evaluate", "best.pt without model weights",
        "one line, exit 2 (was: KeyError traceback)", "evaluate", _no_weights,
        message=r"best\.pt holds no model weights", id="evaluate-no-weights",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "command", "plant"), FOREIGN)
def test_a_checkpoint_of_another_model_is_refused_by_name(
    entry, command, plant, run_copy, tmp_path, capsys
):
    paths = RunPaths(run_copy)
    plant(paths, load_checkpoint(paths.best))
    image = retina_jpg(tmp_path)
    before = snapshot(tmp_path)
    argv = (
        ["evaluate", "--run-dir", str(run_copy)]
        if command == "evaluate"
        else ["predict", "--run-dir", str(run_copy), str(image), "--out", str(tmp_path / "g.csv")]
    )
    assert retinopathy(argv) == 2
    one_line_error(capsys.readouterr().err, entry)
    assert snapshot(tmp_path) == before


UNNAMED_FITS = [
    case(
        "retinopathy evaluate", "best.pt whose weights fit but that does not name its "
        "architecture (written before checkpoints did)",
        "evaluated, with a warning line saying the architecture was taken from the tensors",
        message=r"best\.pt does not say which architecture it holds; its weights fit "
        r"squeezenet1_1", id="evaluate-unnamed-fits",
    ),
]  # fmt: skip


@pytest.mark.parametrize("entry", UNNAMED_FITS)
def test_an_unnamed_checkpoint_that_fits_is_used_with_a_warning(entry, dr_run, run_copy, recwarn):
    paths = RunPaths(run_copy)
    state = load_checkpoint(paths.best)
    assert state.pop("arch") == ARCH
    save_checkpoint(paths.best, state)
    assert retinopathy(["evaluate", "--run-dir", str(run_copy)]) == 0
    warned(recwarn, entry)
    got = json.loads((run_copy / "test_metrics.json").read_text())["summary"]
    assert got == json.loads((dr_run[0] / "test_metrics.json").read_text())["summary"]


FOREIGN_LAST = [
    case(
        "retinopathy train --resume", "last.pt of a resnet18 placed in a squeezenet1_1 run",
        "one line naming both architectures, exit 2 (was: a RuntimeError traceback)",
        message=r"last\.pt holds a resnet18 model, not the run's squeezenet1_1",
        id="resume-other-arch",
    ),
]  # fmt: skip


@pytest.mark.parametrize("entry", FOREIGN_LAST)
def test_resume_refuses_a_last_checkpoint_of_another_model(entry, run_copy, capsys):
    paths = RunPaths(run_copy)
    state = load_checkpoint(paths.last)
    save_checkpoint(
        paths.last, {**state, "arch": "resnet18", "model": build_model("resnet18", 2).state_dict()}
    )
    assert retinopathy(["train", "--resume", str(run_copy)]) == 2
    one_line_error(capsys.readouterr().err, entry)
