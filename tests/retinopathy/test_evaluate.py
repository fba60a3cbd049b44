"""Evaluating a finished run reuses what the run left: its prepared photos and split, its kept
checkpoint read once; nothing drawn, read from the originals or preprocessed again."""

from __future__ import annotations

import importlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from retinopathy.data import synthetic
from retinopathy.evaluate import evaluate
from retinopathy.grading import CHECKPOINT_KEY, THRESHOLDS_JSON
from shared import runs
from shared.checkpoint import load_checkpoint, save_checkpoint

# the module, not the function the package exports under the same name
pipeline = importlib.import_module("retinopathy.prepare")


def test_evaluate_needs_neither_the_originals_nor_a_new_prepare(
    trained, tmp_path: Path, monkeypatch
) -> None:
    run, cache = trained
    before = json.loads((run / "test_metrics.json").read_text())
    originals = synthetic.default_root(400, size=128, cache_dir=cache)
    reads: list[Path] = []
    load = runs.load_checkpoint
    monkeypatch.setattr(runs, "load_checkpoint", lambda p, **k: reads.append(p) or load(p, **k))
    monkeypatch.setattr(pipeline, "prepare_records", _refuse)
    monkeypatch.setattr(pipeline, "generate", _refuse)
    shutil.move(originals, tmp_path / "moved")
    try:
        report = evaluate(run)
        assert not originals.exists()  # not drawn again
    finally:
        shutil.move(tmp_path / "moved", originals)
    after = json.loads((run / "test_metrics.json").read_text())
    # the pointing game needs the lesion masks beside the originals: without them it is left out
    assert "pointing_game" not in after and "pointing_game" in before
    assert after == {k: v for k, v in before.items() if k != "pointing_game"}
    (run / "test_metrics.json").write_text(json.dumps(before))  # the session's run as trained
    assert [p.name for p in reads] == ["best.pt"]
    kept = re.search(r"Kept model: `checkpoints/best.pt`, epoch (\d+)", report.read_text())
    metrics = pd.read_csv(run / "metrics.csv")
    assert int(kept[1]) == int(metrics.loc[metrics["val_qwk"].idxmax(), "epoch"])


def test_predictions_file_has_labels_grades_and_class_names(trained) -> None:
    run, _ = trained
    table = pd.read_csv(run / "test_predictions.csv")
    split = pd.read_csv(run / "split.csv")
    assert list(table["id"]) == list(split.loc[split["split"] == "test", "id"])
    assert list(table.columns[:4]) == ["id", "true", "grade", "class"]
    assert (table["class"].str[0].astype(int) == table["grade"]).all()  # "2 moderate" is class 2
    probs = table[[f"p_{k}" for k in range(5)]].to_numpy()
    assert (probs.argmax(1) == table["grade"]).all()


def _refuse(*args, **kwargs):
    raise AssertionError("evaluate must not prepare or draw anything")


def test_evaluate_computes_with_the_runs_recorded_threads_unless_told(trained, monkeypatch):
    import torch

    module = importlib.import_module("retinopathy.evaluate")
    from retinopathy.config import EvaluateConfig, PredictConfig
    from shared.errors import UserError

    run, _ = trained
    recorded = json.loads((run / "config.json").read_text())["train"]["threads"]
    seen = []
    monkeypatch.setattr(
        module, "evaluate_run", lambda *a, **k: seen.append(torch.get_num_threads())
    )
    torch.set_num_threads(recorded + 1)  # what this process would otherwise use
    evaluate(EvaluateConfig(run))
    evaluate(EvaluateConfig(run, threads=recorded + 1))
    assert seen == [recorded, recorded + 1]
    with pytest.raises(UserError, match="threads must be at least 1"):
        PredictConfig(run, images=run, threads=0)


def _autocast_dtype() -> object:
    import torch

    return torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None


class _Seen(Exception):
    """Stops the pipeline once the spy has seen what it computes in."""


def test_evaluate_and_predict_compute_in_the_runs_recorded_precision_unless_told(
    trained, monkeypatch
):
    import types

    import torch

    from retinopathy.config import EvaluateConfig, PredictConfig
    from retinopathy.models import load_run_model
    from retinopathy.predict import grade_photos

    evaluation = importlib.import_module("retinopathy.evaluate")
    prediction = importlib.import_module("retinopathy.predict")
    run, _ = trained
    cpu = torch.device("cpu")
    kept = load_run_model(run)
    assert kept.compute_dtype(None, cpu) == torch.float32  # the session's run: fp32
    kept.config.train.precision = "bf16"  # as a run trained in bf16 records it
    assert kept.compute_dtype(None, cpu) == torch.bfloat16
    assert kept.compute_dtype("fp32", cpu) == torch.float32
    seen = []

    def spy(*args, **kwargs):
        seen.append(_autocast_dtype())
        raise _Seen

    monkeypatch.setattr(evaluation, "dataset_outputs", spy)
    with pytest.raises(_Seen):  # training's own evaluation: the run's precision
        evaluation.evaluate_run(run, types.SimpleNamespace(val=None, test=None), cpu, kept=kept)
    monkeypatch.setattr(prediction, "load_run_model", lambda run_dir: kept)
    monkeypatch.setattr(prediction, "_grade_batch", spy)
    for precision in (None, "fp32"):
        with pytest.raises(_Seen):
            grade_photos(PredictConfig(run, images=run / "config.json", precision=precision))
    assert seen == [torch.bfloat16, torch.bfloat16, None]  # fp32: no autocast at all
    passed = []
    monkeypatch.setattr(evaluation, "evaluate_run", lambda *a, **k: passed.append(k["dtype"]))
    monkeypatch.setattr(evaluation, "load_run_model", lambda run_dir: kept)
    evaluate(EvaluateConfig(run))
    evaluate(EvaluateConfig(run, precision="fp32"))
    assert passed == [torch.bfloat16, torch.float32]


def test_the_grading_belongs_to_the_kept_checkpoint(trained, tmp_path: Path) -> None:
    """best.pt holds the grading chosen for it (thresholds.json is the readable copy), so a
    best.pt rewritten by more training is graded by cut points chosen again, not the old ones."""
    run, _ = trained
    copy = shutil.copytree(run, tmp_path / "run", ignore=shutil.ignore_patterns("last.pt"))
    best = copy / "checkpoints" / "best.pt"
    state = load_checkpoint(best)
    assert state[CHECKPOINT_KEY] == json.loads((copy / THRESHOLDS_JSON).read_text())
    # as a resumed run's training leaves it: a new best.pt, no grading; the old copy stale
    stale = {**state[CHECKPOINT_KEY], "points": {}}
    (copy / THRESHOLDS_JSON).write_text(json.dumps(stale))
    save_checkpoint(best, {k: v for k, v in state.items() if k != CHECKPOINT_KEY})
    evaluate(copy)
    assert json.loads((copy / THRESHOLDS_JSON).read_text()) == state[CHECKPOINT_KEY]
    assert load_checkpoint(best)[CHECKPOINT_KEY] == state[CHECKPOINT_KEY]
