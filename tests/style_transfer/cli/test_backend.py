"""``stylize --backend onnxruntime``: a real photo within 1/255 of PyTorch's float32 result, the
backend in the record, and one-line errors where it cannot run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from style_transfer.__main__ import main
from tests.helpers import photo

pytest.importorskip("onnxruntime")


def stylize(out: Path, *flags: str) -> np.ndarray:
    argv = ["stylize", "--style", "starry", "--content", "coffee", "--size", "320"]
    assert main([*argv, "--threads", "1", "--out", str(out), *flags]) == 0
    return np.asarray(Image.open(out)).astype(int)


def test_onnxruntime_writes_what_pytorch_in_float32_writes(tmp_path: Path, capsys):
    torch_fp32 = stylize(tmp_path / "torch.png", "--precision", "fp32")
    ort = stylize(tmp_path / "ort.png", "--backend", "onnxruntime")
    assert ort.shape == torch_fp32.shape == (213, 320, 3)  # coffee is 600x400
    diff = np.abs(ort - torch_fp32)
    assert diff.mean() < 1.0 and diff.max() <= 2  # 1/255 on average, 2/255 at most
    coffee = Image.fromarray(photo("coffee")).resize((320, 213), Image.Resampling.BOX)
    assert np.abs(ort - np.asarray(coffee)).mean() > 10  # and it is stylised
    config = json.loads((tmp_path / "ort-config.json").read_text())
    ran = (config["backend"], config["precision"], config["device"], config["threads"])
    assert ran == ("onnxruntime", "fp32", "cpu", 1)
    assert json.loads((tmp_path / "torch-config.json").read_text())["backend"] == "torch"
    assert ", fp32, onnxruntime" in capsys.readouterr().out


REFUSED = {
    "gatys": (
        ["--method", "gatys"],
        "backend onnxruntime runs a style's trained network (the johnson",
    ),
    "a style image": (["--style-image", "{style}"], "not the gatys method"),
    "bf16": (["--precision", "bf16"], "backend onnxruntime runs in fp32, not bf16"),
    "cuda": (["--device", "cuda"], "backend onnxruntime runs on the CPU, not cuda"),
}


@pytest.mark.parametrize(("flags", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_what_onnxruntime_cannot_run_is_one_line(tmp_path: Path, capsys, flags, message):
    style = tmp_path / "style.png"
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(style)
    flags = [f.format(style=style) for f in flags]
    argv = ["stylize", "--backend", "onnxruntime", "--out", str(tmp_path / "x.png"), *flags]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert message in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["style.png"]  # nothing written


def test_without_onnxruntime_it_says_what_to_install(tmp_path: Path, capsys, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else find_spec(name, *a),
    )
    assert main(["stylize", "--backend", "onnxruntime", "--out", str(tmp_path / "x.png")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("needs the 'onnxruntime' package: pip install onnxruntime")
    assert list(tmp_path.iterdir()) == []
