"""shared.checkpoint: atomic writes, refusal of pickled code, RNG round trips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from shared.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from shared.errors import UserError


class _RunsCodeWhenUnpickled:
    """Unpickling this calls ``open(marker, "w")``: it creates a file as a side effect."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_round_trip_keeps_tensors_and_plain_values(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "epoch": 3, "best": None, "cfg": {"lr": 0.1}}
    path = save_checkpoint(tmp_path / "sub" / "last.pt", state)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["w"], state["w"])
    assert loaded["epoch"] == 3 and loaded["best"] is None and loaded["cfg"] == {"lr": 0.1}
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temp file left behind


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": _RunsCodeWhenUnpickled(marker)}, path)

    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "refused to unpickle arbitrary objects" in message and "\n" not in message
    assert isinstance(info.value, UserError)  # the CLI prints it as one line
    assert not marker.exists()

    # The payload is live: the full unpickler would have run it.
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_argparse_namespace_config_is_refused(tmp_path):
    import argparse

    path = tmp_path / "ns.pt"
    torch.save({"config": argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(CheckpointError, match="refused to unpickle"):
        load_checkpoint(path)


def test_truncated_and_missing_files_give_clear_errors(tmp_path):
    good = save_checkpoint(tmp_path / "good.pt", {"w": torch.ones(1000)})
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "absent.pt")


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", {"epoch": 1})

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["last.pt"]


def test_unknown_or_missing_format_version_is_one_line(tmp_path):
    assert load_checkpoint(save_checkpoint(tmp_path / "ok.pt", {"epoch": 1}))["format"] == 1
    for name, state in {
        "future.pt": {"format": 99, "epoch": 1},
        "foreign.pt": {"epoch": 1},
    }.items():
        torch.save(state, tmp_path / name)
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(tmp_path / name)
        message = str(info.value)
        assert "\n" not in message and "checkpoint format 1" in message
        assert ("format 99" if name == "future.pt" else "no format version") in message
