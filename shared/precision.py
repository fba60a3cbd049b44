"""Which floating-point precision a workload computes in: ``--precision auto|fp32|bf16|fp16``.

    from shared.precision import autocast, resolve_precision
    dtype = resolve_precision("auto", device, pays=lambda dtype: probe(dtype))
    with autocast(device, dtype):           # float32: no autocast at all
        loss = model(x).sum()

``auto`` takes bfloat16 only where the device computes it natively (CUDA compute capability
8.0 or newer; a CPU whose flags list AVX-512 BF16 or AMX-BF16, read at run time) *and* the
workload's own check says it pays; everywhere else float32. bfloat16 on a CPU pays only when the
model itself is in bfloat16 (3x for the Johnson network at 1024 px on an AMX CPU), not under
autocast with float32 weights, so the callers convert the model, and keep sums that decide
quality (Gram matrices, losses) in float32.
"""

from __future__ import annotations

import contextlib
import functools
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from shared.atomic import atomic_write_text
from shared.errors import UserError
from shared.user_dirs import cache_dir

PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
DEFAULT_PRECISION = "auto"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
NAMES = {dtype: name for name, dtype in DTYPES.items()}
# A reduced precision must beat float32 by this much on the workload's check to be taken by auto:
# below it the rounding is not worth it.
AUTO_MIN_SPEEDUP = 1.15
VERDICTS = "precision-checks.json"  # in the user's cache folder


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as the kernel reports them (Linux); empty where unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` has bfloat16 arithmetic in hardware (not emulated through float32)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return False


def native_fp16(device: torch.device) -> bool:
    """Whether ``device`` has float16 arithmetic fast enough to be worth asking for."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (7, 0)
    if device.type == "cpu":
        return bool(cpu_flags() & {"avx512_fp16", "amx_fp16"})
    return device.type == "mps"


def describe_capability(device: torch.device) -> str:
    """A short line for logs: which reduced precisions this device computes natively."""
    native = [name for name, test in (("bf16", native_bf16), ("fp16", native_fp16)) if test(device)]
    return f"{device.type}: native {', '.join(native)}" if native else f"{device.type}: fp32 only"


def resolve_precision(
    name: str, device: torch.device, pays: Callable[[torch.dtype], bool] | None = None
) -> torch.dtype:
    """The dtype for ``--precision name`` on ``device``.

    ``pays(dtype)`` is the workload's own check (see :func:`faster`); ``auto`` asks it only where
    the hardware qualifies, and without one trusts the hardware.
    """
    if name not in PRECISION_CHOICES:
        raise UserError(f"unknown precision {name!r}; choose one of {', '.join(PRECISION_CHOICES)}")
    if name != "auto":
        if name == "fp16" and device.type == "cpu" and not native_fp16(device):
            raise UserError(
                "--precision fp16 on this CPU would be emulated (slower than fp32); "
                "use bf16, fp32 or auto"
            )
        return DTYPES[name]
    if not native_bf16(device):
        return torch.float32
    if pays is not None and not pays(torch.bfloat16):
        return torch.float32
    return torch.bfloat16


def median_seconds(fn: Callable[[], object], repeats: int = 3) -> float:
    """The median wall time of ``fn`` after one warm-up call (which builds caches and kernels)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def faster(
    baseline: Callable[[], object],
    candidate: Callable[[], object],
    min_speedup: float = AUTO_MIN_SPEEDUP,
    repeats: int = 3,
) -> bool:
    """Whether ``candidate`` runs at least ``min_speedup`` times as fast as ``baseline``."""
    return median_seconds(baseline, repeats) >= min_speedup * median_seconds(candidate, repeats)


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """Mixed precision in ``dtype`` on ``device`` (weights stay float32); float32: a no-op."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_scaler(device: torch.device, dtype: torch.dtype) -> torch.amp.GradScaler:
    """A gradient scaler, active only for float16, whose small range needs one."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


def remembered(key: str, check: Callable[[], bool]) -> bool:
    """``check()``'s verdict for ``key``, measured once per machine and kept in the user's cache:
    a timing can differ between two runs, and the precision decides the numbers, so the same
    command with the same seed must choose the same way every time."""
    path = cache_dir() / VERDICTS
    try:
        verdicts = json.loads(path.read_text())
    except (OSError, ValueError):
        verdicts = {}
    if key not in verdicts:
        verdicts[key] = bool(check())
        with contextlib.suppress(OSError):  # a read-only home: decide again next time
            atomic_write_text(path, json.dumps(verdicts, indent=1, sort_keys=True) + "\n")
    return bool(verdicts[key])


def machine_key(device: torch.device) -> str:
    """What a speed verdict depends on besides the workload: the device, threads and torch."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{device.type} {platform.processor() or platform.machine()}"
        name += f" {torch.backends.cpu.get_cpu_capability()} {torch.get_num_threads()} threads"
    return f"{name}; torch {torch.__version__}"


def mixed_precision_pays(
    model: torch.nn.Module, example: torch.Tensor, device: torch.device
) -> Callable[[torch.dtype], bool]:
    """The check for ``auto`` on a network run under autocast: its forward pass on ``example``
    (a batch like the workload's), in eval mode and without gradients, so no statistic moves.
    The verdict is remembered per machine, model and input shape (:func:`remembered`)."""

    def run(dtype: torch.dtype) -> None:
        with torch.inference_mode(), autocast(device, dtype):
            model(example)

    def measure(dtype: torch.dtype) -> bool:
        training = model.training
        model.eval()
        try:
            return faster(lambda: run(torch.float32), lambda: run(dtype))
        finally:
            model.train(training)

    def pays(dtype: torch.dtype) -> bool:
        shape = "x".join(map(str, example.shape))
        key = f"{machine_key(device)}; autocast {NAMES[dtype]}; {type(model).__name__} {shape}"
        return remembered(key, lambda: measure(dtype))

    return pays


def dtype_of(name: str) -> torch.dtype:
    """The dtype of a resolved precision name (``fp32``, ``bf16``, ``fp16``)."""
    if name not in DTYPES:
        raise UserError(f"precision {name!r} is not one of {', '.join(DTYPES)}")
    return DTYPES[name]
