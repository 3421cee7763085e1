"""Proportional mode by cutting planes over each service's scale, with a certificate of optimality.

In proportional mode every line's intensity above its floor lies within ``[(1 - tau) k_s n,
(1 + tau) k_s n]`` for one scale ``k_s`` per service.  With the scales fixed, those bands are
bounds on each line's response pieces (pieces fill in order: the curves are concave), and
what is left is one budget row over bounded columns: a fractional knapsack, solved exactly
by taking pieces in order of value per pound (the order never changes, so it is sorted
once).  Its optimum ``V(k)`` is convex in the scales (the LP's optimum with ``k`` fixed), and
the knapsack's prices give a subgradient: the band rows' duals, read from the piece each
line's band edge falls in.  Kelley's cutting planes over the few scales (a small LP in
``S + 1`` columns) close in on the optimum from below while the knapsacks give allocations
from above; the answer is used once the two meet (relative gap 1e-9, or 1e-8 when the
planes stall at the solver's tolerance), else the full LP is solved.

With a pace of change each area's total is a row of its own (`_Areas`): with the scales fixed
and the budget priced, the areas separate, each a fractional knapsack whose spend is clipped
to its pace window (pieces taken in order of value per pound until the window's upper end, or
on, at a loss, to its lower end), and the budget's price is found by bisection over the pieces
in that order.  Areas the bands push outside their window pay the exact penalty (twice the
budget's: at the budget's alone, a pound past a window when the budget is short costs nothing,
so the clipped knapsack is not the penalised LP's optimum there and its value not convex in the
scales; found by Hypothesis, a plane that cut off the optimum under a false certificate), and the
window's linear necessary condition on the scales (the lower bands' spend at most its upper
end, the upper bands' at least its lower end: exact when the tolerance is 0) is added to the
planes' LP for every area the scales break, so the planes stay among scales the pace allows;
the same for the budget where the scales cannot spend it (`allocator.model.proportional_pace`),
so that an impossible pace of change or budget leaves the planes' LP infeasible and is said in
money at once.

Measured (benchmarks/README.md): england-lsoa in proportional mode, 459 s as an LP
(interior point, 300,000 band rows) against about 6 s here; the same optimum to 3e-10 on
1,000 synthetic areas, and to the LP's tolerance in the property tests.  With a pace of change:
4,000 synthetic areas 1 s against 25 s for HiGHS on the LP, england-lsoa 10-21 s where the LP
did not finish in 5 minutes, and its -5% / +15% pace at tolerance 0 proven impossible in 1 s;
a budget its windows and bands cannot spend, in 2 s with the most they can (the LP's own).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from allocator.model import proportional_groups
from allocator.model.equity import uses_groups
from allocator.model.highs import new_highs
from allocator.model.lp import LinearProgram, name_of
from allocator.model.solver import Solution, Status, _objective
from allocator.scenario import Scenario

GAP = 1e-9  # relative gap at which the planes and the allocations have met
STALLED_GAP = 1e-8  # accepted when the lower bound stops rising (the master LP's own tolerance)
MAX_ROUNDS = 400
STALL_ROUNDS = 25
LEVEL = 0.3  # the level method's: next scales where the model is this far from the bound to the best
BUDGET_TOLERANCE = 1e-9  # relative: the budget row's, as the LP solvers hold it


def applies(scenario: Scenario, lp: LinearProgram) -> bool:
    """Proportional mode with a weighted-gain objective and no row but the budget and the bands."""
    if uses_groups(scenario):
        return proportional_groups.applies(scenario, lp)
    if not (scenario.proportionality == "proportional" and scenario.objective in ("health-gain", "equity-weighted")
            and lp.integrality is None and lp.n_cols > 0):
        return False  # (funding streams and bounded service groups add rows of their own: refused below)
    names = [name_of(lp.row_blocks, b.start) for b in lp.row_blocks if b.stop > b.start]
    rest = [n for n in names[1:] if not n.startswith("pace(")]
    return (bool(names) and names[0] == "budget" and len(rest) >= len(names) - 2
            and all(n.startswith(("prop_lo(", "prop_hi(")) for n in rest))


@dataclass
class _Pieces:
    """Every segment column of the LP: its group, service, where its piece starts, its length."""

    cols: np.ndarray
    group: np.ndarray
    service: np.ndarray
    start: np.ndarray
    length: np.ndarray
    need: np.ndarray
    spend: np.ndarray  # budget-row coefficient (per unit of the piece)
    cost: np.ndarray  # objective coefficient (minimised)
    last: np.ndarray  # the group's last piece


def _pieces(lp: LinearProgram) -> _Pieces:
    seg_sets = lp.spend_sets[0]
    filled: dict[int, np.ndarray] = {}
    parts = []
    for mine, cols, s, k in sorted(seg_sets, key=lambda t: (t[2], t[3])):
        before = filled.get(s, np.zeros(len(mine)))
        parts.append((cols, mine, np.full(len(mine), s), before, lp.col_upper[cols]))
        filled[s] = before + lp.col_upper[cols]
    cols, group, service, start, length = (np.concatenate([p[i] for p in parts]) for i in range(5))
    top = np.zeros(int(group.max()) + 1)
    np.maximum.at(top, group, start + length)
    budget = lp.matrix.getrow(0).toarray().ravel()
    return _Pieces(cols=cols, group=group, service=service, start=start, length=length,
                   need=lp.groups.need[group], spend=budget[cols], cost=lp.cost[cols],
                   last=(start + length >= top[group]) & (length > 0))


class _Knapsack:
    """The LP with every service's scale fixed: optimum, allocation, prices, subgradient."""

    def __init__(self, lp: LinearProgram, p: _Pieces, tau: float, n_services: int):
        self.p, self.S = p, n_services
        self.a, self.b = 1.0 - tau, 1.0 + tau
        self.low, self.high = float(lp.row_lower[0]), float(lp.row_upper[0])
        self.ratio = p.cost / p.spend
        self.order = np.argsort(self.ratio, kind="stable")
        self.penalty = 2.0 * float(np.abs(self.ratio).max(initial=0.0)) + 1.0  # per pound over or short

    def bands(self, k: np.ndarray):
        p = self.p
        return self.a * k[p.service] * p.need, self.b * k[p.service] * p.need

    def solve(self, k: np.ndarray):
        """(value, subgradient, x of the pieces, budget price, feasible) at the scales ``k``.

        Scales whose bands cannot meet the budget (the lower bands cost more than it, or the
        upper ones less) are priced by an exact penalty: each pound over or short costs more
        than any piece is worth, so ``V`` stays convex and finite and its minimum is feasible
        whenever the LP is.
        """
        p, order = self.p, self.order
        lo_band, hi_band = self.bands(k)
        lb = np.clip(lo_band - p.start, 0.0, p.length)
        ub = np.clip(hi_band - p.start, 0.0, p.length)
        fixed = float(p.spend @ lb)
        if fixed > self.high:  # every piece at its lower band, the rest over the budget at the penalty
            return self._result(lb, -self.penalty, lo_band, hi_band, fixed - self.high)
        room = np.cumsum(((ub - lb) * p.spend)[order])
        must = self.low - fixed  # what has to be spent beyond the lower bands
        most = room[-1] if room.size else 0.0
        if must > most:  # every piece at its upper band, the shortfall at the penalty
            return self._result(ub, self.penalty, lo_band, hi_band, must - most)
        useful = int(np.searchsorted(self.ratio[order], 0.0))  # pieces worth having at any price
        cap = int(np.searchsorted(room, self.high - fixed))  # pieces the budget pays for in full
        forced = int(np.searchsorted(room, must)) if must > 0 else 0  # pieces the budget must buy
        take = max(forced, min(useful, cap))
        x = lb.copy()
        x[order[:take]] = ub[order[:take]]
        price, target = 0.0, None
        if take < order.size and take == cap and cap < useful:  # the budget runs out among good pieces
            target = self.high - fixed
        elif take < order.size and must > 0 and take == forced:  # the budget must be spent
            target = must
        if target is not None:
            j = order[take]  # the marginal piece: part of it, at the budget's price
            spent = room[take - 1] if take else 0.0
            x[j] = lb[j] + min(max(target - spent, 0.0) / p.spend[j], ub[j] - lb[j])
            price = float(self.ratio[j])
        return self._result(x, price, lo_band, hi_band, 0.0)

    def _result(self, x, price, lo_band, hi_band, off: float):
        """``off``: pounds (in the budget row's units) over or short of the budget; within the
        budget row's tolerance the allocation counts as meeting it (the pennies are settled
        when the spend is rounded, `allocator.model.evaluate`)."""
        value = float(self.p.cost @ x) + self.penalty * off
        feasible = off <= BUDGET_TOLERANCE * max(1.0, abs(self.high) if np.isfinite(self.high) else 1.0)
        return value, self._subgradient(x, price, lo_band, hi_band), x, price, feasible

    def _subgradient(self, x, price, lo_band, hi_band):
        """d V / d k_s from the band rows' duals (`band_prices`), each piece's reduced cost at the
        budget's price."""
        g, self.duals = proportional_groups.band_prices(self.p, x, self.p.cost - price * self.p.spend, lo_band, hi_band,
                                    (self.a, self.b), self.S)
        return g


def _within(runs: tuple, values: np.ndarray) -> np.ndarray:
    """Each value's running total before it within its run (``runs``: the runs' starts and lengths)."""
    before = np.cumsum(values) - values
    return before - np.repeat(before[runs[0]], runs[1])


class _Areas:
    """The pace of change's rows: each piece's area (row), and each area's window in the budget
    row's units (the pace row is the area's spend times a factor of its own, ``kappa``)."""

    def __init__(self, lp: LinearProgram, p: _Pieces):
        block = next(b for b in lp.row_blocks if b.stop > b.start and name_of(lp.row_blocks, b.start).startswith("pace("))
        self.rows = np.arange(block.start, block.stop)
        sub = lp.matrix[self.rows][:, p.cols].tocsc()
        if np.any(np.diff(sub.indptr) > 1):
            raise ValueError("a piece in two pace rows")
        self.R = len(self.rows)
        self.area = np.full(len(p.cols), self.R)  # R: no pace row (an area of its own, no window)
        has = np.diff(sub.indptr) == 1
        self.area[has] = sub.indices[sub.indptr[:-1][has]]
        coef = sub.data[sub.indptr[:-1][has]]
        kappa = np.zeros(self.R + 1)
        kappa[self.area[has]] = coef / p.spend[has]
        if np.any(np.abs(coef - kappa[self.area[has]] * p.spend[has]) > 1e-9 * np.abs(coef)) or np.any(coef <= 0):
            raise ValueError("a pace row that is not its area's spend")
        lower, upper = lp.row_lower[self.rows], lp.row_upper[self.rows]
        empty = kappa[:-1] == 0  # no free line: the row holds its fixed spend, or nothing can
        if np.any(empty & ((lower > 0) | (upper < 0))):
            raise ValueError("an area without free lines outside its pace window")
        k = np.where(empty, 1.0, kappa[:-1])
        self.kappa = kappa
        self.low = np.r_[np.where(empty, -np.inf, lower / k), -np.inf]
        self.high = np.r_[np.where(empty, np.inf, upper / k), np.inf]

    def window_rows(self, p: _Pieces, a: float, b: float, S: int):
        """Per area, the spend of its lower bands and of its upper bands per unit of each scale
        (the bands inside the span below `_scale_bounds`, so both linear in the scales): (R, S) x 2."""
        first = (p.start == 0) & (p.length > 0)
        per_unit = np.zeros((self.R + 1, S))
        np.add.at(per_unit, (self.area[first], p.service[first]), p.spend[first] * p.need[first])
        return a * per_unit[:-1], b * per_unit[:-1]


class _PacedKnapsack(_Knapsack):
    """The knapsack with each area's spend held to its pace window (module docstring)."""

    def __init__(self, lp: LinearProgram, p: _Pieces, tau: float, n_services: int):
        super().__init__(lp, p, tau, n_services)
        self.areas = _Areas(lp, p)
        # per pound outside a window: more than the budget's penalty and any piece's value together,
        # so that no pound is ever worth moving past a window (module docstring)
        self.window_penalty = 2.0 * self.penalty
        # each area's pieces in the knapsack's order: where a piece sits among its area's
        self.by_area = by = np.lexsort((np.argsort(self.order, kind="stable"), self.areas.area))
        self.area_by, self.spend_by = self.areas.area[by], p.spend[by]  # (in that order: gathered once)
        starts = np.r_[0, np.flatnonzero(np.diff(self.area_by)) + 1]
        self.runs = (starts, np.diff(np.r_[starts, len(by)]))

    def _spends(self, take: int, room, lo, hi, base):
        """Each area's spend with the first ``take`` pieces (in order) taken, clipped to its window."""
        first = self.order[:take]
        return np.clip(base + np.bincount(self.areas.area[first], weights=room[first], minlength=self.areas.R + 1),
                       lo, hi)

    def _totals(self, room_by, lo, hi, base):
        """The total spend with the first t pieces (in order) taken, for every t: each piece adds
        what it moves its area's clipped spend."""
        by, area = self.by_area, self.area_by
        before = _within(self.runs, room_by) + base[area]
        low, high = lo[area], hi[area]
        inc = np.empty(len(by))
        inc[by] = np.clip(before + room_by, low, high) - np.clip(before, low, high)
        return np.r_[0.0, np.cumsum(inc[self.order])] + float(lo.sum())

    def solve(self, k: np.ndarray):
        p, order, ar = self.p, self.order, self.areas
        R1 = ar.R + 1
        lo_band, hi_band = self.bands(k)
        lb = np.clip(lo_band - p.start, 0.0, p.length)
        ub = np.clip(hi_band - p.start, 0.0, p.length)
        room = (ub - lb) * p.spend
        base = np.bincount(ar.area, weights=lb * p.spend, minlength=R1)
        top = base + np.bincount(ar.area, weights=room, minlength=R1)
        lo, hi = np.clip(ar.low, base, top), np.clip(ar.high, base, top)  # an area outside: its nearest end
        off_pace = float(np.sum(np.maximum(base - ar.high, 0.0) + np.maximum(ar.low - top, 0.0)))
        room_by = room[self.by_area]
        totals = self._totals(room_by, lo, hi, base)
        useful = int(np.searchsorted(self.ratio[order], 0.0))
        take, target, price, off = useful, None, 0.0, 0.0
        self.short = 0  # the budget: +1 the areas cannot spend it, -1 they must pass it (`proportional_pace.Budget`)
        if totals[0] > self.high:
            take, price, off, self.short = 0, -self.penalty, totals[0] - self.high, -1
        elif totals[-1] < self.low:
            take, price, off, self.short = order.size, self.penalty, self.low - totals[-1], 1
        elif totals[useful] > self.high:  # the budget runs out among good pieces
            target = self.high
            take = int(np.searchsorted(totals[:useful + 1], target, side="right")) - 1
        elif totals[useful] < self.low:  # the budget must be spent, at a loss
            target = self.low
            take = useful + int(np.searchsorted(totals[useful:], target, side="right")) - 1
        spend = self._spends(take, room, lo, hi, base)
        if target is not None and take < order.size:  # part of the next piece, at the budget's price
            j = order[take]
            spend[ar.area[j]] += max(target - totals[take], 0.0)
            price = float(self.ratio[j])
        x = self._fill(lb, ub, room_by, spend, base)
        self.nu = self._area_prices(x, lb, ub, price, hi_band, base, top)
        value = float(p.cost @ x) + self.penalty * off + self.window_penalty * off_pace
        feasible = (off <= BUDGET_TOLERANCE * max(1.0, abs(self.high) if np.isfinite(self.high) else 1.0)
                    and off_pace <= BUDGET_TOLERANCE * max(1.0, float(np.abs(base).sum())))
        return value, self._subgradient(x, self.nu[ar.area], lo_band, hi_band), x, price, feasible

    def _fill(self, lb, ub, room_by, spend, base):
        """Each area's spend above its lower bands laid along its pieces in order."""
        by = self.by_area
        want = (spend - base)[self.area_by]
        gap = want - _within(self.runs, room_by)
        put = np.clip(gap, 0.0, room_by)  # pounds on each piece, in order
        noise = 1e-12 * (want + float(room_by.sum()))  # rounding in the running totals (taken over every area)
        put = np.where((room_by - put <= noise) & (gap > 0), room_by, np.where(put <= noise, 0.0, put))
        x = lb.copy()
        full = put >= room_by
        x[by[full]] = ub[by[full]]
        part = ~full & (put > 0)
        x[by[part]] += put[part] / self.spend_by[part]
        return x

    def _area_prices(self, x, lb, ub, price, hi_band, base, top):
        """Each area's price of a pound (its window's price plus the budget's): the value per pound
        nearest the budget's price between the last piece the area takes and the first it leaves;
        the window's penalty beyond a window the bands break."""
        ar = self.areas
        R1 = ar.R + 1
        tol = 1e-9 * hi_band  # (a band edge a rounding from a piece's end leaves it no room: not taken, not left)
        taken = x > lb + tol
        left = x < ub - tol
        last = np.full(R1, -np.inf)
        np.maximum.at(last, ar.area[taken], self.ratio[taken])
        first = np.full(R1, np.inf)
        np.minimum.at(first, ar.area[left], self.ratio[left])
        nu = np.clip(price, last, np.maximum(first, last))
        nu = np.where(base > ar.high, price - self.window_penalty, np.where(top < ar.low, price + self.window_penalty, nu))
        nu[ar.R] = price
        return nu


def solve(scenario: Scenario, lp: LinearProgram, time_limit: float | None = None,
          first: tuple[LinearProgram, Solution, float] | None = None) -> Solution | None:
    """The certified optimum of a proportional-mode LP, or None (the LP is then solved as usual).

    ``first``: a second stage's first (its LP, its solution, and the least objective the second
    keeps): the scales start where the first ended, and the first's planes, where it was solved
    here, bound the scales the second can use (`_kept_rows`)."""
    if not applies(scenario, lp):
        return None
    import highspy

    start = time.perf_counter()
    p = _pieces(lp)
    S = scenario.n_services
    paced = any(b.stop > b.start and name_of(lp.row_blocks, b.start).startswith("pace(") for b in lp.row_blocks)
    grouped = not paced and uses_groups(scenario)  # (the groups' rows: `proportional_groups`)
    try:
        knap = (_PacedKnapsack if paced else proportional_groups.Inner if grouped else _Knapsack)(
            lp, p, scenario.tolerance, S)
    except ValueError:  # pace rows of another shape: the LP
        return None
    k_max = _scale_bounds(p, knap, S)
    if not np.all(np.isfinite(k_max)):
        return None
    with np.errstate(invalid="ignore"):  # a flat tail without end: cost 0 x length inf
        most = np.where(p.cost < 0, p.cost * p.length, 0.0)
    # no allocation does better (with the groups' rows, none known: the first plane bounds the boxed scales)
    floor_value = -np.inf if grouped else float(most.sum()) - 1.0
    if not (grouped or np.isfinite(floor_value)):
        return None
    master, level = _master(S, k_max, floor_value), _Level(S, k_max, floor_value)
    if paced:  # (the pace windows' and the budget's rows over the scales)
        from allocator.model.proportional_pace import Budget, Windows
    windows, budget = (Windows(knap, p, S), Budget(knap, p, S, BUDGET_TOLERANCE)) if paced else (None, None)
    k = k_max / 2 if first is None else np.clip(scales_of(first[0], first[1].x, S), 0.0, k_max)
    best, lower, since, planes = None, -np.inf, 0, []
    if first is not None:
        _kept_rows((master, level.h), *first)
    for rounds in range(1, MAX_ROUNDS + 1):
        try:
            value, g, x, price, feasible = knap.solve(k)
        except ArithmeticError:  # (the groups' LP with the scales fixed unsolved: the whole LP)
            return None
        worth = getattr(knap, "worth", value)  # (the allocation's own value: `proportional_groups.Inner`)
        if feasible and (best is None or worth < best[0]):
            best = (worth, k.copy(), x.copy(), price, knap.duals, getattr(knap, "nu", None),
                    getattr(knap, "kept", None))
        for h in (master, level.h):
            if value is None:  # scales whose bands cannot meet the groups' rows: a plane that cuts them off
                h.addRow(-highspy.kHighsInf, knap.cut, S, np.arange(S, dtype=np.int32), g)
            else:
                h.addRow(value - g @ k, highspy.kHighsInf, S + 1, np.arange(S + 1, dtype=np.int32), np.r_[-g, 1.0])
        if windows is not None:
            windows.add_broken((master, level.h), k)
            budget.add_broken((master, level.h), k)
        if value is not None:
            planes.append((value, g, k.copy()))
        if not planes:  # only the rows' planes so far, which bound no value: the nearest scales they allow
            k = level.point(k, highspy.kHighsInf, k)
            continue
        master.run()
        if master.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            if windows is not None and master.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
                said = budget.conflict(master, scenario, lp, windows, _boxed(p, S))
                if said is False:  # a budget missed by less than its tolerance: the LP decides
                    return None
                raise said
            return None
        values = np.asarray(master.getSolution().col_value)
        since = 0 if values[S] > lower + GAP * abs(values[S]) else since + 1
        lower, k = max(lower, values[S]), np.clip(values[:S], 0.0, k_max)
        if best is not None:
            gap = (best[0] - lower) / max(abs(best[0]), 1e-12)
            if gap <= GAP or (since >= STALL_ROUNDS and gap <= STALLED_GAP):
                return dataclasses.replace(_solution(lp, p, best, gap, rounds, start, knap),
                                           planes=tuple(np.array(v) for v in zip(*planes)))
            k = level.point(best[1], lower + LEVEL * (best[0] - lower), k)
        if time_limit is not None and time.perf_counter() - start > time_limit:
            return None
    return None


class _Level:
    """The level method's next scales: the nearest (largest coordinate's distance) to the best so
    far where the planes' model is at most a level between the bound and the best value; Kelley's
    own point (the model's minimum) zigzags across the few scales for hundreds of rounds."""

    def __init__(self, S: int, k_max: np.ndarray, floor_value: float):
        import highspy

        self.S, self.k_max = S, k_max
        h = self.h = new_highs()
        for option in ("primal_feasibility_tolerance", "dual_feasibility_tolerance"):
            h.setOptionValue(option, 1e-10)
        h.addVars(S + 2, np.r_[np.zeros(S), floor_value, 0.0], np.r_[k_max, highspy.kHighsInf, highspy.kHighsInf])
        h.changeColsCost(S + 2, np.arange(S + 2, dtype=np.int32), np.r_[np.zeros(S + 1), 1.0])
        self.box = None  # its rows |k - centre| <= the distance column

    def point(self, centre: np.ndarray, level: float, fallback: np.ndarray) -> np.ndarray:
        import highspy

        h, S = self.h, self.S
        if self.box is None:
            self.box = h.getNumRow()
            for sign in (1.0, -1.0):  # sign * k - distance <= sign * centre
                h.addRows(S, np.full(S, -highspy.kHighsInf), sign * centre, 2 * S,
                          np.arange(0, 2 * S, 2, dtype=np.int32),
                          np.ravel(np.c_[np.arange(S), np.full(S, S + 1)]).astype(np.int32),
                          np.ravel(np.c_[np.full(S, sign), np.full(S, -1.0)]))
        else:
            rows = np.arange(self.box, self.box + 2 * S, dtype=np.int32)
            h.changeRowsBounds(2 * S, rows, np.full(2 * S, -highspy.kHighsInf), np.r_[centre, -centre])
        h.changeColBounds(S, -highspy.kHighsInf, level)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return fallback  # (a level a rounding below the model's minimum)
        return np.clip(np.asarray(h.getSolution().col_value)[:S], 0.0, self.k_max)


def _boxed(p: _Pieces, S: int) -> np.ndarray:
    """(S,) the services whose largest scale `_scale_bounds` takes from the budget (no cap)."""
    span = np.zeros(S)
    np.maximum.at(span, p.service, p.start + p.length)
    return ~np.isfinite(span)


def _scale_bounds(p: _Pieces, knap: _Knapsack, S: int) -> np.ndarray:
    """The largest scale of each service an optimum needs.

    With a cap: the scale at which the neediest line's lower band reaches it (beyond, no
    allocation fits), or, with no lower band (tolerance 1), at which every upper band is past
    the cap.  Without one: the scale whose lower bands alone cost the budget, or (no lower
    band) at which every upper band is past what the whole budget would buy.
    """
    k_max = np.zeros(S)
    high = knap.high if np.isfinite(knap.high) else knap.low
    for s in range(S):
        mine = (p.service == s) & (p.need > 0)
        if not mine.any():
            continue
        span = float((p.start + p.length)[mine].max())
        need = p.need[mine]
        if np.isfinite(span):
            k_max[s] = span / (knap.a * need.max()) if knap.a > 0 else span / (knap.b * need.min())
        elif knap.a > 0:
            first = mine & (p.start == 0)  # one piece per line group: its spend per unit
            k_max[s] = high / (knap.a * float(p.spend[first] @ p.need[first]))
        else:
            k_max[s] = float(np.max(high / (p.spend[mine] * knap.b * need)))
    return k_max


def _master(S: int, k_max: np.ndarray, floor_value: float):
    """Kelley's LP: minimise t over the scales (boxed) and t, cuts added as they come."""
    import highspy

    h = new_highs()
    for option in ("primal_feasibility_tolerance", "dual_feasibility_tolerance"):
        h.setOptionValue(option, 1e-10)
    h.addVars(S + 1, np.r_[np.zeros(S), floor_value], np.r_[k_max, highspy.kHighsInf])
    h.changeColsCost(S + 1, np.arange(S + 1, dtype=np.int32), np.r_[np.zeros(S), 1.0])
    return h


def _kept_rows(models, lp: LinearProgram, solution: Solution, least: float) -> None:
    """A second stage keeps the first's objective at least ``least``: every plane under the first's
    value over the scales (`Solution.planes`) then bounds the scales the second can use, as a row
    (loosened by 1e-9 of the value: 1% of the 1e-7 the second stage gives the first's optimum)."""
    if solution.planes is None:
        return
    import highspy

    values, slopes, at = solution.planes
    most = (-least if lp.maximize else least) * lp.objective_scale  # the first's value (minimised) at most
    upper = most + 1e-9 * max(1.0, abs(most)) - values + np.einsum("ij,ij->i", slopes, at)
    S = slopes.shape[1]
    for h in models:
        for g, u in zip(slopes, upper):
            h.addRow(-highspy.kHighsInf, u, S, np.arange(S, dtype=np.int32), g)


def scales_of(lp: LinearProgram, x: np.ndarray, S: int) -> np.ndarray:
    """(S,) each service's scale in ``x``, a solution of ``lp`` (0 for a service without free lines)."""
    k = np.zeros(S)
    scales = [b.start for b in lp.col_blocks if b.stop == b.start + 1
              and name_of(lp.col_blocks, b.start).startswith("scale(")]
    served = sorted(set(_pieces(lp).service.tolist()))
    k[np.array(served, dtype=np.int64)] = x[np.array(scales, dtype=np.int64)]
    return k


def _solution(lp: LinearProgram, p: _Pieces, best, gap: float, rounds: int, start: float, knap) -> Solution:
    """The best allocation found as the LP's columns, with its prices as the rows' duals."""
    _, k, x_pieces, price, (raise_low, raise_high), nu, kept = best
    x = np.zeros(lp.n_cols)
    if kept is not None:  # the groups' LP: its other columns and its rows' prices (`proportional_groups`)
        x[kept[0]] = kept[1]
    x[p.cols] = x_pieces
    scales = [b.start for b in lp.col_blocks if b.stop == b.start + 1
              and name_of(lp.col_blocks, b.start).startswith("scale(")]
    served = sorted(set(p.service.tolist()))
    x[np.array(scales, dtype=np.int64)] = k[np.array(served, dtype=np.int64)]
    row_dual = np.zeros(lp.n_rows)
    row_dual[0] = price
    if kept is not None:
        row_dual[kept[2]] = kept[3]
    groups_low = np.bincount(p.group, weights=raise_low, minlength=len(lp.groups.need))
    groups_high = np.bincount(p.group, weights=raise_high, minlength=len(lp.groups.need))
    blocks = [b for b in lp.row_blocks[1:] if b.stop > b.start
              and name_of(lp.row_blocks, b.start).startswith(("prop_lo(", "prop_hi("))]
    if nu is not None:  # a pound in an area costs its window's price on top of the budget's
        ar = knap.areas
        with np.errstate(divide="ignore", invalid="ignore"):
            row_dual[ar.rows] = np.where(ar.kappa[:-1] > 0, (nu[:-1] - price) / ar.kappa[:-1], 0.0)
    for s, (low, high) in zip(served, zip(blocks[0::2], blocks[1::2])):
        mine = lp.groups.order[s]
        row_dual[low.start:low.stop] = groups_low[mine]
        row_dual[high.start:high.stop] = -groups_high[mine]
    return Solution(x=x, objective=_objective(lp, x), status=Status.OPTIMAL,
                    solver=f"cutting planes over each service's scale, {rounds} rounds (optimality "
                           f"certified: within {max(gap, 0.0):.1e} of the best bound)",
                    seconds=time.perf_counter() - start, row_dual=row_dual,
                    col_dual=lp.cost - lp.matrix.T @ row_dual, iterations=rounds)
