"""A linear program of one row: a fractional knapsack, solved exactly by sorting.

With ``proportionality = "none"`` and nothing else over money (no pace of change, ordering,
service groups or streams) the LP is its budget row over pieces bounded by floors and caps.
HiGHS's interior point took 25.7 s on england-lsoa's (528,483 columns; the price of the
proportionality rule in `allocator.analysis.explain.prices`), after sifting gave up: about
190,000 pieces sit at their upper bound, and sifting keeps only columns at their lower bound
outside its working set.  Sorted, it takes a fraction of a second.

``min c'x`` subject to ``lo <= a'x <= hi`` and ``l <= x <= u``.  For a price ``y`` of the row
each column's reduced cost ``c_j - a_j y`` places it: at its lower bound when positive, its
upper when negative, anywhere between at zero.  The row's activity ``a'x(y)`` never falls as
``y`` rises (each column steps from the smaller of ``a_j l_j, a_j u_j`` to the larger at its
breakpoint ``y = c_j / a_j``), so the optimum is the ``y`` nearest zero at which the activity
can enter ``[lo, hi]``: ``y > 0`` with the row at ``lo``, ``y < 0`` at ``hi``, or ``y = 0``
inside, the columns at that breakpoint filled in turn to meet it.  That is the LP's optimality
certificate as a simplex solver gives it (primal feasible; every reduced cost of the sign its
column's place asks; the row's dual of the sign its side asks), checked before it is returned.
"""

from __future__ import annotations

import time

import numpy as np

from allocator.model.highs import Solution, Status, _objective
from allocator.model.lp import LinearProgram

TOLERANCE = 1e-9  # relative: the row's feasibility and the reduced costs' signs, as checked


def applies(lp: LinearProgram) -> bool:
    """A continuous LP of one row whose columns are all bounded."""
    return (lp.integrality is None and lp.n_rows == 1 and lp.n_cols > 0
            and bool(np.isfinite(lp.col_lower).all() and np.isfinite(lp.col_upper).all()))


def solve(lp: LinearProgram, time_limit: float | None = None) -> Solution | None:
    """``lp``'s optimum with its duals; None when no allocation meets the row (the caller's solver
    then says so) or the certificate does not hold to `TOLERANCE` (the caller solves it)."""
    start = time.perf_counter()
    c, lower, upper = lp.cost, lp.col_lower, lp.col_upper
    a = np.asarray(lp.matrix.sum(axis=0)).ravel()  # the one row, dense
    small, large = np.minimum(a * lower, a * upper), np.maximum(a * lower, a * upper)
    in_row = np.flatnonzero(a != 0.0)
    order = in_row[np.argsort(c[in_row] / a[in_row], kind="stable")]
    breaks = c[order] / a[order]  # the price at which each column steps from its small end to its large
    steps = np.cumsum((large - small)[order])
    base = float(small[in_row].sum())  # the row's activity with every column at its small end
    y, target = _price(breaks, steps, base, float(lp.row_lower[0]), float(lp.row_upper[0]))
    if y is None:
        return None
    before, at = np.searchsorted(breaks, y, "left"), np.searchsorted(breaks, y, "right")
    positive = a > 0
    x = np.where(c < 0, upper, lower)  # a column outside the row: by its cost's sign alone
    x[order[:before]] = np.where(positive, upper, lower)[order[:before]]  # stepped up below the price
    x[order[at:]] = np.where(positive, lower, upper)[order[at:]]  # not yet above it
    ties = order[before:at]  # at the price: filled in turn, from their small ends, up to the target
    width = large[ties] - small[ties]
    reached = base + (steps[before - 1] if before else 0.0)
    fill = np.clip(target - reached - (np.cumsum(width) - width), 0.0, width)
    x[ties] = np.clip((small[ties] + fill) / a[ties], lower[ties], upper[ties])
    reduced = c - a * y
    if not _certified(lp, a, x, y, reduced):
        return None
    return Solution(x=x, objective=_objective(lp, x), status=Status.OPTIMAL,
                    solver="exact (one row: a fractional knapsack, sorted)", seconds=time.perf_counter() - start,
                    row_dual=np.array([y]), col_dual=reduced, iterations=0)


def _price(breaks: np.ndarray, steps: np.ndarray, base: float, lo: float, hi: float) -> tuple[float | None, float]:
    """The row's price and the activity it is met at: zero where the activity can lie in [lo, hi]
    at a price of zero, else the breakpoint nearest zero at which it reaches lo (or falls to hi);
    None when no price does."""
    def activity(k: int) -> float:  # with the first k columns stepped up
        return base + (float(steps[k - 1]) if k else 0.0)

    least = activity(int(np.searchsorted(breaks, 0.0, "left")))
    most = activity(int(np.searchsorted(breaks, 0.0, "right")))
    if most >= lo and least <= hi:
        return 0.0, max(least, lo)
    if most < lo:  # more is needed: the first column whose step reaches lo
        k = int(np.searchsorted(steps, lo - base, "left"))
        return (float(breaks[k]), lo) if k < len(breaks) else (None, lo)
    if base > hi:  # less is needed, and not even every column at its small end is little enough
        return None, hi
    k = int(np.searchsorted(steps, hi - base, "right"))  # the first column whose step passes hi
    return float(breaks[k]), hi


def _certified(lp: LinearProgram, a: np.ndarray, x: np.ndarray, y: float, reduced: np.ndarray) -> bool:
    """Primal feasibility and the reduced costs' and the row dual's signs, to `TOLERANCE`."""
    activity = float(a @ x)
    lo, hi = float(lp.row_lower[0]), float(lp.row_upper[0])
    slack = TOLERANCE * max(1.0, abs(lo) if np.isfinite(lo) else 0.0, abs(hi) if np.isfinite(hi) else 0.0,
                            float(np.abs(a * x).sum()))
    if activity < lo - slack or activity > hi + slack:
        return False
    if (y > 0 and activity > lo + slack) or (y < 0 and activity < hi - slack):
        return False
    scale = TOLERANCE * max(1.0, float(np.abs(lp.cost).max(initial=0.0)))
    span = np.maximum(lp.col_upper - lp.col_lower, 0.0)
    at_lower = x <= lp.col_lower + 1e-12 * np.maximum(1.0, span)
    at_upper = x >= lp.col_upper - 1e-12 * np.maximum(1.0, span)
    wrong = np.where(at_lower & at_upper, 0.0,
                     np.where(at_lower, -reduced, np.where(at_upper, reduced, np.abs(reduced))))
    return bool((wrong <= scale).all())
