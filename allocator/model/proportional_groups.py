"""Proportional mode with the deprivation groups' rows: maximin, level-up, and the floors under the
groups' levels that their second stage keeps (`allocator.model.proportional`'s cutting planes, each
scale's LP solved on a working set of its columns).

With every service's scale fixed the bands are bounds on each line's pieces, as for a weighted gain,
but what is left is not one budget row: the groups' level rows (one per deprivation group) tie the
lines together, so it is a linear program of a few dozen rows over every piece. Its optimum ``V(k)``
is still convex in the scales (the LP's optimum with ``k`` fixed), and the band rows' duals, read
from the pieces' reduced costs at each line's band edge (`band_prices`: along a line's
pieces the reduced costs rise, the curves being concave, whatever the groups' prices), still give a
subgradient. The pieces are shifted to their lower bands (each piece from 0 to the room between its
bands, the rows' bounds less what the lower bands spend and gain), so a piece the bands fix is never
in play, and the LP is solved by sifting (`allocator.model.sifting.Sifter`), kept from one scale to
the next: only bounds change, and the working set and basis of the last scales start the next.

Scales whose bands cannot meet a row (the budget, a floor under a group's level) are priced by the
working set's artificial columns at their largest cost: their value is then an over-estimate of
the LP's with the rows relaxed at that price, which still lies below the LP's own ``V`` (infinite
there), so every plane stays a valid lower bound; the answer is only ever an allocation that meets
every row, certified against those planes.

The LP is solved at a primal tolerance of 1e-9 (`FEASIBILITY`, the budget's own as the knapsack
holds it): at HiGHS's 1e-7 the rows were met by bending the pieces' bounds, and the allocation,
clipped back to them, was worth less than HiGHS's objective (found by Hypothesis at tolerance 0).
The best allocation is valued at its own cost, the plane at the lower of that and HiGHS's value.

A second stage (most health among the first's optima, `allocator.analysis.pipeline`) starts at the
first's scales, and every plane of the first bounds the scales it may use (`proportional._kept_rows`):
the first's value at any scales is at least its planes', so scales where a plane is above the level
the second keeps cannot keep it. Below `MIN_COLUMNS` the whole LP is quicker, and is solved instead.

Measured (benchmarks/README.md, session 31): proportional mode with maximin on 4,000 synthetic
areas, 9.7 s for both stages where the whole LP did not finish in 120 s (HiGHS 32 s on the second
stage's LP alone); england-lsoa at tolerance 0.75, 47 s against 575 s of interior point.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from allocator.model.lp import LinearProgram, name_of
from allocator.scenario import Scenario

GROUP_OBJECTIVES = ("maximin", "level-up")
FEASIBILITY = 1e-9  # HiGHS's primal tolerance in the LP with the scales fixed (module docstring)
MIN_COLUMNS = 20_000  # below, the whole LP is quicker (300 synthetic areas, level-up: 1.5 s here, 0.5 s as the LP)
BATCH = 1_000  # columns entering a round: the scales move many bounds at once (200: 1.6x the time at 4,000 areas)


def applies(scenario: Scenario, lp: LinearProgram) -> bool:
    """Proportional mode whose only rows beyond the budget and the bands are the groups' (maximin,
    level-up, the floors under the levels): no SII or gap reduction (a MILP), no pace of change,
    no funding streams or service groups' money rows."""
    if not (scenario.proportionality == "proportional" and lp.integrality is None and lp.n_cols >= MIN_COLUMNS
            and lp.spend_sets
            and len(lp.spend_sets[0]) > 0  # (some line free: a piece)
            and scenario.sii_reduction is None and scenario.gap_reduction is None
            and (scenario.objective in GROUP_OBJECTIVES
                 or (scenario.objective in ("health-gain", "equity-weighted")
                     and (scenario.worst_off_at_least is not None or scenario.levelled_at_least is not None)))):
        return False
    names = [name_of(lp.row_blocks, b.start) for b in lp.row_blocks if b.stop > b.start]
    group_rows = ("level(", "worst_off(", "capped(", "levelled_up")
    return (bool(names) and names[0] == "budget"
            and all(n.startswith(("prop_lo(", "prop_hi(") + group_rows) for n in names[1:])
            and any(n.startswith(group_rows) for n in names[1:]))


def band_prices(p, x: np.ndarray, d: np.ndarray, lo_band: np.ndarray, hi_band: np.ndarray,
                ab: tuple[float, float], S: int):
    """(d V / d k_s, (what raising each piece's lower band costs, what raising its upper band gains)):
    the band rows' duals, read where each group's total sits from the reduced costs ``d`` of its
    pieces (every other row priced), which rise along a line's pieces (the curves are concave)."""
    total = np.bincount(p.group, weights=x)[p.group]
    tol = 1e-12 * np.maximum(1.0, np.abs(hi_band))
    at_low, at_high = np.abs(total - lo_band) <= tol, np.abs(total - hi_band) <= tol
    right = ((p.start <= total) & (total < p.start + p.length)) | (p.last & (total >= p.start + p.length))
    left = ((p.start < total) & (total <= p.start + p.length)) | ((total <= 0) & (p.start <= 0) & (p.length > 0))
    raise_low = np.where(at_low & right, np.maximum(d, 0.0), 0.0)  # what forcing one more unit costs
    raise_high = np.where(at_high & left, np.maximum(-d, 0.0), 0.0)  # what allowing one more unit gains
    a, b = ab
    return (np.bincount(p.service, weights=(raise_low * a - raise_high * b) * p.need, minlength=S),
            (raise_low, raise_high))


class Inner:
    """The LP with every service's scale fixed (module docstring): the same interface as
    `proportional._Knapsack` (``solve(k)``, ``a``, ``b``, ``low``, ``high``, ``duals``), and
    ``kept``: the rest of the LP's columns and rows at the last scales (for `proportional._solution`)."""

    def __init__(self, lp: LinearProgram, p, tau: float, n_services: int):
        self.p, self.S = p, n_services
        self.a, self.b = 1.0 - tau, 1.0 + tau
        self.low, self.high = float(lp.row_lower[0]), float(lp.row_upper[0])
        band = np.zeros(lp.n_rows, bool)
        scale = np.zeros(lp.n_cols, bool)
        for blocks, mask, prefixes in ((lp.row_blocks, band, ("prop_lo(", "prop_hi(")),
                                       (lp.col_blocks, scale, ("scale(",))):
            for b in blocks:
                if b.stop > b.start and name_of(blocks, b.start).startswith(prefixes):
                    mask[b.start:b.stop] = True
        self.rows, self.cols = np.flatnonzero(~band), np.flatnonzero(~scale)
        csr = lp.matrix.tocsr()
        if csr[self.rows][:, np.flatnonzero(scale)].nnz:
            raise ValueError("a scale in a row other than its bands")
        sub = sp.csc_matrix(csr[self.rows][:, self.cols])
        where = np.full(lp.n_cols, -1, np.int64)
        where[self.cols] = np.arange(self.cols.size)
        self.at = where[p.cols]  # each piece's column in the LP without the bands
        if np.any(self.at < 0):
            raise ValueError("a piece that is a scale")
        self.piece_rows = sp.csc_matrix(sub[:, self.at])  # what a unit of each piece spends and gains
        self.base = dataclasses.replace(
            lp, matrix=sub, cost=lp.cost[self.cols], col_lower=lp.col_lower[self.cols].copy(),
            col_upper=lp.col_upper[self.cols].copy(), row_lower=lp.row_lower[self.rows],
            row_upper=lp.row_upper[self.rows], integrality=None, feasibility_tolerance=FEASIBILITY)
        self.base.col_lower[self.at] = 0.0
        self.sifters: dict = {}

    def bands(self, k: np.ndarray):
        p = self.p
        return self.a * k[p.service] * p.need, self.b * k[p.service] * p.need

    def _at(self, lb: np.ndarray, ub: np.ndarray, phase_one: bool = False) -> LinearProgram:
        """The LP with the pieces shifted to ``lb`` (each free up to ``ub``); ``phase_one``: every
        cost 0, so that the working set's artificials measure how far the rows are from being met."""
        base = self.base
        upper = base.col_upper.copy()
        upper[self.at] = ub - lb
        shift = self.piece_rows @ lb
        return dataclasses.replace(base, col_upper=upper, row_lower=base.row_lower - shift,
                                   row_upper=base.row_upper - shift,
                                   cost=np.zeros_like(base.cost) if phase_one else base.cost)

    def _sift(self, lp_k: LinearProgram, which: str):
        from allocator.model.sifting import Sifter

        sifter = self.sifters.get(which)
        fresh = sifter is None or not sifter.update(lp_k)
        if fresh:
            sifter = self.sifters[which] = Sifter(lp_k, batch=BATCH)
        found = sifter.solve(elastic=True)
        if found is None and not fresh:  # simplex lost from the last scales' working set: once more, new
            sifter = self.sifters[which] = Sifter(lp_k, batch=BATCH)
            found = sifter.solve(elastic=True)
        return sifter, found

    def solve(self, k: np.ndarray):
        """(value, subgradient, x of the pieces, budget price, feasible) at the scales ``k``; where
        the bands cannot meet the rows, (None, g, None, None, False) and ``cut``: ``g . k <= cut``
        holds at every scales that can (the phase-one LP's plane, `proportional.solve`)."""
        p = self.p
        lo_band, hi_band = self.bands(k)
        lb = np.clip(lo_band - p.start, 0.0, p.length)
        ub = np.clip(hi_band - p.start, 0.0, p.length)
        sifter, found = self._sift(self._at(lb, ub), "value")
        if found is None or sifter.short:  # phase one: F(k) + gF . (k' - k) <= 0 wherever the rows can be met
            cut = self._phase_one(k, lb, ub, lo_band, hi_band)  # (simplex can lose its way with the
            if cut is not None:  # artificials at their largest cost where the rows are just missed)
                return cut
        if found is None:
            raise ArithmeticError("the LP with the scales fixed was not solved")
        x_rest = found.x
        x = lb + x_rest[self.at]
        value = float(sifter.h.getInfo().objective_function_value) + float(p.cost @ lb)
        y = np.asarray(found.row_dual, dtype=float)
        g, self.duals = band_prices(p, x, found.col_dual[self.at], lo_band, hi_band, (self.a, self.b), self.S)
        full = x_rest.copy()
        full[self.at] = x
        self.kept = (self.cols, full, self.rows, y)
        self.worth = float(self.base.cost @ full)  # the allocation's own value, the best's (HiGHS's
        if not sifter.short:  # objective can sit either side of it by its tolerance: the plane the lower)
            value = min(value, self.worth)
        return value, g, x, float(y[0]), not sifter.short  # (short: met in phase one, to its tolerance)

    def _phase_one(self, k, lb, ub, lo_band, hi_band):
        """(None, g, None, None, False) with ``cut``: ``g . k <= cut`` at every scales that can meet
        the rows; None when phase one meets them (to its tolerance: the value's plane stands)."""
        p = self.p
        sifter, found = self._sift(self._at(lb, ub, phase_one=True), "phase one")
        if found is None:
            raise ArithmeticError("phase one of the LP with the scales fixed was not solved")
        missed = float(sifter.h.getInfo().objective_function_value)
        if not sifter.short or missed <= 0.0:
            return None
        g, _ = band_prices(p, lb + found.x[self.at], found.col_dual[self.at], lo_band, hi_band,
                           (self.a, self.b), self.S)
        size = float(np.abs(g).max(initial=0.0))
        if size == 0.0:
            raise ArithmeticError("no scales meet the rows")
        self.cut = float(g @ k - missed) / size
        return None, g / size, None, None, False
