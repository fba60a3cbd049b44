"""Tiny model, in-memory data with random augmentation, and a training script, for engine tests.

    python tests/shared/tiny_training.py RUN_DIR [--resume] [--workers N] [--hang-at STEP]

``--hang-at STEP`` writes ``RUN_DIR/hanging`` after optimiser step STEP and then sleeps, so a
test can SIGKILL the process at a known point mid-epoch.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

if __name__ == "__main__":  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared.engine import Callback, TrainConfig, Trainer


class Interrupt(Exception):
    """Raised by :class:`InterruptAt`: the run stops there, as if killed after that step."""


class InterruptAt(Callback):
    """Stops a run after optimiser step ``step``; its last checkpoint is what a kill would leave."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer, step, logs) -> None:
        if step == self.step:
            raise Interrupt


class TinyNet(nn.Module):
    """Conv + BatchNorm + dropout: buffers, and randomness inside the training step."""

    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(8, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def random_crop_flip(image: torch.Tensor, size: int = 12) -> torch.Tensor:
    """A random crop and flip drawn from torch's global generator, as torchvision v2 does.

    Written with torch alone because importing torchvision costs seconds in each subprocess.
    """
    top, left = torch.randint(0, image.shape[1] - size + 1, (2,)).tolist()
    image = image[:, top : top + size, left : left + size]
    return image.flip(-1) if torch.rand(()) < 0.5 else image


class TinyImages(Dataset):
    """Random 16x16 images whose label is the brightest channel; augmented with all three RNGs."""

    def __init__(self, n: int = 40, seed: int = 0, augment: bool = True, transform=None) -> None:
        g = torch.Generator().manual_seed(seed)
        self.images = torch.rand(n, 3, 16, 16, generator=g)
        self.labels = self.images.mean(dim=(2, 3)).argmax(1)
        self.augment = augment
        self.transform = transform or random_crop_flip

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[i]
        if self.augment:
            image = self.transform(image)  # torch's global generator
            image = image * random.uniform(0.9, 1.1)  # Python's
            image = image + torch.from_numpy(np.random.normal(0, 0.01, image.shape)).float()
        else:
            image = image[:, 2:14, 2:14]
        return image, self.labels[i]


def tiny_config(**overrides) -> TrainConfig:
    base = dict(
        epochs=3, batch_size=8, optimizer="sgd", lr=0.1, momentum=0.9, scheduler="step",
        step_size=1, gamma=0.5, checkpoint_every=2, plots=False, seed=7, precision="fp32",
    )  # fmt: skip
    return TrainConfig(**{**base, **overrides})


def make_trainer(
    run_dir: Path | str, *, workers: int = 0, callbacks=(), transform=None, **overrides
) -> Trainer:
    torch.manual_seed(0)
    model = TinyNet()
    return Trainer(
        model, TinyImages(40, seed=1, transform=transform), TinyImages(12, seed=2, augment=False),
        config=tiny_config(num_workers=workers, **overrides), run_dir=run_dir, device="cpu",
        callbacks=callbacks, verbose=False,
    )  # fmt: skip


class HangAt(Callback):
    """Signal the test and stall after a given optimiser step."""

    def __init__(self, step: int, marker: Path) -> None:
        self.step, self.marker = step, marker

    def on_step_end(self, trainer, step, logs) -> None:
        if step == self.step:
            self.marker.write_text(str(step))
            time.sleep(600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--hang-at", type=int)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    callbacks = [HangAt(args.hang_at, args.run_dir / "hanging")] if args.hang_at else []
    make_trainer(args.run_dir, workers=args.workers, callbacks=callbacks).fit(resume=args.resume)


if __name__ == "__main__":
    main()
