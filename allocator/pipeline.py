"""The whole pipeline in one call: scenario -> LP -> solution -> allocation -> gradient.

`run` is what the CLI and the Python API call; it times each step so the
benchmark and the terminal summary can say where the seconds went.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import evaluate as ev
from . import gradient as gr
from .lp import LinearProgram, build
from .scenario import Scenario, load
from .solver import Solution, solve


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
        """The result's tables by name (pandas DataFrames)."""
        g = self.gradient
        tables = {"allocation": g.allocation, "by_area": g.by_area, "by_group": g.by_group,
                  "metrics": g.metrics}
        tables.update({f"by_{c}": t for c, t in g.by_column.items()})
        return tables


def run(scenario: Scenario | str, *, objective: str | None = None, solver: str = "highs",
        method: str = "auto", time_limit: float | None = None) -> Result:
    """Load (if given a path), build, solve, evaluate, check and measure one scenario."""
    seconds = {}
    start = time.perf_counter()
    if not isinstance(scenario, Scenario):
        scenario = load(scenario)
    seconds["load"] = time.perf_counter() - start
    if objective is not None and objective != scenario.objective:
        scenario = scenario.with_(objective=objective)
    mark = time.perf_counter()
    lp = build(scenario)
    seconds["build"] = time.perf_counter() - mark
    mark = time.perf_counter()
    solution = solve(lp, solver=solver, method=method, time_limit=time_limit)
    seconds["solve"] = time.perf_counter() - mark
    seconds["solver"] = solution.seconds
    mark = time.perf_counter()
    allocation = ev.allocate(scenario, lp, solution)
    outcomes = ev.evaluate(scenario, allocation.spend)
    ev.check(scenario, allocation, outcomes)
    seconds["evaluate"] = time.perf_counter() - mark
    mark = time.perf_counter()
    gradient = gr.measure(scenario, allocation, outcomes)
    seconds["gradient"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - start
    return Result(scenario=scenario, lp=lp, solution=solution, allocation=allocation,
                  outcomes=outcomes, gradient=gradient, seconds=seconds)
