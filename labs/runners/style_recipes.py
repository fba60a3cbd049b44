"""The style-recipe lab: which Johnson training recipe each bundled style should ship with.

    make lab LAB=style_recipes            # labs/style_recipes.toml -> runs/labs/style_recipes/
    python -m labs style_recipes --quick  # tiny sizes: a smoke run

Each candidate of the recipe is the ``base`` training settings with a few changed (style image
size, image size, batches, style weight, style layer weights). It is trained for every style of
the recipe, on the demo photos, and measured on the style_quality lab's ruler
(:class:`~style_transfer.quality.QualityMeter`) with photos outside the demo set, beside the
model the package ships now. Per style the lab keeps the candidates that move the photos nearly
as far toward the painting's statistics as the furthest one (within ``share_tolerance``) at a
content distance at most ``content_tolerance`` above the shipped model's, and of those chooses
the one trained with the largest style image: the ruler measures the painting at the photo's
working size, which favours texture at that scale, so between results it grades alike the
larger strokes and panes are the painting's. The chosen model file carries its recipe. Writes
``results.md``, ``sheet.png`` and the trained models in ``models/``. A killed lab resumes:
finished models are kept, a run cut short continues from its last checkpoint.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from shared.atomic import atomic_write_text
from shared.contact_sheet import save_image_grid
from shared.threads import cpu_threads
from style_transfer.images import read_photo, shrink, skimage_photo
from style_transfer.johnson.infer import transform_image
from style_transfer.johnson.model_file import load_model
from style_transfer.johnson.recipe import JohnsonSettings, JohnsonTraining, TrainRequest
from style_transfer.johnson.train import train_style
from style_transfer.quality import QualityMeter
from style_transfer.styles import get_style

SHIPPED = "shipped"  # the candidate standing for the model the package ships
QUICK_BASE = {"image_size": 64, "style_size": 96, "demo_images": 8}


@dataclass(frozen=True)
class Candidate:
    name: str
    settings: dict[str, Any]  # JohnsonSettings fields over the recipe's base


@dataclass
class Score:
    style: str
    candidate: str
    share: float  # of the way from the photo's style distance to 0, over the photos' means
    content: float  # mean content distance
    train_seconds: float | None  # as the model file records it
    recipe: str
    style_size: int = 0  # px, the style image's longer side in training
    chosen: bool = False


def candidates(recipe: dict[str, Any]) -> list[Candidate]:
    base = {**recipe["base"], **(QUICK_BASE if recipe.get("quick") else {})}
    found = [Candidate(SHIPPED, {})]
    for c in recipe["candidates"]:
        changed = {k: v for k, v in c.items() if k != "name"}
        if recipe.get("quick"):
            changed = {k: v for k, v in changed.items() if k not in QUICK_BASE}
        found.append(Candidate(c["name"], {**base, **changed}))
    return found


def model_for(style: str, candidate: Candidate, recipe: dict[str, Any], out_dir: Path) -> Path:
    """The candidate's model for ``style``: the shipped file, or trained (resumed) here."""
    if candidate.name == SHIPPED:
        return get_style(style).model_path
    model = out_dir / "models" / f"{style}-{candidate.name}.safetensors"
    if model.is_file():
        return model
    run = out_dir / "runs" / f"{style}-{candidate.name}"
    training = JohnsonTraining(precision="fp32", seed=recipe.get("seed", 0))
    if (run / "checkpoints" / "last.pt").is_file():
        request = TrainRequest(resume=run, training=training, threads=recipe.get("threads"))
    else:
        settings = JohnsonSettings(style=style, out=str(model), **candidate.settings)
        request = TrainRequest(settings, training, run=run, threads=recipe.get("threads"))
    train_style(request, verbose=False)
    return model


def measure(
    model_path: Path,
    painting: np.ndarray,
    photos: list[np.ndarray],
    before: list[float],
    meter: QualityMeter,
) -> tuple[float, float, list[np.ndarray], dict[str, Any]]:
    """(share of the way, mean content distance, the results, the model's meta); ``before``:
    each photo's own style distance to the painting."""
    model, meta = load_model(model_path)
    results, after, content = [], [], []
    with torch.inference_mode():
        for photo in photos:
            result = transform_image(model, photo)
            d = meter.distances(result, photo, painting)
            after.append(d.style)
            content.append(d.content)
            results.append(result)
    b = statistics.mean(before)
    return (b - statistics.mean(after)) / b, statistics.mean(content), results, meta


def choose(scores: list[Score], share_tolerance: float, content_tolerance: float) -> Score:
    """Of the candidates within the tolerances (see the module's docstring), the one with the
    largest style image; ties go to the one that moved furthest."""
    shipped = next(s for s in scores if s.candidate == SHIPPED)
    furthest = max(s.share for s in scores)
    near = [
        s
        for s in scores
        if s.share >= furthest - share_tolerance
        and s.content <= shipped.content + content_tolerance
    ]
    best = max(near or [shipped], key=lambda s: (s.style_size, s.share))
    best.chosen = True
    return best


def run(recipe: dict[str, Any], out_dir: Path) -> Path:
    """Train and measure every style x candidate; returns the path of the results table."""
    quick = recipe.get("quick")
    styles = recipe["styles"][:1] if quick else recipe["styles"]
    size = 64 if quick else recipe["size"]
    photos = [shrink(skimage_photo(n), size) for n in recipe["photos"][: 1 if quick else None]]
    meter = QualityMeter(side=size)
    scores: list[Score] = []
    sheet, titles = [], []
    every = candidates(recipe)
    bar = tqdm(total=len(styles) * len(every), desc="style recipes", unit="model")
    with cpu_threads(recipe.get("threads")), bar:
        for style in styles:
            painting = read_photo(get_style(style).image_path)
            before = [meter.style_distance(photo, painting)[0] for photo in photos]
            sheet += [photos[-1], shrink(painting, size)]
            titles += [recipe["photos"][len(photos) - 1], style]
            for candidate in every:
                path = model_for(style, candidate, recipe, out_dir)
                share, content, results, meta = measure(path, painting, photos, before, meter)
                scores.append(
                    Score(
                        style,
                        candidate.name,
                        share,
                        content,
                        meta.get("final", {}).get("time"),
                        meta.get("recipe", ""),
                        candidate.settings.get("style_size", recipe["base"]["style_size"]),
                    )
                )
                sheet.append(results[-1])
                titles.append(f"{candidate.name}: {share:.0%}")
                bar.update()
    for style in styles:
        mine = [s for s in scores if s.style == style]
        choose(mine, recipe["share_tolerance"], recipe["content_tolerance"])
    save_image_grid(sheet, out_dir / "sheet.png", titles=titles, ncol=2 + len(every))
    table = out_dir / "results.md"
    atomic_write_text(table, _table(scores, recipe, quick))
    return table


def _table(scores: list[Score], recipe: dict[str, Any], quick: bool) -> str:
    smoke = " (smoke run, --quick: a check that the recipe runs, not a measurement)"
    lines = [
        f"# {recipe['name']}{smoke if quick else ''}",
        "",
        recipe.get("description", ""),
        "",
        f"Base settings: {recipe['base']}. Chosen: of the candidates within "
        f"{recipe['share_tolerance'] * 100:g} points of the furthest share of the way, at a "
        f"content distance at most {recipe['content_tolerance']} above the shipped model's, the "
        "one trained with the largest style image.",
        "",
        "| style | candidate | style image px | training seconds | of the way to 0 "
        "| content distance | chosen |",
        "|---|---|---:|---:|---:|---:|:---:|",
    ]
    for s in scores:
        trained = "" if s.train_seconds is None else f"{s.train_seconds:.0f}"
        lines.append(
            f"| {s.style} | {s.candidate} | {s.style_size} | {trained} | {s.share:.0%} "
            f"| {s.content:.3f} "
            f"| {'yes' if s.chosen else ''} |"
        )
    lines += ["", "Chosen recipes:", ""]
    lines += [f"- {s.style}: `{s.recipe}`" for s in scores if s.chosen]
    return "\n".join(lines) + "\n\n![sheet](sheet.png)\n"
