"""``style_transfer.stylize``: the kind given comes back at its size, the same numbers as the
commands, options checked against the method, and the README's snippet runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import style_transfer
from shared.errors import UserError
from style_transfer.__main__ import main
from style_transfer.color import rgb_to_ycbcr
from style_transfer.johnson.infer import transform_image, transform_images
from style_transfer.johnson.model_file import load_model
from style_transfer.styles import get_style
from tests.helpers import photo

README = Path(__file__).resolve().parents[2] / "README.md"
GATYS = {"method": "gatys", "size": 48, "iters": 2, "backbone": "efficientnet_lite0"}


@pytest.fixture(scope="module")
def cat() -> np.ndarray:
    """A small real photo, 60x40."""
    return np.asarray(Image.fromarray(photo("chelsea")).resize((60, 40), Image.Resampling.BOX))


def test_an_array_comes_back_as_the_shipped_model_makes_it(cat) -> None:
    # float32 named: auto takes bfloat16 on a CPU that computes it natively
    out = style_transfer.stylize(cat, style="wave", threads=1, precision="fp32")
    model, _ = load_model(get_style("wave").model_path)
    assert isinstance(out, np.ndarray) and out.shape == cat.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, transform_image(model, cat))
    assert np.abs(out.astype(int) - cat).mean() > 10  # and it is stylised


@pytest.mark.parametrize("method", ["johnson", "gatys"])
def test_precision_is_taken_by_either_method(cat, method) -> None:
    options = {} if method == "johnson" else GATYS
    fp32 = style_transfer.stylize(cat, style="wave", threads=1, precision="fp32", **options)
    bf16 = style_transfer.stylize(cat, style="wave", threads=1, precision="bf16", **options)
    assert not np.array_equal(fp32, bf16)  # computed in bfloat16, not silently in float32
    if method == "johnson":  # one pass (LBFGS's path, by contrast, moves with any rounding)
        assert np.abs(fp32.astype(int) - bf16).mean() < 1


def test_preserve_color_is_taken_by_the_trained_network_too(cat) -> None:
    """Both methods keep colours, so asking for it does not turn auto into Gatys."""
    model, _ = load_model(get_style("wave").model_path)
    kept = style_transfer.stylize(cat, style="wave", threads=1, precision="fp32",
                                  preserve_color=True)  # fmt: skip
    np.testing.assert_array_equal(kept, transform_images(model, [cat], preserve_color=True)[0])
    # worked on smaller, the result still takes the full-size photo's colours
    small = style_transfer.stylize(cat, style="wave", threads=1, size=32, preserve_color=True)
    rgb = torch.from_numpy(np.stack([small, cat])).permute(0, 3, 1, 2).float()
    chroma = rgb_to_ycbcr(rgb / 255)[:, 1:] * 255
    assert small.shape == cat.shape and (chroma[0] - chroma[1]).abs().mean() < 1.5


def test_a_pil_image_comes_back_as_one_of_its_size(cat) -> None:
    out = style_transfer.stylize(Image.fromarray(cat).convert("L"), style="starry", threads=1)
    assert isinstance(out, Image.Image) and out.size == (60, 40) and out.mode == "RGB"


def test_a_path_is_read_upright_and_out_writes_the_result(tmp_path: Path, cat) -> None:
    # stored on its side with EXIF orientation 6, as a phone does: seen 60 wide, 40 high
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(np.rot90(cat))).save(tmp_path / "phone.jpg", exif=exif)
    picture = style_transfer.stylize(tmp_path / "phone.jpg", style="mosaic", threads=1)
    assert isinstance(picture, Image.Image) and picture.size == (60, 40)
    written = style_transfer.stylize(
        str(tmp_path / "phone.jpg"), style="mosaic", out=tmp_path / "m.png"
    )
    assert written == tmp_path / "m.png"
    np.testing.assert_array_equal(np.asarray(Image.open(written)), np.asarray(picture))


def test_gatys_gives_the_commands_bytes_at_the_photos_size(tmp_path: Path, cat) -> None:
    small = np.asarray(Image.fromarray(cat).resize((48, 32), Image.Resampling.BOX))
    Image.fromarray(small).save(tmp_path / "small.png")
    argv = ["stylize", "--content", str(tmp_path / "small.png"), "--out", str(tmp_path / "a.png")]
    argv += [
        "--method",
        "gatys",
        "--size",
        "48",
        "--iters",
        "2",
        "--backbone",
        "efficientnet_lite0",
    ]
    assert main([*argv, "--threads", "1"]) == 0
    api = style_transfer.stylize(tmp_path / "small.png", out=tmp_path / "b.png", threads=1, **GATYS)
    assert (tmp_path / "a.png").read_bytes() == api.read_bytes()
    # a 60x40 photo worked at 48 px comes back at 60x40
    assert style_transfer.stylize(cat, threads=1, **GATYS).shape == cat.shape


def test_johnson_size_is_a_working_size_the_result_keeps_the_photos(cat) -> None:
    out = style_transfer.stylize(cat, style="wave", size=30, threads=1)
    assert out.shape == cat.shape


def test_same_seed_same_result_and_the_callers_generators_untouched(cat) -> None:
    torch.manual_seed(123)
    before = torch.get_rng_state()
    threads = torch.get_num_threads()
    a = style_transfer.stylize(cat, init="noise", seed=3, threads=1, **GATYS)
    assert torch.equal(torch.get_rng_state(), before) and torch.get_num_threads() == threads
    b = style_transfer.stylize(cat, init="noise", seed=3, threads=1, **GATYS)
    c = style_transfer.stylize(cat, init="noise", seed=4, threads=1, **GATYS)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"iterations": 5}, "unknown option(s) iterations"),
        ({"iters": 200}, "--iters is an option of the gatys method, but the johnson method runs"),
        ({"iters": 5, "method": "johnson"}, "--iters is an option of the gatys method"),
        ({"seed": 4, "method": "johnson"}, "--seed is an option of the gatys method"),
        ({"method": "fast"}, "method must be one of auto, gatys, johnson"),
        ({"style": "picasso"}, "unknown style 'picasso'"),
        ({"device": "cuda"}, "no CUDA device is available"),
        ({"size": 48, "scales": (24, 48), "method": "gatys"}, "not both"),
        ({"out": "result.gif"}, "must end in one of"),
    ],
)
def test_bad_options_are_one_line_user_errors(cat, monkeypatch, kwargs, message) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError) as info:
        style_transfer.stylize(cat, **{"style": "starry", **kwargs})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_anything_but_an_image_is_refused() -> None:
    with pytest.raises(UserError, match="HxWx3 uint8 array"):
        style_transfer.stylize(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(UserError, match="expected a path, a PIL image"):
        style_transfer.stylize(42)
    with pytest.raises(UserError, match="image not found"):
        style_transfer.stylize("no/such/photo.jpg")


def readme_snippet() -> str:
    """The Python block of README.md's style-transfer section."""
    section = README.read_text().split("## Style transfer", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


def test_the_readme_snippet_runs_as_written(tmp_path: Path, monkeypatch) -> None:
    code = readme_snippet()
    assert "style_transfer.stylize(" in code
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert Image.open(tmp_path / "cat_mosaic.png").size == (451, 300)
