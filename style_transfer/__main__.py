"""``python -m style_transfer {stylize,styles}``: neural style transfer from the command line."""

from __future__ import annotations

import sys

from shared.cli import main

COMMANDS = {
    "stylize": "style_transfer.cli.stylize",
    "styles": "style_transfer.cli.styles",
}

if __name__ == "__main__":
    sys.exit(main("style_transfer", __doc__, commands=COMMANDS))
