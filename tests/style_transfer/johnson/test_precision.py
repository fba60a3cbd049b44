"""Johnson in bfloat16: the quality guard against float32 on a real photo, and fp32 unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shared.errors import UserError
from style_transfer.johnson.infer import choose_precision, transform_image
from style_transfer.johnson.model_file import load_model
from style_transfer.styles import get_style
from tests.helpers import photo

CPU = torch.device("cpu")


@pytest.mark.parametrize("style", ["starry", "wave", "mosaic"])
def test_bf16_output_is_within_1_mean_and_8_max_of_fp32_on_a_real_photo(style):
    model, _ = load_model(get_style(style).model_path, device="cpu")
    image = photo("astronaut")[::2, ::2].copy()  # 256 px
    fp32 = transform_image(model, image).astype(int)
    bf16 = transform_image(model.to(torch.bfloat16), image).astype(int)
    diff = np.abs(fp32 - bf16)
    assert diff.mean() <= 1.0 and diff.max() <= 8
    assert diff.max() > 0  # it really ran in bfloat16


def test_fp32_is_the_network_as_trained():
    model, _ = load_model(get_style("starry").model_path, device="cpu")
    assert choose_precision(model, "fp32", CPU) == torch.float32
    with pytest.raises(UserError, match="unknown precision"):
        choose_precision(model, "fp64", CPU)


def test_tiles_run_in_bf16_with_the_whole_images_statistics():
    model, _ = load_model(get_style("wave").model_path, device="cpu")
    model = model.to(torch.bfloat16)
    image = photo("coffee")[::2, ::2].copy()
    whole = transform_image(model, image).astype(int)
    tiled = transform_image(model, image, tile=96, overlap=16).astype(int)
    assert np.abs(whole - tiled).mean() < 2.0
