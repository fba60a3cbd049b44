"""``--precision``: what auto picks from the hardware and the workload's check, and refusals."""

from __future__ import annotations

import pytest
import torch

from shared import precision
from shared.errors import UserError

CPU = torch.device("cpu")


@pytest.fixture
def flags(monkeypatch):
    def set_flags(*names: str) -> None:
        monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(names))

    return set_flags


@pytest.mark.parametrize(
    ("cpu", "pays", "expected"),
    [
        (("avx2",), None, torch.float32),  # no bf16 hardware: never bf16, whatever the check
        (("avx2",), lambda dtype: True, torch.float32),
        (("avx512f", "avx512_bf16"), None, torch.bfloat16),
        (("amx_bf16",), lambda dtype: True, torch.bfloat16),
        (("amx_bf16",), lambda dtype: False, torch.float32),  # hardware, but it does not pay
    ],
)
def test_auto_takes_bf16_only_on_native_hardware_where_it_pays(flags, cpu, pays, expected):
    flags(*cpu)
    assert precision.resolve_precision("auto", CPU, pays) == expected


def test_auto_never_runs_the_check_without_the_hardware(flags):
    flags("sse4_2")
    asked = []
    precision.resolve_precision("auto", CPU, lambda dtype: asked.append(dtype) or True)
    assert asked == []


def test_explicit_choices_are_taken_as_asked(flags):
    flags("avx2")
    assert precision.resolve_precision("fp32", CPU) == torch.float32
    assert precision.resolve_precision("bf16", CPU) == torch.bfloat16


def test_fp16_on_a_cpu_without_it_is_refused_in_one_line(flags):
    flags("avx512_bf16")
    with pytest.raises(UserError, match="fp16 on this CPU would be emulated"):
        precision.resolve_precision("fp16", CPU)
    flags("avx512_fp16")
    assert precision.resolve_precision("fp16", CPU) == torch.float16


def test_unknown_precision_names_the_choices():
    with pytest.raises(UserError, match="auto, fp32, bf16, fp16"):
        precision.resolve_precision("fp8", CPU)


def test_faster_compares_medians_against_the_margin(monkeypatch):
    times = {"slow": 1.0, "fast": 0.8}
    monkeypatch.setattr(precision, "median_seconds", lambda fn, repeats: times[fn()])
    assert precision.faster(lambda: "slow", lambda: "fast", min_speedup=1.2)
    assert not precision.faster(lambda: "slow", lambda: "fast", min_speedup=1.3)


def test_autocast_computes_in_the_dtype_asked_and_not_at_all_for_fp32():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with precision.autocast(CPU, torch.bfloat16):
        assert (a @ b).dtype == torch.bfloat16
    with precision.autocast(CPU, torch.float32):
        assert (a @ b).dtype == torch.float32


def test_grad_scaler_only_where_fp16_needs_it():
    assert not precision.make_scaler(CPU, torch.bfloat16).is_enabled()
    assert precision.make_scaler(CPU, torch.float16).is_enabled()
    loss = torch.tensor(2.0, requires_grad=True)
    assert precision.make_scaler(CPU, torch.bfloat16).scale(loss) is loss  # a pass-through


def test_mixed_precision_check_leaves_the_model_as_it_was(monkeypatch):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    monkeypatch.setattr(precision, "median_seconds", lambda fn, repeats: fn() or 1.0)
    pays = precision.mixed_precision_pays(model, torch.rand(2, 3, 16, 16), CPU)
    assert pays(torch.bfloat16) is False  # equal times: not the 1.15x asked for
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_verdict_is_measured_once_and_then_remembered(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    assert precision.remembered("machine; net 1x3x8x8", lambda: calls.append(1) or True)
    # a second run on a busier machine would measure otherwise; it must choose the same
    assert precision.remembered("machine; net 1x3x8x8", lambda: calls.append(1) or False)
    assert calls == [1]
    assert not precision.remembered("machine; other 1x3x8x8", lambda: False)
    assert (tmp_path / "visionlab" / precision.VERDICTS).is_file()


def test_a_trained_model_computes_in_its_recorded_precision_unless_told(flags):
    from shared.engine.precision import inference_precision

    flags("amx_bf16")
    assert inference_precision(None, "fp32", CPU, lambda dtype: True) == torch.float32
    assert inference_precision(None, "bf16", CPU) == torch.bfloat16
    assert inference_precision("fp32", "bf16", CPU) == torch.float32
    assert inference_precision("auto", "fp32", CPU, lambda dtype: True) == torch.bfloat16
    assert inference_precision(None, None, CPU, lambda dtype: False) == torch.float32  # auto
    with pytest.raises(UserError, match="fp16 on this CPU would be emulated"):
        inference_precision("fp16", "fp32", CPU)  # asked for: refused as training refuses it


def test_a_recorded_fp16_this_cpu_would_emulate_computes_in_fp32_with_a_warning(flags):
    from shared.engine.precision import inference_precision

    flags("avx2")
    with pytest.warns(UserWarning, match="the run computed in fp16"):
        assert inference_precision(None, "fp16", CPU) == torch.float32
