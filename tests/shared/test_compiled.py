"""shared.compiled and --compile: the compiled network keeps the precision guard, says so in the
record, and falls back to the network as it is, in one line, where nothing can compile it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from shared import compiled
from style_transfer.__main__ import main
from style_transfer.johnson.net import NetConfig, TransformerNet


def _stylised(tmp_path, name: str, *flags: str) -> tuple[np.ndarray, dict]:
    out = tmp_path / f"{name}.png"
    argv = ["stylize", "--style", "starry", "--method", "johnson", "--content", "astronaut",
            "--size", "128", "--threads", "1", "--out", str(out), *flags]  # fmt: skip
    assert main(argv) == 0
    record = json.loads((tmp_path / f"{name}-config.json").read_text())
    return np.asarray(Image.open(out).convert("RGB")).astype(int), record


@pytest.mark.skipif(compiled.why_not_compiled(torch.device("cpu")) is not None,
                    reason="no C++ compiler for torch.compile")  # fmt: skip
def test_compiled_bf16_is_within_1_mean_and_8_max_of_fp32_on_a_real_photo(tmp_path, capsys):
    plain, plain_record = _stylised(tmp_path, "fp32", "--precision", "fp32")
    fast, fast_record = _stylised(tmp_path, "fast", "--precision", "bf16", "--compile")
    diff = np.abs(plain - fast)
    assert diff.mean() <= 1.0 and diff.max() <= 8
    assert diff.max() > 0  # it ran in bfloat16
    assert (plain_record["compiled"], fast_record["compiled"]) == (False, True)
    assert fast_record["precision"] == "bf16" and ", compiled" in capsys.readouterr().out


def test_without_a_compiler_the_network_runs_as_it_is(monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    net = TransformerNet(NetConfig((8, 16, 32), 1))
    with pytest.warns(UserWarning, match="no C.. compiler found .* running the network uncompiled"):
        assert compiled.compile_network(net, torch.device("cpu")) is net
    assert not compiled.is_compiled(net)


@pytest.mark.parametrize(
    ("flags", "said"),
    [(["--method", "gatys"], "not the gatys method"),
     (["--method", "johnson", "--backend", "onnxruntime"], "not backend onnxruntime")],
)  # fmt: skip
def test_compile_is_refused_where_no_network_of_torch_runs(flags, said, tmp_path, capsys):
    argv = ["stylize", "--style", "starry", "--compile", *flags, "--out", str(tmp_path / "x.png")]
    assert main(argv) == 2
    assert said in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
