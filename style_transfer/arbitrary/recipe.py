"""What an arbitrary-style decoder is trained on and for: the one place its defaults are written.

    from style_transfer.arbitrary.recipe import ArbitrarySettings, ArbitraryTraining
    ArbitrarySettings(photos="~/coco/train2017", styles="~/wikiart")   # the paper's corpora
    ArbitrarySettings()            # the demo photos and the generated style corpus, offline

Huang & Belongie train 160k iterations of batch 8 on COCO and WikiArt at 256 px crops, Adam 1e-4,
style weight 10 on VGG's raw features. Here each loss is divided by its target's mean square (so
one weight suits every encoder), and a share of each batch is given its own photo as the style:
AdaIN then changes nothing, and the decoder is also taught to give back the photo, which is what
``alpha`` 0 asks of it.
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

MIN_IMAGE_SIZE = 64  # px: the encoder's deepest style layer (1/16) keeps a 4x4 map


@dataclass
class ArbitrarySettings:
    """Stored in config.json under "arbitrary"."""

    photos: str | None = None  # a folder of photos; None: the demo set
    styles: str | None = None  # a folder of paintings; None: the generated corpus
    image_size: int = 256
    encoder: str = "auto"  # resolved before training: vgg19 | efficientnet_lite0
    widths: tuple[int, ...] = (128, 64, 32, 16)
    style_weight: float = 2.0
    own_style_share: float = 0.125  # of each batch: the photo is its own style (alpha 0)
    reconstruction_weight: float = 1.0  # pixel loss on those
    photo_weight: float = 0.0  # the photo's own deep features (EncoderSpec.photo_layer)
    demo_images: int = 4000
    generated_styles: int = 600
    out: str | None = None  # decoder file; None: the user's decoder (style_transfer.arbitrary)
    n_photos: int = 0  # filled in: a resumed run checks the folders still hold as many
    n_styles: int = 0

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        if len(self.widths) != 4 or min(self.widths) < 1:
            raise UserError(f"widths must be four positive channel counts, not {self.widths}")
        if self.image_size < MIN_IMAGE_SIZE or self.image_size % 8:
            raise UserError(
                f"image_size must be a multiple of 8, at least {MIN_IMAGE_SIZE}, "
                f"not {self.image_size}"
            )
        for name in ("demo_images", "generated_styles"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("style_weight", "reconstruction_weight", "photo_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise UserError(f"{name} must be a finite number >= 0, not {value}")
        if not 0 <= self.own_style_share < 1:
            raise UserError(f"own_style_share must be in [0, 1), not {self.own_style_share}")
        for name in ("photos", "styles"):  # absolute: the run must resume from anywhere
            if getattr(self, name) is not None:
                setattr(self, name, str(Path(getattr(self, name)).expanduser().resolve()))
        if self.out is not None:
            if Path(self.out).suffix != ".safetensors":
                raise UserError(f"out must name a .safetensors file, not {self.out}")
            self.out = str(Path(self.out).expanduser().resolve())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArbitrarySettings:
        return cls(**d)


@dataclass
class ArbitraryTraining:
    """The engine settings: one pass over the pairs, batch 8, Adam."""

    epochs: int = 1
    batch_size: int = 8
    lr: float = 5e-4
    # fp32 unless asked: the engine's auto check times the model on a training item, and the
    # decoder's input is the encoder's features, not the (photo, painting) pair it is given
    precision: str = "fp32"
    checkpoint_every: int = 100
    workers: int = 0
    seed: int = 0

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            num_workers=self.workers,
            optimizer="adam",
            lr=self.lr,
            precision=self.precision,
            checkpoint_every=self.checkpoint_every,
            monitor="train_loss",
            seed=self.seed,
            drop_last=True,
        )


@dataclass
class ArbitraryRequest:
    """One ``train-arbitrary`` command: a new run, or ``resume``."""

    settings: ArbitrarySettings = field(default_factory=ArbitrarySettings)
    training: ArbitraryTraining = field(default_factory=ArbitraryTraining)
    run: Path | None = None
    resume: Path | None = None
    epochs: int | None = None  # with resume: continue to this many epochs
    device: str = DEFAULT_DEVICE
    threads: int | None = None


def recipe_command(settings: ArbitrarySettings, train: TrainConfig) -> str:
    """The command that trains this decoder again, every setting spelled out."""
    opts = {
        "--photos": settings.photos,
        "--styles": settings.styles,
        "--image-size": settings.image_size,
        "--encoder": settings.encoder,
        "--widths": ",".join(map(str, settings.widths)),
        "--style-weight": settings.style_weight,
        "--own-style-share": settings.own_style_share,
        "--reconstruction-weight": settings.reconstruction_weight,
        "--photo-weight": settings.photo_weight,
        "--demo-images": None if settings.photos else settings.demo_images,
        "--generated-styles": None if settings.styles else settings.generated_styles,
        "--epochs": train.epochs,
        "--batch-size": train.batch_size,
        "--lr": train.lr,
        "--seed": train.seed,
        "--threads": train.threads,
        "--precision": train.precision,
    }
    words = [w for k, v in opts.items() if v is not None for w in (k, str(v))]
    return shlex.join(["python", "-m", "style_transfer", "train-arbitrary", *words])
