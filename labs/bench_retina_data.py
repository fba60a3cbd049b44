"""Retinopathy data speed: preparing EyePACS-size photos, and training-time loading, per core.

    make bench ARGS=retina_data      # or: python -m labs.bench retina_data [--parts prepare]

The photos: scikit-image's retina.jpg (a real fundus photo, 1411 px) enlarged into 3072x2048
frames in the two usual EyePACS layouts, the whole disc just inside the frame (2048, 2000 and
1950 px across) and a disc wider than the frame, its top and bottom cut off (2300, 2400, 2500
px), two of each with different sensor noise (Gaussian, sigma 3 grey levels, over the black
border too), saved as JPEG quality 90: about 0.65 MB, 0.85 bits a pixel. (a) also times the same
photos at quality 95 (1.6 bits a pixel), where the entropy decoding, which no reduced decode
skips, is a larger share of every path.

(a) ``prepare``: preparing a photo for training at 512 px. Ours is ``retinopathy prepare`` in one
    process (:func:`retinopathy.data.cache.prepare_records`, ``workers=1``: checks, reduced
    JPEG decode, fundus crop, resize, the cached file, its journal line and the index) against
    the plain path, :func:`plain_prepare`: full-resolution decode, area resize to 512x512, PNG
    at OpenCV's default level. Also: the reduced decode alone (the floor), two other plain
    choices, photos whose eye is small in the frame (decoded twice) and quality 95.
(b) ``pixels``: how far our prepared photo is from a full-resolution decode: with the same
    crop square (the reduced decode's own difference), the square against the one found at
    full resolution, and the whole against the full-resolution path.
(c) ``loading``: one training item: our cached Dataset with the training augmentation against
    the seed-style loader (open the original JPEG, ``Resize(512)``, flips, rotation,
    ``ToTensor``, ``Normalize`` on every epoch).

One thread (``cv2.setNumThreads(1)``, ``torch.set_num_threads(1)``), process CPU time, the
implementations alternating within each round and the median of the rounds' ratios taken, so
the ratios are per core and other load on the machine weighs on every side alike. Floors:
(a) >= 3x, (b) the decode's own difference <= 1/255 on average, (c) >= 10x.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import skimage.data
import torch
import torchvision.transforms as T
from PIL import Image

from labs.bench import PROG, add_parts_argument
from retinopathy.data.augment import train_transform
from retinopathy.data.cache import prepare_records
from retinopathy.data.dataset import FundusDataset
from retinopathy.data.preprocess import find_square, locate_eye, read_photo, square_crop
from retinopathy.data.sources import Record

SIZE = 512
MEAN, STD = [0.45, 0.25, 0.15], [0.3, 0.2, 0.15]
FRAME = (2048, 3072)  # height, width: EyePACS-size
WHOLE_DISC = (2048, 2000, 1950)  # disc diameters, px: the whole disc inside the frame
CLIPPED = (2300, 2400, 2500)  # wider than the frame is high: top and bottom cut off
SMALL_EYE = (1600, 1500)  # a second look at 1/2 scale
NOISE = 3.0  # sensor noise, sigma in grey levels
QUALITY = 90  # a camera's "fine" setting
HEAVY_QUALITY = 95
PARTS = ("prepare", "pixels", "loading")


@functools.cache
def retina() -> np.ndarray:
    """scikit-image's retina.jpg, BGR."""
    return np.ascontiguousarray(skimage.data.retina()[..., ::-1])


def eyepacs_photo(
    path: Path, disc: int, seed: int, frame: tuple[int, int] = FRAME, quality: int = QUALITY
) -> Path:
    """retina.jpg enlarged to ``disc`` px, centred in a black ``frame``, noise added, as JPEG."""
    eye = cv2.resize(retina(), (disc, disc), interpolation=cv2.INTER_CUBIC)
    height, width = frame
    image = np.zeros((height, width, 3), np.float32)
    top, left = (height - disc) // 2, (width - disc) // 2
    rows = slice(max(top, 0), min(top + disc, height))
    image[rows, left : left + disc] = eye[rows.start - top : rows.stop - top]
    rng = np.random.default_rng([disc, seed])
    image += rng.standard_normal(image.shape, dtype=np.float32) * NOISE
    cv2.imwrite(
        str(path), np.clip(image, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    return path


def eyepacs_photos(
    folder: Path, discs: Sequence[int], seeds: int = 2, quality: int = QUALITY
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        eyepacs_photo(folder / f"{disc}_{seed}_left.jpeg", disc, seed, quality=quality)
        for disc in discs
        for seed in range(seeds)
    ]


def plain_prepare(source: Path, target: Path, size: int = SIZE) -> None:
    """The plain path: full-resolution decode, area resize to ``size`` x ``size``, PNG (OpenCV's
    default compression level)."""
    image = cv2.imread(str(source))
    cv2.imwrite(str(target), cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))


# -- (a) prepare -------------------------------------------------------------------------------


def round_ms(batches: list[Callable[[int], object]], n: int, rounds: int) -> list[list[float]]:
    """Each ``batch(round)``'s process CPU ms per photo (``n`` photos), round by round, the
    batches alternating within a round; one warm-up round first, not counted."""
    times: list[list[float]] = [[] for _ in batches]
    for r in range(-1, rounds):
        for k, batch in enumerate(batches):
            start = time.process_time()
            batch(r)
            if r >= 0:
                times[k].append((time.process_time() - start) / n * 1000)
    return times


def speed_up(slow: list[float], fast: list[float]) -> float:
    """Median over rounds of slow / fast, each round's pair timed side by side."""
    return statistics.median(s / f for s, f in zip(slow, fast, strict=True))


def prepare_batches(paths: list[Path], work: Path) -> dict[str, Callable[[int], object]]:
    """What (a) times, each over every photo: round ``r`` writes under its own folder."""
    records = [Record(p, 0) for p in paths]

    def each(fn: Callable[[Path, Path], object]) -> Callable[[int], None]:
        def batch(r: int) -> None:
            (work / f"{r}").mkdir(parents=True, exist_ok=True)
            for k, p in enumerate(paths):
                fn(p, work / f"{r}" / f"{k}.png")

        return batch

    def linear(source: Path, target: Path) -> None:
        image = cv2.resize(cv2.imread(str(source)), (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(target), image)

    def pil(source: Path, target: Path) -> None:
        image = Image.open(source).convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR)
        image.save(target, compress_level=1)

    return {
        "plain: full decode + area resize + PNG": each(plain_prepare),
        "ours: retinopathy prepare, one process": lambda r: prepare_records(
            records, SIZE, cache_dir=work / f"cache{r}", workers=1, progress=False
        ),
        "  of which the reduced decode (the floor)": each(
            lambda p, _: cv2.imread(str(p), cv2.IMREAD_REDUCED_COLOR_4)
        ),
        "plain, bilinear resize (aliased)": each(linear),
        "PIL: full decode + bilinear + PNG level 1": each(pil),
    }


def bench_prepare(paths: list[Path], folder: Path, rounds: int) -> float:
    """Print (a); returns ours against the plain path (throughput ratio)."""
    batches = prepare_batches(paths, folder / "main")
    times = dict(zip(batches, round_ms(list(batches.values()), len(paths), rounds), strict=True))
    plain, ours = list(times.values())[:2]
    print(f"(a) preparing a photo at {SIZE} px, one core: ms a photo, photos/s, against plain")
    for name, ms in times.items():
        median = statistics.median(ms)
        print(
            f"    {name:46s} {median:6.1f} ms {1000 / median:6.1f}/s   {speed_up(plain, ms):4.2f}x"
        )
    each = sorted(p / o for p, o in zip(plain, ours, strict=True))
    print(f"    (ours against plain, round by round: {', '.join(f'{x:.2f}' for x in each)})")
    others = {
        f"small eye ({'/'.join(map(str, SMALL_EYE))} px), 2 decodes": eyepacs_photos(
            folder / "small", SMALL_EYE, seeds=1
        ),
        f"quality {HEAVY_QUALITY}": eyepacs_photos(
            folder / "heavy", WHOLE_DISC + CLIPPED, seeds=1, quality=HEAVY_QUALITY
        ),
    }
    for name, photos in others.items():
        bits = np.mean([p.stat().st_size for p in photos]) * 8 / (FRAME[0] * FRAME[1])
        chosen = list(prepare_batches(photos, folder / name).values())[:3]
        other_plain, other_ours, floor = round_ms(chosen, len(photos), rounds)
        ms = statistics.median(other_ours)
        print(
            f"    {name} ({bits:.2f} bits a pixel): plain {statistics.median(other_plain):.1f} "
            f"ms, ours {ms:.1f} ms ({1000 / ms:.1f}/s), {speed_up(other_plain, other_ours):.2f}x; "
            f"the reduced decode alone {statistics.median(floor):.1f} ms"
        )
    return speed_up(plain, ours)


# -- (b) pixels --------------------------------------------------------------------------------


def pixel_difference(path: Path, size: int = SIZE) -> dict[str, float]:
    """Our prepared photo against a full-resolution decode of ``path``, in grey levels.

    ``decode_*``: against the full decode cut at our square (scaled up): what the reduced
    decode itself changes. ``square``: our square's largest distance (x0, y0 or side) from the
    one found at full resolution, in full-resolution px, and ``square_out`` the same in output
    px. ``whole_*``: against the full-resolution path (full decode, its own square).
    """
    image, factor, (x0, y0, side), _ = locate_eye(path, size)
    ours = square_crop(image, (x0, y0, side), size).astype(int)
    full = read_photo(path, size, reduce=False)[0]
    scaled = (x0 * factor, y0 * factor, side * factor)
    same = np.abs(ours - square_crop(full, scaled, size))
    found = find_square(full)
    whole = np.abs(ours - square_crop(full, found, size))
    moved = max(abs(a - b) for a, b in zip(scaled, found, strict=True))
    return {
        "factor": factor,
        "decode_mean": same.mean(),
        "decode_max": same.max(),
        "square": moved,
        "square_out": moved * size / found[2],
        "whole_mean": whole.mean(),
        "whole_max": whole.max(),
    }


def bench_pixels(paths: list[Path]) -> float:
    """Print (b); returns the largest mean difference the reduced decode itself makes."""
    rows = [pixel_difference(p) for p in paths]

    def spread(key: str, fmt: str = ".2f") -> str:
        values = [r[key] for r in rows]
        return f"{min(values):{fmt}}-{max(values):{fmt}}"

    factors = sorted({int(r["factor"]) for r in rows})
    print(
        f"(b) ours (decoded at 1/{'/'.join(map(str, factors))}) against a full decode, grey levels "
        f"of 255, range over the {len(rows)} photos:"
    )
    print(
        f"    same square: mean {spread('decode_mean')}, max {spread('decode_max', '.0f')} "
        "(the reduced decode itself)"
    )
    print(
        f"    square: within {spread('square', '.0f')} px of the full-resolution one "
        f"({spread('square_out')} output px)"
    )
    print(
        f"    whole, against the full-resolution path: mean {spread('whole_mean')}, max "
        f"{spread('whole_max', '.0f')} (the square's sub-pixel shift at vessel edges)"
    )
    return max(r["decode_mean"] for r in rows)


# -- (c) loading -------------------------------------------------------------------------------


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
    print(f"(c) loading one training item at {SIZE} px, ms per item (one core):")
    print(f"    {'seed-style: JPEG + Resize + flips + rotation':46s} {seed_ms:7.1f}")
    for storage, ms in zip(("npy", "jpeg"), ours, strict=True):
        label = f"ours: cache ({storage}) + augmentation"
        print(f"    {label:46s} {ms:7.1f}   {seed_ms / ms:4.1f}x faster")
    return seed_ms / ours[0]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"{PROG} retina_data", description=__doc__)
    add_parts_argument(parser, PARTS)
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds of (a) (default 7)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = eyepacs_photos(folder / "photos", WHOLE_DISC + CLIPPED)
        mb = np.mean([p.stat().st_size for p in paths]) / 1e6
        bits = mb * 8 / (FRAME[0] * FRAME[1] / 1e6)
        print(
            f"{len(paths)} photos {FRAME[1]}x{FRAME[0]} (retina.jpg, discs {WHOLE_DISC} and "
            f"{CLIPPED} px, noise sigma {NOISE:g}, JPEG {QUALITY}), {mb:.2f} MB average "
            f"({bits:.2f} bits a pixel); 1 thread"
        )
        if "prepare" in args.parts:
            ratio = bench_prepare(paths, folder / "work", args.rounds)
            summary.append(f"prepare {ratio:.2f}x the plain path (floor 3x)")
        if "pixels" in args.parts:
            decode = bench_pixels(paths)
            summary.append(f"reduced decode differs by {decode:.2f}/255 on average (floor 1)")
        if "loading" in args.parts:
            loading = bench_loading(paths, folder / "cache")
            summary.append(f"cached loading {loading:.1f}x (floor 10x)")
    print("ratios: " + "; ".join(summary))


if __name__ == "__main__":
    main()
