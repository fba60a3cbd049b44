"""Feed-forward stylising for ``make stylize``: a trained style network, one pass per photo.

    make stylize STYLE=starry METHOD=johnson                 # the sample photo, in about a second
    make stylize STYLE=starry CONTENT=photo.jpg OUT=photo_starry.png
    make stylize STYLE=starry CONTENT=photos/ OUT=styled/    # a folder; or CONTENT=a.jpg,b.jpg
    make stylize STYLE=starry CONTENT=big.jpg SIZE=2048      # SIZE caps the longer side

``python -m style_transfer stylize`` hands over here (``run_cli(args, style)``) when the style has
a trained model and METHOD is auto, or METHOD=johnson. Photos keep their full size unless SIZE
caps it; same-size photos run in batches; a photo too large for the memory free runs in tiles
that share one set of normalisation statistics (:mod:`style_transfer.stylize`). Outputs as for
Gatys: ``--out`` and ``<out>-sheet.png``/``<out>-config.json`` beside it (``--out`` is a folder
when there are several photos), or a new run folder ``runs/style_transfer/<stamp>-<style>/``.
Every image is written under a temporary name and renamed: nothing is ever half-written.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from shared.atomic import atomic_write_text
from shared.device import describe, pick_device
from shared.errors import UserError
from shared.plotting import save_image_grid
from shared.runs import RunPaths, new_run_dir
from shared.threads import auto_threads
from style_transfer.imageio import SAMPLE_PHOTOS, check_writable, fit_size, read_image
from style_transfer.styles import Style
from style_transfer.stylize import list_images, read_rgb, stylize_images, write_rgb
from style_transfer.transformer_net import load_model

APP = "style_transfer"
BATCH_SIZE = 4
SHEET_PHOTOS = 4  # at most this many content/result pairs on the sheet
SHEET_SIDE = 512  # px, longer side of each image on the sheet


def content_sources(text: str) -> list[str | Path]:
    """CONTENT as a list: sample names, files, folders or glob patterns, joined by commas."""
    sources: list[str | Path] = []
    for part in (t.strip() for t in str(text).split(",")):
        if not part:
            continue
        if part in SAMPLE_PHOTOS:
            sources.append(part)
        elif Path(part).expanduser().is_dir():
            sources.extend(list_images(Path(part).expanduser()))
        elif glob.has_magic(part):
            matches = sorted(glob.glob(os.path.expanduser(part)))
            if not matches:
                raise UserError(f"no file matches {part}")
            sources.extend(list_images([Path(m) for m in matches]))
        else:
            sources.extend(list_images([Path(part).expanduser()]))
    if not sources:
        raise UserError("no content photo given")
    return sources


def load_photo(source: str | Path, max_side: int | None) -> np.ndarray:
    """HxWx3 uint8, area-downscaled when its longer side exceeds ``max_side``."""
    if isinstance(source, str):
        photo = SAMPLE_PHOTOS[source]()
        photo = np.ascontiguousarray(np.stack([photo] * 3, -1) if photo.ndim == 2 else photo)
    else:
        photo = read_rgb(source)
    return shrink(photo, max_side)


def shrink(photo: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = photo.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return photo
    nh, nw = fit_size(h, w, max_side)
    return np.asarray(Image.fromarray(photo).resize((nw, nh), Image.Resampling.BOX))


@dataclass
class Outputs:
    """Where results go: beside ``--out`` (a file, or a folder for several photos), or in a run
    folder that is created only when the first result is ready."""

    out: Path | None
    style: str
    many: bool
    _run: Path | None = None

    def check(self, n: int) -> None:
        if self.out is None:
            return
        if self.many and self.out.suffix:
            raise UserError(f"{n} photos: --out must be a folder, not {self.out}")
        if not self.many:
            check_writable(self.out)

    @property
    def root(self) -> Path:
        if self.out is not None:
            return self.out if self.many else self.out.parent
        if self._run is None:
            self._run = new_run_dir(APP, self.style)
        return self._run

    def image(self, source: str | Path) -> Path:
        name = f"{source}.png" if isinstance(source, str) else Path(source).name
        if self.out is None:
            return self.root / "stylized" / name if self.many else self.root / "stylized.png"
        return self.out / name if self.many else self.out

    def beside(self, kind: str, suffix: str) -> Path:
        """``<out>-sheet.png`` / ``<out>-config.json``, or the run folder's own."""
        if self.out is None:
            return RunPaths(self.root).plot(kind) if kind == "sheet" else RunPaths(self.root).config
        stem = self.out if self.many else self.out.with_suffix("")
        return Path(f"{stem}-{kind}{suffix}")

    @property
    def where(self) -> Path:
        return self.out if self.out is not None else self.root


@dataclass
class Tally:
    """Timing and the few photos the sheet shows."""

    load: float = 0.0
    stylise: float = 0.0
    photos: int = 0
    largest: tuple[int, int] = (0, 0)
    pairs: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)

    def add(self, source: str | Path, photo: np.ndarray, styled: np.ndarray) -> None:
        self.photos += 1
        self.largest = max(self.largest, photo.shape[:2], key=lambda s: s[0] * s[1])
        if len(self.pairs) < SHEET_PHOTOS:
            name = source if isinstance(source, str) else Path(source).name
            self.pairs.append((name, shrink(photo, SHEET_SIDE), shrink(styled, SHEET_SIDE)))


def stylise_all(
    model: torch.nn.Module,
    sources: list[str | Path],
    max_side: int | None,
    outputs: Outputs,
    tally: Tally,
    batch_size: int = BATCH_SIZE,
) -> None:
    """Read, stylise and write ``batch_size`` photos at a time (a folder of any length fits)."""
    for i in range(0, len(sources), batch_size):
        chunk = sources[i : i + batch_size]
        photos = [load_photo(s, max_side) for s in chunk]
        start = time.perf_counter()
        styled = stylize_images(model, photos, batch_size=batch_size)
        tally.stylise += time.perf_counter() - start
        for source, photo, result in zip(chunk, photos, styled, strict=True):
            write_rgb(result, outputs.image(source))
            tally.add(source, photo, result)


def write_sheet(path: Path, tally: Tally, style: Style) -> None:
    if len(tally.pairs) == 1:
        name, photo, styled = tally.pairs[0]
        painting = read_image(style.image_path) if style.image_path.is_file() else None
        images = [photo, *([painting] if painting is not None else []), styled]
        titles = [name, *([style.name] if painting is not None else []), f"{style.name} (Johnson)"]
        save_image_grid(images, path, titles=titles, cell_inches=4)
        return
    images = [im for _, photo, styled in tally.pairs for im in (photo, styled)]
    titles = [t for name, _, _ in tally.pairs for t in (name, style.name)]
    save_image_grid(images, path, titles=titles, ncol=2, cell_inches=4)


def write_config(
    path: Path, args: argparse.Namespace, style: Style, meta: dict, tally: Tally, n: int
) -> None:
    record = {
        "method": "johnson",
        "style": style.name,
        "model": str(style.model_path),
        "model_recipe": meta.get("recipe", ""),
        "content": str(args.content),
        "photos": n,
        "size": args.size,
        "seconds": {"load": round(tally.load, 3), "stylise": round(tally.stylise, 3)},
    }
    atomic_write_text(path, json.dumps(record, indent=2, default=str))


def run_cli(args: argparse.Namespace, style: Style) -> int:
    """Stylise CONTENT with ``style``'s trained network; returns the exit status."""
    if args.size is not None and args.size < 8:
        raise UserError(f"--size must be at least 8 px, not {args.size}")
    sources = content_sources(args.content)
    outputs = Outputs(args.out, style.name, many=len(sources) > 1)
    outputs.check(len(sources))
    torch.set_num_threads(args.threads or auto_threads())
    try:
        device = pick_device(args.device)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    tally = Tally()
    start = time.perf_counter()
    model, meta = load_model(style.model_path, device)
    tally.load = time.perf_counter() - start
    print(f"model {style.model_path} ({meta.get('style', style.name)}) on {describe(device)}")
    stylise_all(model, sources, args.size, outputs, tally)
    sheet = outputs.beside("sheet", ".png")
    write_sheet(sheet, tally, style)
    write_config(outputs.beside("config", ".json"), args, style, meta, tally, len(sources))
    h, w = tally.largest
    print(
        f"stylised {tally.photos} photo(s) in {tally.stylise:.2f} s "
        f"({tally.stylise / tally.photos:.2f} s each, largest {w}x{h}); "
        f"model load {tally.load:.2f} s"
    )
    print(f"wrote {outputs.where} (sheet {sheet})")
    return 0
