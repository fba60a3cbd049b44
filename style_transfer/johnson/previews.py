"""Training previews: a few training photos beside their stylised versions, every so many steps.

The sheet lands in the run folder as plots/preview-<step>.png, so a user watching a long run sees
the style arrive (or not) without stopping it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from shared.contact_sheet import save_image_grid
from shared.engine import Callback, Trainer

PREVIEW_PHOTOS = 2


class PreviewSheet(Callback):
    """Every ``every`` optimiser steps (and at the end) a sheet of a few training photos beside
    their stylised versions: plots/preview-<step>.png.

    The model runs as it is (no layout or mode change kept, no random numbers drawn), so
    previews never change what training computes.
    """

    def __init__(self, photos: torch.Tensor, every: int) -> None:
        self.photos, self.every = photos, every

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        if self.every and step % self.every == 0:
            self.write(trainer, step)

    def on_fit_end(self, trainer: Trainer, rows: list[dict[str, Any]]) -> None:
        self.write(trainer, trainer.step)

    def write(self, trainer: Trainer, step: int) -> Path | None:
        if not trainer.is_main:
            return None
        model = trainer.model
        was_training = model.training
        model.eval()
        with torch.no_grad():
            styled = model(self.photos.to(trainer.device)).float().cpu()
        model.train(was_training)
        images = [im for pair in zip(self.photos, styled, strict=True) for im in pair]
        titles = [t for _ in self.photos for t in ("photo", f"step {step}")]
        return save_image_grid(images, trainer.run.plot(f"preview-{step:06d}"), titles=titles)


def preview_photos(data: Dataset) -> torch.Tensor:
    """The same few training photos every time: the first and evenly spaced others.

    Each pick is nudged by its rank so that the demo set, which cycles through its source photos,
    shows different photos rather than the same one at evenly spaced indices."""
    n = len(data)  # type: ignore[arg-type]
    picks = sorted({min(n - 1, i * n // PREVIEW_PHOTOS + i) for i in range(PREVIEW_PHOTOS)})
    return torch.stack([data[i] for i in picks])
