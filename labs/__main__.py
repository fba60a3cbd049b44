"""Run an experiment recipe: ``make lab LAB=name`` or ``python -m labs name``.

A recipe is ``labs/<name>.toml`` with an ``app`` key; that app's lab runner runs it
(``labs.runners.<app>.run(recipe, out_dir) -> Path`` of the results table) and the table lands in
``runs/labs/<name>/``. ``python -m labs`` alone lists the recipes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import tomllib

from shared.allocator import keep_freed_memory
from shared.errors import UserError

LABS = Path(__file__).parent


def recipes() -> dict[str, Path]:
    return {p.stem: p for p in sorted(LABS.glob("*.toml"))}


def main(argv: list[str] | None = None) -> int:
    keep_freed_memory()  # as every command does: see shared.allocator
    parser = argparse.ArgumentParser(
        prog="python -m labs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", nargs="?", help="recipe name (file stem in labs/)")
    parser.add_argument(
        "--out", type=Path, help="output folder (default runs/labs/<name>, or <name>-quick)"
    )
    parser.add_argument("--quick", action="store_true", help="smallest settings, for a smoke run")
    args = parser.parse_args(argv)
    available = recipes()
    if not args.name:
        for name, path in available.items():
            with open(path, "rb") as f:
                print(f"{name:28s} {tomllib.load(f).get('description', '')}")
        return 0
    if args.name not in available:
        print(
            f"labs: error: unknown recipe {args.name!r}; choose one of: "
            f"{', '.join(available) or '(none)'}",
            file=sys.stderr,
        )
        return 2
    with open(available[args.name], "rb") as f:
        recipe = tomllib.load(f)
    recipe.setdefault("name", args.name)
    recipe["quick"] = args.quick
    # a smoke run must never be reused as the real one, nor the other way round
    out = args.out or Path("runs/labs") / (f"{args.name}-quick" if args.quick else args.name)
    out.mkdir(parents=True, exist_ok=True)
    try:
        runner = recipe.get("runner", recipe["app"])  # an app's runner, unless the recipe names one
        table = importlib.import_module(f"labs.runners.{runner}").run(recipe, out)
    except UserError as exc:
        print(f"labs: error: {exc}", file=sys.stderr)
        return 2
    print(f"results: {table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
