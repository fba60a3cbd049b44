"""shared.engine: the Trainer's loop, its settings, its checkpoints and exact resume."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from shared.checkpoint import load_checkpoint
from shared.engine import (
    Callback,
    NonFiniteLossError,
    TrainConfig,
    Trainer,
    build_optimizer,
    classification_step,
)
from shared.errors import UserError
from shared.plotting import curve_panels
from shared.runs import MetricsLog, RunPaths, read_config, write_config

sys.path.insert(0, str(Path(__file__).parent))
from tiny_training import Interrupt, InterruptAt, TinyNet, make_trainer

SCRIPT = Path(__file__).with_name("tiny_training.py")


class Blobs(Dataset):
    """Three well-separated Gaussian blobs in 4-D: an MLP learns them in a few epochs."""

    def __init__(self, n: int = 60, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.y = torch.arange(n) % 3
        centres = torch.tensor([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0]])
        self.x = centres[self.y] + torch.randn(n, 4, generator=g)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def config(**overrides) -> TrainConfig:
    base = dict(epochs=3, batch_size=16, optimizer="adam", lr=0.05, plots=False, precision="fp32")
    return TrainConfig(**{**base, **overrides})


def trainer(run_dir, model=None, train=None, val="default", **kwargs) -> Trainer:
    cfg = kwargs.pop("config", None) or config()
    val = Blobs(30, seed=1) if val == "default" else val
    return Trainer(
        model or mlp(), train or Blobs(), val, config=cfg, run_dir=run_dir, device="cpu",
        verbose=False, **kwargs,
    )  # fmt: skip


def equal_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def without_time(rows):
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


class Scripted:
    """A ``metrics_fn`` returning the next of a fixed list of scores, one per epoch."""

    def __init__(self, scores):
        self.scores = iter(scores)

    def __call__(self, outputs, targets):
        return {"score": next(self.scores)}


# ---------------------------------------------------------------- the loop


def test_fit_learns_and_writes_the_run_folder(tmp_path):
    t = trainer(tmp_path, config=config(epochs=5))
    rows = t.fit()
    run = RunPaths(tmp_path)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[-1]["val_acc"] >= 0.9 and rows[-1]["train_loss"] < 0.5 * rows[0]["train_loss"]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "time"} <= set(rows[0])
    assert MetricsLog(run.metrics).rows() == rows  # exact floats, one row per epoch
    assert read_config(tmp_path)["train"] == t.config.to_dict()

    last, best = load_checkpoint(run.last), load_checkpoint(run.best)
    best_epoch = min(rows, key=lambda r: r["val_loss"])["epoch"]
    assert last["epoch"] == 5 and last["batch"] == 0 and last["step"] == 5 * 4
    assert best["epoch"] == best_epoch and best["best"] == rows[best_epoch - 1]["val_loss"]
    # the settings live once, in config.json; a checkpoint holds state and its format only
    assert "config" not in last and "train_config" not in last and last["format"] == 1
    assert read_config(tmp_path)["train"]["lr"] == 0.05
    assert equal_state(last["model"], t.model.state_dict())


def test_curves_are_plotted_at_each_epoch_end(tmp_path):
    rows = [
        {
            "epoch": 1,
            "train_loss": 1.0,
            "train_acc": 0.5,
            "val_loss": 1.1,
            "val_qwk": 0.2,
            "lr": 0.1,
        },
        {
            "epoch": 2,
            "train_loss": 0.8,
            "train_acc": 0.6,
            "val_loss": 0.9,
            "val_qwk": 0.3,
            "lr": 0.1,
        },
    ]
    assert curve_panels(rows) == {
        "loss": {"train_loss": [1.0, 0.8], "val_loss": [1.1, 0.9]},
        "acc": {"train_acc": [0.5, 0.6]},
        "qwk": {"val_qwk": [0.2, 0.3]},
        "lr": {"lr": [0.1, 0.1]},
    }
    trainer(tmp_path, config=config(epochs=1, plots=True)).fit()
    assert RunPaths(tmp_path).plot("curves").stat().st_size > 5000


@pytest.mark.parametrize(("mode", "best_epoch"), [("max", 4), ("min", 5)])
def test_best_checkpoint_follows_the_monitored_metric(tmp_path, mode, best_epoch):
    scores = [0.2, 0.5, 0.4, 0.6, 0.1]
    cfg = config(epochs=5, monitor="val_score", mode=mode)
    t = trainer(tmp_path, config=cfg, eval_fn=_eval, metrics_fn=Scripted(scores))
    t.fit()
    best = load_checkpoint(RunPaths(tmp_path).best)
    assert best["epoch"] == best_epoch and best["best"] == scores[best_epoch - 1]
    assert t.best_epoch == best_epoch


def _eval(model, batch):
    x, y = batch
    logits = model(x)
    return nn.functional.cross_entropy(logits, y), logits, y


def test_early_stopping_and_resuming_a_finished_run(tmp_path, capsys):
    cfg = config(epochs=10, monitor="val_score", mode="max", early_stopping_patience=2)
    t = trainer(tmp_path, config=cfg, eval_fn=_eval, metrics_fn=Scripted([0.2, 0.5, 0.4, 0.3, 0.9]))
    rows = t.fit()
    assert len(rows) == 4  # epochs 3 and 4 did not beat epoch 2
    last = load_checkpoint(RunPaths(tmp_path).last)
    assert last["stopped_early"] and last["best_epoch"] == 2
    csv_before = RunPaths(tmp_path).metrics.read_text()

    again = trainer(tmp_path, model=mlp(), config=cfg, eval_fn=_eval, metrics_fn=Scripted([]))
    assert again.fit(resume=True) == rows
    assert "already finished (stopped early, 4 epochs)" in capsys.readouterr().out
    assert equal_state(again.model.state_dict(), t.model.state_dict())
    assert RunPaths(tmp_path).metrics.read_text() == csv_before


@pytest.mark.parametrize(
    ("scheduler", "expected"),
    [
        ("step", [0.1, 0.1, 0.01, 0.01, 0.001]),
        ("cosine", [0.1 * 0.5 * (1 + math.cos(math.pi * e / 5)) for e in range(5)]),
        ("plateau", [0.1, 0.1, 0.1, 0.05, 0.05]),  # patience 1: cut after 2 flat epochs
    ],
)
def test_schedulers(tmp_path, scheduler, expected):
    cfg = config(
        epochs=5, optimizer="sgd", lr=0.1, scheduler=scheduler, step_size=2, gamma=0.1,
        plateau_factor=0.5, plateau_patience=1, monitor="val_score", mode="max",
    )  # fmt: skip
    t = trainer(tmp_path, config=cfg, eval_fn=_eval, metrics_fn=Scripted([0.5] * 5))
    assert [r["lr"] for r in t.fit()] == pytest.approx(expected, rel=1e-12)


def test_optimizers_and_only_trainable_parameters(tmp_path):
    model = mlp()
    model[0].requires_grad_(False)  # head-only fine-tuning
    params = [p for p in model.parameters() if p.requires_grad]
    sgd = build_optimizer(params, config(optimizer="sgd", momentum=0.8, weight_decay=1e-4))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.8
    assert type(build_optimizer(params, config(optimizer="adamw"))) is torch.optim.AdamW
    assert type(build_optimizer(params, config(optimizer="adam"))) is torch.optim.Adam

    frozen = {k: v.clone() for k, v in model[0].state_dict().items()}
    t = trainer(tmp_path, model=model, config=config(epochs=2))
    optimised = {id(p) for g in t.optimizer.param_groups for p in g["params"]}
    assert optimised == {id(p) for p in model[2].parameters()}
    head_before = model[2].weight.detach().clone()
    t.fit()
    assert equal_state(model[0].state_dict(), frozen)
    assert not torch.equal(model[2].weight, head_before)


def test_bad_settings_are_one_line_user_errors():
    with pytest.raises(UserError, match="optimizer must be one of sgd, adam, adamw, not 'lbfgs'"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(UserError, match="accum_steps must be >= 1, not 0"):
        TrainConfig(accum_steps=0)
    with pytest.raises(UserError, match="unknown training setting"):
        TrainConfig.from_dict({"lr": 0.1, "learning_rate": 0.1})
    assert TrainConfig.from_dict(TrainConfig(lr=0.2).to_dict()) == TrainConfig(lr=0.2)


def test_gradient_accumulation_equals_the_bigger_batch(tmp_path):
    # Linear model, plain SGD: two accumulated halves give the full batch's mean gradient.
    def run(name, batch_size, accum):
        torch.manual_seed(0)
        model = nn.Linear(4, 3)
        cfg = config(epochs=2, batch_size=batch_size, accum_steps=accum, optimizer="sgd",
                     momentum=0.0, lr=0.5)  # fmt: skip
        t = trainer(tmp_path / name, model=model, train=Blobs(32), config=cfg)
        t.fit()
        return t

    whole, halves = run("whole", 16, 1), run("halves", 8, 2)
    assert whole.step == halves.step == 4
    for a, b in zip(whole.model.parameters(), halves.model.parameters(), strict=True):
        assert (a - b).abs().max() < 1e-6
    assert not torch.equal(whole.model.weight, run("no-accum", 8, 1).model.weight)


def test_gradient_clipping_bounds_each_update(tmp_path):
    def update_norm(name, clip):
        torch.manual_seed(0)
        model = nn.Linear(4, 3)
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        cfg = config(epochs=1, batch_size=60, optimizer="sgd", momentum=0.0, lr=1.0,
                     clip_grad_norm=clip)  # fmt: skip
        trainer(tmp_path / name, model=model, config=cfg).fit()
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        return (after - before).norm().item()

    assert update_norm("free", None) > 0.1
    assert update_norm("clipped", 0.01) == pytest.approx(0.01, rel=1e-4)


def test_nan_loss_stops_naming_epoch_and_step_and_keeps_the_checkpoint(tmp_path):
    calls = []
    default = classification_step()

    def step(model, batch):
        calls.append(1)
        loss, logs = default(model, batch)
        return (loss * float("nan") if len(calls) == 7 else loss), logs

    cfg = config(epochs=3, batch_size=12, checkpoint_every=2)  # 5 batches an epoch
    t = trainer(tmp_path, config=cfg, step_fn=step)
    with pytest.raises(NonFiniteLossError) as info:
        t.fit()
    message = str(info.value)
    assert "loss is nan at epoch 2, step 7 (batch 2 of the epoch)" in message
    assert "\n" not in message and str(RunPaths(tmp_path).last) in message
    last = load_checkpoint(RunPaths(tmp_path).last)
    assert (last["epoch"], last["batch"], last["step"]) == (1, 1, 6)
    assert equal_state(last["model"], t.model.state_dict())  # the bad step changed nothing


def test_callbacks_see_every_step_and_can_add_to_the_row(tmp_path):
    class Recorder(Callback):
        def __init__(self):
            self.events = []

        def on_fit_start(self, trainer):
            self.events.append("start")

        def on_step_end(self, trainer, step, logs):
            self.events.append((step, round(logs["loss"], 6) == round(logs["loss"], 6)))

        def on_epoch_end(self, trainer, epoch, row):
            row["val_extra"] = 10.0 + epoch

        def on_fit_end(self, trainer, rows):
            self.events.append(("end", len(rows)))

    rec = Recorder()
    rows = trainer(tmp_path, config=config(epochs=2, accum_steps=2), callbacks=[rec]).fit()
    # 4 batches an epoch, a step every 2: steps 1..4 over two epochs
    assert rec.events == ["start", *[(s, True) for s in range(1, 5)], ("end", 2)]
    assert [r["val_extra"] for r in MetricsLog(RunPaths(tmp_path).metrics).rows()] == [10.0, 11.0]
    assert rows[1]["val_extra"] == 11.0


def test_amp_bf16_and_channels_last_on_cpu(tmp_path):
    from tiny_training import TinyImages

    seen = {}
    default = classification_step()

    def step(model, batch):
        seen["input_nhwc"] = batch[0].is_contiguous(memory_format=torch.channels_last)
        seen["dtype"] = model.features[0](batch[0]).dtype
        return default(model, batch)

    torch.manual_seed(0)
    model = TinyNet()
    cfg = config(epochs=1, precision="bf16", channels_last=True, batch_size=8)
    t = trainer(tmp_path, model=model, train=TinyImages(16), val=TinyImages(8, augment=False),
                config=cfg, step_fn=step)  # fmt: skip
    rows = t.fit()
    assert seen == {"input_nhwc": True, "dtype": torch.bfloat16}
    assert model.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert math.isfinite(rows[0]["train_loss"]) and math.isfinite(rows[0]["val_loss"])


def test_classification_step_with_inception_aux_logits_and_class_weights():
    Out = namedtuple("InceptionOutputs", ["logits", "aux_logits"])
    logits, aux = torch.randn(6, 3), torch.randn(6, 3)
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    weight = torch.tensor([1.0, 2.0, 5.0])
    step = classification_step(nn.CrossEntropyLoss(weight=weight), aux_weight=0.4)
    loss, logs = step(lambda x: Out(logits, aux), (torch.zeros(6, 1), targets))
    ce = nn.functional.cross_entropy
    expected = ce(logits, targets, weight=weight) + 0.4 * ce(aux, targets, weight=weight)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert logs["acc"].item() == pytest.approx((logits.argmax(1) == targets).float().mean().item())


def test_metrics_fn_sees_the_whole_validation_set_in_order(tmp_path):
    seen = []

    def metrics(outputs, targets):
        seen.append((outputs.shape, targets.clone()))
        return {"n": float(len(targets))}

    val = Blobs(30, seed=1)
    rows = trainer(tmp_path, val=val, config=config(epochs=1, batch_size=8),
                   metrics_fn=metrics).fit()  # fmt: skip
    assert seen[0][0] == (30, 3) and torch.equal(seen[0][1], val.y)
    assert rows[0]["val_n"] == 30.0


def test_weighted_sampling_draws_by_weight(tmp_path):
    drawn = []
    default = classification_step()

    def step(model, batch):
        drawn.append(batch[1])
        return default(model, batch)

    data = Blobs(60)
    weights = (data.y == 2).double() * 3 + (data.y == 0).double()  # class 1 never, 2 three times 0
    trainer(tmp_path, train=data, config=config(epochs=5), step_fn=step,
            sampler_weights=weights).fit()  # fmt: skip
    labels = torch.cat(drawn)
    assert len(labels) == 5 * 60 and (labels != 1).all()
    assert (labels == 2).float().mean().item() == pytest.approx(0.75, abs=0.06)


def test_without_validation_the_train_metric_is_monitored(tmp_path):
    t = trainer(tmp_path, val=None, config=config(epochs=2))
    rows = t.fit()
    assert "val_loss" not in rows[0] and t.monitor == "train_loss"
    assert t.best == min(r["train_loss"] for r in rows)


def test_unknown_monitor_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="'val_qwk' is not logged; choose one of: train_loss"):
        trainer(tmp_path, config=config(monitor="val_qwk")).fit()


# ---------------------------------------------------------------- resume


def test_resume_guards(tmp_path, capsys):
    trainer(tmp_path / "a", config=config(epochs=1)).fit()
    with pytest.raises(UserError, match="already holds a checkpoint"):
        trainer(tmp_path / "a", config=config(epochs=1)).fit()
    with pytest.raises(UserError, match=r"other settings \(lr 0.05 -> 0.01\)"):
        trainer(tmp_path / "a", config=config(epochs=1, lr=0.01)).fit(resume=True)
    # Killed before its first checkpoint: a resume starts over, dropping any orphan row.
    MetricsLog(RunPaths(tmp_path / "b").metrics).append({"epoch": 1, "train_loss": 9.0})
    rows = Trainer.from_run(tmp_path / "a", mlp(), Blobs(), Blobs(30, seed=1), device="cpu")
    assert rows.config.precision in ("fp32", "bf16")  # config.json records what ran
    assert rows.config == config(epochs=1, precision=rows.config.precision)  # from config.json
    fresh = trainer(tmp_path / "b", config=config(epochs=1)).fit(resume=True)
    assert "no checkpoint yet" in capsys.readouterr().out
    assert MetricsLog(RunPaths(tmp_path / "b").metrics).rows() == fresh


def test_a_cosine_schedule_grown_on_resume_continues_on_the_new_count(tmp_path):
    straight = trainer(tmp_path / "straight", config=config(epochs=4, scheduler="cosine")).fit()
    trainer(tmp_path / "grown", config=config(epochs=2, scheduler="cosine")).fit()
    # The app grows the plan in config.json; the engine then resumes with the larger count.
    record = read_config(tmp_path / "grown")
    record["train"]["epochs"] = 4
    write_config(tmp_path / "grown", record)
    rows = trainer(tmp_path / "grown", config=config(epochs=4, scheduler="cosine")).fit(resume=True)
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4]
    # Epochs 1-2 followed the two-epoch cosine (0.05, 0.025, then 0 had it ended); from epoch 3
    # on the rates are the four-epoch run's.
    assert rows[1]["lr"] == pytest.approx(0.025) != pytest.approx(straight[1]["lr"])
    assert [r["lr"] for r in rows[2:]] == pytest.approx([r["lr"] for r in straight[2:]], rel=1e-9)
    assert rows[3]["lr"] > 0


def test_interrupted_run_with_torchvision_augmentation_in_workers_resumes_exactly(tmp_path):
    from torchvision.transforms import v2

    augment = v2.Compose(
        [v2.RandomResizedCrop(12, scale=(0.5, 1.0), antialias=True), v2.RandomHorizontalFlip()]
    )
    reference = make_trainer(tmp_path / "ref", workers=2, transform=augment)
    ref_rows = reference.fit()

    run = tmp_path / "cut"
    with pytest.raises(Interrupt):  # steps 7 and 8 happen, then are lost: last.pt is at step 6
        make_trainer(run, workers=2, transform=augment, callbacks=[InterruptAt(8)]).fit()
    assert load_checkpoint(RunPaths(run).last)["step"] == 6
    resumed = make_trainer(run, workers=2, transform=augment)
    rows = resumed.fit(resume=True)
    assert equal_state(resumed.model.state_dict(), reference.model.state_dict())
    assert without_time(rows) == without_time(ref_rows)
    assert without_time(MetricsLog(RunPaths(run).metrics).rows()) == without_time(ref_rows)


def test_sigkilled_run_resumes_bit_identical(tmp_path):
    """The acceptance test: SIGKILL mid-epoch, resume, compare every tensor; workers 0 and 2."""
    variants = {0: tmp_path / "w0", 2: tmp_path / "w2"}
    procs = {}
    for workers, run in variants.items():  # both start at once: importing torch takes seconds
        run.mkdir()
        cmd = [sys.executable, str(SCRIPT), str(run), "--workers", str(workers), "--hang-at", "8",
               "--threads", str(torch.get_num_threads())]  # fmt: skip
        procs[workers] = subprocess.Popen(cmd, env=os.environ.copy())
    references = {w: make_trainer(tmp_path / f"ref{w}", workers=w) for w in variants}
    ref_rows = {w: t.fit() for w, t in references.items()}

    for workers, run in variants.items():
        deadline = time.monotonic() + 120
        while not (run / "hanging").exists():
            assert procs[workers].poll() is None, "the training subprocess died"
            assert time.monotonic() < deadline, "the training subprocess never reached step 8"
            time.sleep(0.05)
        procs[workers].send_signal(signal.SIGKILL)
        assert procs[workers].wait() == -signal.SIGKILL
        last = load_checkpoint(RunPaths(run).last)
        assert (last["epoch"], last["batch"], last["step"]) == (1, 1, 6)  # mid-epoch 2

        resumed = make_trainer(run, workers=workers)
        rows = resumed.fit(resume=True)
        assert equal_state(resumed.model.state_dict(), references[workers].model.state_dict())
        assert without_time(MetricsLog(RunPaths(run).metrics).rows()) == without_time(
            ref_rows[workers]
        )
        assert without_time(rows) == without_time(ref_rows[workers])
    # Seeding per batch makes the result independent of the number of loader processes.
    assert equal_state(references[0].model.state_dict(), references[2].model.state_dict())


class KilledWritingLast(Exception):
    pass


def test_killed_between_best_and_last_keeps_a_best_model_and_resumes_exactly(tmp_path, monkeypatch):
    """best.pt is written before last.pt: a kill in between costs an epoch, never the best."""
    from shared.engine import resume

    reference = trainer(tmp_path / "ref", config=config(epochs=3))
    ref_rows = reference.fit()
    saved, save = [], resume.save_checkpoint

    def save_then_die(path, state):
        saved.append(path.name)
        if saved[-2:] == ["best.pt", "last.pt"] and saved.count("best.pt") == 2:
            raise KilledWritingLast  # the second epoch that improves, between its two writes
        return save(path, state)

    run = tmp_path / "cut"
    monkeypatch.setattr(resume, "save_checkpoint", save_then_die)
    with pytest.raises(KilledWritingLast):
        trainer(run, config=config(epochs=3)).fit()
    monkeypatch.undo()
    best, last = load_checkpoint(RunPaths(run).best), load_checkpoint(RunPaths(run).last)
    assert best["epoch"] == last["epoch"] + 1  # the newer best survives the kill
    assert not [p for p in RunPaths(run).checkpoints.iterdir() if p.name.startswith(".")]
    resumed = trainer(run, config=config(epochs=3))
    rows = resumed.fit(resume=True)
    assert without_time(rows) == without_time(ref_rows)
    assert equal_state(resumed.model.state_dict(), reference.model.state_dict())
    ref_best = load_checkpoint(RunPaths(tmp_path / "ref").best)
    assert equal_state(load_checkpoint(RunPaths(run).best)["model"], ref_best["model"])


def test_best_holds_what_inference_reads_and_last_what_a_resume_needs(tmp_path):
    trainer(tmp_path, config=config(epochs=2)).fit()
    best, last = load_checkpoint(RunPaths(tmp_path).best), load_checkpoint(RunPaths(tmp_path).last)
    assert "optimizer" not in best and "rng" not in best and "meters" not in best
    assert {"model", "arch", "epoch", "best_epoch", "threads"} <= set(best)
    assert {"optimizer", "scheduler", "rng", "meters", "history"} <= set(last)
    assert RunPaths(tmp_path).best.stat().st_size < 0.7 * RunPaths(tmp_path).last.stat().st_size


def test_resume_computes_with_the_runs_own_thread_count(tmp_path, capsys):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with pytest.raises(Interrupt):
            trainer(tmp_path, config=config(epochs=2), callbacks=[InterruptAt(5)]).fit()
        assert load_checkpoint(RunPaths(tmp_path).last)["threads"] == 1
        torch.set_num_threads(2)
        trainer(tmp_path, config=config(epochs=2)).fit(resume=True)
        assert torch.get_num_threads() == 1
        assert "using the run's 1 CPU thread(s)" in capsys.readouterr().out
    finally:
        torch.set_num_threads(threads)


def test_resume_removes_the_temporaries_a_killed_run_left(tmp_path):
    trainer(tmp_path, config=config(epochs=1)).fit()
    checkpoints = RunPaths(tmp_path).checkpoints
    dead = checkpoints / ".last.999999999-0123abcd.tmp.pt"  # no such process
    dead.write_bytes(b"half a checkpoint")
    trainer(tmp_path, config=config(epochs=1)).fit(resume=True)
    assert not dead.exists()


def test_auto_precision_is_resolved_once_and_recorded_for_the_resume(tmp_path, monkeypatch):
    from shared import precision

    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    monkeypatch.setattr(precision, "faster", lambda *a, **k: True)
    first = trainer(tmp_path, config=config(epochs=1, precision="auto"))
    assert first.config.precision == "bf16"
    assert read_config(tmp_path)["train"]["precision"] == "bf16"
    first.fit()
    # the resuming process would choose otherwise, and must not: the run's choice stands
    monkeypatch.setattr(precision, "faster", lambda *a, **k: False)
    again = trainer(tmp_path, config=config(epochs=2, precision="auto"))
    assert again.config.precision == "bf16"
