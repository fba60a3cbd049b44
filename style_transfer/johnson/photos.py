"""Photos to train a feed-forward style network on: a folder of images, or a demo set.

    from shared.image_files import list_images
    from style_transfer.johnson.photos import PhotoFolder, DemoPhotos
    data = PhotoFolder(list_images("~/coco/train2017", recursive=True), size=256)  # (3, 256, 256)
    data = DemoPhotos(n=2000, size=256)                 # crops of sample photos, no download

A folder's photos (searched recursively, in sorted order) are resized so the shorter side is
``size`` and centre-cropped to a square, as in Johnson et al. The order they are trained in is
the engine's: shuffled, differently every epoch (pytorch/examples' loader never shuffles).

The demo set is made on the fly from scikit-image's photos (astronaut, coffee, chelsea, rocket, a
motorcycle, the Hubble deep field, and grey textures and scenes): item ``i`` is a random square
crop (a third of the photo to all of it) and flip drawn from a generator seeded with
``(seed, i)``, so it is the same item in every process and every epoch, whatever the order.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import v2

from shared.errors import UserError
from style_transfer.images import UnreadableImage, open_photo, skimage_photo


def square_transform(size: int) -> v2.Compose:
    """PIL image -> (3, size, size) float in [0, 1]: shorter side to ``size``, centre crop."""
    return v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(size, antialias=True),
            v2.CenterCrop(size),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )


class PhotoFolder(Dataset):
    """Image files as square training crops. An unreadable file is replaced by the next one
    (with a warning): one bad JPEG should not end hours of training."""

    def __init__(self, paths: list[Path], size: int) -> None:
        if not paths:
            raise UserError("no training images")
        self.paths, self.size = list(paths), size
        self.transform = square_transform(size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        tries = min(len(self.paths), 16)
        for k in range(tries):
            path = self.paths[(index + k) % len(self.paths)]
            try:
                return self.transform(self._open(path))
            except UnreadableImage as exc:
                warnings.warn(f"skipping unreadable image {path}: {exc.reason}", stacklevel=2)
        raise UserError(f"{tries} unreadable images in a row from {self.paths[index]}: check DATA")

    def _open(self, path: Path) -> Image.Image:
        # a JPEG decodes at the smallest DCT scale that still covers the crop: a COCO photo
        # then costs a fraction of a full decode
        return open_photo(path, draft=(self.size, self.size))


DEMO_SOURCES = (
    "astronaut", "coffee", "chelsea", "rocket", "motorcycle", "hubble_deep_field",
    "camera", "brick", "grass", "gravel",
)  # fmt: skip


@functools.cache
def demo_photo(name: str) -> torch.Tensor:
    """A source photo as (3, H, W) uint8, decoded once per process."""
    return torch.from_numpy(skimage_photo(name)).permute(2, 0, 1).contiguous()


class DemoPhotos(Dataset):
    """``n`` square crops of scikit-image's photos, each fixed by ``(seed, index)``."""

    MIN_CROP = 1 / 3  # of the photo's shorter side

    def __init__(self, n: int, size: int, seed: int = 0) -> None:
        if n < 1:
            raise UserError(f"the demo set needs at least 1 image, not {n}")
        self.n, self.size, self.seed = n, size, seed
        self.names = list(DEMO_SOURCES)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < self.n:
            raise IndexError(index)
        # Its own generator, seeded by the index: the item does not depend on the order or the
        # process it is loaded in, and loading it leaves the global generators alone.
        rng = np.random.default_rng([self.seed, index])
        photo = demo_photo(self.names[index % len(self.names)])
        h, w = photo.shape[-2:]
        side = int(min(h, w) * rng.uniform(self.MIN_CROP, 1.0))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = photo[:, top : top + side, left : left + side]
        if rng.random() < 0.5:
            crop = crop.flip(-1)
        crop = v2.functional.resize(crop, [self.size, self.size], antialias=True)
        return crop.float() / 255
