"""Johnson training: the loss falls, and a killed run resumes bit-identically.

Tiny everything: six real photos at 32 px, a 8-16-32 network with one residual block, and
EfficientNet-Lite0 (real weights, offline) as the loss network.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from shared.checkpoint import load_checkpoint
from shared.engine import TrainConfig
from shared.runs import MetricsLog, RunPaths
from style_transfer.__main__ import main
from style_transfer.johnson.model_file import CHECKSUM, header_digest
from style_transfer.johnson.recipe import JohnsonSettings
from style_transfer.johnson.train import fit, new_training
from tests.helpers import photo
from tests.style_transfer.johnson.training_setup import (
    BLOCKS,
    HELD_OUT,
    WIDTHS,
    assert_same_tensors,
    header_of,
    tensor,
    tiny_args,
    without_time,
)

REPO = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("hanging_training.py")


def run_cli(*argv: str | Path) -> int:
    return main([str(a) for a in argv])


def test_training_lowers_the_loss_and_stylises_an_unseen_photo(tmp_path, photos_dir, style_png):
    settings = JohnsonSettings(
        "mine", data=str(photos_dir), image_size=32, style_size=48,
        backbone="efficientnet_lite0", widths=WIDTHS, residual_blocks=BLOCKS, preview_every=0,
        style_weight=10.0,  # style-dominated, so the drop is large and quick to see
    )  # fmt: skip
    train = TrainConfig(
        epochs=16, batch_size=2, optimizer="adam", lr=1e-2, monitor="train_loss", plots=False
    )
    job = new_training(
        settings, train, style_image=style_png, run=tmp_path / "run", device="cpu", verbose=False
    )
    untrained = copy.deepcopy(job.trainer.model)
    fit(job)

    history = job.trainer.history
    assert job.trainer.step == 16 * 3  # 6 photos, batch 2
    first, last = history[0], history[-1]
    # measured: total 25.0 -> 8.6 and style 23.2 -> 6.7 (content stays about 1.8)
    assert last["train_loss"] < 0.5 * first["train_loss"]
    assert last["train_style"] < 0.5 * first["train_style"]
    assert last["train_content"] < 2 * first["train_content"]  # the photo is not thrown away
    logged = MetricsLog(RunPaths(tmp_path / "run").metrics).rows()
    assert [r["train_loss"] for r in logged] == pytest.approx([r["train_loss"] for r in history])

    # What it learnt carries over, less strongly, to a photo it never saw.
    held_out = tensor(np.asarray(Image.fromarray(photo(HELD_OUT)).resize((32, 32))))[None]
    with torch.no_grad():
        _, before = job.loss(held_out, untrained(held_out))
        _, after = job.loss(held_out, job.trainer.model(held_out))
    assert after["style"] < 0.8 * before["style"]  # measured: 18.1 -> 12.7 (6 photos only)


def test_sigkilled_training_resumes_bit_identical(tmp_path, photos_dir, style_png, capsys):
    """Kill at the last step of epoch 1 (the checkpoint is the step-2 one, mid-epoch), resume
    with ``train --resume``: every tensor of the model and optimiser, the metrics, the previews
    and the model file equal an unbroken run's."""
    args = [*tiny_args(photos_dir, style_png), "--style", "mine", "--epochs", "2",
            "--checkpoint-every", "2", "--preview-every", "4"]  # fmt: skip
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    # Started first: its imports take seconds, while the reference trains here.
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "3", *args, "--run", str(killed)], env=env
    )
    try:
        assert run_cli("train", *args, "--run", reference) == 0
        deadline = time.monotonic() + 120
        while not (killed / "hanging").exists():
            assert proc.poll() is None, "the training subprocess died"
            assert time.monotonic() < deadline, "the training subprocess never reached step 3"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = load_checkpoint(RunPaths(killed).last)
    assert (saved["epoch"], saved["batch"], saved["step"]) == (0, 2, 2)  # mid-epoch 1
    assert not (killed / "mine.safetensors").exists()

    capsys.readouterr()
    assert run_cli("train", "--resume", killed, "--threads", "1") == 0
    assert f"resuming {killed} at epoch 1, batch 2 (step 2)" in capsys.readouterr().out

    ours, theirs = load_checkpoint(RunPaths(killed).last), load_checkpoint(RunPaths(reference).last)
    assert ours["step"] == theirs["step"] == 6
    assert_same_tensors(ours["model"], theirs["model"], "model")
    assert_same_tensors(ours["optimizer"], theirs["optimizer"], "optimizer")
    assert without_time(ours["history"]) == without_time(theirs["history"])
    assert without_time(MetricsLog(RunPaths(killed).metrics).rows()) == without_time(
        MetricsLog(RunPaths(reference).metrics).rows()
    )
    # the fp16 model file: same tensors, same metadata but for the final epoch's duration (and
    # so the header's checksum, which covers it)
    files = [load_file(run / "mine.safetensors") for run in (killed, reference)]
    assert_same_tensors(*files, "model file")
    headers = [header_of(run / "mine.safetensors") for run in (killed, reference)]
    for header in headers:
        assert header.pop(CHECKSUM) == header_digest(header)
        meta = json.loads(header.pop("meta"))
        del meta["final"]["time"]
        header["meta"] = meta
    assert headers[0] == headers[1]
    previews = {p.name for p in (reference / "plots").glob("preview-*.png")}
    assert previews == {f"preview-{s:06d}.png" for s in (4, 6)}
    assert {p.name for p in (killed / "plots").glob("preview-*.png")} == previews


def test_style_layer_weights_reach_the_training_loss(tmp_path, photos_dir, style_png) -> None:
    settings = JohnsonSettings(
        "mine", data=str(photos_dir), image_size=32, style_size=48,
        backbone="efficientnet_lite0", widths=WIDTHS, residual_blocks=BLOCKS, preview_every=0,
        style_layer_weights=(1.0, 1.0, 2.0, 4.0),
    )  # fmt: skip
    job = new_training(
        settings, TrainConfig(epochs=1, batch_size=2, plots=False), style_image=style_png,
        run=tmp_path / "run", device="cpu", verbose=False,
    )  # fmt: skip
    # normalised to sum to 1, as the preset's equal weights are
    assert job.loss.style_layers == {
        "block0": 1 / 8,
        "block2": 1 / 8,
        "block4": 1 / 4,
        "block7": 1 / 2,
    }
    config = json.loads(RunPaths(tmp_path / "run").config.read_text())
    assert config["johnson"]["style_layer_weights"] == [1.0, 1.0, 2.0, 4.0]
