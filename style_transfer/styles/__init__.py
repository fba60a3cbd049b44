"""The style registry: a name -> its style image and, once trained, its Johnson model.

    from style_transfer.styles import get_style, list_styles, pick_styles
    style = get_style("starry")                 # Style(name, image, description)
    style.image_path, style.model_path, style.has_model
    get_style("monet", image="monet.jpg")       # any image under a name of your choosing
    get_style("starry", image="other.jpg").has_model    # False: a model keeps its own image
    pick_styles("starry,wave")                  # a blend of two

The bundled images are procedural studies painted by ``python -m style_transfer paint``
(:mod:`style_transfer.styles.painters`).
Trained feed-forward models are ``<name>.safetensors`` files in two places, looked up in this
order: the user's styles (``$XDG_DATA_HOME/visionlab/styles``, by default
``~/.local/share/visionlab/styles``), where ``make train-style`` registers what it trains, with
a copy of the style image as ``<name>.jpg``; then the models shipped in ``styles/models/``.
A style trained under a new name is then known by that name alone: ``make stylize STYLE=monet``.
A style may also have ``<name>.steady.safetensors``, a network trained with the temporal loss
for video, which the video command takes by default.
A model belongs to the image it was trained on: a style given with another image has none, so
that image is used (by optimisation), never silently replaced by the model, and the results are
labelled with the image's file name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.errors import UserError

STYLE_DIR = Path(__file__).resolve().parent
MODEL_DIR = STYLE_DIR / "models"
STEADY_SUFFIX = ".steady.safetensors"  # a style's network trained for video (temporal loss)
STYLE_SIDE = 512  # px, the longer side of the bundled style images (and of registered copies)

BUNDLED: dict[str, str] = {
    "starry": "a swirling starry night: flow-field strokes, star halos, moon, cypress, village",
    "wave": "a woodblock-print study of a great curling wave, indigo and Prussian blue",
    "mosaic": "a stained-glass rose window: Voronoi panes of jewel colours and lead lines",
}


def user_style_dir() -> Path:
    """Where trained styles are registered: ``$XDG_DATA_HOME/visionlab/styles``."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base).expanduser() / "visionlab" / "styles"


@dataclass(frozen=True)
class Style:
    """One named style: the image its statistics come from, and its trained model if any.

    ``model_dir`` pins the one folder to look in; by default the user's styles come first,
    then the shipped models. ``own_image`` False: an image given under ``name``, which no
    trained model of ``name`` was trained on.
    """

    name: str
    image_path: Path
    description: str = ""
    model_dir: Path | None = None
    own_image: bool = True

    @property
    def model_path(self) -> Path:
        """The first existing ``<name>.safetensors``, else where training would register it."""
        dirs = [self.model_dir] if self.model_dir else [user_style_dir(), MODEL_DIR]
        paths = [d / f"{self.name}.safetensors" for d in dirs]
        return next((p for p in paths if p.is_file()), paths[0])

    @property
    def steady_model_path(self) -> Path | None:
        """The first existing ``<name>.steady.safetensors``: a network trained with the temporal
        loss (``train-style --temporal-weight``), which the video command prefers; else None."""
        dirs = [self.model_dir] if self.model_dir else [user_style_dir(), MODEL_DIR]
        paths = [d / f"{self.name}{STEADY_SUFFIX}" for d in dirs]
        return next((p for p in paths if p.is_file()), None) if self.own_image else None

    @property
    def has_model(self) -> bool:
        return self.own_image and self.model_path.is_file()

    @property
    def label(self) -> str:
        """What sheets call it: the name, or the file name of an image given under the name."""
        return self.name if self.own_image else self.image_path.name


def trained_styles() -> list[str]:
    """Names registered by training in the user's folder, other than the bundled ones."""
    folder = user_style_dir()
    found = sorted(
        p.stem for p in folder.glob("*.safetensors") if not p.name.endswith(STEADY_SUFFIX)
    ) if folder.is_dir() else []  # fmt: skip
    return [n for n in found if n not in BUNDLED and (folder / f"{n}.jpg").is_file()]


def list_styles() -> list[str]:
    return [*BUNDLED, *trained_styles()]


def get_style(name: str, image: str | Path | None = None) -> Style:
    """The bundled style ``name``, a style trained under ``name``, or ``image`` under ``name``.

    Raises :class:`UserError` for an unknown name without an image, listing the valid ones.
    """
    if not name or "/" in name or name.startswith("."):
        raise UserError(f"bad style name {name!r}: use a short name like 'starry'")
    if image is not None:
        return Style(name, Path(image), f"{name} (from {image})", own_image=False)
    if name in BUNDLED:
        return Style(name, STYLE_DIR / f"{name}.jpg", BUNDLED[name])
    trained = trained_styles()
    if name in trained:
        return Style(name, user_style_dir() / f"{name}.jpg", f"{name} (trained)")
    mine = f"; trained: {', '.join(trained)}" if trained else ""
    raise UserError(
        f"unknown style {name!r}; bundled styles: {', '.join(BUNDLED)}{mine} "
        "(or give STYLE_IMAGE=path to use any image under that name)"
    )


def pick_styles(style: str, images: Sequence[str | Path] = ()) -> list[Style]:
    """The styles one stylize blends: names joined by commas, or ``images`` under one name."""
    if images:
        if "," in style:
            raise UserError("with a style image, the style is one name for the result")
        return [get_style(style, image=path) for path in images]
    return [get_style(name.strip()) for name in style.split(",")]
