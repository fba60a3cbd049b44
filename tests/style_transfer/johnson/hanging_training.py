"""``python -m style_transfer train`` that stalls after a given optimiser step, to be killed.

    python tests/style_transfer/johnson/hanging_training.py STEP TRAIN_ARGS... --run RUN

Parses TRAIN_ARGS with the train command's own flags and trains the same request the same way,
but writes ``RUN/hanging`` after optimiser step STEP and then sleeps, so a test can SIGKILL the
process at a known point mid-epoch and resume the run with ``python -m style_transfer train
--resume RUN``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from style_transfer.cli import train as cli_train
from style_transfer.johnson.train import train_style
from tests.shared.tiny_training import HangAt


def main(argv: list[str]) -> None:
    hang_at, parser = int(argv[0]), argparse.ArgumentParser()
    cli_train.add_arguments(parser)
    request = cli_train.request_from(parser.parse_args(argv[1:]))
    train_style(request, callbacks=(HangAt(hang_at, request.run / "hanging"),), verbose=False)
    raise SystemExit(f"training ended without reaching step {hang_at}")


if __name__ == "__main__":
    main(sys.argv[1:])
