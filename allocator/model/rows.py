"""The columns and rows of the LP, step by step, in the order `allocator.model.lp.build` adds them.

The budget row (locked lines and floors are fixed spend outside it); the gain
columns of every service (segments, or the suffix form's raise columns and chain
rows); pace-of-change rows; proportionality (ordering rows, or proportional
bands); the equity rows of `allocator.model.equity`; fair-share target rows.
The order of columns and rows is part of the LP (names, warm starts, tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from allocator.model import equity

if TYPE_CHECKING:
    from allocator.model.lp import Groups, _Builder, _Setup
    from allocator.scenario import Scenario

INF = np.inf


@dataclass
class Columns:
    """The gain-carrying columns `add_gain_columns` made, by group and by service."""

    seg_cols: list = field(default_factory=list)  # (group index, column index) pairs
    seg_sets: list = field(default_factory=list)  # (groups, columns, service, piece)
    suffix_sets: list = field(default_factory=list)  # (groups in need order, raise columns, ...)
    gain_mask_parts: list = field(default_factory=list)
    suffix_info: dict = field(default_factory=dict)  # service -> (groups in need order, [first column])


def _locked_spend(scenario: Scenario) -> np.ndarray:
    """(A, S) the spend of locked lines, 0 on free ones."""
    return np.where(scenario.is_locked, scenario.locked, 0.0)


def add_budget_row(b: _Builder, m: _Setup) -> tuple[int, float]:
    """The budget row over the money above the fixed spend; (its index, its scale)."""
    scenario, groups = m.scenario, m.groups
    # the budget row in units of a power of two near the budget: well scaled, the same
    # coefficients for nearby budgets (a budget sweep changes one bound: warm starts), and
    # exactly the same LP when every amount of money is multiplied by a power of two
    budget_scale = 2.0 ** -np.round(np.log2(scenario.budget_gbp))
    # locked lines and floors are fixed spend: the LP moves only the money above them
    locked_spend = _locked_spend(scenario)
    fixed = locked_spend.sum() + float(np.dot(groups.unit_spend, scenario.floor[groups.service]))
    budget_row = b.add_rows([-INF if scenario.budget_mode == "at-most" else
                             (scenario.budget_gbp - fixed) * budget_scale],
                            (scenario.budget_gbp - fixed) * budget_scale, make=lambda i: "budget")[0]
    return budget_row, budget_scale


def add_gain_columns(b: _Builder, m: _Setup, budget_row: int, budget_scale: float) -> Columns:
    """Every service's columns, in service order: suffix raise columns or segment columns."""
    cols = Columns()
    for s in range(m.scenario.n_services):
        mine = m.groups.order[s]
        if len(mine) == 0:
            continue
        if m.suffix[s]:
            _suffix_columns(b, m, s, cols, budget_row, budget_scale)
        else:
            _segment_columns(b, m, s, cols, budget_row, budget_scale)
    return cols


def _suffix_columns(b: _Builder, m: _Setup, s: int, cols: Columns, budget_row: int,
                    budget_scale: float) -> None:
    """Service ``s`` in suffix form: per piece, "raise everyone from position t" columns and a chain row."""
    groups, sid = m.groups, m.sid
    mine, p = groups.order[s], m.pcs[s]
    w, c = groups.weight[mine], groups.unit_spend[mine]
    w_suf = np.cumsum(w[::-1])[::-1]
    c_suf = np.cumsum(c[::-1])[::-1]
    starts = []
    for k, (length, slope) in enumerate(zip(p.lengths, p.slopes)):
        # the gain's objective coefficient as in segment form: none behind maximin and level-up
        # (it was the full scale here, so those objectives traded the worst-off group's level
        # against total gain one for one: not maximin)
        raise_cols = b.add_cols(-m.gain_cost * slope * w_suf, 0.0, length,
                                make=lambda j, s=s, k=k, mine=mine:
                                f"raise({sid[s]},{k + 1},from_{groups.name(mine[j])})")
        b.coef(budget_row, raise_cols, c_suf * budget_scale)
        if np.isfinite(length):
            row = b.add_rows([-INF], length, make=lambda i, s=s, k=k: f"chain({sid[s]},{k + 1})")
            b.coef(row[0], raise_cols, 1.0)
        starts.append(raise_cols[0])
        cols.gain_mask_parts.append(raise_cols)
        cols.suffix_sets.append((mine, raise_cols, s, k))
    cols.suffix_info[s] = (mine, starts)
    _slope_rows(b, m, s, mine, starts)


def _slope_rows(b: _Builder, m: _Setup, s: int, mine: np.ndarray, starts: list) -> None:
    """A minimum slope in suffix form: where need steps up, the raises there add up to the slope.

    Position t's intensity is the floor plus every piece's raises at positions <= t, so the
    step from the last line of one need level to the first of the next is the sum of the
    pieces' raises at that first line: ``sum_k raise[k, t] >= min_slope * (n_t - n_(t-1))``.
    Within a level, lines are ordered by value per pound (never falling), so the level's
    first line is its least and the one before its predecessor's most: the rows form's
    "every line of the higher level >= every line of the lower one + the step".  Each row
    holds one position's raises, no column is in two of them: the LP stays a few dense rows
    over a block diagonal, which interior point solves fast.
    """
    gamma = m.scenario.min_slope[s]
    if gamma <= 0 or len(mine) < 2:
        return
    need = m.groups.need[mine]
    steps = np.flatnonzero(np.diff(need) > 0) + 1
    if not steps.size:
        return
    sid, groups = m.sid, m.groups
    rows = b.add_rows(gamma * (need[steps] - need[steps - 1]), INF,
                      make=lambda i: f"slope({sid[s]},{groups.name(mine[steps[i]])})")
    for first in starts:
        b.coef(rows, first + steps, 1.0)
    b.slope_rows.append(rows)


def _segment_columns(b: _Builder, m: _Setup, s: int, cols: Columns, budget_row: int,
                     budget_scale: float) -> None:
    """Service ``s`` in rows form: one column per group and piece, ``0 <= seg_k <= length_k``."""
    groups, sid = m.groups, m.sid
    mine, p = groups.order[s], m.pcs[s]
    for k, (length, slope) in enumerate(zip(p.lengths, p.slopes)):
        cost = -m.gain_cost * slope * groups.weight[mine]
        seg = b.add_cols(cost, 0.0, length, make=lambda j, s=s, k=k, mine=mine:
                         f"seg({groups.name(mine[j])},{sid[s]},{k + 1})")
        b.coef(budget_row, seg, groups.unit_spend[mine] * budget_scale)
        cols.seg_cols.append((mine, seg))
        cols.seg_sets.append((mine, seg, s, k))
        if m.gainful:
            cols.gain_mask_parts.append(seg)


class Intensity:
    """Each group's intensity above its floor as the sum of its segment columns (rows form)."""

    def __init__(self, seg_cols: list, n_groups: int):
        if seg_cols:
            g_all = np.concatenate([g for g, _ in seg_cols])
            c_all = np.concatenate([c for _, c in seg_cols])
            srt = np.argsort(g_all, kind="stable")
            g_all, c_all = g_all[srt], c_all[srt]
            bounds = np.searchsorted(g_all, np.arange(n_groups + 1))
        else:
            g_all = c_all = np.zeros(0, np.int64)
            bounds = np.zeros(n_groups + 1, np.int64)
        self.groups, self.columns, self.bounds = g_all, c_all, bounds

    def terms(self, g_list: np.ndarray):
        """(row position, column) pairs of sum_k seg[g,k] for each g in g_list."""
        bounds = self.bounds
        counts = bounds[g_list + 1] - bounds[g_list]
        pos = np.repeat(np.arange(len(g_list)), counts)
        starts = np.repeat(bounds[g_list], counts)
        offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return pos, self.columns[starts + offs]


def suffix_terms(suffix_sets: list, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(group, column) pairs of each group's intensity above its floor in suffix form: every raise
    of every piece at or below its position in its service's chain (a dense prefix: used only for
    a gradient constraint's relaxation at district scale, `allocator.model.gradient_bound`)."""
    groups, columns = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for mine, cols, _, _ in suffix_sets:
        counts = np.arange(1, len(mine) + 1)
        groups.append(np.repeat(mine, counts))
        columns.append(cols[np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)])
    return np.concatenate(groups), np.concatenate(columns)


def add_pace_rows(b: _Builder, m: _Setup, intensity: Intensity, suffix_sets: list = ()) -> None:
    """Pace of change: each area's total within bounds of its baseline."""
    scenario, groups = m.scenario, m.groups
    G = len(groups.service)
    unit, floor = scenario.unit_spend, scenario.floor
    down, up = scenario.pace
    base = scenario.baseline.sum(axis=1)
    area_fixed = (_locked_spend(scenario).sum(axis=1)
                  + np.where(groups.line_group >= 0, unit * floor[None, :], 0).sum(axis=1))
    scale_a = 1.0 / np.maximum(base, 1.0)
    rows = b.add_rows((base * (1 - down) - area_fixed) * scale_a, (base * (1 + up) - area_fixed) * scale_a,
                      make=lambda i: f"pace({groups.area_name(i)})")
    a_of_group = np.zeros(G, np.int64)
    a_idx, s_idx = np.nonzero(groups.line_group >= 0)
    a_of_group[groups.line_group[a_idx, s_idx]] = a_idx
    pos, cols = intensity.terms(np.arange(G))
    if len(suffix_sets):
        more = suffix_terms(suffix_sets, G)
        pos, cols = np.concatenate([pos, more[0]]), np.concatenate([cols, more[1]])
    b.coef(rows[a_of_group[pos]], cols, groups.unit_spend[pos] * scale_a[a_of_group[pos]])


def add_proportionality_rows(b: _Builder, m: _Setup, intensity: Intensity) -> None:
    """Monotone: ordering rows (suffix services need none); proportional: bands around k_s n_as."""
    scenario, groups, sid = m.scenario, m.groups, m.sid
    if scenario.proportionality == "monotone":
        cap, floor = scenario.cap, scenario.floor
        for s in range(scenario.n_services):
            mine = groups.order[s]
            if m.suffix[s] or len(mine) < 2:
                continue
            _ordering_rows(b, mine, groups, scenario.min_slope[s], cap[s] - floor[s], sid[s],
                           intensity.terms)
    elif scenario.proportionality == "proportional":
        tau = scenario.tolerance
        for s in range(scenario.n_services):
            mine = groups.order[s]
            if len(mine) == 0:
                continue
            kcol = b.add_cols([0.0], 0.0, INF, make=lambda j, s=s: f"scale({sid[s]})")[0]
            for sign, (lo, hi, factor) in (("lo", (0.0, INF, 1 - tau)), ("hi", (-INF, 0.0, 1 + tau))):
                rows = b.add_rows(np.full(len(mine), lo), hi,
                                  make=lambda i, s=s, sign=sign, mine=mine:
                                  f"prop_{sign}({groups.name(mine[i])},{sid[s]})")
                pos, cols = intensity.terms(mine)
                b.coef(rows[pos], cols, 1.0)
                b.coef(rows, kcol, -factor * groups.need[mine])


def add_fair_share_rows(b: _Builder, m: _Setup, intensity: Intensity) -> None:
    """Fair share: minimise the money distance from need-weighted target intensities."""
    scenario, groups, sid, scale = m.scenario, m.groups, m.sid, m.scale
    G = len(groups.service)
    unit, floor = scenario.unit_spend, scenario.floor
    target_spend = scenario.fair_share
    with np.errstate(divide="ignore", invalid="ignore"):
        target_i = np.where(unit > 0, target_spend / unit, 0.0)
    t_group = np.zeros(G)
    a_idx, s_idx = np.nonzero(groups.line_group >= 0)
    t_group[groups.line_group[a_idx, s_idx]] = target_i[a_idx, s_idx]
    over = b.add_cols(scale * groups.unit_spend, 0.0, INF,
                      make=lambda j: f"over({groups.name(j)},{sid[groups.service[j]]})")
    under = b.add_cols(scale * groups.unit_spend, 0.0, INF,
                       make=lambda j: f"under({groups.name(j)},{sid[groups.service[j]]})")
    rhs = t_group - floor[groups.service]
    rows = b.add_rows(rhs, rhs, make=lambda i: f"target({groups.name(i)},{sid[groups.service[i]]})")
    pos, cols = intensity.terms(np.arange(G))
    b.coef(rows[pos], cols, 1.0)
    b.coef(rows, over, -1.0)
    b.coef(rows, under, 1.0)


class _Levels:
    """Adds each deprivation group's level (its mean gain) to rows, from the gain columns."""

    def __init__(self, b: _Builder, groups: Groups, pcs, terms, seg_sets, suffix_sets):
        self.b, self.groups, self.pcs, self.terms = b, groups, pcs, terms
        self.seg_sets, self.suffix_sets = seg_sets, suffix_sets
        self.dep = groups.deprivation - 1

    def add(self, rows_of_q: np.ndarray, coef_q: np.ndarray) -> None:
        b, groups, terms, dep = self.b, self.groups, self.terms, self.dep
        for mine, cols, s, k in self.seg_sets:
            slope = self.pcs[s].slopes[k]
            q = dep[mine]
            vals = coef_q[q] * groups.gain[mine] * slope / terms.population[q]
            keep = vals != 0
            b.coef(rows_of_q[q][keep], cols[keep], vals[keep])
        for mine, cols, s, k in self.suffix_sets:
            # raising positions t.. of a service adds to every group holding one of them
            slope = self.pcs[s].slopes[k]
            for q in np.unique(dep[mine]):
                inside = np.where(dep[mine] == q, groups.gain[mine], 0.0)
                vals = coef_q[q] * slope * np.cumsum(inside[::-1])[::-1] / terms.population[q]
                keep = vals != 0
                b.coef(np.full(int(keep.sum()), rows_of_q[q]), cols[keep], vals[keep])


def add_equity_rows(b: _Builder, m: _Setup, cols: Columns) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Group levels for maximin / level-up, gradient constraints, and in-order binaries.

    Returns the indices of binary columns and the (segment, next segment, length) triples
    they order.
    """
    scenario, groups, pcs, terms = m.scenario, m.groups, m.pcs, m.terms
    levels = _Levels(b, groups, pcs, terms, cols.seg_sets, cols.suffix_sets)
    _level_objective(b, scenario, terms, levels)
    _level_floors(b, scenario, terms, levels)
    Q = len(terms.population)
    binary_groups = np.zeros(Q, bool)
    for name, coef, bound in equity.constraint_rows(scenario, terms):
        row = b.add_rows([-INF], bound, make=lambda i, name=name: name)[0]
        levels.add(np.full(Q, row), coef)
        binary_groups |= coef > 0
    if not binary_groups.any():
        return [], []
    return _fill_in_order(b, scenario, groups, pcs, cols.seg_sets, binary_groups, m.sid)


def _base_levels(terms) -> np.ndarray:
    """Each group's level with no money above the floors; a group without people (few areas,
    many quantiles) has none, and its rows bound nothing."""
    return np.where(terms.population > 0, terms.level0 + terms.constant, INF)


def _level_objective(b: _Builder, scenario: Scenario, terms, levels: _Levels) -> None:
    """Maximin: the lowest group level; level-up: each level capped at the best-off group's."""
    Q = len(terms.population)
    base = _base_levels(terms)
    if scenario.objective == "maximin":
        t = b.add_cols([-1.0], -INF, INF, make=lambda j: "lowest_level")[0]
        rows = b.add_rows(np.full(Q, -INF), base, make=lambda i: f"level(group_{i + 1})")
        b.coef(rows, t, 1.0)
        levels.add(rows, np.full(Q, -1.0))
    elif scenario.objective == "level-up":
        best = float(np.nanmax(terms.level0))
        share = terms.population / terms.population.sum()
        z = b.add_cols(-share, -INF, best, make=lambda j: f"levelled(group_{j + 1})")
        rows = b.add_rows(np.full(Q, -INF), base, make=lambda i: f"level(group_{i + 1})")
        b.coef(rows, z, 1.0)
        levels.add(rows, np.full(Q, -1.0))


def _level_floors(b: _Builder, scenario: Scenario, terms, levels: _Levels) -> None:
    """Floors under the levels: every group's outcome, and the level-up measure."""
    Q = len(terms.population)
    base = _base_levels(terms)
    if scenario.worst_off_at_least is not None:
        floor_level = terms.sign * scenario.worst_off_at_least
        rows = b.add_rows(np.full(Q, -INF), base - floor_level, make=lambda i: f"worst_off(group_{i + 1})")
        levels.add(rows, np.full(Q, -1.0))
    if scenario.levelled_at_least is not None:
        share = terms.population / terms.population.sum()
        z = b.add_cols(np.zeros(Q), -INF, float(np.nanmax(terms.level0)), make=lambda j: f"capped_level(group_{j + 1})")
        rows = b.add_rows(np.full(Q, -INF), base, make=lambda i: f"capped(group_{i + 1})")
        b.coef(rows, z, 1.0)
        levels.add(rows, np.full(Q, -1.0))
        row = b.add_rows([scenario.levelled_at_least], INF, make=lambda i: "levelled_up")[0]
        b.coef(row, z, share)


def _fill_in_order(b: _Builder, scenario: Scenario, groups: Groups, pcs, seg_sets,
                   binary_groups: np.ndarray, sid: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Segments of lines whose gain the constraints would rather keep small must fill in order."""
    dep = groups.deprivation - 1
    by_piece = {}
    for mine, cols, s, k in seg_sets:
        by_piece[(s, k)] = (mine, cols)
    binaries, pairs = [], []
    for s, p in enumerate(pcs):
        for k in range(len(p.slopes) - 1):
            if (s, k) not in by_piece or p.slopes[k] <= 0:
                continue
            mine, cols = by_piece[(s, k)]
            _, next_cols = by_piece[(s, k + 1)]
            pick = binary_groups[dep[mine]]
            if not pick.any():
                continue
            length, nxt = p.lengths[k], p.lengths[k + 1]
            reach = scenario.budget_gbp / groups.unit_spend[mine[pick]]
            big = np.minimum(nxt, reach) if np.isfinite(nxt) else reach
            z = b.add_cols(np.zeros(pick.sum()), 0.0, 1.0,
                           make=lambda j, s=s, k=k, g=mine[pick]: f"full({groups.name(g[j])},"
                           f"{sid[s]},{k + 1})")
            rows = b.add_rows(np.zeros(pick.sum()), INF, make=lambda i, s=s, k=k, g=mine[pick]:
                              f"fill_first({groups.name(g[i])},{sid[s]},{k + 1})")
            b.coef(rows, cols[pick], 1.0)
            b.coef(rows, z, -length)
            rows = b.add_rows(np.full(pick.sum(), -INF), 0.0, make=lambda i, s=s, k=k, g=mine[pick]:
                              f"fill_next({groups.name(g[i])},{sid[s]},{k + 2})")
            b.coef(rows, next_cols[pick], 1.0)
            b.coef(rows, z, -big)
            binaries.append(z)
            pairs.append(np.stack([cols[pick], next_cols[pick], np.full(pick.sum(), length), z], axis=1))
    return binaries, pairs


def _ordering_rows(b: _Builder, mine, groups: Groups, gamma: float, span: float, service: str,
                   intensity_terms) -> None:
    """Intensity never falls as need rises: ordering rows between consecutive need levels.

    Levels of equal need with more than one group get a separator column ``z``:
    every member of the lower level is <= z and every member of the higher one is
    >= z + gamma * (need step), so no order is imposed among equal-need lines.
    """
    need = groups.need[mine]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(need) > 0) + 1])
    sizes = np.diff(np.append(starts, len(mine)))
    lo_start, hi_start = starts[:-1], starts[1:]
    steps = gamma * (need[hi_start] - need[lo_start])
    single = (sizes[:-1] == 1) & (sizes[1:] == 1)  # one line each side: one plain row
    for k in np.flatnonzero(~single):
        lo = np.arange(lo_start[k], lo_start[k] + sizes[k])
        hi = np.arange(hi_start[k], hi_start[k] + sizes[k + 1])
        step = steps[k]
        z = b.add_cols([0.0], 0.0, span if np.isfinite(span) else INF,
                       make=lambda j, g=mine[lo[0]]: f"level({service},{groups.name(g)})")[0]
        rows = b.add_rows(np.full(len(lo), -INF), 0.0,
                          make=lambda i, g=mine[lo]: f"below({service},{groups.name(g[i])})")
        pos, cols = intensity_terms(mine[lo])
        b.coef(rows[pos], cols, 1.0)
        b.coef(rows, z, -1.0)
        rows = b.add_rows(np.full(len(hi), step), INF,
                          make=lambda i, g=mine[hi]: f"above({service},{groups.name(g[i])})")
        pos, cols = intensity_terms(mine[hi])
        b.coef(rows[pos], cols, 1.0)
        b.coef(rows, z, -1.0)
    singles_lo, singles_hi, single_rhs = mine[lo_start[single]], mine[hi_start[single]], steps[single]
    if len(singles_lo):
        lo_g, hi_g = singles_lo, singles_hi
        rows = b.add_rows(single_rhs, INF,
                          make=lambda i: f"order({service},{groups.name(lo_g[i])},{groups.name(hi_g[i])})")
        pos, cols = intensity_terms(hi_g)
        b.coef(rows[pos], cols, 1.0)
        pos, cols = intensity_terms(lo_g)
        b.coef(rows[pos], cols, -1.0)
