"""``python -m style_transfer train`` that stalls after a given optimiser step, to be killed.

    python tests/style_transfer/johnson_training.py STEP TRAIN_ARGS... --run RUN

Parses TRAIN_ARGS exactly as the train command does and trains the same way, but writes
``RUN/hanging`` after optimiser step STEP and then sleeps, so a test can SIGKILL the process at a
known point mid-epoch and resume the run with ``python -m style_transfer train --resume RUN``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch

from style_transfer.cli import train as cli_train
from style_transfer.train import fit, new_training
from tests.shared.tiny_training import HangAt


def main(argv: list[str]) -> None:
    hang_at, parser = int(argv[0]), argparse.ArgumentParser()
    cli_train.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    torch.set_num_threads(args.threads or 1)
    settings, train = cli_train.settings_from_args(args)
    job = new_training(
        settings,
        train,
        style_image=args.style_image,
        run=args.run,
        device=args.device,
        recipe=cli_train.recipe_command(args, settings, train),
        callbacks=(HangAt(hang_at, args.run / "hanging"),),
        verbose=False,
    )
    fit(job)
    raise SystemExit(f"training ended without reaching step {hang_at}")


if __name__ == "__main__":
    main(sys.argv[1:])
