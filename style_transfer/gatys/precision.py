"""Which precision Gatys's loss network computes in: ``--precision auto|fp32|bf16|fp16``.

    from style_transfer.gatys.precision import choose_precision
    dtype = choose_precision(net, "auto", device)   # float32, or bfloat16 where it pays
    net.compute_in(dtype)                            # the layers' weights in dtype

``auto`` keeps float32 under LBFGS: its curvature pairs are differences of successive gradients,
and a gradient that passed through bfloat16 layers carries enough rounding to bend them. On
EfficientNet-Lite0 at 96-128 px, bfloat16 ended 1.2-5% above float32's final loss after 100
LBFGS iterations on four photos (3-9% after 20), against within 0.6% under Adam, whose steps
average gradients over many iterations. ``--precision bf16`` with LBFGS still does as asked, with
a warning (:data:`LBFGS_WARNING`).

Only the loss network's layers run in the reduced precision: the image being optimised stays
float32 (LBFGS's curvature pairs would drown in bfloat16's 8 bits of mantissa), and the features
come back in float32 before any Gram matrix or distance (:meth:`LossNetwork.compute_in`), so
every sum that decides the result is a float32 one. ``fp32`` is the float32 path unchanged, bit
for bit. float16's narrow range could flush the tiny feature gradients of the per-layer
normalised losses to zero, so the objective scales its loss by :data:`FP16_LOSS_SCALE` before
the backward pass and the image's gradient back after (:mod:`style_transfer.gatys.optimise`).
"""

from __future__ import annotations

import copy

import torch

from shared.precision import NAMES, faster, machine_key, remembered, resolve_precision
from style_transfer.loss_network import LossNetwork
from style_transfer.losses import gram_matrix

PROBE_SIDE = 256  # px: auto's check (a step each way), large enough to be compute-bound
# A power of two: multiplying and dividing by it is exact. The gradients that reach the layers'
# outputs are the loss's divided by each map's size: on EfficientNet-Lite0 at 512 px, 40-70% of
# them lie under float16's smallest normal number (6e-5; a subnormal keeps few bits, and under
# 6e-8 none), the largest near 0.03. Scaled by 1024 they are normal numbers, far from 65504.
FP16_LOSS_SCALE = 2.0**10
LBFGS_WARNING = (
    "{name} with LBFGS: its final loss measured 1-5% above float32's at the same iterations "
    "(auto keeps float32 for LBFGS; --optimizer adam stays within 1% in {name})"
)


def probe_step(net: LossNetwork, image: torch.Tensor) -> None:
    """What one optimiser step costs: features, Gram matrices, a distance, the backward pass."""
    image.grad = None
    feats = net(image)
    loss = sum(gram_matrix(f).square().sum() + f.square().mean() for f in feats.values())
    loss.backward()
    if image.device.type == "cuda":
        torch.cuda.synchronize(image.device)  # time the work, not its launch


def choose_precision(
    net: LossNetwork, name: str, device: torch.device, optimizer: str = "lbfgs"
) -> torch.dtype:
    """The dtype ``net``'s layers compute in for ``--precision name`` under ``optimizer``; the
    caller converts them (:meth:`LossNetwork.compute_in`). ``auto`` is float32 for LBFGS; for
    the others its check times an optimisation step of a copy in each, remembered per machine
    and loss network (:func:`shared.precision.remembered`), so the same command and seed choose
    the same way every time."""
    if name == "auto" and optimizer == "lbfgs":
        return torch.float32

    def measure(dtype: torch.dtype) -> bool:
        # Its own generator: the caller's random numbers (a seeded run's) stay as they were.
        gen = torch.Generator().manual_seed(0)
        image = torch.rand(1, 3, PROBE_SIDE, PROBE_SIDE, generator=gen).to(device)
        image.requires_grad_(True)
        low = copy.deepcopy(net).compute_in(dtype)
        return faster(lambda: probe_step(net, image), lambda: probe_step(low, image))

    def pays(dtype: torch.dtype) -> bool:
        layers = ",".join(net.outputs)
        key = f"{machine_key(device)}; gatys {NAMES[dtype]} weights; {net.describe()}; {layers}"
        return remembered(key, lambda: measure(dtype))  # the copy only when it is measured

    return resolve_precision(name, device, pays)
