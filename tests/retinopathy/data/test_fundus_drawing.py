"""The drawn fundus: it looks like one, and its lesions grow with the grade."""

from __future__ import annotations

import hashlib

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


# sha256 (first 16 hex) of render(grade, eye, 96, default_rng([seed, grade])) as drawn before
# lesion masks existed: the masks must not change one pixel of a photo.
BEFORE_MASKS = {
    (0, 0, "right"): "065ff0df4b0223dc",
    (1, 1, "left"): "c6400e97feb843c8",
    (2, 2, "right"): "24731e35d2d345b5",
    (3, 3, "left"): "da135e8fbbdd16c5",
    (4, 0, "right"): "ceef60a73dddeffd",
}


def test_photos_are_the_ones_drawn_before_masks_existed() -> None:
    for (grade, seed, eye), digest in BEFORE_MASKS.items():
        image = fundus_drawing.render(grade, eye, 96, np.random.default_rng([seed, grade]))
        assert hashlib.sha256(image.tobytes()).hexdigest()[:16] == digest
        again, mask = fundus_drawing.render_with_mask(
            grade, eye, 96, np.random.default_rng([seed, grade])
        )
        assert np.array_equal(again, image)
        assert mask.shape == image.shape[:2] and mask.dtype == np.uint8
        assert set(np.unique(mask)) <= {0, 255}
        assert (mask.any()) == (grade > 0)


def test_the_mask_is_where_the_lesions_were_drawn() -> None:
    for grade, seed in ((1, 4), (3, 5)):
        e = fundus_drawing._Eye(np.random.default_rng(seed), 128, "left")
        fundus_drawing._background(e)
        fundus_drawing._optic_disc(e)
        fundus_drawing._vessels(e)
        before = e.image.copy()
        fundus_drawing._lesions(e, grade)
        changed = np.abs(e.image.astype(int) - before).max(axis=2) > fundus_drawing.LESION_LEVEL
        _, mask = fundus_drawing.render_with_mask(grade, "left", 128, np.random.default_rng(seed))
        window = np.zeros(mask.shape, bool)
        window[:, e.x0 : e.x1] = changed
        assert changed.any()
        assert np.array_equal(mask > 0, window) or np.array_equal(mask > 0, window[::-1, ::-1])
        assert not mask[:, : e.x0].any() and not mask[:, e.x1 :].any()
