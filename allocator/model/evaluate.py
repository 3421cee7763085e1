"""Turn a solved LP into an allocation, evaluate it independently, and check every invariant.

`allocate` decodes the LP solution into spend per area x service (rounded to the
penny with the exact total kept).  `evaluate` then recomputes intensities and
gains from that spend alone with the response curves, never from LP variables,
and `check` re-checks every constraint of DESIGN.md from the allocation alone.
A violation is an `InvariantError`: a bug, reported loudly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocator.errors import InvariantError
from allocator.model import equity, money, streams
from allocator.model.lp import LinearProgram
from allocator.model.solver import Solution
from allocator.scenario import Scenario

REL = 1e-6  # relative tolerance of DESIGN.md's invariants
PENNY = 0.01


@dataclass(frozen=True)
class Allocation:
    """Spend per area x service in GBP (pennies), and the LP's own account of it."""

    spend: np.ndarray  # (A, S)
    lp_gain: float | None  # the LP's total gain over the floors (health-gain only)
    solution: Solution
    lp: LinearProgram
    by_stream: np.ndarray | None = None  # (F, A, S) GBP of each funding stream, when there are streams


@dataclass(frozen=True)
class Outcomes:
    """Gains recomputed from spend by the response curves, and the projected outcome."""

    intensity: np.ndarray  # (A, S) units per head
    gain: np.ndarray  # (A, S) outcome units summed over people
    before_spend: np.ndarray  # (A, S) baseline, or the flat comparator
    before_label: str  # "baseline" or "flat"
    before_gain: np.ndarray  # (A, S)
    change: np.ndarray  # (A,) change in the area outcome, in its units (sign: improvement > 0)
    projected: np.ndarray  # (A,) projected outcome in the outcome's own direction


def allocate(scenario: Scenario, lp: LinearProgram, solution: Solution) -> Allocation:
    """Spend per line from the LP solution, rounded to pennies keeping the budget exact."""
    groups = lp.groups
    above = solution.above if solution.above is not None else lp.decode(solution.x)
    group_intensity = scenario.floor[groups.service] + above
    unit = scenario.unit_spend
    spend = np.zeros((scenario.n_areas, scenario.n_services))
    free = groups.line_group >= 0
    spend[free] = group_intensity[groups.line_group[free]] * unit[free]
    locked = scenario.is_locked
    spend[locked] = scenario.locked[locked]
    unrounded = spend
    spend = _round_pennies(spend, free, scenario.budget_gbp, scenario.budget_mode == "exact")
    lp_gain = None
    if scenario.objective == "health-gain":
        lp_gain = solution.objective
    by_stream = None
    if scenario.streams:  # lines the streams can pay to the penny, then who pays each
        spend = streams.settle(scenario, lp, solution.x, spend, unrounded)
        by_stream = streams.split(scenario, lp, solution.x, spend)
    return Allocation(spend=spend, lp_gain=lp_gain, solution=solution, lp=lp, by_stream=by_stream)


def _round_pennies(spend: np.ndarray, free: np.ndarray, budget: float, exact: bool) -> np.ndarray:
    """Round every line to the penny; move the remainder onto free lines by largest remainder.

    Locked lines keep their amount rounded to the nearest penny, exactly.
    """
    pennies = spend * 100.0
    flat = np.flatnonzero(free.ravel())
    if exact and flat.size:
        # the solver meets the budget row to its tolerance (~1e-7 of the row's scale: pounds,
        # at billions); spread that gap over the free lines in proportion to their spend
        # (a relative change ~1e-8, far inside every rule's tolerance) so the total is exact
        gap = round(budget * 100.0) - pennies.sum()
        if abs(gap) >= 0.5:
            weight = pennies.ravel()[flat]
            total = weight.sum()
            share = weight / total if total > 0 else np.full(flat.size, 1.0 / flat.size)
            pennies.ravel()[flat] += gap * share
    rounded = np.round(pennies)
    # exact: the budget to the nearest penny; at most: never a fraction of a penny over it (a budget
    # in whole pennies as it is: budget * 100 can land an ulp either side of the whole number)
    whole = round(budget * 100.0)
    most = whole if abs(budget * 100.0 - whole) < 1e-3 else np.floor(budget * 100.0)
    target = whole if exact else min(most, rounded.sum())
    short = int(round(target - rounded.sum()))
    if short != 0 and flat.size:
        remainder = (pennies - rounded).ravel()[flat]
        key = -remainder if short > 0 else remainder
        k = min(abs(short), flat.size)
        # the k smallest keys, ties in line order: a stable sort's first k, without sorting them all
        candidates = np.flatnonzero(key <= np.partition(key, k - 1)[k - 1]) if k < flat.size else np.arange(k)
        order = candidates[np.argsort(key[candidates], kind="stable")]
        take = flat[order[:k]]
        rounded.ravel()[take] += np.sign(short)
    return np.maximum(rounded, 0.0) / 100.0


def evaluate(scenario: Scenario, spend: np.ndarray) -> Outcomes:
    """Outcomes of ``spend``, computed from the response curves, independent of the LP."""
    intensity, gain = scenario.line_gains(spend)
    before = scenario.comparator_spend()
    label = "baseline" if scenario.baseline is not None else "flat"
    _, before_gain = scenario.line_gains(before)
    change = (gain - before_gain).sum(axis=1) / scenario.population
    sign = 1.0 if scenario.gradient.higher_is_better else -1.0
    return Outcomes(intensity=intensity, gain=gain, before_spend=before, before_label=label,
                    before_gain=before_gain, change=change, projected=scenario.outcome + sign * change)


def check(scenario: Scenario, allocation: Allocation, outcomes: Outcomes) -> None:
    """Re-check every invariant of DESIGN.md from the allocation alone; raise if any fails."""
    problems = violations(scenario, allocation.spend)
    if allocation.by_stream is not None:
        problems += streams.violations(scenario, allocation.spend, allocation.by_stream)
    if allocation.lp_gain is not None:
        free = ~scenario.is_locked
        _, floor_gain = scenario.line_gains(np.where(free, scenario.unit_spend * scenario.floor[None, :], 0.0))
        evaluated = float(np.where(free, outcomes.gain - floor_gain, 0.0).sum())
        scale = max(abs(evaluated), abs(allocation.lp_gain), float(np.abs(outcomes.gain).sum()), 1e-12)
        # spend is rounded to pennies after the solve: each line may move by up to a penny
        unit = scenario.unit_spend
        steepest = np.array([max(float(m.slopes.max()), 0.0) for m in scenario.response_models])
        per_penny = np.divide(scenario.gain_weight * steepest[None, :] * PENNY, unit,
                              out=np.zeros_like(unit), where=unit > 0)
        if abs(evaluated - allocation.lp_gain) > REL * scale + float(per_penny[free].sum()):
            problems.append(f"the LP's gain {allocation.lp_gain:.9g} differs from the response "
                            f"curves' {evaluated:.9g} (relative {abs(evaluated - allocation.lp_gain) / scale:.2e})")
    if problems:
        raise InvariantError("the solution breaks invariants of DESIGN.md (a bug in allocator; "
                             "please report it with the scenario):\n- " + "\n- ".join(problems[:20]))


def violations(scenario: Scenario, spend: np.ndarray) -> list[str]:
    """Every constraint of DESIGN.md re-checked from ``spend``; [] when all hold."""
    problems: list[str] = []
    budget = scenario.budget_gbp
    total = float(spend.sum())
    if not np.all(np.isfinite(spend)) or np.any(spend < 0):
        problems.append("spend is negative or not a number on some lines")
        return problems
    if scenario.budget_mode == "exact" and abs(total - budget) > max(REL * budget, PENNY / 2 + 1e-9):  # (in pennies)
        problems.append(f"spend totals {total:.2f}, not the budget {budget:.2f}")
    if scenario.budget_mode == "at-most" and total > budget * (1 + REL):
        problems.append(f"spend totals {total:.2f}, over the budget {budget:.2f}")
    unit = scenario.unit_spend
    served = unit > 0
    free = ~scenario.is_locked & served
    intensity = np.divide(spend, unit, out=np.zeros_like(spend), where=served)
    tol = REL * np.maximum(1.0, np.maximum(scenario.floor, np.where(np.isfinite(scenario.cap), scenario.cap, 0)))[None, :] \
        + np.divide(PENNY, unit, out=np.zeros_like(unit), where=served)
    below = free & (intensity < scenario.floor[None, :] - tol)
    above = free & (intensity > scenario.cap[None, :] + tol)
    for name, mask in (("below its floor", below), ("above its cap", above)):
        for a, s in list(zip(*np.nonzero(mask)))[:5]:
            problems.append(f"{scenario.area_ids[a]} x {scenario.service_ids[s]}: intensity "
                            f"{intensity[a, s]:.9g} is {name}")
    if np.any(~served & (spend > PENNY) & ~scenario.is_locked):
        problems.append("money went to a line whose target population is zero")
    locked = scenario.is_locked
    if np.any(np.abs(spend[locked] - scenario.locked[locked]) > PENNY):
        problems.append("a locked line's spend differs from its locked amount")
    if scenario.pace is not None and scenario.baseline is not None:
        down, up = scenario.pace
        base = scenario.baseline.sum(axis=1)
        area = spend.sum(axis=1)
        slack = REL * np.maximum(base, 1.0) + PENNY * scenario.n_services
        bad = np.flatnonzero((area < base * (1 - down) - slack) | (area > base * (1 + up) + slack))
        for a in bad[:5]:
            problems.append(f"{scenario.area_ids[a]}: total {area[a]:.2f} is outside the pace of "
                            f"change [{base[a] * (1 - down):.2f}, {base[a] * (1 + up):.2f}]")
    problems += _equity_violations(scenario, spend)
    problems += money.group_violations(scenario, spend)
    for s in range(scenario.n_services):
        rows = np.flatnonzero(free[:, s])
        if rows.size < 2:
            continue
        i, n, t = intensity[rows, s], scenario.need[rows, s], tol[rows, s]
        if scenario.proportionality == "monotone":
            order = np.argsort(n, kind="stable")
            n_sorted, i_sorted, t_sorted = n[order], i[order], t[order]
            starts = np.flatnonzero(np.r_[True, n_sorted[1:] != n_sorted[:-1]])
            levels = n_sorted[starts]
            lo = np.minimum.reduceat(i_sorted, starts)
            hi = np.maximum.reduceat(i_sorted, starts)
            slack = np.maximum.reduceat(t_sorted, starts)
            need_gap = scenario.min_slope[s] * np.diff(levels)
            bad = np.flatnonzero(lo[1:] - hi[:-1] < need_gap - slack[1:] - slack[:-1])
            if bad.size:
                k = int(bad[0])
                problems.append(f"{scenario.service_ids[s]}: intensity falls as need rises "
                                f"(need {levels[k]:.6g} gets up to {hi[k]:.9g}, need {levels[k + 1]:.6g} "
                                f"as little as {lo[k + 1]:.9g}); {bad.size} such steps")
        elif scenario.proportionality == "proportional":
            tau = scenario.tolerance
            extra = i - scenario.floor[s]
            k_low = np.max((extra - t) / ((1 + tau) * n))
            k_high = np.min((extra + t) / ((1 - tau) * n))
            if k_low > k_high * (1 + REL) + REL:
                problems.append(f"{scenario.service_ids[s]}: intensity above the floor is not "
                                f"proportional to need within {tau:.0%}")
    return problems


def _equity_violations(scenario: Scenario, spend: np.ndarray) -> list[str]:
    """The gradient constraints (SII or gap reduction, worst-off floor, level-up) re-checked."""
    if not equity.uses_groups(scenario) or scenario.objective in ("level-up", "maximin") and not (
            scenario.sii_reduction or scenario.gap_reduction or scenario.worst_off_at_least is not None
            or scenario.levelled_at_least is not None):
        return []
    terms = equity.group_terms(scenario)
    outcomes = evaluate(scenario, spend)
    q = len(terms.population)
    after = np.divide(np.bincount(terms.group, weights=scenario.population * outcomes.projected, minlength=q + 1)[1:],
                      terms.population, out=np.full(q, np.nan), where=terms.population > 0)
    before = terms.outcome0
    problems = []
    tol = 1e-6 * max(1.0, float(np.nanmax(np.abs(before))))
    people = np.flatnonzero(terms.population > 0)  # a group without people has no outcome
    if scenario.sii_reduction is not None:
        sii0, sii1 = np.dot(terms.sii_coef, np.nan_to_num(before)), np.dot(terms.sii_coef, np.nan_to_num(after))
        if abs(sii1) > abs(sii0) - scenario.sii_reduction + tol:
            problems.append(f"the SII fell from {sii0:.9g} to {sii1:.9g}, less than the required "
                            f"{scenario.sii_reduction:g}")
    if scenario.gap_reduction is not None and people.size:
        most, least = people[0], people[-1]
        gap0, gap1 = before[least] - before[most], after[least] - after[most]
        if abs(gap1) > abs(gap0) - scenario.gap_reduction + tol:
            problems.append(f"the gap fell from {gap0:.9g} to {gap1:.9g}, less than the required "
                            f"{scenario.gap_reduction:g}")
    lowest, levelled = equity.levels(scenario, after)
    if scenario.worst_off_at_least is not None and lowest < terms.sign * scenario.worst_off_at_least - tol:
        problems.append(f"the worst-off group's outcome {terms.sign * lowest:.9g} misses "
                        f"{scenario.worst_off_at_least:.9g}")
    if scenario.levelled_at_least is not None and levelled < scenario.levelled_at_least - tol:
        problems.append(f"the level-up measure {levelled:.9g} misses {scenario.levelled_at_least:.9g}")
    return problems
