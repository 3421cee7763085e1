"""Sifting: an LP with far more columns than rows, solved on a working set of its columns.

At national scale the suffix formulation has a few dozen rows and half a million columns
(england-lsoa: 30 rows x 528,000 raise columns; with maximin or level-up, 40 rows and
6.5 million nonzeros).  An optimal basis then holds at most a few dozen columns, and every
other column sits at its lower bound.  Sifting (the column-generation form of the simplex
method, as in Clp and CPLEX) solves the LP on a small working set of columns, prices every
column against that solution's row duals (one product of the matrix's transpose with a
vector), adds the columns whose reduced cost is negative, and solves again, warm, from the
last basis.  When no column outside the working set prices negative, the working set's
optimal basis, with every other column at its lower bound, is an optimal basis of the whole
LP: the reduced costs are its certificate, as for any simplex solve.

So that any working set is feasible, every row with a finite bound gets an artificial column
(cost ``M``, one for each side it bounds).  Once no column prices negative the artificials are
fixed at zero and the LP solved and priced again: the answer never uses one, whatever ``M``
was.  If they cannot reach zero (``M`` too small for the rows' prices, raised twice, or no
allocation meets the rows) `solve` returns None and the caller solves the whole LP, whose
solver explains an infeasible one.

Measured (benchmarks/README.md, "Sifting"): england-lsoa's maximin first stage in a few
seconds against minutes of interior point on the whole LP.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from allocator.errors import SolverError
from allocator.model.highs import (
    Solution,
    Status,
    _clip,
    _objective,
    hint,
    in_warm_starts,
    keep_hint,
    limited,
    new_highs,
)
from allocator.model.lp import LinearProgram

MIN_COLUMNS = 50_000  # below this HiGHS solves the whole LP in well under a second
COLUMNS_PER_ROW = 50  # ... and sifting pays only where columns outnumber rows this many times
MAX_ROUNDS = 500
REDUCED_COST_TOLERANCE = 1e-9  # relative to the largest cost: a column prices in below minus this
BIG_M = 1e3  # the artificials' cost, relative to the largest cost; raised 1,000-fold at most twice
PRIMAL_FEASIBILITY = 1e-7  # HiGHS's default, restored when an LP sets none
BATCH, BATCH_PER_ROW = 200, 5  # columns added at most a round, and in the first working set (measured: small is fast)


def _batch(lp: LinearProgram) -> int:
    return max(BATCH, BATCH_PER_ROW * lp.n_rows)


def applies(lp: LinearProgram) -> bool:
    """A continuous LP wide enough for sifting to pay."""
    return (lp.integrality is None and lp.n_cols >= MIN_COLUMNS
            and lp.n_rows * COLUMNS_PER_ROW <= lp.n_cols)


class Sifter:
    """The working set of one LP in a HiGHS instance (artificial columns first, then LP columns),
    kept between solves: a sweep's next point updates what changed and sifts on from the last
    optimum (`allocator.model.resolve.Resolver`)."""

    def __init__(self, lp: LinearProgram, columns: np.ndarray | None = None, batch: int | None = None):
        import highspy

        self.lp, self.batch = lp, batch  # (batch: columns added at most a round, if not `_batch`'s)
        lower_side = np.flatnonzero(np.isfinite(lp.row_lower))
        upper_side = np.flatnonzero(np.isfinite(lp.row_upper))
        self.art_rows = np.concatenate([lower_side, upper_side])
        self.art_sign = np.concatenate([np.ones(lower_side.size), -np.ones(upper_side.size)])
        self.k = self.art_rows.size
        self.cols = np.zeros(0, np.int64)
        self.position = np.full(lp.n_cols, -1, np.int64)  # LP column -> its column in HiGHS
        self.scale = max(1.0, float(np.abs(lp.cost).max(initial=0.0)))
        self.big_m = BIG_M * self.scale
        h = self.h = new_highs()
        model = highspy.HighsLp()
        model.num_col_, model.num_row_ = self.k, lp.n_rows
        model.col_cost_ = np.full(self.k, self.big_m)
        model.col_lower_, model.col_upper_ = np.zeros(self.k), np.full(self.k, np.inf)
        model.row_lower_, model.row_upper_ = lp.row_lower, lp.row_upper
        art = sp.csc_matrix((self.art_sign, (self.art_rows, np.arange(self.k))), shape=(lp.n_rows, self.k))
        model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        model.a_matrix_.num_col_, model.a_matrix_.num_row_ = self.k, lp.n_rows
        model.a_matrix_.start_, model.a_matrix_.index_, model.a_matrix_.value_ = art.indptr, art.indices, art.data
        h.passModel(model)
        h.setOptionValue("presolve", "off")
        h.setOptionValue("solver", "simplex")
        h.setOptionValue("random_seed", 0)
        if lp.feasibility_tolerance is not None:
            h.setOptionValue("primal_feasibility_tolerance", lp.feasibility_tolerance)
        first = _first_columns(lp)
        self._add(first if columns is None else np.union1d(first, columns))

    @property
    def inside(self) -> np.ndarray:
        return self.position >= 0

    def _add(self, cols: np.ndarray) -> None:
        cols = np.sort(cols[self.position[cols] < 0])
        if not cols.size:
            return
        lp, sub = self.lp, self.lp.matrix[:, cols]
        self.h.addCols(cols.size, lp.cost[cols], lp.col_lower[cols], lp.col_upper[cols], sub.nnz,
                       sub.indptr[:-1].astype(np.int32), sub.indices.astype(np.int32), sub.data)
        self.position[cols] = self.k + self.cols.size + np.arange(cols.size)
        self.cols = np.concatenate([self.cols, cols])

    def update(self, lp: LinearProgram) -> bool:
        """Pass what differs in ``lp`` (same shape and sparsity pattern) to the working set."""
        old, h = self.lp, self.h
        if lp.matrix.shape != old.matrix.shape or lp.matrix.nnz != old.matrix.nnz:
            return False
        entries = np.flatnonzero(lp.matrix.data != old.matrix.data)
        if entries.size > max(100, lp.matrix.nnz // 20):
            return False
        inside = self.position >= 0
        for changed, values in (((lp.cost != old.cost) & inside, None),
                                (((lp.col_lower != old.col_lower) | (lp.col_upper != old.col_upper)) & inside, 0)):
            idx = self.position[changed].astype(np.int32)
            if idx.size and values is None:
                h.changeColsCost(idx.size, idx, lp.cost[changed])
            elif idx.size:
                h.changeColsBounds(idx.size, idx, lp.col_lower[changed], lp.col_upper[changed])
        if lp.feasibility_tolerance != old.feasibility_tolerance:
            h.setOptionValue("primal_feasibility_tolerance", lp.feasibility_tolerance or PRIMAL_FEASIBILITY)
        rows = np.flatnonzero((lp.row_lower != old.row_lower) | (lp.row_upper != old.row_upper)).astype(np.int32)
        if rows.size:
            h.changeRowsBounds(rows.size, rows, lp.row_lower[rows], lp.row_upper[rows])
        cols = np.searchsorted(lp.matrix.indptr, entries, side="right") - 1
        for e, j in zip(entries, cols):
            if self.position[j] >= 0:
                h.changeCoeff(int(lp.matrix.indices[e]), int(self.position[j]), float(lp.matrix.data[e]))
        self.lp = lp
        self._add(_pinned(lp))
        return True

    def _artificials(self, cost: float | None) -> None:
        """Let the artificials carry the rows at ``cost`` a unit, or fix them at zero (None)."""
        idx = np.arange(self.k, dtype=np.int32)
        if cost is None:
            self.h.changeColsBounds(self.k, idx, np.zeros(self.k), np.zeros(self.k))
            return
        self.h.changeColsBounds(self.k, idx, np.zeros(self.k), np.full(self.k, np.inf))
        self.h.changeColsCost(self.k, idx, np.full(self.k, cost))

    def solve(self, time_limit: float | None = None, how: str = "sifting", elastic: bool = False) -> Solution | None:
        """The LP's optimum from the working set as it stands, with its certificate; None when
        sifting cannot give one (the caller solves the whole LP).

        ``elastic``: where the rows cannot be met (the artificials stay in use at the largest cost),
        return the optimum with the artificials, `short` saying by how much in all (else 0).
        """
        self.short = 0.0
        import highspy

        start = time.perf_counter()
        lp, h = self.lp, self.h
        limit = limited(time_limit)
        tolerance = REDUCED_COST_TOLERANCE * self.scale
        movable = lp.col_upper > lp.col_lower
        batch = self.batch or _batch(lp)
        big_m, raised, cleaning, iterations = self.big_m, 0, False, 0
        self._artificials(big_m)
        ms = highspy.HighsModelStatus
        for rounds in range(1, MAX_ROUNDS + 1):
            if limit is not None:
                left = limit - (time.perf_counter() - start)
                if left <= 0:
                    raise _stopped(time_limit)
                h.setOptionValue("time_limit", left)
            h.run()
            status = h.getModelStatus()
            if status not in (ms.kOptimal, ms.kTimeLimit, ms.kInfeasible):
                h.clearSolver()  # simplex lost its way from the last basis (HiGHS: "unknown"): once more, cold
                h.run()
                status = h.getModelStatus()
            iterations += max(h.getInfo().simplex_iteration_count, 0)
            if status == ms.kTimeLimit:
                raise _stopped(time_limit)
            if status in (ms.kUnbounded, ms.kUnboundedOrInfeasible) and not cleaning and raised < 2:
                raised += 1  # M below a column's cost per unit of a row: the artificials pay for it without end
                big_m *= 1e3
                self._artificials(big_m)
                continue
            if status != ms.kOptimal:
                return None  # infeasible once the artificials are fixed, or a solver failure
            sol = h.getSolution()
            y = np.asarray(sol.row_dual, dtype=float)
            reduced = lp.cost - lp.matrix.T @ y
            entering = np.flatnonzero(movable & (self.position < 0) & (reduced < -tolerance))
            if entering.size:
                if entering.size > batch:
                    entering = entering[np.argpartition(reduced[entering], batch)[:batch]]
                self._add(entering)
                continue
            if cleaning:
                return self._solution(sol, y, reduced, start, rounds, iterations, how)
            used = np.asarray(sol.col_value[:self.k], dtype=float)
            if used.max(initial=0.0) > 1e-9 and raised < 2:  # M too small for the rows' prices, or infeasible
                raised += 1
                big_m *= 1e3
                self._artificials(big_m)
                continue
            if elastic and used.max(initial=0.0) > 1e-9:
                self.short = float(used.sum())
                return self._solution(sol, y, reduced, start, rounds, iterations, how)
            self._artificials(None)
            cleaning = True
        return None

    def _solution(self, sol, y: np.ndarray, reduced: np.ndarray, start: float, rounds: int, iterations: int,
                  how: str) -> Solution:
        lp = self.lp
        x = np.where(np.isfinite(lp.col_lower), lp.col_lower, 0.0)
        x[self.cols] = np.asarray(sol.col_value, dtype=float)[self.k:]
        x = _clip(lp, x)
        name = (f"HiGHS {self.h.version()} (simplex, {how}: {self.cols.size:,} of {lp.n_cols:,} columns, "
                f"{rounds} rounds)")
        return Solution(x=x, objective=_objective(lp, x), status=Status.OPTIMAL, solver=name,
                        seconds=time.perf_counter() - start, row_dual=y, col_dual=reduced, iterations=iterations)

    def basis(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The whole LP's optimal basis (HiGHS's status codes, int8): every column outside the
        working set at its lower bound."""
        b = self.h.getBasis()
        if not b.valid:
            return None
        col_status = np.zeros(self.lp.n_cols, np.int8)  # kLower
        col_status[self.cols] = np.array([int(s) for s in b.col_status[self.k:]], dtype=np.int8)
        return col_status, np.array([int(s) for s in b.row_status], dtype=np.int8)


def solve(lp: LinearProgram, time_limit: float | None = None) -> Solution | None:
    """``lp``'s optimum by sifting, with its certificate; None when sifting cannot give one.

    Inside a `highs.warm_starts` block the columns the last optimum of an LP of the same shape
    used start the working set (a rule price is the same LP with a few bounds or pieces changed:
    england-lsoa's, about 90 rounds cold); any working set is valid, so this is only where the
    search starts, never what it proves."""
    key = np.asarray([lp.n_rows, lp.n_cols]).tobytes() if in_warm_starts() else None
    sifter = Sifter(lp, hint("sifting", key))
    solution = sifter.solve(time_limit)
    if solution is not None:
        used = sifter.cols[solution.x[sifter.cols] != np.where(np.isfinite(lp.col_lower), lp.col_lower, 0.0)[sifter.cols]]
        keep_hint("sifting", key, used)
    return solution


def _stopped(time_limit: float | None) -> SolverError:
    return SolverError(f"HiGHS (sifting) stopped at the time limit of {time_limit:g} s before proving "
                       "optimality: raise --time-limit")


def _pinned(lp: LinearProgram) -> np.ndarray:
    """Columns not at zero when left out: always in the working set."""
    return np.flatnonzero((lp.col_lower != 0) | ~np.isfinite(lp.col_lower))


def _first_columns(lp: LinearProgram) -> np.ndarray:
    """Columns that must be in, and the best by cost per unit of the rows they use."""
    pinned = _pinned(lp)
    free = lp.col_upper > lp.col_lower
    free[pinned] = False
    size = np.abs(lp.matrix).sum(axis=0).A1
    ratio = np.where(free, lp.cost / np.maximum(size, 1e-12), np.inf)
    count = min(int(free.sum()), _batch(lp))
    best = np.argpartition(ratio, count - 1)[:count] if count else np.zeros(0, np.int64)
    return np.concatenate([pinned, best[np.isfinite(ratio[best])]])
