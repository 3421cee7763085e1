"""A pace of change at national scale: the LP over pools of lines, proven by a Lagrangian bound.

The pace of change ties each area's lines together while the ordering rows chain each service's
lines by need; at tens of thousands of areas the two leave no structure for the interior point
(about n^2: some 30 minutes at 33,755 LSOAs; `benchmarks/README.md`, "National-scale rules").  Yet
at the optimum a service's intensities are flat over long runs of its need order: 33,755 LSOAs x
8 services take a few hundred distinct levels.  So the LP is solved over *pools*:

- A pool is a set of one service's lines held at one intensity.  The LP with ``x = E z`` (one
  column per pool and piece; rows left empty or repeated dropped) is a restriction of the LP: its
  allocation meets every rule, and its objective is a bound the optimum reaches or passes.
- Prices from the pooled LP's duals on every row but the ordering ones give a *Lagrangian bound*
  the optimum cannot pass.  With those rows priced, what is left separates by service and piece
  (the gains are concave and each piece's coefficients in the priced rows are the last piece's,
  or, in maximin's and level-up's level rows, fall with the gain, so that pieces fill in order at
  any prices of the right signs: `_in_order`): each piece's fill rises with need, lines of equal
  need in any order, and the best such fill is a step above one level of need, from suffix sums.
- Each round splits every pool wherever a piece's best step may fall (within ``EPS`` of the best,
  so that the pooled LP's degenerate prices still split), until the bound meets the pooled
  allocation within ``GAP`` (``LAST_GAP`` when nothing is left to split: HiGHS's own tolerances
  keep some bounds 1e-9 short): the allocation is then the LP's optimum, proven by weak duality.
- A pool that loses only a few lines two rounds running is split into single lines (`_peeled`):
  at england-lsoa the pace of change gives each of the highest-need lines its own intensity, and
  the bound's steps found them one a round.

It starts from one pool a service, the priced rows elastic (artificial columns at a large cost) until
the pools can meet them; each round's pooled LP starts from the last one's basis (`_carried`).  A pool only ever splits, so the pooled objective never gets worse.  When
the rounds stop without a proof (none left to split, or ``ROUNDS``), the whole LP is solved as
before.  A time limit that stops the rounds reports the best allocation and the bound.

Measured (`benchmarks/pace_pools.py`; `benchmarks/README.md`, "National-scale rules"): 4,000
synthetic areas x 8 services 11-16 s against 25-38 s for the whole LP; england-lsoa's "Pace of
change" 13 rounds, 13 s (21 s end to end; 69 rounds and 93 s before `_peeled`), where the whole
LP's interior point would take about half an hour.  With maximin or level-up (4,000 synthetic areas): 52 s against 97 s and 11 s
against 58 s for the whole LP's interior point.  Plans (years tied by the pace of change) keep the
whole LP: their pooled LPs grow hard.  With a minimum slope the ordering rows' right-hand sides are
not 0 and a pool cannot hold its lines at one intensity: `allocator.model.slope_pools` pools them
at one height above the slope's steps instead.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import scipy.sparse as sp

from allocator.errors import SolverError
from allocator.model.highs import (
    Solution,
    Status,
    _objective,
    limited,
    new_highs,
    pass_model,
    stopped_error,
)
from allocator.model.lp import LinearProgram

MIN_COLUMNS = 20_000  # below this the whole LP's interior point is as quick (1,000 areas x 8: 30,000 columns, 2.1 s against 1.1 s)
EPS = 1e-9  # a step within this share of the best may be the Lagrangian's: it splits
GAP = 1e-9  # relative: the bound this close to the pooled allocation proves it optimal
LAST_GAP = 1e-7  # ... or this close when nothing is left to split (HiGHS's own tolerances)
ROUNDS = 200
PEELED = 5  # a pool that loses at most this many lines two rounds running ...
SINGLES = 200  # ... and holds at most this many is split into single lines (`_peeled`)
ARTIFICIAL = 1e3  # times the largest cost: an artificial column's
PRICED = ("budget", "pace(")  # rows the LP must have; every row but the ordering ones is priced
CHAIN = ("order(", "below(", "above(")  # the rows that make intensity rise with need


def _blocks(lp: LinearProgram) -> dict[str, np.ndarray]:
    """Row indices by the prefix of their block's names (`PRICED`, `CHAIN`); '' for any other."""
    out: dict[str, list] = {}
    for b in lp.row_blocks:
        if b.stop > b.start:
            name = b.names[0] if b.names else b.make(0)  # (`lp.name_of` would search every block again)
            kind = next((p for p in PRICED + CHAIN if name.startswith(p)), "")
            out.setdefault(kind, []).append(np.arange(b.start, b.stop))
    return {k: np.concatenate(v) for k, v in out.items()}


def applies(lp: LinearProgram) -> bool:
    """A continuous LP in rows form with a pace of change and ordering rows without a minimum
    slope (their right-hand sides 0), large enough to pay.  Without ordering rows (proportional
    mode, proportionality "none") the bound, which keeps each piece's fill rising with need, is
    no bound: 3,000 synthetic areas with "none" were "certified" 2.2% short.  Other rows (maximin's levels, service
    totals) are priced with the pace rows when `_layout` finds that pieces still fill in order."""
    if lp.integrality is not None or lp.n_cols < MIN_COLUMNS or lp.spend_sets[1] or not lp.spend_sets[0]:
        return False
    rows = _blocks(lp)
    if "pace(" not in rows or "budget" not in rows:
        return False
    chain = np.concatenate([rows.get(p, np.zeros(0, np.int64)) for p in CHAIN])
    return bool(len(chain) and np.all(lp.row_lower[chain] <= 0) and np.all(lp.row_upper[chain] >= 0)
                and np.all((lp.row_lower[chain] == 0) | (lp.row_upper[chain] == 0)))


@dataclasses.dataclass
class _Layout:
    """Per service: its lines' level of need along the chain (G,) and pieces' columns (K, G; -1: none)."""

    level: list
    cols: list
    pieces: np.ndarray  # (n_cols,) bool: a piece column
    chain: np.ndarray  # the ordering rows
    priced: np.ndarray  # the rows priced (and elastic in the pooled LP): all others
    separators: np.ndarray  # (n_cols,) bool: a column between levels of equal need (ordering rows only)


def piece_grids(lp: LinearProgram):
    """Each service with lines in rows form: (service, its line groups in need order, its pieces'
    columns (K, lines; -1: none)).  (Shared with `allocator.model.slope_pools`.)"""
    by: dict[int, dict[int, tuple]] = {}
    for mine, cols, s, k in lp.spend_sets[0]:
        by.setdefault(int(s), {})[int(k)] = (np.asarray(mine), np.asarray(cols))
    for s, per_piece in sorted(by.items()):
        order = np.asarray(lp.groups.order[s])
        if len(order) == 0:
            continue
        where = np.full(int(order.max()) + 1, -1)
        where[order] = np.arange(len(order))
        cols = np.full((max(per_piece) + 1, len(order)), -1)
        for k, (mine, c) in per_piece.items():
            cols[k, where[mine]] = c
        yield s, order, cols


def _layout(lp: LinearProgram) -> _Layout | None:
    """The layout, or None if it does not fit the module's model (a check, not a proof)."""
    levels, columns = [], []
    pieces = np.zeros(lp.n_cols, bool)
    for _, order, cols in piece_grids(lp):
        need = lp.groups.need[order]
        levels.append(np.concatenate([[0], np.cumsum(np.diff(need) > 0)]))
        columns.append(cols)
        pieces[cols[cols >= 0]] = True
    rows = _blocks(lp)
    chain = np.concatenate([rows.get(p, np.zeros(0, np.int64)) for p in CHAIN])
    is_chain = np.zeros(lp.n_rows, bool)
    is_chain[chain] = True
    priced = np.flatnonzero(~is_chain)
    if not all(_in_order(lp, priced, cols) for cols in columns):
        return None
    in_chain = np.bincount(sp.csr_matrix(lp.matrix[chain]).indices, minlength=lp.n_cols) > 0
    separators = ~pieces & in_chain  # no cost, no entry in a priced row
    if np.any(lp.cost[separators] != 0) or lp.matrix[priced][:, np.flatnonzero(separators)].nnz:
        return None
    return _Layout(levels, columns, pieces, chain, priced, separators)


def _in_order(lp: LinearProgram, priced: np.ndarray, cols: np.ndarray) -> bool:
    """Whether a service's pieces fill in order at any prices of the right signs: each piece's
    cost at least the last's, and in each priced row its coefficient the last's (a row with both
    bounds), at most it (a row with a lower bound only: a price >= 0) or at least it (an upper
    bound only: a price <= 0), so that every line's reduced costs rise from piece to piece."""
    real = cols >= 0
    cost = np.where(real, lp.cost[np.maximum(cols, 0)], np.inf)
    if np.any(np.diff(cost, axis=0)[real[1:]] < -1e-12 * np.abs(cost[1:][real[1:]]).max(initial=1.0)):
        return False
    lower, upper = np.isfinite(lp.row_lower[priced]), np.isfinite(lp.row_upper[priced])
    A = lp.matrix[priced].tocsc()
    for k in range(cols.shape[0] - 1):
        both = real[k] & real[k + 1]
        step = (A[:, cols[k + 1][both]] - A[:, cols[k][both]]).tocoo()
        if step.nnz == 0:
            continue
        scale = 1e-9 * max(1.0, float(abs(A).max()))
        rise, fall = step.data > scale, step.data < -scale
        if np.any(rise & lower[step.row]) or np.any(fall & upper[step.row]):
            return False
    return True


def _pooled(lp: LinearProgram, lay: _Layout, pool_of: list):
    """The LP over the pools (``x = E z``): rows left empty or repeated dropped, and the levels of
    equal need a pool holds whole (`_whole_levels`); the priced rows elastic.  Returns the LP, E,
    the rows of ``lp`` it keeps, and ``restore`` (its solution -> z, the separators put back); None
    if a row no column reaches cannot hold 0."""
    n = lp.n_cols
    column = np.full(n, -1)
    at = 0
    for cols, pool in zip(lay.cols, pool_of):
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
    empty = np.diff(B.indptr) == 0
    if np.any(empty & ((lp.row_lower > 0) | (lp.row_upper < 0))):
        return None  # a row no column reaches that 0 does not meet: the whole LP says why
    rng = np.random.default_rng(0)  # equal rows project equally (different ones, almost never)
    key = np.ascontiguousarray(np.stack([np.round(B @ rng.random(at), 9), np.round(B @ rng.random(at), 9),
                                         np.nan_to_num(lp.row_lower, neginf=-1e300),
                                         np.nan_to_num(lp.row_upper, posinf=1e300)], axis=1))
    keep = np.zeros(lp.n_rows, bool)
    keep[np.unique(key.view(np.dtype((np.void, key.itemsize * 4))).ravel(), return_index=True)[1]] = True
    keep &= ~empty  # an empty row: its bounds hold 0 (ordering rows, `applies`)
    piece, sep = np.zeros(at, bool), np.zeros(at, bool)
    piece[column[lay.pieces]] = True
    sep[column[lay.separators]] = True
    Bk = B[keep]
    gone_cols, gone_rows, rep, coef = _whole_levels(Bk, piece, sep)
    keep[np.flatnonzero(keep)[gone_rows]] = False
    cols_left = np.flatnonzero(~np.isin(np.arange(at), gone_cols))
    first = np.full(at, -1)
    first[column[::-1]] = np.arange(n)[::-1]
    pace_at = np.searchsorted(np.flatnonzero(keep), lay.priced[keep[lay.priced]])  # all elastic
    m, a = int(keep.sum()), len(pace_at)
    extra = sp.csc_matrix((np.r_[np.ones(a), -np.ones(a)], (np.r_[pace_at, pace_at], np.arange(2 * a))), shape=(m, 2 * a))
    big = ARTIFICIAL * float(np.abs(lp.cost).max(initial=1.0))
    cost = E.T @ lp.cost
    small = dataclasses.replace(
        lp, matrix=sp.hstack([B[keep][:, cols_left], extra]).tocsc(), cost=np.r_[cost[cols_left], np.full(2 * a, big)],
        col_lower=np.r_[lp.col_lower[first][cols_left], np.zeros(2 * a)],
        col_upper=np.r_[lp.col_upper[first][cols_left], np.full(2 * a, np.inf)],
        row_lower=lp.row_lower[keep], row_upper=lp.row_upper[keep], col_blocks=(), row_blocks=(),
        gain_columns=None, integrality=None)

    def restore(solved: np.ndarray) -> np.ndarray:
        """z (the pooled columns, dropped separators at their pool's intensity), then the artificials."""
        z = np.zeros(at)
        z[cols_left] = solved[:len(cols_left)]
        z[gone_cols] = -(Bk[rep] @ z) / coef  # each dropped separator's row: pool - separator = 0
        return np.r_[z, solved[len(cols_left):]]

    return small, E, keep, restore, (column, cols_left, keep.copy(), lay.priced[keep[lay.priced]])


def _whole_levels(Bk: sp.csr_matrix, piece: np.ndarray, sep: np.ndarray):
    """Separator columns (between levels of equal need) whose every row holds one pool's pieces
    and the separator only: the separator can sit at that pool's intensity, so the column and its
    rows go (HiGHS's presolve did the same, for about 1 s a round at england-lsoa).  Returns the
    columns, the rows (of ``Bk``), one row for each column and its coefficient there."""
    none = np.zeros(0, np.int64)
    big = len(piece)
    if Bk.nnz == 0:
        return none, none, none, np.zeros(0)
    lens = np.diff(Bk.indptr)
    filled = lens > 0
    first_piece = np.full(Bk.shape[0], big)
    first_piece[filled] = np.minimum.reduceat(np.where(piece[Bk.indices], Bk.indices, big), Bk.indptr[:-1][filled])
    others = np.zeros(Bk.shape[0], np.int64)
    others[filled] = np.add.reduceat((~piece[Bk.indices]).astype(np.int64), Bk.indptr[:-1][filled])
    csc = Bk.tocsc()
    counts = np.diff(csc.indptr)
    seps = np.flatnonzero(sep & (counts > 0))
    if len(seps) == 0:
        return none, none, none, np.zeros(0)
    starts = csc.indptr[seps]
    pool_at = first_piece[csc.indices]
    lone = (others[csc.indices] == 1).astype(np.int64)
    whole = ((np.minimum.reduceat(pool_at, starts) == np.maximum.reduceat(pool_at, starts))
             & (np.minimum.reduceat(pool_at, starts) < big) & (np.add.reduceat(lone, starts) == counts[seps]))
    cols = seps[whole]
    rows = np.concatenate([csc.indices[csc.indptr[j]:csc.indptr[j + 1]] for j in cols]) if len(cols) else none
    return cols, np.unique(rows), csc.indices[csc.indptr[cols]], csc.data[csc.indptr[cols]]


def _refine(lp: LinearProgram, lay: _Layout, pool_of: list, y: np.ndarray) -> tuple[list, int, float]:
    """Every pool split wherever a piece's best step (the priced rows at ``y``) may fall; the
    number of splits; the Lagrangian's value, a bound no allocation passes (module docstring)."""
    y = np.where(((y > 0) & ~np.isfinite(lp.row_lower)) | ((y < 0) & ~np.isfinite(lp.row_upper)), 0.0, y)
    reduced = lp.cost - lp.matrix.T @ y  # (a price of the wrong sign, within HiGHS's tolerance, is 0)
    side = np.where(y > 0, lp.row_lower, np.where(y < 0, lp.row_upper, 0.0))
    bound = float(y @ side)
    rest = ~lay.pieces  # separators (no cost, no priced row: 0) and columns of their own (maximin's level)
    tiny = 1e-9 * max(1.0, float(np.abs(lp.cost).max(initial=0.0)))
    r = np.where(rest & (np.abs(reduced) > tiny), reduced, 0.0)[rest]
    with np.errstate(invalid="ignore"):
        bound += float(np.sum(np.where(r > 0, r * lp.col_lower[rest], np.where(r < 0, r * lp.col_upper[rest], 0.0))))
    out, splits = [], 0
    for level, cols, pool in zip(lay.level, lay.cols, pool_of):
        signature = np.zeros(len(pool), np.int64)
        levels = int(level.max()) + 1
        for k in range(cols.shape[0]):
            c = np.maximum(cols[k], 0)
            length = lp.col_upper[c]
            unbounded = not np.all(np.isfinite(length[cols[k] >= 0]))  # a last piece without a cap
            length = np.where(np.isfinite(length), length, 1.0)
            v = np.where(cols[k] >= 0, -reduced[c] * length, 0.0)  # each line's gain from its piece, full
            tol = EPS * max(1e-300, float(np.abs(v).sum()))
            per_level = np.bincount(level, weights=v, minlength=levels)
            higher = np.r_[np.cumsum(per_level[::-1])[::-1][1:], 0.0]
            step = np.r_[higher + np.bincount(level, weights=np.maximum(v, 0.0), minlength=levels), 0.0]
            bound -= float(step.max()) if not (unbounded and step.max() > tol) else np.inf
            for j in np.flatnonzero(step >= step.max() - tol):
                if j < levels:  # the step above level j: lines of higher need, and level j's that gain
                    for upper in ((level > j) | ((level == j) & (v > tol)), (level > j) | ((level == j) & (v >= -tol))):
                        signature = signature * 1_000_003 + upper
        new = np.unique(signature * 1_000_003 + pool, return_inverse=True)[1].ravel()  # (a hash: pool, steps)
        splits += int(new.max()) - int(pool.max())
        out.append(new)
    return out, splits, bound


def solve(lp: LinearProgram, time_limit: float | None = None) -> Solution | None:
    """The LP's optimum by pools (module docstring); None when the rounds prove nothing (the
    caller solves the whole LP).  `SolverError` with the best allocation and the bound if the
    time limit stops the rounds."""
    lay = _layout(lp)
    if lay is None:
        return None
    start = time.perf_counter()
    pool_of = [np.zeros(cols.shape[1], np.int64) for cols in lay.cols]
    best, bound, last, marks = None, -np.inf, None, None
    for rounds in range(1, ROUNDS + 1):
        # the pace rows stay elastic throughout: without the artificials HiGHS's dual simplex took
        # longer on england-lsoa's pooled LPs (3-3.7 s against 1.5-2.6 s a round by round 25)
        built = _pooled(lp, lay, pool_of)
        if built is None:
            return None
        small, E, keep, restore, ident = built
        basis = None if last is None else _carried(lp.n_cols, last, ident)
        solved, row_dual, kept_basis = _solve_pooled(lp, small, time_limit, start, best, bound, basis)
        if solved is None:
            return None
        last = (*ident, kept_basis)
        z, n = restore(solved), E.shape[1]
        y = np.zeros(lp.n_rows)
        y[keep] = row_dual
        y[lay.chain] = 0.0
        split, splits, lower = _refine(lp, lay, pool_of, y)
        pool_of, marks, more = _peeled(pool_of, split, marks)
        splits += more
        bound = max(bound, lower)
        if z[n:].sum() <= 1e-9:  # no artificial: the pooled allocation meets every rule
            best = np.clip(E @ z[:n], lp.col_lower, lp.col_upper)
            primal = float(lp.cost @ best)
            if primal - bound <= (GAP if splits else LAST_GAP) * max(1.0, abs(primal)):
                return _answer(lp, best, y, rounds, sum(int(p.max()) + 1 for p in pool_of), primal, bound, start)
        if not splits:
            return None
    return None


def _peeled(old: list, new: list, before: list | None) -> tuple[list, list, int]:
    """Each service's pools after ``new``, with a pool that loses at most `PEELED` lines in this
    round and the last (``before``: its lines, marked) split into single lines if it holds at most
    `SINGLES`; this round's marks; how many pools that added.

    The rounds split where the bound's best step falls, one step a piece, and at england-lsoa the
    pace of change gives each of the highest-need lines its own intensity: the rounds peeled them
    off a pool one a round (69 rounds, the last 50 of them mostly that; 14-20 rounds with this)."""
    out, marks, extra = [], [], 0
    for s, (o, n) in enumerate(zip(old, new)):
        size, width = np.bincount(o), int(n.max()) + 1
        pairs = np.unique(o * width + n)  # (pool, the pool it went to)
        parent, child = pairs // width, pairs % width
        smallest = np.full(len(size), np.iinfo(np.int64).max)
        np.minimum.at(smallest, parent, np.bincount(n)[child])
        peeled = (np.bincount(parent, minlength=len(size)) > 1) & (smallest <= PEELED)
        mark = peeled[o]
        if before is not None:
            again = np.flatnonzero(mark & before[s] & (size[o] <= SINGLES))
            if len(again):
                n = n.copy()
                n[again] = width + np.arange(len(again))
                n = np.unique(n, return_inverse=True)[1].ravel()
                extra += int(n.max()) + 1 - width
        out.append(n)
        marks.append(mark)
    return out, marks, extra


def _carried(n: int, last, ident):
    """The last round's optimal basis for this round's pooled LP (HiGHS repairs it: `alien`): a
    column of a split pool takes its parent's status, a row or column new to the model is basic."""
    import highspy

    column0, left0, keep0, pace0, basis = last
    column, left, keep, pace = ident
    cols0, rows0 = np.asarray(basis.col_status, dtype=object), np.asarray(basis.row_status, dtype=object)
    basic = highspy.HighsBasisStatus.kBasic
    at0 = np.full(int(column0.max()) + 1, -1)
    at0[left0] = np.arange(len(left0))
    rep = np.full(int(column.max()) + 1, -1)
    rep[column[::-1]] = np.arange(n)[::-1]  # a column of the LP each pooled column holds
    before = at0[column0[rep[left]]]
    status = [cols0[i] if i >= 0 else basic for i in before]
    where0 = {int(r): i for i, r in enumerate(pace0)}
    for sign in (0, 1):  # the artificial columns, +1 then -1, by their pace row
        status += [cols0[len(left0) + sign * len(pace0) + where0[int(r)]] if int(r) in where0 else basic for r in pace]
    row0 = np.full(len(keep0), -1)
    row0[np.flatnonzero(keep0)] = np.arange(int(keep0.sum()))
    b = highspy.HighsBasis()
    b.col_status = status
    b.row_status = [rows0[i] if i >= 0 else basic for i in row0[np.flatnonzero(keep)]]
    b.alien, b.valid = True, True
    return b


NAME = "HiGHS (the pace of change over pools of lines)"


def _solve_pooled(lp, small, time_limit, start, best, bound, basis=None, name: str = NAME, presolve: bool = False):
    """The pooled LP by simplex (from ``basis`` if given): its columns' values, row duals and final
    basis; Nones if HiGHS does not prove it optimal (the whole LP instead); `SolverError` at the
    time limit.  (Shared with `allocator.model.slope_pools`, whose pooled LPs keep presolve.)"""
    import highspy

    left = None if time_limit is None else time_limit - (time.perf_counter() - start)

    def stopped() -> SolverError:  # the bound in the objective's own units
        known = (-bound if lp.maximize else bound) / lp.objective_scale if np.isfinite(bound) else None
        return stopped_error(name, time_limit, lp, None if best is None else _objective(lp, best), known)

    if left is not None and left <= 0:
        raise stopped()
    try:
        left = limited(left)
    except SolverError:  # the command's own clock has run out
        raise stopped() from None
    h = new_highs()
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("solver", "simplex")
    if not presolve:
        h.setOptionValue("presolve", "off")  # the levels it removed are gone (`_whole_levels`): 3-5x faster
    if lp.feasibility_tolerance is not None:
        h.setOptionValue("primal_feasibility_tolerance", lp.feasibility_tolerance)
    h.setOptionValue("time_limit", float(left) if left is not None else float("inf"))
    pass_model(h, small)
    if basis is not None:
        h.setBasis(basis)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kTimeLimit:
        raise stopped()
    if status != highspy.HighsModelStatus.kOptimal:
        return None, None, None
    sol = h.getSolution()
    return np.asarray(sol.col_value, dtype=float), np.asarray(sol.row_dual, dtype=float), h.getBasis()


def _answer(lp, x, y, rounds, pools, primal, bound, start, name: str = NAME) -> Solution:
    gap = max(primal - bound, 0.0) / max(1.0, abs(primal))
    return Solution(x=x, objective=_objective(lp, x), status=Status.OPTIMAL,
                    solver=(f"{name[:-1]}: {pools:,} pools, {rounds} rounds; "
                            f"optimality certified by a Lagrangian bound within {gap:.1e})"),
                    seconds=time.perf_counter() - start, row_dual=y, col_dual=None, iterations=rounds)
