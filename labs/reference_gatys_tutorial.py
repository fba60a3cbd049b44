"""Reference: Gatys transfer written the way the official PyTorch neural-style tutorial does it.

    python -m labs.reference_gatys_tutorial      # a 128 px smoke run with random VGG19 weights

Kept as the tutorial has it, for ``labs/bench_gatys.py`` to time against: ContentLoss and
StyleLoss modules inserted after the chosen layers of an ``nn.Sequential`` that starts with a
Normalization module; the sequence is cut after the last loss module; ReLUs replaced by
out-of-place ones; LBFGS (default settings, 20 iterations per ``step``) on the input image, which is
clamped inside the closure; the VGG weights are left requiring grad, as in the stored version of
the tutorial (later versions add ``model.requires_grad_(False)``). Layer
names are the tutorial's (``conv_4``, ``relu_10``: numbered by convolution), so the paper's
``relu4_2`` is ``relu_10``.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn, optim

CONTENT_LAYERS_DEFAULT = ["conv_4"]
STYLE_LAYERS_DEFAULT = ["conv_1", "conv_2", "conv_3", "conv_4", "conv_5"]
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class ContentLoss(nn.Module):
    def __init__(self, target):
        super().__init__()
        self.target = target.detach()

    def forward(self, input):
        self.loss = F.mse_loss(input, self.target)
        return input


def gram_matrix(input):
    a, b, c, d = input.size()
    features = input.view(a * b, c * d)
    G = torch.mm(features, features.t())
    return G.div(a * b * c * d)


class StyleLoss(nn.Module):
    def __init__(self, target_feature):
        super().__init__()
        self.target = gram_matrix(target_feature).detach()

    def forward(self, input):
        G = gram_matrix(input)
        self.loss = F.mse_loss(G, self.target)
        return input


class Normalization(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def forward(self, img):
        return (img - self.mean) / self.std


def get_style_model_and_losses(
    cnn,
    normalization_mean,
    normalization_std,
    style_img,
    content_img,
    content_layers=CONTENT_LAYERS_DEFAULT,
    style_layers=STYLE_LAYERS_DEFAULT,
):
    normalization = Normalization(normalization_mean, normalization_std)
    content_losses = []
    style_losses = []
    model = nn.Sequential(normalization)
    i = 0
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = f"conv_{i}"
        elif isinstance(layer, nn.ReLU):
            name = f"relu_{i}"
            layer = nn.ReLU(inplace=False)
        elif isinstance(layer, nn.MaxPool2d):
            name = f"pool_{i}"
        elif isinstance(layer, nn.BatchNorm2d):
            name = f"bn_{i}"
        else:
            raise RuntimeError(f"Unrecognized layer: {layer.__class__.__name__}")
        model.add_module(name, layer)
        if name in content_layers:
            target = model(content_img).detach()
            content_loss = ContentLoss(target)
            model.add_module(f"content_loss_{i}", content_loss)
            content_losses.append(content_loss)
        if name in style_layers:
            target_feature = model(style_img).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module(f"style_loss_{i}", style_loss)
            style_losses.append(style_loss)
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], (ContentLoss, StyleLoss)):
            break
    model = model[: (i + 1)]
    return model, style_losses, content_losses


def get_input_optimizer(input_img):
    optimizer = optim.LBFGS([input_img])
    return optimizer


def run_style_transfer(
    cnn,
    normalization_mean,
    normalization_std,
    content_img,
    style_img,
    input_img,
    num_steps=300,
    style_weight=1000000,
    content_weight=1,
    content_layers=CONTENT_LAYERS_DEFAULT,
    style_layers=STYLE_LAYERS_DEFAULT,
    log=None,
):
    """The tutorial's loop; ``log`` (a list) receives (seconds, loss) after every evaluation."""
    model, style_losses, content_losses = get_style_model_and_losses(
        cnn,
        normalization_mean,
        normalization_std,
        style_img,
        content_img,
        content_layers,
        style_layers,
    )
    input_img.requires_grad_(True)
    model.eval()
    optimizer = get_input_optimizer(input_img)
    start = time.perf_counter()
    run = [0]
    while run[0] <= num_steps:

        def closure():
            with torch.no_grad():
                input_img.clamp_(0, 1)
            optimizer.zero_grad()
            model(input_img)
            style_score = 0
            content_score = 0
            for sl in style_losses:
                style_score += sl.loss
            for cl in content_losses:
                content_score += cl.loss
            style_score *= style_weight
            content_score *= content_weight
            loss = style_score + content_score
            loss.backward()
            run[0] += 1
            if log is not None:
                log.append((time.perf_counter() - start, loss.item()))
            return style_score + content_score

        optimizer.step(closure)
    with torch.no_grad():
        input_img.clamp_(0, 1)
    return input_img


def main() -> None:
    import torchvision

    torch.manual_seed(0)
    cnn = torchvision.models.vgg19(weights=None).features.eval()
    content = torch.rand(1, 3, 128, 128)
    style = torch.rand(1, 3, 128, 128)
    log: list[tuple[float, float]] = []
    run_style_transfer(
        cnn, IMAGENET_MEAN, IMAGENET_STD, content, style, content.clone(), num_steps=20, log=log
    )
    print(
        f"{len(log)} evaluations, {log[-1][0] / len(log):.3f} s each, loss {log[0][1]:.4g} "
        f"-> {log[-1][1]:.4g}"
    )


if __name__ == "__main__":
    main()
