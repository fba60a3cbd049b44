"""The generated painting corpus: fixed by its seed, varied, held-out stream apart."""

from __future__ import annotations

import numpy as np

from style_transfer.styles.painters.corpus import (
    FAMILIES,
    HELD_OUT_SEED,
    GeneratedStyles,
    family_of,
    paint_generated,
)


def test_a_seed_fixes_the_painting() -> None:
    a, b = paint_generated((0, 3), 64), paint_generated((0, 3), 64)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)


def test_every_family_is_drawn_and_paintings_differ() -> None:
    seeds = [(0, i) for i in range(40)]
    assert {family_of(s) for s in seeds} == set(FAMILIES)
    images = [paint_generated(s, 48).astype(np.float32) for s in seeds[:6]]
    for i in range(len(images) - 1):
        assert np.abs(images[i] - images[i + 1]).mean() > 10  # not one picture recoloured a bit
    assert all(im.std() > 5 for im in images)  # not flat


def test_the_held_out_stream_is_not_the_training_stream() -> None:
    train = GeneratedStyles(4, 48, seed=0)
    held = GeneratedStyles(4, 48, seed=HELD_OUT_SEED)
    assert (
        train[0].shape == (3, 48, 48) and 0 <= float(train[0].min()) <= float(train[0].max()) <= 1
    )
    for i in range(4):
        assert (train[i] - held[i]).abs().mean() > 0.02
