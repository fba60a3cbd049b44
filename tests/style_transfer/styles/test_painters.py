"""The procedural painters: deterministic, and the repaint command rewrites the shipped images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.errors import UserError
from style_transfer.styles import STYLE_DIR
from style_transfer.styles.painters import PAINTERS, paint_styles


@pytest.mark.parametrize("name", sorted(PAINTERS))
def test_painter_is_deterministic(name: str) -> None:
    a, b = PAINTERS[name](96), PAINTERS[name](96)
    assert a.shape == (96, 96, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)


def test_repainting_gives_the_bundled_files_byte_for_byte(tmp_path: Path) -> None:
    written = paint_styles(["wave"], out_dir=tmp_path)
    assert written == [tmp_path / "wave.jpg"]
    assert written[0].read_bytes() == (STYLE_DIR / "wave.jpg").read_bytes()


def test_unknown_painter_and_tiny_size_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no painter for picasso"):
        paint_styles(["picasso"], out_dir=tmp_path)
    with pytest.raises(UserError, match="at least 64 px"):
        paint_styles(size=32, out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
