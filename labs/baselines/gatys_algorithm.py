"""Gatys et al.'s style transfer, the paper's algorithm with the common choices: the baseline.

    from labs.baselines.gatys_algorithm import GatysSettings, gatys_transfer
    image, trace = gatys_transfer(vgg.features, photo, painting, GatysSettings(iterations=300))
    trace.losses[0], trace.losses[-1]         # total loss at the first and the last evaluation

The algorithm of Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural Networks"
(CVPR 2016): an image is optimised with L-BFGS so that its VGG-19 responses at conv4_2 match the
photo's (the content loss) and the Gram matrices of its responses at conv1_1, conv2_1, conv3_1,
conv4_1 and conv5_1 match the painting's (the style loss, the five layers weighted equally); the
objective is alpha * content loss + beta * style loss. The responses are taken after each
layer's ReLU (relu4_2; relu1_1 ... relu5_1).

What the paper leaves to an implementation, chosen here as most implementations choose it:
- torchvision's VGG-19 ``features`` as given: max pooling and the weights as trained (the paper
  swaps in average pooling and rescales the weights to unit mean activation), fed the [0, 1]
  image normalised by the ImageNet mean and standard deviation.
- The image starts from the content photo (the paper's figures start from white noise).
- The Gram matrix is normalised by the size of the feature map, C*H*W (the project's one
  definition, :func:`style_transfer.losses.gram_matrix`); both distances are mean squared errors
  (the paper's 1/2 and 1/(4 N^2 M^2) factors differ from these by constants per layer).
- alpha = 1 and beta = 1e6, the style loss being the sum over the five layers.
- The loss network is frozen (eval mode, no weight requires grad): only the image is optimised.
  The targets are computed once, without gradients. The network runs up to the deepest layer
  used (relu5_1); what follows could not change the loss.
- ``torch.optim.LBFGS`` with its defaults (learning rate 1, 20 iterations per step, history 100,
  no line search), one iteration being one loss and gradient evaluation. The image is clamped
  to [0, 1] between steps, never inside the closure.

"Plain": NCHW float32 tensors, the layers run one after the other and every loss recomputed from
their outputs at each evaluation; no channels_last layout, no per-layer normalisation of the
losses, no restarts, no correction of L-BFGS's memory after a clamp.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from shared import backbones
from style_transfer.loss_network import vgg_layer_names
from style_transfer.losses import gram_matrix

PAPER_CONTENT_LAYER = "relu4_2"
PAPER_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class GatysSettings:
    """The objective's layers and weights, and the optimisation's length."""

    content_layer: str = PAPER_CONTENT_LAYER
    style_layers: tuple[str, ...] = PAPER_STYLE_LAYERS
    content_weight: float = 1.0
    style_weight: float = 1e6
    iterations: int = 300  # loss and gradient evaluations in all
    step_iterations: int = 20  # per L-BFGS step, between two clamps


@dataclass
class Trace:
    """The total loss at each evaluation, and ``time.perf_counter()`` when each one ended."""

    losses: list[float] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)


class VGGResponses(nn.Module):
    """A frozen copy of a VGG ``features`` stack up to its deepest wanted layer; ``forward``
    returns the responses at ``layers`` (``relu4_2``-style names) of a [0, 1] image batch."""

    def __init__(self, features: nn.Sequential, layers: Sequence[str]) -> None:
        super().__init__()
        names = vgg_layer_names(features)
        last = max(names.index(name) for name in layers)
        self.names, self.wanted = names[: last + 1], set(layers)
        self.layers = copy.deepcopy(features[: last + 1]).eval().requires_grad_(False)
        for layer in self.layers:
            if isinstance(layer, nn.ReLU):
                layer.inplace = False  # a kept response must not be overwritten by the next layer
        spec = backbones.get_spec("vgg19")
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (image - self.mean) / self.std
        responses = {}
        for name, layer in zip(self.names, self.layers, strict=True):
            x = layer(x)
            if name in self.wanted:
                responses[name] = x
        return responses


def gatys_transfer(
    features: nn.Sequential,
    content: torch.Tensor,
    style: torch.Tensor,
    settings: GatysSettings = GatysSettings(),
) -> tuple[torch.Tensor, Trace]:
    """Stylise ``content`` (3, H, W) in [0, 1] with ``style`` (3, h, w) through the VGG layers
    ``features`` (left unchanged); returns the image (3, H, W) and the trace of the run."""
    net = VGGResponses(features, [settings.content_layer, *settings.style_layers]).to(content)
    with torch.no_grad():
        content_target = net(content[None])[settings.content_layer]
        style_targets = {
            name: gram_matrix(response)
            for name, response in net(style[None]).items()
            if name in settings.style_layers
        }
    image = content[None].clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image], max_iter=settings.step_iterations)
    trace = Trace()

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        responses = net(image)
        content_loss = F.mse_loss(responses[settings.content_layer], content_target)
        style_loss = sum(
            F.mse_loss(gram_matrix(responses[name]), target)
            for name, target in style_targets.items()
        )
        loss = settings.content_weight * content_loss + settings.style_weight * style_loss
        loss.backward()
        trace.losses.append(loss.item())
        trace.stamps.append(time.perf_counter())
        return loss

    while len(trace.losses) < settings.iterations:
        # The last step is shortened, so that a run makes exactly `iterations` evaluations.
        left = settings.iterations - len(trace.losses)
        optimizer.param_groups[0]["max_iter"] = min(settings.step_iterations, left)
        optimizer.step(closure)
        with torch.no_grad():
            image.clamp_(0, 1)
    return image.detach()[0], trace
