"""The quality ruler: zero for identical images, free of size, and it sees a trained style."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from style_transfer.johnson.infer import transform_image
from style_transfer.johnson.model_file import load_model
from style_transfer.johnson.run import style_painting
from style_transfer.quality import QualityMeter, relative_error
from style_transfer.styles import get_style
from tests.helpers import photo


@pytest.fixture(scope="module")
def meter() -> QualityMeter:
    return QualityMeter(side=128)


def _small(image: np.ndarray, width: int) -> np.ndarray:
    height = round(image.shape[0] * width / image.shape[1])
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BOX))


def test_relative_error_on_hand_made_tensors() -> None:
    import torch

    target = torch.tensor([3.0, 4.0])  # norm 5
    assert relative_error(target, target) == 0
    assert relative_error(torch.tensor([3.0, 0.0]), target) == pytest.approx(4 / 5)


def test_an_image_is_at_zero_from_itself_at_any_size(meter) -> None:
    cat = photo("chelsea")
    d = meter.distances(cat, cat, cat)
    assert (d.style, d.content) == (0, 0) and set(d.style_layers) == set(meter.style_layers)
    # the same photo at a third of its size: measured at one working size, it stays close
    smaller = _small(cat, cat.shape[1] // 3)
    assert meter.style_distance(smaller, cat)[0] < 0.1
    assert meter.content_distance(smaller, cat) < 0.15


def test_content_distance_orders_a_blur_before_another_photo(meter) -> None:
    cat = _small(photo("chelsea"), 160)
    blurred = _small(_small(cat, 40), 160)
    other = _small(photo("coffee"), 160)
    assert 0 < meter.content_distance(blurred, cat) < meter.content_distance(other, cat)


def test_the_shipped_network_moves_a_photo_toward_its_painting(meter) -> None:
    style = get_style("starry")
    painting = style_painting(style)
    cat = _small(photo("chelsea"), 192)
    model, _ = load_model(style.model_path)
    result = transform_image(model, cat)
    before = meter.style_distance(cat, painting)[0]
    after = meter.distances(result, cat, painting)
    assert after.style < 0.6 * before  # nearer the painting ...
    assert 0 < after.content < meter.content_distance(painting, cat)  # ... and still the cat
