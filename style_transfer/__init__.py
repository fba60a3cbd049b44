"""Neural style transfer: Gatys optimisation, Johnson feed-forward networks, and one network for
any painting (AdaIN).

    import style_transfer
    picture = style_transfer.stylize("me.jpg", style="wave")        # a PIL image, the photo's size
    array = style_transfer.stylize(photo_array, style="starry", method="gatys", iters=50)
    style_transfer.stylize("me.jpg", style="mosaic", out="me_mosaic.png")   # written: its Path
    style_transfer.stylize("me.jpg", method="arbitrary", style_image="painting.jpg", alpha=0.8)

The commands (``python -m style_transfer --help``) drive the same library; its rooms:
``gatys/`` (optimisation), ``johnson/`` (the feed-forward network, its training, inference at any
size), ``arbitrary/`` (the AdaIN encoder-decoder, its training, its shipped decoder), ``video/``,
``styles/`` (the registry, bundled images and models, their painters), and at the top the
pieces every method shares: ``images``, ``loss_network``, ``losses``, ``color``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

__all__ = ["stylize"]


def stylize(
    image: str | Path | Image.Image | np.ndarray,
    style: str = "starry",
    method: str = "auto",
    **options: Any,
) -> Image.Image | np.ndarray | Path:
    """Stylise one photo; the result is the kind of thing given, at the photo's size.

    ``image``: an image path or a PIL image (either read with its EXIF orientation applied; a
    PIL image is returned), or an HxWx3 uint8 RGB array (an array is returned).
    ``style``: a bundled style (``starry``, ``wave``, ``mosaic``), one trained with ``make
    train-style``, names joined by commas to blend (Gatys), or any name with ``style_image=``.
    ``method``: ``auto`` (Johnson when the style has a trained model and no Gatys option is set
    away from its default, else Gatys), ``gatys``, ``johnson`` or ``arbitrary`` (one network for
    any style image: ``alpha`` 0..1 trades the photo for the style, ``style_weights`` blends
    several style images, ``decoder`` a file from ``make train-arbitrary``).

    Options: ``style_image`` (a path, or a list of paths to blend; always used, so it means
    Gatys: a trained model keeps its own image); for either method ``size`` (the longer side
    the method works at: by default Gatys's one scale, Johnson the photo's own size; the result
    is brought back to the photo's size), ``device`` (auto, cuda, mps, cpu), ``threads``
    (default: the idle cores), ``precision`` (auto, fp32, bf16, fp16: what the network computes
    in), ``preserve_color`` (keep the photo's colours, the style's luminance only), ``out``
    (write the result there and return its Path). For Gatys only: ``iters``, ``seed``,
    ``style_weights``,
    ``scales``, ``optimizer``, ``lr``, ``loss``, ``init``, ``content_weight``, ``style_weight``,
    ``tv_weight``, ``style_scale``, ``normalize``, ``content_layers``, ``style_layers`` (the
    fields of :class:`~style_transfer.gatys.config.GatysConfig`), and the loss network's
    ``backbone``, ``pretrained`` and ``pooling``. An unknown option, or one the chosen method does
    not take, is a :class:`~shared.errors.UserError`.
    """
    from style_transfer.api import stylize_one  # the library loads on first use

    return stylize_one(image, style, method, options)
