"""Money checks that need no solver: floors, locked lines, caps and pace against the budget.

A failed check means the scenario is well formed but has no allocation: it raises
`InfeasibleBudgetError` (exit code 1, like any infeasible scenario), which is also a
`ScenarioError` carrying the problems, each naming the manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from allocator.errors import InfeasibleBudgetError, Problem
from allocator.format import gbp

if TYPE_CHECKING:
    from allocator.scenario.spec import Scenario

MANIFEST = "scenario.toml"


def check_budget(scenario: Scenario) -> None:
    """Money checks that need no solver: floors, locked lines, caps and pace against the budget.

    Raises `InfeasibleBudgetError` (an `InfeasibleError` and a `ScenarioError`) listing every
    check that failed.
    """
    problems = []
    free = ~scenario.is_locked
    unit = scenario.unit_spend
    shown = str(Path(scenario.path) / MANIFEST)
    climb = _climbs(scenario, free & (unit > 0), problems, shown)
    floors = np.where(free, unit * (scenario.floor[None, :] + climb), 0.0)
    locked = np.where(free, 0.0, scenario.locked)
    need_floor, need_locked = floors.sum(), locked.sum()
    budget = scenario.budget_gbp
    sloped = bool(np.any(climb > 0))
    if need_floor + need_locked > budget * (1 + 1e-9):
        parts = f"floors {'and the minimum slope ' if sloped else ''}alone need {gbp(need_floor)}"
        if need_locked > 0:
            parts = f"floors need {gbp(need_floor)} and locked lines {gbp(need_locked)}"
        by_service = sorted(zip(floors.sum(axis=0), scenario.service_ids), reverse=True)[:3]
        biggest = ", ".join(f"{s} {gbp(v)}" for v, s in by_service)
        least = need_floor + need_locked
        problems.append(Problem(shown, f"{parts} but the budget is {gbp(budget)}: the minimum feasible "
                                f"budget is {gbp(least)}; raise the budget by {gbp(least - budget)} or "
                                f"lower the floors (largest: {biggest})"))
    with np.errstate(invalid="ignore"):
        caps = np.where(free & (unit > 0), unit * scenario.cap[None, :], 0.0)
    most = caps.sum() + need_locked
    if scenario.budget_mode == "exact" and most < budget * (1 - 1e-9):
        problems.append(Problem(shown, f"caps and locked lines allow at most {gbp(most)} but the "
                                f"budget of {gbp(budget)} must be spent exactly: lower the budget by "
                                f"{gbp(budget - most)}, raise the caps, or set [budget] mode = \"at-most\""))
    if scenario.pace is not None and scenario.baseline is not None:
        down, up = scenario.pace
        base = scenario.baseline.sum(axis=1)
        low, high = base * (1 - down), base * (1 + up)
        least = np.maximum(low, floors.sum(axis=1) + locked.sum(axis=1)).sum()
        if least > budget * (1 + 1e-9):
            allow = 1 - budget / base.sum() if base.sum() > 0 else 1.0
            problems.append(Problem(shown, f"the pace of change keeps every area within {down:.1%} of "
                                    f"its baseline, so the areas need at least {gbp(least)}, but the "
                                    f"budget is {gbp(budget)}: the minimum feasible budget is {gbp(least)}; "
                                    f"raise the budget by {gbp(least - budget)} or allow decreases of at "
                                    f"least {allow:.1%}"))
        most_paced = np.minimum(high, caps.sum(axis=1) + locked.sum(axis=1)).sum()
        if scenario.budget_mode == "exact" and high.sum() < budget * (1 - 1e-9):
            problems.append(Problem(shown, f"the pace of change lets areas grow at most {up:.1%}, "
                                    f"{gbp(high.sum())} in all, but the budget of {gbp(budget)} must be "
                                    f"spent: allow larger increases or lower the budget"))
        elif scenario.budget_mode == "exact" and most_paced < budget * (1 - 1e-9) and most >= budget * (1 - 1e-9):
            problems.append(Problem(shown, f"the pace of change (areas grow at most {up:.1%}) and the caps "
                                    f"together let the areas spend at most {gbp(most_paced)}, but the budget of "
                                    f"{gbp(budget)} must be spent: lower the budget by {gbp(budget - most_paced)}, "
                                    f"allow larger increases or raise the caps"))
        area_floor = floors.sum(axis=1) + locked.sum(axis=1)
        over = np.flatnonzero(area_floor > high * (1 + 1e-9))
        for a in over[:5]:
            problems.append(Problem(shown, f"area '{scenario.area_ids[a]}': floors{', the minimum slope' if sloped else ''} and locked lines need "
                                    f"{gbp(area_floor[a])} but the pace of change allows at most "
                                    f"{gbp(high[a])} ({up:.1%} above its baseline {gbp(base[a])})"))
        area_cap = caps.sum(axis=1) + locked.sum(axis=1)
        short = np.flatnonzero(area_cap < low * (1 - 1e-9))
        for a in short[:5]:
            problems.append(Problem(shown, f"area '{scenario.area_ids[a]}': its caps and locked lines allow at most "
                                    f"{gbp(area_cap[a])} but the pace of change needs at least {gbp(low[a])} "
                                    f"({down:.1%} below its baseline {gbp(base[a])}): raise the caps or allow "
                                    f"decreases of at least {1 - area_cap[a] / base[a]:.1%}"))
        if len(short) > 5:
            problems.append(Problem(shown, f"... and {len(short) - 5:,} more areas whose caps cannot reach the "
                                    "pace of change's lower end"))
    if problems:
        raise InfeasibleBudgetError(problems)


def _climbs(scenario: Scenario, served: np.ndarray, problems: list, shown: str) -> np.ndarray:
    """(A, S) the least each free line's intensity must climb above its floor: in monotone mode a
    minimum slope lifts every line above the lowest-need line of its service by the slope times
    the difference in need.  A climb past a service's room between floor and cap is a problem."""
    climb = np.zeros(scenario.need.shape)
    if scenario.proportionality != "monotone":
        return climb
    for s in np.flatnonzero(np.asarray(scenario.min_slope) > 0):
        lines = np.flatnonzero(served[:, s])
        if len(lines) < 2:
            continue
        need = scenario.need[lines, s]
        climb[lines, s] = scenario.min_slope[s] * (need - need.min())
        room = scenario.cap[s] - scenario.floor[s]
        top = int(np.argmax(climb[lines, s]))
        if climb[lines[top], s] > room * (1 + 1e-9) + 1e-12:
            low = lines[int(np.argmin(need))]
            problems.append(Problem(shown, f"service '{scenario.service_ids[s]}': its minimum slope "
                                    f"({scenario.min_slope[s]:g} per unit of need) lifts area "
                                    f"'{scenario.area_ids[lines[top]]}' {climb[lines[top], s]:.6g} units per head "
                                    f"above area '{scenario.area_ids[low]}', more than the {room:.6g} between "
                                    f"the floor and the cap: lower the slope to at most "
                                    f"{_down(room / (need.max() - need.min()))} or raise the cap"))
    return climb


def _down(value: float, digits: int = 6) -> str:
    """``value`` to ``digits`` significant figures, rounded down (a limit said is never passed).

    >>> _down(0.1234567), _down(6.341176470588235), _down(7.0)
    ('0.123456', '6.34117', '7')
    """
    if value <= 0 or not np.isfinite(value):
        return f"{value:.{digits}g}"
    scale = 10.0 ** (digits - 1 - int(np.floor(np.log10(value))))
    return f"{np.floor(value * scale * (1 + 1e-12)) / scale:.{digits}g}"
