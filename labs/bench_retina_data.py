"""Retinopathy data speed: one-time preprocessing and training-time loading, per core.

    make bench ARGS=retina      # or: python -m labs.bench_retina_data

On EyePACS-size photos (synthetic fundus photos rendered about 3000x2000 and saved as JPEG):

(a) preprocessing one photo to 512 px: ours (reduced-resolution JPEG decode + crop) against a
    plain full decode + resize (OpenCV; area averaging, and bilinear) and against PIL;
(b) training-time loading of one item: our cached Dataset with the training augmentation
    against the seed-style loader (open the original JPEG, ``Resize(512)``, flips, rotation,
    ``ToTensor``, ``Normalize`` on every epoch).

Everything runs on one thread (``cv2.setNumThreads(1)``, ``torch.set_num_threads(1)``) and is
timed in process CPU time, so the ratios are per core and other load on the machine does not
skew them. Floors: (a) >= 2x, (b) >= 10x.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

from retinopathy.data.augment import train_transform
from retinopathy.data.cache import prepare_records
from retinopathy.data.dataset import FundusDataset
from retinopathy.data.fundus_drawing import render
from retinopathy.data.preprocess import load_and_preprocess
from retinopathy.data.sources import Record

SIZE = 512
MEAN, STD = [0.45, 0.25, 0.15], [0.3, 0.2, 0.15]


def eyepacs_photos(folder: Path, n: int = 6) -> list[Path]:
    """``n`` synthetic photos about 3000x2000 (height 2000), JPEG quality 90."""
    paths = []
    for k in range(n):
        image = render(k % 5, "left" if k % 2 else "right", 2000, np.random.default_rng([77, k]))
        path = folder / f"{k}_left.jpeg"
        cv2.imwrite(str(path), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def paired_ms(fns: list[Callable[[int], object]], n: int, rounds: int = 3) -> list[float]:
    """Mean process CPU ms per call of each ``fn(i)``, ``i < n``, the functions interleaved
    call by call so that changing load on the machine weighs on all of them alike."""
    for fn in fns:
        fn(0)
    totals = [0.0] * len(fns)
    for _ in range(rounds):
        for i in range(n):
            for k, fn in enumerate(fns):
                start = time.process_time()
                fn(i)
                totals[k] += time.process_time() - start
    return [t / (rounds * n) * 1000 for t in totals]


def bench_preprocessing(paths: list[Path]) -> tuple[float, float]:
    """Ratios against full decode + area resize (same quality) and + bilinear (aliased)."""
    n = len(paths)

    def full_area(i: int) -> np.ndarray:
        return cv2.resize(cv2.imread(str(paths[i])), (SIZE, SIZE), interpolation=cv2.INTER_AREA)

    def full_linear(i: int) -> np.ndarray:
        return cv2.resize(cv2.imread(str(paths[i])), (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)

    def pil(i: int) -> Image.Image:
        return Image.open(paths[i]).convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR)

    names = [
        "full decode + resize (OpenCV, INTER_AREA)",
        "full decode + resize (OpenCV, INTER_LINEAR)",
        "full decode + resize (PIL, bilinear)",
    ]
    ours, *times = paired_ms(
        [lambda i: load_and_preprocess(paths[i], SIZE), full_area, full_linear, pil], n
    )
    rows = list(zip(names, times, strict=True))
    print(f"(a) preprocessing a photo to {SIZE} px, ms per photo (one core):")
    print(f"    {'ours: reduced decode + fundus crop':46s} {ours:7.1f}")
    for name, ms in rows:
        print(f"    {name:46s} {ms:7.1f}   ours is {ms / ours:4.1f}x faster")
    return rows[0][1] / ours, rows[1][1] / ours


def bench_loading(paths: list[Path], cache_dir: Path) -> float:
    records = [Record(p, 0) for p in paths]
    seed_style = T.Compose(
        [
            T.Resize(SIZE),
            T.RandomHorizontalFlip(),
            T.RandomVerticalFlip(),
            T.RandomRotation(360),
            T.ToTensor(),
            T.Normalize(MEAN, STD),
        ]
    )
    n = len(paths)
    datasets = []
    for storage in ("npy", "jpeg"):
        prepared = prepare_records(
            records, SIZE, cache_dir=cache_dir, storage=storage, progress=False
        )
        datasets.append(FundusDataset(prepared, transform=train_transform(SIZE, MEAN, STD)))
    seed_ms, *ours = paired_ms(
        [lambda i: seed_style(Image.open(paths[i]).convert("RGB"))]
        + [lambda i, d=d: d[i] for d in datasets],
        n,
    )
    print(f"(b) loading one training item at {SIZE} px, ms per item (one core):")
    print(f"    {'seed-style: JPEG + Resize + flips + rotation':46s} {seed_ms:7.1f}")
    for storage, ms in zip(("npy", "jpeg"), ours, strict=True):
        label = f"ours: cache ({storage}) + augmentation"
        print(f"    {label:46s} {ms:7.1f}   {seed_ms / ms:4.1f}x faster")
    return seed_ms / ours[0]


def main() -> None:
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = eyepacs_photos(folder)
        sizes = sorted({"x".join(map(str, Image.open(p).size)) for p in paths})
        mb = np.mean([p.stat().st_size for p in paths]) / 1e6
        print(f"{len(paths)} synthetic photos ({', '.join(sizes)}), {mb:.1f} MB average")
        area, linear = bench_preprocessing(paths)
        loading = bench_loading(paths, folder / "cache")
    print(
        f"ratios: preprocessing {area:.1f}x vs full decode + area resize, {linear:.1f}x vs full "
        f"decode + bilinear (floor 2x); cached loading {loading:.1f}x (floor 10x)"
    )


if __name__ == "__main__":
    main()
