"""What every ``python -m <app>`` shares: sub-command dispatch and one-line errors.

An app lists its sub-commands as ``name -> module``; each module has ``add_arguments(parser)``
and ``run(args) -> int``. Bad input is raised as :class:`UserError` anywhere below and reaches
the user as one line on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Mapping, Sequence


class UserError(Exception):
    """Bad input the user can fix: printed as one line, exit status 2."""


def build_parser(
    prog: str, description: str, commands: Mapping[str, str]
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in commands.items():
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or "").strip().splitlines()
        p = sub.add_parser(
            name,
            help=doc[0] if doc else None,
            description=(module.__doc__ or "").strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(
    prog: str, description: str, commands: Mapping[str, str], argv: Sequence[str] | None = None
) -> int:
    parser = build_parser(prog, description, commands)
    args = parser.parse_args(argv)
    # Warnings meant for the user read as one line, without the source line that raised them.
    warnings.formatwarning = lambda message, category, *_, **__: f"{prog}: warning: {message}\n"
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
