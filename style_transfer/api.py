"""The work behind :func:`style_transfer.stylize`: one photo in, stylised, the same kind out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from shared.device import pick_device
from shared.errors import UserError
from shared.threads import cpu_threads
from style_transfer.color import recombine
from style_transfer.images import (
    as_rgb,
    check_writable,
    open_photo,
    resize,
    shrink,
    to_tensor,
    to_uint8,
)
from style_transfer.images import write_image as write_image_file
from style_transfer.request import GATYS_OPTIONS, StylizeRequest, plan
from style_transfer.styles import Style

REQUEST_OPTIONS = (
    "style_weights",
    "size",
    "device",
    "threads",
    "precision",
    "preserve_color",
    "alpha",
    "decoder",
)  # StylizeRequest's own fields
OPTIONS = ("style_image", "out", *REQUEST_OPTIONS, *GATYS_OPTIONS)

PhotoLike = str | Path | Image.Image | np.ndarray


def stylize_one(image: PhotoLike, style: str, method: str, options: dict[str, Any]) -> Any:
    """See :func:`style_transfer.stylize`."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise UserError(
            f"stylize() got unknown option(s) {', '.join(unknown)}; "
            f"its options: {', '.join(OPTIONS)}"
        )
    options = dict(options)
    out = options.pop("out", None)
    request = StylizeRequest(
        style=style,
        method=method,
        style_images=_paths(options.pop("style_image", None)),
        **{k: options.pop(k) for k in REQUEST_OPTIONS if k in options},
        options=options,
    )
    chosen, styles = plan(request)
    if out is not None:
        check_writable(out)  # before the work, not after
    photo = as_photo(image)
    work = {"johnson": johnson_pass, "arbitrary": arbitrary_pass}.get(chosen, gatys_pass)
    with torch.random.fork_rng(devices=[]):  # the caller's random numbers stay as they were
        result = work(photo, request, styles)
    if out is not None:
        return write_image_file(result, out)
    if isinstance(image, np.ndarray):
        return result
    return Image.fromarray(result)


def _paths(style_image: str | Path | Sequence[str | Path] | None) -> tuple[Path, ...]:
    if style_image is None:
        return ()
    if isinstance(style_image, (str, Path)):
        return (Path(style_image),)
    return tuple(Path(p) for p in style_image)


def as_photo(image: PhotoLike) -> np.ndarray:
    """An image path or a PIL image (either with its EXIF orientation applied, as every reader
    does) or an HxWx3 uint8 array, as an HxWx3 uint8 RGB array."""
    if isinstance(image, (str, Path)):
        return np.asarray(open_photo(image))
    if isinstance(image, Image.Image):
        return np.asarray(as_rgb(image))
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise UserError(f"expected an HxWx3 uint8 array, got {image.dtype} {image.shape}")
        return np.ascontiguousarray(image)
    raise UserError(f"expected a path, a PIL image or an HxWx3 uint8 array, not {type(image)}")


def _at_size(result: torch.Tensor, photo: np.ndarray) -> np.ndarray:
    """The result at the photo's own size, as HxWx3 uint8."""
    return to_uint8(resize(result, tuple(photo.shape[:2])))


def johnson_pass(photo: np.ndarray, request: StylizeRequest, styles: list[Style]) -> np.ndarray:
    from style_transfer.johnson.infer import choose_precision, transform_images
    from style_transfer.johnson.model_file import load_model
    from style_transfer.johnson.net import to_inference

    device = pick_device(request.device)
    small = shrink(photo, request.size)
    same_size = small.shape == photo.shape
    with cpu_threads(request.threads):
        model, _ = load_model(styles[0].model_path, device)
        dtype = choose_precision(to_inference(model, device), request.precision, device)
        keep = request.preserve_color and same_size
        styled = transform_images(model.to(dtype), [small], preserve_color=keep)[0]
    if same_size:
        return styled
    result = resize(to_tensor(styled), tuple(photo.shape[:2]))
    if request.preserve_color:  # the photo's chroma at its own resolution, not the shrunk one's
        result = recombine(result, to_tensor(photo))
    return to_uint8(result)


def arbitrary_pass(photo: np.ndarray, request: StylizeRequest, styles: list[Style]) -> np.ndarray:
    from style_transfer.arbitrary.run import load_styled_network
    from style_transfer.johnson.infer import transform_images

    device = pick_device(request.device)
    small = shrink(photo, request.size)
    with cpu_threads(request.threads):
        net = load_styled_network(request, styles, device).net
        styled = transform_images(net, [small], preserve_color=request.preserve_color)[0]
    if small.shape == photo.shape:
        return styled
    result = resize(to_tensor(styled), tuple(photo.shape[:2]))
    if request.preserve_color:
        result = recombine(result, to_tensor(photo))
    return to_uint8(result)


def gatys_pass(photo: np.ndarray, request: StylizeRequest, styles: list[Style]) -> np.ndarray:
    from style_transfer.gatys.run import optimise_photo

    run = optimise_photo(request, styles, to_tensor(photo), verbose=False)
    return _at_size(run.result.image, photo)
