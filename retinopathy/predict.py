"""Grade new fundus photos with a trained run: a CSV of id, grade and class probabilities.

    python -m retinopathy predict --run RUN photo.jpeg
    python -m retinopathy predict --run RUN ~/new_photos --tta --fuse-eyes --out grades.csv

Photos are preprocessed exactly as the run's training photos were (crop or Graham, same size,
same normalisation). A folder's unreadable files are skipped and listed; a single unreadable
file is an error. ``--fuse-eyes`` blends the two eyes of EyePACS-style pairs
(``<patient>_left`` / ``<patient>_right``) with the weight chosen on the run's validation split.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import time
from pathlib import Path

import numpy as np
import torch

from retinopathy import fusion
from retinopathy.data.augment import eval_transform
from retinopathy.data.preprocess import BadImage, load_and_preprocess
from retinopathy.data.sources import IMAGE_SUFFIXES
from retinopathy.evaluate import METRICS_JSON
from retinopathy.models import load_run_model
from retinopathy.tasks import get_task
from shared.atomic import atomic_write_text
from shared.device import DEVICE_CHOICES, pick_device
from shared.errors import UserError
from shared.runs import progress, read_config, require_run_dir

EYE_PAIR = re.compile(r"^(?P<patient>.+)_(?P<eye>left|right)$", re.IGNORECASE)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", type=Path, required=True, help="a trained run folder")
    p.add_argument("images", type=Path, metavar="IMAGES", help="a photo or a folder of photos")
    p.add_argument("--out", type=Path, help="CSV to write (default RUN/predictions/<name>.csv)")
    p.add_argument("--tta", action="store_true", help="average over horizontal/vertical flips")
    p.add_argument("--fuse-eyes", action="store_true", help="blend the two eyes of a patient")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")


def find_images(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise UserError(f"{path} holds no photos ({', '.join(IMAGE_SUFFIXES)})")
        return found
    raise UserError(f"{path} does not exist")


def load_photos(paths: list[Path], size: int, mode: str) -> tuple[list[Path], list, list[str]]:
    """Preprocessed photos; unreadable ones are collected as ``"path: reason"`` lines."""
    good, images, bad = [], [], []
    for path in progress(paths, desc="preprocess", unit="photo", leave=False):
        try:
            images.append(load_and_preprocess(path, size, mode))
            good.append(path)
        except (BadImage, OSError) as exc:
            bad.append(f"{path}: {exc}")
    return good, images, bad


def _fusion_alpha(run_dir: Path) -> float:
    path = run_dir / METRICS_JSON
    if path.is_file():
        return float(json.loads(path.read_text()).get("summary", {}).get("fusion_alpha", 0.5))
    return 0.5


def run(args: argparse.Namespace) -> int:
    paths = require_run_dir(args.run)
    config = read_config(paths.root)
    model, _ = load_run_model(paths.root)
    task = get_task(config["task"])
    files = find_images(args.images)
    good, images, bad = load_photos(files, config["image_size"], config["mode"])
    if args.images.is_file() and bad:
        raise UserError(f"cannot read {bad[0]}")
    if not good:
        raise UserError(f"none of the {len(files)} photos could be read")
    device = pick_device(args.device)
    transform = eval_transform(config["image_size"], config["mean"], config["std"])
    probs = _predict(model, images, transform, device, args.tta, args.batch_size)
    ids = [p.stem for p in good]
    if args.fuse_eyes:
        probs = fusion.fuse(probs, _patients(ids), _fusion_alpha(paths.root))
    out = (
        args.out
        or paths.root
        / "predictions"
        / f"{args.images.stem or 'photos'}-{time.strftime('%Y%m%d-%H%M%S')}.csv"
    )
    _write_csv(out, task, ids, good, probs)
    grades = np.bincount(probs.argmax(1), minlength=task.num_classes)
    print(f"{len(good)} photos graded -> {out}")
    print("  " + ", ".join(f"{n}: {c}" for n, c in zip(task.class_names, grades, strict=True)))
    if bad:
        print(f"{len(bad)} unreadable, skipped:")
        for line in bad:
            print(f"  {line}")
    return 0


@torch.no_grad()
def _predict(model, images, transform, device, tta: bool, batch_size: int) -> np.ndarray:
    model.eval().to(device)
    out = []
    for start in progress(
        range(0, len(images), batch_size), desc="predict", unit="batch", leave=False
    ):
        chunk = images[start : start + batch_size]
        x = torch.stack([transform(torch.from_numpy(im).permute(2, 0, 1)) for im in chunk])
        x = x.to(device)
        views = [x, x.flip(-1), x.flip(-2)] if tta else [x]
        out.append(torch.stack([model(v).float().softmax(1) for v in views]).mean(0).cpu())
    return torch.cat(out).numpy()


def _patients(ids: list[str]) -> list[str | None]:
    return [m["patient"] if (m := EYE_PAIR.match(i)) else None for i in ids]


def _write_csv(out: Path, task, ids: list[str], files: list[Path], probs: np.ndarray) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "grade", "class", *[f"p_{k}" for k in range(task.num_classes)], "path"])
    for image_id, path, p in zip(ids, files, probs, strict=True):
        k = int(p.argmax())
        w.writerow([image_id, k, task.class_names[k], *[f"{v:.5f}" for v in p], str(path)])
    atomic_write_text(out, buf.getvalue())
