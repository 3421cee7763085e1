#!/usr/bin/env python
"""How long a multi-year, multi-stream plan takes to solve, against one year of the same scenario.

    .venv/bin/python benchmarks/plan.py            # England's districts (a few minutes at most)
    .venv/bin/python benchmarks/plan.py --lsoa     # ... and England's LSOAs over five years (long)

Each case is built and solved once (HiGHS, method chosen as `allocator run` does) and its peak
memory is the process's (ru_maxrss) after the case: run one case per process for a clean figure
(``--only NAME``).  The baseline, measured in the same run, is one year of the same districts
solved by `allocator.solve` (the single-year pipeline, with the pace of change): the ratio is
each case's solve over it.  Targets (issue 14): england-la x 5 years x 3 streams < 5 s;
england-lsoa x 5 years < 60 s and < 6 GB.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _lsoa_plan(years: int, streams: bool, carry: bool = True):
    """england-lsoa with a plan of ``years`` years (2% budget growth) and, if asked, the streams of
    england-la-plan (their first year's total is the grant)."""
    import allocator
    from allocator.scenario.budget import Plan

    s = allocator.load(ROOT / "scenarios" / "england-lsoa")
    plan_source = allocator.load(ROOT / "scenarios" / "england-la-plan")
    if streams:
        budgets = tuple(round(sum(f.amounts[t] for f in plan_source.streams), 2) for t in range(years))
        s = s.with_(streams=tuple(dataclasses.replace(f, amounts=f.amounts[:years], areas=None,
                                                      carry_over=f.carry_over and carry)
                                  for f in plan_source.streams))
    else:
        budgets = tuple(round(s.budget_gbp * 1.02 ** t, 2) for t in range(years))
    plan = Plan(years=years, budgets=budgets, labels=tuple(f"Year {t + 1}" for t in range(years)),
                lags=plan_source.plan.lags)
    return s.with_(plan=plan)


def _la_plan(variant: str):
    import allocator

    s = allocator.load(ROOT / "scenarios" / "england-la-plan")
    if variant == "no convergence":
        return s.with_(plan=dataclasses.replace(s.plan, convergence=None))
    if variant == "no pace":
        return s.with_(pace=None)
    if variant == "neither":
        return s.with_(pace=None, plan=dataclasses.replace(s.plan, convergence=None))
    return s


CASES = {
    "england-la-plan: 5 years, 3 streams, pace and convergence": lambda: _la_plan("all"),
    "england-la-plan without convergence": lambda: _la_plan("no convergence"),
    "england-la-plan without pace of change": lambda: _la_plan("no pace"),
    "england-la-plan without either (each year in suffix form)": lambda: _la_plan("neither"),
}
LSOA = {
    "england-lsoa: 1 year, 3 streams": lambda: _lsoa_plan(1, True),
    "england-lsoa: 5 years, no streams": lambda: _lsoa_plan(5, False),
    "england-lsoa: 5 years, 3 streams, no carry-over": lambda: _lsoa_plan(5, True, carry=False),
    "england-lsoa: 5 years, 3 streams, a carry-over grant": lambda: _lsoa_plan(5, True),
}


def _baseline() -> float:
    import allocator

    s = allocator.load(ROOT / "scenarios" / "england-la")
    start = time.perf_counter()
    allocator.solve(s)
    return time.perf_counter() - start


def _case(name: str, make) -> tuple[str, str, str, str, float]:
    from allocator.analysis.plan import run_plan

    scenario = make()
    start = time.perf_counter()
    result = run_plan(scenario)
    total = time.perf_counter() - start
    lp = result.plan_lp.lp
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    return (name, f"{lp.n_rows:,} x {lp.n_cols:,}", f"{result.solution.seconds:.2f}", f"{total:.2f}",
            peak, result.solution.seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lsoa", action="store_true", help="also the national LSOA cases (minutes)")
    parser.add_argument("--only", help="run only the case whose name starts with this")
    args = parser.parse_args()
    cases = {**CASES, **(LSOA if args.lsoa else {})}
    if args.only:
        cases = {k: v for k, v in cases.items() if k.startswith(args.only)}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, load average {load:.2f}")
    base = _baseline()
    print(f"baseline: england-la, one year (allocator.solve, pace of change): {base:.2f} s\n")
    print(f"| case | LP rows x columns | solve s | run_plan s | x baseline | peak GB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, make in cases.items():
        name, size, solve_s, total_s, peak, seconds = _case(name, make)
        print(f"| {name} | {size} | {solve_s} | {total_s} | {seconds / base:.1f} | {peak:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
