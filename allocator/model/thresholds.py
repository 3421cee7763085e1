"""An allocation whose segments fill in order, found fast, for a MILP of fill binaries: where each
service's intensity passes each breakpoint of its response curve.

Under an SII or gap reduction the least deprived groups' segments must fill in order (a binary a
line and breakpoint, `rows._fill_in_order`).  Intensity never falls as need rises, so for each
breakpoint ``b`` of a service's curve there is a need level ``tau`` with every line below it at
most ``b`` and every line above it at least ``b`` (the lines of level ``tau`` itself either side).
A line at most ``b`` has nothing beyond the breakpoint; a line at least ``b`` has every piece before
it full.  So thresholds turn "in order" into bounds on the segment columns: rounding the LP
relaxation's thresholds (where its allocation passes each breakpoint) and solving once more
gives an allocation whose gains are the curves' own, in a second at district scale, where
HiGHS's branch and bound can search for minutes without finding one (england-la, an SII
reduction of 0.4: none in 60 s; this: 0.05% below the bound).

`start` returns the relaxation's allocation when it already fills in order (the MILP's optimum),
and otherwise that rounded allocation, if the rounding is feasible: as the optimum when it is
within the MIP gap of the relaxation's bound (`highs.MIP_REL_GAP`, where HiGHS's own branch and
bound stops: england-la's SII reduction of 0.39 in 1.4 s, which HiGHS did not prove in 20 s),
else for `solver` to report with the bound when a time limit stops the branch and bound.  Branching on the thresholds' intervals
was tried as an exact search: its bounds tighten too slowly (benchmarks/README.md, "The price of
equity").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from allocator.model.highs import (
    MIP_REL_GAP,
    Solution,
    Status,
    _clip,
    _objective,
    choose_method,
    limited,
    new_highs,
    pass_model,
)
from allocator.model.lp import LinearProgram


@dataclass(frozen=True)
class _Chain:
    """One service's segments in need order: ``columns[k, t]`` is piece k of the line at position t."""

    columns: np.ndarray  # (K, n)
    length: np.ndarray  # (K,)
    level: np.ndarray  # (n,) need level of each position, 0..n_levels-1


@dataclass
class _Thresholds:
    """Per (service, breakpoint): levels below ``tau`` at most the breakpoint, above it at least it;
    the lines of level ``tau`` one by one in ``fixed``: (pair, position) -> 0 (at most) or 1 (at least)."""

    tau: np.ndarray
    fixed: dict = field(default_factory=dict)


class _Search:
    """The thresholds of every (service, breakpoint) that has lines to keep in order."""

    def __init__(self, lp: LinearProgram):
        self.lp = lp
        chains, where = {}, {}
        for mine, cols, s, k in lp.spend_sets[0]:
            chains.setdefault(s, {})[k] = (mine, np.asarray(cols))
        self.chains: dict[int, _Chain] = {}
        for s, pieces in chains.items():
            ks = sorted(pieces)
            if ks != list(range(len(ks))):
                raise ValueError("pieces missing")
            need = lp.groups.need[pieces[0][0]]
            level = np.concatenate([[0], np.cumsum(np.diff(need) > 0)]).astype(np.int64)
            columns = np.stack([pieces[k][1] for k in ks])
            self.chains[s] = _Chain(columns=columns, length=lp.col_upper[columns[:, 0]], level=level)
            for k in ks:
                for t, c in enumerate(pieces[k][1]):
                    where[int(c)] = (s, k, t)
        located = [where.get(int(c)) for c in lp.fill_pairs[:, 0]]
        if any(w is None for w in located):
            raise ValueError("a fill pair outside the segment columns")
        self.pairs = sorted({(s, k) for s, k, _ in located})

    def bounds(self, node: _Thresholds) -> tuple[np.ndarray, np.ndarray]:
        lower, upper = self.lp.col_lower.copy(), self.lp.col_upper.copy()
        for p, (s, k) in enumerate(self.pairs):
            chain = self.chains[s]
            upper[chain.columns[k + 1:][:, chain.level < node.tau[p]]] = 0.0
            lower[chain.columns[:k + 1][:, chain.level > node.tau[p]]] = chain.length[:k + 1, None]
        for (p, t), side in node.fixed.items():
            s, k = self.pairs[p]
            chain = self.chains[s]
            if side == 0:
                upper[chain.columns[k + 1:, t]] = 0.0
            else:
                lower[chain.columns[:k + 1, t]] = chain.length[:k + 1]
        return lower, upper

    def rounded(self, x: np.ndarray, up: bool) -> _Thresholds:
        """Every threshold where ``x`` passes it, every line of that level fixed to its side: a line
        between the breakpoints either side of ``b`` counts as past ``b`` if ``up``, else as short of it."""
        taus, fixed = np.zeros(len(self.pairs), np.int64), {}
        for p, (s, k) in enumerate(self.pairs):
            chain = self.chains[s]
            breakpoint = float(chain.length[:k + 1].sum())
            passed = breakpoint - 1e-9 * max(1.0, breakpoint)
            if not up:  # past only if past the breakpoint before as well
                passed += float(chain.length[k]) if np.isfinite(chain.length[k]) else 0.0
            reached = x[chain.columns].sum(axis=0) >= passed
            short = np.flatnonzero(~reached)
            taus[p] = tau = int(chain.level[short[-1]]) if short.size else 0
            for t in np.flatnonzero(chain.level == tau):
                fixed[(p, int(t))] = int(reached[t])
        return _Thresholds(taus, fixed)


@dataclass(frozen=True)
class Start:
    """What `start` found: the MILP's optimum, or the relaxation's fill pairs out of order and an
    allocation filling every constrained line in order (its binaries set), if rounding gave one."""

    optimum: Solution | None = None
    out_of_order: np.ndarray | None = None
    found: np.ndarray | None = None
    bound: float | None = None  # the relaxation's objective: no allocation does better


def start(lp: LinearProgram, time_limit: float | None = None) -> Start:
    """The relaxation (the MILP's optimum when it fills in order) and its rounding: the module docstring."""
    if (lp.fill_pairs is None or not len(lp.fill_pairs) or not lp.spend_sets[0] or lp.groups is None
            or not lp.ordered):  # thresholds exist only where intensity never falls as need rises
        return Start()
    try:
        search = _Search(lp)
    except ValueError:
        return Start()
    import highspy

    began = time.perf_counter()
    h = new_highs()
    method = choose_method(lp)  # as the whole LP would be solved: interior point (with crossover) when large
    h.setOptionValue("solver", method)
    if method == "ipm":
        h.setOptionValue("run_crossover", "on")
    h.setOptionValue("random_seed", 0)
    limit = limited(time_limit)
    if limit is not None:
        h.setOptionValue("time_limit", float(limit))
    pass_model(h, lp)  # every binary relaxed
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return Start()  # infeasible, or out of time: the branch and bound says which
    sol = h.getSolution()
    x = _clip(lp, np.asarray(sol.col_value, dtype=float))
    bad = lp.out_of_order(x)
    relaxed = _objective(lp, x)
    if bad.size == 0:  # a relaxation whose optimum is feasible: the optimum, priced by its duals
        name = f"HiGHS {h.version()} ({method}, the relaxation fills every constrained line in order)"
        duals = (np.asarray(sol.row_dual, dtype=float), np.asarray(sol.col_dual, dtype=float)) if sol.dual_valid \
            else (None, None)
        return Start(optimum=Solution(x=x, objective=relaxed, status=Status.OPTIMAL, solver=name,
                                      seconds=time.perf_counter() - began, row_dual=duals[0], col_dual=duals[1],
                                      iterations=int(max(h.getInfo().simplex_iteration_count, 0))))
    best = None
    h.setOptionValue("solver", "simplex")  # warm from the relaxation's basis
    for up in (True, False):  # two roundings; the better allocation in order
        lower, upper = search.bounds(search.rounded(x, up))
        if np.any(lower > upper):
            continue
        h.changeColsBounds(lp.n_cols, np.arange(lp.n_cols, dtype=np.int32), lower, upper)
        if limit is not None:
            left = limit - (time.perf_counter() - began)
            if left <= 0:
                break
            h.setOptionValue("time_limit", float(left))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            continue
        y = _clip(lp, np.asarray(h.getSolution().col_value, dtype=float))
        if lp.out_of_order(y).size == 0 and (best is None or lp.cost @ y < lp.cost @ best):
            best = y
    if best is None:
        return Start(out_of_order=bad, bound=relaxed)
    after, binary = lp.fill_pairs[:, 1].astype(np.int64), lp.fill_pairs[:, 3].astype(np.int64)
    best[binary] = (best[after] > 0).astype(float)
    found = _objective(lp, best)
    # how far below the bound (above it, minimising), relative to the allocation's own objective
    gap = (relaxed - found if lp.maximize else found - relaxed) / max(abs(found), 1e-12)
    if -1e-9 <= gap <= MIP_REL_GAP:  # as close to the bound as HiGHS's branch and bound would stop: as proven
        name = (f"HiGHS {h.version()} ({method}, the relaxation rounded on its thresholds, "
                f"{gap:.1e} from its bound; MIP gap {MIP_REL_GAP:g})")
        return Start(optimum=Solution(x=best, objective=found, status=Status.OPTIMAL, solver=name,
                                      seconds=time.perf_counter() - began), out_of_order=bad, found=best,
                     bound=relaxed)
    return Start(out_of_order=bad, found=best, bound=relaxed)
