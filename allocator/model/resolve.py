"""Re-solve similar LPs fast: a `Resolver` warm-starts HiGHS from the model it solved before,
and an `Anchor` (the optimal basis of one solve, as plain arrays) starts any process's first
solve of a run from that basis instead of from scratch.

Sweeps use both: every chunk of points starts from the anchor of the scenario as loaded,
solved once before the points are handed out, so no chunk pays a cold start and every
chunk starts from the same basis in one process, in N or on Dask.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np

from allocator.errors import InfeasibleError, SolverError
from allocator.model import knapsack, sifting, slopes
from allocator.model.lp import LinearProgram, check_finite
from allocator.model.solver import (
    Solution,
    _configure,
    _read,
    check_settings,
    choose_method,
    new_highs,
    pass_model,
    solve,
)


def _shape(lp: LinearProgram) -> tuple:
    """What two LPs must share for one's basis or loaded model to serve the other."""
    m = lp.matrix
    pattern = hashlib.blake2b(m.indptr.tobytes(), digest_size=16)
    pattern.update(m.indices.tobytes())  # a digest, not hash(): the same in every process
    return (lp.n_rows, lp.n_cols, m.nnz, pattern.hexdigest())


def _close(data: np.ndarray, lp: LinearProgram) -> tuple[bool, np.ndarray]:
    """Do ``lp``'s matrix entries differ from ``data`` in few enough places to warm-start? And where."""
    entries = np.flatnonzero(lp.matrix.data != data)
    return entries.size <= max(100, lp.matrix.nnz // 20), entries


@dataclass(frozen=True)
class Anchor:
    """An optimal basis of one LP (HiGHS's basis statuses as int8 arrays), picklable."""

    shape: tuple
    data: np.ndarray  # the LP's matrix entries: a basis serves LPs whose matrix differs little
    col_status: np.ndarray
    row_status: np.ndarray

    def serves(self, lp: LinearProgram, shape: tuple | None = None) -> bool:
        """Can ``lp`` (whose `_shape` is ``shape``, if known) start from this basis?"""
        return (_shape(lp) if shape is None else shape) == self.shape and _close(self.data, lp)[0]

    def basis(self):
        import highspy

        status = {int(v): v for v in highspy.HighsBasisStatus.__members__.values()}
        b = highspy.HighsBasis()
        b.col_status = [status[i] for i in self.col_status.tolist()]
        b.row_status = [status[i] for i in self.row_status.tolist()]
        b.valid = True
        return b


class Resolver:
    """Solve a run of similar LPs fast: change what differs in the loaded model, warm-start.

    Consecutive sweep points usually differ in a few numbers (the budget row's
    bounds, some costs or coefficients).  When a new LP has the same shape and
    sparsity pattern as one solved before, only the changed costs, bounds and
    matrix entries are passed to the HiGHS instance that solved it, which
    re-solves from its last optimal basis with its factorisation kept, by dual
    simplex (measured on england-la: 3,400 iterations cold, tens warm; on
    england-lsoa, whose first solve is interior point with crossover, 4 s cold
    and 0.2-0.3 s warm for a budget step).  With an ``anchor``, an LP it serves
    that no loaded model does starts from the anchor's basis (england-lsoa: 0.3-0.8 s
    for a budget 1-20% away, against 4 s cold).  MILPs, PDLP and CBC go to `solve`
    unchanged.  A warm solve that does not end optimal is repeated cold before
    its status is believed.

    Examples
    --------
    >>> import allocator
    >>> from allocator.model.lp import build
    >>> s = allocator.load("scenarios/quickstart")
    >>> r = Resolver()
    >>> a = r.solve(build(s)); b = r.solve(build(s.with_(budget_gbp=s.budget_gbp * 1.01)))
    >>> r.warm_solves
    1
    """

    def __init__(self, slots: int = 2, anchor: Anchor | None = None):
        self.slots = slots
        self.anchor = anchor
        self.warm_solves = 0
        self._models: dict = {}

    def reset(self) -> None:
        """Forget every loaded model: the next solve starts cold (or from the anchor)."""
        self._models.clear()

    def solve(self, lp: LinearProgram, solver: str = "highs", method: str = "auto",
              time_limit: float | None = None) -> Solution:
        """As `solve`, warm-started from a loaded model of the same shape when there is one."""
        time_limit = check_settings(solver, method, time_limit)
        if solver != "highs" or lp.n_cols == 0 or lp.integrality is not None:
            return solve(lp, solver=solver, method=method, time_limit=time_limit)
        chosen = choose_method(lp) if method == "auto" else method
        if chosen not in ("simplex", "ipm"):
            return solve(lp, solver=solver, method=chosen, time_limit=time_limit)
        check_finite(lp)
        key = _shape(lp)
        if method == "auto" and knapsack.applies(lp):  # one row: sorted, a fraction of a second cold
            return solve(lp, solver=solver, method=method, time_limit=time_limit)
        if method == "auto" and sifting.applies(lp):
            return self._sift(lp, key, time_limit)
        if method == "auto" and slopes.applies(lp):  # cold each time: a second or so at national scale
            return solve(lp, solver=solver, method=method, time_limit=time_limit)
        loaded = self._models.pop(key, None)
        if not isinstance(loaded, tuple):
            loaded = None  # a working set (below) serves sifting only
        start = time.perf_counter()
        if loaded is not None and self._update(loaded, lp):
            h, how = loaded[0], "warm start"
        elif self.anchor is not None and self.anchor.serves(lp, key):
            h, how = new_highs(), "from the base solve's basis"
            pass_model(h, lp)
            h.setBasis(self.anchor.basis())
        else:
            return self._cold(lp, key, chosen, time_limit)
        _configure(h, lp, "simplex", time_limit)
        h.run()
        try:
            solution = _read(h, lp, f"HiGHS {h.version()} (simplex, {how})", start, time_limit)
        except (InfeasibleError, SolverError):
            return self._cold(lp, key, chosen, time_limit)
        self.warm_solves += 1
        self._keep(key, h, lp)
        return solution

    def _sift(self, lp: LinearProgram, key, time_limit: float | None) -> Solution:
        """An LP sifting applies to: on from the working set of the last LP of its shape, or from
        the anchor's columns, or cold; the whole LP when sifting cannot certify an optimum."""
        loaded = self._models.pop(key, None)
        if isinstance(loaded, sifting.Sifter) and loaded.update(lp):
            sifter, how = loaded, "sifting, warm"
        elif self.anchor is not None and self.anchor.serves(lp, key):
            sifter = sifting.Sifter(lp, columns=np.flatnonzero(self.anchor.col_status != 0))
            how = "sifting from the base solve's columns"
        else:
            sifter, how = sifting.Sifter(lp), "sifting"
        solution = sifter.solve(time_limit, how)
        if solution is None:  # the whole LP, as chosen without sifting (not a second sifting attempt)
            return solve(lp, method=choose_method(lp), time_limit=time_limit)
        if how != "sifting":
            self.warm_solves += 1
        self._models[key] = sifter
        self._trim()
        return solution

    def anchor_of(self, lp: LinearProgram) -> Anchor | None:
        """The optimal basis of the loaded model ``lp`` was solved in, as an `Anchor` (None if none)."""
        key = _shape(lp)
        loaded = self._models.get(key)
        if loaded is None:
            return None
        if isinstance(loaded, sifting.Sifter):
            basis = loaded.basis()
            if basis is None:
                return None
            return Anchor(shape=key, data=lp.matrix.data.copy(), col_status=basis[0], row_status=basis[1])
        b = loaded[0].getBasis()
        if not b.valid:
            return None
        return Anchor(shape=key, data=lp.matrix.data.copy(),
                      col_status=np.array([int(s) for s in b.col_status], dtype=np.int8),
                      row_status=np.array([int(s) for s in b.row_status], dtype=np.int8))

    def _cold(self, lp: LinearProgram, key, method: str, time_limit: float | None) -> Solution:
        """A first solve, kept for warm starts (interior point ends in crossover: a basis)."""
        start = time.perf_counter()
        h = new_highs()
        _configure(h, lp, method, time_limit)
        pass_model(h, lp)
        h.run()
        solution = _read(h, lp, f"HiGHS {h.version()} ({method})", start, time_limit)
        self._keep(key, h, lp)
        return solution

    def _keep(self, key, h, lp: LinearProgram) -> None:
        self._models[key] = (h, lp.cost.copy(), lp.col_lower.copy(), lp.col_upper.copy(),
                             lp.row_lower.copy(), lp.row_upper.copy(), lp.matrix.data.copy())
        self._trim()

    def _trim(self) -> None:
        while len(self._models) > self.slots:
            self._models.pop(next(iter(self._models)))

    @staticmethod
    def _update(loaded, lp: LinearProgram) -> bool:
        """Pass what changed to the loaded model; False when too much changed to be worth it."""
        h, cost, col_lower, col_upper, row_lower, row_upper, data = loaded
        close, entries = _close(data, lp)
        if not close:
            return False
        idx = np.flatnonzero(lp.cost != cost).astype(np.int32)
        if idx.size:
            h.changeColsCost(idx.size, idx, lp.cost[idx])
        idx = np.flatnonzero((lp.col_lower != col_lower) | (lp.col_upper != col_upper)).astype(np.int32)
        if idx.size:
            h.changeColsBounds(idx.size, idx, lp.col_lower[idx], lp.col_upper[idx])
        idx = np.flatnonzero((lp.row_lower != row_lower) | (lp.row_upper != row_upper)).astype(np.int32)
        if idx.size:
            h.changeRowsBounds(idx.size, idx, lp.row_lower[idx], lp.row_upper[idx])
        m = lp.matrix
        if entries.size:
            cols = np.searchsorted(m.indptr, entries, side="right") - 1
            for e, j in zip(entries, cols):
                h.changeCoeff(int(m.indices[e]), int(j), float(m.data[e]))
        return True


DUAL_TOLERANCE = 1e-7  # HiGHS's dual feasibility tolerance: a reduced cost this far the wrong way still prices out


def still_optimal(lp: LinearProgram, solution: Solution, wider: LinearProgram) -> bool:
    """Whether ``solution`` (optimal for ``lp``, with its duals) is optimal for ``wider`` too, proven
    without solving: ``wider`` is ``lp`` with columns added (rows, and every column of ``lp``,
    matched by name: the same bounds, costs and coefficients) and every added column, at 0 within
    its bounds, prices out against ``lp``'s duals (its reduced cost not improving, to HiGHS's own
    tolerance, which ``solution`` itself is checked against first).  Then ``wider``'s optimum is
    ``lp``'s: no added column would enter.  False when anything differs (the caller solves).

    A plan without its carry-over rule, or with a stream allowed to pay for more, is such an LP:
    england-la-plan's two that cost nothing, 13-15 s of re-solving each, proven in 0.3 s."""
    if solution.row_dual is None or lp.integrality is not None or wider.integrality is not None \
            or lp.maximize != wider.maximize or wider.n_rows != lp.n_rows or wider.n_cols < lp.n_cols:
        return False  # (before naming every column: at national scale that is seconds)
    rows = {name: i for i, name in enumerate(lp.row_names())}
    order = np.array([rows.get(name, -1) for name in wider.row_names()])
    if (order < 0).any() or not (_same(wider.row_lower, lp.row_lower[order])
                                 and _same(wider.row_upper, lp.row_upper[order])):
        return False
    cols = {name: j for j, name in enumerate(lp.col_names())}
    at = np.array([cols.get(name, -1) for name in wider.col_names()])
    old, new = np.flatnonzero(at >= 0), np.flatnonzero(at < 0)
    if len(old) != lp.n_cols or not (_same(wider.col_lower[old], lp.col_lower[at[old]])
                                      and _same(wider.col_upper[old], lp.col_upper[at[old]])
                                      and _same(wider.cost[old], lp.cost[at[old]])):
        return False
    if (wider.matrix[:, old] != lp.matrix[order][:, at[old]]).nnz:
        return False
    # HiGHS minimises ``cost`` (a maximum is stored negated): reduced costs c - A'y >= 0 at a lower bound
    if _dual_infeasibility(lp, solution.x, lp.cost - lp.matrix.T @ solution.row_dual) > DUAL_TOLERANCE:
        return False  # not the duals this check reads them as (a convention, or a solve that gave none)
    priced = wider.cost[new] - wider.matrix[:, new].T @ solution.row_dual[order]
    return bool((wider.col_lower[new] <= 0.0).all() and (wider.col_upper[new] >= 0.0).all()
                and (priced >= -DUAL_TOLERANCE).all())


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b))


def _dual_infeasibility(lp: LinearProgram, x: np.ndarray, d: np.ndarray) -> float:
    """The largest reduced cost ``d`` the wrong way (minimising) for where ``x`` sits."""
    lower, upper = lp.col_lower, lp.col_upper
    finite_lower, finite_upper = np.where(np.isfinite(lower), lower, 0.0), np.where(np.isfinite(upper), upper, 0.0)
    at_lower = np.isfinite(lower) & (x <= finite_lower + 1e-9 * np.maximum(1.0, np.abs(finite_lower)))
    at_upper = np.isfinite(upper) & (x >= finite_upper - 1e-9 * np.maximum(1.0, np.abs(finite_upper)))
    wrong = np.where(at_lower & at_upper, 0.0,
                     np.where(at_lower, np.maximum(-d, 0.0), np.where(at_upper, np.maximum(d, 0.0), np.abs(d))))
    return float(wrong.max(initial=0.0))
