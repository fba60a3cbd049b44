"""Optical flow between frames: a known camera move is found, uncovered pixels are flagged."""

from __future__ import annotations

import numpy as np
import pytest

from style_transfer.video.temporal import TemporalFilter, motion_between, warping_error
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


def _pan(frames: int) -> list[np.ndarray]:
    picture = photo("astronaut")
    return [np.ascontiguousarray(picture[100 + 2 * i : 196 + 2 * i, 100 + 3 * i : 228 + 3 * i])
            for i in range(frames)]  # fmt: skip


def test_measuring_every_kth_pair_averages_those_pairs_alone() -> None:
    frames = _pan(9)
    outputs = [255 - f for f in frames]
    every, sampled = TemporalFilter(), TemporalFilter(measure_every=4)
    for frame_in, frame_out in zip(frames, outputs, strict=True):
        every(frame_in, frame_out)
        assert (sampled(frame_in, frame_out) == frame_out).all()  # without stabilisation: as is
    assert (every.pairs, sampled.pairs) == (8, 2)  # pairs (3, 4) and (7, 8)
    expected = [
        warping_error(outputs[t], outputs[t - 1], motion_between(frames[t - 1], frames[t]))
        for t in (4, 8)
    ]
    assert sampled.warping_errors()[0] == pytest.approx(np.mean(expected), rel=1e-6)


def test_stabilisation_measures_every_pair() -> None:
    with pytest.raises(ValueError, match="measure_every must be 1 with stabilisation"):
        TemporalFilter(stabilize=0.5, measure_every=4)
    with pytest.raises(ValueError):
        TemporalFilter(measure_every=0)
