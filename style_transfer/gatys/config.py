"""The choices Gatys et al.'s method leaves open, and their defaults: :class:`GatysConfig`.

    from style_transfer.gatys.config import GatysConfig, config_from
    GatysConfig(scales=(256, 512), iters=150, preserve_color=True)
    config_from({"iters": 50}, size=384)        # the options a user gave; the rest: defaults

Its field defaults are the one place the method's defaults are written: the command line and the
Python API pass on only what the user set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.errors import UserError
from style_transfer.loss_network import PRESETS
from style_transfer.losses import LOSS_CHOICES

PAPER_BACKBONE = "vgg19"  # Gatys et al.'s loss network, for ``backbone="auto"``
OPTIMIZER_CHOICES = ("lbfgs", "adam", "sgd")
INIT_CHOICES = ("content", "noise", "style")
# Step sizes in units of pixel intensity ([0, 1] images) with per-layer normalisation on.
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02, "sgd": 0.05}


@dataclass
class GatysConfig:
    """Every choice the method leaves open. ``None`` layers mean the backbone's preset.

    ``iters``: optimiser steps at each scale (one number for all, or one per scale).
    ``style_scale``: the style image's longer side relative to the working image's (bigger
    means bigger brush strokes in the result).
    """

    content_layers: Sequence[str] | None = None
    style_layers: Mapping[str, float] | None = None
    content_weight: float = 1.0
    style_weight: float = 20.0
    tv_weight: float = 5.0
    loss: str = "mse"
    normalize: bool = True
    optimizer: str = "lbfgs"
    lr: float | None = None
    iters: int | Sequence[int] = 200
    init: str = "content"
    scales: Sequence[int] = (512,)
    style_scale: float = 1.0
    preserve_color: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name, choices in (
            ("loss", LOSS_CHOICES),
            ("optimizer", OPTIMIZER_CHOICES),
            ("init", INIT_CHOICES),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, not {getattr(self, name)!r}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, not {value}")
        if not self.scales or any(s < 1 for s in self.scales):
            raise ValueError(f"scales must be positive sizes, not {self.scales}")
        if len(self.iters_per_scale) != len(self.scales) or min(self.iters_per_scale) < 1:
            raise ValueError(f"iters must be >= 1, one number or one per scale, not {self.iters}")
        if not self.style_scale > 0:
            raise ValueError(f"style_scale must be positive, not {self.style_scale}")

    @property
    def iters_per_scale(self) -> tuple[int, ...]:
        if isinstance(self.iters, int):
            return (self.iters,) * len(self.scales)
        return tuple(self.iters)

    def layers_for(self, backbone: str) -> tuple[tuple[str, ...], dict[str, float]]:
        """Content layers and style layer weights (summing to 1) for ``backbone``."""
        preset = PRESETS[backbone]
        content = tuple(self.content_layers or preset.content)
        style = dict(self.style_layers or preset.style)
        total = sum(style.values())
        if total <= 0:
            raise ValueError("style layer weights must sum to a positive number")
        return content, {k: v / total for k, v in style.items()}


def config_from(options: Mapping[str, Any], size: int | None = None) -> GatysConfig:
    """A :class:`GatysConfig` from the options a user chose; ``size``: the one scale.

    Bad values are a :class:`UserError` (one line), as from the command line.
    """
    chosen = dict(options)
    if size is not None:
        if chosen.get("scales") is not None:
            raise UserError("give size or scales, not both (the last scale is the result's size)")
        if size < 1:
            raise UserError(f"size must be a positive number of pixels, not {size}")
        chosen["scales"] = (size,)
    if chosen.get("scales") is not None:
        chosen["scales"] = tuple(chosen["scales"])
    try:
        return GatysConfig(**chosen)
    except ValueError as exc:
        raise UserError(str(exc)) from None
