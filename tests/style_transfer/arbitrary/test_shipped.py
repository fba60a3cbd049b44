"""The shipped decoder: small, with its recipe, and it does what alpha says on real photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from style_transfer.arbitrary.model_file import SHIPPED_DECODER, load_arbitrary
from style_transfer.images import read_photo, resize, skimage_photo, to_tensor
from style_transfer.quality import QualityMeter
from style_transfer.styles import get_style
from style_transfer.styles.painters.corpus import HELD_OUT_SEED, paint_generated


@pytest.fixture(scope="module")
def shipped():
    net, meta = load_arbitrary(SHIPPED_DECODER)
    return net, meta


def photo_at(name: str, side: int = 192) -> torch.Tensor:
    x = to_tensor(skimage_photo(name))
    return resize(x, (side * x.shape[-2] // x.shape[-1], side))


def test_the_shipped_decoder_is_small_and_names_its_recipe(shipped) -> None:
    _, meta = shipped
    assert SHIPPED_DECODER.stat().st_size < 2 * 2**20
    assert meta["encoder"] == "efficientnet_lite0"
    assert meta["recipe"].startswith("python -m style_transfer train-arbitrary")


def test_alpha_zero_gives_back_the_photo_and_one_the_style(shipped) -> None:
    net, _ = shipped
    photo = photo_at("motorcycle_right")  # not a demo photo (its left view is)
    painting = to_tensor(read_photo(get_style("starry").image_path))
    results = {}
    for alpha in (0.0, 1e-3, 0.5, 1.0):
        net.set_styles([painting], alpha=alpha)
        with torch.no_grad():
            results[alpha] = net(photo[None])[0]
    off = {a: float((r - photo).abs().mean()) for a, r in results.items()}
    assert off[0.0] < 1e-5  # the photo itself
    assert off[1e-3] < 1e-3  # and no jump on the way there: the detail given back meets it
    assert off[0.0] < off[0.5] < off[1.0]
    meter = QualityMeter(side=192)
    toward = {a: meter.style_distance(r, painting)[0] for a, r in results.items() if a != 1e-3}
    assert toward[1.0] < toward[0.5] < toward[0.0]


def test_a_painting_it_never_saw_moves_the_photo_toward_it(shipped) -> None:
    net, _ = shipped
    photo = photo_at("retina")
    painting = torch.from_numpy(paint_generated((HELD_OUT_SEED, 2), 256)).permute(2, 0, 1) / 255
    net.set_styles([painting.float()])
    with torch.no_grad():
        result = net(photo[None])[0]
    meter = QualityMeter(side=192)
    before = meter.style_distance(photo, painting)[0]
    after = meter.style_distance(result, painting)[0]
    assert after < 0.8 * before
    assert np.isfinite(meter.distances(result, photo, painting).content)
