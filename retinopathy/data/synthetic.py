"""The built-in sample set: synthetic fundus photos in the EyePACS layout, made on the spot.

    python -m retinopathy prepare synthetic            # generate (once) and prepare it
    from retinopathy.data.synthetic import generate
    root = generate(n_images=2000, seed=0)             # -> <cache>/synthetic-eyepacs-n2000-s0-512px-v1

These photos are SYNTHETIC: drawn by this module, not taken of anyone's eye. They exist so that
every stage (reading, cropping, caching, splitting, training, reporting) runs offline and in
minutes; a model trained on them says nothing about real retinopathy.

What is drawn: an orange-red disc on black, clipped top and bottom or whole, with borders of
varying width (several aspect ratios); an optic disc with its cup, a darker macula with a
foveal reflex, branching arteries and veins arching around the macula; uneven illumination,
choroidal texture, blur, over- and under-exposure, sensor noise, JPEG compression, and about
one photo in ten inverted (rotated 180 degrees, as a condensing lens shows it).

Lesions follow the clinical scale and grow with the grade: microaneurysms (grade 1); more of
them plus dot/blot haemorrhages and yellow hard exudates (2); many haemorrhages in all four
quadrants, flame haemorrhages and cotton-wool spots (3); new vessels at the disc or along the
arcades, often with a pre-retinal haemorrhage or laser scars (4). Sizes are clinical but kept
visible at 128 px (a blot haemorrhage is 1.5-3 px across there).

Grades follow EyePACS' shares (73 / 7 / 15 / 2.5 / 2 %, exactly, by largest remainder) and both
eyes of a patient usually agree (a latent severity shared by the two eyes, correlation 0.97:
about 87% same grade, as in EyePACS). Everything is a function of the seed.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import NormalDist

import cv2
import numpy as np
from tqdm import tqdm

from shared.cli import UserError

SHARES = (0.73, 0.07, 0.15, 0.025, 0.02)
EYE_CORRELATION = 0.97  # latent severity correlation between the two eyes -> ~87% same grade
VERSION = 1


@dataclass(frozen=True)
class Params:
    n_images: int
    seed: int
    size: int
    version: int = VERSION


def default_root(n_images: int = 2000, seed: int = 0, size: int = 512) -> Path:
    from retinopathy.data.cache import default_cache_dir

    return default_cache_dir() / f"synthetic-eyepacs-n{n_images}-s{seed}-{size}px-v{VERSION}"


# -- labels ----------------------------------------------------------------------------------


def _quota(n: int, shares: tuple[float, ...] = SHARES) -> np.ndarray:
    """Photos per grade summing to ``n``, by largest remainder."""
    exact = np.asarray(shares) / sum(shares) * n
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


def assign_grades(n_images: int, seed: int) -> list[tuple[str, str, int]]:
    """``(patient, eye, grade)`` for each photo, left then right eye per patient."""
    rng = np.random.default_rng([seed, 0])
    n_patients = math.ceil(n_images / 2)
    patients = np.cumsum(rng.integers(1, 5, n_patients)) + 9  # EyePACS-like ids with gaps
    shared = rng.normal(size=(n_patients, 1))
    own = rng.normal(size=(n_patients, 2))
    latent = (math.sqrt(EYE_CORRELATION) * shared + math.sqrt(1 - EYE_CORRELATION) * own).ravel()
    latent = latent[:n_images]
    grades = np.empty(n_images, int)
    grades[np.argsort(latent, kind="stable")] = np.repeat(np.arange(5), _quota(n_images))
    eyes = [(str(p), side) for p in patients for side in ("left", "right")][:n_images]
    return [(p, side, int(g)) for (p, side), g in zip(eyes, grades, strict=True)]


# -- drawing helpers -------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Zero-mean, unit-ish noise varying over about ``cells`` blobs across the image."""
    small = rng.normal(size=(cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _soft_disc(dist: np.ndarray, radius: float, edge: float) -> np.ndarray:
    return np.clip((radius - dist) / edge + 0.5, 0, 1)


class _Eye:
    """One photo being drawn: geometry in pixels, float RGB image, lesion masks."""

    def __init__(self, rng: np.random.Generator, size: int, eye: str) -> None:
        self.rng = rng
        aspect = rng.choice([1.0, 1.2, 1.33, 1.5], p=[0.25, 0.15, 0.3, 0.3])
        self.h, self.w = size, round(size * aspect)
        self.r = size * rng.uniform(0.44, 0.58) if aspect > 1.1 else size * rng.uniform(0.40, 0.48)
        self.cx = self.w / 2 + rng.uniform(-0.03, 0.03) * self.w
        self.cy = self.h / 2 + rng.uniform(-0.03, 0.03) * self.h
        side = 1 if eye == "right" else -1  # the disc lies nasally: right of the fovea, right eye
        self.fovea = (self.cx + side * rng.uniform(0.0, 0.06) * self.r, self.cy + rng.uniform(-0.04, 0.04) * self.r)
        self.disc = (self.fovea[0] + side * rng.uniform(0.52, 0.62) * self.r, self.fovea[1] - rng.uniform(0.0, 0.06) * self.r)
        self.disc_r = rng.uniform(0.10, 0.13) * self.r
        self.side = side
        yy, xx = np.mgrid[0 : self.h, 0 : self.w].astype(np.float32)
        self.yy, self.xx = yy, xx
        self.rr = np.hypot(xx - self.cx, yy - self.cy) / self.r
        self.red = np.zeros((self.h, self.w), np.uint8)  # haemorrhages, microaneurysms
        self.yellow = np.zeros((self.h, self.w), np.uint8)  # hard exudates
        self.white = np.zeros((self.h, self.w), np.uint8)  # cotton-wool spots, fibrosis
        self.vessels = np.zeros((self.h, self.w), np.uint8)
        self.arteries = np.zeros((self.h, self.w), np.uint8)
        self.scars = np.zeros((self.h, self.w), np.uint8)

    def px(self, fraction: float) -> int:
        return max(1, round(fraction * self.r))

    def dist(self, point: tuple[float, float]) -> np.ndarray:
        return np.hypot(self.xx - point[0], self.yy - point[1])

    def random_point(self, max_r: float = 0.88, quadrant: int | None = None) -> tuple[float, float]:
        """A point on the retina, off the optic disc; ``quadrant`` 0-3 fixes the quadrant."""
        for _ in range(50):
            rho = max_r * math.sqrt(self.rng.uniform(0.02, 1))
            angle = self.rng.uniform(0, 2 * math.pi) if quadrant is None else self.rng.uniform(0, math.pi / 2) + quadrant * math.pi / 2
            x = self.fovea[0] + rho * self.r * math.cos(angle)
            y = self.fovea[1] + rho * self.r * math.sin(angle)
            inside = math.hypot(x - self.cx, y - self.cy) < max_r * self.r
            if inside and math.hypot(x - self.disc[0], y - self.disc[1]) > 1.4 * self.disc_r:
                return x, y
        return self.fovea


# -- anatomy ---------------------------------------------------------------------------------


def _background(e: _Eye) -> np.ndarray:
    rng = e.rng
    base = np.array([rng.uniform(0.78, 0.95), rng.uniform(0.30, 0.44), rng.uniform(0.12, 0.24)], np.float32)
    tilt = rng.uniform(0, 2 * math.pi)
    gradient = ((e.xx - e.cx) * math.cos(tilt) + (e.yy - e.cy) * math.sin(tilt)) / e.r
    light = (1 - rng.uniform(0.35, 0.6) * e.rr**2.2) * (1 + rng.uniform(0.05, 0.25) * gradient)
    light *= 1 + 0.12 * _smooth_noise(rng, (e.h, e.w), 5)
    texture = 1 + rng.uniform(0.02, 0.06) * _smooth_noise(rng, (e.h, e.w), 40)
    image = base * (light * texture)[..., None]
    macula = np.exp(-((e.dist(e.fovea) / (0.17 * e.r)) ** 2))
    image *= (1 - rng.uniform(0.3, 0.5) * macula)[..., None] * np.array([1, 0.85, 0.9], np.float32)
    reflex = np.exp(-((e.dist(e.fovea) / (0.012 * e.r)) ** 2)) * rng.uniform(0.1, 0.3)
    return image + reflex[..., None]


def _optic_disc(e: _Eye, image: np.ndarray) -> np.ndarray:
    d = e.dist(e.disc)
    rim = _soft_disc(d, e.disc_r, 0.15 * e.disc_r)
    cup = _soft_disc(d, e.disc_r * e.rng.uniform(0.35, 0.55), 0.25 * e.disc_r)
    disc_colour = np.array([1.0, 0.78, 0.52], np.float32) * e.rng.uniform(0.9, 1.1)
    image = image * (1 - rim[..., None]) + disc_colour * rim[..., None]
    return image + cup[..., None] * np.array([0.15, 0.15, 0.12], np.float32)


def _vessel_tree(e: _Eye, start: tuple[float, float], angle: float, width: float, bend: float, mask: np.ndarray, depth: int = 0) -> None:
    """A vessel from ``start`` heading ``angle``, curving by ``bend`` per step, branching."""
    rng, (x, y) = e.rng, start
    step = 0.035 * e.r
    for _ in range(60):
        angle += bend + rng.normal(0, 0.12)
        nx, ny = x + step * math.cos(angle), y + step * math.sin(angle)
        cv2.line(mask, (round(x * 4), round(y * 4)), (round(nx * 4), round(ny * 4)), 255, max(1, round(width)), cv2.LINE_AA, shift=2)
        x, y = nx, ny
        width *= 0.985
        if math.hypot(x - e.cx, y - e.cy) > 0.98 * e.r or width < 0.8:
            return
        if depth < 3 and rng.random() < 0.09:
            child = angle + rng.choice([-1, 1]) * rng.uniform(0.4, 1.0)
            _vessel_tree(e, (x, y), child, width * 0.7, bend * 0.5, mask, depth + 1)
            width *= 0.85


def _vessels(e: _Eye, image: np.ndarray) -> np.ndarray:
    rng = e.rng
    temporal = math.pi if e.side == 1 else 0.0  # from the disc towards the fovea
    for mask, base_width in ((e.vessels, 0.026), (e.arteries, 0.019)):
        for sign in (-1, 1):  # superior and inferior arcades hug the macula
            angle = temporal + sign * rng.uniform(0.5, 0.8)
            bend = -sign * rng.uniform(0.035, 0.05)  # turn back towards the horizontal
            _vessel_tree(e, e.disc, angle, base_width * e.r, bend, mask)
            nasal = temporal + math.pi + sign * rng.uniform(0.3, 0.9)
            _vessel_tree(e, e.disc, nasal, 0.7 * base_width * e.r, rng.normal(0, 0.02), mask)
        for _ in range(2):  # small ones straight to the macula
            _vessel_tree(e, e.disc, temporal + rng.normal(0, 0.2), 0.3 * base_width * e.r, 0, mask)
    veins = e.vessels.astype(np.float32)[..., None] / 255
    arteries = e.arteries.astype(np.float32)[..., None] / 255
    image = image * (1 - veins * np.array([0.5, 0.78, 0.7], np.float32))
    return image * (1 - arteries * np.array([0.3, 0.62, 0.55], np.float32))


# -- lesions ---------------------------------------------------------------------------------


def _blob(mask: np.ndarray, centre: tuple[float, float], radius: float, value: int = 255) -> None:
    cv2.circle(mask, (round(centre[0] * 4), round(centre[1] * 4)), max(1, round(radius * 4)), value, -1, cv2.LINE_AA, shift=2)


def _microaneurysms(e: _Eye, n: int) -> None:
    for _ in range(n):
        _blob(e.red, e.random_point(0.7), e.px(e.rng.uniform(0.009, 0.014)))


def _haemorrhages(e: _Eye, n: int, *, all_quadrants: bool = False, flame: float = 0.0) -> None:
    for k in range(n):
        p = e.random_point(0.85, quadrant=k % 4 if all_quadrants else None)
        if e.rng.random() < flame:  # flame-shaped: along the nerve fibres, radial from the disc
            angle = math.degrees(math.atan2(p[1] - e.disc[1], p[0] - e.disc[0]))
            axes = (e.px(e.rng.uniform(0.04, 0.06)), e.px(e.rng.uniform(0.012, 0.02)))
            cv2.ellipse(e.red, (round(p[0]), round(p[1])), axes, angle, 0, 360, 255, -1, cv2.LINE_AA)
        else:  # dot / blot, sometimes irregular (two overlapping blobs)
            radius = e.r * e.rng.uniform(0.02, 0.045)
            _blob(e.red, p, radius)
            if e.rng.random() < 0.4:
                _blob(e.red, (p[0] + radius * 0.6, p[1] + radius * e.rng.uniform(-0.6, 0.6)), radius * 0.7)


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
            _blob(e.yellow, p, e.r * e.rng.uniform(0.007, 0.016))


def _cotton_wool(e: _Eye, n: int) -> None:
    for _ in range(n):
        p = e.random_point(0.6)
        radius = e.r * e.rng.uniform(0.035, 0.06)
        for _ in range(3):
            q = (p[0] + e.rng.normal(0, radius / 2), p[1] + e.rng.normal(0, radius / 2))
            _blob(e.white, q, radius * e.rng.uniform(0.6, 1.0), 200)


def _new_vessels(e: _Eye, tufts: int) -> None:
    for k in range(tufts):
        if k == 0 and e.rng.random() < 0.5:  # NVD: on the disc margin
            a = e.rng.uniform(0, 2 * math.pi)
            centre = (e.disc[0] + e.disc_r * math.cos(a), e.disc[1] + e.disc_r * math.sin(a))
        else:  # NVE: along the arcades
            centre = e.random_point(0.7)
        reach = e.r * e.rng.uniform(0.06, 0.1)
        for _ in range(e.rng.integers(18, 35)):  # a tangle of fine, looping vessels
            a0 = e.rng.uniform(0, 2 * math.pi)
            start = (centre[0] + e.rng.normal(0, reach / 2), centre[1] + e.rng.normal(0, reach / 2))
            axes = (e.px(e.rng.uniform(0.01, 0.03)), e.px(e.rng.uniform(0.005, 0.02)))
            cv2.ellipse(e.vessels, (round(start[0]), round(start[1])), axes, math.degrees(a0), 0, e.rng.uniform(180, 330), 255, max(1, e.px(0.007)), cv2.LINE_AA)
        _blob(e.white, centre, reach * 0.9, 70)  # the fibrous veil around a tuft
    if e.rng.random() < 0.5:  # pre-retinal haemorrhage: boat-shaped, flat top
        p = e.random_point(0.6)
        radius = e.px(e.rng.uniform(0.08, 0.14))
        cv2.ellipse(e.red, (round(p[0]), round(p[1])), (radius, radius), 0, 0, 180, 255, -1, cv2.LINE_AA)


def _laser_scars(e: _Eye) -> None:
    for _ in range(e.rng.integers(30, 80)):
        p = e.random_point(0.95)
        if math.hypot(p[0] - e.fovea[0], p[1] - e.fovea[1]) > 0.45 * e.r:
            _blob(e.scars, p, e.r * e.rng.uniform(0.015, 0.025))


LESIONS = {  # grade -> counts drawn from these ranges (inclusive)
    1: {"ma": (3, 10)},
    2: {"ma": (6, 20), "haem": (3, 10), "exudates": (1, 3), "cotton": (0, 1)},
    3: {"ma": (10, 25), "haem": (20, 40), "exudates": (1, 4), "cotton": (2, 5)},
    4: {"ma": (10, 25), "haem": (8, 25), "exudates": (0, 4), "cotton": (0, 3), "nv": (1, 3)},
}


def _lesions(e: _Eye, grade: int) -> None:
    plan = {k: int(e.rng.integers(lo, hi + 1)) for k, (lo, hi) in LESIONS.get(grade, {}).items()}
    _microaneurysms(e, plan.get("ma", 0))
    _haemorrhages(e, plan.get("haem", 0), all_quadrants=grade >= 3, flame=0.3 if grade >= 3 else 0.1)
    if grade == 2 and e.rng.random() < 0.25:
        plan["exudates"] = 0  # moderate NPDR may be haemorrhages alone
    _exudates(e, plan.get("exudates", 0))
    _cotton_wool(e, plan.get("cotton", 0))
    if grade == 4:
        _new_vessels(e, plan["nv"])
        if e.rng.random() < 0.3:
            _laser_scars(e)


def _apply_lesions(e: _Eye, image: np.ndarray) -> np.ndarray:
    red = cv2.GaussianBlur(e.red, (0, 0), 0.6).astype(np.float32)[..., None] / 255
    image = image * (1 - red * np.array([0.55, 0.82, 0.78], np.float32))
    white = cv2.GaussianBlur(e.white, (0, 0), 0.02 * e.r).astype(np.float32)[..., None] / 255
    image = image * (1 - white) + white * np.array([0.95, 0.9, 0.82], np.float32)
    yellow = cv2.GaussianBlur(e.yellow, (0, 0), 0.7).astype(np.float32)[..., None] / 255
    image = image * (1 - yellow) + yellow * np.array([1.0, 0.92, 0.45], np.float32)
    scars = e.scars.astype(np.float32)[..., None] / 255
    return image * (1 - scars * np.array([0.6, 0.6, 0.5], np.float32))


# -- the photo -------------------------------------------------------------------------------


def render(grade: int, eye: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One synthetic fundus photo as HxWx3 uint8 RGB (height ``size``, width up to 1.5x)."""
    e = _Eye(rng, size, eye)
    image = _optic_disc(e, _background(e))
    image = _vessels(e, image)
    _lesions(e, grade)
    image = _apply_lesions(e, image)
    image *= math.exp(rng.normal(0, 0.22))  # over- / under-exposure
    image = np.clip(image, 0, 1) ** rng.uniform(0.8, 1.25)
    if rng.random() < 0.3:  # out of focus
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.6, 1.8))
    image += rng.normal(0, rng.uniform(0.004, 0.015), image.shape).astype(np.float32)
    inside = _soft_disc(e.rr * e.r, e.r, 1.5)
    image = np.clip(image * inside[..., None], 0, 1)
    out = (image * 255).astype(np.uint8)
    if rng.random() < 0.1:  # inverted, as seen through a condensing lens
        out = out[::-1, ::-1]
    return np.ascontiguousarray(out)


@dataclass(frozen=True)
class _Job:
    path: str
    grade: int
    eye: str
    size: int
    seed: tuple[int, ...]


def _render_job(job: _Job) -> None:
    rng = np.random.default_rng(job.seed)
    image = render(job.grade, job.eye, job.size, rng)
    quality = int(rng.integers(85, 96))
    _, buf = cv2.imencode(".jpeg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    path = Path(job.path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


def _init_worker() -> None:
    cv2.setNumThreads(1)


def _check_folder(root: Path, params: Params) -> bool:
    """True if ``root`` already holds this set; UserError if it holds something else."""
    manifest = root / "manifest.json"
    if manifest.exists():
        found = json.loads(manifest.read_text())
        if found == asdict(params):
            return True
        raise UserError(f"{root} holds another synthetic set ({found}); choose another folder")
    partial = root / ".generating.json"
    if root.exists() and any(root.iterdir()):
        if not partial.exists() or json.loads(partial.read_text()) != asdict(params):
            raise UserError(f"{root} is not empty and not a synthetic set; choose another folder")
    return False


def generate(
    root: str | Path | None = None,
    n_images: int = 2000,
    seed: int = 0,
    size: int = 512,
    workers: int | None = None,
    *,
    progress: bool = True,
) -> Path:
    """Write the set (``trainLabels.csv``, ``train/*.jpeg``, ``manifest.json``) unless present.

    An interrupted run resumes: finished photos are kept.
    """
    if n_images < 2 or size < 64:
        raise UserError("a synthetic set needs at least 2 photos of at least 64 px")
    params = Params(n_images, seed, size)
    root = Path(root).expanduser() if root else default_root(n_images, seed, size)
    if _check_folder(root, params):
        return root
    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / ".generating.json").write_text(json.dumps(asdict(params)))
    labels = assign_grades(n_images, seed)
    jobs = [
        _Job(str(root / "train" / f"{p}_{eye}.jpeg"), g, eye, size, (seed, int(p), int(eye == "right")))
        for p, eye, g in labels
    ]
    todo = [j for j in jobs if not Path(j.path).exists()]
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="synthetic photos", unit="photo", disable=not progress)
    if workers == 1:
        _init_worker()
        for job in todo:
            _render_job(job)
            bar.update()
    else:
        with mp.get_context().Pool(workers, initializer=_init_worker) as pool:
            for _ in pool.imap_unordered(_render_job, todo, chunksize=4):
                bar.update()
    bar.close()
    rows = "".join(f"{p}_{eye},{g}\n" for p, eye, g in labels)
    (root / "trainLabels.csv").write_text("image,level\n" + rows)
    tmp = root / ".manifest.json.tmp"
    tmp.write_text(json.dumps(asdict(params)))
    os.replace(tmp, root / "manifest.json")
    (root / ".generating.json").unlink(missing_ok=True)
    return root
