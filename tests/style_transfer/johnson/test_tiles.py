"""Stylising at any size: one pass vs tiles, shared instance-norm statistics, the memory plan.

    .venv/bin/python -m pytest tests/style_transfer/johnson/test_tiles.py -q

The network is randomly initialised (seeded): its output is busy, noise-like texture, which is
the hard case for tiling (every tile-border error shows), and needs no training. It is narrower
than the default (16-32-64 channels) for speed, with the same depth, so the same 109 px receptive
field that decides how far a tile border reaches.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import torch

from style_transfer.johnson import infer, tiles
from style_transfer.johnson.net import NetConfig, TransformerNet
from tests.helpers import photo

TILE, OVERLAP = 96, 48


@pytest.fixture(scope="module")
def net() -> TransformerNet:
    torch.manual_seed(7)
    return TransformerNet(NetConfig(widths=(16, 32, 64))).eval()


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """A real photo at an awkward size: not a multiple of 4, not of the tile step."""
    return cv2.resize(photo("astronaut"), (203, 150), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def one_pass(net: TransformerNet, picture: np.ndarray) -> np.ndarray:
    return infer.transform_image(net, picture).astype(np.float64)


def overlap_bands(height: int, width: int, overlap: int = OVERLAP) -> np.ndarray:
    """True where two tiles are blended (the strips either side of every tile border)."""
    mask = np.zeros((height, width), bool)
    for axis, n in ((0, -(-height // 4) * 4), (1, -(-width // 4) * 4)):
        starts = tiles.tile_starts(n, TILE, overlap)
        for a, b in itertools.pairwise(starts):
            index = [slice(None), slice(None)]
            index[axis] = slice(b, a + TILE)
            mask[tuple(index)] = True
    return mask


def errors(
    tiled: np.ndarray, one: np.ndarray, overlap: int = OVERLAP
) -> tuple[float, float, float]:
    """(mean abs error, in overlap bands, elsewhere) in 0-255 units."""
    err = np.abs(tiled.astype(np.float64) - one).mean(axis=-1)
    bands = overlap_bands(*err.shape, overlap)
    assert bands.any() and (~bands).any()
    return err.mean(), err[bands].mean(), err[~bands].mean()


def test_tiled_equals_one_pass_when_the_statistics_pass_fits(net, picture, one_pass) -> None:
    tiled = infer.transform_image(net, picture, tile=TILE, overlap=OVERLAP)
    assert tiled.shape == picture.shape and tiled.dtype == np.uint8
    mean, bands, elsewhere = errors(tiled, one_pass)
    assert mean < 2.0  # out of 255
    # no seam: the overlaps, where all tiling error lives, stay under 2/255 as well ...
    assert bands < 2.0
    # ... and away from them a tile computes exactly the one pass (grid-aligned, shared stats)
    assert elsewhere < 0.1
    # the check sees seams when there are some: nearly abutting tiles (8 px overlaps) fail it
    narrow = infer.transform_image(net, picture, tile=TILE, overlap=8)
    assert errors(narrow, one_pass, overlap=8)[1] > 3.0


def test_no_seam_when_statistics_come_from_a_downscaled_pass(net, picture, one_pass) -> None:
    """A memory budget a quarter of the one pass's: statistics from a half-size copy."""
    pixels = picture.shape[0] * picture.shape[1]
    budget = net.peak_bytes_per_pixel() * pixels // 4
    tiled = infer.transform_image(net, picture, tile=TILE, overlap=OVERLAP, budget=budget)
    mean, bands, elsewhere = errors(tiled, one_pass)
    assert mean < 10.0  # drifts uniformly: the network is not scale-invariant
    assert bands / elsewhere < 1.5  # the tile borders stand out no more than anywhere else


def test_per_tile_statistics_give_colour_casts(net, picture, one_pass) -> None:
    """The trap the shared statistics avoid: each tile normalised on its own."""
    x = torch.from_numpy(picture).permute(2, 0, 1).float()[None] / 255
    with torch.inference_mode():
        shared = tiles.transform_tiled(net, x, TILE, overlap=OVERLAP)
        own = tiles.transform_tiled(net, x, TILE, overlap=OVERLAP, share_statistics=False)
    to_255 = lambda y: y[0].permute(1, 2, 0).numpy() * 255  # noqa: E731
    assert errors(to_255(own), one_pass)[0] > 5 * errors(to_255(shared), one_pass)[0]


def test_tiles_cover_the_image_on_the_4_pixel_grid() -> None:
    for length in (48, 100, 152, 1000):
        starts = tiles.tile_starts(length, TILE, OVERLAP)
        assert starts[0] == 0 and all(s % 4 == 0 for s in starts)
        assert starts[-1] + min(TILE, length) == length
        assert all(b - a <= TILE - OVERLAP for a, b in itertools.pairwise(starts))


def test_memory_budget_decides_between_one_pass_and_tiles(net, picture, monkeypatch) -> None:
    calls: list[int] = []
    real = tiles.transform_tiled
    monkeypatch.setattr(
        infer, "transform_tiled", lambda *a, **k: calls.append(a[2]) or real(*a, **k)
    )
    need = net.peak_bytes_per_pixel() * 152 * 204
    infer.transform_image(net, picture, budget=need)
    assert calls == []
    infer.transform_image(net, picture, budget=need // 2, overlap=16)
    assert calls == [tiles.tile_side(net, need // 2, 16)] and calls[0] < 150


def test_available_memory_is_read() -> None:
    free = tiles.available_memory("cpu")
    assert 2**26 < free < 2**50
