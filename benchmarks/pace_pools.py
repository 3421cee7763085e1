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
4. finding the pools without the optimum (`discover`): each service one pool at first, the pace
   rows elastic (artificial columns at a large cost); each round prices every row but the
   ordering ones (``order``, ``below``, ``above``) at the pooled LP's duals, and splits each pool
   wherever a piece's Lagrangian may place its step: over the service's levels of need (lines of
   equal need in any order among themselves), the step above level j takes every line of higher
   need and the lines of level j whose priced value is positive; every j whose value is within
   ``EPS`` of the best splits, near-ties included, so that degenerate prices still split.  When a
   round splits nothing, the certificate of 3.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIGHT = 1e-7  # a row or bound is held tight within this share of its scale
EPS = 1e-9  # a step within this share of the best counts as one the Lagrangian may take
ROUNDS = 150
GAP = 1e-9  # relative: the Lagrangian bound this close to the pooled allocation proves it optimal
CHAIN = ("order(", "below(", "above(")  # the rows that make intensity rise with need


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


def layout(lp) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per service: its level of need along the chain (G,), its pieces' columns (K, G; -1: none)."""
    pieces: dict[int, dict[int, tuple]] = {}
    for mine, cols, s, k in lp.spend_sets[0]:
        pieces.setdefault(int(s), {})[int(k)] = (np.asarray(mine), np.asarray(cols))
    out = []
    for s, by_piece in sorted(pieces.items()):
        order = np.asarray(lp.groups.order[s])
        position = np.full(int(order.max()) + 1, -1)
        position[order] = np.arange(len(order))
        cols = np.full((max(by_piece) + 1, len(order)), -1)
        for k, (mine, c) in by_piece.items():
            cols[k, position[mine]] = c
        need = lp.groups.need[order]
        out.append((np.concatenate([[0], np.cumsum(np.diff(need) > 0)]), cols))
    return out


def pools_at(x: np.ndarray, lay) -> list[np.ndarray]:
    """Each service's lines grouped by their intensity in ``x``."""
    out = []
    for _, cols in lay:
        level = np.where(cols >= 0, x[np.maximum(cols, 0)], 0.0).sum(axis=0)
        out.append(np.unique(np.round(level, 9), return_inverse=True)[1].ravel())
    return out


def pooled(lp, lay, pool_of):
    """The LP over the pools (``x = E z``), rows left empty or repeated dropped; E and the rows kept."""
    n = lp.n_cols
    column = np.full(n, -1)
    at = 0
    for (_, cols), pool in zip(lay, pool_of):
        size = int(pool.max()) + 1
        for k in range(cols.shape[0]):
            real = cols[k] >= 0
            column[cols[k][real]] = at + pool[real]
            at += size
    rest = column < 0
    column[rest] = at + np.arange(int(rest.sum()))
    at += int(rest.sum())
    E = sp.csc_matrix((np.ones(n), (np.arange(n), column)), shape=(n, at))
    B = (lp.matrix @ E).tocsr()
    B.sum_duplicates()
    B.eliminate_zeros()
    rng = np.random.default_rng(0)  # equal rows have equal random projections (and others, almost never)
    key = np.stack([np.round(B @ rng.random(at), 9), np.round(B @ rng.random(at), 9),
                    np.nan_to_num(lp.row_lower, neginf=-1e300), np.nan_to_num(lp.row_upper, posinf=1e300)], axis=1)
    keep = np.zeros(lp.n_rows, bool)
    keep[np.unique(key, axis=0, return_index=True)[1]] = True
    keep &= np.diff(B.indptr) > 0
    first = np.full(at, -1)
    first[column[::-1]] = np.arange(n)[::-1]
    small = dataclasses.replace(
        lp, matrix=B[keep].tocsc(), cost=E.T @ lp.cost, col_lower=lp.col_lower[first], col_upper=lp.col_upper[first],
        row_lower=lp.row_lower[keep], row_upper=lp.row_upper[keep], col_blocks=(), row_blocks=(), gain_columns=None)
    return small, E, keep


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


def _elastic(lp, rows, cost):
    """``lp`` with a +1 and a -1 artificial column on each of ``rows``, at ``cost``."""
    k = len(rows)
    extra = sp.csc_matrix((np.r_[np.ones(k), -np.ones(k)], (np.r_[rows, rows], np.arange(2 * k))),
                          shape=(lp.n_rows, 2 * k))
    return dataclasses.replace(lp, matrix=sp.hstack([lp.matrix, extra]).tocsc(), cost=np.r_[lp.cost, np.full(2 * k, cost)],
                               col_lower=np.r_[lp.col_lower, np.zeros(2 * k)], col_upper=np.r_[lp.col_upper, np.full(2 * k, np.inf)])


def refine(lp, lay, pool_of, y) -> tuple[list[np.ndarray], int, float]:
    """Each pool split wherever a piece's Lagrangian (rows priced at ``y``) may place its step, and
    the Lagrangian's value: a lower bound on the LP's optimum (weak duality; pieces of a line fill
    in order at any prices, since every piece of a line has the same coefficients in the priced
    rows and the gains are concave, so each piece's chain may be solved on its own)."""
    reduced = lp.cost - lp.matrix.T @ y
    value = -reduced
    side = np.where(y > 0, lp.row_lower, np.where(y < 0, lp.row_upper, 0.0))
    bound = float(y @ side)
    pieces = np.zeros(lp.n_cols, bool)
    for _, cols in lay:
        pieces[cols[cols >= 0]] = True
    rest = ~pieces
    bound += float(np.sum(np.minimum(reduced[rest] * lp.col_lower[rest], reduced[rest] * lp.col_upper[rest])))
    out, splits = [], 0
    for (level, cols), pool in zip(lay, pool_of):
        signature = np.zeros(len(pool), np.int64)
        levels = int(level.max()) + 1
        for k in range(cols.shape[0]):
            c = np.maximum(cols[k], 0)
            length = np.where(np.isfinite(lp.col_upper[c]), lp.col_upper[c], 1.0)
            v = np.where(cols[k] >= 0, value[c] * length, 0.0)
            tol = EPS * max(1e-12, float(np.abs(v).sum()))
            per_level = np.bincount(level, weights=v, minlength=levels)
            higher = np.concatenate([np.cumsum(per_level[::-1])[::-1][1:], [0.0]])
            step = np.concatenate([higher + np.bincount(level, weights=np.maximum(v, 0.0), minlength=levels), [0.0]])
            bound -= float(step.max())
            for j in np.flatnonzero(step >= step.max() - tol):
                if j == levels:
                    continue
                for upper in ((level > j) | ((level == j) & (v > tol)), (level > j) | ((level == j) & (v >= -tol))):
                    signature = signature * 1_000_003 + upper
        new = np.unique(np.stack([pool, signature]), axis=1, return_inverse=True)[1].ravel()
        splits += int(new.max()) - int(pool.max())
        out.append(new)
    return out, splits, bound


def discover(lp, verbose: bool = False) -> dict:
    """Pools found round by round (module docstring, 4), then the certificate."""
    names = lp.row_names()
    pace = np.flatnonzero([name.startswith("pace(") for name in names])
    chain = np.flatnonzero([name.startswith(CHAIN) for name in names])
    lay = layout(lp)
    pool_of = [np.zeros(cols.shape[1], np.int64) for _, cols in lay]
    start = time.perf_counter()
    for rounds in range(1, ROUNDS + 1):
        small, E, keep = pooled(lp, lay, pool_of)
        kept = np.flatnonzero(keep)
        at = np.searchsorted(kept, pace)
        at = at[(at < len(kept)) & (kept[np.minimum(at, len(kept) - 1)] == pace)]
        h, seconds = _highs(_elastic(small, at, 1e3 * np.abs(lp.cost).max()), solver="simplex")
        z = np.asarray(h.getSolution().col_value)
        y = np.zeros(lp.n_rows)
        y[kept] = np.asarray(h.getSolution().row_dual)
        y[chain] = 0.0
        pool_of, splits, bound = refine(lp, lay, pool_of, y)
        x = E @ z[:small.n_cols]
        primal = float(lp.cost @ x)
        gap = (primal - bound) / max(1.0, abs(primal))
        if verbose:
            print(f"  round {rounds}: {small.n_rows:,} x {small.n_cols:,}, {seconds:.2f} s, objective "
                  f"{h.getInfo().objective_function_value:.12g}, Lagrangian gap {gap:.1e}, {splits} splits", flush=True)
        if z[small.n_cols:].sum() <= 1e-9 and gap <= GAP:
            break
        if not splits:
            break
    found = time.perf_counter() - start
    if z[small.n_cols:].sum() <= 1e-9 and gap <= GAP:
        status, proof = "Lagrangian bound", 0.0
    else:
        status, proof, _ = certificate(lp, x)
    return {"rounds": rounds, "pools": sum(int(p.max()) + 1 for p in pool_of), "found": found, "proof": proof,
            "status": status if z[small.n_cols:].sum() <= 1e-9 else "uses artificials", "gap": gap,
            "objective": h.getInfo().objective_function_value}


def measure(lp, whole: bool = True, verbose: bool = False) -> dict:
    out = {"lp": f"{lp.n_rows:,} x {lp.n_cols:,}", "lines": len(lp.groups.service)}
    if whole:
        h, out["whole"] = _highs(lp, solver="ipm", run_crossover="on")
        x = np.asarray(h.getSolution().col_value)
        out["objective"] = h.getInfo().objective_function_value
        lay = layout(lp)
        pool_of = pools_at(x, lay)
        small, E, _ = pooled(lp, lay, pool_of)
        h2, out["pooled_s"] = _highs(small, solver="simplex")
        out["pools"] = sum(int(p.max()) + 1 for p in pool_of)
        out["pooled"] = f"{small.n_rows:,} x {small.n_cols:,}"
        out["apart"] = abs(h2.getInfo().objective_function_value - out["objective"]) / max(1.0, abs(out["objective"]))
        out["status"], out["proof"], _ = certificate(lp, E @ np.asarray(h2.getSolution().col_value))
    out["discover"] = discover(lp, verbose)
    return out


def main(argv: list[str] | None = None) -> int:
    import allocator
    from allocator.build.synthetic import write_scenario
    from allocator.model.lp import build

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 2_000, 4_000])
    parser.add_argument("--lsoa", action="store_true", help="england-lsoa's 'Pace of change' (discovery only)")
    parser.add_argument("--verbose", action="store_true", help="print each round")
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
    results = [(name, measure(lp, whole, args.verbose)) for name, lp, whole in cases]
    print("| case | LP rows x columns | whole LP, interior point s | lines | pools at the optimum | pooled LP | "
          "pooled s | objectives apart | certificate s | certificate |")
    print("|---|---|---:|---:|---:|---|---:|---:|---:|---|")
    for name, r in results:
        if "whole" in r:
            print(f"| {name} | {r['lp']} | {r['whole']:.2f} | {r['lines']:,} | {r['pools']:,} | {r['pooled']} | "
                  f"{r['pooled_s']:.3f} | {r['apart']:.1e} | {r['proof']:.2f} | {r['status']} |")
        else:
            print(f"| {name} | {r['lp']} | not run | {r['lines']:,} | | | | | | |")
    print("\nFinding the pools without the optimum (4.):\n")
    print("| case | rounds | pools found | finding s | certificate s | certificate | objective apart | x the whole LP's time |")
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for name, r in results:
        f = r["discover"]
        apart = f"{abs(f['objective'] - r['objective']) / max(1.0, abs(r['objective'])):.1e}" if "objective" in r else ""
        ratio = f"{(f['found'] + f['proof']) / r['whole']:.2f}" if "whole" in r else ""
        print(f"| {name} | {f['rounds']} | {f['pools']:,} | {f['found']:.2f} | {f['proof']:.2f} | {f['status']} | {apart} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
