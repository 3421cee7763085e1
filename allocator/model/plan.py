"""A plan over several years as one linear program (not year by year).

Each year is the LP of `allocator.model.lp.build` for that year's scenario (its budget,
its streams' amounts), placed side by side; rows then tie the years together:

* pace of change per area, year on year (year 1 against the baseline): each area's total
  within ``[(1 - max_decrease), (1 + max_increase)]`` of its previous year, and at least
  ``1 + min_uplift`` times it when a minimum uplift is set;
* convergence to need-weighted targets: each area's distance from its target share
  (``|spend / budget - target share|``) at most ``r_t`` times its distance in the
  baseline, ``r_t = (1 - convergence) ** t`` (falls by at least that share a year), or a
  straight glide path to zero by ``converge_by``;
* funding streams whose unspent money carries over: a column per year carrying money to
  the next (spent = received + carried in - carried out; nothing carried out of the last
  year, so every pound is spent by then);
* the objective: each year's health gain, weighted by ``(1 + discount_rate) ** -(t + lag)``
  (a service's effect starting ``lag`` years after its spend), summed.

A year's rows over an area's total need every line as a column of its own (rows form); a
plan with no such rows keeps each year in the fast suffix form, and `solve_plan` solves its
years one by one (or, with carry-over, goes on from them by simplex).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from allocator.errors import InfeasibleError, Problem, ScenarioError, SolverError
from allocator.model.lp import LinearProgram, NameBlock, _safe, build, check_finite
from allocator.model.money import fixed_spend
from allocator.scenario import Scenario

INF = np.inf
PLAN_OBJECTIVES = ("health-gain", "equity-weighted", "fair-share")
# rows over areas' totals chain years together: HiGHS's own 1e-7 (on rows scaled to about one)
# let an area's total miss its pace by pounds once bounds are made exact; 1e-9 keeps it in pennies
FEASIBILITY = 1e-9


@dataclass(frozen=True)
class PlanLP:
    """The joint LP, each year's own LP and scenario, and where each year sits in it."""

    lp: LinearProgram
    years: tuple[Scenario, ...]
    year_lps: tuple[LinearProgram, ...]
    col_start: np.ndarray  # (T + 1,) each year's first column; the last: the end
    coupling: dict  # rule family -> row indices in the joint LP (for prices and diagnosis)
    area_rows: bool
    per_gbp: np.ndarray  # (coupling rows,) each coupling row's units per GBP, in coupling order
    carry_cols: np.ndarray = None  # (n,) columns carrying a stream's unspent money to the next year

    def year_x(self, x: np.ndarray, t: int) -> np.ndarray:
        return x[self.col_start[t]:self.col_start[t + 1]]


def year_scenarios(scenario: Scenario) -> tuple[Scenario, ...]:
    """Each year of the plan as a scenario of its own: its budget, its streams' amounts.

    The pace of change is the plan's (year on year), so each year's own is dropped, and a year
    is not itself a plan.
    """
    plan = scenario.plan
    return tuple(scenario.with_(budget_gbp=plan.budgets[t], year=t, pace=None, plan=None)
                 for t in range(plan.years))


def needs_area_rows(scenario: Scenario) -> bool:
    plan = scenario.plan
    return (scenario.pace is not None or plan.min_uplift is not None or plan.convergence is not None
            or plan.converge_by is not None)


def check(scenario: Scenario) -> None:
    """Settings a plan cannot honour, refused by name (exit code 2)."""
    shown = f"scenario '{scenario.name}'"
    problems = []
    if scenario.objective not in PLAN_OBJECTIVES:
        problems.append(Problem(shown, f"a plan over several years maximises health gain (or equity-weighted "
                                f"gain) or minimises distance from fair shares; the '{scenario.objective}' "
                                f"objective is for one year: use one of {', '.join(PLAN_OBJECTIVES)}"))
    if problems:
        raise ScenarioError(problems)


def build_plan(scenario: Scenario) -> PlanLP:
    """The joint LP of every year of ``scenario.plan`` (module docstring)."""
    check(scenario)
    area_rows = needs_area_rows(scenario)
    years = year_scenarios(scenario)
    lps = tuple(build(year, area_rows=area_rows) for year in years)
    col_start = np.concatenate([[0], np.cumsum([lp.n_cols for lp in lps])])
    row_start = np.concatenate([[0], np.cumsum([lp.n_rows for lp in lps])])
    scale = lps[0].objective_scale
    for lp in lps:
        if not np.isclose(lp.objective_scale, scale, rtol=1e-12):
            raise ScenarioError([Problem(f"scenario '{scenario.name}'", "the years' objectives are not on one "
                                         "scale (a bug in allocator; please report it)")])
    cost = np.concatenate([_discounted(scenario, t, lp) for t, lp in enumerate(lps)])
    extra = _Rows(col_start[-1])
    coupling = {}
    if area_rows:
        totals = [_area_totals(year, lp) for year, lp in zip(years, lps)]
        columns, size = _total_columns(scenario, totals, col_start, extra)
        coupling["pace"] = _pace_rows(scenario, columns, size, extra)
        coupling["convergence"] = _convergence_rows(scenario, columns, size, extra)
    for name, rows in coupling.items():
        coupling[name] = rows + row_start[-1]
    carry = _carry_columns(scenario, lps, row_start, extra)
    blocks = sp.block_diag([lp.matrix for lp in lps], format="csc")
    blocks = sp.hstack([blocks, extra.years_matrix(blocks.shape[0])], format="csc")
    matrix = sp.vstack([blocks, extra.matrix()], format="csc")
    cost = np.concatenate([cost, np.zeros(extra.n_cols - extra.first_new)])
    row_lower = np.concatenate([*(lp.row_lower for lp in lps), extra.lower_array()])
    row_upper = np.concatenate([*(lp.row_upper for lp in lps), extra.upper_array()])
    joint = dataclasses.replace(
        lps[0], cost=cost, col_lower=np.concatenate([*(lp.col_lower for lp in lps), *extra.col_lower]),
        col_upper=np.concatenate([*(lp.col_upper for lp in lps), *extra.col_upper]), matrix=matrix,
        row_lower=row_lower, row_upper=row_upper,
        col_blocks=_blocks([lp.col_blocks for lp in lps], col_start, ()) + tuple(extra.col_blocks),
        row_blocks=_blocks([lp.row_blocks for lp in lps], row_start, extra.blocks),
        integrality=_joint_integrality(lps, extra.n_cols - extra.first_new), fill_pairs=_joint_pairs(lps, col_start),
        gain_columns=np.concatenate([*(lp.gain_columns for lp in lps), np.zeros(extra.n_cols - extra.first_new, bool)]),
        money=lps[0].money, spend_sets=((), ()), slope_rows=None, feasibility_tolerance=FEASIBILITY if area_rows else None)
    check_finite(joint)
    return PlanLP(lp=joint, years=years, year_lps=lps, col_start=col_start, coupling=coupling,
                  area_rows=area_rows, carry_cols=carry, per_gbp=np.concatenate(extra.per_gbp) if extra.per_gbp else np.zeros(0))


def _discounted(scenario: Scenario, t: int, lp: LinearProgram) -> np.ndarray:
    """Year ``t``'s costs, each service's gain weighted by the discount of the year it arrives."""
    plan = scenario.plan
    if scenario.objective == "fair-share":
        return lp.cost.copy()
    cost = lp.cost.copy()
    seg_sets, suffix_sets = lp.spend_sets
    for _, cols, s, _ in (*seg_sets, *suffix_sets):
        cost[cols] *= plan.discount(t, plan.lags[s] if plan.lags else 0)
    return cost


class _Rows:
    """Coupling rows (and the columns they add) over the joint LP's columns, as COO triplets."""

    def __init__(self, n_cols: int):
        self.first_new, self.n_cols, self.n = n_cols, n_cols, 0
        self.rows, self.cols, self.vals, self.lower, self.upper, self.blocks = [], [], [], [], [], []
        self.per_gbp = []  # each row's units per GBP (for diagnosis in money)
        self.col_lower, self.col_upper, self.col_blocks = [], [], []
        self.in_years = ([], [], [])  # (year-block row, new column, value): new columns in the years' rows

    def add(self, lower, upper, names: list[str], per_gbp=1.0) -> np.ndarray:
        lower = np.asarray(lower, float)
        idx = np.arange(self.n, self.n + len(lower))
        self.per_gbp.append(np.broadcast_to(np.asarray(per_gbp, float), lower.shape).copy())
        self.lower.append(lower)
        self.upper.append(np.broadcast_to(np.asarray(upper, float), lower.shape).copy())
        self.blocks.append(NameBlock(self.n, self.n + len(lower), names=tuple(names)))
        self.n += len(lower)
        return idx

    def add_cols(self, names: list[str], lower=-INF, upper=INF) -> np.ndarray:
        idx = np.arange(self.n_cols, self.n_cols + len(names))
        self.col_lower.append(np.broadcast_to(np.asarray(lower, float), idx.shape).copy())
        self.col_upper.append(np.broadcast_to(np.asarray(upper, float), idx.shape).copy())
        self.col_blocks.append(NameBlock(int(idx[0]) if len(idx) else self.n_cols, self.n_cols + len(idx),
                                         names=tuple(names)))
        self.n_cols += len(idx)
        return idx

    def coef(self, rows, cols, vals) -> None:
        rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
        shape = np.broadcast_shapes(rows.shape, cols.shape, np.shape(vals))
        self.rows.append(np.broadcast_to(rows, shape).ravel())
        self.cols.append(np.broadcast_to(cols, shape).ravel())
        self.vals.append(np.broadcast_to(np.asarray(vals, float), shape).ravel())

    def matrix(self) -> sp.csc_matrix:
        cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
        return sp.csc_matrix((cat(self.vals, float), (cat(self.rows, np.int64), cat(self.cols, np.int64))),
                             shape=(self.n, self.n_cols))

    def years_matrix(self, n_rows: int) -> sp.csc_matrix:
        """The new columns' entries in the years' rows (``n_rows`` of them)."""
        cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
        rows, cols, vals = (cat(p, d) for p, d in zip(self.in_years, (np.int64, np.int64, float)))
        return sp.csc_matrix((vals, (rows, cols - self.first_new)), shape=(n_rows, self.n_cols - self.first_new))

    def lower_array(self) -> np.ndarray:
        return np.concatenate(self.lower) if self.lower else np.zeros(0)

    def upper_array(self) -> np.ndarray:
        return np.concatenate(self.upper) if self.upper else np.zeros(0)


@dataclass(frozen=True)
class _Totals:
    """Each area's total spend in one year: ``fixed + matrix @ x_year`` (GBP)."""

    fixed: np.ndarray  # (A,)
    matrix: sp.csr_matrix  # (A, n_cols of the year)


def _area_totals(year: Scenario, lp: LinearProgram) -> _Totals:
    groups = lp.groups
    a_of_group = np.zeros(len(groups.service), np.int64)
    a_idx, s_idx = np.nonzero(groups.line_group >= 0)
    a_of_group[groups.line_group[a_idx, s_idx]] = a_idx
    rows, cols, vals = [], [], []
    for mine, seg, _, _ in lp.spend_sets[0]:
        rows.append(a_of_group[mine])
        cols.append(seg)
        vals.append(groups.unit_spend[mine])
    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
    matrix = sp.csr_matrix((cat(vals, float), (cat(rows, np.int64), cat(cols, np.int64))),
                           shape=(year.n_areas, lp.n_cols))
    return _Totals(fixed=fixed_spend(year, groups.line_group).sum(axis=1), matrix=matrix)


def _name_parts(scenario: Scenario) -> tuple[list[str], list[str]]:
    """The areas' ids and the years' labels as parts of column and row names (`lp._safe`)."""
    return [_safe(i) for i in scenario.area_ids], [_safe(label) for label in scenario.plan.labels]


def pace_factors(scenario: Scenario) -> tuple[float, float] | None:
    """(lowest, highest) ratio of an area's total to its previous year's, or None for no limit."""
    plan = scenario.plan
    low, high = 0.0, INF
    if scenario.pace is not None:
        low, high = 1.0 - scenario.pace[0], 1.0 + scenario.pace[1]
    if plan.min_uplift is not None:
        low = max(low, 1.0 + plan.min_uplift)
    if scenario.pace is None and plan.min_uplift is None:
        return None
    return low, high


def _total_columns(scenario: Scenario, totals: list[_Totals], col_start: np.ndarray, extra: _Rows
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A column per area and year holding its total spend (in units of ``size``, about one), and the
    row defining it; rows over totals then have one or two entries each.  Returns the (T, A)
    columns and the (A,) sizes in GBP."""
    ids, labels = _name_parts(scenario)
    before = scenario.comparator_spend().sum(axis=1)
    size = np.maximum(before, 1.0)
    out = []
    for t, total in enumerate(totals):
        cols = extra.add_cols([f"total({ids[a]},{labels[t]})" for a in range(len(ids))])
        rows = extra.add(total.fixed / size, total.fixed / size,
                         [f"total_is({ids[a]},{labels[t]})" for a in range(len(ids))], 1.0 / size)
        m = total.matrix.tocoo()
        extra.coef(rows, cols, 1.0)
        extra.coef(rows[m.row], m.col + col_start[t], -m.data / size[m.row])
        out.append(cols)
    return np.array(out), size


def _pace_rows(scenario: Scenario, columns: np.ndarray, size: np.ndarray, extra: _Rows) -> np.ndarray:
    """Year 1 against the baseline, each later year against the one before."""
    factors = pace_factors(scenario)
    if factors is None:
        return np.zeros(0, np.int64)
    low, high = factors
    ids, labels = _name_parts(scenario)
    A = len(ids)
    base = scenario.baseline.sum(axis=1) if scenario.baseline is not None else None
    out = []
    if base is not None:
        rows = extra.add(low * base / size, high * base / size, [f"pace({ids[a]},{labels[0]})" for a in range(A)],
                         1.0 / size)
        extra.coef(rows, columns[0], 1.0)
        out.append(rows)
    for t in range(1, len(columns)):
        for bound, factor in (("min", low), ("max", high)):
            if not np.isfinite(factor) or (bound == "min" and factor <= 0):
                continue
            rows = extra.add(np.zeros(A) if bound == "min" else np.full(A, -INF), INF if bound == "min" else 0.0,
                             [f"pace_{bound}({ids[a]},{labels[t]})" for a in range(A)], 1.0 / size)
            extra.coef(rows, columns[t], 1.0)
            extra.coef(rows, columns[t - 1], -factor)
            out.append(rows)
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def target_shares(scenario: Scenario) -> np.ndarray:
    """(A,) each area's need-weighted target share of the budget (NHS 'target allocation')."""
    fair = scenario.fair_share.sum(axis=1)
    return fair / fair.sum() if fair.sum() > 0 else np.full(scenario.n_areas, 1.0 / scenario.n_areas)


def start_shares(scenario: Scenario) -> np.ndarray:
    """(A,) each area's share before the plan: the baseline's, or the flat comparator's."""
    before = scenario.comparator_spend().sum(axis=1)
    return before / before.sum()


def convergence_limits(scenario: Scenario) -> np.ndarray | None:
    """(T,) the most each area's distance from target may be, as a share of its starting distance."""
    plan = scenario.plan
    if plan.convergence is None and plan.converge_by is None:
        return None
    t = np.arange(plan.years)
    r = np.ones(plan.years)
    if plan.convergence is not None:
        r = (1.0 - plan.convergence) ** (t + 1)
    if plan.converge_by is not None:
        r = np.minimum(r, np.maximum(0.0, 1.0 - (t + 1) / plan.converge_by))
    return r


def _convergence_rows(scenario: Scenario, columns: np.ndarray, size: np.ndarray, extra: _Rows) -> np.ndarray:
    limits = convergence_limits(scenario)
    if limits is None:
        return np.zeros(0, np.int64)
    target, start = target_shares(scenario), start_shares(scenario)
    distance = np.abs(start - target)
    ids, labels = _name_parts(scenario)
    out = []
    for t in range(len(columns)):
        budget = scenario.plan.budgets[t]
        centre, half = target * budget, limits[t] * distance * budget
        rows = extra.add((centre - half) / size, (centre + half) / size,
                         [f"converge({ids[a]},{labels[t]})" for a in range(len(ids))], 1.0 / size)
        extra.coef(rows, columns[t], 1.0)
        out.append(rows)
    return np.concatenate(out)


def _carry_columns(scenario: Scenario, lps, row_start: np.ndarray, extra: _Rows) -> np.ndarray:
    """Streams that carry over: a column per stream and year, ``c[f, t] >= 0``, the money carried
    from year t to t + 1, so that year t's stream row reads spent = amount + carried in - carried
    out.  Nothing is carried out of the last year, so all of it is spent by then (or at most, when
    the budget may be underspent).  With every column at zero the years are their own: the
    years solved one by one are a starting basis for the whole plan (`solve_plan`)."""
    out = []
    T = len(lps)
    unit = lps[0].budget_scale  # the columns' GBP scale
    for f, stream in enumerate(scenario.streams):
        if not stream.carry_over or T < 2:
            continue
        cols = extra.add_cols([f"carry({_safe(stream.id)},{_name_parts(scenario)[1][t]})" for t in range(T - 1)], 0.0, INF)
        for t in range(T - 1):
            out_row = row_start[t] + lps[t].money.stream_rows[f]
            in_row = row_start[t + 1] + lps[t + 1].money.stream_rows[f]
            extra.in_years[0].append(np.array([out_row, in_row]))
            extra.in_years[1].append(np.array([cols[t], cols[t]]))
            extra.in_years[2].append(np.array([lps[t].budget_scale / unit, -lps[t + 1].budget_scale / unit]))
        out.append(cols)
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _blocks(per_year, starts: np.ndarray, coupling: list) -> tuple[NameBlock, ...]:
    out = []
    for t, blocks in enumerate(per_year):
        for block in blocks:
            make = (lambda j, block=block, t=t: f"y{t + 1}.{block.names[j] if block.names else block.make(j)}")
            out.append(NameBlock(block.start + starts[t], block.stop + starts[t], make=make))
    end = starts[len(per_year)]
    out += [NameBlock(b.start + end, b.stop + end, names=b.names) for b in coupling]
    return tuple(out)


def _joint_integrality(lps, extra: int = 0) -> np.ndarray | None:
    if all(lp.integrality is None for lp in lps):
        return None
    return np.concatenate([lp.integrality if lp.integrality is not None else np.zeros(lp.n_cols, np.int8)
                           for lp in lps] + [np.zeros(extra, np.int8)])


def _joint_pairs(lps, col_start: np.ndarray) -> np.ndarray | None:
    parts = []
    for t, lp in enumerate(lps):
        if lp.fill_pairs is not None and len(lp.fill_pairs):
            pairs = lp.fill_pairs.copy()
            pairs[:, [0, 1, 3]] += col_start[t]
            parts.append(pairs)
    return np.concatenate(parts) if parts else None


def separable(built: PlanLP) -> bool:
    """True when nothing ties the years together: the plan is its years, each solved on its own."""
    return all(len(rows) == 0 for rows in built.coupling.values()) and not len(built.carry_cols)


def solve_plan(built: PlanLP, solver: str = "highs", method: str = "auto", time_limit: float | None = None):
    """The plan's optimum.

    When nothing ties the years (`separable`), each year's LP with its discounted objective, one
    after the other: exactly the joint optimum (the objective is a sum over years and the rows are
    the years' own), and at national scale seconds a year where the joint model takes minutes.
    When only carry-over ties them, the years solved one by one (nothing carried) are a feasible
    basis of the whole plan, and simplex goes on from there, unless the plan is wide enough for
    sifting (national scale: a few hundred rows over millions of columns), which solves it whole.
    Otherwise the joint LP.
    """
    import time

    from allocator.model import sifting
    from allocator.model.solver import Solution, Status, solve

    start = time.perf_counter()
    warm = (solver == "highs" and len(built.carry_cols) and all(len(r) == 0 for r in built.coupling.values())
            and all(lp.integrality is None for lp in built.year_lps)
            and not (method == "auto" and sifting.applies(built.lp)))  # a wide plan: sifting, whole
    if not separable(built) and not warm:
        return solve(built.lp, solver=solver, method=method, time_limit=time_limit)
    if warm:
        try:  # a year may need money carried into it: then the years alone have no plan
            _, _, _, bases = _years(built, solver, method, time_limit, start, keep=True)
        except InfeasibleError:
            return solve(built.lp, solver=solver, method=method, time_limit=time_limit)
        left = None if time_limit is None else time_limit - (time.perf_counter() - start)
        return _from_years(built, bases, left, start)
    xs, duals, names, _ = _years(built, solver, method, time_limit, start, keep=False)
    x = np.concatenate(xs)
    row_dual = None if any(d is None for d in duals) else np.concatenate(duals)
    value = float(np.dot(built.lp.cost, x)) / built.lp.objective_scale
    one_by_one = f", {len(xs)} years one by one (nothing ties them)" if len(xs) > 1 else ""
    return Solution(x=x, objective=-value if built.lp.maximize else value, status=Status.OPTIMAL,
                    solver=" / ".join(sorted(names)) + one_by_one, seconds=time.perf_counter() - start,
                    row_dual=row_dual)


def _years(built: PlanLP, solver: str, method: str, time_limit: float | None, start: float, keep: bool):
    """Each year solved with its discounted objective: (x, row duals, solver names, HiGHS bases)."""
    import time

    from allocator.model.solver import (
        _configure,
        _read,
        choose_method,
        new_highs,
        pass_model,
        solve,
    )

    xs, duals, names, bases = [], [], set(), []
    for t, lp in enumerate(built.year_lps):
        left = None if time_limit is None else time_limit - (time.perf_counter() - start)
        if left is not None and left <= 0:
            raise SolverError(f"the time limit of {time_limit:g} s was spent before year {t + 1} of the plan "
                              "was solved: raise --time-limit")
        year_lp = dataclasses.replace(lp, cost=built.lp.cost[built.col_start[t]:built.col_start[t + 1]])
        if keep:  # the basis is wanted: HiGHS by hand, as `solve` does
            mark = time.perf_counter()
            h = new_highs()
            chosen = _configure(h, year_lp, choose_method(year_lp) if method == "auto" else method, left)
            pass_model(h, year_lp)
            h.run()
            solution = _read(h, year_lp, f"HiGHS {h.version()} ({chosen})", mark, left)
            bases.append(h.getBasis())
        else:
            solution = solve(year_lp, solver=solver, method=method, time_limit=left)
        xs.append(solution.x)
        duals.append(solution.row_dual)
        names.add(solution.solver)
    return xs, duals, names, bases


def _from_years(built: PlanLP, bases: list, time_limit: float | None, start: float):
    """The joint LP by simplex from the years' own bases, every carry column at zero."""
    import time

    import highspy

    from allocator.model.solver import _configure, _read, new_highs, pass_model

    lp = built.lp
    basis = highspy.HighsBasis()
    lower = highspy.HighsBasisStatus.kLower
    basis.col_status = [v for b in bases for v in b.col_status] + [lower] * (lp.n_cols - int(built.col_start[-1]))
    basis.row_status = [v for b in bases for v in b.row_status]
    basis.valid = True
    h = new_highs()
    _configure(h, lp, "simplex", time_limit)
    pass_model(h, lp)
    h.setBasis(basis)
    h.run()
    solution = _read(h, lp, f"HiGHS {h.version()} (simplex from the years solved one by one)", start, time_limit)
    return dataclasses.replace(solution, seconds=time.perf_counter() - start)
