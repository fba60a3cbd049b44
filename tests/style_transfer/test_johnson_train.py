"""Johnson training: the loss falls, a killed run resumes bit-identically, the train command end
to end (registered style -> stylize and video), and bad input as one-line errors.

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

import av
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from shared.checkpoint import load_checkpoint
from shared.cli import main
from shared.engine import TrainConfig
from shared.runs import MetricsLog, RunPaths, read_config
from style_transfer.__main__ import COMMANDS
from style_transfer.styles import get_style, list_styles, user_style_dir
from style_transfer.train import JohnsonSettings, fit, new_training
from style_transfer.transformer_net import (
    ARCH,
    ARCH_VERSION,
    FILE_FORMAT,
    NetConfig,
    TransformerNet,
    _digest,
    load_model,
    save_model,
)
from tests.helpers import photo

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("johnson_training.py")
TRAIN_PHOTOS = ("coffee", "chelsea", "rocket", "immunohistochemistry", "cat", "retina")
HELD_OUT = "astronaut"  # never trained on
WIDTHS, BLOCKS = (8, 16, 32), 1


def run_cli(*argv: str | Path) -> int:
    return main("style_transfer", "", COMMANDS, [str(a) for a in argv])


def tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)


@pytest.fixture(scope="module")
def photos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six real photos, 64x48 (not square: the loader's resize and centre crop do work)."""
    folder = tmp_path_factory.mktemp("photos")
    for name in TRAIN_PHOTOS:
        Image.fromarray(photo(name)).resize((64, 48), Image.Resampling.BOX).save(
            folder / f"{name}.png"
        )
    return folder


@pytest.fixture(scope="module")
def style_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("style") / "swirls.png"
    Image.open(get_style("starry").image_path).convert("RGB").resize((64, 64)).save(path)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six frames of a pan across a real photo, 48x32 H.264."""
    path, picture = tmp_path_factory.mktemp("clips") / "pan.mp4", photo("astronaut")
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for i in range(6):
            crop = np.ascontiguousarray(picture[100 + 4 * i : 132 + 4 * i, 150 : 150 + 48])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(crop, "rgb24")))
        out.mux(stream.encode(None))
    return path


def tiny_args(photos_dir: Path, style_png: Path) -> list[str]:
    """The train command's options for a few-second run."""
    return [
        "--style-image", str(style_png), "--data", str(photos_dir), "--image-size", "32",
        "--style-size", "48", "--backbone", "efficientnet_lite0",
        "--widths", ",".join(map(str, WIDTHS)), "--residual-blocks", str(BLOCKS),
        "--batch-size", "2", "--lr", "0.01", "--device", "cpu", "--threads", "1",
    ]  # fmt: skip


def without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def assert_same_tensors(a, b, where: str = "") -> None:
    """Nested dicts/lists of tensors and plain values, equal bit for bit."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_tensors(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_tensors(x, y, f"{where}/{i}")
    else:
        assert a == b, where


# ----------------------------------------------------------------------------- training


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
    # the fp16 model file: same tensors, same metadata but for the final epoch's duration
    files = [load_file(run / "mine.safetensors") for run in (killed, reference)]
    assert_same_tensors(*files, "model file")
    headers = [_header_of(run / "mine.safetensors") for run in (killed, reference)]
    for header in headers:
        meta = json.loads(header.pop("meta"))
        del meta["final"]["time"]
        header["meta"] = meta
    assert headers[0] == headers[1]
    previews = {p.name for p in (reference / "plots").glob("preview-*.png")}
    assert previews == {f"preview-{s:06d}.png" for s in (4, 6)}
    assert {p.name for p in (killed / "plots").glob("preview-*.png")} == previews


# ----------------------------------------------------------------------------- the commands


def test_train_registers_the_style_for_stylize_and_video(
    tmp_path, monkeypatch, photos_dir, style_png, clip, capsys
):
    monkeypatch.chdir(tmp_path)
    argv = [*tiny_args(photos_dir, style_png), "--style", "mystyle", "--epochs", "2",
            "--checkpoint-every", "2", "--preview-every", "2"]  # fmt: skip
    assert run_cli("train", *argv) == 0
    printed = capsys.readouterr().out

    (run,) = (tmp_path / "runs" / "style_transfer").iterdir()
    assert run.name.endswith("-train-mystyle")
    files = {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()}
    assert files == {
        "config.json", "metrics.csv", "style.png", "mystyle.safetensors",
        "checkpoints/last.pt", "checkpoints/best.pt", "plots/curves.png",
        "plots/preview-000002.png", "plots/preview-000004.png", "plots/preview-000006.png",
    }  # fmt: skip
    config = read_config(run)
    assert config["johnson"]["widths"] == list(WIDTHS)
    assert config["johnson"]["backbone"] == "efficientnet_lite0"
    assert config["train"]["epochs"] == 2
    assert config["recipe"].startswith("python -m style_transfer train --style mystyle ")
    assert len(MetricsLog(RunPaths(run).metrics).rows()) == 2
    assert Image.open(run / "plots" / "preview-000006.png").size[0] > 0

    registered = user_style_dir() / "mystyle.safetensors"
    assert f"registered: {registered}" in printed
    assert (user_style_dir() / "mystyle.jpg").is_file()
    assert "mystyle" in list_styles() and get_style("mystyle").model_path == registered
    assert_same_tensors(load_file(registered), load_file(run / "mystyle.safetensors"))
    model, meta = load_model(registered)
    assert model.config == NetConfig(WIDTHS, BLOCKS)
    assert meta["steps"] == 6 and meta["recipe"] == config["recipe"]

    # stylize by name: the photo's own odd size, the trained network's output
    content, out = tmp_path / "odd.png", tmp_path / "odd_styled.png"
    picture = np.asarray(Image.fromarray(photo(HELD_OUT)).resize((45, 33)))
    Image.fromarray(picture).save(content)
    argv = ["--style", "mystyle", "--method", "johnson", "--content", content, "--out", out]
    assert run_cli("stylize", *argv, "--threads", "1") == 0
    styled = np.asarray(Image.open(out).convert("RGB"))
    assert styled.shape == picture.shape
    with torch.no_grad():
        expected = model(tensor(picture)[None])[0].permute(1, 2, 0).mul(255).numpy()
    assert np.abs(styled - expected).max() <= 1.0  # rounding to 8 bits only
    assert np.abs(styled.astype(float) - picture).mean() > 10  # and it did restyle the photo

    # video by name finds the registered model too
    video_out = tmp_path / "pan_mystyle.mp4"
    assert run_cli("video", clip, "--style", "mystyle", "--out", video_out) == 0
    with av.open(str(video_out)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 6 and (frames[0].width, frames[0].height) == (48, 32)


# ----------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "good.safetensors"
    return save_model(path, TransformerNet(NetConfig(WIDTHS, BLOCKS)), {"style": "good"})


def _register(name: str, body: bytes, style_png: Path) -> None:
    """A style in the user's folder whose model file holds ``body``."""
    folder = user_style_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.safetensors").write_bytes(body)
    (folder / f"{name}.jpg").write_bytes(style_png.read_bytes())


def _header_of(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata())


def _widths_differ(tmp: Path) -> bytes:
    """Tensors of a 8-16-24 network under a valid header (checksum and all) that says 8-16-32."""
    path = save_model(tmp / "w.safetensors", TransformerNet(NetConfig((8, 16, 24), 1)), {})
    header = _header_of(path)
    header["config"] = json.dumps({"widths": list(WIDTHS), "residual_blocks": BLOCKS})
    save_file(load_file(path), str(path), metadata=header)
    return path.read_bytes()


def _other_network(tmp: Path, disguised: bool) -> Path:
    """A small classifier's weights (BatchNorm's 0-d step counter among them); ``disguised``:
    under this project's full header, checksum included, so only the tensors give it away."""
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.Linear(8, 10))
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    header = None
    if disguised:
        header = {
            "format": FILE_FORMAT, "arch": ARCH, "arch_version": str(ARCH_VERSION),
            "config": json.dumps({"widths": list(WIDTHS), "residual_blocks": BLOCKS}),
            "meta": "{}", "sha256": _digest(tensors),
        }  # fmt: skip
    path = tmp / "classifier.safetensors"
    save_file(tensors, str(path), metadata=header)
    return path


def _stylize_with(name: str, tmp: Path) -> list:
    return ["stylize", "--style", name, "--method", "johnson", "--content", "chelsea",
            "--out", tmp / "out.png", "--threads", "1"]  # fmt: skip


def _bad_data(tmp: Path, photos_dir: Path, style_png: Path, *files: tuple[str, bytes]) -> list:
    folder = tmp / "data"
    folder.mkdir()
    for name, body in files:
        (folder / name).write_bytes(body)
    args = tiny_args(photos_dir, style_png)
    args[args.index("--data") + 1] = str(folder)
    return ["train", "--style", "mine", *args]


def _setup(case: str, tmp: Path, photos_dir: Path, style_png: Path, model_file: Path, clip: Path):
    """The argv of one bad-input case, after preparing what it needs."""
    good = model_file.read_bytes()
    if case == "data_without_images":
        return _bad_data(tmp, photos_dir, style_png, ("notes.txt", b"photos go here"))
    if case == "data_of_unreadable_images":
        return _bad_data(tmp, photos_dir, style_png, ("a.jpg", b"not a jpeg"), ("b.png", b"x"))
    if case == "bundled_style_with_image":
        return ["train", "--style", "starry", *tiny_args(photos_dir, style_png)]
    if case == "resume_missing_folder":
        return ["train", "--resume", tmp / "nowhere"]
    if case == "resume_plain_folder":
        (tmp / "plain").mkdir()
        (tmp / "plain" / "notes.txt").write_text("not a run")
        return ["train", "--resume", tmp / "plain"]
    if case == "resume_stylize_run":
        (tmp / "gatys_run").mkdir()
        (tmp / "gatys_run" / "config.json").write_text('{"app": "style_transfer", "gatys": {}}')
        return ["train", "--resume", tmp / "gatys_run"]
    if case == "truncated_model":
        _register("broken", good[: len(good) // 2], style_png)
        return _stylize_with("broken", tmp)
    if case == "garbage_model":
        (tmp / "garbage.safetensors").write_bytes(bytes(range(256)) * 64)
        return ["video", clip, "--model", tmp / "garbage.safetensors", "--out", tmp / "o.mp4"]
    if case == "widths_differ":
        _register("narrow", _widths_differ(tmp), style_png)
        return _stylize_with("narrow", tmp)
    if case == "other_network":
        return ["video", clip, "--model", _other_network(tmp, False), "--out", tmp / "o.mp4"]
    if case == "other_network_disguised":
        _register("classifier", _other_network(tmp, True).read_bytes(), style_png)
        return _stylize_with("classifier", tmp)
    raise AssertionError(case)


BAD_INPUT = {
    "data_without_images": "no images (.jpg",
    "data_of_unreadable_images": "2 unreadable images in a row",
    "bundled_style_with_image": "'starry' is a bundled style",
    "resume_missing_folder": "nowhere does not exist",
    "resume_plain_folder": "is not a run folder (no config.json)",
    "resume_stylize_run": "is not a style-training run",
    "truncated_model": "not a readable model file (truncated",
    "garbage_model": "not a readable model file",
    "widths_differ": "does not match its 'johnson-transformer' config: conv3.conv2d.bias is (24,)",
    "other_network": "is not a style-transfer model file",
    "other_network_disguised": "does not match its 'johnson-transformer' config: missing",
}


@pytest.mark.filterwarnings("ignore:skipping unreadable image")
@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_writes_nothing(
    case, tmp_path, monkeypatch, photos_dir, style_png, model_file, clip, capsys
):
    monkeypatch.chdir(tmp_path)  # a run folder made by mistake would land here
    argv = _setup(case, tmp_path, photos_dir, style_png, model_file, clip)
    before = snapshot(tmp_path, user_style_dir())
    capsys.readouterr()
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("style_transfer: error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert BAD_INPUT[case] in errors[0]
    # not a file or folder added or changed, no temporary left behind
    assert snapshot(tmp_path, user_style_dir()) == before


def snapshot(*roots: Path) -> dict[Path, bytes | None]:
    """Every file (with its bytes) and folder (None) under ``roots``."""
    found = {}
    for root in roots:
        for p in root.rglob("*") if root.exists() else ():
            found[p] = p.read_bytes() if p.is_file() else None
    return found
