"""The stylize command's arbitrary-style half: any painting, one pass per photo.

    make stylize METHOD=arbitrary STYLE_IMAGE=painting.jpg CONTENT=photo.jpg
    make stylize METHOD=arbitrary STYLE=wave ARGS="--alpha 0.6"          # a bundled painting
    python -m style_transfer stylize --method arbitrary --style-image a.jpg --style-image b.jpg \
        --style-weights 0.7,0.3 --preserve-color --content photos/

    from style_transfer.arbitrary.run import run_arbitrary
    run_arbitrary(request, styles)               # what ``stylize --method arbitrary`` does

The paintings (bundled styles by name, or any image files) are encoded once; their statistics,
blended by ``style_weights``, become the AdaIN target, and ``alpha`` trades the photo's own
features (0) for the style's (1). From there the network maps photos to photos like a Johnson
model, and the same machinery runs it (:mod:`style_transfer.johnson.run`): photos at their own
size, folders and several photos, tiles sharing whole-image statistics, torchrun shards, colour
preservation, the same outputs, sheet and record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shared.compiled import compile_network, is_compiled
from shared.device import describe, pick_device
from shared.distributed import init_distributed, is_main_process, on_main
from shared.errors import UserError
from shared.precision import NAMES
from shared.threads import cpu_threads
from style_transfer.arbitrary.adain import style_weights
from style_transfer.arbitrary.model_file import find_decoder, load_arbitrary
from style_transfer.images import read_photo, to_tensor
from style_transfer.johnson.infer import choose_precision
from style_transfer.johnson.net import MIN_SIDE, to_inference
from style_transfer.johnson.run import Tally, content_sources, transform_sources, write_results
from style_transfer.outputs import Outputs
from style_transfer.request import StylizeRequest
from style_transfer.styles import Style

DEFAULT_ALPHA = 1.0


@dataclass
class StyledNetwork:
    """The network set to a request's paintings, and what the run's record says of it."""

    net: torch.nn.Module  # the ArbitraryNet, compiled where asked
    meta: dict[str, Any]  # the decoder file's: encoder, recipe
    dtype: torch.dtype
    decoder: Path
    alpha: float
    weights: list[float]
    paintings: list[np.ndarray]


def load_styled_network(
    request: StylizeRequest, styles: list[Style], device: torch.device
) -> StyledNetwork:
    """The network with ``styles`` set as its target, in the request's precision."""
    weights = style_weights(request.style_weights, len(styles))  # bad weights: before any work
    paintings = [read_photo(style.image_path) for style in styles]
    decoder = find_decoder(request.decoder)
    net, meta = load_arbitrary(decoder, device)
    alpha = DEFAULT_ALPHA if request.alpha is None else request.alpha
    net.set_styles([to_tensor(p) for p in paintings], weights, alpha)
    # rank 0 decides for all, as for Johnson: every rank must compute the same bytes
    dtype = on_main(choose_precision, to_inference(net, device), request.precision, device)
    net = net.to(dtype)
    if request.compile:
        net = compile_network(net, device)
    return StyledNetwork(net, meta, dtype, decoder, alpha, weights, paintings)


def run_arbitrary(request: StylizeRequest, styles: list[Style]) -> Path:
    """Stylise ``request.content`` with the blend of ``styles``; returns where it wrote."""
    if request.size is not None and request.size < MIN_SIDE:
        raise UserError(f"size must be at least {MIN_SIDE} px, not {request.size}")
    sources = content_sources(request.content)
    name = "+".join(style.label for style in styles) if len(styles) > 1 else styles[0].name
    outputs = Outputs(request.out, name, many=len(sources) > 1)
    outputs.check(len(sources))
    device = pick_device(request.device)
    if init_distributed(device):
        outputs.make_folder()
    tally = Tally()
    with cpu_threads(request.threads) as threads:
        start = time.perf_counter()
        styled = load_styled_network(request, styles, device)
        tally.load = time.perf_counter() - start
        if is_main_process():
            print(
                f"arbitrary-style network ({styled.meta.get('encoder')} encoder, decoder "
                f"{styled.decoder}) on {describe(device)}, {NAMES[styled.dtype]}"
                f"{', compiled' if is_compiled(styled.net) else ''}"
            )
        try:
            transform_sources(
                styled.net,
                sources,
                request.size,
                outputs,
                tally,
                preserve_color=request.preserve_color,
            )
        except BaseException:
            outputs.remove_if_empty()
            raise
    record = {
        "method": "arbitrary",
        "styles": [style.label for style in styles],
        "style_images": [str(style.image_path) for style in styles],
        "style_weights": styled.weights,
        "alpha": styled.alpha,
        "decoder": str(styled.decoder),
        "decoder_recipe": styled.meta.get("recipe", ""),
        "content": request.content,
        "photos": tally.photos,
        "skipped": tally.skipped,
        "size": request.size,
        "device": str(device),
        "threads": threads,
        "precision": NAMES[styled.dtype],
        "compiled": is_compiled(styled.net),
        "preserve_color": request.preserve_color,
        "seconds": {"load": round(tally.load, 3), "stylise": round(tally.stylise, 3)},
    }
    painting = styled.paintings[0]
    on_main(write_results, outputs, tally, styles[0], painting, record, len(sources), "arbitrary")
    return outputs.where
