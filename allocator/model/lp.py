"""Build the linear program of DESIGN.md from a Scenario, as sparse arrays with readable names.

The LP is built directly as arrays (CSC matrix, bounds, costs) because that is what
HiGHS takes and because an object per variable costs far more than the solve at
national scale (DESIGN.md, "Performance notes").  Every column and row still has a
stable name (``seg(E01000001,stop__smoking,2)``, ``budget``, ``order(early__years,E01000001,E01000002)``):
HiGHS writes the same arrays, names and all, as an LP file (`solver.write_lp`) and as the MPS
file CBC solves (`solver.solve(..., solver="cbc")`); `solver.to_pulp` turns them into a PuLP
problem for an analyst who wants to add to the model in PuLP.  `build` is here with the LP's types and line groups; the columns and rows it adds, step by step, are in `allocator.model.rows`.

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
* ``suffix``: with no pace of change, segment k of every line
  can itself be made monotone in need (segment k's fill is a monotone function of the
  intensity), and a monotone vector is a sum of "raise everyone from position t
  upwards" steps.  One column per (service, segment, start position) and one row per
  (service, segment): ``sum_t delta[s,k,t] <= length_k``.  The ordering constraints
  become bounds, and the LP has a couple of dozen rows at any size.  A minimum slope
  adds one row per need step, ``sum_k delta[s,k,t] >= min_slope * (n_t - n_(t-1))``
  (`rows._slope_rows`): a block-diagonal set of rows under the few dense ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from allocator.choices import SLOPE_ONLY
from allocator.errors import Problem, ScenarioError
from allocator.model import equity, money
from allocator.model.rows import (
    Columns,
    Intensity,
    add_budget_row,
    add_equity_rows,
    add_fair_share_rows,
    add_gain_columns,
    add_pace_rows,
    add_proportionality_rows,
)
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

    def area_name(self, a: int) -> str:
        """Area ``a``'s id in the model (escaped by `_safe`)."""
        return _safe(self.area_ids[a])


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
    money: object = None  # `allocator.model.money.MoneyRows`: streams and service groups, if any
    spend_sets: tuple = ((), ())  # (segment sets, suffix sets) of `rows.Columns`: spend of any lines
    feasibility_tolerance: float | None = None  # HiGHS's primal feasibility tolerance, if not its own
    slope_rows: np.ndarray | None = None  # a minimum slope's rows in suffix form (`allocator.model.slopes`)
    ordered: bool = False  # intensity never falls as need rises (monotone mode; `allocator.model.thresholds`)
    min_slope: np.ndarray | None = None  # (S,) each service's minimum slope (`allocator.model.slope_pools`)

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


def name_of(blocks: tuple[NameBlock, ...], index: int) -> str:
    """The name of one column or row (``blocks``: `LinearProgram.col_blocks` or ``row_blocks``)."""
    for block in blocks:
        if block.start <= index < block.stop:
            return block.names[index - block.start] if block.names else block.make(index - block.start)
    return f"#{index}"


def check_finite(lp: LinearProgram) -> None:
    """Refuse a model holding a number no solver should see: NaN anywhere, an infinite cost or
    coefficient, or a bound infinite on the wrong side.

    Every input is checked when a scenario is loaded or changed, so this is a gap in those
    checks; it is still the scenario's number that is wrong (exit code 2), and the message
    names the column or row, whose name holds the area and service.
    """
    found = []
    lower_ok = lambda v: ~np.isnan(v) & (v < INF)  # noqa: E731  (-inf: no lower bound)
    upper_ok = lambda v: ~np.isnan(v) & (v > -INF)  # noqa: E731  (+inf: no upper bound)
    parts = (("the objective coefficient of column", lp.cost, np.isfinite(lp.cost), lp.col_blocks),
             ("the lower bound of column", lp.col_lower, lower_ok(lp.col_lower), lp.col_blocks),
             ("the upper bound of column", lp.col_upper, upper_ok(lp.col_upper), lp.col_blocks),
             ("the lower bound of row", lp.row_lower, lower_ok(lp.row_lower), lp.row_blocks),
             ("the upper bound of row", lp.row_upper, upper_ok(lp.row_upper), lp.row_blocks))
    for what, values, ok, blocks in parts:
        bad = np.flatnonzero(~ok)
        if bad.size:
            more = f" (and {bad.size - 1} more)" if bad.size > 1 else ""
            found.append(f"{what} {name_of(blocks, int(bad[0]))} is {values[bad[0]]}{more}")
    data = lp.matrix.data
    bad = np.flatnonzero(~np.isfinite(data))
    if bad.size:
        column = int(np.searchsorted(lp.matrix.indptr, bad[0], side="right") - 1)
        row = int(lp.matrix.indices[bad[0]])
        found.append(f"the coefficient of {name_of(lp.col_blocks, column)} in row "
                     f"{name_of(lp.row_blocks, row)} is {data[bad[0]]}"
                     + (f" (and {bad.size - 1} more)" if bad.size > 1 else ""))
    if found:
        raise ScenarioError([Problem("the linear program", f"{text}: a number of the scenario behind it is "
                                     "not finite (NaN or infinite), which its checks should have refused")
                             for text in found])


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


def eligible_for_suffix(scenario: Scenario, relaxed: bool = False) -> np.ndarray:
    """(S,) services whose monotone rule can be written as bounds (see module docstring).

    ``relaxed``: an SII or gap reduction's relaxation too (`allocator.model.gradient_bound`).
    """
    # gains must only ever be wanted larger: true of every objective and of the worst-off
    # and level-up floors, not of an SII or gap reduction, whose relaxation is exact only
    # when certified
    ok = (scenario.objective != "fair-share" and scenario.proportionality == "monotone"
          and (relaxed or (scenario.pace is None and scenario.sii_reduction is None
                           and scenario.gap_reduction is None)))
    return np.full(scenario.n_services, ok)


_GROUPED: dict[bytes, Groups] = {}  # the last few groupings by a digest of their inputs (sweeps rebuild often)


def group_lines(scenario: Scenario, weight: np.ndarray | None = None, key: np.ndarray | None = None,
                merge: bool | None = None, split: np.ndarray | None = None) -> Groups:
    """Merge interchangeable free lines (module docstring); sort each service by need.

    ``weight`` is the objective weight of each line (default: the gain weight), ``key``
    an extra per-area label lines must share to be merged (the deprivation group), ``split``
    another that is not kept (the areas' stream classes).  The result depends on these
    arrays only, so a sweep point that changes the budget or a bound reuses the grouping
    of the point before (its arrays are read-only).
    """
    A = scenario.n_areas
    unit = scenario.unit_spend
    gain = scenario.gain_weight
    weight = gain if weight is None else weight
    key = np.zeros(A) if key is None else np.asarray(key, dtype=float)
    split = np.zeros(A) if split is None else np.asarray(split, dtype=float)
    free = ~scenario.is_locked & (unit > 0)
    if merge is None:
        merge = scenario.pace is None
    digest = hashlib.blake2b(digest_size=20)
    for part in (scenario.need, weight, gain, unit, free, key, split):
        part = np.ascontiguousarray(part)
        digest.update(repr((part.dtype.str, part.shape)).encode())
        digest.update(part.tobytes())
    digest.update(repr((merge, scenario.objective)).encode())
    found = _GROUPED.get(digest.digest())
    if found is not None:
        return dataclasses.replace(found, area_ids=scenario.area_ids)
    groups = _grouped(scenario, weight, gain, unit, free, key, split, merge)
    for f in dataclasses.fields(groups):
        for part in (getattr(groups, f.name) if f.name == "order" else [getattr(groups, f.name)]):
            if isinstance(part, np.ndarray):
                part.setflags(write=False)
    _GROUPED[digest.digest()] = groups
    while len(_GROUPED) > 4:
        _GROUPED.pop(next(iter(_GROUPED)))
    return groups


def _grouped(scenario: Scenario, weight, gain, unit, free, key, split, merge: bool) -> Groups:
    A, S = scenario.n_areas, scenario.n_services
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
        need, val, dep, part = scenario.need[rows, s], value[rows, s], key[rows], split[rows]
        if merge:
            keys = np.stack([need, val, dep, part], axis=1)
            uniq, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            inverse = inverse.ravel()
        else:
            idx = np.lexsort((part, dep, val, need))
            uniq = np.stack([need[idx], val[idx], dep[idx], part[idx]], axis=1)
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
        self.empty_rows: set[int] = set()
        self.slope_rows: list[np.ndarray] = []

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
        if self.empty_rows:  # rows left without entries (a free budget row: the streams are the budget)
            rows = cat(self.rows, np.int64)
            keep = ~np.isin(rows, list(self.empty_rows))
            self.rows, self.cols, self.vals = [rows[keep]], [cat(self.cols, np.int64)[keep]], [cat(self.vals, float)[keep]]
            self.empty_rows = set()
        return sp.csc_matrix((cat(self.vals, float), (cat(self.rows, np.int64), cat(self.cols, np.int64))),
                             shape=(self.n_rows, self.n_cols))


@dataclass(frozen=True)
class _Setup:
    """What every step of `build` reads: the scenario, its line groups, pieces and scalings."""

    scenario: Scenario
    groups: Groups
    pcs: list[Pieces]  # per service: its response between floor and cap
    suffix: np.ndarray  # (S,) services in the suffix formulation
    sid: list[str]  # service ids as name parts
    gainful: bool  # gains appear in the objective or in rows
    health: bool  # the objective is a weighted gain
    terms: object | None  # `equity.group_terms` when the deprivation groups are used
    scale: float  # objective scale
    gain_cost: float  # objective coefficient of one unit of weighted gain, scaled
    classes: np.ndarray  # (A,) areas' stream classes (`allocator.model.money.area_classes`)


def build(scenario: Scenario, area_rows: bool = False, relaxed: bool = False,
          tie_key: np.ndarray | None = None) -> LinearProgram:
    """The LP of DESIGN.md for ``scenario``; see the module docstring for the formulations.

    ``area_rows``: keep every line a group of its own in rows form, so that rows over an
    area's total can be added (a plan's year-on-year pace and convergence).  ``relaxed``: an
    SII or gap reduction without its fill-in-order binaries, in suffix form, lines merged, and
    ``tie_key`` (per line group) the order of equal-need groups along each service's chain:
    the relaxation `allocator.model.gradient_bound` solves and certifies.

    Raises `ScenarioError` for settings the LP cannot honour (a pace of change without a
    baseline, fair shares under a gradient constraint) and for a non-finite number.
    """
    check_model_settings(scenario)
    m = _setup(scenario, area_rows, relaxed, tie_key)
    b = _Builder()
    budget_row, budget_scale = add_budget_row(b, m)
    cols = add_gain_columns(b, m, budget_row, budget_scale)
    money_rows = money.add_money_rows(b, m, cols, budget_row, budget_scale)
    intensity = Intensity(cols.seg_cols, len(m.groups.service))
    if scenario.pace is not None and scenario.baseline is not None:
        add_pace_rows(b, m, intensity, cols.suffix_sets)
    add_proportionality_rows(b, m, intensity)
    integral, fill_pairs = [], []
    if m.terms is not None:
        integral, fill_pairs = add_equity_rows(b, m, cols)
    if not m.gainful:
        add_fair_share_rows(b, m, intensity)
    lp = _freeze(b, m, cols, intensity, integral, fill_pairs, budget_scale)
    lp = dataclasses.replace(lp, money=money_rows, spend_sets=(tuple(cols.seg_sets), tuple(cols.suffix_sets)))
    check_finite(lp)
    return lp


SLOPE_FEASIBILITY = 1e-9
EQUITY_CONSTRAINTS = ("sii_reduction", "gap_reduction", "worst_off_at_least")


def check_model_settings(scenario: Scenario) -> None:
    """Settings that would otherwise be solved as something else, refused by name."""
    problems, shown = [], f"scenario '{scenario.name}'"
    if scenario.pace is not None and scenario.baseline is None:
        problems.append(Problem(shown, "a pace of change needs a baseline to measure it against, and "
                                "this scenario has none: add a baseline table or set pace to None"))
    if scenario.proportionality != "monotone" and np.any(np.asarray(scenario.min_slope) > 0):  # (else ignored)
        problems.append(Problem(shown, f"{SLOPE_ONLY}: set min_slope to 0 or the mode to 'monotone' (not '{scenario.proportionality}')"))
    bad = _not_finite(scenario)
    if bad:
        problems.append(Problem(shown, f"{', '.join(bad)}: expected finite numbers, got NaN or infinity "
                                "(a scenario's checks should have refused them)"))
    asked = [name for name in EQUITY_CONSTRAINTS if getattr(scenario, name) is not None]
    if scenario.objective == "fair-share" and asked:
        problems.append(Problem(shown, f"the fair-share objective cannot meet {' or '.join(asked)}: fair "
                                "shares do not model health gains, so a gradient constraint cannot be "
                                "checked; use health-gain (or equity-weighted, maximin, level-up), or "
                                f"drop {' and '.join(asked)}"))
    problems += money.check(scenario)
    if problems:
        raise ScenarioError(problems)


def _not_finite(scenario: Scenario) -> list[str]:
    """The scenario's numbers behind the LP and its measures that are NaN, or infinite where
    that means nothing (a cap may be infinite: no cap; a locked amount NaN: not locked)."""
    s = scenario
    values = {"budget_gbp": s.budget_gbp, "unit_cost": s.unit_cost, "cost_index": s.cost_index,
              "population": s.population, "target_population": s.target_population, "floor": s.floor,
              "need": s.need, "modifier": s.modifier, "min_slope": s.min_slope,
              "service_share": s.service_share, "tolerance": s.tolerance, "epsilon": s.epsilon,
              "outcome": s.outcome, "deprivation": s.deprivation, "baseline": s.baseline, "pace": s.pace,
              **{name: getattr(s, name) for name in (*EQUITY_CONSTRAINTS, "levelled_at_least")}}
    bad = [name for name, v in values.items()
           if v is not None and not np.all(np.isfinite(np.asarray(v, dtype=float)))]
    if np.any(np.isnan(s.cap)):
        bad.append("cap")
    if np.any(np.isinf(s.locked)):
        bad.append("locked")
    return bad


def _setup(scenario: Scenario, area_rows: bool = False, relaxed: bool = False,
           tie_key: np.ndarray | None = None) -> _Setup:
    """Line groups (merged unless a row ties lines together), response pieces, objective scale."""
    objective = scenario.objective
    gainful = objective != "fair-share"  # gains appear in the objective or in rows
    health = objective in ("health-gain", "equity-weighted")  # the objective is a weighted gain
    weight = scenario.gain_weight
    if objective == "equity-weighted":
        weight = weight * equity.equity_weights(scenario)[:, None]
    grouped = equity.uses_groups(scenario)
    terms = equity.group_terms(scenario) if grouped else None
    constrained = (scenario.sii_reduction is not None or scenario.gap_reduction is not None) and not relaxed  # MILP
    classes = money.area_classes(scenario)
    groups = group_lines(scenario, weight, key=terms.group if grouped else None, split=classes,
                         merge=scenario.pace is None and not constrained and not area_rows)
    if tie_key is not None:  # equal-need groups in the key's order along each chain
        order = tuple(mine[np.lexsort((tie_key[mine], groups.need[mine]))] for mine in groups.order)
        groups = dataclasses.replace(groups, order=order)
    pcs = _response_pieces(scenario, gainful)
    # objective scale: keep coefficients near 1 whatever the populations
    if gainful:
        top = np.abs(groups.weight).max(initial=0) * max((np.abs(p.slopes).max() for p in pcs), default=0)
    else:
        top = np.abs(groups.unit_spend).max(initial=0)
    scale = 1.0 / top if top > 0 else 1.0
    # maximin, level-up: the levels only (a tie-break 1e-7 x gain: simplex 1.9 s not 0.8; benchmarks s. 29)
    gain_cost = scale if health else 0.0
    suffix = (eligible_for_suffix(scenario, relaxed=True) if relaxed else eligible_for_suffix(scenario)) \
        & (not area_rows)
    return _Setup(scenario=scenario, groups=groups, pcs=pcs, suffix=suffix,
                  sid=[_safe(s) for s in scenario.service_ids], gainful=gainful, health=health,
                  terms=terms, scale=scale, gain_cost=gain_cost, classes=classes)


def _response_pieces(scenario: Scenario, gainful: bool) -> list[Pieces]:
    """Each service's response as pieces from its floor to its cap (the floor and cap as bounds).

    Fair share has no gains: one piece as long as the room between floor and cap.
    """
    floor, cap = scenario.floor, scenario.cap
    return [pieces(m.units_per_head, m.gain_per_head, floor[s], cap[s]) if gainful
            else Pieces(np.array([cap[s] - floor[s]]), np.array([0.0]), 0.0)
            for s, m in enumerate(scenario.response_models)]


def _freeze(b: _Builder, m: _Setup, cols: Columns, intensity: Intensity, integral: list,
            fill_pairs: list, budget_scale: float) -> LinearProgram:
    """The finished `LinearProgram`: arrays, names, binaries, gain columns and the decoder."""
    scenario, suffix = m.scenario, m.suffix
    cost = np.concatenate(b.cost) if b.cost else np.zeros(0)
    integrality = None
    if len(integral):
        integrality = np.zeros(b.n_cols, np.int8)
        integrality[np.concatenate(integral)] = 1
    gain_mask = np.zeros(b.n_cols, bool)
    for part in cols.gain_mask_parts:
        gain_mask[part] = True
    return LinearProgram(
        maximize=m.gainful, cost=cost,
        col_lower=np.concatenate(b.lower) if b.lower else np.zeros(0),
        col_upper=np.concatenate(b.upper) if b.upper else np.zeros(0),
        matrix=b.matrix(), row_lower=np.concatenate(b.row_lower), row_upper=np.concatenate(b.row_upper),
        col_blocks=tuple(b.col_blocks), row_blocks=tuple(b.row_blocks), groups=m.groups,
        formulation={scenario.service_ids[s]: ("suffix" if suffix[s] else "rows")
                     for s in range(scenario.n_services)},
        decode=_decoder(len(m.groups.service), intensity.groups, intensity.columns, cols.suffix_info),
        gain_columns=gain_mask,
        objective_scale=m.scale if m.health or not m.gainful else 1.0, integrality=integrality,
        fill_pairs=np.concatenate(fill_pairs) if fill_pairs else None, budget_scale=budget_scale,
        # a minimum slope in suffix form: rows whose right-hand sides (slope x need step) can be
        # far below HiGHS's own tolerance of 1e-7 (measured: 1.8e-7 of the objective gained by
        # steps short by 5e-7 units per head); at 1e-9 the optimum is the rows form's to 1e-11
        feasibility_tolerance=SLOPE_FEASIBILITY if np.any(suffix & (scenario.min_slope > 0)) else None,
        slope_rows=np.concatenate(b.slope_rows) if b.slope_rows else None,
        ordered=scenario.proportionality == "monotone", min_slope=np.asarray(scenario.min_slope, dtype=float))


def _decoder(G: int, seg_groups: np.ndarray, seg_columns: np.ndarray, suffix_info: dict):
    """callable(x) -> (G,) each group's intensity above its floor."""

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

    return decode
