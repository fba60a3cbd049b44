"""The Johnson bench's first part at a tiny size, with stand-ins for pytorch/examples' file.

.venv/bin/python -m pytest tests/labs/test_bench_johnson.py -q
"""

from __future__ import annotations

import pytest
import torch

from labs import bench, bench_johnson
from style_transfer.johnson.net import channels_last

pytestmark = pytest.mark.usefixtures("one_thread")

# Takes our weights by name, as the peer's net does, and works as it does: 0-255 in, no sigmoid.
SAME_LAYERS = """
import torch
from style_transfer.johnson.net import TransformerNet as Ours

class TransformerNet(Ours):
    def forward(self, x):
        return torch.logit(super().forward(x / 255))
"""

# A net with other layers: our weights do not fit it.
OTHER_LAYERS = """
from torch import nn

class TransformerNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        return self.conv(x)
"""


def checkout(tmp_path, text: str):
    """A folder laid out as pytorch/examples, with ``text`` as its transformer_net.py."""
    file = tmp_path / "examples" / bench_johnson.PEER_FILE
    file.parent.mkdir(parents=True)
    file.write_text(text)
    return tmp_path / "examples"


def test_ours_baseline_and_reference_agree_with_the_same_weights(tmp_path) -> None:
    nets = bench_johnson.build_nets(checkout(tmp_path, SAME_LAYERS))
    assert nets.peer.same_weights
    agree = bench_johnson.agreement(nets, 16)
    assert set(agree) == {"baseline", "ours", "reference"}
    assert agree["baseline"] < 1e-5 and agree["ours"] < 1e-4 and agree["reference"] < 1e-4
    times = bench_johnson.forward_times(nets, sizes=(16, 12), repeats=1)
    assert list(times) == [16, 12]
    for row in times.values():
        assert set(row) == {"baseline", "ours NCHW", "ours", "auto", "reference"}
        assert all(t > 0 for t in row.values())


def test_auto_is_ours_in_the_precision_stylize_takes(monkeypatch) -> None:
    from style_transfer.johnson import infer

    monkeypatch.setattr(infer, "choose_precision", lambda model, name, device: torch.bfloat16)
    monkeypatch.setattr(bench_johnson, "choose_precision", infer.choose_precision)
    nets = bench_johnson.build_nets()
    assert nets.auto_dtype == torch.bfloat16
    assert all(p.dtype == torch.bfloat16 for p in nets.auto.parameters())
    assert all(p.dtype == torch.float32 for p in nets.ours.parameters())
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        low = nets.auto(channels_last(x).bfloat16()).float()
        assert (low - nets.ours(channels_last(x))).abs().mean() < 2e-2


def test_the_table_has_a_reference_column_only_with_one(tmp_path, capsys) -> None:
    bench_johnson.main(["--parts", "forward", "--sizes", "16", "--repeats", "1"])
    plain = capsys.readouterr().out
    assert "baseline" in plain and "reference" not in plain
    assert plain.splitlines()[-1].split()[0] == "16"
    file = checkout(tmp_path, SAME_LAYERS) / bench_johnson.PEER_FILE
    bench_johnson.main(
        ["--parts", "forward", "--sizes", "16", "--repeats", "1", "--reference", str(file)]
    )
    out = capsys.readouterr().out
    assert f"reference: {file}, our weights" in out
    header, row = out.splitlines()[-2:]
    assert header.split()[-2:] == ["vs", "reference"]
    cells = row.split()  # size, five times "0.003 s", four ratios "1.20x"
    assert len(cells) == 15 and cells[-1].endswith("x") and cells[-2] == "s"
    assert [cells[i] for i in (7, 10, 11)] == [c for c in cells if c.endswith("x")][:3]


def test_a_reference_our_weights_do_not_fit_runs_with_its_own(tmp_path, capsys) -> None:
    nets = bench_johnson.build_nets(checkout(tmp_path, OTHER_LAYERS))
    assert not nets.peer.same_weights
    assert "reference" not in bench_johnson.agreement(nets, 16)
    bench_johnson.print_forward(nets, [16], repeats=1)
    out = capsys.readouterr().out
    assert "its own initial weights (ours do not fit its layers)" in out
    assert "reference" in out.splitlines()[-2]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "nowhere", "no such file or folder"),
        (lambda tmp: tmp, "found none of fast_neural_style/neural_style/transformer_net.py"),
        (lambda tmp: checkout(tmp, "X = 1\n"), "defines no TransformerNet"),
        (lambda tmp: checkout(tmp, "import nothing_of_that_name\n"), "importing it failed"),
    ],
)
def test_a_missing_or_wrong_reference_is_one_line_and_status_2(
    tmp_path, capsys, make, message
) -> None:
    assert bench.main(["johnson", "--reference", str(make(tmp_path))]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("bench: error: --reference ") and message in line


def test_help_names_the_file_looked_for(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(["johnson", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--reference PATH" in out and bench_johnson.PEER_FILE in out.replace("\n", "")


def test_the_backends_table_has_a_row_per_backend(capsys) -> None:
    pytest.importorskip("onnxruntime")
    bench_johnson.main(["--parts", "backends", "--sizes", "16", "12", "--repeats", "1"])
    out = capsys.readouterr().out.splitlines()
    differs = next(line for line in out if line.startswith("largest difference, onnxruntime"))
    assert float(differs.split(": ")[1].split(";")[0]) < 1e-4  # the same network, exported
    header, *rows = out[-4:]
    assert header.split() == ["backend", "precision", "16", "px", "12", "px"]
    assert [row.split()[:2] for row in rows] == [
        ["PyTorch", "fp32"], ["PyTorch", "bf16"], ["onnxruntime", "fp32"],
    ]  # fmt: skip
    fp32 = rows[0].split()[2:]  # "0.003 s" per size, no ratio against itself
    assert len(fp32) == 4 and fp32[1::2] == ["s", "s"]
    assert all(row.split()[-1].endswith("x)") for row in rows[1:])
