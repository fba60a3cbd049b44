"""The train command end to end (a registered style, then stylize and video by its name), and
bad input to train, stylize and video as one-line errors that leave nothing behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from shared.runs import MetricsLog, RunPaths, read_config
from style_transfer.__main__ import main
from style_transfer.johnson.model_file import (
    ARCH,
    ARCH_VERSION,
    CHECKSUM,
    FILE_FORMAT,
    _digest,
    header_digest,
    load_model,
    save_model,
)
from style_transfer.johnson.net import NetConfig, TransformerNet
from style_transfer.styles import get_style, list_styles, user_style_dir
from tests.helpers import photo
from tests.style_transfer.johnson.training_setup import (
    BLOCKS,
    HELD_OUT,
    WIDTHS,
    assert_same_tensors,
    header_of,
    tensor,
    tiny_args,
)


def run_cli(*argv: str | Path) -> int:
    return main([str(a) for a in argv])


def test_train_registers_the_style_for_stylize_and_video(
    tmp_path, monkeypatch, photos_dir, style_png, short_clip, capsys
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
    assert run_cli("stylize", *argv, "--threads", "1", "--precision", "fp32") == 0
    styled = np.asarray(Image.open(out).convert("RGB"))
    assert styled.shape == picture.shape
    with torch.no_grad():
        expected = model(tensor(picture)[None])[0].permute(1, 2, 0).mul(255).numpy()
    assert np.abs(styled - expected).max() <= 1.0  # rounding to 8 bits only
    assert np.abs(styled.astype(float) - picture).mean() > 10  # and it did restyle the photo

    # video by name finds the registered model too
    video_out = tmp_path / "pan_mystyle.mp4"
    assert run_cli("video", short_clip, "--style", "mystyle", "--out", video_out) == 0
    with av.open(str(video_out)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 6 and (frames[0].width, frames[0].height) == (48, 32)


def test_a_finished_run_resumed_with_more_epochs_trains_on(tmp_path, photos_dir, style_png, capsys):
    run, out = tmp_path / "run", tmp_path / "mine.safetensors"
    argv = [*tiny_args(photos_dir, style_png), "--style", "mine", "--epochs", "1"]
    assert run_cli("train", *argv, "--run-dir", run, "--out", out) == 0
    assert run_cli("train", "--resume", run, "--epochs", "2") == 0
    config = read_config(run)
    assert config["train"]["epochs"] == 2 and "--epochs 2" in config["recipe"]
    assert "--epochs 1" not in config["recipe"]
    rows = MetricsLog(RunPaths(run).metrics).rows()
    assert [int(r["epoch"]) for r in rows] == [1, 2]  # one more epoch, not a restart
    assert load_model(out)[1]["steps"] == 6  # the model file holds the grown run
    assert "continuing to 2 epochs (planned for 1)" in capsys.readouterr().out
    assert run_cli("train", "--resume", run, "--epochs", "1") == 2
    assert "a resume can add epochs, not remove them" in capsys.readouterr().err


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


def _widths_differ(tmp: Path) -> bytes:
    """Tensors of a 8-16-24 network under a valid header (checksum and all) that says 8-16-32."""
    path = save_model(tmp / "w.safetensors", TransformerNet(NetConfig((8, 16, 24), 1)), {})
    header = header_of(path)
    header["config"] = json.dumps({"widths": list(WIDTHS), "residual_blocks": BLOCKS})
    header[CHECKSUM] = header_digest(header)
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


def _setup(
    case: str, tmp: Path, photos_dir: Path, style_png: Path, model_file: Path, short_clip: Path
):
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
        return ["video", short_clip, "--model", tmp / "garbage.safetensors", "--out", tmp / "o.mp4"]
    if case == "widths_differ":
        _register("narrow", _widths_differ(tmp), style_png)
        return _stylize_with("narrow", tmp)
    if case == "other_network":
        return ["video", short_clip, "--model", _other_network(tmp, False), "--out", tmp / "o.mp4"]
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
    case, tmp_path, monkeypatch, photos_dir, style_png, model_file, short_clip, capsys
):
    monkeypatch.chdir(tmp_path)  # a run folder made by mistake would land here
    argv = _setup(case, tmp_path, photos_dir, style_png, model_file, short_clip)
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
