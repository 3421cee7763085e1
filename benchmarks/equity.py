#!/usr/bin/env python
"""The price of equity: SII and gap reductions one by one, and the frontier by each measure.

    .venv/bin/python benchmarks/equity.py            # england-la, about a minute
    .venv/bin/python benchmarks/equity.py --lsoa     # england-lsoa (33,755 LSOAs), about two minutes

In this process, against the baseline measured in the same run (one health-gain `allocator.run`):

- each SII or gap reduction through `allocator.run` (limit 30 s at district scale): seconds, how it
  was solved, or the gap between the best allocation found and the bound when it was not proven;
- the attainable limit (`allocator.model.diagnose.reduction_limit`), proven by the Lagrangian bound
  where it can be, else searched by the MILP over the relaxation for up to a minute;
- `allocator.analysis.frontier.frontier` by the worst-off floor, the SII and the gap (21 points for
  england-la, 11 for england-lsoa): seconds, the last point's reductions and the health it gives
  up, and (``--lsoa``) the process's peak memory after each.

Targets (issue 15): england-la, any attainable SII or gap reduction < 5 s and the 21-point exact
frontier < 30 s; england-lsoa, an SII-reduction solve < 120 s and an 11-point frontier < 10 minutes
with peak memory stated.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = {  # scenario -> (measure, required reduction) solved one by one, and the frontier's points
    "england-la": ([("sii", 0.30), ("sii", 0.382), ("sii", 0.39), ("sii", 0.40), ("sii", 0.42), ("sii", 0.45),
                    ("sii", 0.48), ("sii", 0.50), ("gap", 0.34), ("gap", 0.38), ("gap", 0.40), ("gap", 0.43),
                    ("gap", 0.45)], 21, 30.0),
    "england-lsoa": ([("sii", 3.5), ("sii", 4.0), ("sii", 4.3), ("sii", 4.4), ("gap", 4.0), ("gap", 4.8)], 11, None),
}
SETTING = {"sii": "sii_reduction", "gap": "gap_reduction"}


def _timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    value = work()
    return time.perf_counter() - start, value


def _reduction(scenario, measure: str, level: float, limit: float | None) -> tuple[float, str]:
    import allocator
    from allocator.errors import InfeasibleError, SolverError

    start = time.perf_counter()
    try:
        result = allocator.run(scenario.with_(**{SETTING[measure]: level}), time_limit=limit)
    except InfeasibleError as exc:
        return time.perf_counter() - start, f"out of reach: {str(exc).split(' with this budget')[0]}"
    except SolverError as exc:
        if exc.incumbent is None:
            return time.perf_counter() - start, "stopped, no allocation found"
        gap = abs(exc.bound - exc.incumbent) / abs(exc.bound)
        return time.perf_counter() - start, f"not proven, {gap:.2%} from the bound"
    how = result.solution.solver
    return time.perf_counter() - start, how[how.find("(") + 1:] if "(" in how else how


def _searched(asked, rule: str) -> str:
    from allocator.model import diagnose

    try:
        return f"{diagnose.reduction_limit(asked, rule, time_limit=60):.6f}, the MILP over the relaxation"
    except diagnose.Bracket as bracket:
        low = "?" if bracket.low is None else f"{bracket.low:.4f}"
        return f"between {low} and {bracket.high:.4f} (the MILP over the relaxation stopped at 60 s)"


def _peak() -> str:
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB"


def main() -> int:
    import allocator
    from allocator.analysis import frontier
    from allocator.model import diagnose

    name = "england-lsoa" if "--lsoa" in sys.argv[1:] else "england-la"
    cases, points, limit = CASES[name]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.2f}; scenario {name}")
    scenario = allocator.load(ROOT / "scenarios" / name).with_(objective="health-gain")
    baseline, optimum = _timed(lambda: allocator.run(scenario))
    best = frontier._row("health-gain", optimum)["total_gain"]
    print(f"\nBaseline: one health-gain run, {baseline:.2f} s (peak {_peak()})\n")
    print("| reduction | s | x baseline | how |")
    print("|---|---:|---:|---|")
    for measure in ("sii", "gap"):
        rule = SETTING[measure]
        asked = scenario.with_(**{rule: 0.0})
        seconds, tried = _timed(lambda r=rule, a=asked: diagnose.limit_attempt(a, r, limit))
        offset = diagnose.reduction_offset(asked, rule)
        if tried is not None and tried.solution is not None:
            said = f"{offset - tried.incumbent:.6f}, proven"
        elif tried is not None and tried.bound is not None:
            low = "?" if tried.incumbent is None else f"{offset - tried.incumbent:.4f}"
            said = f"between {low} (an allocation in order) and {offset - tried.bound:.4f} (the Lagrangian bound)"
        else:
            said = "not known"
        if tried is not None and tried.solution is None:  # the MILP over the relaxation, for a minute
            more, said = _timed(lambda r=rule, a=asked: _searched(a, r))
            seconds += more
        print(f"| the {measure.upper() if measure == 'sii' else measure}'s attainable limit | {seconds:.2f} | "
              f"{seconds / baseline:.1f} | {said} |", flush=True)
    for measure, level in cases:
        seconds, how = _reduction(scenario, measure, level, limit)
        print(f"| {measure} {level:g} | {seconds:.2f} | {seconds / baseline:.1f} | {how} |", flush=True)
    print(f"\n| frontier ({points} points) | s | x baseline | last point's SII reduction | its gap reduction | "
          "health given up there | peak memory |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for measure in ("worst-off", "sii", "gap"):
        seconds, (table, _) = _timed(lambda m=measure: frontier.frontier(scenario, points, options=False, measure=m))
        last = table[table["point"].astype(str).str.isdigit()].iloc[-1]
        print(f"| by {measure} | {seconds:.2f} | {seconds / baseline:.1f} | {last['sii_reduction']:.4f} | "
              f"{last['gap_reduction']:.4f} | {best - last['total_gain']:,.0f} | {_peak()} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
