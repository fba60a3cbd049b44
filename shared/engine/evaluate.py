"""Evaluation: the mean loss and the app's metrics over a loader, across DDP ranks.

    result = evaluate(model, loader, eval_fn=classification_eval(), metrics_fn=accuracy_metrics,
                      device=device)          # {"loss": ..., "acc": ...}

``eval_fn(model, batch) -> (loss, outputs, targets)``; the outputs and targets of every batch are
concatenated in dataset order (gathered back from every rank under DDP) and handed to
``metrics_fn(outputs, targets) -> {"name": float}``, so metrics see the whole set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import nn

from shared.distributed import all_gather_object, all_reduce_sum
from shared.precision import autocast


def to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """Move every tensor in a (nested) batch to ``device``; 4-D float tensors to NHWC if asked."""
    if isinstance(batch, torch.Tensor):
        if channels_last and batch.ndim == 4 and batch.is_floating_point():
            return batch.to(device, non_blocking=True, memory_format=torch.channels_last)
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(to_device(v, device, channels_last) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, channels_last) for v in batch)
    return batch


def batch_size_of(batch: Any) -> int:
    """Length of the first tensor found in a (nested) batch."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else 1
    values = batch.values() if isinstance(batch, Mapping) else batch
    if isinstance(values, Iterable) and not isinstance(values, (str, bytes)):
        for value in values:
            n = batch_size_of(value)
            if n:
                return n
    return 0


def gather_in_order(local: torch.Tensor | None) -> torch.Tensor | None:
    """Undo :class:`~shared.distributed.ShardSampler`'s striding: item ``i`` came from rank
    ``i % W``."""
    parts = all_gather_object(local)
    if len(parts) == 1:
        return parts[0]
    present = [p for p in parts if p is not None]
    if not present:
        return None
    total = sum(len(p) for p in present)
    out = present[0].new_empty((total, *present[0].shape[1:]))
    for r, part in enumerate(parts):
        if part is not None:
            out[r :: len(parts)] = part
    return out


def evaluate(
    model: nn.Module,
    loader: Iterable,
    *,
    eval_fn: Callable[[nn.Module, Any], tuple[torch.Tensor, Any, Any]],
    metrics_fn: Callable[[torch.Tensor, torch.Tensor], Mapping[str, float]] | None = None,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
) -> dict[str, float]:
    """Mean loss over ``loader`` plus ``metrics_fn`` of all outputs; summed/gathered under DDP."""
    was_training = model.training
    model.eval()
    loss_sum, count = 0.0, 0
    outputs: list[torch.Tensor] = []
    targets: list[torch.Tensor] = []
    with torch.no_grad():
        for batch in loader:
            batch = to_device(batch, device, channels_last)
            with autocast(device, dtype):
                loss, out, tgt = eval_fn(model, batch)
            n = batch_size_of(batch)
            loss_sum += float(loss) * n
            count += n
            if out is not None:
                outputs.append(out.detach().float().cpu())
                targets.append(tgt.detach().cpu())
    model.train(was_training)
    totals = all_reduce_sum(torch.tensor([loss_sum, count], dtype=torch.float64)).tolist()
    result = {"loss": totals[0] / max(totals[1], 1.0)}
    if metrics_fn is not None:
        all_out = gather_in_order(torch.cat(outputs) if outputs else None)
        all_tgt = gather_in_order(torch.cat(targets) if targets else None)
        if all_out is not None:
            result.update({k: float(v) for k, v in metrics_fn(all_out, all_tgt).items()})
    return result
