"""Augmentation on uint8 tensors: torch RNG, torchvision's geometry and colour formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from retinopathy.data.augment import (
    RandomBrightnessContrast,
    RandomFundusGeometry,
    eval_transform,
    train_transform,
)
from tests.helpers import photo as real_photo

MEAN, STD = [0.5, 0.3, 0.2], [0.25, 0.2, 0.1]


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    rgb = real_photo("retina")[::22, ::22][:64, :64]
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous()


def test_train_transform_is_reproducible_from_torch_seed(image) -> None:
    tf = train_transform(48, MEAN, STD)
    torch.manual_seed(7)
    a = tf(image)
    torch.manual_seed(7)
    b = tf(image)
    torch.manual_seed(8)
    c = tf(image)
    assert a.shape == (3, 48, 48) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)


def _params(angle=0.0, flip=(False, False), size=64):
    return {"centre": (32.0, 32.0), "zoom": (size / 64, size / 64), "angle": angle, "flip": flip}


@pytest.mark.parametrize("angle", [0.0, 90.0, 180.0, -90.0])
def test_geometry_matches_torchvision(image, angle) -> None:
    geo = RandomFundusGeometry(64)
    ours = geo.transform(image, _params(angle))
    theirs = F.rotate(image, -angle)  # torchvision: positive = counter-clockwise on screen
    assert (ours.int() - theirs.int()).abs()[:, 2:-2, 2:-2].max() <= 1
    flipped = geo.transform(image, _params(0.0, (True, True)))
    assert torch.equal(flipped, image.flip(-1).flip(-2))


def test_random_geometry_crops_and_zooms(image) -> None:
    torch.manual_seed(0)
    geo = RandomFundusGeometry(32, scale=(0.5, 0.5), ratio=(1.0, 1.0), degrees=0, hflip=0, vflip=0)
    out = geo(image)
    assert out.shape == (3, 32, 32) and out.dtype == torch.uint8
    params = geo.make_params([image])
    side = 64 * 0.5**0.5
    assert params["zoom"] == pytest.approx((32 / side, 32 / side))


def test_brightness_contrast_follow_torchvision(image) -> None:
    jitter = RandomBrightnessContrast()
    params = {"brightness": 1.15, "contrast": 0.8}
    ours = jitter.transform(image, params).int()
    theirs = F.adjust_contrast(F.adjust_brightness(image, 1.15), 0.8).int()
    assert (ours - theirs).abs().float().mean() < 1.0


def test_eval_transform_is_deterministic_and_resizes(image) -> None:
    tf = eval_transform(32, MEAN, STD)
    a, b = tf(image), tf(image)
    assert torch.equal(a, b) and a.shape == (3, 32, 32)
    same = eval_transform(64, MEAN, STD)(image)
    expected = v2.Normalize(MEAN, STD)(image.float() / 255)
    assert torch.allclose(same, expected, atol=1e-6)
