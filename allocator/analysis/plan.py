"""A multi-year, multi-stream plan solved as one LP, then read year by year.

`run_plan` builds the joint LP (`allocator.model.plan`), solves it, and turns each
year's columns into a year's allocation (pennies, exact per year and per stream), its
outcomes (with each service's lag: year t's outcome comes from the spend of year
t - lag, or last year's spend before the plan has reached it) and its gradient.  Every
rule is then re-checked from the allocation alone (`violations`), and the health the
LP reports is re-computed from the response curves.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.analysis import gradient as gr
from allocator.analysis.explain import STEPS, waterfall_between
from allocator.errors import InfeasibleError, InvariantError
from allocator.model import evaluate as ev
from allocator.model import plan as pm
from allocator.model import streams as st
from allocator.model.solver import Solution, check_settings, deadline
from allocator.progress import stage, stages
from allocator.scenario import Scenario, load

REL = ev.REL


@dataclass(frozen=True)
class Year:
    """One year of a solved plan."""

    label: str
    scenario: Scenario  # the year's scenario, its budget what was spent
    allocation: ev.Allocation
    outcomes: ev.Outcomes
    gradient: gr.Gradient


@dataclass(frozen=True)
class PlanResult:
    """A solved plan: each year, the streams' prices, the tables, timings."""

    scenario: Scenario
    plan_lp: pm.PlanLP
    solution: Solution
    years: tuple[Year, ...]
    prices: pd.DataFrame  # one row per year x stream (or year, without streams): value of 1 GBP more
    seconds: dict[str, float] = field(default_factory=dict)

    @functools.cached_property
    def tables(self) -> dict[str, pd.DataFrame]:
        """``plan_years``, ``plan_by_area``, ``plan_allocation``, ``plan_streams``,
        ``plan_partners``, ``plan_groups`` (the last three when the scenario has them)."""
        from allocator.analysis import plan_tables

        return plan_tables.tables(self)

    @property
    def health(self) -> float:
        """The plan's discounted health gain over the floors (the LP's objective, checked)."""
        return float(self.solution.objective)


def run_plan(scenario: Scenario | str, *, solver: str = "highs", method: str = "auto",
             time_limit: float | None = None, diagnose: bool = True) -> PlanResult:
    """Build, solve, read and check a plan over several years (and streams) as one LP.

    A scenario without ``[plan]`` is solved as a plan of one year.  Raises
    `InfeasibleError` naming the year, stream or rule that runs short when there is no plan.
    """
    time_limit = check_settings(solver, method, time_limit)
    with deadline(time_limit):  # the limit is the whole plan's: its diagnosis too
        return _run_plan(scenario, solver, method, time_limit, diagnose)


def _run_plan(scenario: Scenario | str, solver: str, method: str, time_limit: float | None,
              diagnose: bool) -> PlanResult:
    seconds, start = {}, time.perf_counter()
    if not isinstance(scenario, Scenario):
        scenario = load(scenario)
    if scenario.plan is None:
        from allocator.scenario.budget import Plan

        scenario = scenario.with_(plan=Plan(years=1, budgets=(scenario.budget_gbp,), labels=("Year 1",),
                                            lags=(0,) * scenario.n_services))
    mark = time.perf_counter()
    stage(f"Building the plan's LP ({scenario.plan.years} years, {scenario.n_areas:,} areas x "
          f"{scenario.n_services} services)")
    built = pm.build_plan(scenario)
    seconds["build"] = time.perf_counter() - mark
    mark = time.perf_counter()
    stage(f"Solving the plan ({built.lp.n_rows:,} rows x {built.lp.n_cols:,} columns)")
    try:
        solution = pm.solve_plan(built, solver=solver, method=method, time_limit=time_limit)
    except InfeasibleError as exc:
        if not diagnose:
            raise
        from allocator.analysis.plan_diagnose import explain

        raise InfeasibleError(explain(scenario, built, time_limit) or str(exc)) from None
    seconds["solve"] = time.perf_counter() - mark
    mark = time.perf_counter()
    stage("Reading each year and checking every rule from the allocation")
    years = _read_years(scenario, built, solution)
    problems = violations(scenario, [y.scenario for y in years], [y.allocation for y in years])
    problems += _health_check(scenario, built, solution, years)
    if problems:
        raise InvariantError("the plan breaks invariants of DESIGN.md (a bug in allocator; please report "
                             "it with the scenario):\n- " + "\n- ".join(problems[:20]))
    seconds["evaluate"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - start
    return PlanResult(scenario=scenario, plan_lp=built, solution=solution, years=years,
                      prices=prices(scenario, built, solution), seconds=seconds)


def _read_years(scenario: Scenario, built: pm.PlanLP, solution: Solution) -> tuple[Year, ...]:
    """Each year's allocation (pennies), outcomes with lags, and gradient."""
    spends, allocations, year_scenarios = [], [], []
    for t, (year, lp) in enumerate(zip(built.years, built.year_lps)):
        x = built.year_x(solution.x, t)
        above = lp.decode(x)
        groups = lp.groups
        spend = np.zeros((year.n_areas, year.n_services))
        free = groups.line_group >= 0
        spend[free] = (year.floor[groups.service] + above)[groups.line_group[free]] * year.unit_spend[free]
        locked = year.is_locked
        spend[locked] = year.locked[locked]
        total = round(float(spend.sum()), 2)
        if year.streams:  # the streams are the budget: fixed amounts, and what the others spent
            spent = _stream_spent(built, solution.x, t)
            total = round(sum(float(f.amounts[t]) if not f.carry_over and year.budget_mode == "exact"
                              else round(float(spent[k]), 2) for k, f in enumerate(year.streams)), 2)
        year = year.with_(budget_gbp=total) if abs(total - year.budget_gbp) > 0.005 else year
        sol = dataclasses.replace(solution, x=x, above=above, row_dual=None, col_dual=None)
        allocation = ev.allocate(year.with_(streams=()) if year.streams else year, lp, sol)
        if year.streams:  # lines the streams can pay to the penny (`streams.settle`), then who pays each
            lines = st.settle(year, lp, x, allocation.spend, spend, totals=spent)
            allocation = dataclasses.replace(allocation, spend=lines,
                                             by_stream=st.split(year, lp, x, lines, totals=spent))
        spends.append(allocation.spend)
        allocations.append(allocation)
        year_scenarios.append(year)
    out = []
    for t, (year, allocation) in enumerate(zip(year_scenarios, allocations)):
        outcomes = ev.evaluate(year, effective_spend(scenario, spends, t))
        out.append(Year(label=scenario.plan.labels[t], scenario=year, allocation=allocation,
                        outcomes=outcomes, gradient=gr.measure(year, allocation, outcomes)))
    return tuple(out)


def _stream_spent(built: pm.PlanLP, x: np.ndarray, t: int) -> np.ndarray:
    """(F,) GBP each stream spent in year ``t`` (the LP's columns), in whole pennies.

    A carry-over stream's running total is what is rounded, not each year's spend: pennies
    rounded away year by year would leave it short of (or over) what it has received.
    """
    streams = built.years[t].streams
    F = len(streams)
    spent = np.zeros((t + 1, F))
    for tau in range(t + 1):
        lp = built.year_lps[tau]
        cols = lp.money.stream_cols
        xs = built.year_x(x, tau)
        spent[tau] = np.bincount(cols[:, 1], weights=xs[cols[:, 0]], minlength=F) / lp.budget_scale
    running = np.round(np.cumsum(spent, axis=0) * 100)  # the same sums, in the same order, each year
    carried = running[-1] - (running[-2] if t > 0 else 0.0)
    carry = np.array([f.carry_over for f in streams], bool)
    # a stream spent exactly is its amount (the LP's row holds it only to the solver's tolerance)
    exact = ~carry & (built.years[t].budget_mode == "exact")
    amounts = np.round(np.array([f.amounts[t] for f in streams]) * 100)
    return np.where(carry, carried, np.where(exact, amounts, np.round(spent[-1] * 100))) / 100


def effective_spend(scenario: Scenario, spends: list[np.ndarray], t: int) -> np.ndarray:
    """(A, S) the spend whose effect year ``t`` sees: each service's spend ``lag`` years earlier,
    or the comparator's (last year's) before the plan's spend has had time to act."""
    lags = scenario.plan.lags or (0,) * scenario.n_services
    before = scenario.comparator_spend()
    out = np.empty_like(spends[t])
    for s, lag in enumerate(lags):
        out[:, s] = spends[t - lag][:, s] if t - lag >= 0 else before[:, s]
    return out


def violations(scenario: Scenario, years: list[Scenario], allocations: list[ev.Allocation]) -> list[str]:
    """Every rule of the plan re-checked from the allocations alone; [] when all hold."""
    problems = []
    plan = scenario.plan
    labels = plan.labels
    for t, (year, allocation) in enumerate(zip(years, allocations)):
        problems += [f"{labels[t]}: {p}" for p in ev.violations(year, allocation.spend)]
        if allocation.by_stream is not None:
            spent = allocation.by_stream.sum(axis=(1, 2))
            problems += [f"{labels[t]}: {p}" for p in st.violations(year, allocation.spend, allocation.by_stream,
                                                                     spent=spent)]
            for f, stream in enumerate(year.streams):
                if not stream.carry_over and year.budget_mode == "exact" and abs(spent[f] - stream.amounts[t]) > 0.005:
                    problems.append(f"{labels[t]}: stream {stream.id} spent {spent[f]:,.2f} of "
                                    f"{stream.amounts[t]:,.2f}")
    problems += _carry_violations(scenario, allocations)
    totals = [a.spend.sum(axis=1) for a in allocations]
    slack = lambda v: REL * np.maximum(v, 1.0) + 0.01 * scenario.n_services  # noqa: E731
    factors = pm.pace_factors(scenario)
    if factors is not None:
        low, high = factors
        previous = [scenario.baseline.sum(axis=1) if scenario.baseline is not None else None] + totals[:-1]
        for t, (now, before) in enumerate(zip(totals, previous)):
            if before is None:
                continue
            bad = np.flatnonzero((now < low * before - slack(before)) | (now > high * before + slack(before)))
            for a in bad[:3]:
                problems.append(f"{labels[t]}: {scenario.area_ids[a]} total {now[a]:,.2f} is outside the pace "
                                f"of change [{low * before[a]:,.2f}, {high * before[a]:,.2f}]")
    limits = pm.convergence_limits(scenario)
    if limits is not None:
        target, start = pm.target_shares(scenario), pm.start_shares(scenario)
        for t, now in enumerate(totals):
            budget = plan.budgets[t]
            allowed = limits[t] * np.abs(start - target) * budget + slack(target * budget)
            bad = np.flatnonzero(np.abs(now - target * budget) > allowed)
            for a in bad[:3]:
                problems.append(f"{labels[t]}: {scenario.area_ids[a]} is {abs(now[a] - target[a] * budget):,.2f} "
                                f"from its target, more than the {allowed[a]:,.2f} convergence allows")
    return problems


def _carry_violations(scenario: Scenario, allocations: list[ev.Allocation]) -> list[str]:
    problems = []
    if not scenario.streams:
        return problems
    spent = np.array([a.by_stream.sum(axis=(1, 2)) for a in allocations])  # (T, F)
    for f, stream in enumerate(scenario.streams):
        if not stream.carry_over:
            continue
        so_far, received = np.cumsum(spent[:, f]), np.cumsum(stream.amounts)
        if (so_far > received + 0.005).any():
            t = int(np.argmax(so_far > received + 0.005))
            problems.append(f"stream {stream.id} has spent {so_far[t]:,.2f} by {scenario.plan.labels[t]}, more "
                            f"than the {received[t]:,.2f} it has received")
        if scenario.budget_mode == "exact" and abs(so_far[-1] - received[-1]) > 0.005:
            problems.append(f"stream {stream.id} spent {so_far[-1]:,.2f} of {received[-1]:,.2f} over the plan")
    return problems


def discounted_gain(scenario: Scenario, years: list[Scenario], spends: list[np.ndarray]) -> float:
    """Sum over years and services of the gain over the floors, discounted to its arrival."""
    plan = scenario.plan
    total = 0.0
    for t, (year, spend) in enumerate(zip(years, spends)):
        free = ~year.is_locked
        _, gain = year.line_gains(spend)
        _, floor_gain = year.line_gains(np.where(free, year.unit_spend * year.floor[None, :], 0.0))
        above = np.where(free, gain - floor_gain, 0.0).sum(axis=0)
        total += sum(plan.discount(t, plan.lags[s] if plan.lags else 0) * above[s] for s in range(year.n_services))
    return float(total)


def _health_check(scenario: Scenario, built: pm.PlanLP, solution: Solution, years) -> list[str]:
    if scenario.objective != "health-gain":
        return []
    evaluated = discounted_gain(scenario, [y.scenario for y in years], [y.allocation.spend for y in years])
    lp_value = solution.objective
    per_penny = 0.0
    for y in years:
        unit = y.scenario.unit_spend
        steepest = np.array([max(float(m.slopes.max()), 0.0) for m in y.scenario.response_models])
        per_penny += float(np.divide(y.scenario.gain_weight * steepest[None, :] * ev.PENNY, unit,
                                     out=np.zeros_like(unit), where=unit > 0).sum())
    scale = max(abs(evaluated), abs(lp_value), 1e-12)
    if abs(evaluated - lp_value) > REL * scale + per_penny:
        return [f"the LP's discounted gain {lp_value:.9g} differs from the response curves' {evaluated:.9g}"]
    return []


def prices(scenario: Scenario, built: pm.PlanLP, solution: Solution) -> pd.DataFrame:
    """What one more GBP would buy, in discounted health (or GBP of distance for fair shares):
    of each stream in each year (a carry-over stream's pound can wait for a better year), or of
    each year's budget when there are no streams."""
    rows = []
    lp = built.lp
    if solution.row_dual is None:
        return pd.DataFrame(columns=["year", "stream_id", "stream_name", "price_per_gbp", "relative_to_best"])
    sign = -1.0 if lp.maximize else 1.0
    row_start = np.concatenate([[0], np.cumsum([y.n_rows for y in built.year_lps])])
    for t, year_lp in enumerate(built.year_lps):
        label = scenario.plan.labels[t]
        to_value = sign * year_lp.budget_scale / lp.objective_scale
        if not scenario.streams:
            rows.append((label, "", "Budget", to_value * float(solution.row_dual[row_start[t]])))
            continue
        for f, stream in enumerate(scenario.streams):
            # a carry-over stream's row holds what it receives that year: its dual is a pound
            # received then, which may be carried to a better year
            dual = float(solution.row_dual[row_start[t] + year_lp.money.stream_rows[f]])
            rows.append((label, stream.id, stream.name, to_value * dual))
    frame = pd.DataFrame(rows, columns=["year", "stream_id", "stream_name", "price_per_gbp"])
    best = frame.groupby("year", sort=False)["price_per_gbp"].transform("max")
    frame["relative_to_best"] = np.where(best > 0, frame["price_per_gbp"] / best.where(best > 0, 1.0), np.nan)
    return frame


def year_result(result: PlanResult, t: int = 0):
    """Year ``t`` of a plan as a `allocator.analysis.pipeline.Result`, for the one-year reports.

    Its scenario keeps the plan's pace of change (year 1 is measured against the baseline).
    """
    from allocator.analysis.pipeline import Result

    year = result.years[t]
    scenario = year.scenario.with_(pace=result.scenario.pace) if t == 0 else year.scenario
    if scenario.streams:  # carry-over streams hold, this year, what they spent: a year of its own
        spent = year.allocation.by_stream.sum(axis=(1, 2))
        scenario = scenario.with_(streams=tuple(
            dataclasses.replace(f, amounts=tuple(round(float(spent[k]), 2) if f.carry_over and i == t else a
                                                 for i, a in enumerate(f.amounts)))
            for k, f in enumerate(scenario.streams)))
    lp = result.plan_lp.year_lps[t]
    solution = dataclasses.replace(result.solution, x=result.plan_lp.year_x(result.solution.x, t),
                                   row_dual=None, col_dual=None, objective=float("nan"))
    allocation = dataclasses.replace(year.allocation, solution=solution, lp_gain=None)
    return Result(scenario=scenario, lp=lp, solution=solution, allocation=allocation,
                  outcomes=year.outcomes, gradient=year.gradient, seconds=result.seconds)


PLAN_STEPS = (*STEPS[:-1], "objective and the plan's other rules")


def plan_waterfall(result: PlanResult) -> pd.DataFrame:
    """Each year's waterfall: from last year's spend (year 1: the baseline) to the year's plan.

    The stages are the year's fair-share optima with floors and caps, locked lines, the
    proportionality rule and the year-on-year pace of change added in turn (the year's budget
    being what the plan spends in it); the last step is the plan's objective with the rules a
    single year does not have (streams, service groups, convergence, carry-over, minimum uplift).
    One row per year, area and step; each year's steps add up to its areas' change, to the penny.
    """
    frames = []
    for t, year in enumerate(result.years):
        before = year.outcomes.before_spend if t == 0 else result.years[t - 1].allocation.spend
        final = year.allocation.spend
        s = year.scenario.with_(budget_gbp=round(float(final.sum()), 2), streams=(), service_groups=(),
                                transfer=None)
        if t > 0:
            s = s.with_(baseline=before)
        if result.scenario.pace is not None:
            s = s.with_(pace=result.scenario.pace)
        start = "start: " + (year.outcomes.before_label if t == 0 else f"{result.years[t - 1].label} plan")
        with stages(f"The waterfall of {year.label}"):
            frame = waterfall_between(s, before, final, start, PLAN_STEPS, f"end: {year.label} plan")
        frame.insert(0, "year", year.label)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def waterfall_moves(waterfall: pd.DataFrame) -> pd.DataFrame:
    """The £ each step of a plan's waterfall moves into areas (the sum of its increases), by year:
    one row per year and step, in the order of the steps."""
    steps = waterfall[(waterfall["area_id"] != "ALL") & ~waterfall["step"].str.startswith(("start: ", "end: "))]
    moved = steps.assign(into_areas_gbp=steps["amount_pennies"].clip(lower=0) / 100.0,
                         out_of_areas_gbp=-steps["amount_pennies"].clip(upper=0) / 100.0)
    return (moved.groupby(["year", "step"], sort=False)[["into_areas_gbp", "out_of_areas_gbp"]].sum()
            .reset_index())


RULES = (("pace", "the pace of change and minimum uplift, year on year"),
         ("convergence", "convergence to need-weighted targets"),
         ("groups", "the service groups' bounds (and the transfer)"),
         ("streams", "what every funding stream may pay for (all of them at once)"),
         ("carry_over", "when carry-over streams must be spent (each year, not when best)"))


def without(scenario: Scenario, rule: str) -> Scenario | None:
    """``scenario`` with one of the plan's rule families dropped, or None when it has none."""
    plan = scenario.plan
    if rule == "pace" and (scenario.pace is not None or plan.min_uplift is not None):
        return scenario.with_(pace=None, plan=dataclasses.replace(plan, min_uplift=None))
    if rule == "convergence" and (plan.convergence is not None or plan.converge_by is not None):
        return scenario.with_(plan=dataclasses.replace(plan, convergence=None, converge_by=None))
    bounded = any(g.bounds(b) != (0.0, np.inf) for g in scenario.service_groups for b in plan.budgets)
    if rule == "groups" and (bounded or scenario.transfer is not None):
        return scenario.with_(service_groups=(), transfer=None)
    restricted = [f.id for f in scenario.streams if not f.services.all() or f.areas is not None]
    if rule.startswith("stream:") and rule[7:] in restricted:
        return scenario.with_(streams=tuple(_unrestricted(f) if f.id == rule[7:] else f for f in scenario.streams))
    if rule == "streams" and len(restricted) > 1:
        return scenario.with_(streams=tuple(_unrestricted(f) for f in scenario.streams))
    if rule == "carry_over" and any(not f.carry_over for f in scenario.streams) and scenario.plan.years > 1:
        return scenario.with_(streams=tuple(dataclasses.replace(f, carry_over=True) for f in scenario.streams))
    return None


def _unrestricted(stream):
    """``stream`` allowed to pay for every line; its areas still split the LP's stream classes, so
    that the LP is its parent's with columns added (`resolve.still_optimal` can prove it free)."""
    split = stream.areas if stream.areas is not None else stream.class_areas
    return dataclasses.replace(stream, services=np.ones_like(stream.services), areas=None, class_areas=split)


def rule_costs(result: PlanResult, time_limit: float | None = None) -> pd.DataFrame:
    """What each rule family of the plan costs: the plan's objective without it minus with it
    (discounted health, or GBP of distance from fair shares), by re-solving the whole plan (the
    re-solves side by side: `allocator.analysis.side_by_side`), unless the plan's own optimum is
    proven optimal without the rule too (`resolve.still_optimal`: a rule whose relaxation only adds
    columns, as carry-over and a stream's eligibility do, and none of them would enter)."""
    from allocator.analysis.side_by_side import in_order
    from allocator.model.resolve import still_optimal

    scenario = result.scenario
    better = 1.0 if scenario.objective != "fair-share" else -1.0
    each = [(f"stream:{f.id}", f"what '{f.name}' may pay for") for f in scenario.streams]
    relaxed = [(rule, text, other) for rule, text in (*RULES[:3], *each, *RULES[3:])
               if (other := without(scenario, rule)) is not None]

    def optimum(item: tuple) -> float | None:
        built = pm.build_plan(item[2])
        if still_optimal(result.plan_lp.lp, result.solution, built.lp):  # only columns added, none would enter
            return result.solution.objective
        try:
            return pm.solve_plan(built, time_limit=time_limit).objective
        except InfeasibleError:
            return None

    values = in_order(optimum, relaxed, lambda k, item: stage(f"The plan without {item[1]} ({k + 1}/{len(relaxed)})"))
    rows = [{"rule": rule, "text": text, "cost": better * (value - result.solution.objective)}
            for (rule, text, _), value in zip(relaxed, values) if value is not None]
    return pd.DataFrame(rows, columns=["rule", "text", "cost"])
