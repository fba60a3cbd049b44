"""Colour preservation (Gatys et al. 2017): transfer luminance only, keep the photo's colours.

    from style_transfer.color import luminance_images, recombine
    grey_content, grey_styles = luminance_images(content, styles)
    result = recombine(stylised_grey, content)       # its Y, the photo's Cb and Cr

YCbCr is ITU-R BT.601 full range (the JPEG one), on tensors in [0, 1].
"""

from __future__ import annotations

import torch

_TO_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)
_OFFSET = torch.tensor([0.0, 0.5, 0.5])


def rgb_to_ycbcr(image: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> Y, Cb, Cr channels (Cb, Cr centred on 0.5)."""
    m = _TO_YCBCR.to(image)
    out = torch.einsum("ij,...jhw->...ihw", m, image)
    return out + _OFFSET.to(image).view(3, 1, 1)


def ycbcr_to_rgb(image: torch.Tensor) -> torch.Tensor:
    m = torch.linalg.inv(_TO_YCBCR.double()).to(image)
    return torch.einsum("ij,...jhw->...ihw", m, image - _OFFSET.to(image).view(3, 1, 1))


def grey3(y: torch.Tensor) -> torch.Tensor:
    """A luminance channel (..., 1, H, W) as a three-channel grey image."""
    return y.expand(*y.shape[:-3], 3, *y.shape[-2:]).clamp(0, 1)


def luminance_images(
    content: torch.Tensor, styles: list[torch.Tensor]
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Grey versions of the photo and the styles, each style's luminance matched to the photo's
    mean and spread (so a dark painting does not darken the photo)."""
    cy = rgb_to_ycbcr(content)[..., :1, :, :]
    mean, std = cy.mean(), cy.std()
    out = []
    for style in styles:
        sy = rgb_to_ycbcr(style)[..., :1, :, :]
        out.append(grey3((sy - sy.mean()) / sy.std().clamp_min(1e-6) * std + mean))
    return grey3(cy), out


def recombine(stylised: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylised image's luminance with the photo's chrominance (same size), back to RGB."""
    y = rgb_to_ycbcr(stylised)[..., :1, :, :]
    cbcr = rgb_to_ycbcr(content)[..., 1:, :, :]
    return ycbcr_to_rgb(torch.cat([y, cbcr], dim=-3)).clamp(0, 1)
