#!/usr/bin/env python
"""The price of equity on england-la: SII reductions one by one, and the frontier by either measure.

    .venv/bin/python benchmarks/equity.py            # about a minute

In this process, against the baseline measured in the same run (one health-gain `allocator.run`):

- each SII reduction through `allocator.run` (limit 10 s): seconds, how it was solved, or the gap
  between the best allocation found and the bound when the limit stopped it;
- `allocator.analysis.frontier.frontier` with 21 points by the worst-off floor and by the SII
  reduction: seconds, and the health each gives up at its last point, where both reach about the
  same reduction (the worst-off floor overstates what that reduction costs).

Targets (issue 15, england-la): any attainable SII reduction < 5 s; the 21-point exact frontier
< 30 s (here only up to the largest reduction a reference run reaches).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REDUCTIONS = (0.30, 0.382, 0.39, 0.40)
LIMIT = 10.0


def _timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    value = work()
    return time.perf_counter() - start, value


def _reduction(scenario, level: float) -> tuple[float, str]:
    import allocator
    from allocator.errors import SolverError

    start = time.perf_counter()
    try:
        result = allocator.run(scenario.with_(sii_reduction=level), time_limit=LIMIT)
    except SolverError as exc:
        if exc.incumbent is None:
            return time.perf_counter() - start, "stopped, no allocation found"
        gap = abs(exc.bound - exc.incumbent) / abs(exc.bound)
        return time.perf_counter() - start, f"stopped, {gap:.2%} from the bound"
    how = result.solution.solver
    return time.perf_counter() - start, how[how.find("(") + 1:how.rfind(")")] if "(" in how else how


def main() -> int:
    import allocator
    from allocator.analysis import frontier

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.2f}")
    scenario = allocator.load(ROOT / "scenarios" / "england-la").with_(objective="health-gain")
    baseline, optimum = _timed(lambda: allocator.run(scenario))
    best = frontier._row("health-gain", optimum)["total_gain"]
    print(f"\nBaseline: one health-gain run, {baseline:.2f} s\n")
    print("| SII reduction | s | x baseline | how |")
    print("|---:|---:|---:|---|")
    for level in REDUCTIONS:
        seconds, how = _reduction(scenario, level)
        print(f"| {level:g} | {seconds:.2f} | {seconds / baseline:.1f} | {how} |", flush=True)
    print("\n| frontier (21 points) | s | x baseline | last point's SII reduction | health given up there |")
    print("|---|---:|---:|---:|---:|")
    for measure in ("worst-off", "sii"):
        seconds, (table, _) = _timed(lambda m=measure: frontier.frontier(scenario, 21, options=False, measure=m))
        last = table[table["point"].astype(str).str.isdigit()].iloc[-1]
        print(f"| by {measure} | {seconds:.2f} | {seconds / baseline:.1f} | {last['sii_reduction']:.4f} | "
              f"{best - last['total_gain']:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
