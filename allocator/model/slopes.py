"""A minimum slope carried as bounds: the suffix form's slope rows solved by sifting.

In suffix form a minimum slope adds one row per need step (`rows._slope_rows`),
``sum_k raise[k, t] >= min_slope * (n_t - n_(t-1))``: each row holds one position's raise
columns, one per response piece, and no column is in two of them.  At national scale that is
132,656 rows under the 30 dense ones (england-lsoa): too many for sifting, and interior point
on the whole LP takes one to two minutes at the tolerance the tiny right-hand sides need.

The rows are few-column covers, so each can be met by one of its columns: a *choice* of one
column per row, ``raise[k*, t] >= step``, turns the slope rows into bounds and leaves the
suffix form's few rows, which sifting solves in a fraction of a second.  Every such LP is a
restriction of the original (its allocations meet every slope row), so its optimum is a lower
bound; it is the original's optimum when the slope rows can be given prices that make every
column's reduced cost right for where it sits (the certificate below), and otherwise the
reduced costs say which column of a row would carry the step more cheaply: the choice moves
there and the next LP starts warm from the last working set.

1. The first choice: in the optimum without the slope rows, the first piece of each step's
   position with room for the step (concave pieces fill in order, so the step goes to the piece
   being filled).
2. Solve the restricted LP by sifting, the chosen bounds shifted to zero (``raise = step + r``).
3. Certificate: with the restricted LP's row duals ``y`` and reduced costs ``d``, a slope row's
   price ``mu >= 0`` must satisfy ``d_j - mu >= 0`` for its columns at their lower bound,
   ``<= 0`` at their upper bound and ``= 0`` in between, and ``mu = 0`` if the row is slack (all
   to the sifting tolerance).  Such prices exist for every row: the allocation is optimal for
   the original LP (primal feasible, dual feasible, complementary).  Otherwise, in each row
   without prices the step moves to the column with the least reduced cost; back to 2.

A row without prices a second time (its step is best carried by more than one column), and a
row no single column can carry, is kept as a row.  A choice that leaves the other rows unmet
(maximin's second stage: a worst-off floor at the first stage's optimum) is solved elastic,
the artificials priced at the largest cost, so that the reduced costs move the choice too.

When no certificate comes within `MAX_ROUNDS`, or sifting cannot solve a restricted LP,
`solve` returns None and the caller solves the whole LP as before.

Measured (benchmarks/README.md, "National-scale rules"): england-lsoa's "Steeper need slope"
in two rounds and under half a second of solving, against 30-104 s of interior point; with
maximin or level-up, 5 s end to end against 27 s and 300 s.  With a pace of change the model is in
rows form and `allocator.model.slope_pools` solves it.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from allocator.model import sifting
from allocator.model.highs import Solution, _objective, limited
from allocator.model.lp import LinearProgram

MAX_ROUNDS = 30


def applies(lp: LinearProgram) -> bool:
    """Slope rows whose removal leaves an LP sifting solves fast."""
    if lp.slope_rows is None or not len(lp.slope_rows) or lp.integrality is not None:
        return False
    rest = lp.n_rows - len(lp.slope_rows)
    return lp.n_cols >= sifting.MIN_COLUMNS and rest * sifting.COLUMNS_PER_ROW <= lp.n_cols


@dataclasses.dataclass(frozen=True)
class _Covers:
    """The slope rows as covers: row ``i`` holds ``columns[start[i]:start[i + 1]]``, needs ``step[i]``."""

    rows: np.ndarray
    keep: np.ndarray  # every other row
    start: np.ndarray
    columns: np.ndarray
    row_of: np.ndarray  # each entry's slope row
    able: np.ndarray  # each entry's column can carry its row's step alone (its upper bound allows)
    step: np.ndarray

    @classmethod
    def of(cls, lp: LinearProgram) -> _Covers | None:
        rows = np.asarray(lp.slope_rows, dtype=np.int64)
        sub = lp.matrix[rows].tocsr()
        sub.sort_indices()
        step = lp.row_lower[rows]
        columns = sub.indices.astype(np.int64)
        row_of = np.repeat(np.arange(rows.size), np.diff(sub.indptr))
        plain = (np.all(sub.data == 1.0) and np.all(np.diff(sub.indptr) > 0) and np.all(np.isinf(lp.row_upper[rows]))
                 and np.all(step > 0) and np.all(lp.col_lower[columns] == 0.0)
                 and np.unique(columns).size == columns.size)
        if not plain:
            return None
        return cls(rows=rows, keep=np.setdiff1d(np.arange(lp.n_rows), rows), start=sub.indptr.astype(np.int64),
                   columns=columns, row_of=row_of, able=lp.col_upper[columns] >= step[row_of], step=step)

    def restricted(self, lp: LinearProgram, chosen: np.ndarray, as_row: np.ndarray) -> tuple[LinearProgram, np.ndarray]:
        """``lp`` with the slope rows ``as_row`` kept as rows (after every other row) and each
        other slope row met by its chosen column as a bound ``>= step``, shifted to 0."""
        bound = ~as_row
        shift = np.zeros(lp.n_cols)
        shift[chosen[bound]] = self.step[bound]
        rows = np.concatenate([self.keep, self.rows[as_row]])
        matrix = lp.matrix[rows]
        used = matrix @ shift
        upper = lp.col_upper - shift
        # no tiny right-hand sides left unless slope rows stay rows: those are met at the LP's own
        # tolerance (at HiGHS's 1e-7 a step of 1e-9 may be shaved, and the optimum overstated)
        tolerance = lp.feasibility_tolerance if as_row.any() else None
        return dataclasses.replace(lp, matrix=matrix, row_lower=lp.row_lower[rows] - used,
                                   row_upper=lp.row_upper[rows] - used, col_upper=upper, slope_rows=None,
                                   row_blocks=(), feasibility_tolerance=tolerance), shift

    def first_choice(self, lp: LinearProgram, x: np.ndarray) -> np.ndarray:
        """Each row's first column (piece) with room for the step above the fill before its position."""
        before = np.zeros(lp.n_cols)
        for _, cols, _, _ in lp.spend_sets[1]:
            v = x[cols]
            before[cols] = np.cumsum(v) - v
        room = before[self.columns] + self.step[self.row_of] <= lp.col_upper[self.columns]
        first = np.full(self.rows.size, self.columns.size)
        np.minimum.at(first, self.row_of[room], np.flatnonzero(room))
        return np.where(first < self.columns.size, self.columns[np.minimum(first, self.columns.size - 1)],
                        self.cheapest(np.zeros(lp.n_cols)))

    def cheapest(self, reduced: np.ndarray) -> np.ndarray:
        """Each row's column of least reduced cost among those that can carry the step (any, if none can)."""
        order = np.lexsort((reduced[self.columns], ~self.able, self.row_of))
        return self.columns[order[self.start[:-1]]]

    def prices(self, lp: LinearProgram, x: np.ndarray, reduced: np.ndarray, tol: float):
        """(each slope row's price, rows that have none): see the module docstring, step 3."""
        xj, dj, row = x[self.columns], reduced[self.columns], self.row_of
        at_lower, at_upper = xj <= lp.col_lower[self.columns], xj >= lp.col_upper[self.columns]
        below = ~at_upper  # can rise: its reduced cost less the price must not be negative
        above = ~at_lower  # can fall: ... must not be positive
        high = np.full(self.rows.size, np.inf)
        np.minimum.at(high, row[below], dj[below])
        low = np.zeros(self.rows.size)
        np.maximum.at(low, row[above], dj[above])
        slack = np.bincount(row, weights=xj, minlength=self.rows.size) - self.step
        high = np.where(slack > tol * np.maximum(1.0, self.step), np.minimum(high, 0.0), high)
        return np.maximum(np.minimum(low, high), 0.0), low > high + tol


def solve(lp: LinearProgram, time_limit: float | None = None) -> Solution | None:
    """``lp``'s optimum with its slope rows carried as bounds, certified; None when that fails."""
    covers = _Covers.of(lp)
    if covers is None:
        return None
    start = time.perf_counter()
    limit = limited(time_limit)

    def left() -> float | None:
        return None if limit is None else max(limit - (time.perf_counter() - start), 1e-3)

    keep = covers.keep
    sifter = sifting.Sifter(dataclasses.replace(lp, matrix=lp.matrix[keep], row_lower=lp.row_lower[keep],
                                                row_upper=lp.row_upper[keep], slope_rows=None, row_blocks=(),
                                                feasibility_tolerance=None))  # no slope rows at all
    first = sifter.solve(left())
    if first is None:
        return None
    chosen = covers.first_choice(lp, first.x)
    as_row = ~np.bincount(covers.row_of, weights=covers.able, minlength=covers.rows.size).astype(bool)
    unpriced_before = np.zeros(covers.rows.size, bool)
    for rounds in range(1, MAX_ROUNDS + 1):
        restricted, shift = covers.restricted(lp, chosen, as_row)
        if not sifter.update(restricted):
            sifter = sifting.Sifter(restricted, columns=sifter.cols)
        solution = sifter.solve(left(), elastic=True)  # a choice the rows cannot meet: priced, and moved
        if solution is None:
            return None
        x = solution.x + shift
        mu, unpriced = covers.prices(lp, x, solution.col_dual, sifting.REDUCED_COST_TOLERANCE * sifter.scale)
        unpriced &= ~as_row
        if sifter.short > 0 and not unpriced.any():
            return None  # no choice moves: the whole LP says why no allocation meets the rows
        if not unpriced.any():
            return _answer(lp, covers, solution, x, mu, as_row, sifter, rounds, time.perf_counter() - start)
        # a row without prices a second time: its step is better carried by more than one column
        as_row |= unpriced & unpriced_before
        unpriced_before |= unpriced
        chosen = np.where(unpriced, covers.cheapest(solution.col_dual), chosen)
    return None


def _answer(lp: LinearProgram, covers: _Covers, solution: Solution, x: np.ndarray, mu: np.ndarray,
            as_row: np.ndarray, sifter: sifting.Sifter, rounds: int, seconds: float) -> Solution:
    x = np.minimum(np.maximum(x, lp.col_lower), lp.col_upper)
    row_dual = np.zeros(lp.n_rows)
    row_dual[covers.keep] = solution.row_dual[:covers.keep.size]
    row_dual[covers.rows[as_row]] = solution.row_dual[covers.keep.size:]
    mu = np.where(as_row, 0.0, mu)
    row_dual[covers.rows[~as_row]] = mu[~as_row]
    col_dual = solution.col_dual.copy()
    np.subtract.at(col_dual, covers.columns, mu[covers.row_of])
    kept = f", {int(as_row.sum()):,} kept as rows" if as_row.any() else ""
    name = (f"HiGHS {sifter.h.version()} (simplex, sifting with the {covers.rows.size:,} slope rows as bounds"
            f"{kept}: {sifter.cols.size:,} of {lp.n_cols:,} columns, {rounds} rounds)")
    return Solution(x=x, objective=_objective(lp, x), status=solution.status, solver=name, seconds=seconds,
                    row_dual=row_dual, col_dual=col_dual, iterations=solution.iterations)
