"""The style-quality lab: every method on one ruler, with its speed beside its quality.

    make lab LAB=style_quality           # labs/style_quality.toml -> runs/labs/style_quality/
    python -m labs style_quality --quick # two photos' worth, tiny sizes: a smoke run

Styles: the bundled ones, and ``held_out_styles`` paintings of the generated corpus's held-out
stream (:data:`~style_transfer.styles.painters.corpus.HELD_OUT_SEED`), which no decoder or
network was trained on. Each method stylises each photo of the recipe (scikit-image photos
outside the demo training set) at the recipe's ``size``, through :func:`style_transfer.stylize`:
Gatys for ``gatys_iters`` iterations, the style's shipped Johnson network (bundled styles only)
and the arbitrary-style network with its shipped decoder, float32.
:class:`~style_transfer.quality.QualityMeter` measures every result: the style distance to the
painting, against the photo's own (how far the method moved it), and the content distance to
the photo. Writes ``results.md`` (per style and method: mean seconds a photo, style distance of
photo and result, the share of the way moved, content distance; and over the held-out styles
the arbitrary network's share against Gatys's) and ``sheet.png``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import style_transfer
from shared.atomic import atomic_write_text
from shared.contact_sheet import save_image_grid
from shared.threads import cpu_threads
from style_transfer.images import read_photo, shrink, skimage_photo, write_image
from style_transfer.quality import QualityMeter
from style_transfer.styles import get_style
from style_transfer.styles.painters.corpus import HELD_OUT_SEED, paint_generated

METHODS = ("gatys", "johnson", "arbitrary")
QUICK = {"size": 96, "gatys_iters": 3, "measure_side": 96, "held_out_styles": 1}
HELD_OUT_SIDE = 512  # px: the generated paintings' size, as the bundled ones'


@dataclass(frozen=True)
class StyleEntry:
    name: str
    image: Path | None  # a held-out painting's file; None: the bundled style's own
    methods: tuple[str, ...]

    @property
    def held_out(self) -> bool:
        return self.image is not None


def style_entries(recipe: dict[str, Any], out_dir: Path) -> list[StyleEntry]:
    """The bundled styles of the recipe, then its held-out generated paintings (written into
    ``out_dir`` so the run shows what it measured)."""
    entries = [StyleEntry(s, None, METHODS) for s in recipe["styles"]]
    for i in range(recipe.get("held_out_styles", 0)):
        path = out_dir / f"held-out-{i}.png"
        write_image(paint_generated((HELD_OUT_SEED, i), HELD_OUT_SIDE), path)
        entries.append(StyleEntry(f"held-out-{i}", path, ("gatys", "arbitrary")))
    return entries


def _stylise(
    method: str, photo: np.ndarray, entry: StyleEntry, recipe: dict[str, Any]
) -> np.ndarray:
    options: dict[str, Any] = {"precision": "fp32", "threads": None}
    if entry.image is not None:
        options["style_image"] = entry.image
    if method == "gatys":
        options.update(size=recipe["size"], iters=recipe["gatys_iters"], seed=0)
    return style_transfer.stylize(photo, style=entry.name, method=method, **options)


def run(recipe: dict[str, Any], out_dir: Path) -> Path:
    """Every style x photo x method; returns the path of the markdown results table."""
    recipe = {**recipe, **(QUICK if recipe.get("quick") else {})}
    photos = recipe["photos"][:2] if recipe.get("quick") else recipe["photos"]
    meter = QualityMeter(side=recipe.get("measure_side", recipe["size"]))
    entries = style_entries(recipe, out_dir)
    rows: list[dict[str, Any]] = []
    sheet, titles = [], []
    jobs = [(e, p) for e in entries for p in photos]
    with cpu_threads(recipe.get("threads") or None):
        for entry, name in tqdm(jobs, desc="style quality", unit="photo"):
            painting = read_photo(entry.image or get_style(entry.name).image_path)
            photo = shrink(skimage_photo(name), recipe["size"])
            before = meter.style_distance(photo, painting)[0]
            sheet += [photo, shrink(painting, recipe["size"])]
            titles += [name, entry.name]
            for method in METHODS:
                if method not in entry.methods:
                    sheet.append(np.full_like(photo, 255))
                    titles.append(f"{method}: no model")
                    continue
                start = time.perf_counter()
                result = _stylise(method, photo, entry, recipe)
                seconds = time.perf_counter() - start
                d = meter.distances(result, photo, painting)
                rows.append({
                    "style": entry.name, "held_out": entry.held_out, "photo": name,
                    "method": method, "seconds": seconds, "before": before,
                    "style_d": d.style, "content_d": d.content,
                })  # fmt: skip
                sheet.append(result)
                titles.append(f"{method} ({seconds:.1f} s)")
    save_image_grid(sheet, out_dir / "sheet.png", titles=titles, ncol=2 + len(METHODS))
    table = out_dir / "results.md"
    atomic_write_text(table, _table(rows, recipe, photos, entries))
    return table


def _share(rows: list[dict[str, Any]]) -> float:
    """The share of the way to the painting's statistics, over these rows' means."""
    before = statistics.mean(r["before"] for r in rows)
    return (before - statistics.mean(r["style_d"] for r in rows)) / before


def held_out_summary(rows: list[dict[str, Any]]) -> str:
    """Over the held-out styles: the arbitrary network's share of the way against Gatys's, and
    their content distances."""
    held = [r for r in rows if r["held_out"]]
    if not held:
        return ""
    by = {m: [r for r in held if r["method"] == m] for m in ("gatys", "arbitrary")}
    share = {m: _share(rs) for m, rs in by.items()}
    content = {m: statistics.mean(r["content_d"] for r in rs) for m, rs in by.items()}
    ratio = share["arbitrary"] / share["gatys"] if share["gatys"] else float("nan")
    return (
        f"Held-out styles ({len({r['style'] for r in held})}): the arbitrary network moves "
        f"{share['arbitrary']:.0%} of the way, Gatys {share['gatys']:.0%} ({ratio:.2f} of "
        f"Gatys's distance), at content distance {content['arbitrary']:.3f} against Gatys's "
        f"{content['gatys']:.3f}."
    )


def _table(
    rows: list[dict[str, Any]], recipe: dict[str, Any], photos: list[str], entries: list[StyleEntry]
) -> str:
    smoke = " (smoke run, --quick: a check that the recipe runs, not a measurement)"
    lines = [
        f"# {recipe['name']}{smoke if recipe.get('quick') else ''}",
        "",
        f"{recipe.get('description', '')}",
        "",
        f"Photos: {', '.join(photos)} at {recipe['size']} px; Gatys {recipe['gatys_iters']} "
        f"iterations; distances measured at {recipe.get('measure_side', recipe['size'])} px.",
        "",
        "| style | method | seconds a photo | style distance, photo -> result | of the way to 0 "
        "| content distance |",
        "|---|---|---:|---|---:|---:|",
    ]
    for entry in entries:
        for method in entry.methods:
            mine = [r for r in rows if r["style"] == entry.name and r["method"] == method]
            before = statistics.mean(r["before"] for r in mine)
            after = statistics.mean(r["style_d"] for r in mine)
            lines.append(
                f"| {entry.name} | {method} | {statistics.mean(r['seconds'] for r in mine):.2f} "
                f"| {before:.3f} -> {after:.3f} | {(before - after) / before:.0%} "
                f"| {statistics.mean(r['content_d'] for r in mine):.3f} |"
            )
    summary = held_out_summary(rows)
    return "\n".join(lines) + (f"\n\n{summary}" if summary else "") + "\n\n![sheet](sheet.png)\n"
