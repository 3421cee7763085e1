#!/usr/bin/env python
"""Fixed costs: how long the command line takes end to end, against the Python floor under it.

    .venv/bin/python benchmarks/startup.py            # about half a minute
    .venv/bin/python benchmarks/startup.py --runs 15

Each command runs ``--runs`` times as a fresh process after one warm-up run (so that allocator's
bytecode is cached, as on any machine that can write it: with PYTHONDONTWRITEBYTECODE set every
run compiles allocator's ~70 modules again, 0.1 s more); the table shows the median and the
fastest.  The baselines, measured in the same run: ``python -c pass`` (the interpreter) and the
libraries a run cannot do without (numpy, pandas, scipy.sparse, highspy), imported and nothing
else.  Targets (issue 16, item 2): ``allocator --help`` < 0.3 s, ``allocator run quickstart``
< 0.6 s, england-la end to end < 1 s.
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
BIN = Path(sys.executable).parent
FLOOR = "import numpy, pandas, scipy.sparse, highspy"
CASES = [  # (label, command, target seconds or None)
    ("python -c pass (baseline: the interpreter)", [sys.executable, "-c", "pass"], None),
    (f"python -c '{FLOOR}' (baseline: the libraries)", [sys.executable, "-c", FLOOR], None),
    ("allocator --help", [str(BIN / "allocator"), "--help"], 0.3),
    ("allocator run scenarios/quickstart -q", [str(BIN / "allocator"), "run", "scenarios/quickstart", "-q"], 0.6),
    ("allocator run scenarios/england-la -q", [str(BIN / "allocator"), "run", "scenarios/england-la", "-q"], 1.0),
]


def _time(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command (default: %(default)s)")
    runs = parser.parse_args().runs
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.2f}; {runs} runs of each after one warm-up\n")
    print("| command | median s | fastest s | median - libraries s | target s | verdict |")
    print("|---|---:|---:|---:|---:|---|")
    floor = None
    for label, command, target in CASES:
        _time(command, env)  # warm-up: bytecode written, files in the page cache
        times = [_time(command, env) for _ in range(runs)]
        median = statistics.median(times)
        if "libraries" in label:
            floor = median
        above = "" if floor is None or "baseline" in label else f"{median - floor:.2f}"
        verdict = "" if target is None else ("met" if median < target else "not met")
        print(f"| {label} | {median:.2f} | {min(times):.2f} | {above} | {target or ''} | {verdict} |")
    print(f"\nLoad average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
