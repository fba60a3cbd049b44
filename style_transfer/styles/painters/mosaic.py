"""``mosaic``: a stained-glass rose window of Voronoi panes, lead lines and stone tracery.

python -m style_transfer paint --only mosaic
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy.spatial import cKDTree  # a dependency of scikit-image

from style_transfer.styles.painters.brush import fbm, jitter_colour

GLASS = {
    "gold": [(236, 176, 40), (246, 206, 80), (214, 140, 30)],
    "ruby": [(170, 24, 40), (204, 44, 52), (132, 18, 44)],
    "cobalt": [(28, 56, 160), (40, 84, 196), (20, 36, 120)],
    "emerald": [(24, 122, 78), (40, 150, 96), (18, 92, 70)],
    "violet": [(92, 44, 140), (120, 64, 170)],
    "amber": [(226, 110, 28), (244, 140, 44)],
}
LEAD = (26, 24, 28)


def _seeds(rng: np.random.Generator, h: int, w: int, spacing: float) -> np.ndarray:
    """Jittered grid, denser towards the middle of the rose."""
    gy, gx = np.mgrid[0:h:spacing, 0:w:spacing].astype(np.float32)
    pts = np.stack([gx.ravel(), gy.ravel()], 1) + rng.uniform(0, spacing, (gx.size, 2))
    r = np.linalg.norm(pts - np.array([w / 2, h / 2]), axis=1) / (w / 2)
    extra = rng.uniform(0, [w, h], (int(gx.size * 0.6), 2))
    rx = np.linalg.norm(extra - np.array([w / 2, h / 2]), axis=1) / (w / 2)
    return np.concatenate([pts[r < 1.6], extra[rx < 0.45]]).astype(np.float32)


def _glass_family(x: float, y: float, h: int, w: int) -> str:
    """The rose window's design: gold heart, eight ruby petals on cobalt, emerald ring."""
    dx, dy = x - w / 2, y - h / 2
    r = math.hypot(dx, dy) / (w / 2)
    petal = math.cos(8 * math.atan2(dy, dx))
    if r < 0.16:
        return "gold"
    if r < 0.62:
        return "ruby" if petal > 0.15 - 0.9 * (r - 0.16) else "cobalt"
    if r < 0.74:
        return "emerald" if petal > -0.3 else "amber"
    if r < 0.98:
        return "violet" if petal > 0.6 else "cobalt"
    return "amber" if petal > 0.5 else "emerald"


def lead_lines(labels: np.ndarray, width: int) -> np.ndarray:
    edges = np.zeros(labels.shape, np.uint8)
    edges[:-1] |= (labels[:-1] != labels[1:]).astype(np.uint8)
    edges[:, :-1] |= (labels[:, :-1] != labels[:, 1:]).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
    return cv2.dilate(edges, kernel) > 0


def paint_mosaic(size: int, seed: int = 1248) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = w = size
    seeds = _seeds(rng, h, w, spacing=size / 22)
    yy, xx = np.mgrid[0:h, 0:w]
    _, labels = cKDTree(seeds).query(np.stack([xx.ravel(), yy.ravel()], 1))
    labels = labels.reshape(h, w)
    palette = np.array(
        [
            jitter_colour(rng, GLASS[f][rng.integers(len(GLASS[f]))], 14)
            for f in (_glass_family(x, y, h, w) for x, y in seeds)
        ],
        np.float32,
    )
    img = palette[labels]
    # Light through glass: brighter in each pane's middle, a streaky grain, a slow mottling.
    lead = lead_lines(labels, 5)
    inside = cv2.distanceTransform((~lead).astype(np.uint8), cv2.DIST_L2, 3)
    glow = 0.72 + 0.4 * np.clip(inside / 9, 0, 1)
    streaks = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.8, sigmaY=4)
    mottle = fbm(rng, h, w, 4, 5)
    shade = glow * (1 + 0.06 * streaks / streaks.std()) * (0.8 + 0.4 * mottle)
    img = img * shade[..., None]
    img[lead] = LEAD
    # The window's stone tracery: rings between the zones of the design.
    for r in (0.16, 0.62, 0.74, 0.98):
        cv2.circle(img, (w // 2, h // 2), int(r * w / 2), LEAD, 6, cv2.LINE_AA)
    return np.clip(img, 0, 255).astype(np.uint8)
