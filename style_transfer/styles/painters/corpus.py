"""A corpus of generated paintings: as many distinct styles as wanted, none of them bundled.

    from style_transfer.styles.painters.corpus import GeneratedStyles, paint_generated
    paint_generated(seed=7, size=256)            # HxWx3 uint8, the same pixels for the same seed
    GeneratedStyles(n=400, size=256, seed=0)     # a Dataset of (3, size, size) floats in [0, 1]
    GeneratedStyles(n=8, size=256, seed=HELD_OUT_SEED)   # styles no training run has seen

An arbitrary-style network needs thousands of paintings (WikiArt in Huang & Belongie); offline
it gets these instead. Each seed draws one of four families and its parameters:
``strokes`` (impasto brush strokes along a random flow field of fractal noise and vortices, in a
random palette, stroke spacing, length and width), ``glass`` (Voronoi panes of a random palette,
size and lead-line width), ``print`` (posterised noise in flat inks with dark outlines and paper
grain: a woodblock manner) and ``bundled`` (one of the bundled painters with another seed, its hue
turned and its saturation changed). The corpus of seed 0 trains; :data:`HELD_OUT_SEED`'s styles
are drawn from another stream, so a network can be measured on paintings it never saw.
"""

from __future__ import annotations

import colorsys
import functools

import cv2
import numpy as np
import torch
from scipy.spatial import cKDTree
from torch.utils.data import Dataset

from style_transfer.styles.painters.brush import (
    Canvas,
    fbm,
    jitter_colour,
    paint_field,
    unit,
    vortex,
)
from style_transfer.styles.painters.mosaic import lead_lines, paint_mosaic
from style_transfer.styles.painters.starry import paint_starry
from style_transfer.styles.painters.wave import paint_wave

FAMILIES = ("strokes", "glass", "print", "bundled")
HELD_OUT_SEED = 1  # the stream of styles kept out of every training corpus


def random_palette(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` RGB colours (uint8) around one or two random hues, of varied value."""
    base = rng.random()
    spread = rng.choice([0.06, 0.15, 0.5])  # monochrome, analogous, or contrasting
    colours = []
    for _ in range(n):
        hue = (base + rng.normal(0, spread) + (0.5 if rng.random() < 0.25 else 0.0)) % 1.0
        sat = rng.uniform(0.35, 1.0)
        val = rng.uniform(0.2, 1.0)
        colours.append([round(255 * c) for c in colorsys.hsv_to_rgb(hue, sat, val)])
    return np.array(colours, np.uint8)


def _strokes(rng: np.random.Generator, size: int) -> np.ndarray:
    h = w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = fbm(rng, h, w, octaves=3, base=int(rng.integers(1, 4))) * 2 * np.pi * rng.uniform(1, 3)
    vx, vy = np.cos(angle), np.sin(angle)
    for _ in range(int(rng.integers(0, 4))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        dx, dy = vortex(xx, yy, cx, cy, rng.uniform(0.1, 0.3) * w, rng.choice([-2.0, 2.0]))
        vx, vy = vx + dx, vy + dy
    flow = unit(vx, vy)
    palette = random_palette(rng, int(rng.integers(3, 8)))
    tone = fbm(rng, h, w, octaves=2, base=2)

    def colour_at(pts: np.ndarray) -> list[tuple[int, int, int]]:
        # nearby strokes share colours: the palette indexed by a smooth field, then jittered
        t = tone[pts[:, 1].astype(int), pts[:, 0].astype(int)]
        idx = np.clip((t + rng.normal(0, 0.15, len(t))) * len(palette), 0, len(palette) - 1)
        return [jitter_colour(rng, tuple(int(c) for c in palette[int(i)]), 10) for i in idx]

    canvas = Canvas(h, w, tuple(int(c) for c in palette[0]))
    spacing = float(rng.uniform(3, 8)) * size / 256
    length = (float(rng.uniform(5, 15)), float(rng.uniform(18, 50)))
    thick = int(rng.integers(2, 7))
    paint_field(
        canvas, rng, flow, colour_at, spacing=spacing, length=length, width=(thick, thick + 2)
    )
    return canvas.lit(strength=float(rng.uniform(0.1, 0.5)))


def _glass(rng: np.random.Generator, size: int) -> np.ndarray:
    h = w = size
    n = int(rng.integers(30, 600))
    seeds = rng.uniform(0, size, (n, 2))
    yy, xx = np.mgrid[0:h, 0:w]
    _, labels = cKDTree(seeds).query(np.stack([xx.ravel(), yy.ravel()], 1))
    labels = labels.reshape(h, w)
    palette = random_palette(rng, int(rng.integers(3, 9))).astype(np.float32)
    img = palette[rng.integers(len(palette), size=n)][labels]
    lead = lead_lines(labels, int(rng.integers(1, 6)))
    inside = cv2.distanceTransform((~lead).astype(np.uint8), cv2.DIST_L2, 3)
    img = img * (0.7 + 0.4 * np.clip(inside / 8, 0, 1))[..., None]
    img[lead] = rng.uniform(0, 60, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def _print(rng: np.random.Generator, size: int) -> np.ndarray:
    h = w = size
    levels = int(rng.integers(3, 7))
    field = fbm(rng, h, w, octaves=int(rng.integers(2, 5)), base=int(rng.integers(2, 6)))
    bands = np.minimum((field * levels).astype(int), levels - 1)
    palette = random_palette(rng, levels).astype(np.float32)
    img = palette[bands]
    edges = cv2.Canny(bands.astype(np.uint8) * 40, 10, 30)
    edges = cv2.dilate(edges, np.ones((2, 2), np.uint8)) > 0
    img[edges] = rng.uniform(0, 50, 3)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 2.0, sigmaY=0.5)
    return np.clip(img * (1 + 0.06 * grain)[..., None], 0, 255).astype(np.uint8)


def _bundled(rng: np.random.Generator, size: int) -> np.ndarray:
    painter = [paint_starry, paint_wave, paint_mosaic][int(rng.integers(3))]
    img = painter(size, seed=int(rng.integers(2**31)))
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(30, 150)) % 180  # OpenCV's hue is 0-180
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.6, 1.4), 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


PAINT = {"strokes": _strokes, "glass": _glass, "print": _print, "bundled": _bundled}


def paint_generated(seed: int | tuple[int, ...], size: int = 256) -> np.ndarray:
    """One generated painting, ``size`` px square, fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    family = FAMILIES[int(rng.integers(len(FAMILIES)))]
    return PAINT[family](rng, size)


def family_of(seed: int | tuple[int, ...]) -> str:
    return FAMILIES[int(np.random.default_rng(seed).integers(len(FAMILIES)))]


class GeneratedStyles(Dataset):
    """``n`` generated paintings of stream ``seed``: item ``i`` is painting ``(seed, i)``,
    painted once per process and kept (a few hundred 256 px paintings are tens of MB)."""

    def __init__(self, n: int, size: int = 256, seed: int = 0) -> None:
        self.n, self.size, self.seed = n, size, seed

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < self.n:
            raise IndexError(index)
        return _painted(self.seed, index, self.size)


@functools.lru_cache(maxsize=4096)
def _painted(seed: int, index: int, size: int) -> torch.Tensor:
    image = paint_generated((seed, index), size)
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255
