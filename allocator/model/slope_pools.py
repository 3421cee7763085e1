"""A pace of change with a minimum slope at national scale: pools of lines, proven by an exact bound.

`allocator.model.pools` solves the pace of change over pools of lines held at one intensity, but
a minimum slope keeps the lines of one pool apart: each level of need must sit at least
``min_slope x (need step)`` above the last.  The whole LP's interior point did not finish
england-lsoa's "Pace and steeper slope" in 900 s.  So the LP is moved to the slope's own frame:

- Each line's *offset* ``o_t`` is the slope's climb from its service's first level of need (the
  sum of the steps below it), and its *lift* is ``y_t = i_t - o_t`` (intensity above the floor,
  less the offset).  Every ordering row becomes "lifts never fall as need rises", right-hand side
  0, and the pace and budget rows are linear in the lifts (each line's pieces share one
  coefficient in them: checked).
- A *pool* is a set of one service's lines held at one lift.  Its gain is the sum of its lines'
  concave gains, each shifted by its own offset: a concave function of the lift with a knot
  where any of its lines passes one of its pieces' ends.  The pooled LP holds one lift column per
  pool (in the pace and budget rows) and the pool's gain as segment columns tied to it by one
  row, so it stays as sparse as the model however large the pool; every allocation it has is the
  LP's (lines at the pool's lift plus their offsets, filled in order), so its optimum is one the
  LP reaches or passes.
- The bound: prices from the pooled LP's duals on every row but the ordering ones.  What is left
  separates by service and is *exact* in the ordering: the least reduced cost of lifts that never
  fall with need (lines of one level in any order), each line's cost convex in its lift.  That
  is isotonic regression with convex piecewise-linear losses, solved by thresholds
  (`_isotonic`: at a lift ``theta``, the lines above it are the least-cost up-set for the
  derivatives there, and the sets nest as ``theta`` rises; Hochbaum and Queyranne's partitioning).
  At the LP's own prices it equals the optimum (LP duality), so it can prove one.
- Each round splits every pool by the lifts the bound's solution gives its lines, until the bound
  meets the pooled allocation within ``GAP``.  A pool only ever splits, so the pooled objective
  never gets worse.  When nothing is left to split and the gap is open, or after ``ROUNDS``, the
  caller solves the whole LP as before.

Measured (`benchmarks/README.md`, "National-scale rules"): england-lsoa's "Pace and steeper slope"
in 8 rounds, 19.6 s of solving (23.7 s end to end, 1.04 GB), certified within 5.5e-10; 4,000
synthetic areas 11-17 s against 42 s for the whole LP's interior point.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import scipy.sparse as sp

from allocator.errors import InfeasibleError
from allocator.model import pools
from allocator.model.highs import (
    Solution,
)
from allocator.model.lp import LinearProgram

GAP = 1e-9  # relative: the bound this close to the pooled allocation proves it optimal
LAST_GAP = 1e-7  # ... or this close when nothing is left to split (HiGHS's own tolerances)
ROUNDS = 60
ARTIFICIAL = pools.ARTIFICIAL
NAME = "HiGHS (a pace of change with a minimum slope, over pools of lines)"
FIRST = 16  # pools a service starts with: runs of its levels of need
WINDOW = 8  # segments kept exact on each side of a pool's last lift ...
CHORDS = 16  # ... and about this many chords for the rest of its cost
FLAT = 4e-16  # relative: up-sets this close in cost tie (rounding only: a wider tie could lift the bound)
NEAR = 1e-12  # relative: a knot this near a threshold is at it (an offset's sum against a cap)


def applies(lp: LinearProgram) -> bool:
    """A continuous LP in rows form with a pace of change and a minimum slope, large enough to pay."""
    if lp.integrality is not None or lp.n_cols < pools.MIN_COLUMNS or lp.spend_sets[1] or not lp.spend_sets[0]:
        return False
    if lp.min_slope is None or not np.any(lp.min_slope > 0):
        return False
    rows = pools._blocks(lp)
    return "pace(" in rows and "budget" in rows and any(p in rows for p in pools.CHAIN)


@dataclasses.dataclass
class _Chain:
    """One service's lines in need order: pieces' columns, costs and lengths (K, n), levels and offsets (n,)."""

    cols: np.ndarray
    cost: np.ndarray
    length: np.ndarray
    level: np.ndarray
    offset: np.ndarray
    first: int  # its first line's index among all lines

    @property
    def ends(self) -> np.ndarray:
        """(K + 1, n) each line's intensity at its pieces' ends, from 0."""
        return np.vstack([np.zeros((1, self.cols.shape[1])), np.cumsum(self.length, axis=0)])


@dataclasses.dataclass
class _Layout:
    chains: list
    line_rows: sp.csr_matrix  # (rows, lines) each row's coefficient on a line's intensity
    chain: np.ndarray  # (rows,) bool: an ordering row
    seps: np.ndarray  # the other columns: separators between levels of equal need
    sep_offset: np.ndarray  # each separator's offset (its lower level's)


def _chains(lp: LinearProgram) -> list | None:
    """Each service's `_Chain`; None if a line lacks a piece or a piece a lower bound of 0.  A piece
    without an end (no cap) ends where the line alone would spend the whole budget row's room: no
    allocation goes past it, so the pooled LP and the bound lose nothing."""
    budget = pools._blocks(lp)["budget"][0]
    per_col = lp.matrix[budget].toarray().ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.where(per_col > 0, lp.row_upper[budget] / per_col, np.inf)
    out, first = [], 0
    for s, order, cols in pools.piece_grids(lp):
        if np.any(cols < 0):
            return None
        need = lp.groups.need[order]
        up = np.flatnonzero(np.diff(need) > 0) + 1
        level = np.zeros(len(order), np.int64)
        level[up] = 1
        level = np.cumsum(level)
        starts = np.r_[0, up]  # as `rows._ordering_rows` takes its steps: from each level's first line
        steps = lp.min_slope[s] * (need[starts[1:]] - need[starts[:-1]])
        offset = np.r_[0.0, np.cumsum(steps)][level]
        length = np.where(np.isfinite(lp.col_upper[cols]), lp.col_upper[cols], np.maximum(reach[cols], 0.0))
        if np.any(lp.col_lower[cols] != 0) or not np.all(np.isfinite(length)):
            return None
        out.append(_Chain(cols, lp.cost[cols], length, level, offset, first))
        first += len(order)
    return out


def _layout(lp: LinearProgram) -> _Layout | None:
    """The layout, or None if the LP is not of the module's model (a check, not a proof)."""
    chains = _chains(lp)
    if not chains:
        return None
    A = lp.matrix.tocsc()
    first_cols = np.concatenate([c.cols[0] for c in chains])
    line_rows = A[:, first_cols].tocsr()
    for c in chains:  # every piece of a line: the same coefficient in every row, costs rising
        ref = A[:, c.cols[0]]
        for k in range(1, c.cols.shape[0]):
            if abs(A[:, c.cols[k]] - ref).max() > 0:
                return None
        if np.any(np.diff(c.cost, axis=0) < -1e-12 * max(1.0, float(np.abs(c.cost).max()))):
            return None
    blocks = pools._blocks(lp)
    chain = np.zeros(lp.n_rows, bool)
    for p in pools.CHAIN:
        chain[blocks.get(p, np.zeros(0, np.int64))] = True
    pieces = np.zeros(lp.n_cols, bool)
    for c in chains:
        pieces[c.cols.ravel()] = True
    seps = np.flatnonzero(~pieces)
    S = A[:, seps]
    if np.any(lp.cost[seps] != 0) or S[~chain].nnz:
        return None
    offset = np.concatenate([c.offset for c in chains])
    sep_offset = np.zeros(len(seps))
    if len(seps):
        touch = (abs(S.T.tocsr()) @ abs(line_rows)).tocsr()  # separator x line: in a row together
        touch.sort_indices()
        filled = np.diff(touch.indptr) > 0
        if not np.all(filled):
            return None
        sep_offset = np.minimum.reduceat(offset[touch.indices], touch.indptr[:-1])
    return _Layout(chains, line_rows, chain, seps, sep_offset)


# --- the bound: isotonic regression with convex piecewise-linear losses --------------------------


def _isotonic(r: np.ndarray, c: _Chain, least: bool = True) -> np.ndarray | None:
    """Lifts (n,) never falling with need (any order within a level) minimising the lines' reduced
    costs ``sum_k r[k, t] f[k, t]``, each line's pieces filled in order up to ``y_t + o_t``;
    None if no lifts are feasible.  ``least``: the least such lifts, else the greatest.  By thresholds: at a lift ``theta`` the lines above it are the
    least up-set under the right derivatives there (forced in below a line's domain, out at its
    top), and each part is solved again on its side of ``theta`` until no knot is left inside."""
    n, K = c.cols.shape[1], c.cols.shape[0]
    knots = c.ends - c.offset  # (K + 1, n) in lifts: a line's domain ends and pieces' ends
    y = np.empty(n)
    stack = [(np.arange(n), float(knots[0].min()), float(knots[-1].max()))]
    while stack:
        idx, lo, hi = stack.pop()
        kn = knots[:, idx]
        inside = kn[(kn > lo) & (kn < hi)]
        theta = 0.5 * (lo + hi) if inside.size == 0 else float(np.partition(inside, inside.size // 2)[inside.size // 2])
        up = _upset(idx, theta, r, kn, c.level, K, least)
        if up is None:
            return None
        if inside.size == 0:
            y[idx[up]], y[idx[~up]] = hi, lo
            continue
        if up.any():
            stack.append((idx[up], theta, hi))
        if not up.all():
            stack.append((idx[~up], lo, theta))
    return y


def _upset(idx, theta, r, kn, level, K, least: bool = True) -> np.ndarray | None:
    """The least (or greatest) up-set of lines ``idx`` (in need order) of least cost under the
    right derivatives at ``theta``."""
    near = NEAR * (1.0 + abs(theta))
    passed = (kn[1:] <= theta + near).sum(axis=0)  # pieces whose end the line's intensity has reached
    below, top = theta < kn[0] - near, passed >= K
    d = np.where(below | top, 0.0, r[np.minimum(passed, K - 1), idx])
    lv = level[idx]
    starts = np.flatnonzero(np.r_[True, np.diff(lv) > 0])
    which = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(idx)]))
    total = np.add.reduceat(d, starts)
    neg = np.add.reduceat(np.minimum(d, 0.0), starts)
    above = np.r_[np.cumsum(total[::-1])[::-1][1:], 0.0]
    value = above + neg  # the set: every level above j, and level j's lines that gain
    allowed = np.ones(len(starts), bool)
    if below.any():
        allowed[np.arange(len(starts)) > which[below].min()] = False
    if top.any():
        allowed[np.arange(len(starts)) < which[top].max()] = False
    if not allowed.any():
        return None
    tol = FLAT * max(1.0, float(np.abs(d).sum()))
    best = float(value[allowed].min())
    ties = np.flatnonzero(allowed & (value <= best + tol))
    if not below.any() and (0.0 <= best + tol if least else 0.0 < best - tol):  # nothing above theta
        return np.zeros(len(idx), bool)
    j = int(ties.max() if least else ties.min())
    return (which > j) | ((which == j) & (((d < 0) if least else (d <= 0) & ~top) | below))


def _fills(c: _Chain, lift: np.ndarray) -> np.ndarray:
    """(K, n) each piece's fill with the lines' intensities at ``lift + offset``, in order."""
    ends = c.ends
    i = np.clip(lift + c.offset, 0.0, ends[-1])
    return np.clip(i[None, :] - ends[:-1], 0.0, c.length)


def _bound(lp: LinearProgram, lay: _Layout, y: np.ndarray) -> tuple[float, list]:
    """The Lagrangian's value at row prices ``y`` (every row but the ordering ones), a bound no
    allocation passes, and each service's lifts that reach it."""
    y = np.where(lay.chain | ((y > 0) & ~np.isfinite(lp.row_lower)) | ((y < 0) & ~np.isfinite(lp.row_upper)), 0.0, y)
    side = np.where(y > 0, lp.row_lower, np.where(y < 0, lp.row_upper, 0.0))
    bound = float(y @ side)
    priced = lay.line_rows.T @ y
    lifts = []
    for c in lay.chains:
        r = c.cost - priced[c.first:c.first + c.cols.shape[1]][None, :]
        low, high = _isotonic(r, c), _isotonic(r, c, least=False)
        if low is None or high is None:
            return -np.inf, []
        bound += min(float((r * _fills(c, low)).sum()), float((r * _fills(c, high)).sum()))
        lifts.append(np.stack([low, high], axis=1))
    return bound, lifts


# --- the pooled LP: one lift a pool, its gain as segments ------------------------------------------


def _segments(c: _Chain, pool: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Each pool's cost as a convex function of its lift on ``[lo, hi]``: segments (pool, length,
    cost per unit of lift; in order within a pool) and the pools' cost at ``lo``."""
    ends, n, K, P = c.ends, c.cols.shape[1], c.cols.shape[0], len(lo)
    base = np.bincount(pool, weights=(c.cost * _fills(c, lo[pool])).sum(axis=0), minlength=P)
    passed = np.minimum((ends[1:] <= lo[pool] + c.offset).sum(axis=0), K - 1)
    slope0 = np.bincount(pool, weights=c.cost[passed, np.arange(n)], minlength=P)
    knot = (ends[1:K] - c.offset).ravel()  # line t passes from piece k - 1 to piece k
    rise = np.diff(c.cost, axis=0).ravel()
    owner = np.tile(pool, K - 1)
    keep = (knot > lo[owner]) & (knot < hi[owner]) & (rise != 0)
    at = np.r_[lo, knot[keep], hi]
    inc = np.r_[slope0, rise[keep], np.zeros(P)]
    who = np.r_[np.arange(P), owner[keep], np.arange(P)]
    order = np.lexsort((np.r_[np.zeros(P), np.ones(keep.sum()), np.full(P, 2)], at, who))
    at, inc, who = at[order], inc[order], who[order]
    total = np.cumsum(inc)
    before = np.r_[0.0, total][np.searchsorted(who, np.arange(P))]  # the running total before each pool
    slope = total - before[who]
    length = np.diff(at)
    take = (who[1:] == who[:-1]) & (length > 0)
    return who[:-1][take], length[take], slope[:-1][take], base


@dataclasses.dataclass
class _Pooled:
    lp: LinearProgram  # lifts, segments, separators, artificials; the LP's rows kept, then one row a pool
    rows: np.ndarray  # the LP's rows it keeps
    constant: float  # the pools' cost at their lowest lifts
    line_pool: np.ndarray  # each line's pool
    n_pools: int
    n_segments: int
    seg_pool: np.ndarray  # each segment's pool
    seg_start: np.ndarray  # the lift where each segment starts
    priced: np.ndarray  # the LP's rows with artificial columns, in their order


def _coarse(who, length, slope, centre, P):
    """The segments kept exact within `WINDOW` of each pool's ``centre`` (its last lift above its
    lowest; NaN: none) and merged into about `CHORDS` chords elsewhere.  A chord's cost is the mean
    of the segments it covers: on or above the convex cost, so every lift's cost is one the
    allocation meets or beats, and exact where the pool last was."""
    if len(who) == 0:
        return who, length, slope
    first = np.searchsorted(who, np.arange(P))
    count = np.bincount(who, minlength=P)
    rank = np.arange(len(who)) - first[who]
    end = np.cumsum(length) - np.r_[0.0, np.cumsum(length)][first][who]  # each segment's end, from the pool's lowest lift
    known = np.isfinite(centre)
    at = np.flatnonzero(known[who] & (end > centre[who]))  # segments ending past the centre
    first_past = np.full(P, np.iinfo(np.int64).max)
    np.minimum.at(first_past, who[at], rank[at])
    mid = np.where(known, np.minimum(first_past, count - 1), -10 * WINDOW - count)
    near = np.abs(rank - mid[who]) <= WINDOW
    step = np.maximum(1, -(-count // CHORDS))
    side = np.sign(rank - mid[who])
    key = np.where(near, rank, rank // step[who])
    new = np.r_[True, (who[1:] != who[:-1]) | (near[1:] | near[:-1]) | (side[1:] != side[:-1]) | (key[1:] != key[:-1])]
    group = np.cumsum(new) - 1
    total = np.bincount(group, weights=length)
    cost = np.bincount(group, weights=slope * length)
    return who[new], total, np.divide(cost, total, out=slope[new].copy(), where=total > 0)


def _pooled(lp: LinearProgram, lay: _Layout, pool_of: list, centre: np.ndarray | None = None,
            exact: bool = False) -> _Pooled | None:
    """The LP over the pools (module docstring); None if a pool's lines have no common lift.
    ``centre``: each line's last lift, about which each pool's cost is kept exact (`_coarse`);
    ``exact``: every segment kept."""
    offset = np.concatenate([c.offset for c in lay.chains])
    line_pool, lo, hi, seg = [], [], [], []
    at = 0
    for c, pool in zip(lay.chains, pool_of):
        P = int(pool.max()) + 1
        ends = c.ends
        low = np.full(P, -np.inf)
        np.maximum.at(low, pool, -c.offset)
        high = np.full(P, np.inf)
        np.minimum.at(high, pool, ends[-1] - c.offset)
        if np.any(low > high + pools.EPS * (1 + np.abs(high))):
            return None
        high = np.maximum(high, low)
        who, length, slope, base = _segments(c, pool, low, high)
        mid = np.full(P, np.nan)
        if centre is not None:
            mid[pool] = centre[c.first:c.first + len(pool)]
        if not exact:
            who, length, slope = _coarse(who, length, slope, np.clip(mid, low, high) - low, P)
        line_pool.append(pool + at)
        lo.append(low)
        hi.append(high)
        seg.append((who + at, length, slope, base))
        at += P
    line_pool = np.concatenate(line_pool)
    lo, hi = np.concatenate(lo), np.concatenate(hi)
    seg_pool = np.concatenate([s[0] for s in seg])
    seg_len = np.concatenate([s[1] for s in seg])
    seg_cost = np.concatenate([s[2] for s in seg])
    constant = float(sum(s[3].sum() for s in seg))
    N, P, Q = len(line_pool), at, len(seg_pool)
    to_pool = sp.csc_matrix((np.ones(N), (np.arange(N), line_pool)), shape=(N, P))
    A = lp.matrix.tocsc()
    top = sp.hstack([lay.line_rows @ to_pool, A[:, lay.seps]]).tocsr()
    shift = lay.line_rows @ offset + A[:, lay.seps] @ lay.sep_offset
    lower, upper = lp.row_lower - shift, lp.row_upper - shift
    chain_b = lay.chain & (np.abs(lower) < 1e-9)  # the ordering rows: 0 in lifts, up to rounding
    lower[chain_b] = 0.0
    chain_b = lay.chain & (np.abs(upper) < 1e-9)
    upper[chain_b] = 0.0
    top.sum_duplicates()
    top.eliminate_zeros()
    empty = np.diff(top.indptr) == 0
    if np.any(empty & ((lower > 1e-9) | (upper < -1e-9))):
        return None
    rng = np.random.default_rng(0)  # equal rows project equally (different ones, almost never)
    key = np.ascontiguousarray(np.stack([np.round(top @ rng.random(top.shape[1]), 9), np.round(top @ rng.random(top.shape[1]), 9),
                                         np.nan_to_num(lower, neginf=-1e300), np.nan_to_num(upper, posinf=1e300)], axis=1))
    once = np.zeros(lp.n_rows, bool)
    once[np.unique(key.view(np.dtype((np.void, key.itemsize * 4))).ravel(), return_index=True)[1]] = True
    rows = np.flatnonzero(~empty & once)
    priced = np.flatnonzero(~lay.chain[rows])
    a = len(priced)
    art = sp.csc_matrix((np.r_[np.ones(a), -np.ones(a)], (np.r_[priced, priced], np.arange(2 * a))), shape=(len(rows), 2 * a))
    link = sp.hstack([sp.identity(P, format="csc"),
                      sp.csc_matrix((-np.ones(Q), (seg_pool, np.arange(Q))), shape=(P, Q))])
    n_sep = len(lay.seps)
    matrix = sp.vstack([
        sp.hstack([top[rows][:, :P], sp.csc_matrix((len(rows), Q)), top[rows][:, P:], art]),
        sp.hstack([link, sp.csc_matrix((P, n_sep + 2 * a))])]).tocsc()
    big = ARTIFICIAL * float(np.abs(lp.cost).max(initial=1.0))
    small = dataclasses.replace(
        lp, matrix=matrix, cost=np.r_[np.zeros(P), seg_cost, np.zeros(n_sep), np.full(2 * a, big)],
        col_lower=np.r_[lo, np.zeros(Q), lp.col_lower[lay.seps] - lay.sep_offset, np.zeros(2 * a)],
        col_upper=np.r_[hi, seg_len, lp.col_upper[lay.seps] - lay.sep_offset, np.full(2 * a, np.inf)],
        row_lower=np.r_[lower[rows], lo], row_upper=np.r_[upper[rows], lo], col_blocks=(), row_blocks=(),
        gain_columns=None, integrality=None)
    first = np.searchsorted(seg_pool, np.arange(P))  # segments are in pool order, each pool's in order
    seg_start = lo[seg_pool] + np.cumsum(seg_len) - seg_len - np.r_[0.0, np.cumsum(seg_len)][first][seg_pool]
    return _Pooled(small, rows, constant, line_pool, P, Q, seg_pool, seg_start, rows[priced])


def _allocation(lp: LinearProgram, lay: _Layout, built: _Pooled, z: np.ndarray) -> np.ndarray:
    """The LP's columns from the pooled solution: each line at its pool's lift plus its offset."""
    x = np.zeros(lp.n_cols)
    lift = z[:built.n_pools][built.line_pool]
    for c in lay.chains:
        n = c.cols.shape[1]
        x[c.cols] = _fills(c, lift[c.first:c.first + n])
    P, Q = built.n_pools, built.n_segments
    x[lay.seps] = z[P + Q:P + Q + len(lay.seps)] + lay.sep_offset
    return np.clip(x, lp.col_lower, lp.col_upper)


def solve(lp: LinearProgram, time_limit: float | None = None) -> Solution | None:
    """The LP's optimum by pools of lifts (module docstring); None when the rounds prove nothing
    (the caller solves the whole LP).  `SolverError` with the best allocation and the bound if the
    time limit stops the rounds."""
    lay = _layout(lp)
    if lay is None:
        return None
    start = time.perf_counter()
    pool_of = [np.unique(c.level * FIRST // (c.level[-1] + 1), return_inverse=True)[1].ravel() for c in lay.chains]
    best, bound, marks, last, exact = None, -np.inf, None, None, False
    last_artificial = np.inf
    most = sum(float((np.maximum(c.cost, 0.0) * c.length).sum()) for c in lay.chains)  # the LP's costliest allocation
    for rounds in range(1, ROUNDS + 1):
        centre = None if last is None else last[1][:last[0].n_pools][last[0].line_pool]
        built = _pooled(lp, lay, pool_of, centre, exact)
        if built is None:
            return None
        basis = None if last is None else _carried(lay, built, *last)
        z, dual, kept = pools._solve_pooled(lp, built.lp, time_limit, start, best, bound, basis, NAME, presolve=True)
        if z is None:
            return None
        last = (built, z, kept)
        y = np.zeros(lp.n_rows)
        y[built.rows] = dual[:len(built.rows)]
        lower, lifts = _bound(lp, lay, y)
        bound = max(bound, lower)
        if bound > most + GAP * max(1.0, abs(most)):  # no allocation: weak duality (`_no_allocation`)
            raise _no_allocation(lp, lay, y)
        n_art = built.lp.n_cols - built.n_pools - built.n_segments - len(lay.seps)
        artificial = float(z[built.lp.n_cols - n_art:].sum())
        if z[built.lp.n_cols - n_art:].sum() <= 1e-9:  # no artificial: the pooled allocation meets every rule
            x = _allocation(lp, lay, built, z)
            primal = float(lp.cost @ x)
            improved = best is None or primal < float(lp.cost @ best) - GAP * max(1.0, abs(primal))
            if best is None or primal < float(lp.cost @ best):
                best = x
        else:
            improved = artificial < last_artificial * (1 - 1e-9)  # (the pools came nearer the rows)
            last_artificial = artificial
        split, splits = _split(pool_of, lifts)
        split, marks, more = pools._peeled(pool_of, split, marks)
        splits += more
        if best is not None:
            primal = float(lp.cost @ best)
            if primal - bound <= (GAP if splits or not exact else LAST_GAP) * max(1.0, abs(primal)):
                return pools._answer(lp, best, y, rounds, built.n_pools, primal, bound, start, NAME)
        if not splits:  # the same pools: chords about the new lifts may still gain, then exact costs
            if exact and not improved:
                return None
            exact = exact or not improved or best is not None
        pool_of = split
    return None


def _no_allocation(lp: LinearProgram, lay: _Layout, y: np.ndarray) -> InfeasibleError:
    """The bound at prices ``y`` passes every allocation's cost: no allocation meets the rows.  Said
    with the areas whose pace rows the prices hold at their lower and upper ends."""
    from allocator.model.lp import name_of

    blocks = pools._blocks(lp)
    pace = blocks["pace("]
    held = [pace[np.argsort(-np.abs(y[pace]) * (np.sign(y[pace]) == sign))][:3] for sign in (1, -1)]
    names = [[name_of(lp.row_blocks, int(i))[5:-1] for i in rows if y[i] * sign > 0]
             for rows, sign in zip(held, (1, -1))]
    low, high = (", ".join(f"'{n}'" for n in part) or "none" for part in names)
    exc = InfeasibleError(
        "no allocation meets the pace of change and the minimum slope together (proven by prices on "
        f"{int(np.count_nonzero(y[pace])):,} areas' pace-of-change rows and the budget): a minimum slope lifts "
        "each line above every line of its service with less need, while the pace of change holds some "
        f"areas up (for example {low}) and others down (for example {high}); loosen the pace of change or "
        "lower the minimum slope")
    exc.explained = True
    return exc


def _split(pool_of: list, lifts: list) -> tuple[list, int]:
    """Every pool split by the lifts the bound gives its lines; the number of new pools."""
    if not lifts:
        return pool_of, 0
    out, splits = [], 0
    for pool, lift in zip(pool_of, lifts):
        key = np.column_stack([pool.astype(float), lift])
        new = np.unique(key, axis=0, return_inverse=True)[1].ravel()
        splits += int(new.max()) - int(pool.max())
        out.append(new)
    return out, splits


def _carried(lay: _Layout, built: _Pooled, old: _Pooled, z: np.ndarray, basis):
    """A basis for this round's pooled LP from the last one's solution (HiGHS repairs it: alien):
    lifts basic, each segment at the bound its pool's last lift puts it, every other column and
    row as it was (basic if new)."""
    import highspy

    S = highspy.HighsBasisStatus
    cols0, rows0 = np.asarray(basis.col_status, dtype=object), np.asarray(basis.row_status, dtype=object)
    lift = z[:old.n_pools][old.line_pool]
    new_lift = np.zeros(built.n_pools)
    new_lift[built.line_pool] = lift
    v = new_lift[built.seg_pool]
    length = built.lp.col_upper[built.n_pools:built.n_pools + built.n_segments]
    tol = 1e-12 * (1.0 + np.abs(v))
    seg = np.where(v <= built.seg_start + tol, S.kLower, np.where(v >= built.seg_start + length - tol, S.kUpper, S.kBasic))
    n_sep = len(lay.seps)
    first_art = old.n_pools + old.n_segments + n_sep
    sep0 = cols0[old.n_pools + old.n_segments:first_art]
    art = [_as_before(built.priced, old.priced, cols0[first_art + sign * len(old.priced):][:len(old.priced)], S.kBasic)
           for sign in (0, 1)]  # the artificial columns, +1 then -1, by their row
    b = highspy.HighsBasis()
    b.col_status = [S.kBasic] * built.n_pools + list(seg) + list(sep0) + list(art[0]) + list(art[1])
    b.row_status = list(_as_before(built.rows, old.rows, rows0, S.kBasic)) + [S.kLower] * built.n_pools
    b.alien, b.valid = True, True
    return b


def _as_before(keys: np.ndarray, old_keys: np.ndarray, old_status: np.ndarray, new):
    """Each key's status under ``old_keys`` (sorted), ``new`` where it was not there."""
    at = np.minimum(np.searchsorted(old_keys, keys), max(len(old_keys) - 1, 0))
    found = (old_keys[at] == keys) if len(old_keys) else np.zeros(len(keys), bool)
    out = np.full(len(keys), new, dtype=object)
    out[found] = old_status[at[found]]
    return out


