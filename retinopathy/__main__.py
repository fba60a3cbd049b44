"""Diabetic-retinopathy grading from fundus photographs.

python -m retinopathy prepare [DATA] --size 512      # preprocess photos into the cache
python -m retinopathy train [DATA] --arch resnet50    # train, evaluate, report
python -m retinopathy evaluate --run-dir RUN          # metrics and report of a run
python -m retinopathy predict --run-dir RUN IMAGES    # grade new photos
torchrun --nproc_per_node 2 -m retinopathy COMMAND ...   # any command, over 2 processes
python -m retinopathy COMMAND --help
"""

from __future__ import annotations

import sys

from retinopathy.config import APP
from shared.cli import main as cli_main

# sub-command -> module with add_arguments(parser) and run(args) -> int
COMMANDS = {
    "prepare": "retinopathy.cli.prepare",
    "train": "retinopathy.cli.train",
    "evaluate": "retinopathy.cli.evaluate",
    "predict": "retinopathy.cli.predict",
}


def main(argv: list[str] | None = None) -> int:
    return cli_main(APP, __doc__, COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
