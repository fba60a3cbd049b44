"""The kept model of a run: read once (config.json and best.pt), checked against the task."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from retinopathy.models import load_run_model, view_probs
from shared import runs
from shared.errors import UserError


def test_task_and_checkpoint_class_counts_must_agree(trained) -> None:
    run, _ = trained
    with pytest.raises(UserError, match="5 classes"):
        load_run_model(run, num_classes=3)


def test_kept_model_is_the_best_epoch_read_once(trained, monkeypatch) -> None:
    run, _ = trained
    reads = []
    original = runs.load_checkpoint
    monkeypatch.setattr(
        runs, "load_checkpoint", lambda *a, **k: reads.append(a) or original(*a, **k)
    )
    kept = load_run_model(run)
    assert len(reads) == 1 and reads[0][0].name == "best.pt"
    metrics = pd.read_csv(run / "metrics.csv")
    assert kept.epoch == int(metrics.loc[metrics["val_qwk"].idxmax(), "epoch"])
    assert kept.config.arch == "resnet18" and not kept.model.training


def test_flipped_views_average_the_softmax() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(3)
    )
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        plain = view_probs(model, x)
        tta = view_probs(model, x, tta=True)
        by_hand = sum(model(v).softmax(1) for v in (x, x.flip(-1), x.flip(-2))) / 3
    assert torch.allclose(plain, model(x).softmax(1)) and torch.allclose(tta, by_hand)
    assert torch.allclose(tta.sum(1), torch.ones(2))
