"""The grader: a registry backbone with a head for the task's classes, and loading it back.

model = build_model("resnet50", num_classes=5, pretrained="auto", finetune="all")
model, config = load_run_model(run_dir)        # best.pt (else last.pt) of a finished run
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from shared import backbones
from shared.errors import UserError
from shared.runs import load_kept_checkpoint, read_config


def build_model(
    arch: str, num_classes: int, pretrained: str = "no", finetune: str = "all"
) -> nn.Module:
    """``arch`` from the backbone registry; an unknown name lists the valid ones."""
    if arch not in backbones.list_backbones():
        raise UserError(
            f"unknown architecture {arch!r}; choose one of: {', '.join(backbones.list_backbones())}"
        )
    try:
        return backbones.create(arch, num_classes, pretrained=pretrained, finetune=finetune)
    except (backbones.WeightsUnavailable, backbones.WeightsCorrupt) as exc:
        raise UserError(str(exc)) from None


def load_run_model(
    run_dir: Path, num_classes: int | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """The run's kept model, in eval mode, and the run's config (config.json, the one copy)."""
    config = read_config(run_dir)
    _, state = load_kept_checkpoint(run_dir)
    if "arch" not in config:
        raise UserError(f"{run_dir} is not a retinopathy run (no architecture in its config)")
    classes = config["num_classes"]
    if num_classes is not None and num_classes != classes:
        raise UserError(
            f"the checkpoint in {run_dir} has {classes} classes ({config['task']}), "
            f"not the {num_classes} this task needs"
        )
    model = build_model(config["arch"], classes, pretrained="no")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise UserError(
            f"the checkpoint in {run_dir} does not fit {config['arch']}: {first}"
        ) from None
    return model.eval(), config


@torch.no_grad()
def predict_probs(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    device: torch.device,
    tta: bool = False,
    progress: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class probabilities and labels for every item of ``loader``, in order.

    ``tta``: average the softmax over the photo and its horizontal and vertical flips (a
    fundus has no canonical orientation, so each flip is an equally valid view).
    """
    model.eval().to(device)
    probs, labels = [], []
    batches = loader if progress is None else progress(loader)
    for images, target in batches:
        images = images.to(device)
        views = [images, images.flip(-1), images.flip(-2)] if tta else [images]
        p = torch.stack([model(v).float().softmax(1) for v in views]).mean(0)
        probs.append(p.cpu())
        labels.append(torch.as_tensor(target))
    return torch.cat(probs), torch.cat(labels)
