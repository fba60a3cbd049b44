"""``python -m style_transfer styles`` and ``paint``: the listing, the sheet, the repaint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from style_transfer.__main__ import main
from style_transfer.styles import STYLE_DIR


def run_cli(*argv: str) -> int:
    return main(list(argv))


def test_styles_lists_and_draws_a_sheet(tmp_path: Path, capsys) -> None:
    sheet = tmp_path / "styles.png"
    assert run_cli("styles", "--out", str(sheet), "--thumb", "64", "--threads", "1") == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("starry", "wave", "mosaic"))
    assert "[trained model: starry.safetensors]" in listed
    assert sheet.is_file()
    # two rows: the style images, then the sample photo through each shipped model
    width, height = Image.open(sheet).size
    assert 0.5 < height / width < 1.0


def test_paint_repaints_the_bundled_images_byte_for_byte(tmp_path: Path, capsys) -> None:
    assert run_cli("paint", "--only", "mosaic", "--only", "starry", "--out", str(tmp_path)) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mosaic.jpg", "starry.jpg"]
    for name in ("mosaic", "starry"):
        assert (tmp_path / f"{name}.jpg").read_bytes() == (STYLE_DIR / f"{name}.jpg").read_bytes()
    assert "mosaic.jpg (" in capsys.readouterr().out
    small = tmp_path / "small"
    assert run_cli("paint", "--only", "wave", "--size", "64", "--out", str(small)) == 0
    assert np.asarray(Image.open(small / "wave.jpg")).shape == (64, 64, 3)
