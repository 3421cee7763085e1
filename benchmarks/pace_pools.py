#!/usr/bin/env python
"""Towards the pace of change at national scale: the LP over pools of lines, and its certificate.

    .venv/bin/python benchmarks/pace_pools.py                 # 2,000 and 4,000 synthetic areas (about a minute)
    .venv/bin/python benchmarks/pace_pools.py --sizes 1000

A measurement, not a solver: it shows how fast the pace-of-change LP is once its *pools* are
known, so that whoever takes issue 16's pace of change on can start from the numbers.  For each
size, a seeded synthetic scenario (8 services, -5% / +15% of its baseline) is built as
`allocator.run` builds it (rows form) and solved three ways, each in this process:

1. the whole LP by HiGHS's interior point with crossover (the baseline, what allocator does);
2. the LP over the optimum's pools: the runs of each service's need order at one intensity,
   one column per pool and piece, the ordering rows inside a pool dropped (a restriction of the
   LP, so its optimum is a lower bound that is exact when the pools are right);
3. the certificate: prices for the whole LP that meet complementary slackness with the pooled
   optimum, found as a feasibility LP over the rows the pooled allocation holds tight (one
   constraint per column: equal to its cost where it lies between its bounds, on the right side
   where it sits at one).  Feasible means the pooled allocation is the LP's optimum, proven by
   weak duality without a basis.

The pooled LP's own prices do not certify it (it is dual degenerate: `benchmarks/README.md`,
"Plans", session 10); the feasibility LP picks prices that do.  What is not solved here is
finding the pools without the optimum: the README's session 14 notes say what was tried.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEG = re.compile(r"^seg\(([^,]+),([^,]+),(\d+)\)$")
ORDER = re.compile(r"^order\(([^,]+),([^,]+),([^,]+)\)$")
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


def chains(lp):
    """Each line's segment columns by (area, service), and each service's chains of ordering rows."""
    segs: dict[tuple[str, str], list] = {}
    for j, name in enumerate(lp.col_names()):
        found = SEG.match(name)
        if found:
            area, service, k = found.groups()
            segs.setdefault((area, service), []).append((int(k), j))
    segs = {key: [j for _, j in sorted(v)] for key, v in segs.items()}
    edges: dict[str, list] = {}
    for i, name in enumerate(lp.row_names()):
        found = ORDER.match(name)
        if found:
            service, a, b = found.groups()
            edges.setdefault(service, []).append((i, a, b))
    out = []  # (service, areas in order, the ordering row after each but the last)
    for service, es in edges.items():
        after = {a: (b, i) for i, a, b in es}
        has_before = {b for _, _, b in es}
        for first in [a for a in after if a not in has_before]:
            areas, rows, at = [first], [], first
            while at in after:
                at, row = after[at]
                areas.append(at)
                rows.append(row)
            out.append((service, areas, rows))
    return segs, out


def pools(x, segs, runs, tol=1e-9):
    """The runs of each chain at one intensity, and the ordering rows inside them."""
    level = {key: x[cols].sum() for key, cols in segs.items()}
    found, inside = [], []
    for service, areas, rows in runs:
        current = [areas[0]]
        for a, b, row in zip(areas[:-1], areas[1:], rows):
            if abs(level[(b, service)] - level[(a, service)]) <= tol:
                current.append(b)
                inside.append(row)
            else:
                found.append((service, current))
                current = [b]
        found.append((service, current))
    return found, inside


def pooled(lp, segs, found, inside):
    """The LP over the pools (x = E z) with the rows inside pools dropped, and E."""
    n = lp.n_cols
    column = np.full(n, -1)
    at = 0
    for service, areas in found:
        cols = np.array([segs[(a, service)] for a in areas])
        for k in range(cols.shape[1]):
            column[cols[:, k]] = at
            at += 1
    rest = column < 0
    column[rest] = at + np.arange(int(rest.sum()))
    at += int(rest.sum())
    E = sp.csc_matrix((np.ones(n), (np.arange(n), column)), shape=(n, at))
    keep = np.ones(lp.n_rows, bool)
    keep[inside] = False
    first = np.full(at, -1)
    first[column[::-1]] = np.arange(n)[::-1]
    return dataclasses.replace(
        lp, matrix=(lp.matrix @ E).tocsr()[keep].tocsc(), cost=E.T @ lp.cost,
        col_lower=lp.col_lower[first], col_upper=lp.col_upper[first], row_lower=lp.row_lower[keep],
        row_upper=lp.row_upper[keep], col_blocks=(), row_blocks=(), gain_columns=None), E


def certificate(lp, x):
    """Prices meeting complementary slackness with ``x`` (a minimisation, HiGHS's signs): the
    feasibility LP's status, seconds, rows held tight, and the duality gap of the prices found."""
    from allocator.model.highs import new_highs

    A, c = lp.matrix.tocsc(), lp.cost
    activity = A @ x
    scale = np.maximum(1.0, abs(A) @ np.abs(x))
    low = activity <= lp.row_lower + TIGHT * scale
    high = activity >= lp.row_upper - TIGHT * scale
    rows = np.flatnonzero(low | high)
    y_lo = np.where(low & ~high, 0.0, -np.inf)[rows]
    y_hi = np.where(high & ~low, 0.0, np.inf)[rows]
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
    h.addVars(len(rows), y_lo, y_hi)
    h.addRows(len(cons), c_lo[cons], c_hi[cons], AT.nnz, AT.indptr, AT.indices, AT.data)
    start = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - start
    status = h.modelStatusToString(h.getModelStatus())
    gap = float("nan")
    if status == "Optimal":
        y = np.zeros(lp.n_rows)
        y[rows] = np.asarray(h.getSolution().col_value)
        reduced = c - A.T @ y
        side = np.where(y > 0, lp.row_lower, np.where(y < 0, lp.row_upper, 0.0))
        dual = float(y @ side + np.sum(np.where(reduced > 0, reduced * lp.col_lower, 0.0))
                     + np.sum(np.where(reduced < 0, reduced * np.where(np.isfinite(lp.col_upper), lp.col_upper, 0.0), 0.0)))
        primal = float(c @ x)
        gap = abs(primal - dual) / max(1.0, abs(primal))
    return status, seconds, len(rows), gap


def measure(n_areas: int) -> dict:
    import allocator
    from allocator.build.synthetic import write_scenario
    from allocator.model.lp import build

    with tempfile.TemporaryDirectory() as folder:
        lp = build(allocator.load(write_scenario(folder, n_areas, seed=0, baseline=True, pace=(0.05, 0.15))))
    h, whole = _highs(lp, solver="ipm", run_crossover="on")
    x = np.asarray(h.getSolution().col_value)
    objective = h.getInfo().objective_function_value
    segs, runs = chains(lp)
    found, inside = pools(x, segs, runs)
    small, E = pooled(lp, segs, found, inside)
    h2, seconds = _highs(small, solver="simplex")
    z = E @ np.asarray(h2.getSolution().col_value)
    status, proof, _tight, gap = certificate(lp, z)
    return {"areas": n_areas, "lp": f"{lp.n_rows:,} x {lp.n_cols:,}", "whole": whole, "lines": len(segs),
            "pools": len(found), "pooled": f"{small.n_rows:,} x {small.n_cols:,}", "pooled_s": seconds,
            "apart": abs(h2.getInfo().objective_function_value - objective) / max(1.0, abs(objective)),
            "proof": proof, "status": status, "gap": gap}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 4_000])
    args = parser.parse_args(argv)
    print("| areas | LP rows x columns | whole LP, interior point s | lines | pools at the optimum | "
          "pooled LP | pooled s | objectives apart | certificate s | certificate | duality gap |")
    print("|---:|---|---:|---:|---:|---|---:|---:|---:|---|---:|")
    for n in args.sizes:
        r = measure(n)
        print(f"| {r['areas']:,} | {r['lp']} | {r['whole']:.2f} | {r['lines']:,} | {r['pools']:,} | {r['pooled']} | "
              f"{r['pooled_s']:.3f} | {r['apart']:.1e} | {r['proof']:.2f} | {r['status']} | {r['gap']:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
