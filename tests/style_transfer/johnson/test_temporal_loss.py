"""The temporal loss: known motions, exactly 0 for a pair that moves along, and a training option
that makes a network's results move along with its input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from shared.engine import TrainConfig
from style_transfer.johnson.recipe import JohnsonSettings
from style_transfer.johnson.temporal_loss import (
    carried_over,
    random_motion,
    temporal_loss,
    warp,
)
from style_transfer.johnson.train import fit, new_training
from tests.helpers import photo
from tests.style_transfer.johnson.training_setup import BLOCKS, HELD_OUT, WIDTHS, tensor


def _identity(n: int, h: int, w: int) -> torch.Tensor:
    theta = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(n, 2, 3)
    return F.affine_grid(theta, [n, 3, h, w], align_corners=False)


def test_a_one_pixel_shift_moves_every_pixel_by_one() -> None:
    frames = torch.rand(2, 3, 12, 16)
    grid = _identity(2, 12, 16)
    assert torch.allclose(warp(frames, grid), frames, atol=1e-6)
    shifted = grid.clone()
    shifted[..., 0] += 2 / 16  # one pixel to the right, in grid units
    moved = warp(frames, shifted)
    assert torch.allclose(moved[..., :-1], frames[..., 1:], atol=1e-5)
    assert carried_over(shifted)[..., -1].sum() == 0  # the last column came from outside


def test_a_pair_that_moves_along_costs_nothing_and_one_that_does_not_costs() -> None:
    torch.manual_seed(0)
    first = torch.rand(3, 3, 40, 56)
    motion = random_motion(3, (40, 56), generator=torch.Generator().manual_seed(1))
    assert temporal_loss(first, warp(first, motion), motion) == pytest.approx(0, abs=1e-12)
    assert temporal_loss(first, first, motion) > 0.01  # the same frame again: it did not move


def test_the_motions_are_small_smooth_and_seeded() -> None:
    h, w = 64, 96
    motion = random_motion(16, (h, w), generator=torch.Generator().manual_seed(3))
    again = random_motion(16, (h, w), generator=torch.Generator().manual_seed(3))
    assert torch.equal(motion, again)
    pixels = (motion - _identity(16, h, w)) * torch.tensor([w, h]) / 2
    largest = pixels.abs().amax(dim=(1, 2, 3))
    assert (largest < 0.1 * w).all() and (largest > 0.2).all()  # a move, and a small one
    step = (pixels[:, :, 1:] - pixels[:, :, :-1]).abs().amax()
    assert step < 0.5  # neighbours move alike: a smooth flow, no tearing
    assert carried_over(motion).mean() > 0.85


def _trained(tmp_path, photos_dir, style_png, temporal_weight: float):
    settings = JohnsonSettings(
        "mine", data=str(photos_dir), image_size=32, style_size=48,
        backbone="efficientnet_lite0", widths=WIDTHS, residual_blocks=BLOCKS, preview_every=0,
        style_weight=10.0, temporal_weight=temporal_weight,
    )  # fmt: skip
    train = TrainConfig(
        epochs=10, batch_size=2, optimizer="adam", lr=1e-2, monitor="train_loss", plots=False
    )
    run = tmp_path / f"run-{temporal_weight}"
    job = new_training(settings, train, style_image=style_png, run=run, device="cpu", verbose=False)
    fit(job)
    return job


def test_training_with_the_temporal_loss_moves_results_along_with_the_photo(
    tmp_path, photos_dir, style_png
) -> None:
    plain = _trained(tmp_path, photos_dir, style_png, 0.0)
    # the squared pixel error is about 0.01 where the style term is about 10: 1000 weighs alike
    steady = _trained(tmp_path, photos_dir, style_png, 1000.0)
    assert "train_temporal" in steady.trainer.history[-1]
    assert "train_temporal" not in plain.trainer.history[-1]
    held_out = np.asarray(Image.fromarray(photo(HELD_OUT)).resize((48, 48)))
    frames = tensor(held_out)[None].expand(8, -1, -1, -1)
    motion = random_motion(8, (48, 48), generator=torch.Generator().manual_seed(7))
    moved = warp(frames, motion)

    def flicker(job) -> float:
        net = job.trainer.model.eval()
        with torch.no_grad():
            return float(temporal_loss(net(frames), net(moved), motion))

    # on a photo neither saw, under motions neither trained on; measured 0.0021 against 0.0085
    assert flicker(steady) < 0.5 * flicker(plain)
