"""What an arbitrary-style decoder trains on: photos, each paired with a painting.

    from style_transfer.arbitrary.data import StylePairs, training_pairs
    pairs = training_pairs(settings)             # (photo, painting), both (3, size, size)

Photos come from a folder (searched recursively) or the demo set of crops of sample photos
(:mod:`style_transfer.johnson.photos`); paintings from a folder, or the generated corpus
(:mod:`style_transfer.styles.painters.corpus`). Item ``i`` pairs photo ``i`` with a painting
drawn by a generator seeded with ``(seed, i)``: the same pair in every process, every epoch and
after a resume, whatever the order the engine visits them in.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from shared.image_files import list_images
from style_transfer.arbitrary.recipe import ArbitrarySettings
from style_transfer.johnson.photos import DemoPhotos, PhotoFolder
from style_transfer.styles.painters.corpus import GeneratedStyles


class StylePairs(Dataset):
    def __init__(self, photos: Dataset, paintings: Dataset, seed: int = 0) -> None:
        self.photos, self.paintings, self.seed = photos, paintings, seed

    def __len__(self) -> int:
        return len(self.photos)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        painting = self.paintings[int(rng.integers(len(self.paintings)))]  # type: ignore[arg-type]
        return self.photos[index], painting


def training_photos(settings: ArbitrarySettings) -> Dataset:
    if settings.photos is None:
        return DemoPhotos(settings.demo_images, settings.image_size)
    return PhotoFolder(list_images(settings.photos, recursive=True), settings.image_size)


def training_paintings(settings: ArbitrarySettings) -> Dataset:
    if settings.styles is None:
        return GeneratedStyles(settings.generated_styles, settings.image_size)
    return PhotoFolder(list_images(settings.styles, recursive=True), settings.image_size)


def training_pairs(settings: ArbitrarySettings, seed: int = 0) -> StylePairs:
    return StylePairs(training_photos(settings), training_paintings(settings), seed)
