"""The video network stage: results in order, and a compiled network fed only full batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from style_transfer.johnson.net import NetConfig, TransformerNet
from style_transfer.video.network_stage import NetworkTimer, stylised_in_order


class LooksCompiled(nn.Module):
    """Stands in for torch.compile's wrapper (its ``_orig_mod``), recording the batch sizes."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self._orig_mod = net
        self.sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(x.shape[0])
        return self._orig_mod(x)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_compiled_network_sees_full_batches_and_the_frames_their_own_results(workers):
    torch.manual_seed(0)
    net = TransformerNet(NetConfig((8, 16, 32), 1)).eval()
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(10)]
    batches = [frames[0:4], frames[4:8], frames[8:10]]
    plain = [out for _, outs in stylised_in_order(net, batches, 1, NetworkTimer(1)) for out in outs]
    wrapped = LooksCompiled(net)
    done = list(stylised_in_order(wrapped, batches, workers, NetworkTimer(workers)))
    assert sorted(wrapped.sizes) == [4, 4, 4]  # the last batch of 2 filled up to 4
    assert [len(outs) for _, outs in done] == [4, 4, 2]
    assert [batch for batch, _ in done] == batches  # in order
    for got, want in zip([o for _, outs in done for o in outs], plain, strict=True):
        assert np.abs(got.astype(int) - want).max() <= 1  # each frame's own result
