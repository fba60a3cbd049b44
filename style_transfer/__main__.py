"""Neural style transfer from the command line: python -m style_transfer COMMAND --help."""

from __future__ import annotations

import sys

from shared.cli import main as cli_main
from style_transfer.outputs import APP

COMMANDS = {
    "stylize": "style_transfer.cli.stylize",
    "styles": "style_transfer.cli.styles",
    "train": "style_transfer.cli.train",
    "train-arbitrary": "style_transfer.cli.train_arbitrary",
    "video": "style_transfer.cli.video",
    "paint": "style_transfer.cli.paint",
}


def main(argv: list[str] | None = None) -> int:
    return cli_main(APP, __doc__, COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
