"""Run every benchmark module (`bench/<area>_bench.py`) in a fixed order."""

from __future__ import annotations

import importlib
import sys
import time

MODULES = ("print_bench", "schedule_bench", "corpus_bench", "jobcpu_bench", "run_bench", "liveness_bench",
           "estimate_bench", "capacity_bench")


def main(argv: list[str]) -> int:
    """Run the named benchmarks (default: all), each printing its own table."""
    chosen = [name for name in MODULES if not argv or any(arg in name for arg in argv)]
    if not chosen:
        print(f"no benchmark matches {' '.join(argv)}; there are: {', '.join(MODULES)}", file=sys.stderr)
        return 2
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        module.main()
        print(f"({name} took {time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
