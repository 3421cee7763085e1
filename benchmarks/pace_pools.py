#!/usr/bin/env python
"""Towards the pace of change at national scale: the LP over pools of lines, and its certificate.

    .venv/bin/python benchmarks/pace_pools.py                 # 1,000 to 4,000 synthetic areas (a few minutes)
    .venv/bin/python benchmarks/pace_pools.py --sizes 2000
    .venv/bin/python benchmarks/pace_pools.py --lsoa          # england-lsoa's "Pace of change" (about 7 minutes)

A measurement, not (yet) a solver: how fast the pace-of-change LP (rows form, `allocator.run`'s
model) is once its *pools* are known, and how far a rule for finding them goes.  A pool is a set
of one service's lines held at one intensity: the LP with ``x = E z`` (one column per pool and
piece, rows that become empty or repeated dropped) is a restriction of the LP, so its optimum is a
lower bound, and the LP's optimum when the pools are right.

1. the whole LP by HiGHS's interior point with crossover (the baseline, what allocator does);
2. the LP over the optimum's pools (the lines of a service at one intensity);
3. the certificate: prices for the whole LP meeting complementary slackness with the pooled
   allocation, found by a feasibility LP over the rows it holds tight (one constraint per column:
   its reduced cost zero between its bounds, of the right sign at one; none for a fixed column).
   Feasible prices prove the allocation optimal by weak duality, without a basis.  The pooled LP's
   own prices do not (it is dual degenerate: `benchmarks/README.md`, "Plans", session 10);
4. what allocator does (`allocator.model.pools`, its docstring): pools found round by round from
   one a service, proven by a Lagrangian bound.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIGHT = 1e-7  # a row or bound is held tight within this share of its scale


def _highs(lp, **options):
    from allocator.model.highs import highs_model, new_highs

    h = new_highs()
    h.setOptionValue("random_seed", 0)
    for key, value in options.items():
        h.setOptionValue(key, value)
    h.passModel(highs_model(lp))
    start = time.perf_counter()
    h.run()
    return h, time.perf_counter() - start


def pools_at(x: np.ndarray, lay) -> list[np.ndarray]:
    """Each service's lines grouped by their intensity in ``x``."""
    out = []
    for cols in lay.cols:
        level = np.where(cols >= 0, x[np.maximum(cols, 0)], 0.0).sum(axis=0)
        out.append(np.unique(np.round(level, 9), return_inverse=True)[1].ravel())
    return out


def certificate(lp, x):
    """Prices meeting complementary slackness with ``x`` (a minimisation, HiGHS's signs): the
    feasibility LP's status, its seconds and the number of rows held tight."""
    from allocator.model.highs import new_highs

    A, c = lp.matrix.tocsc(), lp.cost
    activity = A @ x
    scale = np.maximum(1.0, abs(A) @ np.abs(x))
    low = activity <= lp.row_lower + TIGHT * scale
    high = activity >= lp.row_upper - TIGHT * scale
    rows = np.flatnonzero(low | high)
    bound = TIGHT * np.maximum(1.0, np.abs(x))
    at_lo, at_hi = x <= lp.col_lower + bound, x >= lp.col_upper - bound
    c_lo, c_hi = np.where(at_hi, c, -np.inf), np.where(at_lo, c, np.inf)
    between = ~at_lo & ~at_hi
    c_lo[between], c_hi[between] = c[between], c[between]
    fixed = at_lo & at_hi
    c_lo[fixed], c_hi[fixed] = -np.inf, np.inf
    cons = np.flatnonzero(np.isfinite(c_lo) | np.isfinite(c_hi))
    AT = A.T.tocsr()[cons][:, rows].tocsr()
    h = new_highs()
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("solver", "ipm")
    h.setOptionValue("run_crossover", "on")
    h.addVars(len(rows), np.where(low & ~high, 0.0, -np.inf)[rows], np.where(high & ~low, 0.0, np.inf)[rows])
    h.addRows(len(cons), c_lo[cons], c_hi[cons], AT.nnz, AT.indptr, AT.indices, AT.data)
    start = time.perf_counter()
    h.run()
    return h.modelStatusToString(h.getModelStatus()), time.perf_counter() - start, len(rows)


def measure(lp, whole: bool = True) -> dict:
    from unittest import mock

    from allocator.model import pools

    out = {"lp": f"{lp.n_rows:,} x {lp.n_cols:,}", "lines": len(lp.groups.service)}
    if whole:
        h, out["whole"] = _highs(lp, solver="ipm", run_crossover="on")
        x = np.asarray(h.getSolution().col_value)
        out["objective"] = h.getInfo().objective_function_value
        lay = pools._layout(lp)
        pool_of = pools_at(x, lay)
        small, E, _, restore, _ = pools._pooled(lp, lay, pool_of)
        h2, out["pooled_s"] = _highs(small, solver="simplex")
        out["pools"] = sum(int(p.max()) + 1 for p in pool_of)
        out["pooled"] = f"{small.n_rows:,} x {small.n_cols:,}"
        z = restore(np.asarray(h2.getSolution().col_value))[:E.shape[1]]
        out["apart"] = abs(float(lp.cost @ (E @ z)) - out["objective"]) / max(1.0, abs(out["objective"]))
        out["status"], out["proof"], _ = certificate(lp, E @ z)
    start = time.perf_counter()
    with mock.patch.object(pools, "MIN_COLUMNS", 0):
        solution = pools.solve(lp)
    out["allocator_s"] = time.perf_counter() - start
    out["allocator"] = "declined" if solution is None else solution.solver
    out["allocator_objective"] = None if solution is None else float(lp.cost @ solution.x)
    return out


def main(argv: list[str] | None = None) -> int:
    import allocator
    from allocator.build.synthetic import write_scenario
    from allocator.model.lp import build

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 2_000, 4_000])
    parser.add_argument("--lsoa", action="store_true", help="england-lsoa's 'Pace of change' (allocator's way only)")
    args = parser.parse_args(argv)
    cases = []
    if args.lsoa:
        from allocator.scenario.options import apply

        s = allocator.load(ROOT / "scenarios" / "england-lsoa")
        cases.append(("england-lsoa, Pace of change", build(apply(s, next(o for o in s.options if o.name == "Pace of change"))), False))
    else:
        for n in args.sizes:
            with tempfile.TemporaryDirectory() as folder:
                lp = build(allocator.load(write_scenario(folder, n, seed=0, baseline=True, pace=(0.05, 0.15))))
            cases.append((f"synthetic {n:,}", lp, True))
    results = [(name, measure(lp, whole)) for name, lp, whole in cases]
    print("| case | LP rows x columns | whole LP, interior point s | lines | pools at the optimum | pooled LP | "
          "pooled s | objectives apart | certificate s | certificate |")
    print("|---|---|---:|---:|---:|---|---:|---:|---:|---|")
    for name, r in results:
        if "whole" in r:
            print(f"| {name} | {r['lp']} | {r['whole']:.2f} | {r['lines']:,} | {r['pools']:,} | {r['pooled']} | "
                  f"{r['pooled_s']:.3f} | {r['apart']:.1e} | {r['proof']:.2f} | {r['status']} |")
        else:
            print(f"| {name} | {r['lp']} | not run | {r['lines']:,} | | | | | | |")
    print("\nallocator's way (`allocator.model.pools`, the size threshold lifted):\n")
    print("| case | s | x the whole LP's time | objective apart | how |")
    print("|---|---:|---:|---:|---|")
    for name, r in results:
        ratio = f"{r['allocator_s'] / r['whole']:.2f}" if "whole" in r else ""
        apart = (f"{abs(r['allocator_objective'] - r['objective']) / max(1.0, abs(r['objective'])):.1e}"
                 if "whole" in r and r["allocator_objective"] is not None else "")
        print(f"| {name} | {r['allocator_s']:.2f} | {ratio} | {apart} | {r['allocator']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
