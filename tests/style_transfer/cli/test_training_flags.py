"""The flags both trainers share: the same engine flags, widths checked by count and sign."""

from __future__ import annotations

import argparse

import pytest

from shared.cli import build_parser
from style_transfer.__main__ import COMMANDS
from style_transfer.cli.training_flags import TRAINING, channel_counts


def test_channel_counts_are_checked_by_count_and_sign() -> None:
    parse = channel_counts(3, "full, 1/2 and 1/4 scale")
    assert parse("16,32,64") == (16, 32, 64)
    for bad, said in (("16,32", "expected 3 positive"), ("16,0,64", "expected 3 positive"),
                      ("a,b,c", "expected 3 channel counts")):  # fmt: skip
        with pytest.raises(argparse.ArgumentTypeError, match=said):
            parse(bad)


@pytest.mark.parametrize(
    ("command", "widths"), [("train", "8,16,32"), ("train-arbitrary", "8,8,8,8")]
)
def test_both_trainers_take_the_engine_flags(command: str, widths: str, capsys) -> None:
    parser = build_parser("style_transfer", "", COMMANDS, only=command)
    argv = [command, "--epochs", "3", "--batch-size", "2", "--lr", "0.1", "--precision", "fp32",
            "--checkpoint-every", "5", "--workers", "1", "--seed", "7", "--widths", widths,
            "--threads", "1", "--device", "cpu", "--resume", "run",
            "--out", "m.safetensors"]  # fmt: skip
    args = parser.parse_args(argv)
    assert [getattr(args, name) for name in TRAINING] == [3, 2, 0.1, "fp32", 5, 1, 7]
    assert (args.threads, args.device, str(args.resume)) == (1, "cpu", "run")
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--widths", "8"])
    assert "expected" in capsys.readouterr().err
