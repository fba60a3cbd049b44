"""The style registry: a name -> its style image and, once trained, its Johnson model.

    from style_transfer.styles import get_style, list_styles
    style = get_style("starry")                 # Style(name, image, description)
    style.image_path, style.model_path, style.has_model
    get_style("monet", image="monet.jpg")       # any image under a name of your choosing

The bundled images are procedural studies painted by ``python -m style_transfer.styles.paint``.
A trained feed-forward model for a style lives at ``styles/models/<name>.safetensors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.cli import UserError

STYLE_DIR = Path(__file__).resolve().parent
MODEL_DIR = STYLE_DIR / "models"

BUNDLED: dict[str, str] = {
    "starry": "a swirling starry night: flow-field strokes, star halos, moon, cypress, village",
    "wave": "a woodblock-print study of a great curling wave, indigo and Prussian blue",
    "mosaic": "a stained-glass rose window: Voronoi panes of jewel colours and lead lines",
}


@dataclass(frozen=True)
class Style:
    """One named style: the image its statistics come from, and where its trained model goes."""

    name: str
    image_path: Path
    description: str = ""
    model_dir: Path = MODEL_DIR

    @property
    def model_path(self) -> Path:
        return self.model_dir / f"{self.name}.safetensors"

    @property
    def has_model(self) -> bool:
        return self.model_path.is_file()


def list_styles() -> list[str]:
    return list(BUNDLED)


def get_style(name: str, image: str | Path | None = None) -> Style:
    """The bundled style ``name``, or ``image`` used under ``name`` when given.

    Raises :class:`UserError` for an unknown name without an image, listing the valid ones.
    """
    if not name or "/" in name or name.startswith("."):
        raise UserError(f"bad style name {name!r}: use a short name like 'starry'")
    if image is not None:
        return Style(name, Path(image), f"{name} (from {image})")
    if name not in BUNDLED:
        raise UserError(
            f"unknown style {name!r}; bundled styles: {', '.join(list_styles())} "
            "(or give STYLE_IMAGE=path to use any image under that name)"
        )
    return Style(name, STYLE_DIR / f"{name}.jpg", BUNDLED[name])
