"""The whole pipeline in one call: scenario -> LP -> solution -> allocation -> gradient.

`run` is what the CLI and the Python API call; it times each step so the
benchmark and the terminal summary can say where the seconds went.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from allocator.analysis import gradient as gr
from allocator.analysis.disaggregate import TABLE as POPULATION_TABLE
from allocator.errors import (
    AllocatorError,
    InfeasibleError,
    Problem,
    ScenarioError,
    SolverError,
)
from allocator.model import equity, fairshare, gradient_bound, proportional, suffix_milp
from allocator.model import evaluate as ev
from allocator.model.diagnose import explain as explain_infeasible
from allocator.model.diagnose import limit_attempt, reduction_offset
from allocator.model.lp import LinearProgram, build, check_model_settings
from allocator.model.solver import Solution, check_settings, deadline, limited, solve
from allocator.progress import stage
from allocator.scenario import Scenario, check_budget, load


@dataclass(frozen=True)
class Result:
    """A solved scenario: the allocation, its outcomes and gradient, and timings."""

    scenario: Scenario
    lp: LinearProgram
    solution: Solution
    allocation: ev.Allocation
    outcomes: ev.Outcomes
    gradient: gr.Gradient
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def tables(self):
        """The result's tables by name (pandas DataFrames).

        ``allocation`` (area x service), ``by_area``, ``by_group`` (one row per
        deprivation decile, or the scenario's quantiles: also ``result.by_decile``),
        ``metrics``, ``by_<column>`` for each of the scenario's group columns and, when
        the scenario has ``[disaggregation]``, ``spend_by_population_group`` (one row per
        dimension and group: `allocator.analysis.disaggregate`).
        """
        g = self.gradient
        tables = {"allocation": g.allocation, "by_area": g.by_area, "by_group": g.by_group,
                  "metrics": g.metrics}
        if g.allocation is None:  # measured for a sweep: the measures only
            del tables["allocation"]
        tables.update({f"by_{c}": t for c, t in g.by_column.items()})
        if g.by_population_group is not None:
            tables[POPULATION_TABLE] = g.by_population_group
        return tables

    @property
    def by_area(self):
        """One row per area: spend before and after, need, outcome before and after."""
        return self.gradient.by_area

    @property
    def by_decile(self):
        """One row per deprivation group (deciles, or the scenario's quantiles)."""
        return self.gradient.by_group

    @property
    def metrics(self):
        """SII, RII, gaps, concentration and Atkinson indices, ...: before, after, change."""
        return self.gradient.metrics


def _most_health_among_optima(scenario: Scenario, lp, solution, solver, method, time_limit, solve=solve):
    """Maximin and level-up leave money indifferent once the target is met: second stage.

    Keep the first stage's optimum (less a relative 1e-7 of solver tolerance) as a
    constraint and maximise total health gain: a lexicographic optimum, exact, and the
    end point of the equity-efficiency frontier.
    """
    first = ev.allocate(scenario, lp, solution)
    outcomes = ev.evaluate(scenario, first.spend)
    lowest, levelled = equity.levels(scenario, gr.group_outcomes(scenario, outcomes.projected))
    sign = 1.0 if scenario.gradient.higher_is_better else -1.0
    if scenario.objective == "maximin":
        target = lowest - 1e-7 * max(1.0, abs(lowest))
        second = scenario.with_(objective="health-gain", worst_off_at_least=sign * target)
    else:
        target = levelled - 1e-7 * max(1.0, abs(levelled))
        second = scenario.with_(objective="health-gain", levelled_at_least=target)
    lp2 = build(second)
    if time_limit is not None:  # one limit for both stages
        time_limit -= solution.seconds
        if time_limit <= 0:
            raise SolverError(f"the time limit was spent on the first stage of {scenario.objective} "
                              "before the second could start: raise --time-limit")
    solution2 = None
    if solver == "highs" and method == "auto":  # (proportional mode: cutting planes over the scales)
        solution2 = proportional.solve(second, lp2, limited(time_limit), first=(lp, solution, target))
    if solution2 is None:
        solution2 = solve(lp2, solver=solver, method=method, time_limit=time_limit)
    solution2 = dataclasses.replace(solution2, seconds=solution.seconds + solution2.seconds,
                                    solver=solution2.solver + f", then most health among {scenario.objective} optima")
    return lp2, solution2


def _certified(scenario: Scenario, time_limit: float | None) -> tuple | None:
    """An SII or gap reduction solved in suffix form and proven by its Lagrangian bound
    (`allocator.model.gradient_bound`), where that applies, else by the MILP over that relaxation
    (`allocator.model.suffix_milp`) where that applies; `InfeasibleError` when a reduction asked for
    is beyond the proven limit, and at national scale, where a MILP would search for hours,
    `SolverError` with the best allocation and the bound when nothing is proven.  None: the rows form."""
    if not gradient_bound.applies(scenario):
        if (scenario.sii_reduction is not None or scenario.gap_reduction is not None) \
                and gradient_bound.too_large_for_the_milp(scenario):
            raise SolverError("an SII or gap reduction here is a MILP in rows form too large to search at this "
                              f"scale ({scenario.n_areas:,} areas): it is proven in suffix form only with "
                              "proportionality monotone, no minimum slope and no pace of change")
        return None
    stage(f"Solving the gradient constraints' relaxation ({scenario.n_areas:,} areas x "
          f"{scenario.n_services} services)")
    found = gradient_bound.attempt(scenario, limited(time_limit))
    searchable = (found.first is not None and suffix_milp.applies(found.lp)
                  and not gradient_bound.too_large_for_the_milp(scenario))
    if found.solution is None and not searchable:
        found = _near_the_limit(scenario, found, time_limit)
    if found.solution is not None:
        return found.lp, found.solution
    if gradient_bound.too_large_for_the_milp(scenario):
        raise gradient_bound.unproven(found, scenario)
    if searchable:
        stage("Searching the MILP over the relaxation (binaries where it fills segments out of order)")
        return suffix_milp.solve(found.lp, found.first, limited(time_limit), found.bound)  # None: rows form
    return None


def _near_the_limit(scenario: Scenario, found, time_limit: float | None):
    """Nothing proven: `InfeasibleError` if a reduction asked for is above the limit's bound, else
    the attempt again from the order of equal-need lines that reaches the limit, if better."""
    for name in ("sii_reduction", "gap_reduction"):
        asked = getattr(scenario, name)
        if found.solution is not None or asked is None:
            continue
        tried = limit_attempt(scenario, name, time_limit)
        if tried is None or tried.bound is None:
            continue
        most = reduction_offset(scenario, name) - tried.bound  # no allocation reduces it more (weak duality)
        if asked > most + 1e-9 * max(1.0, abs(most)):
            raise InfeasibleError("the solver proved that no allocation meets every constraint "
                                  f"({name} asks for more than the most any allocation reaches)")
        if tried.solution is None:
            continue
        order = gradient_bound.order_of(tried.lp)
        again = gradient_bound.attempt(scenario, limited(time_limit), key=order)  # in the order that reaches it
        if again.solution is not None or found.incumbent is None:
            found = again
    return found


def _why(scenario: Scenario, exc: InfeasibleError, time_limit: float | None) -> InfeasibleError:
    """``exc`` with the reason in money and rules (`allocator.model.diagnose`), when it can be found."""
    if getattr(exc, "explained", False):  # it says why already
        return exc
    try:
        return InfeasibleError(explain_infeasible(scenario, time_limit=time_limit))
    except AllocatorError:  # the diagnosis is a courtesy: the solver's word stands
        return exc


def one_year(scenario: Scenario) -> None:
    """A plan of several years is solved as one (`allocator.analysis.plan.run_plan`), not here."""
    if scenario.plan is not None and scenario.plan.years > 1:
        raise ScenarioError([Problem(f"scenario '{scenario.name}'", f"this is a plan of {scenario.plan.years} "
                                     "years, solved as one: use `allocator run` (allocator.analysis.plan.run_plan); "
                                     "compare, sweep and the app solve one year (drop [plan] to use them)")])


def run(scenario: Scenario | str, *, objective: str | None = None, solver: str = "highs",
        method: str = "auto", time_limit: float | None = None, resolver=None,
        diagnose: bool = True, tables: bool = True) -> Result:
    """Load (if given a path), build, solve, evaluate, check and measure one scenario.

    Parameters
    ----------
    scenario : Scenario or path
        A loaded scenario, or the folder (or ``scenario.toml``) to load.
    objective : str, optional
        Override the scenario's objective (``health-gain``, ``fair-share``, ...).
    solver, method, time_limit
        ``highs`` (default) or ``cbc``; HiGHS's method (``auto``, ``simplex``,
        ``ipm``, ``pdlp``); seconds before giving up (a finite number > 0, else
        `allocator.errors.SettingsError`: exit code 2).  A solve that hits the limit
        raises `SolverError` (exit code 1).
    resolver : allocator.model.resolve.Resolver, optional
        Re-use the HiGHS models of earlier, similar solves (warm starts); sweeps
        pass one per worker.
    diagnose : bool
        When no allocation exists, find out why (a few more solves) and say it in the
        `InfeasibleError`: the budget the rules need, the rules that conflict, or the
        most a gradient constraint can ask for.  Default True.
    tables : bool
        False: measure the gradient only (``metrics``, ``by_area``, ``by_group``), as
        a sweep records it; no allocation table.  Default True.

    Returns
    -------
    Result
        ``result.tables`` holds the pandas DataFrames (``allocation``, ``by_area``,
        ``by_group``, ``metrics``, ...).

    Examples
    --------
    >>> import allocator
    >>> s = allocator.load("scenarios/quickstart")
    >>> result = allocator.solve(s.with_(budget_gbp=s.budget_gbp * 1.1))
    >>> sorted(result.tables)[:3]
    ['allocation', 'by_area', 'by_group']
    >>> round(float(result.allocation.spend.sum() / s.budget_gbp), 6)
    1.1
    """
    time_limit = check_settings(solver, method, time_limit)
    with deadline(time_limit):  # the limit is the whole run's: diagnosis and second stages too
        return _run(scenario, objective, solver, method, time_limit, resolver, diagnose, tables)


def _run(scenario: Scenario | str, objective: str | None, solver: str, method: str, time_limit: float | None,
         resolver, diagnose: bool, tables: bool = True) -> Result:
    solve_lp = resolver.solve if resolver is not None else solve
    seconds = {}
    start = time.perf_counter()
    if not isinstance(scenario, Scenario):
        stage(f"Loading {scenario}")
        scenario = load(scenario)
    seconds["load"] = time.perf_counter() - start
    if objective is not None and objective != scenario.objective:
        scenario = scenario.with_(objective=objective)
    one_year(scenario)
    check_model_settings(scenario)  # (a number `dataclasses.replace` let through, refused by name)
    check_budget(scenario)  # (`Scenario.with_` does not: a budget no pace of change can spend is said at once)
    mark = time.perf_counter()
    try:
        found = _certified(scenario, time_limit) if solver == "highs" and method == "auto" else None
        if found is not None:
            lp, solution = found
        else:
            stage(f"Building the LP ({scenario.n_areas:,} areas x {scenario.n_services} services)")
            lp = build(scenario)
            seconds["build"] = time.perf_counter() - mark
            mark = time.perf_counter()
            stage(f"Solving ({lp.n_rows:,} rows x {lp.n_cols:,} columns)")
            solution = None
            if solver == "highs" and method == "auto":  # the certified algorithms, where they apply
                solution = fairshare.solve(scenario, lp) or proportional.solve(scenario, lp, limited(time_limit))
            if solution is None:
                solution = solve_lp(lp, solver=solver, method=method, time_limit=time_limit)
    except InfeasibleError as exc:
        if not diagnose:
            raise
        raise _why(scenario, exc, time_limit) from None
    if scenario.objective in ("maximin", "level-up"):
        lp, solution = _most_health_among_optima(scenario, lp, solution, solver, method, time_limit,
                                                  solve=solve_lp)
    seconds["solve"] = time.perf_counter() - mark
    seconds["solver"] = solution.seconds
    mark = time.perf_counter()
    allocation = ev.allocate(scenario, lp, solution)
    outcomes = ev.evaluate(scenario, allocation.spend)
    if (scenario.sii_reduction is not None or scenario.gap_reduction is not None) and not equity.is_mirrored() \
            and equity.overshoots(scenario, gr.group_outcomes(scenario, outcomes.projected)):
        left = None if time_limit is None else max(time_limit - (time.perf_counter() - start), 1e-3)
        with equity.mirrored():  # the gradient turned round: again with each reduction's mirror row
            return _run(scenario, objective, solver, method, left, resolver, diagnose, tables)
    seconds["evaluate"] = time.perf_counter() - mark
    return _measured(scenario, lp, solution, seconds, start, tables, (allocation, outcomes))


def _measured(scenario: Scenario, lp: LinearProgram, solution: Solution, seconds: dict, start: float,
              tables: bool = True, known=None) -> Result:
    """The solved scenario's allocation (``known``: already allocated and evaluated), checked against
    every invariant, and its gradient."""
    mark = time.perf_counter()
    stage("Checking every invariant from the allocation")
    allocation, outcomes = known if known is not None else (None, None)
    if allocation is None:
        allocation = ev.allocate(scenario, lp, solution)
        outcomes = ev.evaluate(scenario, allocation.spend)
    ev.check(scenario, allocation, outcomes)
    seconds["evaluate"] = seconds.get("evaluate", 0.0) + time.perf_counter() - mark
    mark = time.perf_counter()
    stage("Measuring the gradient")
    gradient = gr.measure(scenario, allocation, outcomes, tables)
    seconds["gradient"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - start
    return Result(scenario=scenario, lp=lp, solution=solution, allocation=allocation,
                  outcomes=outcomes, gradient=gradient, seconds=seconds)
