#!/usr/bin/env python
"""Explanations: how long ``--explain`` and ``compare`` take, against the plain run they explain.

    .venv/bin/python benchmarks/explain.py            # england-la and england-la-plan (a few minutes)
    .venv/bin/python benchmarks/explain.py --lsoa     # ... and england-lsoa (about two minutes more)
    .venv/bin/python benchmarks/explain.py --runs 3

Each command runs as a fresh process (``--runs`` times, the median and the fastest shown) after
one warm-up; its baseline, measured in the same run, is the same scenario's ``allocator run -q``:
the ratio is what the explanation costs in solves of the scenario.  An explanation re-solves the
scenario without each family of rules (its prices) and solves the fair-share optima the waterfall
passes through; a plan's rule prices re-solve the whole plan (benchmarks/README.md, sessions 29
and 30).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOCATOR = str(Path(sys.executable).parent / "allocator")
CASES = [  # (scenario, the explaining command's arguments after the scenario's path)
    ("england-la", ["run", "--explain"]),
    ("england-la", ["compare"]),
    ("england-la-plan", ["run", "--explain"]),
]
LSOA = [("england-lsoa", ["run", "--explain"])]


def _time(arguments: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([ALLOCATOR, *arguments], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _timed(arguments: list[str], runs: int) -> tuple[float, float]:
    _time(arguments)  # warm-up: bytecode written, files in the page cache
    times = [_time(arguments) for _ in range(runs)]
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="timed runs of each command (default: %(default)s)")
    parser.add_argument("--lsoa", action="store_true", help="england-lsoa's --explain too")
    args = parser.parse_args()
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.2f}; {args.runs} timed run(s) of each after one warm-up\n")
    print("| command | median s | fastest s | baseline: `allocator run SCENARIO -q` s | x baseline |")
    print("|---|---:|---:|---:|---:|")
    baselines: dict[str, float] = {}
    for scenario, command in CASES + (LSOA if args.lsoa else []):
        path = f"scenarios/{scenario}"
        if scenario not in baselines:
            baselines[scenario] = _timed(["run", path, "-q"], args.runs)[0]
        median, fastest = _timed([command[0], path, *command[1:]], args.runs)
        shown = f"allocator {command[0]} {path} {' '.join(command[1:])}".strip()
        print(f"| `{shown}` | {median:.2f} | {fastest:.2f} | {baselines[scenario]:.2f} | "
              f"{median / baselines[scenario]:.1f} |")
    print(f"\nLoad average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
