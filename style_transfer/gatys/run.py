"""The stylize command's Gatys half: the photo and paintings read, the image optimised, the
result, its loss plot, a content/style/result sheet and the run's record written.

    from style_transfer.gatys.run import run_gatys, settings_for, build_network
    config, network = settings_for(request)     # GatysConfig, LossNetworkConfig of a request
    run_gatys(request, styles)                   # what ``stylize --method gatys`` does

Nothing is written when the run fails (bad input, a loss that turns non-finite): the photo and
every style image are read before the loss network is built. A style image given under a name is
labelled on the sheet by its file name, and names the run folder.
"""

from __future__ import annotations

import glob
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from shared import backbones
from shared.contact_sheet import save_image_grid
from shared.device import describe, pick_device
from shared.errors import UserError
from shared.plotting import plot_metric_panels
from shared.precision import NAMES
from shared.threads import cpu_threads
from style_transfer.gatys.config import PAPER_BACKBONE, GatysConfig, config_from
from style_transfer.gatys.optimise import (
    GatysResult,
    NonFiniteLoss,
    SizeTooSmall,
    normalise_blend,
    optimise_image,
)
from style_transfer.gatys.precision import LBFGS_WARNING, choose_precision
from style_transfer.images import SAMPLE_PHOTOS, read_image, resize, write_image
from style_transfer.loss_network import (
    LossNetwork,
    LossNetworkConfig,
    build_loss_network,
    resolve_backbone,
)
from style_transfer.outputs import Outputs, write_record
from style_transfer.request import NETWORK_OPTIONS, StylizeRequest
from style_transfer.styles import Style


def settings_for(request: StylizeRequest) -> tuple[GatysConfig, LossNetworkConfig]:
    """The method's settings and the loss network's, from the options the request gives."""
    options = request.options
    network = LossNetworkConfig(**{k: v for k, v in options.items() if k in NETWORK_OPTIONS})
    chosen = {k: v for k, v in options.items() if k not in NETWORK_OPTIONS}
    config = config_from({**chosen, "preserve_color": request.preserve_color}, size=request.size)
    return config, network


def build_network(
    network: LossNetworkConfig, config: GatysConfig, device: torch.device
) -> LossNetwork:
    """The backbone asked for, cut after the deepest content or style layer in use."""
    try:
        name = resolve_backbone(network.backbone, paper=PAPER_BACKBONE)
        content, style = config.layers_for(name)
        return build_loss_network(
            name,
            pretrained=network.pretrained,
            pooling=network.pooling,
            layers=[*dict.fromkeys([*content, *style])],
            device=device,
        )
    except backbones.WeightsUnavailable as exc:
        raise UserError(f"{network.backbone}: {exc}") from None
    except ValueError as exc:  # an unknown network, or a layer name it does not have
        raise UserError(str(exc)) from None


def blend_weights(weights: list[float] | None, n: int) -> list[float]:
    try:
        return normalise_blend(weights, n)
    except ValueError as exc:
        raise UserError(f"style_weights: {exc}") from None


@dataclass
class GatysRun:
    """One optimisation and what it ran with (for the record)."""

    result: GatysResult
    paintings: list[torch.Tensor]
    config: GatysConfig
    network: LossNetworkConfig
    net: str  # the loss network as built, described
    blend: list[float]
    device: torch.device
    threads: int
    precision: str  # what the loss network's layers computed in (fp32, bf16, fp16)


def optimise_photo(
    request: StylizeRequest, styles: list[Style], content: torch.Tensor, *, verbose: bool = True
) -> GatysRun:
    """``content`` (3, H, W) stylised with ``styles`` as ``request`` asks; nothing written."""
    config, network = settings_for(request)
    device = pick_device(request.device)
    paintings = [read_image(s.image_path) for s in styles]
    blend = blend_weights(request.style_weights, len(paintings))
    torch.manual_seed(config.seed)  # random loss-network weights are drawn from it
    with cpu_threads(request.threads) as threads:
        net = build_network(network, config, device)
        dtype = choose_precision(net, request.precision, device, config.optimizer)
        net.compute_in(dtype)
        if verbose:
            print(f"loss network: {net.describe()}; device: {describe(device)}, {NAMES[dtype]}")
        if dtype != torch.float32 and config.optimizer == "lbfgs":
            print(f"warning: {LBFGS_WARNING.format(name=NAMES[dtype])}", file=sys.stderr)
        try:
            result = optimise_image(content, paintings, net, config, blend=blend, progress=None)
        except (NonFiniteLoss, SizeTooSmall) as exc:
            overflow = isinstance(exc, NonFiniteLoss) and dtype == torch.float16
            hint = " (or float16's range is too small: try --precision bf16)" if overflow else ""
            raise UserError(f"{exc}{hint}; nothing written") from None
    return GatysRun(
        result, paintings, config, network, net.describe(), blend, device, threads, NAMES[dtype]
    )


def one_photo(content: str) -> str:
    """``content`` if it names one photo; a folder or a list is refused (it takes a network)."""
    path = Path(content).expanduser()
    several = path.is_dir() or "," in content or glob.has_magic(content)
    if content not in SAMPLE_PHOTOS and not path.is_file() and several:
        raise UserError(
            f"the gatys method stylises one photo, not {content}: a trained model "
            "(method johnson) takes folders and lists of photos"
        )
    return content


def run_name(styles: list[Style]) -> str:
    """The run folder's name: the style, the given image's name, or ``blend``."""
    if len(styles) > 1:
        return "blend"
    return styles[0].name if styles[0].own_image else styles[0].image_path.stem


def run_gatys(request: StylizeRequest, styles: list[Style]) -> Path:
    """Stylise ``request.content`` with ``styles`` by optimisation; returns the image's path."""
    outputs = Outputs(request.out, run_name(styles))
    outputs.check()  # before minutes of work, not after
    content = read_image(one_photo(request.content))
    run = optimise_photo(request, styles, content)
    result = run.result
    record = {
        "method": "gatys",
        "style": request.style,
        "style_images": [str(s.image_path) for s in styles],
        "style_weights": run.blend,
        "content": request.content,
        "gatys": asdict(run.config),
        "loss_network": asdict(run.network),
        "network": run.net,
        "device": str(run.device),
        "threads": run.threads,
        "precision": run.precision,
        "seconds": round(result.seconds, 2),
    }
    shown = resize(content, tuple(result.image.shape[-2:]))
    save_outputs(outputs, result, shown, run.paintings, [s.label for s in styles], record)
    n = len(result.history.total)
    print(
        f"{n} iterations in {result.seconds:.0f} s ({result.seconds / n:.3f} s/it), "
        f"loss {result.history.total[0]:.4g} -> {result.history.total[-1]:.4g}"
    )
    sheet, loss = outputs.beside("sheet", ".png"), outputs.beside("loss", ".png")
    print(f"wrote {outputs.image()} (sheet {sheet.name}, loss plot {loss.name})")
    return outputs.image()


def save_outputs(
    outputs: Outputs,
    result: GatysResult,
    content: torch.Tensor,
    paintings: list[torch.Tensor],
    names: list[str],
    record: dict,
) -> None:
    """The image first (the one file users wait for), then the plot, the sheet, the record."""
    write_image(result.image, outputs.image())
    # One panel each: content starts at 0 from the photo, so no shared log axis fits all three.
    panels = {name: {name: values} for name, values in result.history.as_series().items()}
    plot_metric_panels(panels, outputs.beside("loss", ".png"), xlabel="iteration")
    save_image_grid(
        [content, *paintings, result.image],
        outputs.beside("sheet", ".png"),
        titles=["content", *names, "result"],
        cell_inches=4,
    )
    write_record(outputs.beside("config", ".json"), record)
