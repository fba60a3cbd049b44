"""The built-in sample set: synthetic fundus photos in the EyePACS layout, made on the spot.

    .venv/bin/python -m retinopathy prepare synthetic      # generate (once) and prepare it
    from retinopathy.data.synthetic import generate
    root = generate(n_images=2000, seed=0)   # <cache>/synthetic-eyepacs-n2000-s0-512px-v2
    mask = read_mask(mask_path(root / "train" / "10_left.jpeg"))   # HxW bool: the lesions

These photos are SYNTHETIC: drawn by :mod:`retinopathy.data.fundus_drawing`, not taken of
anyone's eye. They exist so that every stage (reading, cropping, caching, splitting, training,
reporting) runs offline and in minutes; a model trained on them says nothing about real
retinopathy. This module is the set's manifest: which patients, which eyes, which grades, which
files, and the generation that draws them (in parallel, resumable, JPEG-compressed).

Grades follow EyePACS' shares (73 / 7 / 15 / 2.5 / 2, exactly, by largest remainder) and both
eyes of a patient usually agree (a latent severity shared by the two eyes, correlation 0.97:
about 87% same grade, as in EyePACS). Everything is a function of the seed.

The set's folder::

    trainLabels.csv          image,level (EyePACS' label file)
    train/<stem>.jpeg        the photos, <stem> = <patient>_<left|right>
    masks/<stem>.png         where the lesions were drawn: one 8-bit greyscale PNG per photo, the
                             photo's size, 255 on a lesion and 0 elsewhere (all 0 for grade 0);
                             :func:`~retinopathy.data.fundus_drawing.render_with_mask` says which
                             pixels count. The pointing game (:mod:`retinopathy.pointing_game`)
                             reads them.
    manifest.json            the parameters; written last, when every file above is there

A set drawn before masks existed gets them on its next :func:`generate` (each photo drawn again
from its seed, its JPEG left untouched: the same photos, now with their masks).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from retinopathy.data.cache import default_cache_dir
from retinopathy.data.fundus_drawing import render_with_mask
from retinopathy.data.workers import map_unordered, worker_count
from retinopathy.tasks import GRADES
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import UserError

SHARES = (0.73, 0.07, 0.15, 0.025, 0.02)  # of each grade in GRADES, as in EyePACS
EYE_CORRELATION = 0.97  # latent severity correlation between the two eyes -> ~87% same grade
VERSION = 2  # bump whenever the photos drawn for a seed change
MASKS = "masks"  # the folder of lesion masks, beside ``train/``


@dataclass(frozen=True)
class Params:
    n_images: int
    seed: int
    size: int
    version: int = VERSION


def default_root(
    n_images: int = 2000, seed: int = 0, size: int = 512, cache_dir: str | Path | None = None
) -> Path:
    """Where :func:`generate` puts a set by default: a folder named by its parameters."""
    base = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return base / f"synthetic-eyepacs-n{n_images}-s{seed}-{size}px-v{VERSION}"


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
    grades[np.argsort(latent, kind="stable")] = np.repeat(np.asarray(GRADES), _quota(n_images))
    eyes = [(str(p), side) for p in patients for side in ("left", "right")][:n_images]
    return [(p, side, int(g)) for (p, side), g in zip(eyes, grades, strict=True)]


def mask_path(photo: str | Path) -> Path:
    """Where a set in this layout keeps the lesion mask of ``photo`` (``<set>/train/<stem>.*``)."""
    photo = Path(photo)
    return photo.parent.parent / MASKS / f"{photo.stem}.png"


def read_mask(path: str | Path) -> np.ndarray | None:
    """The lesion mask at ``path`` as HxW bool, or None where there is no readable one."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if Path(path).is_file() else None
    return None if mask is None else mask > 0


@dataclass(frozen=True)
class _Job:
    path: str
    grade: int
    eye: str
    size: int
    seed: tuple[int, ...]

    @property
    def done(self) -> bool:
        return Path(self.path).exists() and mask_path(self.path).exists()


def _render_job(job: _Job) -> None:
    """Draw the photo; write its mask, then the JPEG, each only where it is missing."""
    rng = np.random.default_rng(job.seed)
    image, mask = render_with_mask(job.grade, job.eye, job.size, rng)
    quality = int(rng.integers(85, 96))
    if not mask_path(job.path).exists():
        _, png = cv2.imencode(".png", mask)
        atomic_write_bytes(mask_path(job.path), png.tobytes())
    if not Path(job.path).exists():
        _, buf = cv2.imencode(".jpeg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        atomic_write_bytes(job.path, buf.tobytes())


def _check_folder(root: Path, params: Params) -> bool:
    """True if ``root`` already holds this set; UserError if it holds something else."""
    manifest = root / "manifest.json"
    if manifest.exists():
        found = json.loads(manifest.read_text())
        if found == asdict(params):
            return True
        raise UserError(f"{root} holds another synthetic set ({found}); choose another folder")
    partial = root / ".generating.json"
    ours = partial.exists() and json.loads(partial.read_text()) == asdict(params)
    if root.exists() and any(root.iterdir()) and not ours:
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
    """Write the set (``trainLabels.csv``, ``train/*.jpeg``, ``masks/*.png``, ``manifest.json``)
    unless present.

    An interrupted run resumes: finished photos are kept. A finished set missing masks (drawn
    before they existed) gets them, its photos untouched.
    """
    if n_images < 2 or size < 64:
        raise UserError("a synthetic set needs at least 2 photos of at least 64 px")
    params = Params(n_images, seed, size)
    root = Path(root).expanduser() if root else default_root(n_images, seed, size)
    finished = _check_folder(root, params)
    labels = assign_grades(n_images, seed)
    jobs = [
        _Job(
            str(root / "train" / f"{p}_{eye}.jpeg"),
            g,
            eye,
            size,
            (seed, int(p), int(eye == "right")),
        )
        for p, eye, g in labels
    ]
    todo = [j for j in jobs if not j.done]
    if finished and not todo:
        return root
    if not finished:
        (root / "train").mkdir(parents=True, exist_ok=True)
        atomic_write_text(root / ".generating.json", json.dumps(asdict(params)))
    _draw(todo, len(jobs), workers, "lesion masks" if finished else "synthetic photos", progress)
    if not finished:
        rows = "".join(f"{p}_{eye},{g}\n" for p, eye, g in labels)
        atomic_write_text(root / "trainLabels.csv", "image,level\n" + rows)
        atomic_write_text(root / "manifest.json", json.dumps(asdict(params)))
        (root / ".generating.json").unlink(missing_ok=True)
    return root


def _draw(todo: list[_Job], total: int, workers: int | None, desc: str, progress: bool) -> None:
    workers = worker_count(workers, len(todo))
    bar = tqdm(
        total=total, initial=total - len(todo), desc=desc, unit="photo", disable=not progress
    )
    with bar:
        for _ in map_unordered(_render_job, todo, workers, chunksize=4):
            bar.update()
