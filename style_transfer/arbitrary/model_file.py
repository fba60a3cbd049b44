"""Decoder files: fp16 safetensors naming the encoder they invert, and where they are found.

    from style_transfer.arbitrary.model_file import find_decoder, load_arbitrary, save_decoder
    save_decoder("decoder.safetensors", decoder, {"encoder": "efficientnet_lite0", ...})
    net, meta = load_arbitrary(find_decoder(None), device="cpu")  # the encoder, AdaIN, decoder

The file format and its checks are the Johnson models' (:mod:`style_transfer.johnson.model_file`):
tagged, versioned, checksummed. A decoder is only meaningful with the encoder it was trained
against, so the metadata names it and :func:`load_arbitrary` builds that one (its ImageNet
weights must be available). Looked up in order: the file given, the user's trained decoder
(``make train-arbitrary`` registers it beside the user's styles), the one shipped here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from shared.errors import UserError
from style_transfer.arbitrary.decoder import Decoder, DecoderConfig
from style_transfer.arbitrary.encoder import ENCODERS, build_encoder
from style_transfer.arbitrary.net import ArbitraryNet
from style_transfer.johnson.model_file import ModelKind, load_model, save_model
from style_transfer.styles import user_style_dir

DECODER = ModelKind("adain-decoder", 1, DecoderConfig.from_dict, Decoder)
SHIPPED_DECODER = Path(__file__).resolve().parent / "decoder.safetensors"


def user_decoder_path() -> Path:
    """Where ``make train-arbitrary`` registers its decoder."""
    return user_style_dir().parent / "arbitrary" / "decoder.safetensors"


def find_decoder(path: str | Path | None) -> Path:
    """``path``, else the user's trained decoder, else the shipped one."""
    if path is not None:
        return Path(path)
    user = user_decoder_path()
    return user if user.is_file() else SHIPPED_DECODER


def save_decoder(path: str | Path, decoder: Decoder, meta: dict[str, Any]) -> Path:
    if meta.get("encoder") not in ENCODERS:
        raise ValueError(f"meta must name the encoder (one of {tuple(ENCODERS)})")
    return save_model(path, decoder, meta, kind=DECODER)


def load_arbitrary(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[ArbitraryNet, dict[str, Any]]:
    """The whole network (encoder, AdaIN, the file's decoder), float32, eval mode, on ``device``;
    its styles still to be set (:meth:`ArbitraryNet.set_styles`)."""
    decoder, meta = load_model(path, device, kind=DECODER)
    backbone = meta.get("encoder")
    if backbone not in ENCODERS:
        raise UserError(f"{path} does not name a known encoder ({backbone!r})")
    if decoder.config.in_channels != ENCODERS[backbone].channels:  # type: ignore[union-attr]
        raise UserError(f"{path}: its decoder does not take {backbone}'s features")
    net = ArbitraryNet(build_encoder(backbone, device), decoder, backbone)  # type: ignore[arg-type]
    return net.eval().to(device), meta
