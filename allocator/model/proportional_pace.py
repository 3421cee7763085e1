"""Proportional mode with a pace of change: each area's window and the budget as rows over the scales.

`allocator.model.proportional` minimises over each service's scale by cutting planes; with a pace
of change the scales must also leave every area a spend within its window and the areas together
the budget.  Both are added to the planes' LP as rows over the scales once some scales break
them, so that scales no allocation can have are cut off, and an impossible pace of change or
budget leaves that LP infeasible: its Farkas ray says which, and the error says it in money.
"""

from __future__ import annotations

import numpy as np

from allocator.errors import InfeasibleError
from allocator.scenario import Scenario


def upper_bands(knap, p, k: np.ndarray, S: int) -> tuple[np.ndarray, np.ndarray]:
    """Each area's upper bands' spend at the scales ``k`` (R + 1,) and its right-hand slope in each
    scale (R + 1, S).  A line's spend is its spend per unit times ``min(b k n, its span)``: concave,
    so the slope gives a tangent at least the spend at every scale.  The slope is taken line by
    line (``b k n`` below the line's span), never piece by piece, where rounding at a piece's end
    could count a line's slope twice or not at all."""
    ar = knap.areas
    span = np.zeros(int(p.group.max(initial=-1)) + 1)
    np.maximum.at(span, p.group, p.start + p.length)
    first = (p.start == 0) & (p.length > 0)  # one a line (the pieces of a line share spend and need)
    band = knap.b * k[p.service[first]] * p.need[first]
    top = np.bincount(ar.area[first], weights=p.spend[first] * np.minimum(band, span[p.group[first]]),
                      minlength=ar.R + 1)
    rising = band < span[p.group[first]]
    g = np.zeros((ar.R + 1, S))
    np.add.at(g, (ar.area[first][rising], p.service[first][rising]), (knap.b * p.spend * p.need)[first][rising])
    return top, g


class Windows:
    """Each area's pace window as rows over the scales in the planes' LP, added once broken:
    its lower bands' spend at most the window's upper end (linear below
    `proportional._scale_bounds`), its upper bands' at least the lower end (necessary for any
    allocation).  Where caps cut the upper bands their spend is concave in the scales: an area
    still short at scales its row allows gets the spend's tangent there (`_tangents`)."""

    def __init__(self, knap, p, S: int):  # (`proportional._PacedKnapsack`, `proportional._Pieces`)
        self.areas, self.S, self.knap, self.p = knap.areas, S, knap, p
        self.low_rows, self.high_rows = knap.areas.window_rows(p, knap.a, knap.b, S)
        self.has = np.zeros((self.areas.R, 2), bool)
        self.at = []  # (the planes' LP's first row of a batch, its areas)

    def add_broken(self, models, k: np.ndarray) -> None:
        """Rows for the windows ``k`` breaks, in each of ``models`` (the planes' LP first)."""
        import highspy

        ar = self.areas
        tol = 1e-9 * np.maximum(1.0, np.abs(np.r_[ar.high[:-1], ar.low[:-1]]).reshape(2, -1))
        over = (self.low_rows @ k > ar.high[:-1] + tol[0]) & ~self.has[:, 0]
        short = (self.high_rows @ k < ar.low[:-1] - tol[1]) & ~self.has[:, 1]
        for rows, mask, lower, upper, side in ((self.low_rows, over, -highspy.kHighsInf, ar.high[:-1], 0),
                                              (self.high_rows, short, ar.low[:-1], highspy.kHighsInf, 1)):
            at = np.flatnonzero(mask)
            if not len(at):
                continue
            self.has[at, side] = True
            n = len(at)
            lo = np.full(n, lower) if np.isscalar(lower) else lower[at]
            hi = np.full(n, upper) if np.isscalar(upper) else upper[at]
            block = rows[at]
            self._add(models, at, lo, hi, block)
        self._tangents(models, k, short)

    def _add(self, models, at: np.ndarray, lo: np.ndarray, hi: np.ndarray, block: np.ndarray) -> None:
        """Rows ``lo <= block @ scales <= hi`` for areas ``at``, in each of ``models``."""
        n, S = len(at), self.S
        self.at.append((models[0].getNumRow(), at))
        for h in models:
            h.addRows(n, lo, hi, n * S, np.arange(0, n * S, S, dtype=np.int32),
                      np.tile(np.arange(S, dtype=np.int32), n), block.ravel())

    def _tangents(self, models, k: np.ndarray, linear: np.ndarray) -> None:
        """For each area short of its window's foot at ``k`` whose linear row (``linear``: added
        now) does not cut ``k`` off, its upper bands' spend's tangent at ``k`` (a supergradient of
        a concave function: at least the spend everywhere, so the row holds for every allocation)."""
        ar = self.areas
        top, g = upper_bands(self.knap, self.p, k, self.S)
        top = top[:-1]
        at = np.flatnonzero((top < ar.low[:-1] - 1e-12 * np.maximum(1.0, np.abs(ar.low[:-1]))) & ~linear)
        if not len(at):
            return
        g = g[at]
        self._add(models, at, ar.low[at] - top[at] + g @ k, np.full(len(at), np.inf), g)

    def conflict(self, master, scenario: Scenario) -> InfeasibleError:
        """The areas whose windows no scales hold together (the planes' LP's Farkas ray), as an
        `InfeasibleError` that says so in money; the pipeline keeps it as it is (``explained``)."""
        from allocator.format import change, gbp, percent

        _, has_ray, ray = master.getDualRay()
        areas = []
        if has_ray:
            for first, at in self.at:
                areas += at[np.abs(ray[first:first + len(at)]) > 1e-12].tolist()
        areas = sorted(set(areas), key=areas.index)
        down, up = scenario.pace
        base = scenario.baseline.sum(axis=1)
        shown = "; ".join(f"{scenario.area_ids[a]} ({gbp(base[a] * (1 - down))} to {gbp(base[a] * (1 + up))})"
                          for a in areas[:6])
        more = f" and {len(areas) - 6:,} more" if len(areas) > 6 else ""
        which = f": these areas' windows cannot all hold, {shown}{more}" if areas else ""
        exc = InfeasibleError(
            "no allocation meets the pace of change in proportional mode: each line's spend above its floor is "
            f"one scale per service times its need (within {percent(scenario.tolerance)}), and no "
            f"scales keep every area within {change(-down)} / {change(up)} of its baseline while every line "
            f"stays within its service's cap{which}. Widen the pace of change, raise the tolerance, or use "
            "monotone proportionality.")
        exc.explained = True
        return exc


class Budget:
    """The budget as rows over the scales in the planes' LP, added where the scales break it.  An
    area spends at most the lesser of its window's top and its upper bands' spend (concave in the
    scales: its tangent at the scales), and at least the greater of its window's foot and its lower
    bands' spend (linear below `proportional._scale_bounds`), so the areas' sum of either must
    meet the budget: necessary for any allocation, so an impossible budget is proven in the planes."""

    def __init__(self, knap, p, S: int, tolerance: float):
        self.knap, self.p, self.S = knap, p, S
        first = (p.start == 0) & (p.length > 0)
        self.per_unit = np.zeros((knap.areas.R + 1, S))  # each area's lower bands' spend per unit of a scale
        np.add.at(self.per_unit, (knap.areas.area[first], p.service[first]), knap.a * p.spend[first] * p.need[first])
        self.rows = []  # (the planes' LP's row, +1: the areas can spend at most / -1: must spend at least)
        budget = knap.high if np.isfinite(knap.high) else knap.low
        self.slack = tolerance * max(1.0, abs(budget))  # what the knapsack lets the budget miss by (relative)

    def row(self, k: np.ndarray, side: int) -> tuple[np.ndarray, float, float]:
        """The row at the scales ``k`` as (coefficients, its bound, the areas' reach at ``k``): for
        ``side`` +1 the most the areas can spend (at least the budget's foot), -1 the least (at most its top)."""
        knap, p, ar = self.knap, self.p, self.knap.areas
        if side > 0:
            top, g = upper_bands(knap, p, k, self.S)
            capped = ar.high < top  # (the area without a window: never)
            fixed = float(ar.high[capped].sum()) + float((top - g @ k)[~capped].sum())
            self.tangent = (g, top - g @ k)  # each area's upper bands' spend: a tangent (`missed`)
            return g[~capped].sum(axis=0), knap.low - fixed, float(np.minimum(ar.high, top).sum())
        base = self.per_unit @ k
        lifted = ar.low > base
        least = float(np.maximum(ar.low, base).sum())
        return self.per_unit[~lifted].sum(axis=0), knap.high - float(ar.low[lifted].sum()), least

    def add_broken(self, models, k: np.ndarray) -> None:
        """The row ``k`` breaks (the knapsack's last solve says which side), in each of ``models``."""
        if self.knap.short != 0:
            self.add(models, k, self.knap.short)

    def add(self, models, k: np.ndarray, side: int) -> None:
        """The budget's row on ``side`` at the scales ``k``, in each of ``models``."""
        coef, bound, _ = self.row(k, side)
        self.rows.append((models[0].getNumRow(), side))
        for h in models:
            h.addRow(*self._bounds(bound, side), self.S, np.arange(self.S, dtype=np.int32), coef)

    def _bounds(self, bound: float, side: int) -> tuple[float, float]:
        """A budget row's bounds, loosened by what the knapsack (and the LP) let the budget miss by.
        (Loosened by half of it, the planes certified wrong optima: found by Hypothesis.)"""
        return (bound - self.slack, np.inf) if side > 0 else (-np.inf, bound + self.slack)

    def conflict(self, master, scenario, lp, windows: Windows, boxed: np.ndarray) -> InfeasibleError | bool:
        """Why the planes' LP has no scales, as an `InfeasibleError` the pipeline keeps (``explained``):
        the budget and the least it is missed by, in money (`missed`), when its Farkas ray holds a
        budget row or the scales' box that comes from the budget (``boxed``: services without a
        cap, `proportional._scale_bounds`); else the windows (`Windows.conflict` names them).
        False when the budget is missed by less than its tolerance (the LP decides)."""
        import highspy

        held = self._in_ray(master)
        windows_said = windows.conflict(master, scenario)  # (from this ray, before the LP changes)
        if boxed.any():  # the box comes from the budget: without it, the budget's rows say the same
            cols = np.flatnonzero(boxed).astype(np.int32)
            master.changeColsBounds(len(cols), cols, np.zeros(len(cols)), np.full(len(cols), np.inf))
            if not held:  # the box and the windows: the least the areas spend where the windows hold
                master.run()
                if master.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                    self.add((master,), np.asarray(master.getSolution().col_value)[:self.S], -1)
                    held = True
                else:  # still none: a budget row may be what the windows now meet (Hypothesis found it)
                    held = self._in_ray(master)
        found = self.missed(master, windows) if held else None
        if found is None:
            return windows_said
        short, over = found
        if max(short, over) <= self.slack:
            return False
        return self._said(scenario, short, over, lp.budget_scale)

    def _in_ray(self, master) -> bool:
        """Whether the Farkas ray of the planes' infeasible LP holds one of the budget's rows."""
        _, has_ray, ray = master.getDualRay()
        return bool(has_ray) and any(abs(ray[row]) > 1e-12 for row, _ in self.rows)

    def _said(self, scenario, short: float, over: float, budget_scale: float) -> InfeasibleError:
        from allocator.format import change, gbp, percent

        missed = (short if short > over else over) / budget_scale
        down, up = scenario.pace
        budget = scenario.budget_gbp
        reach = (f"can spend at most {gbp(budget - missed)}" if short > over
                 else f"must spend at least {gbp(budget + missed)}")
        exc = InfeasibleError(
            f"no allocation spends the budget of {gbp(budget)} in proportional mode with the pace of change: with "
            f"each line's spend above its floor one scale per service times its need (within "
            f"{percent(scenario.tolerance)}), the areas {reach} within {change(-down)} / {change(up)} of their "
            f"baselines and their caps. To fix it, {'lower' if short > over else 'raise'} the budget by at least "
            f"{gbp(missed)}, widen the pace of change, or raise the tolerance.")
        exc.explained = True
        exc.reach = (1 if short > over else -1, budget - missed if short > over else budget + missed)  # (tests)
        return exc

    def missed(self, master, windows: Windows, rounds: int = 200) -> tuple[float, float] | None:
        """The least the budget is missed by, short of it and over it (in the budget row's units):
        the budget rows relaxed by a column each way, their sum minimised, with the rows at the
        scales found added (the areas' reach is concave in the scales, their least spend convex),
        and every window those scales break, until the scales reach what the columns say.  None
        when the windows alone cannot hold (the relaxed LP has no solution)."""
        import highspy

        n = master.getNumCol()  # the scales, the planes' bound, then the two columns
        master.addVars(2, np.zeros(2), np.full(2, np.inf))
        master.changeColsCost(n + 2, np.arange(n + 2, dtype=np.int32), np.r_[np.zeros(n), 1.0, 1.0])
        for row, side in self.rows:
            master.changeCoeff(int(row), n if side > 0 else n + 1, float(side))
        ar, missed, scales = self.knap.areas, np.zeros(2), np.arange(self.S, dtype=np.int32)
        for _ in range(rounds):
            master.run()
            if master.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return None  # (every budget row is relaxed: the windows' rows alone)
            values = np.asarray(master.getSolution().col_value)
            k, missed = values[:self.S], values[n:n + 2]
            rows = master.getNumRow()
            windows.add_broken((master,), k)  # (scales that break a window allow no allocation)
            for side, column, budget in ((1, n, self.knap.low), (-1, n + 1, self.knap.high)):
                coef, bound, reach = self.row(k, side)
                if np.isfinite(budget) and side * (budget - reach) > missed[column - n] + 1e-9 * max(1.0, abs(budget)):
                    master.addRow(*self._bounds(bound, side), self.S + 1, np.r_[scales, column].astype(np.int32),
                                  np.r_[coef, float(side)])
            g, fixed = self.tangent  # (set by the reach's row above)
            for a in np.flatnonzero((g @ k + fixed)[:-1] < ar.low[:-1] * (1 - 1e-9)):  # windows the upper bands miss
                master.addRow(ar.low[a] - fixed[a], np.inf, self.S, scales, g[a])
            if master.getNumRow() == rows:
                break  # the scales reach the budget less what is missed, and every window: the least misses
        return float(missed[0]), float(missed[1])
