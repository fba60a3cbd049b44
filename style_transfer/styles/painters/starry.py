"""``starry``: a swirling night sky in flow-field strokes, star halos, a moon, a cypress, a village.

python -m style_transfer paint --only starry
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from style_transfer.styles.painters.brush import (
    Canvas,
    Colour,
    fbm,
    jitter_colour,
    paint_field,
    unit,
    vortex,
)

STARRY_SKY = {
    "deep": [(14, 26, 72), (20, 38, 100), (26, 50, 128)],
    "mid": [(36, 70, 150), (48, 92, 170), (30, 62, 140), (62, 110, 180)],
    "light": [(105, 150, 205), (150, 185, 215), (190, 212, 222), (86, 134, 190)],
    "gold": [(250, 226, 110), (240, 200, 60), (255, 244, 186), (226, 180, 50)],
}
CYPRESS = [(12, 22, 14), (28, 38, 22), (46, 50, 28), (18, 30, 34), (62, 56, 30)]
HILLS = [(18, 36, 68), (28, 54, 88), (38, 66, 76), (22, 44, 60), (44, 82, 120), (30, 70, 64)]
RIDGE = [(70, 110, 160), (96, 136, 180), (58, 92, 140)]


def _starry_layout(h: int, w: int) -> dict:
    return {
        "horizon": 0.7 * h,
        "stars": [
            (0.10, 0.10, 0.032),
            (0.31, 0.08, 0.03),
            (0.50, 0.14, 0.024),
            (0.66, 0.07, 0.028),
            (0.24, 0.30, 0.036),
            (0.82, 0.42, 0.034),
            (0.58, 0.60, 0.022),
            (0.94, 0.60, 0.022),
            (0.40, 0.62, 0.018),
        ],
        "moon": (0.85, 0.14, 0.06),
        "swirls": [
            (0.40, 0.38, 0.16, 1.6),
            (0.60, 0.44, 0.13, -1.5),
            (0.76, 0.24, 0.10, 1.0),
            (0.15, 0.55, 0.10, -0.8),
        ],
    }


def _starry_flow(h: int, w: int, layout: dict) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vx = np.ones_like(xx) * 0.9
    vy = 0.35 * np.sin(2 * math.pi * (xx / w * 1.3 + yy / h * 0.7))
    for cx, cy, r, spin in layout["swirls"]:
        ax, ay = vortex(xx, yy, cx * w, cy * h, r * w, spin * 2.2)
        vx, vy = vx + ax, vy + ay
    for cx, cy, r in [*layout["stars"], layout["moon"]]:
        ax, ay = vortex(xx, yy, cx * w, cy * h, r * w * 2.2, 3.0)
        vx, vy = vx + ax, vy + ay
    return unit(vx, vy)


def _starry_colours(rng: np.random.Generator, h: int, w: int, layout: dict):
    band = fbm(rng, h, w, 3, 3)

    def colour_at(pts: np.ndarray) -> list[Colour]:
        out = []
        for x, y in pts:
            halo = min(
                math.hypot(x - cx * w, y - cy * h) / (r * w)
                for cx, cy, r in [*layout["stars"], layout["moon"]]
            )
            # The bright river between the two big swirls, as in the painting's Milky Way.
            river = math.exp(-(((y / h - 0.47 + 0.12 * math.sin(x / w * 5.5)) / 0.07) ** 2))
            light = 0.55 * river + 0.45 * band[int(y), int(x)] - 0.35 * (1 - y / h) ** 2
            if halo < 1.0:
                key = "gold"
            elif halo < 2.2:
                key = "gold" if (halo * 2.0) % 1.0 < 0.4 else "light"
            elif light > 0.55:
                key = "light"
            elif light > 0.25:
                key = "mid"
            else:
                key = "deep"
            out.append(jitter_colour(rng, STARRY_SKY[key][rng.integers(len(STARRY_SKY[key]))]))
        return out

    return colour_at


def _cypress_mask(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.clip((yy - 0.08 * h) / (0.92 * h), 0, 1)  # 0 at the tip, 1 at the bottom
    centre = 0.17 * w + 0.025 * w * np.sin(yy / h * 14)
    half = 0.085 * w * t**0.8 * (1 + 0.25 * np.sin(yy / h * 38))
    return (np.abs(xx - centre) < half) & (yy > 0.08 * h)


def _village(canvas: Canvas, rng: np.random.Generator, h: int, w: int, horizon: float) -> None:
    """Hills of rolling strokes, then little houses with lit windows and a church spire."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = unit(np.ones_like(xx), 0.25 * np.sin(xx / w * 9 + yy / h * 3))
    ridge = (
        horizon + 0.03 * h * np.sin(xx / w * 7) - 0.05 * h * np.exp(-(((xx / w) - 0.8) ** 2) * 30)
    )
    mask = yy > ridge
    paint_field(
        canvas,
        rng,
        flow,
        lambda p: [jitter_colour(rng, HILLS[rng.integers(6)]) for _ in p],
        spacing=4,
        length=(10, 24),
        width=(3, 5),
        mask=mask,
    )
    # The pale line of distant hills along the horizon.
    band = mask & (yy < ridge + 0.035 * h)
    paint_field(
        canvas,
        rng,
        flow,
        lambda p: [jitter_colour(rng, RIDGE[rng.integers(3)]) for _ in p],
        spacing=3,
        length=(12, 26),
        width=(2, 4),
        mask=band,
    )
    for k in range(26):
        x = int(w * (0.3 + 0.68 * k / 26 + rng.uniform(-0.01, 0.01)))
        y = int(horizon + 0.06 * h + rng.uniform(0, 0.18) * h)
        bw, bh = int(rng.integers(14, 24)), int(rng.integers(10, 18))
        wall = jitter_colour(rng, (70, 100, 140), 14)
        cv2.rectangle(canvas.rgb, (x, y), (x + bw, y + bh), wall, -1)
        roof = np.array([[x - 2, y], [x + bw // 2, y - bh // 2], [x + bw + 2, y]], np.int32)
        cv2.fillPoly(canvas.rgb, [roof], jitter_colour(rng, (30, 40, 66), 8))
        cv2.polylines(canvas.rgb, [roof], True, (12, 16, 26), 1, cv2.LINE_AA)
        cv2.rectangle(canvas.rgb, (x, y), (x + bw, y + bh), (12, 16, 26), 1)
        if rng.random() < 0.7:
            wx, wy = x + int(rng.integers(2, bw - 5)), y + int(rng.integers(2, bh - 5))
            cv2.rectangle(canvas.rgb, (wx, wy), (wx + 3, wy + 3), (250, 214, 90), -1)
        cv2.rectangle(canvas.height, (x, y), (x + bw, y + bh), 0.9, -1)
    sx, sy = int(0.55 * w), int(horizon + 0.06 * h)
    spire = np.array([[sx - 5, sy + 20], [sx, sy - 45], [sx + 5, sy + 20]], np.int32)
    cv2.fillPoly(canvas.rgb, [spire], (22, 30, 50))
    cv2.polylines(canvas.rgb, [spire], True, (10, 12, 20), 1, cv2.LINE_AA)


def _moon(
    canvas: Canvas, rng: np.random.Generator, h: int, w: int, moon: tuple[float, float, float]
) -> None:
    """A fat orange crescent painted in curved strokes, with a dark rim."""
    cx, cy, r = moon[0] * w, moon[1] * h, moon[2] * w
    disk = np.zeros((h, w), np.uint8)
    cv2.circle(disk, (int(cx), int(cy)), int(r), 255, -1, cv2.LINE_AA)
    cv2.circle(disk, (int(cx + r * 0.55), int(cy - r * 0.35)), int(r * 0.8), 0, -1, cv2.LINE_AA)
    canvas.rgb[disk > 127] = (236, 150, 40)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = unit(*vortex(xx, yy, cx, cy, 4 * r, 1.0))
    oranges = [(246, 168, 44), (250, 196, 80), (222, 128, 30), (255, 214, 110)]
    paint_field(
        canvas,
        rng,
        flow,
        lambda p: [jitter_colour(rng, oranges[rng.integers(4)], 8) for _ in p],
        spacing=2,
        length=(6, 14),
        width=(2, 3),
        mask=disk > 200,
    )
    rim = cv2.morphologyEx(disk, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    canvas.rgb[rim] = (150, 84, 20)


def _star_cores(canvas: Canvas, h: int, w: int, stars: list) -> None:
    for cx, cy, r in stars:
        centre, radius = (int(cx * w), int(cy * h)), max(3, int(r * w * 0.4))
        cv2.circle(canvas.rgb, centre, radius + 2, (236, 196, 70), -1, cv2.LINE_AA)
        cv2.circle(canvas.rgb, centre, radius, (255, 248, 214), -1, cv2.LINE_AA)


def paint_starry(size: int, seed: int = 1889) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = w = size
    layout = _starry_layout(h, w)
    canvas = Canvas(h, w, STARRY_SKY["deep"][1])
    flow = _starry_flow(h, w, layout)
    colour_at = _starry_colours(rng, h, w, layout)
    paint_field(canvas, rng, flow, colour_at, spacing=6, length=(14, 34), width=(4, 7))
    paint_field(canvas, rng, flow, colour_at, spacing=5, length=(10, 24), width=(3, 5))
    _moon(canvas, rng, h, w, layout["moon"])
    _star_cores(canvas, h, w, layout["stars"])
    _village(canvas, rng, h, w, layout["horizon"])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    up = unit(0.35 * np.sin(yy / h * 40 + xx / w * 6), -np.ones_like(xx))
    paint_field(
        canvas,
        rng,
        up,
        lambda p: [jitter_colour(rng, CYPRESS[rng.integers(5)], 8) for _ in p],
        spacing=3,
        length=(12, 30),
        width=(3, 5),
        mask=_cypress_mask(h, w),
    )
    return canvas.lit()
