"""What every solve shares: the `Solution` it ends in, the command's clock, a quiet HiGHS.

`allocator.model.solver` solves a `LinearProgram` whole, `allocator.model.sifting` on a working
set of its columns; both end in a `Solution`, read the clock a command's ``--time-limit`` set
(`deadline`, `limited`) and start HiGHS without its banner (`new_highs`).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import time
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from allocator.errors import SolverError
from allocator.format import plain, small_share
from allocator.model.lp import LinearProgram

# a MILP's answer is optimal to this relative gap (HiGHS's branch and bound stops there, and a
# rounding that close to the relaxation's bound is as proven: `thresholds.start`)
MIP_REL_GAP = 1e-4


class Status(str, Enum):
    """How a solve ended (modelled on linopy's TerminationCondition)."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time limit"
    ITERATION_LIMIT = "iteration limit"
    ERROR = "error"


@dataclass(frozen=True)
class Solution:
    """Primal values, duals where the solver gives them, and how the solve went."""

    x: np.ndarray
    objective: float  # in the model's own units (gain, or GBP of distance), sign as stated
    status: Status
    solver: str  # e.g. "HiGHS 1.16.0 (ipm)"
    seconds: float
    row_dual: np.ndarray | None = None
    col_dual: np.ndarray | None = None
    iterations: int = 0
    above: np.ndarray | None = None  # intensity above the floor per line group, when not from x
    bound: float | None = None  # a MILP's: no allocation of the model does better (objective's units)
    planes: tuple | None = field(default=None, repr=False, compare=False)  # (values, slopes, scales): `proportional`'s

    def budget_price(self, lp: LinearProgram) -> float | None:
        """Objective change per extra GBP of budget (the budget row's shadow price)."""
        if self.row_dual is None:
            return None
        if lp.money is not None and len(lp.money.stream_rows):
            return None  # the streams are the budget: each has its own price (`allocator.analysis.plan.prices`)
        sign = -1.0 if lp.maximize else 1.0
        return sign * float(self.row_dual[0]) * lp.budget_scale / lp.objective_scale


_DEADLINE: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "allocator_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float | None):
    """Bound every solve inside the block by one clock: ``seconds`` from now in all (None: no limit).

    A command's ``--time-limit`` is its whole solving (every re-solve, the second stage of maximin,
    the diagnosis of an infeasible scenario, the rule prices), not each solve's; a block inside
    another keeps the earlier of the two ends.
    """
    if seconds is None:
        yield
        return
    end = (time.perf_counter() + float(seconds), float(seconds))
    outer = _DEADLINE.get()
    token = _DEADLINE.set(end if outer is None or end[0] < outer[0] else outer)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


_WARM: contextvars.ContextVar[dict | None] = contextvars.ContextVar("allocator_warm_starts", default=None)
WARM_KEPT = 8  # bases kept by a `warm_starts` block, the oldest dropped first


@contextlib.contextmanager
def warm_starts():
    """Inside the block, each simplex solve of an LP starts from the optimal basis of the last LP
    solved in the block with the same matrix and costs (only bounds differ): a frontier's points one
    after the other re-solve in a few dozen iterations instead of hundreds.  The optimum is proven
    the same way; where an LP has several optimal allocations the one reached may depend on the
    point before, so blocks are for work done in one fixed order (never a parallel sweep's chunks)."""
    token = _WARM.set({})
    try:
        yield
    finally:
        _WARM.reset(token)


@contextlib.contextmanager
def cold_starts():
    """Inside the block, no warm starts (work run apart from the enclosing block's fixed order)."""
    token = _WARM.set(None)
    try:
        yield
    finally:
        _WARM.reset(token)


def in_warm_starts() -> bool:
    """True inside a `warm_starts` block."""
    return _WARM.get() is not None


def warm_key(lp) -> bytes | None:
    """The key of ``lp``'s basis in the running `warm_starts` block (None outside one, or for a MILP)."""
    if _WARM.get() is None or lp.integrality is not None:
        return None
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    matrix = lp.matrix
    for part in (np.asarray(matrix.shape), matrix.indptr, matrix.indices, matrix.data, lp.cost,
                 np.asarray([lp.maximize])):
        digest.update(np.ascontiguousarray(part).tobytes())
    return digest.digest()


def warm_basis(key: bytes | None):
    """The basis kept under ``key`` in the running `warm_starts` block, or None."""
    kept = _WARM.get()
    return None if kept is None or key is None else kept.get(key)


def keep_basis(key: bytes | None, basis) -> None:
    kept = _WARM.get()
    if kept is None or key is None:
        return
    kept.pop(key, None)
    kept[key] = basis
    bases = [k for k in kept if isinstance(k, bytes)]  # hints (`keep_hint`) are not counted
    for old in bases[:max(0, len(bases) - WARM_KEPT)]:
        kept.pop(old)


def hint(name: str, key: bytes | None):
    """What `keep_hint` kept under ``name`` and ``key`` in the running `warm_starts` block, or None."""
    kept = _WARM.get()
    return None if kept is None or key is None else kept.get((name, key))


def keep_hint(name: str, key: bytes | None, value) -> None:
    """Keep ``value`` for the next solve of the block that asks (one per name and key): what a solve
    learnt that the next one of the same model may start from (`suffix_milp`: the lines that needed
    a binary)."""
    kept = _WARM.get()
    if kept is not None and key is not None:
        kept[(name, key)] = value


def matrix_key(lp) -> bytes | None:
    """The key of ``lp``'s matrix alone in the running `warm_starts` block (None outside one)."""
    if _WARM.get() is None:
        return None
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    for part in (np.asarray(lp.matrix.shape), lp.matrix.indptr, lp.matrix.indices, lp.matrix.data):
        digest.update(np.ascontiguousarray(part).tobytes())
    return digest.digest()


def limited(time_limit: float | None) -> float | None:
    """The seconds a solve may take: its own limit and what is left of the block's (`deadline`);
    `SolverError` (exit code 1) when nothing is left."""
    outer = _DEADLINE.get()
    if outer is None:
        return time_limit
    left = outer[0] - time.perf_counter()
    if left <= 0:
        raise SolverError(f"the time limit of {outer[1]:g} s ran out before proving optimality (a solve it "
                          "needs could not start): raise --time-limit")
    return left if time_limit is None else min(time_limit, left)


def _shown_limit(time_limit: float | None) -> float | None:
    """The limit a person set: the block's (`deadline`) when one is running, else the solve's own."""
    outer = _DEADLINE.get()
    return outer[1] if outer is not None else time_limit


def highs_model(lp) -> "highspy.HighsLp":  # noqa: F821 (imported inside)
    """``lp``'s arrays as a highspy HighsLp (CSC matrix, bounds, costs), for one passModel call.

    Takes anything with the attributes of a `LinearProgram` (the benchmark's naive model too).
    """
    import highspy

    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = lp.n_cols, lp.n_rows
    model.sense_ = highspy.ObjSense.kMinimize
    model.col_cost_, model.col_lower_, model.col_upper_ = lp.cost, lp.col_lower, lp.col_upper
    model.row_lower_, model.row_upper_ = lp.row_lower, lp.row_upper
    matrix = lp.matrix
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.num_col_, model.a_matrix_.num_row_ = lp.n_cols, lp.n_rows
    model.a_matrix_.start_ = matrix.indptr
    model.a_matrix_.index_ = matrix.indices
    model.a_matrix_.value_ = matrix.data
    return model


def pass_model(h, lp, integrality: np.ndarray | None = None) -> None:
    """Pass ``lp``'s arrays to the Highs instance ``h`` (minimising ``lp.cost``), with
    ``integrality`` (1 = integer) if given: the pointer form of passModel, which reads the numpy
    arrays as they are, several times faster than filling a `highs_model` element by element
    (england-lsoa's LP: 0.025 s against 0.16 s)."""
    import highspy

    matrix = lp.matrix
    # every column's kind, even for an LP: HiGHS reads n_cols entries from any array it is given
    kinds = np.zeros(lp.n_cols, np.int32) if integrality is None else np.ascontiguousarray(integrality, np.int32)
    if len(kinds) != lp.n_cols:
        raise ValueError(f"integrality has {len(kinds)} entries for {lp.n_cols} columns")
    status = h.passModel(
        int(lp.n_cols), int(lp.n_rows), int(matrix.nnz), int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize), 0.0,
        _float(lp.cost), _float(lp.col_lower), _float(lp.col_upper), _float(lp.row_lower), _float(lp.row_upper),
        np.ascontiguousarray(matrix.indptr, dtype=np.int32), np.ascontiguousarray(matrix.indices, dtype=np.int32),
        _float(matrix.data), kinds)
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS refused the model's arrays: a bug in allocator's formulation")


def _float(values) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def new_highs():
    """A quiet Highs instance; the first one in a process prints a banner to fd 1, so silence it."""
    import highspy

    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        return h
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


_BANNER_SHOWN = False


def _clip(lp: LinearProgram, x: np.ndarray) -> np.ndarray:
    """Bounds hold exactly (solvers may overshoot a bound by their tolerance)."""
    return np.minimum(np.maximum(x, lp.col_lower), lp.col_upper)


def _objective(lp: LinearProgram, x: np.ndarray) -> float:
    value = float(np.dot(lp.cost, x)) / lp.objective_scale
    return -value if lp.maximize else value


def choose_method(lp: LinearProgram) -> str:
    """Interior point for wide models with few rows or for large ones; simplex for the rest.

    Measured (benchmarks/README.md): the suffix formulation of the national LSOA
    model (25 rows, 0.8m columns) takes HiGHS dual simplex minutes and IPM seconds.
    """
    if lp.n_cols > 20_000 or (lp.n_cols > 2_000 and (lp.n_rows < 100 or lp.n_rows * 50 < lp.n_cols)):
        return "ipm"
    return "simplex"


def stopped_error(name: str, time_limit: float | None, lp: LinearProgram, found: float | None,
                  bound: float | None) -> SolverError:
    """The time limit's error: the best allocation's objective and the bound, when known, and the gap."""
    text = f"{name} stopped at the time limit of {_shown_limit(time_limit):g} s before proving optimality"
    most = "more" if lp.maximize else "less"
    if bound is not None and not np.isfinite(bound):
        bound = None
    if lp.integrality is None and (found is None or bound is None):
        text += ": raise --time-limit"
    elif bound is None:
        text += " (no bound on the objective yet): raise --time-limit"
    elif found is None:  # no allocation meeting every rule found yet
        text += (f"; no allocation meeting every rule was found yet, and none can reach {most} than an "
                 f"objective of {plain(bound, 6)}: raise --time-limit")
    else:
        gap = abs(bound - found) / max(abs(found), 1e-12)
        text += (f"; the best allocation found reaches an objective of {plain(found, 6)} and none can reach "
                 f"{most} than {plain(bound, 6)} (a gap of {small_share(gap)}): raise --time-limit")
    error = SolverError(text)
    error.incumbent, error.bound = found, bound
    return error
