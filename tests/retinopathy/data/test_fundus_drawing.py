"""The drawn fundus: it looks like one, and its lesions grow with the grade."""

from __future__ import annotations

import numpy as np

from retinopathy.data import fundus_drawing


def _lesion_area(grade: int, seed: int) -> float:
    """Share of retina pixels the lesions changed (same anatomy drawn with and without them)."""
    e = fundus_drawing._Eye(np.random.default_rng(seed), 256, "left")
    fundus_drawing._background(e)
    fundus_drawing._optic_disc(e)
    fundus_drawing._vessels(e)
    before = e.image.copy()
    fundus_drawing._lesions(e, grade)
    changed = np.abs(e.image.astype(int) - before).max(axis=2) > 12
    return changed.mean()


def test_lesions_grow_with_grade() -> None:
    area = {g: np.mean([_lesion_area(g, s) for s in range(6)]) for g in range(5)}
    assert area[0] == 0
    assert 0 < area[1] < area[2] < area[3]
    assert area[4] > area[2]


def test_photo_looks_like_a_fundus() -> None:
    image = fundus_drawing.render(0, "right", 128, np.random.default_rng(1))
    assert image.dtype == np.uint8 and image.shape[0] == 128 and image.shape[1] >= 128
    corner = image[:4, :4].astype(int)
    assert corner.max() <= 8  # black outside the field stop
    centre = (
        image[54:74, image.shape[1] // 2 - 10 : image.shape[1] // 2 + 10].reshape(-1, 3).mean(0)
    )
    assert centre[0] > centre[1] > centre[2]  # orange-red retina
