"""Say why a scenario has no feasible allocation, in money and rules.

The money checks that need no solver live in `scenario.check_budget` (floors,
locked lines, caps and pace of change against the budget).  When those pass and
the solver still finds no allocation, the conflict involves the proportionality
rule or the pace of change: re-solve with each family of constraints relaxed in
turn to find which ones conflict.
"""

from __future__ import annotations

from .errors import InfeasibleError
from .lp import build
from .money import gbp
from .scenario import Scenario
from .solver import solve


def _feasible(scenario: Scenario) -> bool:
    try:
        solve(build(scenario))
    except InfeasibleError:
        return False
    return True


def explain(scenario: Scenario) -> str:
    """A sentence on which rules conflict, for a scenario the solver found infeasible."""
    trials = []
    if scenario.proportionality != "none":
        trials.append((f"the {scenario.proportionality} proportionality rule",
                       scenario.with_(proportionality="none")))
    if scenario.pace is not None:
        trials.append(("the pace-of-change limits", scenario.with_(pace=None)))
    alone = [name for name, relaxed in trials if _feasible(relaxed)]
    if alone:
        rules = " or ".join(alone)
        return (f"no allocation of {gbp(scenario.budget_gbp)} meets every rule; it becomes feasible "
                f"without {rules}, which conflict{'s' if len(alone) == 1 else ''} with the floors, caps "
                "and locked lines: loosen "
                + ("it" if len(alone) == 1 else "one of them") + ", or review the locked lines")
    if len(trials) == 2 and _feasible(scenario.with_(proportionality="none", pace=None)):
        return (f"no allocation of {gbp(scenario.budget_gbp)} meets every rule: the proportionality "
                "rule and the pace-of-change limits conflict with each other (each alone is feasible)")
    return (f"no allocation of {gbp(scenario.budget_gbp)} meets the floors, caps, locked lines and "
            "budget together: check the locked lines against the floors and caps")
