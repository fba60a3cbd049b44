"""The retina_data bench's photos, its plain path, and the pixel bound of our reduced decode."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from labs import bench_retina_data as bench


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[int, Path]:
    """One EyePACS-size photo of each layout: the whole disc inside, top and bottom cut off."""
    folder = tmp_path_factory.mktemp("eyepacs")
    return {disc: bench.eyepacs_photo(folder / f"{disc}.jpeg", disc, 0) for disc in (2048, 2400)}


def test_photos_are_eyepacs_size_noisy_jpegs(photos, tmp_path: Path, monkeypatch) -> None:
    for path in photos.values():
        with Image.open(path) as image:
            assert (image.format, image.size) == ("JPEG", (3072, 2048))
    monkeypatch.setattr(bench, "NOISE", 0.0)
    clean = bench.eyepacs_photo(tmp_path / "clean.jpeg", 2048, 0)
    # the sensor noise is what makes them cost: 1.7x the bytes of the same photo without it
    assert photos[2048].stat().st_size > 1.5 * clean.stat().st_size
    assert np.abs(cv2.imread(str(clean)).astype(int) - cv2.imread(str(photos[2048]))).mean() < 3


def test_plain_path_is_full_decode_area_resize_png(photos, tmp_path: Path) -> None:
    source = photos[2048]
    bench.plain_prepare(source, tmp_path / "plain.png")
    written = cv2.imread(str(tmp_path / "plain.png"))
    expected = cv2.resize(cv2.imread(str(source)), (512, 512), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(written, expected)  # PNG: lossless


@pytest.mark.parametrize("disc", [2048, 2400])
def test_reduced_decode_stays_within_its_documented_difference(photos, disc: int) -> None:
    # The bounds the bench and retinopathy.data.preprocess report (measured 0.41-0.59 mean,
    # 11-17 max, square within 2-6 px), with a margin for other libjpeg builds.
    found = bench.pixel_difference(photos[disc])
    assert found["factor"] == 4  # one decode at 1/4, whichever the layout
    assert found["decode_mean"] < 1 and found["decode_max"] <= 24, found
    assert found["square"] <= 8 and found["square_out"] <= 2, found
    assert found["whole_mean"] < 3, found


def test_rounds_alternate_skip_the_warm_up_and_pair_up() -> None:
    calls: list[tuple[str, int]] = []
    times = bench.round_ms(
        [lambda r: calls.append(("a", r)), lambda r: calls.append(("b", r))], n=2, rounds=2
    )
    assert calls == [("a", -1), ("b", -1), ("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    assert [len(t) for t in times] == [2, 2] and min(map(min, times)) >= 0
    # round by round: a slow machine in round 2 slows both sides, the ratio stays 3
    assert bench.speed_up([30.0, 90.0, 33.0], [10.0, 30.0, 11.0]) == 3
