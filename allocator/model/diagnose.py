"""Say why a scenario has no feasible allocation, in money and rules.

The money checks that need no solver live in `scenario.check_budget` (floors,
locked lines, caps and pace of change against the budget).  When those pass and
the solver still finds no allocation, two LPs bound the budget that the rules
allow (least and most total spend, every rule but the budget kept), and if the
rules conflict whatever the budget, re-solves with each family of rules relaxed
find which ones conflict.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from allocator.errors import InfeasibleError, SolverError
from allocator.format import gbp, plain
from allocator.model.lp import build
from allocator.model.solver import solve
from allocator.scenario import Scenario


def _feasible(scenario: Scenario) -> bool:
    try:
        solve(build(scenario))
    except InfeasibleError:
        return False
    return True


def spend_range(scenario: Scenario) -> tuple[float, float] | None:
    """(least, most) total spend that meets every rule but the budget; None if none does.

    The most is ``inf`` when some line has no cap.
    """
    lp = build(scenario)
    budget_row = lp.matrix.getrow(0).toarray().ravel()
    scale = 1.0 / lp.budget_scale  # GBP per unit of the budget row
    fixed = scenario.budget_gbp - lp.row_upper[0] * scale
    ends = []
    for sign in (1.0, -1.0):
        free = dataclasses.replace(lp, cost=sign * budget_row, maximize=False, objective_scale=1.0,
                                   row_lower=np.concatenate([[-np.inf], lp.row_lower[1:]]),
                                   row_upper=np.concatenate([[np.inf], lp.row_upper[1:]]))
        try:
            solution = solve(free)
        except InfeasibleError:
            return None
        except SolverError:
            if sign < 0:  # unbounded: no cap
                ends.append(np.inf)
                continue
            raise
        ends.append(fixed + float(budget_row @ solution.x) * scale)
    return ends[0], ends[1]


def _floor_fix(scenario: Scenario, shortfall: float) -> str:
    """'lower the X floor from a to b units per head' for the service whose floor costs most."""
    free = ~scenario.is_locked
    per_unit = np.where(free, scenario.unit_spend, 0.0).sum(axis=0)
    cost = per_unit * scenario.floor
    s = int(np.argmax(cost))
    if per_unit[s] <= 0:
        return ""
    lower = scenario.floor[s] - shortfall / per_unit[s]
    if lower < 0:
        return ""
    floor = scenario.floor.copy()
    floor[s] = lower
    if not _feasible(dataclasses.replace(scenario, floor=floor)):
        return ""
    return (f", or lower the {scenario.service_ids[s]} floor from {plain(scenario.floor[s], 4)} to "
            f"{plain(lower, 4)} units per head")


def explain(scenario: Scenario) -> str:
    """A sentence on which rules conflict, for a scenario the solver found infeasible."""
    budget = scenario.budget_gbp
    span = spend_range(scenario)
    if span is not None:
        least, most = span
        if least > budget * (1 + 1e-9):
            return (f"the rules need at least {gbp(least)} but the budget is {gbp(budget)}: the minimum "
                    f"feasible budget is {gbp(least)}; raise the budget by {gbp(least - budget)}"
                    + _floor_fix(scenario, least - budget))
        if scenario.budget_mode == "exact" and most < budget * (1 - 1e-9):
            return (f"the caps and rules allow at most {gbp(most)} but the budget of {gbp(budget)} must "
                    f"be spent: lower the budget by {gbp(budget - most)}, raise the caps, or set "
                    "[budget] mode = \"at-most\"")
    trials = []
    if scenario.proportionality != "none":
        trials.append((f"the {scenario.proportionality} proportionality rule",
                       scenario.with_(proportionality="none")))
    if scenario.pace is not None:
        trials.append(("the pace-of-change limits", scenario.with_(pace=None)))
    alone = [name for name, relaxed in trials if _feasible(relaxed)]
    if alone:
        rules = " or ".join(alone)
        return (f"no allocation of {gbp(budget)} meets every rule; it becomes feasible "
                f"without {rules}, which conflict{'s' if len(alone) == 1 else ''} with the floors, caps "
                "and locked lines: loosen " + ("it" if len(alone) == 1 else "one of them")
                + ", or review the locked lines")
    if len(trials) == 2 and _feasible(scenario.with_(proportionality="none", pace=None)):
        return (f"no allocation of {gbp(budget)} meets every rule: the proportionality "
                "rule and the pace-of-change limits conflict with each other (each alone is feasible)")
    return (f"no allocation of {gbp(budget)} meets the floors, caps, locked lines and "
            "budget together: check the locked lines against the floors and caps")
