"""Video files: the exact frame rate behind OpenCV's float."""

from __future__ import annotations

from fractions import Fraction

from style_transfer.video import codec


def test_exact_frame_rate_from_opencv_float() -> None:
    assert codec._fraction(29.97002997002997) == Fraction(30000, 1001)
    assert codec._fraction(23.976023976023978) == Fraction(24000, 1001)
    assert codec._fraction(25.0) == 25
