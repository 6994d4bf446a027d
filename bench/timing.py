"""What the micro-benchmarks share: a timed loop and their command line.

A case is a function called over and over for a number of seconds; it
returns how many items one call handled (frames, polls: the rate is per
item). :func:`main` is the command every such module runs: ``--seconds`` per
case, a table on stdout, ``--json PATH`` for the results.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
import platform
import time

from bench.report import write_results

Results = dict[str, dict[str, float]]
"""Per case, its figures by name."""
Case = Callable[[], int]
"""One call of a case; returns how many items it handled."""


def measure(run_once: Case, seconds: float) -> tuple[int, float]:
    """Call ``run_once`` (after one warm-up call) for ``seconds``: (items handled, elapsed s)."""
    run_once()
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        count += run_once()
        now = time.perf_counter()
        if now >= deadline:
            return count, now - start


def main(
    argv: Sequence[str] | None,
    *,
    name: str,
    title: str,
    description: str,
    run: Callable[[float], Results],
    table: Callable[[Results], str],
) -> int:
    """The command of a micro-benchmark ``bench.<name>``: run, print, write JSON."""
    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=description)
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--seconds", type=float, default=1.0, metavar="S", help="time per case (default 1)"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    results = run(args.seconds)
    print(f"{title}, Python {platform.python_version()}, {args.seconds:g} s per case")
    print(table(results))
    write_results(args.json, name, results)
    return 0
