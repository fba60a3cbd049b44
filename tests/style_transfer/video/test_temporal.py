"""Optical flow between frames: a known camera move is found, uncovered pixels are flagged."""

from __future__ import annotations

import numpy as np
import pytest

from style_transfer.video.temporal import motion_between, warping_error
from tests.helpers import photo


def test_flow_follows_a_known_shift_and_flags_what_came_into_view() -> None:
    picture = photo("astronaut")
    previous = np.ascontiguousarray(picture[100:260, 100:300])
    current = np.ascontiguousarray(picture[103:263, 105:305])  # camera moved 5 right, 3 down
    motion = motion_between(previous, current)
    h, w = current.shape[:2]
    dx = motion.map_x - np.arange(w)[None, :]
    dy = motion.map_y - np.arange(h)[:, None]
    inner = (slice(20, -20), slice(20, -20))
    assert np.median(dx[inner]) == pytest.approx(5, abs=0.2)
    assert np.median(dy[inner]) == pytest.approx(3, abs=0.2)
    assert motion.valid[inner].mean() > 0.95
    assert motion.valid[:, -3:].mean() < 0.5  # columns the camera uncovered: no source in t-1
    assert warping_error(current, previous, motion) < 0.1 * warping_error(
        current, previous, motion_between(current, current)
    )
