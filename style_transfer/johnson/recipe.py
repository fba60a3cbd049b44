"""What a Johnson training run is asked for: the style network's settings and the paper's schedule.

    from style_transfer.johnson.recipe import JohnsonSettings, JohnsonTraining, TrainRequest
    request = TrainRequest(JohnsonSettings("monet", data="~/photos"), style_image=Path("monet.jpg"))
    request.training.train_config(on_photos=True)   # the engine's TrainConfig

The field defaults here are the one place Johnson's training defaults are written: the command
line passes on only the flags a user set. :func:`recipe_command` spells a run's every setting out
as the command that trains it again; it is kept in config.json and in the model file.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.device import DEFAULT_DEVICE
from shared.engine import TrainConfig
from shared.errors import UserError
from shared.precision import DEFAULT_PRECISION

EXPORT_CHOICES = ("onnx",)
MIN_IMAGE_SIZE = 32  # px: below this the loss network's deepest style layer has no 2x2 map


@dataclass
class JohnsonSettings:
    """What the style network is trained on and for; stored in config.json under "johnson"."""

    style: str = "starry"
    data: str | None = None  # a folder of photos; None: the demo set
    image_size: int = 256
    style_size: int = 256  # longer side of the style image (bigger: bigger strokes)
    backbone: str = "auto"  # resolved before training starts: vgg16 | efficientnet_lite0
    pooling: str = "auto"
    content_weight: float = 1.0
    # With efficientnet_lite0 features (each layer's loss divided by its target's magnitude) 10
    # swamps the photo within a few hundred steps and 0.5 barely shows on a full-size photo; at 2
    # the palette and strokes are the painting's and faces stay recognisable.
    style_weight: float = 2.0
    tv_weight: float = 1.0
    # one weight per style layer of the loss network, shallow to deep (they are normalised to
    # sum to 1); None: all equal. Deeper layers weigh larger structures (panes, swirls)
    style_layer_weights: tuple[float, ...] | None = None
    # > 0: trained for video (style_transfer.johnson.temporal_loss); 0: per photo, as the paper
    temporal_weight: float = 0.0
    widths: tuple[int, int, int] = (32, 64, 128)
    residual_blocks: int = 5
    demo_images: int = 2000
    preview_every: int = 500
    out: str | None = None  # model file; None: register in the user's styles
    n_photos: int = 0  # filled in: a resumed run checks the folder still holds as many

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)  # type: ignore[assignment]
        if len(self.widths) != 3 or min(self.widths) < 1:
            raise UserError(f"widths must be three positive channel counts, not {self.widths}")
        for name in ("image_size", "style_size", "residual_blocks", "demo_images"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.image_size < MIN_IMAGE_SIZE:
            raise UserError(f"image_size must be at least {MIN_IMAGE_SIZE} px")
        if self.style_layer_weights is not None:
            self.style_layer_weights = tuple(float(w) for w in self.style_layer_weights)
            weights = self.style_layer_weights
            if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
                raise UserError(
                    f"style_layer_weights must be finite, >= 0 and not all 0, not {weights}"
                )
        for name in ("content_weight", "style_weight", "tv_weight", "temporal_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise UserError(f"{name} must be a finite number >= 0, not {value}")
        # Absolute paths: the run folder must resume from anywhere.
        if self.data is not None:
            self.data = str(Path(self.data).expanduser().resolve())
        if self.out is not None:
            if Path(self.out).suffix != ".safetensors":
                raise UserError(f"out must name a .safetensors file, not {self.out}")
            self.out = str(Path(self.out).expanduser().resolve())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JohnsonSettings:
        return cls(**d)


@dataclass
class JohnsonTraining:
    """The engine settings of a Johnson run: the paper's two epochs of COCO at batch 4, Adam 1e-3.

    ``epochs`` None: 2 on a folder of photos, 1 on the demo set (a few thousand crops of a dozen
    photos: one pass over it is about as much as it can teach).
    """

    epochs: int | None = None
    batch_size: int = 4
    lr: float = 1e-3
    precision: str = DEFAULT_PRECISION  # shared.precision: auto is resolved by the Trainer
    checkpoint_every: int = 500  # optimiser steps between checkpoints, besides epoch ends
    workers: int = 0  # DataLoader processes
    seed: int = 0

    def train_config(self, *, on_photos: bool) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs or (2 if on_photos else 1),
            batch_size=self.batch_size,
            num_workers=self.workers,
            optimizer="adam",
            lr=self.lr,
            precision=self.precision,
            checkpoint_every=self.checkpoint_every,
            monitor="train_loss",
            seed=self.seed,
        )


@dataclass
class TrainRequest:
    """One ``train`` command: a new run of ``settings`` and ``training``, or ``resume``."""

    settings: JohnsonSettings = field(default_factory=JohnsonSettings)
    training: JohnsonTraining = field(default_factory=JohnsonTraining)
    style_image: Path | None = None
    run: Path | None = None  # the run folder; None: runs/style_transfer/<stamp>-train-<style>
    resume: Path | None = None  # a killed run to continue, with its own settings
    device: str = DEFAULT_DEVICE
    threads: int | None = None  # None: the idle cores; a resume: the run's recorded count
    export: str | None = None  # also write the model in this format (onnx)

    def __post_init__(self) -> None:
        if self.export is not None and self.export not in EXPORT_CHOICES:
            raise UserError(f"export must be one of {', '.join(EXPORT_CHOICES)}, not {self.export}")


def _joined(values: tuple[float, ...] | None) -> str | None:
    return None if values is None else ",".join(f"{v:g}" for v in values)


def recipe_command(request: TrainRequest, train: TrainConfig) -> str:
    """The command that trains this model again, every setting spelled out."""
    settings = request.settings
    opts = {
        "--style": settings.style,
        "--style-image": request.style_image,
        "--data": settings.data,
        "--image-size": settings.image_size,
        "--style-size": settings.style_size,
        "--backbone": settings.backbone,
        "--pooling": settings.pooling,
        "--content-weight": settings.content_weight,
        "--style-weight": settings.style_weight,
        "--tv-weight": settings.tv_weight,
        "--style-layer-weights": _joined(settings.style_layer_weights),
        "--temporal-weight": settings.temporal_weight or None,  # off: as before it existed
        "--widths": ",".join(map(str, settings.widths)),
        "--residual-blocks": settings.residual_blocks,
        "--demo-images": None if settings.data else settings.demo_images,
        "--epochs": train.epochs,
        "--batch-size": train.batch_size,
        "--lr": train.lr,
        "--seed": train.seed,
        "--threads": train.threads,  # float reductions depend on it
        "--precision": train.precision,
    }
    words = [w for k, v in opts.items() if v is not None for w in (k, str(v))]
    return shlex.join(["python", "-m", "style_transfer", "train", *words])
