"""Build the linear program of DESIGN.md from a Scenario, as sparse arrays with readable names.

The LP is built directly as arrays (CSC matrix, bounds, costs) because that is what
HiGHS takes and because an object per variable costs far more than the solve at
national scale (DESIGN.md, "Performance notes").  Every column and row still has a
stable name (``seg(E01000001,stop__smoking,2)``, ``budget``,
``order(early__years,E01000001,E01000002)``):
`to_pulp` in `solver.py` turns the same arrays into a PuLP problem for CBC and for
LP-file export.

Decision variables are intensities, in units per head above the floor, one per
*line group*.  Lines (area x service) are grouped when they are interchangeable:
same service, same relative need and the same value per pound (and, for
fair-share, the same target intensity).  Such lines share an optimal intensity
(the objective is concave and symmetric in them), so they are solved as one
and split by population, exactly.  Lines are never grouped when a pace-of-change
row ties an area's services together.

Two formulations of "intensity never falls as need rises" (monotone mode):

* ``rows``: each line's gain is a sum of segment variables (``i = floor + sum seg_k``,
  ``0 <= seg_k <= length_k``, gain ``sum slope_k seg_k``: exact for a concave
  response in a maximisation), and consecutive need levels are linked by ordering
  rows ``i_b - i_a >= min_slope * (n_b - n_a)``.
* ``suffix``: with no minimum slope and no pace of change, segment k of every line
  can itself be made monotone in need (segment k's fill is a monotone function of the
  intensity), and a monotone vector is a sum of "raise everyone from position t
  upwards" steps.  One column per (service, segment, start position) and one row per
  (service, segment): ``sum_t delta[s,k,t] <= length_k``.  The ordering constraints
  become bounds, and the LP has a couple of dozen rows at any size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from allocator.model import equity
from allocator.scenario import Scenario

INF = np.inf


@dataclass(frozen=True)
class Pieces:
    """Linear pieces of a response curve between a service's floor and cap."""

    lengths: np.ndarray  # units per head; inf for an unbounded last piece
    slopes: np.ndarray  # gain per head per unit per head
    gain_at_floor: float


def pieces(units: np.ndarray, gains: np.ndarray, floor: float, cap: float) -> Pieces:
    """Pieces of a concave curve on ``[floor, cap]``, equal slopes merged.

    Examples
    --------
    >>> p = pieces(np.array([0., 1., 2.]), np.array([0., 2., 3.]), 0.5, 4.0)
    >>> p.lengths.tolist(), p.slopes.tolist(), p.gain_at_floor
    ([0.5, 1.0, 2.0], [2.0, 1.0, 0.0], 1.0)
    """
    knots = np.concatenate([units, [INF]])
    slopes = np.concatenate([np.diff(gains) / np.diff(units), [0.0]])
    lengths, out_slopes = [], []
    for k in range(len(slopes)):
        lo, hi = max(knots[k], floor), min(knots[k + 1], cap)
        if hi <= lo:
            continue
        if out_slopes and out_slopes[-1] == slopes[k]:
            lengths[-1] += hi - lo
        else:
            lengths.append(hi - lo)
            out_slopes.append(slopes[k])
    if not lengths:  # floor == cap
        lengths, out_slopes = [0.0], [0.0]
    return Pieces(np.array(lengths), np.array(out_slopes), float(np.interp(floor, units, gains)))


@dataclass(frozen=True)
class Groups:
    """Free lines merged into interchangeable groups (each group: one service)."""

    service: np.ndarray  # (G,)
    need: np.ndarray  # (G,)
    weight: np.ndarray  # (G,) objective weight: people x need x effectiveness (x equity weight)
    gain: np.ndarray  # (G,) people x need x effectiveness: the weight of g_s(i) in the outcome
    deprivation: np.ndarray  # (G,) deprivation group of the lines (0 when not needed)
    unit_spend: np.ndarray  # (G,) GBP for one unit per head across the group
    first_area: np.ndarray  # (G,) an area of the group, for names
    size: np.ndarray  # (G,) number of lines merged
    line_group: np.ndarray  # (A, S) group of each line, -1 if locked or nobody to serve
    order: tuple[np.ndarray, ...]  # per service: its groups sorted by need, then value per GBP
    area_ids: tuple[str, ...] = ()

    def label(self, g: int) -> str:
        """The group's name for people: its first area's id, '+N' when N more lines merged in."""
        n = int(self.size[g])
        return self.area_ids[self.first_area[g]] + (f"+{n - 1}" if n > 1 else "")

    def name(self, g: int) -> str:
        """The group's name in the model: the escaped id, '_moreN' when N more lines merged in.

        `_safe` writes '_' only as '__' or '_<hex>_', so '_m' never comes from an id.
        """
        n = int(self.size[g])
        return _safe(self.area_ids[self.first_area[g]]) + (f"_more{n - 1}" if n > 1 else "")


@dataclass(frozen=True)
class NameBlock:
    start: int
    stop: int
    names: tuple[str, ...] | None = None  # built on demand by `LinearProgram.col_names`
    make: object = None  # callable(local index) -> str


@dataclass(frozen=True)
class LinearProgram:
    """min/max c.x subject to row_lower <= A x <= row_upper, col_lower <= x <= col_upper."""

    maximize: bool
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_blocks: tuple[NameBlock, ...]
    row_blocks: tuple[NameBlock, ...]
    groups: Groups
    formulation: dict[str, str]  # service id -> "suffix" | "rows"
    decode: object = field(repr=False)  # callable(x) -> (G,) intensity above floor
    gain_columns: np.ndarray = field(repr=False, default=None)  # mask of gain-carrying columns
    objective_scale: float = 1.0  # cost = scale * (true objective coefficient)
    integrality: np.ndarray | None = None  # 1 for binary columns (a MILP), else None
    fill_pairs: np.ndarray | None = None  # (n, 4): segment, next segment, length, binary column
    budget_scale: float = 1.0  # budget row = budget_scale * (spend above the fixed spend)

    def out_of_order(self, x: np.ndarray, tol: float = 1e-7) -> np.ndarray:
        """Indices of fill pairs whose next segment started before the first was full in ``x``."""
        if self.fill_pairs is None or len(self.fill_pairs) == 0:
            return np.zeros(0, np.int64)
        first, after = self.fill_pairs[:, 0].astype(np.int64), self.fill_pairs[:, 1].astype(np.int64)
        length = self.fill_pairs[:, 2]
        started = x[after] > tol * np.maximum(1.0, length)
        full = x[first] >= length - tol * np.maximum(1.0, length)
        return np.flatnonzero(started & ~full)

    @property
    def n_cols(self) -> int:
        return self.matrix.shape[1]

    @property
    def n_rows(self) -> int:
        return self.matrix.shape[0]

    def col_names(self) -> list[str]:
        return _names(self.col_blocks, self.n_cols)

    def row_names(self) -> list[str]:
        return _names(self.row_blocks, self.n_rows)


def _names(blocks: tuple[NameBlock, ...], size: int) -> list[str]:
    names = [""] * size
    for block in blocks:
        for j in range(block.start, block.stop):
            names[j] = block.names[j - block.start] if block.names else block.make(j - block.start)
    return names


def _safe(text: str) -> str:
    """A name part PuLP, CBC and LP files accept, one-to-one with ``text``.

    ASCII letters, digits and '.' stay; '_' becomes '__'; any other character
    becomes '_<hex code>_' ('b-1' -> 'b_2d_1', 'E01+1' -> 'E01_2b_1').

    Examples
    --------
    >>> _safe("b-1"), _safe("b_1"), _safe("Ynys Môn")
    ('b_2d_1', 'b__1', 'Ynys_20_M_f4_n')
    """
    out = []
    for ch in text:
        if ch == "_":
            out.append("__")
        elif ch.isascii() and (ch.isalnum() or ch == "."):
            out.append(ch)
        else:
            out.append(f"_{ord(ch):x}_")
    return "".join(out)


def eligible_for_suffix(scenario: Scenario) -> np.ndarray:
    """(S,) services whose monotone rule can be written as bounds (see module docstring)."""
    # gains must only ever be wanted larger: true of every objective and of the worst-off
    # and level-up floors, not of an SII or gap reduction
    ok = (scenario.objective != "fair-share" and scenario.proportionality == "monotone"
          and scenario.pace is None and scenario.sii_reduction is None and scenario.gap_reduction is None)
    return np.array([ok and scenario.min_slope[s] == 0 for s in range(scenario.n_services)])


def group_lines(scenario: Scenario, weight: np.ndarray | None = None, key: np.ndarray | None = None,
                merge: bool | None = None) -> Groups:
    """Merge interchangeable free lines (module docstring); sort each service by need.

    ``weight`` is the objective weight of each line (default: the gain weight), ``key``
    an extra per-area label lines must share to be merged (the deprivation group).
    """
    A, S = scenario.n_areas, scenario.n_services
    unit = scenario.unit_spend
    gain = scenario.gain_weight
    weight = gain if weight is None else weight
    key = np.zeros(A) if key is None else np.asarray(key, dtype=float)
    free = ~scenario.is_locked & (unit > 0)
    if merge is None:
        merge = scenario.pace is None
    if scenario.objective != "fair-share":
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(unit > 0, weight / unit, 0.0)
    else:
        value = np.zeros((A, S))
    line_group = np.full((A, S), -1, dtype=np.int64)
    services, needs, weights, gains, deps, units, firsts, sizes, order = ([] for _ in range(9))
    area_ids = scenario.area_ids
    for s in range(S):
        rows = np.flatnonzero(free[:, s])
        need, val, dep = scenario.need[rows, s], value[rows, s], key[rows]
        if merge:
            keys = np.stack([need, val, dep], axis=1)
            uniq, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            inverse = inverse.ravel()
        else:
            idx = np.lexsort((dep, val, need))
            uniq = np.stack([need[idx], val[idx], dep[idx]], axis=1)
            inverse = np.empty(len(rows), dtype=np.int64)
            inverse[idx] = np.arange(len(rows))
            first = idx
        base = sum(len(x) for x in services)
        n_groups = len(uniq)
        line_group[rows, s] = base + inverse
        services.append(np.full(n_groups, s))
        needs.append(uniq[:, 0])
        deps.append(uniq[:, 2])
        weights.append(np.bincount(inverse, weights=weight[rows, s], minlength=n_groups))
        gains.append(np.bincount(inverse, weights=gain[rows, s], minlength=n_groups))
        units.append(np.bincount(inverse, weights=unit[rows, s], minlength=n_groups))
        firsts.append(rows[first])
        sizes.append(np.bincount(inverse, minlength=n_groups))
        order.append(base + np.arange(n_groups))  # sorted by need, then value, then group
    cat = (lambda parts, dtype=float: np.concatenate(parts).astype(dtype) if parts
           else np.zeros(0, dtype))
    return Groups(service=cat(services, np.int64), need=cat(needs), weight=cat(weights),
                  gain=cat(gains), deprivation=cat(deps, np.int64),
                  unit_spend=cat(units), first_area=cat(firsts, np.int64), size=cat(sizes, np.int64),
                  line_group=line_group, order=tuple(order), area_ids=area_ids)


class _Builder:
    """Accumulates columns and rows as COO triplets, then freezes them."""

    def __init__(self):
        self.cost, self.lower, self.upper, self.col_blocks = [], [], [], []
        self.rows, self.cols, self.vals = [], [], []
        self.row_lower, self.row_upper, self.row_blocks = [], [], []
        self.n_cols = self.n_rows = 0

    def add_cols(self, cost, lower, upper, make) -> np.ndarray:
        n = len(cost)
        self.cost.append(np.asarray(cost, float))
        self.lower.append(np.broadcast_to(np.asarray(lower, float), (n,)))
        self.upper.append(np.broadcast_to(np.asarray(upper, float), (n,)))
        self.col_blocks.append(NameBlock(self.n_cols, self.n_cols + n, make=make))
        idx = np.arange(self.n_cols, self.n_cols + n)
        self.n_cols += n
        return idx

    def add_rows(self, lower, upper, make) -> np.ndarray:
        lower = np.atleast_1d(np.asarray(lower, float))
        n = len(lower)
        self.row_lower.append(lower)
        self.row_upper.append(np.broadcast_to(np.asarray(upper, float), (n,)))
        self.row_blocks.append(NameBlock(self.n_rows, self.n_rows + n, make=make))
        idx = np.arange(self.n_rows, self.n_rows + n)
        self.n_rows += n
        return idx

    def coef(self, rows, cols, vals) -> None:
        rows, cols = np.asarray(rows), np.asarray(cols)
        self.rows.append(np.broadcast_to(rows, np.broadcast_shapes(rows.shape, cols.shape)).ravel())
        self.cols.append(np.broadcast_to(cols, np.broadcast_shapes(rows.shape, cols.shape)).ravel())
        self.vals.append(np.broadcast_to(np.asarray(vals, float), self.rows[-1].shape).ravel())

    def matrix(self) -> sp.csc_matrix:
        cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
        return sp.csc_matrix((cat(self.vals, float), (cat(self.rows, np.int64), cat(self.cols, np.int64))),
                             shape=(self.n_rows, self.n_cols))


def build(scenario: Scenario) -> LinearProgram:
    """The LP of DESIGN.md for ``scenario``; see the module docstring for the formulations."""
    objective = scenario.objective
    gainful = objective != "fair-share"  # gains appear in the objective or in rows
    health = objective in ("health-gain", "equity-weighted")  # the objective is a weighted gain
    weight = scenario.gain_weight
    if objective == "equity-weighted":
        weight = weight * equity.equity_weights(scenario)[:, None]
    grouped = equity.uses_groups(scenario)
    terms = equity.group_terms(scenario) if grouped else None
    constrained = scenario.sii_reduction is not None or scenario.gap_reduction is not None  # MILP
    groups = group_lines(scenario, weight, key=terms.group if grouped else None,
                         merge=scenario.pace is None and not constrained)
    sid = [_safe(s) for s in scenario.service_ids]
    aid = scenario.area_ids
    G = len(groups.service)
    floor, cap = scenario.floor, scenario.cap
    pcs = [pieces(m.units_per_head, m.gain_per_head, floor[s], cap[s]) if gainful
           else Pieces(np.array([cap[s] - floor[s]]), np.array([0.0]), 0.0)
           for s, m in enumerate(scenario.response_models)]
    suffix = eligible_for_suffix(scenario)
    b = _Builder()
    # the budget row in units of a power of two near the budget: well scaled, the same
    # coefficients for nearby budgets (a budget sweep changes one bound: warm starts), and
    # exactly the same LP when every amount of money is multiplied by a power of two
    budget_scale = 2.0 ** -np.round(np.log2(scenario.budget_gbp))
    # locked lines and floors are fixed spend: the LP moves only the money above them
    unit = scenario.unit_spend
    locked_spend = np.where(scenario.is_locked, scenario.locked, 0.0)
    fixed = locked_spend.sum() + float(np.dot(groups.unit_spend, floor[groups.service]))
    budget_row = b.add_rows([-INF if scenario.budget_mode == "at-most" else
                             (scenario.budget_gbp - fixed) * budget_scale],
                            (scenario.budget_gbp - fixed) * budget_scale, make=lambda i: "budget")[0]
    # objective scale: keep coefficients near 1 whatever the populations
    if gainful:
        top = np.abs(groups.weight).max(initial=0) * max((np.abs(p.slopes).max() for p in pcs), default=0)
    else:
        top = np.abs(groups.unit_spend).max(initial=0)
    scale = 1.0 / top if top > 0 else 1.0
    # maximin and level-up: the group levels are the objective, total gain only breaks ties
    gain_cost = scale if health else (scale * equity.TIE_BREAK if gainful else 0.0)

    # per group: the columns whose sum is its intensity above the floor (rows formulation)
    seg_cols: list[tuple[np.ndarray, np.ndarray]] = []  # (group index, column index) pairs
    seg_sets: list[tuple[np.ndarray, np.ndarray, int, int]] = []  # (groups, columns, service, piece)
    suffix_sets: list[tuple[np.ndarray, np.ndarray, int, int]] = []  # (groups in need order, raise columns, ...)
    gain_mask_parts = []
    suffix_info = {}  # service -> (positions of groups in need order, [(piece, first column)])
    for s in range(scenario.n_services):
        mine = groups.order[s]
        if len(mine) == 0:
            continue
        p = pcs[s]
        if suffix[s]:
            w, c = groups.weight[mine], groups.unit_spend[mine]
            w_suf = np.cumsum(w[::-1])[::-1]
            c_suf = np.cumsum(c[::-1])[::-1]
            starts = []
            for k, (length, slope) in enumerate(zip(p.lengths, p.slopes)):
                cols = b.add_cols(-scale * slope * w_suf, 0.0, length,
                                  make=lambda j, s=s, k=k, mine=mine:
                                  f"raise({sid[s]},{k + 1},from_{groups.name(mine[j])})")
                b.coef(budget_row, cols, c_suf * budget_scale)
                if np.isfinite(length):
                    row = b.add_rows([-INF], length, make=lambda i, s=s, k=k: f"chain({sid[s]},{k + 1})")
                    b.coef(row[0], cols, 1.0)
                starts.append(cols[0])
                gain_mask_parts.append(cols)
                suffix_sets.append((mine, cols, s, k))
            suffix_info[s] = (mine, starts)
            continue
        for k, (length, slope) in enumerate(zip(p.lengths, p.slopes)):
            cost = -gain_cost * slope * groups.weight[mine]
            cols = b.add_cols(cost, 0.0, length, make=lambda j, s=s, k=k, mine=mine:
                              f"seg({groups.name(mine[j])},{sid[s]},{k + 1})")
            b.coef(budget_row, cols, groups.unit_spend[mine] * budget_scale)
            seg_cols.append((mine, cols))
            seg_sets.append((mine, cols, s, k))
            if gainful:
                gain_mask_parts.append(cols)

    if seg_cols:
        g_all = np.concatenate([g for g, _ in seg_cols])
        c_all = np.concatenate([c for _, c in seg_cols])
        srt = np.argsort(g_all, kind="stable")
        g_all, c_all = g_all[srt], c_all[srt]
        bounds = np.searchsorted(g_all, np.arange(G + 1))
    else:
        g_all = c_all = np.zeros(0, np.int64)
        bounds = np.zeros(G + 1, np.int64)

    def intensity_terms(g_list: np.ndarray):
        """(row position, column) pairs of sum_k seg[g,k] for each g in g_list."""
        counts = bounds[g_list + 1] - bounds[g_list]
        pos = np.repeat(np.arange(len(g_list)), counts)
        starts = np.repeat(bounds[g_list], counts)
        offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return pos, c_all[starts + offs]

    # pace of change: each area's total within bounds of its baseline
    if scenario.pace is not None and scenario.baseline is not None:
        down, up = scenario.pace
        base = scenario.baseline.sum(axis=1)
        area_fixed = locked_spend.sum(axis=1) + np.where(groups.line_group >= 0, unit * floor[None, :], 0).sum(axis=1)
        scale_a = 1.0 / np.maximum(base, 1.0)
        rows = b.add_rows((base * (1 - down) - area_fixed) * scale_a, (base * (1 + up) - area_fixed) * scale_a,
                          make=lambda i: f"pace({_safe(aid[i])})")
        a_of_group = np.zeros(G, np.int64)
        a_idx, s_idx = np.nonzero(groups.line_group >= 0)
        a_of_group[groups.line_group[a_idx, s_idx]] = a_idx
        pos, cols = intensity_terms(np.arange(G))
        b.coef(rows[a_of_group[pos]], cols, groups.unit_spend[pos] * scale_a[a_of_group[pos]])

    # proportionality
    if scenario.proportionality == "monotone":
        for s in range(scenario.n_services):
            mine = groups.order[s]
            if suffix[s] or len(mine) < 2:
                continue
            _ordering_rows(b, mine, groups, scenario.min_slope[s], cap[s] - floor[s], sid[s],
                           intensity_terms)
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
                pos, cols = intensity_terms(mine)
                b.coef(rows[pos], cols, 1.0)
                b.coef(rows, kcol, -factor * groups.need[mine])

    integral, fill_pairs = [], []
    if grouped:
        integral, fill_pairs = _equity_rows(b, scenario, groups, pcs, terms, seg_sets, budget_scale,
                                            suffix_sets)

    # fair share: minimise the money distance from need-weighted target intensities
    if not gainful:
        target_spend = scenario.fair_share
        with np.errstate(divide="ignore", invalid="ignore"):
            target_i = np.where(unit > 0, target_spend / unit, 0.0)
        t_group = np.zeros(G)
        a_idx, s_idx = np.nonzero(groups.line_group >= 0)
        t_group[groups.line_group[a_idx, s_idx]] = target_i[a_idx, s_idx]
        over = b.add_cols(scale * groups.unit_spend, 0.0, INF, make=lambda j: f"over({groups.name(j)},{sid[groups.service[j]]})")
        under = b.add_cols(scale * groups.unit_spend, 0.0, INF, make=lambda j: f"under({groups.name(j)},{sid[groups.service[j]]})")
        rhs = t_group - floor[groups.service]
        rows = b.add_rows(rhs, rhs, make=lambda i: f"target({groups.name(i)},{sid[groups.service[i]]})")
        pos, cols = intensity_terms(np.arange(G))
        b.coef(rows[pos], cols, 1.0)
        b.coef(rows, over, -1.0)
        b.coef(rows, under, 1.0)

    cost = np.concatenate(b.cost) if b.cost else np.zeros(0)
    integrality = None
    if len(integral):
        integrality = np.zeros(b.n_cols, np.int8)
        integrality[np.concatenate(integral)] = 1
    gain_mask = np.zeros(b.n_cols, bool)
    for cols in gain_mask_parts:
        gain_mask[cols] = True
    seg_groups, seg_columns = g_all, c_all

    def decode(x: np.ndarray) -> np.ndarray:
        above = np.zeros(G)
        np.add.at(above, seg_groups, x[seg_columns])
        for s, (mine, starts) in suffix_info.items():
            n = len(mine)
            total = np.zeros(n)
            for start in starts:
                total += np.cumsum(x[start:start + n])
            above[mine] = total
        return above

    return LinearProgram(
        maximize=gainful, cost=cost,
        col_lower=np.concatenate(b.lower) if b.lower else np.zeros(0),
        col_upper=np.concatenate(b.upper) if b.upper else np.zeros(0),
        matrix=b.matrix(), row_lower=np.concatenate(b.row_lower), row_upper=np.concatenate(b.row_upper),
        col_blocks=tuple(b.col_blocks), row_blocks=tuple(b.row_blocks), groups=groups,
        formulation={scenario.service_ids[s]: ("suffix" if suffix[s] else "rows")
                     for s in range(scenario.n_services)},
        decode=decode, gain_columns=gain_mask,
        objective_scale=scale if health or not gainful else 1.0, integrality=integrality,
        fill_pairs=np.concatenate(fill_pairs) if fill_pairs else None, budget_scale=budget_scale)


def _equity_rows(b: _Builder, scenario: Scenario, groups: Groups, pcs, terms, seg_sets,
                 budget_scale: float, suffix_sets=()) -> list[np.ndarray]:
    """Group levels for maximin / level-up, gradient constraints, and in-order binaries.

    Returns the indices of binary columns and the (segment, next segment, length) triples
    they order.
    """
    Q = len(terms.population)
    dep = groups.deprivation - 1

    def level_terms(rows_of_q: np.ndarray, coef_q: np.ndarray):
        for mine, cols, s, k in seg_sets:
            slope = pcs[s].slopes[k]
            q = dep[mine]
            vals = coef_q[q] * groups.gain[mine] * slope / terms.population[q]
            keep = vals != 0
            b.coef(rows_of_q[q][keep], cols[keep], vals[keep])
        for mine, cols, s, k in suffix_sets:
            # raising positions t.. of a service adds to every group holding one of them
            slope = pcs[s].slopes[k]
            for q in np.unique(dep[mine]):
                inside = np.where(dep[mine] == q, groups.gain[mine], 0.0)
                vals = coef_q[q] * slope * np.cumsum(inside[::-1])[::-1] / terms.population[q]
                keep = vals != 0
                b.coef(np.full(int(keep.sum()), rows_of_q[q]), cols[keep], vals[keep])

    base = terms.level0 + terms.constant  # each group's level with no money above the floors
    if scenario.objective == "maximin":
        t = b.add_cols([-1.0], -INF, INF, make=lambda j: "lowest_level")[0]
        rows = b.add_rows(np.full(Q, -INF), base, make=lambda i: f"level(group_{i + 1})")
        b.coef(rows, t, 1.0)
        level_terms(rows, np.full(Q, -1.0))
    elif scenario.objective == "level-up":
        best = float(terms.level0.max())
        share = terms.population / terms.population.sum()
        z = b.add_cols(-share, -INF, best, make=lambda j: f"levelled(group_{j + 1})")
        rows = b.add_rows(np.full(Q, -INF), base, make=lambda i: f"level(group_{i + 1})")
        b.coef(rows, z, 1.0)
        level_terms(rows, np.full(Q, -1.0))
    if scenario.worst_off_at_least is not None:
        floor_level = terms.sign * scenario.worst_off_at_least
        rows = b.add_rows(np.full(Q, -INF), base - floor_level, make=lambda i: f"worst_off(group_{i + 1})")
        level_terms(rows, np.full(Q, -1.0))
    if scenario.levelled_at_least is not None:
        share = terms.population / terms.population.sum()
        z = b.add_cols(np.zeros(Q), -INF, float(terms.level0.max()), make=lambda j: f"capped_level(group_{j + 1})")
        rows = b.add_rows(np.full(Q, -INF), base, make=lambda i: f"capped(group_{i + 1})")
        b.coef(rows, z, 1.0)
        level_terms(rows, np.full(Q, -1.0))
        row = b.add_rows([scenario.levelled_at_least], INF, make=lambda i: "levelled_up")[0]
        b.coef(row, z, share)
    binary_groups = np.zeros(Q, bool)
    for name, coef, bound in equity.constraint_rows(scenario, terms):
        row = b.add_rows([-INF], bound, make=lambda i, name=name: name)[0]
        level_terms(np.full(Q, row), coef)
        binary_groups |= coef > 0
    if not binary_groups.any():
        return [], []
    # segments of lines whose gain the constraints would rather keep small must fill in order
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
                           f"{_safe(scenario.service_ids[s])},{k + 1})")
            rows = b.add_rows(np.zeros(pick.sum()), INF, make=lambda i, s=s, k=k, g=mine[pick]:
                              f"fill_first({groups.name(g[i])},{_safe(scenario.service_ids[s])},{k + 1})")
            b.coef(rows, cols[pick], 1.0)
            b.coef(rows, z, -length)
            rows = b.add_rows(np.full(pick.sum(), -INF), 0.0, make=lambda i, s=s, k=k, g=mine[pick]:
                              f"fill_next({groups.name(g[i])},{_safe(scenario.service_ids[s])},{k + 2})")
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
