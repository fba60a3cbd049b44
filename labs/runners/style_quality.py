"""The style-quality lab: every method on one ruler, with its speed beside its quality.

    make lab LAB=style_quality           # labs/style_quality.toml -> runs/labs/style_quality/
    python -m labs style_quality --quick # two photos' worth, tiny sizes: a smoke run

For each bundled style and each photo of the recipe (scikit-image photos no shipped model was
trained on),
each method stylises the photo at the recipe's ``size``: Gatys for ``gatys_iters`` iterations
(the command's own path, :func:`style_transfer.stylize`) and the style's shipped Johnson network
(float32, one pass). :class:`~style_transfer.quality.QualityMeter` then measures every result:
the style distance to the painting, against the photo's own (how far the method moved it), and
the content distance to the photo. Writes ``results.md`` (per style and method: mean seconds a
photo, style distance of photo and result, the share of the way moved, content distance) and
``sheet.png`` (per style and photo: photo, painting, each method's result).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import style_transfer
from shared.atomic import atomic_write_text
from shared.plotting import save_image_grid
from shared.threads import cpu_threads
from style_transfer.images import read_photo, shrink, skimage_photo
from style_transfer.quality import QualityMeter
from style_transfer.styles import get_style

METHODS = ("gatys", "johnson")
QUICK = {"size": 96, "gatys_iters": 3, "measure_side": 96}


def _stylise(method: str, photo: np.ndarray, style: str, recipe: dict[str, Any]) -> np.ndarray:
    options: dict[str, Any] = {"precision": "fp32", "threads": None}
    if method == "gatys":
        options.update(size=recipe["size"], iters=recipe["gatys_iters"], seed=0)
    return style_transfer.stylize(photo, style=style, method=method, **options)


def run(recipe: dict[str, Any], out_dir: Path) -> Path:
    """Every style x photo x method; returns the path of the markdown results table."""
    recipe = {**recipe, **(QUICK if recipe.get("quick") else {})}
    photos = recipe["photos"][:2] if recipe.get("quick") else recipe["photos"]
    meter = QualityMeter(side=recipe.get("measure_side", recipe["size"]))
    rows: list[dict[str, Any]] = []
    sheet, titles = [], []
    jobs = [(s, p) for s in recipe["styles"] for p in photos]
    with cpu_threads(recipe.get("threads") or None):
        for style, name in tqdm(jobs, desc="style quality", unit="photo"):
            painting = read_photo(get_style(style).image_path)
            photo = shrink(skimage_photo(name), recipe["size"])
            before = meter.style_distance(photo, painting)[0]
            sheet += [photo, shrink(painting, recipe["size"])]
            titles += [name, style]
            for method in METHODS:
                start = time.perf_counter()
                result = _stylise(method, photo, style, recipe)
                seconds = time.perf_counter() - start
                d = meter.distances(result, photo, painting)
                rows.append({
                    "style": style, "photo": name, "method": method, "seconds": seconds,
                    "before": before, "style_d": d.style, "content_d": d.content,
                })  # fmt: skip
                sheet.append(result)
                titles.append(f"{method} ({seconds:.1f} s)")
    save_image_grid(sheet, out_dir / "sheet.png", titles=titles, ncol=2 + len(METHODS))
    table = out_dir / "results.md"
    atomic_write_text(table, _table(rows, recipe, photos))
    return table


def _table(rows: list[dict[str, Any]], recipe: dict[str, Any], photos: list[str]) -> str:
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
    for style in recipe["styles"]:
        for method in METHODS:
            mine = [r for r in rows if r["style"] == style and r["method"] == method]
            before = statistics.mean(r["before"] for r in mine)
            after = statistics.mean(r["style_d"] for r in mine)
            lines.append(
                f"| {style} | {method} | {statistics.mean(r['seconds'] for r in mine):.2f} "
                f"| {before:.3f} -> {after:.3f} | {(before - after) / before:.0%} "
                f"| {statistics.mean(r['content_d'] for r in mine):.3f} |"
            )
    return "\n".join(lines) + "\n\n![sheet](sheet.png)\n"
