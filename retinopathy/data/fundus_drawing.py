"""Drawn fundus photos: an eye, its anatomy, the lesions of a grade, and the camera's faults.

    from retinopathy.data.fundus_drawing import render
    rgb = render(grade=2, eye="left", size=512, rng=np.random.default_rng(0))   # HxWx3 uint8

These pictures are SYNTHETIC: drawn here, not taken of anyone's eye (the sample set of
:mod:`retinopathy.data.synthetic` is made of them).

What is drawn: an orange-red disc on black, clipped top and bottom or whole, with borders of
varying width (several aspect ratios); an optic disc with its cup, a darker macula with a
foveal reflex, branching arteries and veins arching around the macula; uneven illumination,
choroidal texture, blur, over- and under-exposure, sensor noise, and about one photo in ten
inverted (rotated 180 degrees, as a condensing lens shows it).

Lesions follow the clinical scale and grow with the grade: microaneurysms (grade 1); more of
them plus dot/blot haemorrhages and yellow hard exudates (2); many haemorrhages in all four
quadrants, flame haemorrhages and cotton-wool spots (3); new vessels at the disc or along the
arcades, often with a pre-retinal haemorrhage or laser scars (4). Sizes are clinical but kept
visible at 128 px (a blot haemorrhage is 1.5-3 px across there). Everything drawn is a function
of the generator passed in; a change to what is drawn must bump ``synthetic.VERSION``.
:func:`render_with_mask` also returns where the lesions are: the pixels that drawing them changed
(by more than :data:`LESION_LEVEL` in a channel, before the camera's blur and noise); it draws
no more and no less than :func:`render`, so a photo is the same whichever function drew it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# -- geometry --------------------------------------------------------------------------------

_RGB = tuple[float, float, float]
LESION_LEVEL = 12  # grey levels a lesion changes a pixel by, at least, to be in its mask


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Zero-mean noise of unit scale varying over about ``cells`` blobs across the image."""
    small = rng.normal(size=(cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


class _Eye:
    """One photo being drawn: geometry in canvas pixels; pixels only in the disc's columns."""

    def __init__(self, rng: np.random.Generator, size: int, eye: str) -> None:
        self.rng = rng
        aspect = rng.choice([1.0, 1.2, 1.33, 1.5], p=[0.25, 0.15, 0.3, 0.3])
        self.h, self.w = size, round(size * aspect)
        # Wide frames usually clip the disc top and bottom (as most EyePACS cameras do).
        radius = rng.uniform(0.48, 0.62) if aspect > 1.1 else rng.uniform(0.40, 0.48)
        self.r = size * radius
        self.cx = self.w / 2 + rng.uniform(-0.03, 0.03) * self.w
        self.cy = self.h / 2 + rng.uniform(-0.03, 0.03) * self.h
        self.side = 1 if eye == "right" else -1  # the disc lies nasally: right of the fovea
        self.fovea = (
            self.cx + self.side * rng.uniform(0.0, 0.06) * self.r,
            self.cy + rng.uniform(-0.04, 0.04) * self.r,
        )
        self.disc = (
            self.fovea[0] + self.side * rng.uniform(0.52, 0.6) * self.r,
            self.fovea[1] - rng.uniform(0.0, 0.06) * self.r,
        )
        self.disc_r = rng.uniform(0.10, 0.13) * self.r
        self.x0 = max(0, int(self.cx - self.r) - 2)
        self.x1 = min(self.w, math.ceil(self.cx + self.r) + 2)
        self.image: np.ndarray  # uint8 RGB of columns x0:x1
        self.plain: np.ndarray  # the background before vessels and lesions, for local colours

    def px(self, fraction: float) -> int:
        return max(1, round(fraction * self.r))

    def pt(self, p: tuple[float, float]) -> tuple[int, int]:
        """Canvas point -> window pixel with 2 fractional bits (for cv2's ``shift=2``)."""
        return round((p[0] - self.x0) * 4), round(p[1] * 4)

    def colour_at(self, p: tuple[float, float], factor: _RGB) -> _RGB:
        x = min(max(int(p[0]) - self.x0, 0), self.plain.shape[1] - 1)
        y = min(max(int(p[1]), 0), self.h - 1)
        c = self.plain[y, x].astype(np.float32)
        return tuple(float(min(255, v * f)) for v, f in zip(c, factor, strict=True))

    def brightness_at(self, p: tuple[float, float]) -> float:
        return float(np.mean(self.colour_at(p, (1, 1, 1)))) / 110

    def random_point(self, max_r: float = 0.88, quadrant: int | None = None) -> tuple[float, float]:
        """A point on the retina, off the optic disc; ``quadrant`` 0-3 fixes the quadrant."""
        for _ in range(50):
            rho = max_r * math.sqrt(self.rng.uniform(0.02, 1))
            angle = self.rng.uniform(0, 2 * math.pi)
            if quadrant is not None:
                angle = angle / 4 + quadrant * math.pi / 2
            x = self.fovea[0] + rho * self.r * math.cos(angle)
            y = self.fovea[1] + rho * self.r * math.sin(angle)
            inside = math.hypot(x - self.cx, y - self.cy) < max_r * self.r
            if inside and math.hypot(x - self.disc[0], y - self.disc[1]) > 1.4 * self.disc_r:
                return x, y
        return self.fovea

    def blob(self, p: tuple[float, float], radius: float, colour: _RGB) -> None:
        cv2.circle(self.image, self.pt(p), max(1, round(radius * 4)), colour, -1, cv2.LINE_AA, 2)

    def patch_blend(
        self, p: tuple[float, float], reach: float, draw, colour: _RGB, blur: float
    ) -> None:
        """Blend ``colour`` into a square around ``p`` through a blurred mask ``draw`` fills."""
        x0 = max(0, int(p[0] - reach) - self.x0)
        y0 = max(0, int(p[1] - reach))
        x1 = min(self.image.shape[1], int(p[0] + reach) - self.x0 + 1)
        y1 = min(self.h, int(p[1] + reach) + 1)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        draw(mask, (self.x0 + x0, y0))
        alpha = cv2.GaussianBlur(mask, (0, 0), blur).astype(np.float32)[..., None] / 255
        region = self.image[y0:y1, x0:x1].astype(np.float32)
        blended = region * (1 - alpha) + np.float32(colour) * alpha
        self.image[y0:y1, x0:x1] = blended.astype(np.uint8)


# -- anatomy ---------------------------------------------------------------------------------


def _background(e: _Eye) -> None:
    """Illumination, choroidal texture and macula; smooth, so computed at 1/4 and enlarged."""
    rng, q = e.rng, 4
    width = e.x1 - e.x0
    dx = (np.arange(e.x0, e.x1, q, dtype=np.float32) - e.cx)[None, :] / e.r
    dy = (np.arange(0, e.h, q, dtype=np.float32) - e.cy)[:, None] / e.r
    tilt = rng.uniform(0, 2 * math.pi)
    light = 1 - rng.uniform(0.35, 0.6) * cv2.pow(dx * dx + dy * dy, 1.1)
    light *= 1 + rng.uniform(0.05, 0.25) * (dx * math.cos(tilt) + dy * math.sin(tilt))
    shape = light.shape
    texture = rng.uniform(0.02, 0.05) * _smooth_noise(rng, shape, 40)
    light *= 1 + 0.12 * _smooth_noise(rng, shape, 5) + texture
    fx, fy = (e.fovea[0] - e.cx) / e.r, (e.fovea[1] - e.cy) / e.r
    macula = cv2.exp(-((dx - fx) ** 2 + (dy - fy) ** 2) / 0.17**2)
    depth = rng.uniform(0.3, 0.5)
    base = (rng.uniform(0.78, 0.95), rng.uniform(0.30, 0.44), rng.uniform(0.12, 0.24))
    planes = [
        b * light * (1 - depth * k * macula) for b, k in zip(base, (1.0, 1.15, 1.1), strict=True)
    ]
    small = cv2.convertScaleAbs(cv2.merge(planes), alpha=255)
    e.image = cv2.resize(small, (width, e.h), interpolation=cv2.INTER_LINEAR)
    e.plain = e.image.copy()
    e.blob(e.fovea, 0.012 * e.r, e.colour_at(e.fovea, (1.3, 1.4, 1.4)))  # foveal reflex


def _optic_disc(e: _Eye) -> None:
    rng = e.rng
    rim = (1.0 * 255, 0.78 * 255, 0.52 * 255)
    rim = tuple(v * rng.uniform(0.85, 1.0) for v in rim)
    cup_r = e.disc_r * rng.uniform(0.35, 0.55)

    def draw(mask: np.ndarray, origin: tuple[int, int]) -> None:
        centre = (round((e.disc[0] - origin[0]) * 4), round((e.disc[1] - origin[1]) * 4))
        cv2.circle(mask, centre, round(e.disc_r * 4), 255, -1, cv2.LINE_AA, 2)

    def draw_cup(mask: np.ndarray, origin: tuple[int, int]) -> None:
        centre = (round((e.disc[0] - origin[0]) * 4), round((e.disc[1] - origin[1]) * 4))
        cv2.circle(mask, centre, round(cup_r * 4), 160, -1, cv2.LINE_AA, 2)

    e.patch_blend(e.disc, 1.4 * e.disc_r, draw, rim, 0.08 * e.disc_r)
    e.patch_blend(e.disc, 1.4 * e.disc_r, draw_cup, (255, 240, 200), 0.2 * e.disc_r)


def _grow(e: _Eye, start, angle: float, width: float, bend: float, depth: int, out: list) -> None:
    """A vessel from ``start`` heading ``angle``, curving by ``bend`` per step, branching."""
    rng, step, n = e.rng, 0.045 * e.r, 30
    wiggle, branch, turn = rng.normal(0, 0.09, n), rng.random(n), rng.uniform(0.5, 1.1, n)
    points, x, y = [start], *start
    for i in range(n):
        angle += bend + wiggle[i]
        x, y = x + step * math.cos(angle), y + step * math.sin(angle)
        points.append((x, y))
        if math.hypot(x - e.cx, y - e.cy) > 0.97 * e.r:
            break
        if depth < 2 and branch[i] < 0.08 and i > 1:
            sign = 1 if branch[i] < 0.04 else -1
            _grow(e, (x, y), angle + sign * turn[i], width * 0.6, bend * 0.3, depth + 1, out)
            width *= 0.9
    out.append((points, width))


def _vessels(e: _Eye) -> None:
    rng = e.rng
    temporal = math.pi if e.side == 1 else 0.0  # from the disc towards the fovea
    for factor, base_width in (((0.5, 0.2, 0.27), 0.019), ((0.72, 0.4, 0.45), 0.014)):
        trees: list = []
        for sign in (-1, 1):  # superior and inferior arcades arch around the macula
            angle = temporal + e.side * sign * rng.uniform(0.9, 1.2)
            bend = -e.side * sign * rng.uniform(0.045, 0.065)
            _grow(e, e.disc, angle, base_width * e.r, bend, 0, trees)
            nasal = temporal + math.pi + sign * rng.uniform(0.3, 0.9)
            _grow(e, e.disc, nasal, 0.7 * base_width * e.r, rng.normal(0, 0.02), 1, trees)
        for _ in range(2):  # small ones straight towards the macula
            _grow(e, e.disc, temporal + rng.normal(0, 0.25), 0.35 * base_width * e.r, 0, 2, trees)
        for points, width in trees:
            fixed = np.round((np.array(points) - (e.x0, 0)) * 4).astype(np.int32)
            for k in range(0, len(points) - 1, 6):  # taper in steps of 6 segments
                chunk = fixed[k : k + 7]
                w = max(1, round(width * (1 - 0.5 * k / len(points))))
                colour = e.colour_at(points[k], factor)
                cv2.polylines(e.image, [chunk], False, colour, w, cv2.LINE_AA, 2)


# -- lesions ---------------------------------------------------------------------------------

_DARK_RED = (0.5, 0.2, 0.22)


def _microaneurysms(e: _Eye, n: int) -> None:
    for _ in range(n):
        p = e.random_point(0.7)
        e.blob(p, e.r * e.rng.uniform(0.011, 0.016), e.colour_at(p, (0.45, 0.16, 0.18)))


def _haemorrhages(e: _Eye, n: int, *, all_quadrants: bool = False, flame: float = 0.0) -> None:
    for k in range(n):
        p = e.random_point(0.85, quadrant=k % 4 if all_quadrants else None)
        shade = e.rng.uniform(0.85, 1.15)
        colour = e.colour_at(p, tuple(v * shade for v in _DARK_RED))
        if e.rng.random() < flame:  # flame-shaped: along the nerve fibres, radial from the disc
            angle = math.degrees(math.atan2(p[1] - e.disc[1], p[0] - e.disc[0]))
            axes = (e.px(e.rng.uniform(0.04, 0.065)) * 4, e.px(e.rng.uniform(0.012, 0.02)) * 4)
            cv2.ellipse(e.image, e.pt(p), axes, angle, 0, 360, colour, -1, cv2.LINE_AA, 2)
        else:  # dot / blot, sometimes irregular (two overlapping blobs)
            radius = e.r * e.rng.uniform(0.02, 0.045)
            e.blob(p, radius, colour)
            if e.rng.random() < 0.4:
                q = (p[0] + radius * 0.6, p[1] + radius * e.rng.uniform(-0.6, 0.6))
                e.blob(q, radius * 0.7, colour)


def _exudates(e: _Eye, clusters: int) -> None:
    for _ in range(clusters):
        cx, cy = e.random_point(0.45) if e.rng.random() < 0.7 else e.random_point(0.8)
        spread = e.r * e.rng.uniform(0.04, 0.09)
        ring = e.rng.random() < 0.3  # circinate: a ring around a leaking spot
        for _ in range(e.rng.integers(8, 26)):
            if ring:
                a = e.rng.uniform(0, 2 * math.pi)
                p = (cx + spread * math.cos(a), cy + spread * math.sin(a))
            else:
                p = (cx + e.rng.normal(0, spread / 1.5), cy + e.rng.normal(0, spread / 1.5))
            light = min(1.0, 0.55 + 0.5 * e.brightness_at(p))
            colour = (255 * light, 232 * light, 110 * light)
            e.blob(p, e.r * e.rng.uniform(0.007, 0.016), colour)


def _soft_spots(e: _Eye, centre, radius: float, n: int, colour: _RGB, value: int) -> None:
    def draw(mask: np.ndarray, origin: tuple[int, int]) -> None:
        for _ in range(n):
            q = (
                centre[0] + e.rng.normal(0, radius / 2) - origin[0],
                centre[1] + e.rng.normal(0, radius / 2) - origin[1],
            )
            r = radius * e.rng.uniform(0.6, 1.0)
            cv2.circle(
                mask, (round(q[0] * 4), round(q[1] * 4)), round(r * 4), value, -1, cv2.LINE_AA, 2
            )

    e.patch_blend(centre, 2.5 * radius, draw, colour, 0.3 * radius)


def _cotton_wool(e: _Eye, n: int) -> None:
    for _ in range(n):
        p = e.random_point(0.6)
        light = min(1.0, 0.6 + 0.45 * e.brightness_at(p))
        _soft_spots(
            e, p, e.r * e.rng.uniform(0.035, 0.06), 3, (240 * light, 230 * light, 210 * light), 230
        )


def _new_vessels(e: _Eye, tufts: int) -> None:
    for k in range(tufts):
        if k == 0 and e.rng.random() < 0.5:  # NVD: on the disc margin
            a = e.rng.uniform(0, 2 * math.pi)
            centre = (e.disc[0] + e.disc_r * math.cos(a), e.disc[1] + e.disc_r * math.sin(a))
        else:  # NVE: along the arcades
            centre = e.random_point(0.7)
        reach = e.r * e.rng.uniform(0.06, 0.1)
        _soft_spots(e, centre, reach * 0.8, 2, e.colour_at(centre, (1.2, 1.4, 1.45)), 150)
        colour = e.colour_at(centre, (0.62, 0.22, 0.26))
        for _ in range(e.rng.integers(20, 36)):  # a tangle of fine, looping vessels
            q = (centre[0] + e.rng.normal(0, reach / 2), centre[1] + e.rng.normal(0, reach / 2))
            axes = (e.px(e.rng.uniform(0.01, 0.03)) * 4, e.px(e.rng.uniform(0.005, 0.02)) * 4)
            angle, arc = e.rng.uniform(0, 360), e.rng.uniform(180, 330)
            cv2.ellipse(e.image, e.pt(q), axes, angle, 0, arc, colour, e.px(0.008), cv2.LINE_AA, 2)
    if e.rng.random() < 0.6:  # pre-retinal haemorrhage: boat-shaped, flat top
        p = e.random_point(0.6)
        radius = e.px(e.rng.uniform(0.08, 0.14)) * 4
        colour = e.colour_at(p, (0.42, 0.12, 0.12))
        cv2.ellipse(e.image, e.pt(p), (radius, radius), 0, 0, 180, colour, -1, cv2.LINE_AA, 2)


def _laser_scars(e: _Eye) -> None:
    for _ in range(e.rng.integers(30, 80)):
        p = e.random_point(0.95)
        if math.hypot(p[0] - e.fovea[0], p[1] - e.fovea[1]) > 0.45 * e.r:
            radius = e.r * e.rng.uniform(0.015, 0.025)
            e.blob(p, radius, e.colour_at(p, (0.4, 0.32, 0.3)))
            e.blob(p, radius * 0.6, e.colour_at(p, (1.05, 1.2, 1.25)))


LESIONS = {  # grade -> counts drawn from these ranges (inclusive)
    1: {"ma": (3, 10)},
    2: {"ma": (6, 20), "haem": (3, 10), "exudates": (1, 3), "cotton": (0, 1)},
    3: {"ma": (10, 25), "haem": (20, 40), "exudates": (1, 4), "cotton": (2, 5)},
    4: {"ma": (10, 25), "haem": (8, 25), "exudates": (0, 4), "cotton": (0, 3), "nv": (1, 3)},
}


def _lesions(e: _Eye, grade: int) -> None:
    plan = {k: int(e.rng.integers(lo, hi + 1)) for k, (lo, hi) in LESIONS.get(grade, {}).items()}
    if grade == 2 and e.rng.random() < 0.25:
        plan["exudates"] = 0  # moderate NPDR may be haemorrhages alone
    _microaneurysms(e, plan.get("ma", 0))
    _haemorrhages(
        e, plan.get("haem", 0), all_quadrants=grade >= 3, flame=0.3 if grade >= 3 else 0.1
    )
    _exudates(e, plan.get("exudates", 0))
    _cotton_wool(e, plan.get("cotton", 0))
    if grade == 4:
        _new_vessels(e, plan["nv"])
        if e.rng.random() < 0.4:  # many EyePACS grade-4 eyes show panretinal laser scars
            _laser_scars(e)


# -- the photo -------------------------------------------------------------------------------


_TILE: list[np.ndarray] = []
_REPEATED: dict[tuple[int, int], np.ndarray] = {}


def _noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Unit Gaussian sensor noise: a random window of one fixed tile, repeated to cover.

    Drawing fresh normals for every pixel cost more than the rest of the photo; a 521 x 523
    tile (the same in every process: fixed seed) repeats invisibly under the real signal.
    """
    if not _TILE:
        _TILE.append(np.random.default_rng(12345).standard_normal((521, 523, 3), np.float32))
    reps = (-(-shape[0] // 521) + 1, -(-shape[1] // 523) + 1)
    big = _REPEATED.get(reps)
    if big is None:
        big = _REPEATED[reps] = cv2.repeat(_TILE[0], *reps)
    oy = int(rng.integers(0, big.shape[0] - shape[0] + 1))
    ox = int(rng.integers(0, big.shape[1] - shape[1] + 1))
    return big[oy : oy + shape[0], ox : ox + shape[1]]


def _camera(e: _Eye) -> np.ndarray:
    """Exposure, gamma, focus, sensor noise, the round field stop; returns the whole canvas."""
    rng = e.rng
    exposure, gamma = math.exp(rng.normal(0, 0.22)), rng.uniform(0.8, 1.25)
    lut = np.clip(255 * np.clip(np.arange(256) / 255 * exposure, 0, 1) ** gamma, 0, 255)
    image = cv2.LUT(e.image, lut.astype(np.uint8))
    if rng.random() < 0.3:  # out of focus
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.6, 1.8) * e.h / 512)
    sigma = rng.uniform(1.0, 4.0)
    noisy = image.astype(np.float32)
    cv2.scaleAdd(_noise(image.shape, rng), sigma, noisy, noisy)
    image = cv2.convertScaleAbs(noisy)
    field = np.zeros(image.shape[:2], np.uint8)
    cv2.circle(field, e.pt((e.cx, e.cy)), round(e.r * 4), 255, -1, cv2.LINE_AA, 2)
    image = cv2.multiply(image, cv2.merge([field] * 3), scale=1 / 255)
    canvas = np.zeros((e.h, e.w, 3), np.uint8)
    canvas[:, e.x0 : e.x1] = image
    return canvas


def render(grade: int, eye: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One synthetic fundus photo as HxWx3 uint8 RGB (height ``size``, width up to 1.5x)."""
    return render_with_mask(grade, eye, size, rng)[0]


def render_with_mask(
    grade: int, eye: str, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`render`'s photo and its lesion mask, HxW uint8: 255 on a lesion, 0 elsewhere."""
    e = _Eye(rng, size, eye)
    _background(e)
    _optic_disc(e)
    _vessels(e)
    before = e.image.copy()  # no draw from ``rng``: the photo is the one render() draws
    _lesions(e, grade)
    mask = np.zeros((e.h, e.w), np.uint8)
    mask[:, e.x0 : e.x1][cv2.absdiff(e.image, before).max(axis=2) > LESION_LEVEL] = 255
    out = _camera(e)
    if rng.random() < 0.1:  # inverted, as seen through a condensing lens
        out, mask = np.ascontiguousarray(out[::-1, ::-1]), np.ascontiguousarray(mask[::-1, ::-1])
    return out, mask
