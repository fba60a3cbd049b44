"""``train-arbitrary`` and ``stylize --method arbitrary`` end to end, and what they refuse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import style_transfer
from shared.errors import UserError
from style_transfer.__main__ import main
from style_transfer.color import recombine
from style_transfer.images import to_tensor

TINY_TRAINING = ["--demo-images", "8", "--generated-styles", "3", "--image-size", "64",
                 "--batch-size", "4", "--widths", "8,8,8,8", "--threads", "1"]  # fmt: skip


@pytest.fixture(scope="module")
def decoder_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("arbitrary")
    out = root / "mine.safetensors"
    argv = ["train-arbitrary", *TINY_TRAINING, "--run-dir", str(root / "run"), "--out", str(out)]
    assert main(argv) == 0
    return out


def test_training_writes_the_run_and_the_decoder(decoder_file: Path) -> None:
    run = decoder_file.parent / "run"
    config = json.loads((run / "config.json").read_text())
    assert config["arbitrary"]["encoder"] == "efficientnet_lite0"  # auto, without VGG weights
    assert "train-arbitrary" in config["recipe"] and "--widths 8,8,8,8" in config["recipe"]
    assert (run / "decoder.safetensors").is_file() and (run / "plots" / "sheet.png").is_file()
    assert decoder_file.stat().st_size < 100_000


def test_a_finished_run_resumed_with_more_epochs_trains_on(tmp_path: Path, capsys) -> None:
    run, out = tmp_path / "run", tmp_path / "d.safetensors"
    assert main(["train-arbitrary", *TINY_TRAINING, "--run-dir", str(run), "--out", str(out)]) == 0
    assert main(["train-arbitrary", "--resume", str(run), "--epochs", "2"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["epochs"] == 2 and "--epochs 2" in config["recipe"]
    rows = (run / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]  # one more epoch, not a restart
    assert "continuing to 2 epochs (planned for 1)" in capsys.readouterr().out
    assert main(["train-arbitrary", "--resume", str(run), "--epochs", "1"]) != 0
    assert "a resume can add epochs, not remove them" in capsys.readouterr().err


def test_stylize_with_any_painting_keeps_the_photos_size(
    decoder_file: Path, style_png: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "cat.png"
    argv = ["stylize", "--method", "arbitrary", "--style-image", str(style_png),
            "--content", "chelsea", "--size", "97", "--decoder", str(decoder_file),
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert Image.open(out).size == (97, 65)  # chelsea 451x300, its longer side capped at 97
    record = json.loads((tmp_path / "cat-config.json").read_text())
    assert record["method"] == "arbitrary" and record["alpha"] == 1.0
    assert record["style_images"] == [str(style_png)]
    assert (tmp_path / "cat-sheet.png").is_file()
    assert "arbitrary-style network" in capsys.readouterr().out


def test_alpha_chooses_the_arbitrary_network_and_other_methods_refuse_it(
    decoder_file: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "a.png"
    argv = ["stylize", "--style", "wave", "--alpha", "0.5", "--content", "coffee", "--size", "64",
            "--decoder", str(decoder_file), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert "--alpha, --decoder given: the arbitrary-style network" in capsys.readouterr().out
    assert json.loads((tmp_path / "a-config.json").read_text())["alpha"] == 0.5
    assert main([*argv[:-2], "--out", str(tmp_path / "b.png"), "--method", "johnson"]) == 2
    assert "--alpha, --decoder are options of the arbitrary method" in capsys.readouterr().err
    assert main([*argv[:-2], "--out", str(tmp_path / "c.png"), "--iters", "5"]) == 2
    assert "--iters" in capsys.readouterr().err
    assert main([*argv[:-2], "--out", str(tmp_path / "d.png"), "--alpha", "2"]) == 2
    assert "alpha must be between 0 and 1" in capsys.readouterr().err
    assert not any(tmp_path.glob("[bcd]*"))


def test_the_api_blends_styles_and_keeps_the_photos_colours(
    decoder_file: Path, style_png: Path, painting_png: Path
) -> None:
    photo = np.asarray(Image.open(painting_png).convert("RGB").resize((72, 56)))
    photo = np.ascontiguousarray(photo[::-1])  # anything HxWx3 uint8
    kwargs = {"method": "arbitrary", "decoder": decoder_file}
    blend = style_transfer.stylize(photo, style_image=[style_png, painting_png],
                                   style_weights=[1, 3], **kwargs)  # fmt: skip
    assert blend.shape == photo.shape and blend.dtype == np.uint8
    kept = style_transfer.stylize(photo, style_image=style_png, preserve_color=True, **kwargs)
    plain = style_transfer.stylize(photo, style_image=style_png, **kwargs)
    # the photo's chroma with the result's luminance: exactly what recombine makes of it
    expected = recombine(to_tensor(plain), to_tensor(photo))
    assert np.abs(to_tensor(kept).numpy() - expected.numpy()).max() < 2 / 255
    with pytest.raises(UserError, match="style weight"):
        style_transfer.stylize(photo, style_image=[style_png], style_weights=[1, 1], **kwargs)


@pytest.fixture(scope="module")
def painting_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from style_transfer.styles.painters.corpus import paint_generated

    path = tmp_path_factory.mktemp("painting") / "generated.png"
    Image.fromarray(paint_generated((5, 5), 96)).save(path)
    return path
