"""Training augmentation and evaluation transforms for cached fundus crops (torchvision v2).

    from retinopathy.data.augment import train_transform, eval_transform
    tf = train_transform(512, mean, std)     # uint8 CxHxW tensor -> float CxHxW, normalised
    x = tf(torch.from_numpy(rgb).permute(2, 0, 1))

Training: horizontal and vertical flips, rotation by any angle (a fundus has no "up"), a random
resized crop, brightness/contrast jitter; evaluation: only resizing (if needed) and
normalisation. Both end with :class:`ToNormalizedFloat` (``ToDtype(float32, scale=True)``
then ``Normalize``, fused).

The flips, the rotation and the crop are one v2 transform, :class:`RandomFundusGeometry`, that
composes them into a single affine matrix and warps the uint8 pixels once with OpenCV:
torchvision's tensor rotation goes through a float ``grid_sample`` (about 25 ms for a 512 px
photo on one core, more than the rest of the loading put together).
:class:`RandomBrightnessContrast`
applies torchvision's brightness and contrast formulas as 256-entry lookup tables. Both draw
their parameters from torch's global RNG, so seeding torch per item reproduces an epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2


def _uniform(low: float, high: float) -> float:
    return float(torch.empty(1).uniform_(low, high))


def _as_hwc(image: torch.Tensor) -> np.ndarray:
    """CxHxW uint8 tensor -> contiguous HxWx3 numpy view (a copy only if the layout needs it)."""
    if image.dtype != torch.uint8 or image.ndim != 3:
        raise TypeError(
            f"expected a CxHxW uint8 image tensor, got {image.dtype} {tuple(image.shape)}"
        )
    return np.ascontiguousarray(image.permute(1, 2, 0).numpy())


def _from_hwc(array: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    out = torch.from_numpy(array).permute(2, 0, 1)
    return tv_tensors.wrap(out, like=like) if isinstance(like, tv_tensors.Image) else out


class RandomFundusGeometry(v2.Transform):
    """Random flips, rotation and resized crop as one affine warp, output ``size`` x ``size``.

    The crop covers ``scale`` of the image area with aspect ratio in ``ratio`` (as
    ``v2.RandomResizedCrop``); the rotation angle is uniform in ``[-degrees/2, degrees/2]``;
    pixels coming from outside the photo are black, like the fundus border.
    """

    _transformed_types = (torch.Tensor,)

    def __init__(
        self,
        size: int,
        *,
        scale: tuple[float, float] = (0.85, 1.0),
        ratio: tuple[float, float] = (0.9, 1.1),
        degrees: float = 360.0,
        hflip: float = 0.5,
        vflip: float = 0.5,
    ) -> None:
        super().__init__()
        self.size = size
        self.scale, self.ratio, self.degrees = scale, ratio, degrees
        self.hflip, self.vflip = hflip, vflip

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = flat_inputs[0].shape[-2:]
        area = _uniform(*self.scale) * height * width
        aspect = math.exp(_uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
        crop_w = min(width, math.sqrt(area * aspect))
        crop_h = min(height, math.sqrt(area / aspect))
        cx = _uniform(crop_w / 2, width - crop_w / 2) if crop_w < width else width / 2
        cy = _uniform(crop_h / 2, height - crop_h / 2) if crop_h < height else height / 2
        return {
            "centre": (cx, cy),
            "zoom": (self.size / crop_w, self.size / crop_h),
            "angle": _uniform(-self.degrees / 2, self.degrees / 2),
            "flip": (
                float(torch.rand(1)) < self.hflip,
                float(torch.rand(1)) < self.vflip,
            ),
        }

    def matrix(self, params: dict[str, Any]) -> np.ndarray:
        """2x3 source -> output map: centre the crop, zoom, rotate, flip, move to the output."""
        (cx, cy), (zx, zy) = params["centre"], params["zoom"]
        a = math.radians(params["angle"])
        fx = -1.0 if params["flip"][0] else 1.0
        fy = -1.0 if params["flip"][1] else 1.0
        # Crop centre and output centre in OpenCV's convention: pixel k's centre is at k.
        half = self.size / 2 - 0.5
        cx, cy = cx - 0.5, cy - 0.5
        to_origin = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
        zoom = np.diag([zx, zy, 1.0])
        rotate = np.array(
            [[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]]
        )
        flip = np.diag([fx, fy, 1.0])
        to_output = np.array([[1, 0, half], [0, 1, half], [0, 0, 1]])
        return (to_output @ flip @ rotate @ zoom @ to_origin)[:2]

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        warped = cv2.warpAffine(
            _as_hwc(inpt),
            self.matrix(params),
            (self.size, self.size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        return _from_hwc(warped, inpt)


class RandomBrightnessContrast(v2.Transform):
    """``v2.ColorJitter(brightness, contrast)`` on uint8 pixels through lookup tables.

    Brightness scales the pixels, then contrast blends them with the mean grey of the image,
    with torchvision's formulas; the order of the two is fixed here rather than random.
    """

    _transformed_types = (torch.Tensor,)

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2) -> None:
        super().__init__()
        self.brightness, self.contrast = brightness, contrast

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        b, c = self.brightness, self.contrast
        return {"brightness": _uniform(1 - b, 1 + b), "contrast": _uniform(1 - c, 1 + c)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        hwc = _as_hwc(inpt)
        # uint8 results are truncated after each step, as torchvision's kernels do
        brighter = np.floor(np.clip(np.arange(256) * params["brightness"], 0, 255))
        hwc = cv2.LUT(hwc, brighter.astype(np.uint8))
        r, g, b = (float(m) for m in cv2.mean(hwc)[:3])
        grey_mean = 0.2989 * r + 0.587 * g + 0.114 * b  # torchvision's rgb_to_grayscale weights
        c = params["contrast"]
        lut = np.floor(np.clip(c * np.arange(256) + (1 - c) * grey_mean, 0, 255))
        return _from_hwc(cv2.LUT(hwc, lut.astype(np.uint8)), inpt)


class ToNormalizedFloat(v2.Transform):
    """uint8 CxHxW -> float32 ``(x / 255 - mean) / std``: ``ToDtype(scale=True)`` + ``Normalize``.

    One multiply-add on a contiguous tensor; the two v2 transforms in a row cost about ten
    times as much on a 512 px image on one core.
    """

    _transformed_types = (torch.Tensor,)

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        m = torch.tensor(list(mean), dtype=torch.float32).view(-1, 1, 1)
        s = torch.tensor(list(std), dtype=torch.float32).view(-1, 1, 1)
        self.scale, self.shift = 1 / (255 * s), -m / s

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        out = inpt.to(torch.float32, memory_format=torch.contiguous_format)
        out = out.mul_(self.scale).add_(self.shift)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.Image) else out


def _normalise(mean: Sequence[float], std: Sequence[float]) -> list[v2.Transform]:
    return [ToNormalizedFloat(mean, std)]


def train_transform(
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    scale: tuple[float, float] = (0.85, 1.0),
    degrees: float = 360.0,
    brightness: float = 0.2,
    contrast: float = 0.2,
) -> v2.Compose:
    """Random geometry and colour, then float and normalise."""
    return v2.Compose(
        [
            RandomFundusGeometry(size, scale=scale, degrees=degrees),
            RandomBrightnessContrast(brightness, contrast),
            *_normalise(mean, std),
        ]
    )


class _ResizeIfNeeded(v2.Transform):
    _transformed_types = (torch.Tensor,)

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if tuple(inpt.shape[-2:]) == (self.size, self.size):
            return inpt
        interp = cv2.INTER_AREA if inpt.shape[-1] > self.size else cv2.INTER_CUBIC
        out = cv2.resize(_as_hwc(inpt), (self.size, self.size), interpolation=interp)
        return _from_hwc(out, inpt)


def eval_transform(size: int, mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    """Resize to ``size`` if the cache holds another size, then float and normalise."""
    return v2.Compose([_ResizeIfNeeded(size), *_normalise(mean, std)])
