"""The stylize command's Johnson half: photos through a trained style network, one pass each.

    make stylize STYLE=starry METHOD=johnson                 # the sample photo, in about a second
    make stylize STYLE=starry CONTENT=photo.jpg OUT=photo_starry.png
    make stylize STYLE=starry CONTENT=photos/ OUT=styled/    # a folder; or CONTENT=a.jpg,b.jpg
    make stylize STYLE=starry CONTENT=big.jpg SIZE=2048      # SIZE caps the longer side
    make stylize STYLE=starry ARGS="--backend onnxruntime"   # the network in onnxruntime
    .venv/bin/torchrun --nproc_per_node 2 -m style_transfer stylize --content photos/  # sharded

    from style_transfer.johnson.run import run_johnson
    run_johnson(request, style)                  # what ``stylize --method johnson`` does

Photos keep their full size unless SIZE caps it; same-size photos run in batches; a photo too
large for the memory free runs in tiles that share one set of normalisation statistics
(:mod:`style_transfer.johnson.tiles`). Outputs as for Gatys (:mod:`style_transfer.outputs`):
``out`` and ``<out>-sheet.png``/``<out>-config.json`` beside it (``out`` is a folder when there
are several photos), or a new run folder ``runs/style_transfer/<stamp>-<style>/``. Every image is
written under a temporary name and renamed: nothing is ever half-written. Under torchrun each
rank stylises its share of the batches one process would run (the same bytes come out), into the
one folder rank 0 names; rank 0 writes the sheet and the record.

Among several photos, one that does not decode (or is too small for the network) is skipped: the
others are stylised, the sheet and record written, and the skipped ones listed (on stdout, in the
record's ``skipped``, and counted in one warning line). Only when none can be read does the
command fail, naming the first few and why; the only photo given fails as itself.
"""

from __future__ import annotations

import glob
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from shared.compiled import compile_network, is_compiled
from shared.contact_sheet import save_image_grid
from shared.device import describe, pick_device
from shared.distributed import (
    batch_ranges,
    init_distributed,
    is_distributed,
    is_main_process,
    map_shared,
    on_main,
    world_size,
)
from shared.errors import UserError
from shared.image_files import is_image_file, list_images
from shared.precision import NAMES
from shared.threads import cpu_threads
from style_transfer.images import SAMPLE_PHOTOS, UnreadableImage, read_photo, shrink, write_image
from style_transfer.johnson.infer import BATCH_SIZE, choose_precision, transform_images
from style_transfer.johnson.model_file import load_model
from style_transfer.johnson.net import MIN_SIDE, to_inference
from style_transfer.outputs import Outputs, write_record
from style_transfer.request import StylizeRequest
from style_transfer.styles import Style

SHEET_PHOTOS = 4  # at most this many content/result pairs on the sheet
SHEET_SIDE = 512  # px, longer side of each image on the sheet

Source = str | Path  # a sample photo's name, or an image file


def content_sources(text: str) -> list[Source]:
    """CONTENT as a list: sample names, files, folders or glob patterns, joined by commas."""
    sources: list[Source] = []
    for part in (t.strip() for t in str(text).split(",")):
        if not part:
            continue
        path = Path(part).expanduser()
        if part in SAMPLE_PHOTOS:
            sources.append(part)
        elif path.is_dir():
            sources.extend(list_images(path))
        elif glob.has_magic(part):
            matches = sorted(glob.glob(os.path.expanduser(part)))
            images = [Path(m) for m in matches if is_image_file(m) and Path(m).is_file()]
            if not images:
                raise UserError(f"no image file matches {part}")
            sources.extend(images)
        elif path.is_file():
            sources.append(path)
        else:
            raise UserError(f"image not found: {part}")
    if not sources:
        raise UserError("no content photo given")
    return sources


def source_name(source: Source) -> str:
    """The result's file name among several: ``<sample>.png``, or the photo's own name."""
    return f"{source}.png" if isinstance(source, str) else Path(source).name


@dataclass
class Tally:
    """Timing, the few photos the sheet shows, and the photos skipped with the reason."""

    load: float = 0.0
    stylise: float = 0.0  # the network's seconds (under torchrun: summed over the ranks)
    photos: int = 0
    largest: tuple[int, int] = (0, 0)
    pairs: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # photo -> why it was not stylised
    room: int = SHEET_PHOTOS  # pairs this tally keeps for the sheet

    def add(self, source: Source, photo: np.ndarray, styled: np.ndarray) -> None:
        self.photos += 1
        self.largest = max(self.largest, photo.shape[:2], key=lambda s: s[0] * s[1])
        if len(self.pairs) < self.room:
            name = source if isinstance(source, str) else Path(source).name
            self.pairs.append((name, shrink(photo, SHEET_SIDE), shrink(styled, SHEET_SIDE)))

    def merge(self, later: Tally) -> None:
        """Count in the tally of the photos that come after these ones."""
        self.stylise += later.stylise
        self.photos += later.photos
        self.largest = max(self.largest, later.largest, key=lambda s: s[0] * s[1])
        self.pairs = (self.pairs + later.pairs)[:SHEET_PHOTOS]
        self.skipped.update(later.skipped)


def read_source(source: Source, max_side: int | None) -> np.ndarray:
    """One content photo, its longer side capped at ``max_side``; :class:`UnreadableImage`
    when it does not decode or is too small for the network."""
    photo = shrink(read_photo(source), max_side)
    h, w = photo.shape[:2]
    if min(h, w) < MIN_SIDE:
        reason = f"{w}x{h} px is too small for the network (at least {MIN_SIDE} px a side)"
        raise UnreadableImage(Path(source), reason)
    return photo


def transform_sources(
    model: torch.nn.Module,
    sources: list[Source],
    max_side: int | None,
    outputs: Outputs,
    tally: Tally,
    batch_size: int = BATCH_SIZE,
    preserve_color: bool = False,
) -> None:
    """Read, stylise and write ``batch_size`` photos at a time (a folder of any length fits).

    Under torchrun each rank takes its share of these batches (:func:`map_shared`): the batches
    one process runs, so the same bytes come out, and every rank's tally comes back in input
    order. Among several photos an unreadable one is skipped and kept in ``tally.skipped``; the
    only photo, or the last of several that all failed, raises (before anything is written).
    """
    room = SHEET_PHOTOS  # a rank's photos on the sheet can only be its first ones

    def run_batch(span: range) -> Tally:
        nonlocal room
        part = Tally(room=room)
        chunk = sources[span.start : span.stop]
        stylise_batch(model, chunk, max_side, outputs, part, batch_size, preserve_color)
        room -= len(part.pairs)
        return part

    for part in map_shared(run_batch, batch_ranges(len(sources), batch_size)):
        tally.merge(part)
    if not tally.photos:
        raise UserError(f"none of the {len(sources)} photos could be read: {_listed(tally)}")


def stylise_batch(
    model: torch.nn.Module,
    batch: list[Source],
    max_side: int | None,
    outputs: Outputs,
    tally: Tally,
    batch_size: int,
    preserve_color: bool = False,
) -> None:
    """Read ``batch``, stylise what reads and write it; an unreadable photo is skipped, unless
    it is the only one of the command (``outputs.many`` False), which raises."""
    chunk, photos = [], []
    for source in batch:
        try:
            photos.append(read_source(source, max_side))
            chunk.append(source)
        except UnreadableImage as exc:
            if not outputs.many:
                raise
            tally.skipped[str(source)] = str(exc.reason)
    if not chunk:
        return
    start = time.perf_counter()
    styled = transform_images(model, photos, batch_size=batch_size, preserve_color=preserve_color)
    tally.stylise += time.perf_counter() - start
    for source, photo, result in zip(chunk, photos, styled, strict=True):
        write_image(result, outputs.image(source_name(source)))
        tally.add(source, photo, result)


def _listed(tally: Tally, first: int = 3) -> str:
    """The first few skipped photos with their reasons, on one line."""
    items = [f"{Path(p).name}: {why}" for p, why in list(tally.skipped.items())[:first]]
    more = len(tally.skipped) - first
    return "; ".join(items) + (f" (and {more} more)" if more > 0 else "")


def style_painting(style: Style) -> np.ndarray | None:
    """The style's own image for the sheet, read before any work; a network runs without it,
    so an unreadable one is a warning, not an error."""
    try:
        return read_photo(style.image_path)
    except UserError as exc:
        warnings.warn(f"the sheet shows no style image: {exc}", stacklevel=2)
        return None


def write_sheet(
    path: Path, tally: Tally, style: Style, painting: np.ndarray | None, method: str = "Johnson"
) -> None:
    if len(tally.pairs) == 1:
        name, photo, styled = tally.pairs[0]
        painted = [] if painting is None else [shrink(painting, SHEET_SIDE)]
        images = [photo, *painted, styled]
        titles = [name, *([style.label] if painted else []), f"{style.label} ({method})"]
        save_image_grid(images, path, titles=titles, cell_inches=4)
        return
    images = [im for _, photo, styled in tally.pairs for im in (photo, styled)]
    titles = [t for name, _, _ in tally.pairs for t in (name, style.label)]
    save_image_grid(images, path, titles=titles, ncol=2, cell_inches=4)


def report_skipped(tally: Tally, total: int, record: Path) -> None:
    """Every skipped photo on stdout, and one warning line with the count."""
    if not tally.skipped:
        return
    print(f"{len(tally.skipped)} photo(s) skipped:")
    for photo, why in tally.skipped.items():
        print(f"  {photo}: {why}")
    warnings.warn(
        f"{len(tally.skipped)} of {total} photos could not be read and were skipped "
        f"(listed in {record}): {_listed(tally, first=1)}",
        stacklevel=2,
    )


def load_network(
    request: StylizeRequest, style: Style, device: torch.device, threads: int
) -> tuple[torch.nn.Module, dict, torch.dtype]:
    """``style``'s trained network as ``request`` runs it, its metadata and dtype: PyTorch on
    ``device`` in the request's precision, or onnxruntime (the CPU, float32, ``threads``)."""
    model, meta = load_model(style.model_path, device)
    if request.backend == "onnxruntime":
        from style_transfer.johnson.onnx_runtime import OnnxTransformer

        return OnnxTransformer(style.model_path, model, threads), meta, torch.float32
    # rank 0 decides for all: ranks in other precisions would not write one process's bytes
    dtype = on_main(choose_precision, to_inference(model, device), request.precision, device)
    model = model.to(dtype)
    return (compile_network(model, device) if request.compile else model), meta, dtype


def run_johnson(request: StylizeRequest, style: Style) -> Path:
    """Stylise ``request.content`` with ``style``'s trained network; returns where it wrote.

    Under torchrun each rank stylises its share of the photos into the one folder rank 0 named,
    and rank 0 writes the sheet and the record.
    """
    if request.size is not None and request.size < MIN_SIDE:
        raise UserError(f"size must be at least {MIN_SIDE} px, not {request.size}")
    sources = content_sources(request.content)
    outputs = Outputs(request.out, style.name, many=len(sources) > 1)
    outputs.check(len(sources))
    painting = style_painting(style)
    device = pick_device("cpu" if request.backend == "onnxruntime" else request.device)
    if init_distributed(device):
        outputs.make_folder()  # now, by rank 0 for all: a rank may have nothing to write
    tally = Tally()
    with cpu_threads(request.threads) as threads:
        start = time.perf_counter()
        model, meta, dtype = load_network(request, style, device, threads)
        tally.load = time.perf_counter() - start
        if is_main_process():
            ranks = f", {world_size()} ranks" if is_distributed() else ""
            print(
                f"model {style.model_path} ({meta.get('style', style.name)}) on "
                f"{describe(device)}, {NAMES[dtype]}, {request.backend}{ranks}"
                f"{', compiled' if is_compiled(model) else ''}"
            )
        try:
            transform_sources(
                model, sources, request.size, outputs, tally, preserve_color=request.preserve_color
            )
        except BaseException:
            outputs.remove_if_empty()
            raise
    record = {
        "method": "johnson",
        "style": style.name,
        "model": str(style.model_path),
        "model_recipe": meta.get("recipe", ""),
        "content": request.content,
        "photos": tally.photos,
        "skipped": tally.skipped,
        "size": request.size,
        "device": str(device),
        "threads": threads,
        "precision": NAMES[dtype],
        "backend": request.backend,
        "compiled": is_compiled(model),
        "preserve_color": request.preserve_color,
        "ranks": world_size(),
        "seconds": {"load": round(tally.load, 3), "stylise": round(tally.stylise, 3)},
    }
    on_main(write_results, outputs, tally, style, painting, record, len(sources))
    return outputs.where


def write_results(
    outputs: Outputs,
    tally: Tally,
    style: Style,
    painting: np.ndarray | None,
    record: dict,
    total: int,
    method: str = "Johnson",
) -> None:
    """The sheet, the record and the summary lines (rank 0's, under torchrun)."""
    sheet = outputs.beside("sheet", ".png")
    write_sheet(sheet, tally, style, painting, method)
    config = write_record(outputs.beside("config", ".json"), record)
    h, w = tally.largest
    print(
        f"stylised {tally.photos} photo(s) in {tally.stylise:.2f} s "
        f"({tally.stylise / tally.photos:.2f} s each, largest {w}x{h}); "
        f"model load {tally.load:.2f} s"
    )
    print(f"wrote {outputs.where} (sheet {sheet})")
    report_skipped(tally, total, config)
