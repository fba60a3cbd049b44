"""The performance suite: ``make bench`` (all) or ``make bench ARGS="johnson --reference PATH"``.

    python -m labs.bench                      # every bench
    python -m labs.bench gatys johnson        # those two (a part of a name: every match)
    python -m labs.bench johnson --help       # that bench's own options
    python -m labs.bench johnson --reference ~/src/examples

Names come first; the options after them go to every bench named. Each ``labs/bench_<name>.py``
has ``main(argv) -> None``, measures our implementation against its baseline side by side in one
process and prints the ratios.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
from pathlib import Path

from shared.allocator import keep_freed_memory
from shared.errors import UserError

PROG = "python -m labs.bench"


def add_parts_argument(parser: argparse.ArgumentParser, parts: tuple[str, ...]) -> None:
    """``--parts``: which of a bench's measurements to run, all by default."""
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=parts,
        default=list(parts),
        help="what to measure (default: all)",
    )


def benches() -> list[str]:
    return sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))


def select(wanted: list[str]) -> list[str]:
    """All benches, the ones named exactly, else the ones whose name contains a given part.

    An exact name picks that bench alone: ``johnson`` is not also ``johnson_vs_gatys``.
    """
    exact = [n for n in benches() if n in wanted or n.removeprefix("bench_") in wanted]
    return exact or [n for n in benches() if not wanted or any(w in n for w in wanted)]


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """(this command's arguments, the benches' options): the names end at the first option.

    Without a name, every argument is this command's own (``--help``, ``--list``).
    """
    if not argv or argv[0].startswith("-"):
        return argv, []
    cut = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    return argv[:cut], argv[cut:]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="benches to run (default: all of them)"
    )
    parser.add_argument("--list", action="store_true", help="list the benches and stop")
    return parser.parse_args(argv)


def takes_options(module: object) -> bool:
    return bool(inspect.signature(module.main).parameters)


def run(names: list[str], options: list[str]) -> None:
    modules = {name: importlib.import_module(f"labs.{name}") for name in names}
    refusing = [name for name, m in modules.items() if options and not takes_options(m)]
    if refusing:
        raise UserError(f"{', '.join(refusing)} take(s) no options; run it without {options[0]}")
    for name, module in modules.items():
        if len(modules) > 1:
            print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        module.main(options) if takes_options(module) else module.main()
        print(f"({name}: {time.perf_counter() - start:.0f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    keep_freed_memory()  # as every command does: see shared.allocator
    own, options = split_argv(sys.argv[1:] if argv is None else argv)
    args = parse_args(own)
    if args.list:
        print("\n".join(n.removeprefix("bench_") for n in benches()))
        return 0
    names = select(args.names)
    try:
        if not names:
            raise UserError(f"nothing matches {args.names}; available: {', '.join(benches())}")
        run(names, options)
    except UserError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
