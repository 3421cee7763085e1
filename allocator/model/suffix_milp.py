"""An SII or gap reduction as a MILP over its relaxation in suffix form, binaries only where needed.

When the Lagrangian bound of `allocator.model.gradient_bound` does not prove its relaxation's
allocation optimal (england-la asked for more than about 0.42 of its SII: the relaxation fills
hundreds of lines out of order), the exact model is still a MILP.  In rows form (a binary a line
and breakpoint, every line on its own) HiGHS finds no allocation in minutes there.  Here it is
written over the relaxation instead:

- the relaxation already makes each segment of each curve rise with need on its own, which every
  allocation in order does between lines of different need (a valid inequality the rows form's
  LP relaxation lacks);
- lines of equal need may lie in any order (as the MILP allows): the suffix form's raise columns
  between them become free, and a separator column per segment between two levels of need keeps
  every line of the lower level at or under it and every line of the upper at or over it
  (`_free_ties`);
- a line's segments are made to fill in order by a binary for each pair of segments that some
  solve filled out of order, with rows over the line's fills (``fill[k] >= length[k] z``,
  ``fill[k+1] <= room z``, the room of an unbounded last segment being the budget spent on that
  line alone): first the pairs of the relaxation, then, round by round, those of each solve.
  Each model is a relaxation of the full MILP, so its bound holds for every allocation in order;
  each round's allocation, its lines put in order (or re-optimised with each line kept in its
  segment, an LP), within HiGHS's MIP gap of that bound is the MILP's optimum.
- It is solved over each segment's fills along its chain instead of the raises (`_fill_form`):
  the same model, but the dense prefix sums of a pace of change's rows and of the binaries' rows
  become one entry a line.  england-la at an SII reduction of 0.45: 1.37m nonzeros -> 44,000, HiGHS
  16 s -> 4 s; the root LP by interior point, RINS and RENS off (`solver.ROOT_BY_IPM`).
- Each round's MILP is first searched by hand (`allocator.model.one_branch`: the root LP, then
  best-first strong branching on a few binaries, each LP from its parent's basis), which proves
  england-la's reductions at one or two branchings in a second or two where HiGHS's branch and
  bound spends 4-20 s before its first branching; where that search ends at lines out of order
  that have no binary, the next round starts from it; only what it leaves goes to HiGHS.
- A round whose root LP already fills lines out of order that have no binary is not branched
  on: the next round adds them at once, its root LP solved by dual simplex from this root's basis
  (`_carried`: the new binaries at 0, their rows basic, the basis still dual feasible), 0.6 s
  where interior point took 3.7 s.  Inside a `highs.warm_starts` block (a frontier) the lines
  that needed a binary are kept for the next MILP of the same matrix (the next point, the limit
  before the points) to start with.  england-la's 21-point gap frontier: 114 -> 91 s (a slow
  host, benchmarks/README.md "Session 25").
- A round's branchings are replayed first by the next round (and, in a frontier, by the next
  point's MILP), without strong branching: two LPs each where a strong branching solves 24, and
  any branching is valid.  A round that ended needing more binaries gets back to its bound in a
  second instead of redoing its search; england-la's gap frontier's MILP points 58 -> 33 s
  (benchmarks/README.md "Session 26").

Lines merged into one group (equal need and value, `lp.Groups`) would be held at one intensity,
which the MILP does not ask: the model applies only when no group holds more than one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time

import numpy as np
import scipy.sparse as sp

from allocator.errors import SolverError
from allocator.model import one_branch
from allocator.model.gradient_bound import TOLERANCE, _by_service
from allocator.model.gradient_bound import _in_order as _fill_in_order
from allocator.model.highs import (
    MIP_REL_GAP,
    Solution,
    Status,
    _objective,
    hint,
    in_warm_starts,
    keep_hint,
    limited,
    matrix_key,
    stopped_error,
    warm_starts,
)
from allocator.model.lp import LinearProgram, NameBlock

ROUNDS = 12  # MILP solves at most, each with the lines found out of order by the one before
IN_ORDER = 1e-7  # a segment counts as started, or its predecessor as not full, beyond this share of it
ADDED = 1e-6  # ... and gets a binary in the next round beyond this (HiGHS's integrality tolerance)
FIRST = 1e-5  # the relaxation's own traces below this share are HiGHS's tolerances, not choices


def applies(lp: LinearProgram) -> bool:
    """A relaxation in suffix form (`lp.build(relaxed=True)`) whose groups are single lines, each
    with a finite most its last segment can hold (its length, or the budget spent on it alone)."""
    if lp.integrality is not None or not lp.spend_sets[1] or len(lp.groups.size) == 0 \
            or int(lp.groups.size.max()) > 1:
        return False
    return all(np.all(np.isfinite(_most(lp, cols, length))) for _, cols, length in _chains(lp))


def _most(lp: LinearProgram, cols: np.ndarray, length: np.ndarray) -> np.ndarray:
    """(n,) the most the last segment of each line along a chain can hold: its length, or, if it
    has none, the budget above the fixed spend spent on that line alone (the budget row, row 0)."""
    if np.isfinite(length[-1]):
        return np.full(cols.shape[1], length[-1])
    row = np.asarray(lp.matrix[0, cols[-1]].todense()).ravel()  # suffix sums of each line's pounds
    per_line = row - np.append(row[1:], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(per_line > 0, lp.row_upper[0] / per_line, np.inf)


@dataclasses.dataclass
class _Rows:
    """Rows and columns to append to an LP, gathered as triplets."""

    n_rows: int
    n_cols: int
    rows: list = dataclasses.field(default_factory=list)
    cols: list = dataclasses.field(default_factory=list)
    vals: list = dataclasses.field(default_factory=list)
    lower: list = dataclasses.field(default_factory=list)
    upper: list = dataclasses.field(default_factory=list)
    kinds: list = dataclasses.field(default_factory=list)  # per new column: 1 binary, 0 continuous
    col_upper: list = dataclasses.field(default_factory=list)

    def row(self, cols: np.ndarray, vals: np.ndarray, lower: float, upper: float) -> int:
        r = self.n_rows + len(self.lower)
        self.rows.append(np.full(len(cols), r))
        self.cols.append(np.asarray(cols))
        self.vals.append(np.asarray(vals, float))
        self.lower.append(lower)
        self.upper.append(upper)
        return r

    def column(self, upper: float, binary: bool) -> int:
        """A new column in [0, upper]: its index."""
        self.kinds.append(1 if binary else 0)
        self.col_upper.append(upper)
        return self.n_cols + len(self.kinds) - 1


def _chains(lp: LinearProgram) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per service: its groups in chain order, raise columns (K, n) and segment lengths (K,)."""
    out = []
    for s, sets in _by_service(lp).items():
        cols = np.stack([c for _, c, _, _ in sets])
        out.append((sets[0][0], cols, lp.col_upper[cols[:, 0]]))
    return out


def _levels(need: np.ndarray) -> list[tuple[int, int]]:
    """Runs [a, b] (positions) of equal need along a chain, in order."""
    starts = np.concatenate([[0], np.flatnonzero(np.diff(need) != 0) + 1])
    ends = np.concatenate([starts[1:] - 1, [len(need) - 1]])
    return list(zip(starts.tolist(), ends.tolist()))


def _free_ties(lp: LinearProgram, extra: _Rows) -> np.ndarray:
    """The column lower bounds with equal-need lines in any order among themselves, and what keeps
    every line of a level of need between the levels below and above it: a separator column per
    segment between two levels where either holds more than one line (each fill below it at or
    under it, each above at or over it), as the rows form does (module docstring)."""
    lower = lp.col_lower.copy()
    for mine, cols, length in _chains(lp):
        levels = _levels(lp.groups.need[mine])
        for k in range(cols.shape[0]):
            c = cols[k]
            for a, b in levels:
                lower[c[a + 1:b + 1]] = -length[k]  # a member may sit below the one before it
                if b > a and b == len(mine) - 1:  # the last level: each member within the segment
                    for j in range(a, b):
                        extra.row(c[:j + 1], np.ones(j + 1), -np.inf, length[k])
            for (a, b), (a2, b2) in zip(levels[:-1], levels[1:]):
                if b == a and b2 == a2:
                    continue  # one line each: its raise >= 0 keeps them in order
                sep = extra.column(length[k], binary=False)
                for j in range(a, b + 1):  # fill[j] <= sep
                    extra.row(np.append(c[:j + 1], sep), np.append(np.ones(j + 1), -1.0), -np.inf, 0.0)
                for j in range(a2, b2 + 1):  # fill[j] >= sep
                    extra.row(np.append(c[:j + 1], sep), np.append(np.ones(j + 1), -1.0), 0.0, np.inf)
    return lower


def out_of_order(lp: LinearProgram, x: np.ndarray, tol: float = IN_ORDER) -> list[tuple[int, int, int]]:
    """(chain, position, segment k) wherever ``x`` starts segment k + 1 of a line before k is full
    (beyond ``tol`` of the segments' lengths, 1 where unbounded)."""
    bad = []
    for c_index, (_, cols, length) in enumerate(_chains(lp)):
        fill = np.cumsum(x[cols], axis=1)  # (K, n)
        started = fill[1:] > tol * np.where(np.isfinite(length), length, 1.0)[1:, None]
        short = fill[:-1] < length[:-1, None] * (1 - tol)
        k, t = np.nonzero(started & short)
        bad += [(c_index, int(a), int(b)) for a, b in zip(t, k)]
    return bad


def _binaries(lp: LinearProgram, pairs: list[tuple[int, int, int]], extra: _Rows) -> None:
    """A binary for each (chain, position, segment k): segment k + 1 of the line starts only once k
    is full, two rows over the line's prefix sums."""
    chains = _chains(lp)
    most = [_most(lp, cols, length) for _, cols, length in chains]
    for c_index, t, k in pairs:
        _, cols, length = chains[c_index]
        z = extra.column(1.0, binary=True)
        prefix, after = cols[k, :t + 1], cols[k + 1, :t + 1]
        room = length[k + 1] if np.isfinite(length[k + 1]) else most[c_index][t]
        extra.row(np.append(prefix, z), np.append(np.ones(t + 1), -length[k]), 0.0, np.inf)
        extra.row(np.append(after, z), np.append(np.ones(t + 1), -room), -np.inf, 0.0)


def model(lp: LinearProgram, lines: list[tuple[int, int, int]]) -> LinearProgram:
    """``lp`` with equal-need lines freed and binaries for ``lines`` (chain, position, segment)."""
    extra = _Rows(lp.n_rows, lp.n_cols)
    lower = _free_ties(lp, extra)
    _binaries(lp, lines, extra)
    m, z = len(extra.lower), len(extra.kinds)
    if m:
        block = sp.csr_matrix((np.concatenate(extra.vals), (np.concatenate(extra.rows) - lp.n_rows,
                                                            np.concatenate(extra.cols))),
                              shape=(m, lp.n_cols + z))
    else:
        block = sp.csr_matrix((0, lp.n_cols + z))
    matrix = sp.vstack([sp.hstack([lp.matrix, sp.csc_matrix((lp.n_rows, z))]), block]).tocsc()
    integrality = np.concatenate([np.zeros(lp.n_cols, np.int8), np.array(extra.kinds, np.int8)])
    n0, m0 = lp.n_cols, lp.n_rows
    return dataclasses.replace(
        lp, matrix=matrix, cost=np.concatenate([lp.cost, np.zeros(z)]),
        col_lower=np.concatenate([lower, np.zeros(z)]), col_upper=np.concatenate([lp.col_upper, extra.col_upper]),
        row_lower=np.concatenate([lp.row_lower, extra.lower]), row_upper=np.concatenate([lp.row_upper, extra.upper]),
        col_blocks=lp.col_blocks + (NameBlock(n0, n0 + z, make=lambda j: f"suffix_milp_{j}"),),
        row_blocks=lp.row_blocks + (NameBlock(m0, m0 + m, make=lambda i: f"suffix_milp_{i}"),),
        integrality=integrality if integrality.any() else None,
        gain_columns=None if lp.gain_columns is None else np.concatenate([lp.gain_columns, np.zeros(z, bool)]))


def _fill_form(milp: LinearProgram, chains) -> tuple[LinearProgram, sp.csc_matrix]:
    """``milp`` over each segment's fill along its chain (``fill[t] = raise[0] + ... + raise[t]``)
    instead of its raises, and the map D (``raise = D fill``).  The same model, but the suffix form's
    dense prefix sums (a pace of change's rows, the binaries' rows) become one entry a line: the
    branch and bound's LPs are sparse.  A raise's bounds become a row over two fills."""
    n = milp.n_cols
    first, before = [], []
    lower, upper = milp.col_lower.copy(), milp.col_upper.copy()
    rows, rlo, rhi = [], [], []
    for _, cols, length in chains:
        for k in range(cols.shape[0]):
            c = cols[k]
            first.append(c[1:])
            before.append(c[:-1])
            lo, hi = milp.col_lower[c[1:]], milp.col_upper[c[1:]]
            keep = (lo > -length[k]) | (hi < length[k])
            rows += [(a, b) for a, b in zip(c[1:][keep], c[:-1][keep])]
            rlo.append(np.where(lo[keep] > -length[k], lo[keep], -np.inf))
            rhi.append(np.where(hi[keep] < length[k], hi[keep], np.inf))
            lower[c[1:]], upper[c[1:]] = 0.0, length[k]
    at, back = np.concatenate(first), np.concatenate(before)
    D = (sp.identity(n, format="csc") - sp.csc_matrix((np.ones(len(at)), (at, back)), shape=(n, n))).tocsc()
    matrix = (milp.matrix @ D).tocsc()
    matrix.eliminate_zeros()
    m = len(rows)
    pairs = np.array(rows, dtype=np.int64).reshape(-1, 2)
    steps = sp.csc_matrix((np.concatenate([np.ones(m), -np.ones(m)]),
                           (np.concatenate([np.arange(m), np.arange(m)]), np.concatenate([pairs[:, 0], pairs[:, 1]]))),
                          shape=(m, n))
    fill = dataclasses.replace(
        milp, matrix=sp.vstack([matrix, steps]).tocsc(), cost=D.T @ milp.cost, col_lower=lower, col_upper=upper,
        row_lower=np.concatenate([milp.row_lower] + rlo), row_upper=np.concatenate([milp.row_upper] + rhi),
        row_blocks=milp.row_blocks + (NameBlock(milp.n_rows, milp.n_rows + m, make=lambda i: f"raise_{i}"),))
    return fill, D


def solve(lp: LinearProgram, first: np.ndarray, time_limit: float | None = None,
          bound: float | None = None) -> tuple[LinearProgram, Solution] | None:
    """The MILP's optimum over the relaxation ``lp``, binaries added round by round from the
    segments ``first`` (the relaxation's allocation) fills out of order.  Each round starts from an
    allocation in order near the last one (`_in_order_point`), and each round's own allocation is put
    in order: within the round's bound by the MIP gap, it is the answer.  `SolverError` with what is
    known (``bound``: one known before, in the objective's units) if the time limit stops it;
    `InfeasibleError` if no allocation in order meets the rows.  None if rounds end with nothing
    proven (reductions at the rows' tolerance, where putting lines in order breaks a row).
    Outside a `warm_starts` block (a frontier's), one of its own: each repair LP (`_in_order_point`)
    starts from the last one's basis (england-la, gap 0.45: three repairs 2.0 -> 0.7 s)."""

    with contextlib.ExitStack() as block:
        if not in_warm_starts():
            block.enter_context(warm_starts())
        return _rounds(lp, first, time_limit, bound)


def _rounds(lp: LinearProgram, first: np.ndarray, time_limit: float | None,
            bound: float | None) -> tuple[LinearProgram, Solution] | None:
    began = time.perf_counter()
    chains = _chains(lp)
    key = matrix_key(lp)  # in a frontier, the lines the point before needed binaries for, here from the start
    lines = sorted(set(out_of_order(lp, first, FIRST)) | set(hint("suffix_milp lines", key) or ()))
    tree = hint("suffix_milp tree", key) or ()  # ... and the branchings (`_branched`)
    x, before = first, None  # before: the last round's lines, fill form and root basis
    for rounds in range(1, ROUNDS + 1):
        milp = model(lp, lines)
        fill, D = _fill_form(milp, chains)
        start = None if before is None else _carried(before, lines, fill)
        kind, hand, root, tree = _branched(lp, milp, fill, D, chains, lines, time_limit, began, start,
                                           rounds < ROUNDS, tree)
        before = (lines, fill, root)
        keep_hint("suffix_milp lines", key, lines)
        keep_hint("suffix_milp tree", key, tree)
        if kind == "proven":
            return milp, _answer(milp, hand, hand.x, rounds, len(lines), began)
        if kind == "grow":  # the root LP fills lines out of order that have no binary: more at once
            x = hand.x
        elif kind == "more" and rounds < ROUNDS:  # this round's MILP solved, or more binaries needed
            x = hand.x
            point = _settled(lp, milp, x, hand.bound, chains, lines, time_limit, began)
            if point is not None:
                return milp, _answer(milp, hand, point, rounds, len(lines), began)
        else:
            known = (hand.objective if kind == "stopped" else None, hand.bound) if hand is not None else (None, None)
            found = _highs(lp, milp, fill, chains, lines, x, known, time_limit, began, bound)
            x = D @ found.x
            point = _settled(lp, milp, x, found.bound if found.bound is not None else found.objective, chains,
                             lines, time_limit, began)
            if point is not None:
                return milp, _answer(milp, found, point, rounds, len(lines), began)
        more = (set(out_of_order(lp, x, ADDED)) - set(lines)) or (set(out_of_order(lp, x)) - set(lines))
        if not more:
            return None
        lines = sorted(set(lines) | more)
    return None


def _carried(before: tuple, lines: list, fill: LinearProgram):
    """The last round's root basis for this round's fill form (``before``: the last round's lines,
    fill form and basis; this round's binaries a superset of its): each kept binary and its two rows
    as they were, each new binary at 0 with its rows basic.  Every new column's reduced cost is then
    0 (its rows' prices 0), so the basis stays dual feasible and dual simplex goes on from it.  None
    without a basis."""
    import highspy

    old_lines, old_fill, basis = before
    if basis is None or not basis.valid:
        return None
    at = {line: j for j, line in enumerate(old_lines)}
    kept = np.array([at.get(line, -1) for line in lines], dtype=np.int64)
    old = kept >= 0
    cols = np.array([int(v) for v in basis.col_status])
    rows = np.array([int(v) for v in basis.row_status])
    z, z_old = fill.n_cols - len(lines), old_fill.n_cols - len(old_lines)  # the first binary's column
    r, r_old = _pairs_start(fill, lines), _pairs_start(old_fill, old_lines)  # the first binary's rows
    if z != z_old or r != r_old:
        return None
    lower, basic = int(highspy.HighsBasisStatus.kLower), int(highspy.HighsBasisStatus.kBasic)
    pairs = rows[r:r + 2 * len(old_lines)].reshape(-1, 2)
    col_status = np.concatenate([cols[:z], np.where(old, cols[z + np.maximum(kept, 0)], lower)])
    row_status = np.concatenate([rows[:r], np.where(old[:, None], pairs[np.maximum(kept, 0)], basic).ravel(),
                                 rows[r + 2 * len(old_lines):]])
    status = {int(v): v for v in highspy.HighsBasisStatus.__members__.values()}
    carried = highspy.HighsBasis()
    carried.col_status = [status[int(v)] for v in col_status]
    carried.row_status = [status[int(v)] for v in row_status]
    carried.valid = True
    return carried


def _pairs_start(fill: LinearProgram, lines: list) -> int:
    """The first of the binaries' rows in ``fill`` (`model`: two a binary, just before the raises'
    rows of `_fill_form`)."""
    return fill.row_blocks[-1].start - 2 * len(lines)


def _settled(lp: LinearProgram, milp: LinearProgram, x: np.ndarray, reached: float, chains, lines: list,
             time_limit: float | None, began: float) -> np.ndarray | None:
    """An allocation in order from ``x`` (its lines filled in order, else re-optimised in their
    segments) within the MIP gap of ``reached`` (a bound): the round's answer; else None."""
    point = _in_order(lp, x, chains, lines)
    if point is None or _apart(lp, _objective(milp, point), reached) > MIP_REL_GAP:
        point = _in_order_point(lp, x, chains, lines, time_limit, began)
    if point is not None and _apart(lp, _objective(milp, point), reached) <= MIP_REL_GAP:
        return point
    return None


def _highs(lp: LinearProgram, milp: LinearProgram, fill: LinearProgram, chains, lines: list, x: np.ndarray,
           hand: tuple, time_limit: float | None, began: float, bound: float | None) -> Solution:
    """The round's MILP by HiGHS's branch and bound.  Stopped by the clock, `SolverError` with the
    best allocation in order known (``hand``'s, the search by hand's objective or None, or one near
    the last round's ``x``) and the tightest bound known (``bound`` from before, or ``hand``'s)."""
    from allocator.model.solver import ROOT_BY_IPM, _solve_highs

    point = None if time_limit is None else _in_order_point(lp, x, chains, lines, time_limit, began)
    found = _better(milp, None if point is None else _objective(milp, point), hand[0])
    if hand[1] is not None:
        bound = hand[1] if bound is None else (min(bound, hand[1]) if milp.maximize else max(bound, hand[1]))
    try:  # (not handed to HiGHS as a start: 1.16 then mis-states the presolved objective and stops early)
        return _solve_highs(fill, ROOT_BY_IPM if milp.integrality is not None else "simplex",
                            _left(time_limit, began), known=(found, bound))
    except SolverError as exc:
        if exc.bound is not None or (found is None and bound is None):
            raise
        raise stopped_error("the MILP over the relaxation", time_limit, milp, found, bound) from None


def _better(milp: LinearProgram, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return b if a is None else a
    return max(a, b) if milp.maximize else min(a, b)


def _branched(lp: LinearProgram, milp: LinearProgram, fill: LinearProgram, D, chains, lines: list,
              time_limit: float | None, began: float, basis=None, grow: bool = False,
              tree: tuple = ()) -> tuple[str, Solution | None, object, tuple]:
    """The round's MILP by strong branching by hand (`allocator.model.one_branch`): "proven" with
    its answer (an allocation in order, the bound); "more" with the LP solution (the raises) where
    the search ended at lines out of order that have no binary, or at the MILP's own optimum;
    "grow" with the root LP's solution where, asked to (``grow``), the root already fills lines out
    of order that have no binary; "stopped" with what it knows (the best allocation in order, if
    any, and the bound), or with None (no root LP): the MILP then goes to HiGHS.  Last, the root
    LP's basis (None if none), for the next round to start from; ``basis``: this root's start.
    Last, the search's branchings over ``lines`` ((the node's (line, 0 or 1) pairs, the line
    branched on), in order), ``tree`` the last round's, replayed first (`one_branch.prove`'s plan):
    a round after one that ended needing more binaries gets back to its bound in a few LPs."""
    if milp.integrality is None:
        return "stopped", None, None, tree
    start = time.perf_counter()

    def value(xf: np.ndarray) -> tuple[float, np.ndarray] | None:
        point = _in_order(lp, D @ xf, chains, lines)
        return None if point is None else (_objective(milp, point), point)

    def repair(xf: np.ndarray) -> tuple[float, np.ndarray] | None:
        point = _in_order_point(lp, D @ xf, chains, lines, time_limit, began)
        return None if point is None else (_objective(milp, point), point)

    def incomplete(xf: np.ndarray) -> bool:
        return bool(set(out_of_order(lp, D @ xf, ADDED)) - set(lines))

    z = fill.n_cols - len(lines)  # the first binary's column
    col = {line: z + j for j, line in enumerate(lines)}
    plan = {frozenset((col[line], v) for line, v in fixed): col[line] for fixed, line in tree
            if line in col and all(f in col for f, _ in fixed)}
    proof = one_branch.prove(fill, [(c, k) for c, _, k in lines], value, repair, incomplete,
                             _left(time_limit, began), basis, grow, plan)
    if proof is None:
        return "stopped", None, None, tree
    name = f"HiGHS {proof.version} (the root LP and strong branching by hand, {proof.tried:,} binaries tried)"
    if proof.kind in ("more", "grow"):  # the LP's solution, for the next round
        x, objective = D @ proof.x, _objective(fill, proof.x)
    else:  # the allocation in order (none, if stopped before one was found)
        x, objective = proof.point, proof.found
    branchings = tuple((tuple((lines[f - z], v) for f, v in fixed), lines[j - z])
                       for fixed, j in proof.branchings) or tree  # none made (grown at the root): the last kept
    return proof.kind, Solution(x=x, objective=objective, status=Status.OPTIMAL, solver=name,
                                seconds=time.perf_counter() - start, bound=proof.bound), proof.root, branchings


def _in_order(lp: LinearProgram, x: np.ndarray, chains, lines: list) -> np.ndarray | None:
    """``x`` with every line's intensity kept and its segments filled exactly in order (HiGHS's
    tolerances leave traces), the binaries of ``lines`` to match; None if a row of ``lp`` breaks."""
    point = x.copy()
    for _, cols, length in chains:
        point[cols] = _fill_in_order(x[cols], length)
    n = lp.n_cols
    activity = lp.matrix @ point[:n]
    scale = np.maximum(1.0, abs(lp.matrix) @ np.abs(point[:n]))
    if not (np.all(activity >= lp.row_lower - TOLERANCE * scale) and np.all(activity <= lp.row_upper + TOLERANCE * scale)):
        return None
    return _matching(point, chains, lines)


def _matching(point: np.ndarray, chains, lines: list) -> np.ndarray:
    """``point`` (in order) with the last ``len(lines)`` columns, the binaries, set to match it."""
    if not lines:
        return point
    z = [float(np.sum(point[chains[c][1][k, :t + 1]]) >= chains[c][2][k] * (1 - IN_ORDER)) for c, t, k in lines]
    point = point.copy()
    point[len(point) - len(lines):] = z
    return point


def _left(time_limit: float | None, began: float) -> float | None:
    return limited(None if time_limit is None else max(time_limit - (time.perf_counter() - began), 1e-3))


def _apart(lp: LinearProgram, found: float, bound: float) -> float:
    """How far an allocation's objective lies from the bound, relative (either sense)."""
    worse = (bound - found) if lp.maximize else (found - bound)
    return float(worse / max(abs(found), 1e-12))


def _in_order_point(lp: LinearProgram, x: np.ndarray, chains, lines: list, time_limit: float | None,
                    began: float) -> np.ndarray | None:
    """An allocation in order near ``x``: each line kept in the segment its intensity reaches, every
    segment below it full and every one above it empty, the rest re-optimised (an LP); None if
    that LP has no allocation meeting every row.  With the binaries of ``lines`` set to match."""
    from allocator.errors import InfeasibleError, SolverError
    from allocator.model.solver import _solve_highs

    fill, D = _repair_form(lp, chains)
    lower, upper = fill.col_lower.copy(), fill.col_upper.copy()
    for _, cols, length in chains:
        above = np.cumsum(x[cols], axis=1).sum(axis=0)  # each line's intensity above the floor
        ends = np.cumsum(length)
        slack = IN_ORDER * max(1.0, float(np.max(ends[np.isfinite(ends)], initial=0.0)))
        at = np.minimum(np.searchsorted(ends, above - slack), len(length) - 1)  # the segment it reaches
        for k in range(len(length)):
            full, empty = cols[k][at > k], cols[k][at < k]
            lower[full] = length[k]
            upper[empty] = 0.0
    try:
        found = _solve_highs(dataclasses.replace(fill, col_lower=lower, col_upper=upper), "simplex",
                             _left(time_limit, began))
    except (InfeasibleError, SolverError):  # none, or the clock ran out: the search goes on without it
        return None
    return _matching(np.concatenate([D @ found.x, np.zeros(len(lines))]), chains, lines)


def _repair_form(lp: LinearProgram, chains) -> tuple[LinearProgram, sp.csc_matrix]:
    """``lp`` with the ties freed and no binaries, in fill form (`_in_order_point`'s LP), built once
    for each LP in the running `warm_starts` block (0.1-0.25 s a build at england-la)."""
    kept = hint("suffix_milp repair form", b"")
    if kept is not None and kept[0] is lp:
        return kept[1]
    form = _fill_form(model(lp, []), chains)
    keep_hint("suffix_milp repair form", b"", (lp, form))
    return form


def _answer(milp: LinearProgram, found: Solution, x: np.ndarray, rounds: int, binaries: int,
            began: float) -> Solution:
    name = (f"{found.solver}; the MILP in suffix form, {binaries:,} binaries where its relaxations filled "
            f"segments out of order ({rounds} round{'s' if rounds > 1 else ''}), relative gap at most {MIP_REL_GAP:g}")
    return dataclasses.replace(found, x=x, objective=_objective(milp, x), solver=name,
                               seconds=time.perf_counter() - began)
