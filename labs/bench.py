"""The performance suite: ``make bench`` (all) or ``make bench ARGS=engine`` (names matching).

Each ``labs/bench_<name>.py`` has ``main() -> None`` that measures our implementation against its
reference side by side in one process and prints the ratios.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def benches() -> list[str]:
    return sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))


def select(wanted: list[str]) -> list[str]:
    """All benches, the ones named exactly, else the ones whose name contains a given part.

    An exact name picks that bench alone: ``johnson`` is not also ``johnson_vs_gatys``.
    """
    exact = [n for n in benches() if n in wanted or n.removeprefix("bench_") in wanted]
    return exact or [n for n in benches() if not wanted or any(w in n for w in wanted)]


def main(argv: list[str] | None = None) -> int:
    wanted = sys.argv[1:] if argv is None else argv
    names = select(wanted)
    if not names:
        print(
            f"bench: nothing matches {wanted}; available: {', '.join(benches())}", file=sys.stderr
        )
        return 2
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        importlib.import_module(f"labs.{name}").main()
        print(f"({name}: {time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
