"""Neural style transfer from the command line: python -m style_transfer COMMAND --help."""

from __future__ import annotations

import sys

from shared.cli import main

COMMANDS = {
    "stylize": "style_transfer.cli.stylize",
    "styles": "style_transfer.cli.styles",
    "train": "style_transfer.cli.train",
    "video": "style_transfer.cli.video",
}

if __name__ == "__main__":
    sys.exit(main("style_transfer", __doc__, commands=COMMANDS))
