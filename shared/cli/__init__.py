"""What every command line shares: sub-command dispatch, one-line errors, the common flags.

An app lists its sub-commands as ``name -> module``; each module (in the app's ``cli/``) has
``add_arguments(parser)`` and ``run(args) -> int``, turns the flags into a config object and calls
one library function. Below ``cli/`` nothing sees an ``argparse.Namespace``.

Flags whose default a dataclass owns are declared with ``default=None`` and passed on with
:func:`given`, so the dataclass stays the one place that says what the default is; the help text
quotes it with :func:`default_of`. :class:`~shared.errors.UserError` raised anywhere below
reaches the user as one line on stderr with exit status 2, never as a traceback; so does a full
disk (an ENOSPC behind any exception: "no space left on ...").
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shared.allocator import keep_freed_memory
from shared.atomic import no_space_in
from shared.device import DEFAULT_DEVICE, DEVICE_CHOICES
from shared.distributed import shutdown
from shared.errors import UserError
from shared.precision import DEFAULT_PRECISION, PRECISION_CHOICES

# The run folder's flag, then its older spelling: ``torchrun`` reads ``--run`` placed after the
# script as an abbreviation of its own ``--run-path`` and stops, so ``--run-dir`` is the one to
# use (and the only one documented); ``--run`` still works when the command is run directly.
RUN_DIR_FLAG, RUN_DIR_ALIAS = "--run-dir", "--run"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the module docstring's line breaks (its example commands) and shows defaults."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        if action.option_strings or action.nargs in ("?", "*"):
            return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"
        return text


def build_parser(
    prog: str, description: str, commands: Mapping[str, str], only: str | None = None
) -> argparse.ArgumentParser:
    """The app's parser. With ``only`` (the command about to run) just that command's module is
    imported: the others, listed by name, would cost their imports (torchvision, matplotlib,
    training code) on every start; ``--help`` at the top imports them all for their summaries."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in commands.items():
        if only is not None and name != only:
            sub.add_parser(name)
            continue
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or "").strip()
        p = sub.add_parser(
            name,
            help=doc.splitlines()[0] if doc else None,
            description=doc,
            formatter_class=HelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(
    prog: str, description: str, commands: Mapping[str, str], argv: Sequence[str] | None = None
) -> int:
    keep_freed_memory()  # before the first large tensor: see shared.allocator
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = argv[0] if argv and argv[0] in commands else None
    args = build_parser(prog, description, commands, only=chosen).parse_args(argv)
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
    except Exception as exc:
        # shared.atomic words a full disk for every write it makes; this catches the rest
        message = no_space_in(exc)
        if message is None:
            raise
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    finally:
        shutdown()  # a command run under torchrun joined a process group: leave it cleanly


def given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The named options the user set (not ``None``); a dataclass's own defaults fill the rest."""
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def default_of(cls: type, name: str) -> Any:
    """The default of dataclass field ``name``: for help text that must not restate it."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    raise KeyError(f"{cls.__name__} has no field {name!r} with a default")


def add_device_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default=DEFAULT_DEVICE,
        help="where to compute; auto: cuda, then mps, then cpu",
    )


def add_precision_argument(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None = None
) -> None:
    """``--precision``; ``default`` says, where it is not ``auto``, what leaving it out means."""
    parser.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        help="what to compute in; auto: bf16 where the device computes it natively and it is "
        f"faster on this model, else fp32 (default: {default or DEFAULT_PRECISION})",
    )


def add_compile_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--compile``: the network through ``torch.compile`` (:mod:`shared.compiled`)."""
    parser.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="compile the network with torch.compile first: seconds to build (again for each "
        "new size), then faster passes; pays on videos and folders of same-size photos",
    )


def add_threads_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads (default: the cores not already busy, by the load average)",
    )


def add_run_dir_argument(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, help: str, *, required: bool = False
) -> None:
    """The run folder flag, ``--run-dir RUN`` (or ``--run RUN``), as ``args.run``."""
    parser.add_argument(
        RUN_DIR_FLAG,
        RUN_DIR_ALIAS,
        dest="run",
        type=Path,
        metavar="RUN",
        required=required,
        help=f"{help} ({RUN_DIR_ALIAS} is the same flag, but torchrun refuses it)",
    )
