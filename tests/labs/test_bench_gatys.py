"""The Gatys bench's first part on a tiny VGG-19, with a stand-in for the tutorial's script.

.venv/bin/python -m pytest tests/labs/test_bench_gatys.py -q
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.models.vgg import cfgs, make_layers

from labs import bench, bench_gatys
from shared.errors import UserError

pytestmark = pytest.mark.usefixtures("one_thread")

# The tutorial's interface (its function names and arguments); the objective is a toy one whose
# first value the test can compute. Its script part must not run.
STAND_IN = """
from __future__ import print_function
import torch
import torch.nn.functional as F

CALLS = []
content_layers_default = ["conv_4"]


def get_style_model_and_losses(cnn, mean, std, style_img, content_img,
                               content_layers=content_layers_default, style_layers=["conv_1"]):
    CALLS.append((list(content_layers), list(style_layers), device))
    return cnn


def run_style_transfer(cnn, mean, std, content_img, style_img, input_img, num_steps=300,
                       style_weight=1000000, content_weight=1):
    print("Building the model")
    get_style_model_and_losses(cnn, mean, std, style_img, content_img)
    optimizer = torch.optim.LBFGS([input_img.requires_grad_()])

    def closure():
        optimizer.zero_grad()
        loss = style_weight * F.mse_loss(input_img, style_img)
        loss.backward()
        return loss

    for _ in range(num_steps):
        optimizer.step(closure)
    return input_img


device = torch.device("cuda")
print("the script part runs")
raise SystemExit("the script part ran")
"""


@pytest.fixture
def tutorial(tmp_path):
    file = tmp_path / "tutorials" / bench_gatys.TUTORIAL_FILE
    file.parent.mkdir(parents=True)
    file.write_text(STAND_IN)
    return bench_gatys.load_tutorial(tmp_path / "tutorials")


def test_the_tutorial_numbers_layers_by_convolution() -> None:
    with torch.device("meta"):  # VGG-19's own layer plan, without allocating it
        features = make_layers(cfgs["E"])
    names = {n: bench_gatys.tutorial_layer(features, n) for n in ("relu1_1", "relu2_1", "relu4_2")}
    assert names == {"relu1_1": "relu_1", "relu2_1": "relu_3", "relu4_2": "relu_10"}
    assert bench_gatys.tutorial_layer(features, "relu5_1") == "relu_13"
    assert bench_gatys.tutorial_layer(features, "conv3_1") == "conv_5"


def test_the_tutorial_is_timed_with_the_papers_layers(tutorial, tiny_vgg19, capsys) -> None:
    content, style = bench_gatys.images(64)
    times, first = bench_gatys.time_tutorial(tutorial, tiny_vgg19.features, content, style, 5)
    assert len(times) == 4 and all(t > 0 for t in times)
    expected = bench_gatys.STYLE_WEIGHT * F.mse_loss(content, style).item()
    assert first == pytest.approx(expected, rel=1e-5)
    (call,) = tutorial.CALLS
    cpu = torch.device("cpu")
    assert call == (["relu_10"], ["relu_1", "relu_3", "relu_5", "relu_9", "relu_13"], cpu)
    assert torch.optim.LBFGS.__name__ == "LBFGS"  # the traced stand-in is gone
    assert capsys.readouterr().out == ""  # its prints are kept out of the table


def test_a_failing_tutorial_is_one_line_and_leaves_lbfgs_alone(tutorial, tiny_vgg19) -> None:
    tutorial.run_style_transfer = lambda *args, **kwargs: 1 / 0
    content, style = bench_gatys.images(64)
    with pytest.raises(UserError, match="run_style_transfer failed"):
        bench_gatys.time_tutorial(tutorial, tiny_vgg19.features, content, style, 3)
    assert torch.optim.LBFGS.__name__ == "LBFGS"


def test_every_row_and_the_same_first_loss(tutorial, tiny_vgg19) -> None:
    label, seconds, first = bench_gatys.measure_size(tiny_vgg19, 64, 3, 1, tutorial)
    assert label == "64x43"
    rows = {"baseline", "ours", "ours, weights need grad", "tutorial"}
    assert set(seconds) == rows and all(s > 0 for s in seconds.values())
    assert first["baseline"] == pytest.approx(first["ours"], rel=1e-5)
    assert first["ours, weights need grad"] == pytest.approx(first["ours"], rel=1e-6)


def test_the_table_prints_the_tutorial_only_with_it(tutorial, tiny_vgg19, capsys) -> None:
    bench_gatys.compare_per_iteration(tiny_vgg19, [64], iters=3, rounds=1)
    header, row = capsys.readouterr().out.splitlines()[-2:]
    assert "tutorial" not in header and row.split()[0] == "64x43"
    bench_gatys.compare_per_iteration(tiny_vgg19, [64], iters=3, rounds=1, tutorial=tutorial)
    header, row = capsys.readouterr().out.splitlines()[-2:]
    assert header.endswith("first loss baseline / ours / tutorial")
    assert "x the tutorial)" in row and len(row.split(" | ")) == 7


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "nowhere", "no such file or folder"),
        (lambda tmp: tmp / "empty", f"found none of {bench_gatys.TUTORIAL_FILE}"),
        (lambda tmp: tmp / "other.py", "defines no run_style_transfer"),
    ],
)
def test_a_missing_or_wrong_reference_is_one_line_and_status_2(
    tmp_path, capsys, make, message
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "other.py").write_text("def get_style_model_and_losses(): ...\n")
    assert bench.main(["gatys", "--reference", str(make(tmp_path))]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("bench: error: --reference ") and message in line


def test_help_names_the_file_looked_for(capsys) -> None:
    with pytest.raises(SystemExit):
        bench.main(["gatys", "--help"])
    assert bench_gatys.TUTORIAL_FILE in capsys.readouterr().out.replace("\n", "")
