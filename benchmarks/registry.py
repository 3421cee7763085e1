#!/usr/bin/env python
"""Every rule combination at 300 / 4,000 / 32,844 areas, against a raw HiGHS solve of the same arrays.

    .venv/bin/python benchmarks/registry.py --quick     # 300 and 1,000 areas, 20 s a case (< 3 min): make bench-quick
    .venv/bin/python benchmarks/registry.py             # ... and 32,844 areas, 600 s a case (long)
    .venv/bin/python benchmarks/registry.py --only maximin --sizes 4000

Each case is a seeded synthetic scenario (`allocator.build.synthetic.write_scenario`, 8 services,
a baseline so that the pace of change applies) with one rule set changed, solved by
`allocator.run` in a fresh process (its own peak memory) under a time cap.  In the same process
the baseline: the LP allocator built (its arrays) passed to highspy in one call and solved by the
method allocator chose; the ratio is allocator's whole run over that raw solve, and the two
objectives must agree (relative 1e-7).  For the default rules at 300 and 4,000 areas, also the
naive textbook formulation of DESIGN.md (`benchmarks/run.py`'s ``naive_lp``, capped at 120 s).
The load average is printed before and after: a regression shows only on a quiet machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (300, 4_000, 32_844)
QUICK_SIZES = (300, 1_000)
# name -> (write_scenario settings, Scenario.with_ changes after loading)
CASES = {
    "default (monotone, health gain)": ({}, {}),
    "pace of change": ({"pace": (0.05, 0.15)}, {}),
    "minimum slope": ({"min_slope": 0.05}, {}),
    "proportional": ({"proportionality": "proportional"}, {}),
    "pace + proportional": ({"pace": (0.25, 0.5), "proportionality": "proportional"}, {}),  # (-5% / +15%: no scales hold every window from 4,000 areas)
    "pace + minimum slope": ({"pace": (0.05, 0.15), "min_slope": 0.05}, {}),
    "fair share": ({"objective": "fair-share"}, {}),
    "equity-weighted": ({}, {"objective": "equity-weighted"}),
    "maximin": ({}, {"objective": "maximin"}),
    "level-up": ({}, {"objective": "level-up"}),
    "SII reduction": ({}, {"sii_reduction": "half"}),
    "proportional + maximin": ({"proportionality": "proportional"}, {"objective": "maximin"}),
    "proportional + level-up": ({"proportionality": "proportional"}, {"objective": "level-up"}),
    "minimum slope + maximin": ({"min_slope": 0.05}, {"objective": "maximin"}),
}  # (no "proportional + minimum slope": a minimum slope is refused outside monotone mode, at load)


def child(name: str, n_areas: int, target: str) -> None:
    """In a fresh process: write the case, solve it, and the raw HiGHS baseline; JSON to ``target``."""
    import re

    import allocator
    from allocator.build.synthetic import write_scenario
    from allocator.model.solver import _configure, choose_method, highs_model, new_highs
    from benchmarks.run import _peak_mb

    settings, changes = CASES[name]
    with tempfile.TemporaryDirectory() as folder:
        s = allocator.load(write_scenario(folder, n_areas, seed=0, baseline=True, **settings))
        if changes.get("sii_reduction") == "half":  # half the reduction the health-gain optimum already makes, x3
            base = allocator.run(s).gradient.metrics.set_index("measure")
            made = abs(base.at["sii_outcome", "before"]) - abs(base.at["sii_outcome", "after"])
            changes = {"sii_reduction": float(1.5 * max(made, 1e-6))}
        s = s.with_(**changes)
        start = time.perf_counter()
        result = allocator.run(s)
        seconds = time.perf_counter() - start
    lp, solution = result.lp, result.solution
    own = {"seconds": seconds, "solver": solution.solver, "rows": lp.n_rows, "cols": lp.n_cols,
           "objective": solution.objective, "peak_mb": _peak_mb()}
    Path(target).write_text(json.dumps(own))  # kept if the baseline below overruns the cap
    found = re.search(r"\((\w+)", solution.solver)
    method = found.group(1) if found and found.group(1) in ("simplex", "ipm") else "simplex"
    if "sifting" in solution.solver:  # against the whole LP solved as HiGHS would be asked without sifting
        method = choose_method(lp)
    # the options allocator sets: the same model solved the same way; a model with in-order binaries
    # as allocator solves it first, relaxed (the binaries are added only where segments fill out of order)
    relaxed = dataclasses.replace(lp, integrality=None)
    h = new_highs()
    _configure(h, relaxed, method, None)
    h.passModel(highs_model(relaxed))
    mark = time.perf_counter()
    h.run()
    raw = time.perf_counter() - mark
    value = h.getInfo().objective_function_value / lp.objective_scale
    Path(target).write_text(json.dumps({
        **own, "raw_seconds": raw, "raw_objective": -value if lp.maximize else value,
        "raw_status": h.modelStatusToString(h.getModelStatus()), "peak_mb": _peak_mb()}))


def run_case(name: str, n_areas: int, cap: float) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        target = Path(out.name)
    try:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", name, str(n_areas),
                               str(target)], cwd=ROOT, capture_output=True, text=True, timeout=cap)
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
        return json.loads(target.read_text())
    except subprocess.TimeoutExpired:  # allocator's own numbers, if it finished before its baseline
        own = json.loads(target.read_text()) if target.stat().st_size else {}
        return {**own, "timeout": cap, "elapsed": time.perf_counter() - start}
    finally:
        target.unlink(missing_ok=True)


def naive(n_areas: int) -> str:
    """The naive formulation's solve time for the default case (benchmarks/run.py's child)."""
    from allocator.build.synthetic import write_scenario
    from benchmarks.run import run_child

    with tempfile.TemporaryDirectory() as folder:
        r = run_child("naive", write_scenario(folder, n_areas, seed=0, baseline=True))
    return f"{r['build'] + r['solve']:.2f}" + (" (capped)" if r["time_limit"] else "")


def row(name: str, n_areas: int, r: dict, naive_seconds: str) -> str:
    if "timeout" in r and "seconds" in r:  # allocator finished; its raw-HiGHS baseline did not
        return (f"| {name} | {n_areas:,} | {r['seconds']:.2f} | {r['rows']:,} x {r['cols']:,} | "
                f"stopped at the {r['timeout']:.0f} s cap | | not compared | {r['peak_mb']:,.0f} | {naive_seconds}")
    if "timeout" in r:
        return f"| {name} | {n_areas:,} | > {r['timeout']:.0f} (stopped) | | | | | |"
    if "error" in r:
        return f"| {name} | {n_areas:,} | failed: {r['error'][:80]} | | | | | |"
    same = abs(r["objective"] - r["raw_objective"]) / max(1.0, abs(r["raw_objective"]))
    return (f"| {name} | {n_areas:,} | {r['seconds']:.2f} | {r['rows']:,} x {r['cols']:,} | {r['raw_seconds']:.2f} | "
            f"{r['seconds'] / max(r['raw_seconds'], 1e-3):.1f} | {same:.1e} | {r['peak_mb']:,.0f} | {naive_seconds}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 and 1,000 areas, 20 s a case")
    parser.add_argument("--sizes", type=int, nargs="+", help="numbers of areas")
    parser.add_argument("--only", help="cases whose name contains this")
    parser.add_argument("--cap", type=float, help="seconds a case may take (default 20 quick, 600 full)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return 0
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    cap = args.cap or (20.0 if args.quick else 600.0)
    names = [n for n in CASES if args.only is None or args.only.lower() in n.lower()]
    print(f"Load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); cap {cap:g} s a case")
    print()
    print("| rules | areas | allocator.run s | LP rows x columns | raw HiGHS s (same arrays) | x raw | objectives "
          "differ by | peak MB | naive s |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for n_areas in sizes:
        for name in names:
            naive_seconds = naive(n_areas) if name.startswith("default") and n_areas <= 4_000 else ""
            print(row(name, n_areas, run_case(name, n_areas, cap), naive_seconds), flush=True)
    print()
    print(f"Load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
