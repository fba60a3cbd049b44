"""What one stylize asks for, and which method carries it out.

    from style_transfer.request import StylizeRequest, run_stylize
    run_stylize(StylizeRequest(style="wave", content="me.jpg", out=Path("me_wave.png")))
    run_stylize(StylizeRequest(method="gatys", size=256, options={"iters": 50}))

``method="auto"`` takes the style's trained feed-forward (Johnson) model when it has one (the
user's trained styles first, then the shipped models), else optimises the image (Gatys). A style
image given with the style (``style_images``) is always used, so it means Gatys: a trained model
belongs to its own style image, and ``method="johnson"`` with a style image is refused.
``options`` are the method's own settings by name: for Gatys any :class:`GatysConfig` field and
the loss network's ``backbone``, ``pretrained`` and ``pooling``; the Johnson pass has none. An
option the chosen method does not take is a one-line :class:`UserError`, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from shared.device import DEFAULT_DEVICE
from shared.errors import UserError
from shared.precision import DEFAULT_PRECISION
from style_transfer.gatys.config import GatysConfig
from style_transfer.images import DEFAULT_CONTENT
from style_transfer.loss_network import LossNetworkConfig
from style_transfer.styles import BUNDLED, Style, pick_styles

METHOD_CHOICES = ("auto", "gatys", "johnson")
BACKEND_CHOICES = ("torch", "onnxruntime")  # what runs Johnson's network
NETWORK_OPTIONS = tuple(f.name for f in fields(LossNetworkConfig))
GATYS_OPTIONS = (*(f.name for f in fields(GatysConfig)), *NETWORK_OPTIONS)


@dataclass
class StylizeRequest:
    """One stylize: the photo(s), the style, the method, where the results go.

    ``content``: a sample photo name, an image path, a folder, a glob, or several joined by
    commas (several photos: Johnson only). ``size``: Gatys's result size (its longer side; the
    default is :class:`GatysConfig`'s), or for Johnson a cap on the photo's longer side (default:
    the photo's own size). ``threads`` None: the idle cores. ``precision``: what Johnson's network,
    or Gatys's loss network, computes in (:mod:`shared.precision`; auto: bf16 where native and
    faster for the network; Gatys's image, Gram matrices and losses stay float32).
    """

    style: str = "starry"
    style_images: Sequence[Path] = ()
    style_weights: Sequence[float] | None = None
    content: str = DEFAULT_CONTENT
    out: Path | None = None
    method: str = "auto"
    size: int | None = None
    device: str = DEFAULT_DEVICE
    threads: int | None = None
    precision: str = DEFAULT_PRECISION
    backend: str = "torch"  # Johnson's network: PyTorch, or onnxruntime on the CPU in float32
    options: Mapping[str, Any] = field(default_factory=dict)


def choose_method(method: str, styles: list[Style]) -> str:
    """``auto`` -> Johnson when the (single) style has a trained model, else Gatys."""
    if method not in METHOD_CHOICES:
        raise UserError(f"method must be one of {', '.join(METHOD_CHOICES)}, not {method!r}")
    trained = len(styles) == 1 and styles[0].has_model
    if method == "auto":
        return "johnson" if trained else "gatys"
    if method == "johnson" and not trained:
        if len(styles) > 1:
            raise UserError("the johnson method stylises with one trained style, not a blend")
        if not styles[0].own_image:
            image = styles[0].image_path
            name = image.stem if styles[0].name in BUNDLED else styles[0].name
            raise UserError(
                f"the johnson method runs a trained model, which keeps its own style image, so "
                f"it cannot use {image}: choose method gatys (or auto), or train a model on it: "
                f"make train-style STYLE={name} STYLE_IMAGE={image} DATA=dir"
            )
        name = styles[0].name
        raise UserError(
            f"no trained model for style {name!r} ({styles[0].model_path}); "
            f"train one with: make train-style STYLE={name} DATA=dir"
        )
    return method


def plan(request: StylizeRequest) -> tuple[str, list[Style]]:
    """The method that will run and the styles it blends; refuses options it does not take."""
    unknown = sorted(set(request.options) - set(GATYS_OPTIONS))
    if unknown:
        raise UserError(
            f"unknown option(s) {', '.join(unknown)}; the methods' options are: "
            f"{', '.join(GATYS_OPTIONS)}"
        )
    styles = pick_styles(request.style, request.style_images)
    method = choose_method(request.method, styles)
    gatys_only = [*request.options, *(["style_weights"] if request.style_weights else [])]
    if method == "johnson" and gatys_only:
        one = len(gatys_only) == 1
        what = f"{', '.join(gatys_only)} {'is an option' if one else 'are options'}"
        why = "" if request.method == "johnson" else f" ({styles[0].name!r} has a trained model)"
        raise UserError(
            f"{what} of the gatys method, but the johnson method runs{why}: "
            f"choose method gatys to use {'it' if one else 'them'}"
        )
    check_backend(request, method)
    return method, styles


def check_backend(request: StylizeRequest, method: str) -> None:
    """onnxruntime runs Johnson's network only, on the CPU, in float32; it must be installed."""
    if request.backend not in BACKEND_CHOICES:
        raise UserError(
            f"backend must be one of {', '.join(BACKEND_CHOICES)}, not {request.backend!r}"
        )
    if request.backend == "torch":
        return
    if method != "johnson":
        raise UserError(
            "backend onnxruntime runs a trained network (the johnson method); the gatys method "
            "optimises the image with PyTorch: drop --backend onnxruntime"
        )
    if request.precision not in ("auto", "fp32"):
        raise UserError(f"backend onnxruntime runs in fp32, not {request.precision}")
    if request.device.lower() not in ("auto", "cpu"):
        raise UserError(f"backend onnxruntime runs on the CPU, not {request.device}")
    from style_transfer.johnson.onnx_runtime import require_onnxruntime

    require_onnxruntime()


def run_stylize(request: StylizeRequest) -> Path:
    """The stylize command: the result(s) and their sheet and record written; returns where."""
    method, styles = plan(request)
    if method == "johnson":
        from style_transfer.johnson.run import run_johnson  # Gatys runs never load Johnson's

        return run_johnson(request, styles[0])
    from style_transfer.gatys.run import run_gatys

    return run_gatys(request, styles)
