"""Fair share without a pace of change, in closed form with a certificate of optimality.

Targets rise with need (``t = k_s * need``), so clamping them to the floors and
caps keeps them monotone.  With ``d = budget - sum c * clamp(t)`` left over, any
allocation is at least ``D0 + |d|`` from the targets (``D0`` the distance of
``clamp(t)``), and ``clamp(lambda * t)`` with the one ``lambda`` that spends the
budget moves every line the same way, so it reaches that bound: it is optimal
for the LP without ordering rows, and monotone, so optimal for the full LP.
The bound is checked numerically before the answer is used; otherwise (or for
a pace of change, a minimum slope or proportional mode) the LP is solved.

At national scale this turns a six-minute interior-point solve into milliseconds.
"""

from __future__ import annotations

import time

import numpy as np

from allocator.model.lp import LinearProgram
from allocator.model.solver import Solution, Status
from allocator.scenario import Scenario

CERTIFICATE_TOLERANCE = 1e-9


def _group_rows(scenario: Scenario) -> bool:
    """Does any service group (or a transfer between them) bound a total?  Groups that only name
    services (england-la's and england-lsoa's `universal` and `targeted`) add no row."""
    from allocator.model.money import group_bounds

    if not scenario.service_groups:
        return False
    return any(low > 0 or np.isfinite(high) for low, high in group_bounds(scenario).values())


def applies(scenario: Scenario) -> bool:
    from allocator.model.equity import uses_groups

    return (scenario.objective == "fair-share" and scenario.pace is None and not uses_groups(scenario)
            and not scenario.streams and not _group_rows(scenario)
            and (scenario.proportionality == "none"
                 or (scenario.proportionality == "monotone" and not np.any(scenario.min_slope > 0))))


def solve(scenario: Scenario, lp: LinearProgram) -> Solution | None:
    """The certified closed-form optimum, or None when it does not apply or fails its check."""
    if not applies(scenario):
        return None
    start = time.perf_counter()
    groups = lp.groups
    service = groups.service
    floor, cap = scenario.floor[service], scenario.cap[service]
    cost = groups.unit_spend
    unit = scenario.unit_spend
    target_line = np.divide(scenario.fair_share, unit, out=np.zeros_like(unit), where=unit > 0)
    target = np.zeros(len(service))
    a_idx, s_idx = np.nonzero(groups.line_group >= 0)
    target[groups.line_group[a_idx, s_idx]] = target_line[a_idx, s_idx]
    free_budget = scenario.budget_gbp - float(np.where(scenario.is_locked, scenario.locked, 0.0).sum())

    def spend(scale: float) -> float:
        return float(np.dot(cost, np.clip(scale * target, floor, cap)))

    at_one = spend(1.0)
    if scenario.budget_mode == "at-most" and at_one <= free_budget:
        scale = 1.0
    else:
        low, high = 0.0, 1.0
        while spend(high) < free_budget and high < 1e12:
            high *= 2.0
        for _ in range(200):
            middle = 0.5 * (low + high)
            if spend(middle) < free_budget:
                low = middle
            else:
                high = middle
        scale = high
    intensity = np.clip(scale * target, floor, cap)
    # put the last rounding error on lines strictly between floor and cap
    inside = (intensity > floor) & (intensity < cap) & (cost > 0)
    residual = free_budget - float(np.dot(cost, intensity))
    if scenario.budget_mode == "exact" and inside.any():
        intensity[inside] += residual / cost[inside].sum()
    spent = float(np.dot(cost, intensity))
    if scenario.budget_mode == "exact" and abs(spent - free_budget) > 1e-9 * max(1.0, abs(free_budget)):
        return None  # scaling the targets cannot spend the budget (e.g. lines with no target)
    if scenario.budget_mode == "at-most" and spent > free_budget * (1 + 1e-9) + 1e-9:
        return None
    clamped = np.clip(target, floor, cap)
    distance = float(np.dot(cost, np.abs(intensity - target)))
    bound = float(np.dot(cost, np.abs(clamped - target))) + abs(float(np.dot(cost, intensity - clamped)))
    if distance > bound * (1 + CERTIFICATE_TOLERANCE) + 1e-6 or np.any(intensity < floor - 1e-9) \
            or np.any(intensity > cap + 1e-9):
        return None
    return Solution(x=np.zeros(lp.n_cols), objective=distance, status=Status.OPTIMAL,
                    solver="closed form (scaled, clamped fair shares; optimality certified)",
                    seconds=time.perf_counter() - start, above=intensity - floor)
