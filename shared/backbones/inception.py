"""torchvision's Inception v3, with an auxiliary head that also works below 299 px.

The auxiliary classifier pools its 17x17 input (at 299 px) to 5x5 and applies a 5x5
convolution, so torchvision's version fails for inputs under about 299 px. Here a smaller map
is pooled adaptively to 5x5 instead; at 299 px and above nothing changes, so ImageNet weights
behave exactly as published.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision import models as tvm
from torchvision.models.inception import InceptionAux


class AnySizeInceptionAux(InceptionAux):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) >= 17:
            x = F.avg_pool2d(x, kernel_size=5, stride=3)
        else:
            x = F.adaptive_avg_pool2d(x, 5)
        x = self.conv1(self.conv0(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def inception_v3(num_classes: int) -> tvm.Inception3:
    # transform_input re-normalises ImageNet-normalised input to the [-1, 1] range the ported
    # Google weights expect; kept on for random init too so both share one graph.
    model = tvm.inception_v3(
        weights=None, num_classes=num_classes, aux_logits=True, transform_input=True,
        init_weights=True,
    )  # fmt: skip
    model.AuxLogits.__class__ = AnySizeInceptionAux  # same parameters, same state_dict keys
    return model
