"""Paint the bundled style images procedurally (deterministic: same pixels on every run).

    python -m style_transfer.styles.paint            # rewrites starry.jpg, wave.jpg, mosaic.jpg
    python -m style_transfer.styles.paint --only starry --size 512

Famous paintings cannot be bundled, so these are studies in their manner:
``starry`` a swirling night sky of flow-field brush strokes with star halos, a moon, a cypress and
a village; ``wave`` a woodblock-print study of a curling wave; ``mosaic`` a stained-glass rose of
Voronoi tiles and lead lines.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial import cKDTree

from style_transfer.styles import STYLE_DIR

Colour = tuple[int, int, int]


# ---------------------------------------------------------------- shared brush machinery


def fbm(rng: np.random.Generator, h: int, w: int, octaves: int = 4, base: int = 4) -> np.ndarray:
    """Smooth fractal noise in [0, 1] (sum of upsampled random grids)."""
    out = np.zeros((h, w), np.float32)
    for k in range(octaves):
        cells = base * 2**k
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        out += cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC) / 2**k
    out -= out.min()
    return out / max(out.max(), 1e-6)


def trace_streamlines(
    starts: np.ndarray, flow: np.ndarray, length: np.ndarray, step: float = 1.5
) -> list[np.ndarray]:
    """Follow the unit vector field ``flow`` (H, W, 2) from each start point, all at once."""
    h, w = flow.shape[:2]
    n_steps = int(length.max() / step) + 1
    pts = np.empty((n_steps, len(starts), 2), np.float32)
    pts[0] = starts
    for i in range(1, n_steps):
        xi = np.clip(pts[i - 1, :, 0].astype(int), 0, w - 1)
        yi = np.clip(pts[i - 1, :, 1].astype(int), 0, h - 1)
        pts[i] = pts[i - 1] + step * flow[yi, xi]
    counts = np.maximum((length / step).astype(int), 2)
    return [pts[: counts[j], j] for j in range(len(starts))]


def jitter_colour(rng: np.random.Generator, colour: Colour, amount: float = 12) -> Colour:
    c = np.clip(np.asarray(colour, np.float32) + rng.normal(0, amount, 3), 0, 255)
    return tuple(int(v) for v in c)


class Canvas:
    """An RGB canvas plus a paint-height map, so strokes can be lit like impasto at the end."""

    def __init__(self, h: int, w: int, ground: Colour) -> None:
        self.rgb = np.full((h, w, 3), ground, np.uint8)
        self.height = np.zeros((h, w), np.float32)

    def stroke(self, pts: np.ndarray, colour: Colour, width: int, rng: np.random.Generator) -> None:
        line = [np.round(pts).astype(np.int32).reshape(-1, 1, 2)]
        dark = tuple(int(c * 0.72) for c in colour)
        cv2.polylines(self.rgb, line, False, dark, width + 1, cv2.LINE_AA)
        cv2.polylines(self.rgb, line, False, colour, width, cv2.LINE_AA)
        # A ridge down the middle of each stroke: the bristle marks catch the light.
        cv2.polylines(self.height, line, False, float(rng.uniform(0.4, 0.7)), width + 1)
        cv2.polylines(self.height, line, False, float(rng.uniform(0.8, 1.0)), max(1, width // 2))

    def lit(self, strength: float = 0.35, weave: float = 0.05) -> np.ndarray:
        """Colour shaded by the height map (light from the top left) on a canvas weave."""
        height = cv2.GaussianBlur(self.height, (0, 0), 1.0)
        gy, gx = np.gradient(height)
        shade = 1.0 + strength * np.clip(-(gx + gy), -1, 1)
        h, w = height.shape
        yy, xx = np.mgrid[0:h, 0:w]
        shade *= 1.0 + weave * np.sin(xx * 1.9) * np.sin(yy * 1.9)
        return np.clip(self.rgb * shade[..., None], 0, 255).astype(np.uint8)


def paint_field(
    canvas: Canvas,
    rng: np.random.Generator,
    flow: np.ndarray,
    colour_at: Callable[[np.ndarray], list[Colour]],
    *,
    spacing: float,
    length: tuple[float, float],
    width: tuple[int, int],
    mask: np.ndarray | None = None,
) -> None:
    """Cover the canvas (or ``mask``) with strokes along ``flow``, in random order."""
    h, w = flow.shape[:2]
    gy, gx = np.mgrid[0:h:spacing, 0:w:spacing]
    starts = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    starts += rng.uniform(-spacing, spacing, starts.shape).astype(np.float32)
    starts = np.clip(starts, 0, [w - 1, h - 1])
    if mask is not None:
        starts = starts[mask[starts[:, 1].astype(int), starts[:, 0].astype(int)]]
    starts = starts[rng.permutation(len(starts))]
    lengths = rng.uniform(*length, len(starts))
    colours = colour_at(starts)
    for pts, colour in zip(trace_streamlines(starts, flow, lengths), colours, strict=True):
        canvas.stroke(pts, colour, int(rng.integers(width[0], width[1] + 1)), rng)


def unit(vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
    norm = np.sqrt(vx**2 + vy**2) + 1e-6
    return np.stack([vx / norm, vy / norm], -1).astype(np.float32)


def vortex(
    xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, radius: float, spin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Tangential flow around (cx, cy), fading beyond ``radius``; spin > 0 is clockwise."""
    dx, dy = xx - cx, yy - cy
    r = np.sqrt(dx**2 + dy**2) + 1e-6
    fall = np.exp(-((r / radius) ** 2))
    return -dy / r * fall * spin, dx / r * fall * spin


# ---------------------------------------------------------------- starry


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


def paint_starry(size: int = 512, seed: int = 1889) -> np.ndarray:
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


# ---------------------------------------------------------------- wave (woodblock)


PAPER = (236, 222, 188)
INDIGO = (22, 34, 72)
PRUSSIAN = (32, 70, 122)
WAVE_LIGHT = (92, 140, 172)
FOAM = (246, 242, 226)


def _spiral(
    centre: tuple[float, float], r0: float, r1: float, a0: float, a1: float, n: int = 400
) -> tuple[np.ndarray, np.ndarray]:
    """Points and outward normals of a log spiral from angle a0 (radius r0) to a1 (r1)."""
    t = np.linspace(0, 1, n)
    ang = a0 + (a1 - a0) * t
    r = r0 * (r1 / r0) ** t
    pts = np.stack([centre[0] + r * np.cos(ang), centre[1] - r * np.sin(ang)], 1)
    tangent = np.gradient(pts, axis=0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], 1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-9
    # Point the normals away from the centre (the wave's back).
    outward = pts - np.asarray(centre)
    normal *= np.sign((normal * outward).sum(1, keepdims=True))
    return pts, normal


def _breaker(
    img: np.ndarray, rng: np.random.Generator, centre: tuple[float, float], scale: float
) -> None:
    """One curling wave: a spiral band with contour stripes, a foam lip, claw-like fingers."""
    pts, normal = _spiral(centre, 1.0 * scale, 0.08 * scale, 1.3 * math.pi, -0.45 * math.pi)
    tangent = np.gradient(pts, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9
    t = np.linspace(0, 1, len(pts))[:, None]
    width = scale * (0.6 * (1 - t) ** 1.3 + 0.04)
    outer, inner = pts + normal * width / 2, pts - normal * width / 2
    band = np.concatenate([outer, inner[::-1]]).astype(np.int32)
    cv2.fillPoly(img, [band], PRUSSIAN, cv2.LINE_AA)
    for k, frac in enumerate(np.linspace(-0.42, 0.3, 9)):
        line = (pts + normal * width * frac).astype(np.int32)
        colour = WAVE_LIGHT if k % 2 else (58, 104, 150)
        cv2.polylines(img, [line[: int(len(line) * 0.9)]], False, colour, 2, cv2.LINE_AA)
    # The foam lip: the outer part of the band turns white from the crest onwards.
    lip = slice(int(len(pts) * 0.28), len(pts))
    ramp = np.clip(np.linspace(0, 1, len(pts))[:, None] * 7 - 2, 0, 1)  # the foam grows in
    foam_in = (pts + normal * width * (0.5 - 0.32 * ramp))[lip]
    foam = np.concatenate([outer[lip], foam_in[::-1]]).astype(np.int32)
    cv2.fillPoly(img, [foam], FOAM, cv2.LINE_AA)
    for frac in (0.28, 0.38):
        vein = (pts + normal * width * frac)[lip].astype(np.int32)
        cv2.polylines(img, [vein], False, (150, 180, 200), 1, cv2.LINE_AA)
    cv2.polylines(img, [band], True, INDIGO, 2, cv2.LINE_AA)
    cv2.polylines(img, [foam_in.astype(np.int32)], False, INDIGO, 1, cv2.LINE_AA)
    reach = slice(int(len(pts) * 0.36), int(len(pts) * 0.9), 7)
    for p, nrm, tan, wd in zip(
        outer[reach], normal[reach], tangent[reach], width[reach], strict=True
    ):
        for _ in range(3):
            _claw(img, rng, p, nrm, tan, float(wd[0]) * rng.uniform(0.15, 0.45) + 4)
    for _ in range(int(60 * scale / 256)):  # spray flung off the crest, like falling snow
        k = int(rng.integers(int(len(pts) * 0.3), int(len(pts) * 0.8)))
        q = outer[k] + normal[k] * rng.uniform(8, 40) + tangent[k] * rng.uniform(-10, 30)
        rad = int(rng.integers(2, 4))
        cv2.circle(img, (int(q[0]), int(q[1])), rad, FOAM, -1, cv2.LINE_AA)
        cv2.circle(img, (int(q[0]), int(q[1])), rad, INDIGO, 1, cv2.LINE_AA)


def _claw(
    img: np.ndarray,
    rng: np.random.Generator,
    base: np.ndarray,
    normal: np.ndarray,
    tangent: np.ndarray,
    size: float,
) -> None:
    """A foam finger reaching forward off the lip and hooking back in, outlined in indigo."""
    reach = normal * rng.uniform(0.7, 1.0) + tangent * rng.uniform(0.1, 0.5)
    reach /= np.linalg.norm(reach)
    t = np.linspace(0, 1, 14)[:, None]
    spine = base + reach * size * t + tangent * size * rng.uniform(0.4, 0.9) * t**2
    side = np.stack([-reach[1], reach[0]])
    thick = size * 0.2 * (1 - t) ** 0.8 + 0.8
    poly = np.concatenate([spine + side * thick, (spine - side * thick)[::-1]]).astype(np.int32)
    cv2.fillPoly(img, [poly], FOAM, cv2.LINE_AA)
    cv2.polylines(img, [poly], True, INDIGO, 1, cv2.LINE_AA)


def _sea(img: np.ndarray, rng: np.random.Generator, top: int) -> None:
    """Rows of small scalloped swells with foam caps, filling the foreground."""
    h, w = img.shape[:2]
    img[top:] = PRUSSIAN
    for row, y in enumerate(range(top, h + 20, 18)):
        offset = (row % 2) * 20
        for x in range(-40 + offset, w + 40, 40):
            c = (x + rng.uniform(-4, 4), y + rng.uniform(-3, 3))
            axes = (22, 12)
            cv2.ellipse(img, (int(c[0]), int(c[1])), axes, 0, 180, 360, WAVE_LIGHT, -1, cv2.LINE_AA)
            cv2.ellipse(img, (int(c[0]), int(c[1]) + 4), axes, 0, 180, 360, PRUSSIAN, -1)
            cv2.ellipse(img, (int(c[0]), int(c[1])), axes, 0, 200, 340, FOAM, 2, cv2.LINE_AA)
            cv2.ellipse(img, (int(c[0]), int(c[1])), axes, 0, 180, 360, INDIGO, 1, cv2.LINE_AA)


def _sky(img: np.ndarray, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    img[:] = PAPER
    yy = np.arange(h, dtype=np.float32)[:, None]
    # The darker band printed across the top of the sky, graded by wiping the block (bokashi).
    fade = np.clip(1 - yy / (0.22 * h), 0, 1) ** 1.5
    img[:] = img * (1 - 0.45 * fade[..., None]) + np.array([92, 84, 76]) * 0.45 * fade[..., None]
    for _ in range(5):
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.15, 0.35) * h
        cv2.ellipse(
            img,
            (int(cx), int(cy)),
            (int(0.12 * w), int(0.025 * h)),
            0,
            0,
            360,
            (214, 200, 170),
            -1,
            cv2.LINE_AA,
        )


def _fuji(img: np.ndarray, h: int, w: int) -> None:
    base_y, cx = int(0.72 * h), int(0.62 * w)
    mountain = np.array(
        [[cx - 70, base_y], [cx - 12, base_y - 52], [cx + 12, base_y - 52], [cx + 70, base_y]],
        np.int32,
    )
    cv2.fillPoly(img, [mountain], INDIGO, cv2.LINE_AA)
    snow = np.array(
        [
            [cx - 24, base_y - 34],
            [cx - 12, base_y - 52],
            [cx + 12, base_y - 52],
            [cx + 24, base_y - 34],
            [cx + 8, base_y - 40],
            [cx, base_y - 32],
            [cx - 9, base_y - 41],
        ],
        np.int32,
    )
    cv2.fillPoly(img, [snow], FOAM, cv2.LINE_AA)


def _paper_grain(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fibres and uneven ink: the print's texture, multiplied over the flat colours."""
    h, w = img.shape[:2]
    fibres = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 3.0, sigmaY=0.6)
    blotch = fbm(rng, h, w, 3, 6) - 0.5
    shade = 1 + 0.05 * fibres / fibres.std() + 0.1 * blotch
    return np.clip(img * shade[..., None], 0, 255).astype(np.uint8)


def paint_wave(size: int = 512, seed: int = 1831) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = w = size
    img = np.zeros((h, w, 3), np.uint8)
    _sky(img, rng)
    _fuji(img, h, w)
    _breaker(img, rng, (0.84 * w, 0.74 * h), 0.2 * w)
    _breaker(img, rng, (0.52 * w, 0.40 * h), 0.48 * w)
    _sea(img, rng, int(0.8 * h))
    return _paper_grain(img, rng)


# ---------------------------------------------------------------- mosaic (stained glass)


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


def _lead_lines(labels: np.ndarray, width: int) -> np.ndarray:
    edges = np.zeros(labels.shape, np.uint8)
    edges[:-1] |= (labels[:-1] != labels[1:]).astype(np.uint8)
    edges[:, :-1] |= (labels[:, :-1] != labels[:, 1:]).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
    return cv2.dilate(edges, kernel) > 0


def paint_mosaic(size: int = 512, seed: int = 1248) -> np.ndarray:
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
    lead = _lead_lines(labels, 5)
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


# ---------------------------------------------------------------- command line

PAINTERS: dict[str, Callable[..., np.ndarray]] = {
    "starry": paint_starry,
    "wave": paint_wave,
    "mosaic": paint_mosaic,
}


def save_jpeg(rgb: np.ndarray, path: Path, quality: int = 90) -> Path:
    tmp = path.with_name(f".{path.name}.tmp.jpg")
    cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    tmp.replace(path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m style_transfer.styles.paint",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", choices=sorted(PAINTERS), action="append")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--out", type=Path, default=STYLE_DIR)
    args = parser.parse_args(argv)
    for name in args.only or PAINTERS:
        path = save_jpeg(PAINTERS[name](args.size), args.out / f"{name}.jpg")
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
