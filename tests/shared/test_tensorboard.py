"""``TensorBoardLog``: event files TensorBoard's reader parses; one event per epoch, resumed too."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from shared.engine.tensorboard import FOLDER, TensorBoardLog, scalar_name

sys.path.insert(0, str(Path(__file__).parent))
from tiny_training import Interrupt, InterruptAt, make_trainer


def events(run: Path) -> EventAccumulator:
    reader = EventAccumulator(str(run / FOLDER))
    reader.Reload()
    return reader


def one_figure(trainer):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, trainer.epoch])
    return {"progress": fig}


def test_scalar_names_pair_train_and_validation():
    assert [scalar_name(k) for k in ("train_loss", "val_loss", "val_qwk", "lr")] == [
        "loss/train", "loss/val", "qwk/val", "lr",
    ]  # fmt: skip


def test_every_epoch_is_logged_once_across_a_resume(tmp_path):
    run = tmp_path / "run"
    # 5 steps an epoch, a checkpoint every 2: killed at step 12, epoch 3 restarts from step 10
    with pytest.raises(Interrupt):
        make_trainer(run, callbacks=[TensorBoardLog(run, one_figure), InterruptAt(12)]).fit()
    rows = make_trainer(run, callbacks=[TensorBoardLog(run, one_figure)]).fit(resume=True)
    reader = events(run)
    for key in ("train_loss", "val_loss", "val_acc", "lr"):
        logged = reader.Scalars(scalar_name(key))
        assert [e.step for e in logged] == [1, 2, 3]
        assert [e.value for e in logged] == pytest.approx([r[key] for r in rows], rel=1e-6)
    assert [e.step for e in reader.Images("progress")] == [1, 2, 3]
    assert plt.get_fignums() == []
