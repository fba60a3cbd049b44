"""What one stylize asks for, and which method carries it out.

    from style_transfer.request import StylizeRequest, run_stylize
    run_stylize(StylizeRequest(style="wave", content="me.jpg", out=Path("me_wave.png")))
    run_stylize(StylizeRequest(method="gatys", size=256, options={"iters": 50}))

``method="auto"`` takes the style's trained feed-forward (Johnson) model when it has one (the
user's trained styles first, then the shipped models), else optimises the image (Gatys). A style
image given with the style (``style_images``) is always used, so it means Gatys: a trained model
belongs to its own style image, and ``method="johnson"`` with a style image is refused. So does
a Gatys-only option set away from its default (``iters=300``, ``scales``, ``optimizer``...):
``auto`` then runs Gatys and says which option chose it; ``method="johnson"`` refuses it.
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
from shared.distributed import is_main_process
from shared.errors import UserError
from shared.precision import DEFAULT_PRECISION
from style_transfer.gatys.config import GatysConfig
from style_transfer.images import DEFAULT_CONTENT
from style_transfer.loss_network import LossNetworkConfig
from style_transfer.styles import BUNDLED, Style, pick_styles

METHOD_CHOICES = ("auto", "gatys", "johnson", "arbitrary")
ARBITRARY_ONLY = ("alpha", "decoder")  # the request's fields only the arbitrary network takes
BACKEND_CHOICES = ("torch", "onnxruntime")  # what runs Johnson's network
NETWORK_OPTIONS = tuple(f.name for f in fields(LossNetworkConfig))
# GatysConfig's fields that every method takes, so they are the request's own, not options
EVERY_METHOD = ("preserve_color",)
GATYS_OPTIONS = (
    *(f.name for f in fields(GatysConfig) if f.name not in EVERY_METHOD),
    *NETWORK_OPTIONS,
)
# What each Gatys option is when not given (style_weights: equal weights); with auto, one set
# to anything else asks for Gatys.
GATYS_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in (*fields(GatysConfig), *fields(LossNetworkConfig))
}
GATYS_DEFAULTS["style_weights"] = None


@dataclass
class StylizeRequest:
    """One stylize: the photo(s), the style, the method, where the results go.

    ``content``: a sample photo name, an image path, a folder, a glob, or several joined by
    commas (several photos: Johnson only). ``size``: Gatys's result size (its longer side; the
    default is :class:`GatysConfig`'s), or for Johnson a cap on the photo's longer side (default:
    the photo's own size). ``threads`` None: the idle cores. ``precision``: what Johnson's network,
    or Gatys's loss network, computes in (:mod:`shared.precision`; auto: bf16 where native and
    faster for the network; Gatys's image, Gram matrices and losses stay float32).
    ``preserve_color``: the result keeps the photo's colours and takes the style's luminance
    only (:mod:`style_transfer.color`; Gatys also matches each style's luminance to the photo's).
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
    preserve_color: bool = False
    alpha: float | None = None  # arbitrary: 0 the photo's features .. 1 the style's (default)
    decoder: Path | None = None  # arbitrary: None, the user's trained decoder, else the shipped
    compile: bool = False  # the network (Johnson, arbitrary) through torch.compile first
    options: Mapping[str, Any] = field(default_factory=dict)


def choose_method(method: str, styles: list[Style]) -> str:
    """``auto`` -> Johnson when the (single) style has a trained model, else Gatys."""
    if method not in METHOD_CHOICES:
        raise UserError(f"method must be one of {', '.join(METHOD_CHOICES)}, not {method!r}")
    trained = len(styles) == 1 and styles[0].has_model
    if method == "arbitrary":
        return method
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
    """The method that will run and the styles it blends; refuses options it does not take.

    With ``auto``, a Gatys option set away from its default asks for Gatys: Gatys runs, though
    the style has a trained model, and one line says which option chose it.
    """
    unknown = sorted(set(request.options) - set(GATYS_OPTIONS))
    if unknown:
        raise UserError(
            f"unknown option(s) {', '.join(unknown)}; the methods' options are: "
            f"{', '.join(GATYS_OPTIONS)}"
        )
    styles = pick_styles(request.style, request.style_images)
    method = choose_method(request.method, styles)
    method = check_arbitrary(request, method)
    given = gatys_options_given(request)
    if method == "arbitrary":
        extra = [name for name in given if name != "style_weights"]
        if extra:
            raise UserError(
                f"{_flags(extra)}: option(s) of the gatys method; the arbitrary network takes "
                "--alpha, --style-weights, --preserve-color and --decoder"
            )
        check_backend(request, method)
        return method, styles
    if method == "johnson" and request.method == "auto":
        chosen = [name for name in given if not _is_default(name, given[name])]
        if chosen:
            method = "gatys"
            if is_main_process():
                print(f"{_flags(chosen)} given: Gatys (the style's Johnson model ignores "
                      f"{'it' if len(chosen) == 1 else 'them'})", flush=True)  # fmt: skip
    if method == "johnson" and given:
        one = len(given) == 1
        what = f"{_flags(given)} {'is an option' if one else 'are options'}"
        it = "it" if one else "them"
        why = "" if request.method == "johnson" else (
            f" ({styles[0].name!r} has a trained model, and {'that is' if one else 'those are'} "
            "the gatys default)"
        )  # fmt: skip
        raise UserError(
            f"{what} of the gatys method, but the johnson method runs{why}: "
            f"drop {it}, or choose method gatys to use {it}"
        )
    check_backend(request, method)
    return method, styles


def check_arbitrary(request: StylizeRequest, method: str) -> str:
    """``--alpha`` or ``--decoder`` given: ``auto`` becomes the arbitrary network (one line
    says so); another method refuses them."""
    given = [name for name in ARBITRARY_ONLY if getattr(request, name) is not None]
    if not given or method == "arbitrary":
        return method
    if request.method == "auto":
        if is_main_process():
            print(f"{_flags(given)} given: the arbitrary-style network", flush=True)
        return "arbitrary"
    raise UserError(
        f"{_flags(given)} {'is an option' if len(given) == 1 else 'are options'} of the arbitrary "
        f"method, not {method}: choose --method arbitrary"
    )


def gatys_options_given(request: StylizeRequest) -> dict[str, Any]:
    """The Gatys-only options of ``request``, by name, with their values."""
    given = dict(request.options)
    if request.style_weights:
        given["style_weights"] = request.style_weights
    return given


def _is_default(name: str, value: Any) -> bool:
    """Whether a Gatys option's value is the one the method takes when it is not given."""
    return _plain(value) == _plain(GATYS_DEFAULTS.get(name))


def _plain(value: Any) -> Any:
    """Sequences as tuples, so ``[512]`` from the command line equals the default ``(512,)``."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def _flags(names: Sequence[str]) -> str:
    """``iters`` -> ``--iters``: the stylize command's flags (``normalize`` is --layer-norm)."""
    return ", ".join("--layer-norm" if n == "normalize" else f"--{n.replace('_', '-')}"
                     for n in names)  # fmt: skip


def check_backend(request: StylizeRequest, method: str) -> None:
    """onnxruntime runs Johnson's network only, on the CPU, in float32; it must be installed.
    ``compile`` is torch's, for a network: not for Gatys, not with onnxruntime."""
    if request.backend not in BACKEND_CHOICES:
        raise UserError(
            f"backend must be one of {', '.join(BACKEND_CHOICES)}, not {request.backend!r}"
        )
    if request.compile and (method == "gatys" or request.backend != "torch"):
        what = "the gatys method" if method == "gatys" else f"backend {request.backend}"
        raise UserError(
            f"--compile compiles a network run by torch (the johnson or arbitrary method), not "
            f"{what}: drop --compile"
        )
    if request.backend == "torch":
        return
    if method != "johnson":
        raise UserError(
            "backend onnxruntime runs a style's trained network (the johnson method), not the "
            f"{method} method: drop --backend onnxruntime"
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
    if method == "arbitrary":
        from style_transfer.arbitrary.run import run_arbitrary

        return run_arbitrary(request, styles)
    if method == "johnson":
        from style_transfer.johnson.run import run_johnson  # Gatys runs never load Johnson's

        return run_johnson(request, styles[0])
    from style_transfer.gatys.run import run_gatys

    return run_gatys(request, styles)
