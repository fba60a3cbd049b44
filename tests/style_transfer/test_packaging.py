"""What a wheel of the package holds: every folder of modules, the style images and models."""

from __future__ import annotations

from pathlib import Path

import tomllib

from style_transfer.arbitrary.model_file import SHIPPED_DECODER
from style_transfer.styles import BUNDLED, MODEL_DIR, STYLE_DIR

REPO = Path(__file__).resolve().parents[2]


def test_every_folder_of_modules_is_a_package() -> None:
    folders = {p.parent for p in (REPO / "style_transfer").rglob("*.py")}
    assert [f for f in folders if not (f / "__init__.py").is_file()] == []


def test_package_data_ships_the_style_images_and_models() -> None:
    with open(REPO / "pyproject.toml", "rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"]["style_transfer"]
    shipped = {p for pattern in patterns for p in (REPO / "style_transfer").glob(pattern)}
    for name in BUNDLED:
        assert STYLE_DIR / f"{name}.jpg" in shipped
        assert MODEL_DIR / f"{name}.safetensors" in shipped
    assert MODEL_DIR / "starry.steady.safetensors" in shipped  # the network trained for video
    assert SHIPPED_DECODER in shipped  # the arbitrary-style network's decoder
