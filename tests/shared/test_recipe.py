"""The usual training recipe in the engine: step-wise warmup and the weights' moving average,
both part of an exact resume."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from shared.checkpoint import load_checkpoint
from shared.engine import Callback, TrainConfig
from shared.engine.warmup import warmup_factor, warmup_steps
from shared.errors import UserError
from shared.runs import RunPaths

sys.path.insert(0, str(Path(__file__).parent))
from tiny_training import Interrupt, InterruptAt, make_trainer


class RatesSeen(Callback):
    """The rate each optimiser step was taken with (the rate is scaled only during the step)."""

    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_fit_start(self, trainer) -> None:
        def before_step(optimizer, args, kwargs):
            self.rates.append(optimizer.param_groups[0]["lr"])

        trainer.optimizer.register_step_pre_hook(before_step)


def test_warmup_factor_rises_linearly_then_stays_at_one():
    assert warmup_steps(1.5, 4) == 6 and warmup_steps(0, 4) == 0
    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_warmup_scales_the_first_steps_and_leaves_the_schedule_alone(tmp_path):
    seen = RatesSeen()
    # 40 photos in batches of 8: 5 steps an epoch; step decay halves the rate each epoch
    trainer = make_trainer(tmp_path / "w", callbacks=[seen], warmup_epochs=2, checkpoint_every=0)
    rows = trainer.fit()
    assert [r["lr"] for r in rows] == pytest.approx([0.1, 0.05, 0.025])  # the schedule's
    expect = [0.1 * (s + 1) / 10 for s in range(5)] + [0.05 * (s + 6) / 10 for s in range(5)]
    assert seen.rates[:10] == pytest.approx(expect)
    assert seen.rates[10:] == pytest.approx([0.025] * 5)


def test_the_moving_average_is_what_is_validated_and_kept(tmp_path):
    decay = 0.8
    averaged = {}

    class Average(Callback):  # the average by hand, from the weights after each step
        def on_step_end(self, trainer, step, logs):
            for name, value in trainer.model.state_dict().items():
                if not value.is_floating_point():
                    continue
                old = averaged.get(name)
                averaged[name] = value.clone() if old is None else decay * old + (1 - decay) * value

    trainer = make_trainer(tmp_path / "e", callbacks=[Average()], ema=decay)
    trainer.fit()
    kept = load_checkpoint(RunPaths(tmp_path / "e").best)["model"]
    last = load_checkpoint(RunPaths(tmp_path / "e").last)
    for name, value in averaged.items():
        torch.testing.assert_close(last["model"][name], value, rtol=1e-5, atol=1e-6)
    assert not torch.equal(last["model"]["head.2.weight"], last["trained_model"]["head.2.weight"])
    assert torch.equal(last["trained_model"]["head.2.weight"], trainer.model.head[2].weight)
    assert last["ema_updates"] == trainer.step
    assert kept.keys() == trainer.model.state_dict().keys()  # inference loads it as it is


def test_a_resumed_run_with_warmup_and_average_ends_bit_identical(tmp_path):
    recipe = {"warmup_epochs": 1.5, "ema": 0.9}
    reference = make_trainer(tmp_path / "ref", **recipe)
    ref_rows = reference.fit()
    with pytest.raises(Interrupt):  # killed at step 7: last.pt is at step 6, mid-warmup
        make_trainer(tmp_path / "cut", callbacks=[InterruptAt(7)], **recipe).fit()
    resumed = make_trainer(tmp_path / "cut", **recipe)
    rows = resumed.fit(resume=True)
    strip = [{k: v for k, v in r.items() if k != "time"} for r in rows]
    assert strip == [{k: v for k, v in r.items() if k != "time"} for r in ref_rows]
    a = load_checkpoint(RunPaths(tmp_path / "ref").last)
    b = load_checkpoint(RunPaths(tmp_path / "cut").last)
    for key in ("model", "trained_model"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key])


@pytest.mark.parametrize(
    ("setting", "message"),
    [({"ema": 1.0}, "strictly between 0 and 1"), ({"warmup_epochs": -1}, "must be >= 0")],
)
def test_bad_recipe_values_are_one_line(setting, message):
    with pytest.raises(UserError, match=message):
        TrainConfig(**setting)
