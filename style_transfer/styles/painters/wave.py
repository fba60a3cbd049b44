"""``wave``: a woodblock-print study of a great curling wave with claw-like foam, Fuji beyond.

    python -m style_transfer paint --only wave

Flat Prussian blue and indigo on cream paper, contour stripes cut into the wave, outlines as a
key block would print them, and paper fibre and uneven ink over it all.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from style_transfer.styles.painters.brush import fbm

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


def paint_wave(size: int, seed: int = 1831) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = w = size
    img = np.zeros((h, w, 3), np.uint8)
    _sky(img, rng)
    _fuji(img, h, w)
    _breaker(img, rng, (0.84 * w, 0.74 * h), 0.2 * w)
    _breaker(img, rng, (0.52 * w, 0.40 * h), 0.48 * w)
    _sea(img, rng, int(0.8 * h))
    return _paper_grain(img, rng)
