"""Diabetic-retinopathy grading from fundus photographs.

python -m retinopathy prepare [DATA] --size 512      # preprocess photos into the cache
python -m retinopathy train [DATA] --arch resnet50    # train, evaluate, report
python -m retinopathy evaluate --run RUN              # metrics and report of a run
python -m retinopathy predict --run RUN IMAGES        # grade new photos
python -m retinopathy COMMAND --help
"""

from __future__ import annotations

import sys

from shared.cli import main as cli_main

# sub-command -> module with add_arguments(parser) and run(args) -> int
COMMANDS = {
    "prepare": "retinopathy.prepare",
    "train": "retinopathy.train",
    "evaluate": "retinopathy.evaluate",
    "predict": "retinopathy.predict",
}


def main(argv: list[str] | None = None) -> int:
    return cli_main("retinopathy", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
