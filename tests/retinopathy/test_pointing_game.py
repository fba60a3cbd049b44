"""The pointing game on hand-made maps and masks: hit, miss, the dilation's edge, the baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retinopathy.pointing_game import (
    grown,
    is_hit,
    peak,
    pointing_game,
    radius_for,
    random_point_rate,
)


def _mask(shape=(40, 50), box=(10, 14, 20, 24)) -> np.ndarray:
    y0, y1, x0, x1 = box
    mask = np.zeros(shape, np.uint8)
    mask[y0:y1, x0:x1] = 255
    return mask


def _map_peaking_at(row: int, col: int, shape=(40, 50)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((yy - row) ** 2 + (xx - col) ** 2) / 50.0).astype(np.float32)


def test_a_maximum_on_the_lesion_hits_and_one_far_off_misses() -> None:
    mask = _mask()
    assert is_hit(_map_peaking_at(12, 22), mask, radius=0)
    assert not is_hit(_map_peaking_at(35, 5), mask, radius=3)


def test_the_dilation_reaches_exactly_radius_pixels() -> None:
    mask = np.zeros((30, 30), np.uint8)
    mask[15, 10] = 1  # one lesion pixel
    for radius in (1, 3, 5):
        assert is_hit(_map_peaking_at(15, 10 + radius, (30, 30)), mask, radius)
        assert not is_hit(_map_peaking_at(15, 10 + radius + 1, (30, 30)), mask, radius)
    # Euclidean, not a square: (3, 4) is 5 px away, (4, 4) is 5.66 px
    assert is_hit(_map_peaking_at(18, 14, (30, 30)), mask, 5)
    assert not is_hit(_map_peaking_at(19, 14, (30, 30)), mask, 5)
    assert grown(mask, 5).sum() == sum(
        1 for y in range(30) for x in range(30) if math.hypot(y - 15, x - 10) <= 5
    )


def test_the_baseline_is_the_grown_masks_share_of_the_photo() -> None:
    mask = _mask()
    assert random_point_rate(mask, 0) == pytest.approx((mask > 0).mean())
    assert random_point_rate(mask, 2) == pytest.approx(grown(mask, 2).mean())
    assert random_point_rate(mask, 2) > random_point_rate(mask, 0)
    other = _mask(box=(0, 40, 0, 25))  # half the photo
    game = pointing_game([(_map_peaking_at(12, 22), mask), (_map_peaking_at(1, 1), other)], 0)
    assert game.photos == 2 and game.hits == 2 and game.rate == 1.0
    assert game.baseline == pytest.approx(((mask > 0).mean() + 0.5) / 2)


def test_flat_maps_miss_ties_point_at_their_middle_and_empty_masks_are_left_out() -> None:
    mask = _mask()
    assert peak(np.zeros((40, 50), np.float32)) is None
    assert not is_hit(np.zeros((40, 50), np.float32), np.full((40, 50), 255, np.uint8), 3)
    plateau = np.zeros((40, 50), np.float32)
    plateau[8:18, 16:30] = 1.0  # the middle (12, 22) is on the lesion, the corner (8, 16) not
    assert peak(plateau) == (12, 22) and is_hit(plateau, mask, 0)
    empty = np.zeros((40, 50), np.uint8)
    game = pointing_game([(_map_peaking_at(12, 22), mask), (_map_peaking_at(1, 1), empty)], 1)
    assert (game.photos, game.hits) == (1, 1)
    assert game.line().startswith("pointing game: 1.00 of 1 photos vs 0.")
    assert math.isnan(pointing_game([], 1).rate)
    with pytest.raises(ValueError, match="differ in size"):
        is_hit(np.ones((4, 4)), np.ones((5, 5)), 1)


def test_the_radius_is_a_share_of_the_height() -> None:
    assert radius_for(512) == 5 and radius_for(96) == 1 and radius_for(20) == 1
