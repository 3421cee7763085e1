"""Say why a scenario has no feasible allocation, in money and rules.

The money checks that need no solver live in `scenario.check_budget` (floors,
locked lines, caps and pace of change against the budget).  When those pass and
the solver still finds no allocation:

* gradient constraints (``sii_reduction``, ``gap_reduction``, ``worst_off_at_least``)
  are dropped first; if the rest is feasible, the constraints are the conflict, and the
  most each can ask for is found by one more solve (the largest SII or gap reduction,
  the highest worst-off level: the maximin optimum) with the budget and every other
  rule kept;
* otherwise two LPs bound the budget that the rules allow (least and most total
  spend, every rule but the budget kept), and if the rules conflict whatever the
  budget, re-solves with each family of rules relaxed find which ones conflict.

Only rules the scenario has are ever named.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from allocator.errors import AllocatorError, InfeasibleError, SolverError
from allocator.format import gbp, plain
from allocator.model import equity, gradient_bound, suffix_milp
from allocator.model.lp import EQUITY_CONSTRAINTS, LinearProgram, build, name_of
from allocator.model.solver import solve
from allocator.scenario import Scenario


def _feasible(scenario: Scenario, time_limit: float | None = None) -> bool:
    try:
        solve(build(scenario), time_limit=time_limit)
    except InfeasibleError:
        return False
    return True


def spend_range(scenario: Scenario, time_limit: float | None = None) -> tuple[float, float] | None:
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
            solution = solve(free, time_limit=time_limit)
        except InfeasibleError:
            return None
        except SolverError:
            if sign < 0:  # unbounded: no cap
                ends.append(np.inf)
                continue
            raise
        ends.append(fixed + float(budget_row @ solution.x) * scale)
    return ends[0], ends[1]


def _floor_fix(scenario: Scenario, shortfall: float, time_limit: float | None) -> str:
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
    if not _feasible(dataclasses.replace(scenario, floor=floor), time_limit):
        return ""
    return (f", or lower the {scenario.service_ids[s]} floor from {plain(scenario.floor[s], 4)} to "
            f"{plain(lower, 4)} units per head")


def _fixed_rules(scenario: Scenario) -> list[str]:
    """The rules on single lines the scenario has: floors, caps, locked lines."""
    free = ~scenario.is_locked
    rules = []
    if np.any(scenario.floor > 0):
        rules.append("floors")
    if np.any(np.isfinite(scenario.cap)):
        rules.append("caps")
    if not free.all():
        rules.append("locked lines")
    return rules


def _listed(names: list[str]) -> str:
    """'the a, b and c' (or 'the a')."""
    if not names:
        return ""
    return "the " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


def explain(scenario: Scenario, time_limit: float | None = None) -> str:
    """A sentence on which rules conflict, for a scenario the solver found infeasible.

    ``time_limit`` bounds each of the diagnosis's solves (seconds).
    """
    if any(getattr(scenario, name) is not None for name in EQUITY_CONSTRAINTS):
        without = scenario.with_(sii_reduction=None, gap_reduction=None, worst_off_at_least=None)
        if _feasible(without, time_limit):
            return equity_reason(scenario, time_limit)
        return "even without its gradient constraints, " + explain(without, time_limit)
    budget = scenario.budget_gbp
    span = spend_range(scenario, time_limit)
    if span is not None:
        least, most = span
        if least > budget * (1 + 1e-9):
            return (f"the rules need at least {gbp(least)} but the budget is {gbp(budget)}: the minimum "
                    f"feasible budget is {gbp(least)}; raise the budget by {gbp(least - budget)}"
                    + _floor_fix(scenario, least - budget, time_limit))
        if scenario.budget_mode == "exact" and most < budget * (1 - 1e-9):
            return (f"the caps and rules allow at most {gbp(most)} but the budget of {gbp(budget)} must "
                    f"be spent: lower the budget by {gbp(budget - most)}, raise the caps, or set "
                    "[budget] mode = \"at-most\"")
    return _conflict(scenario, time_limit)


def _conflict(scenario: Scenario, time_limit: float | None) -> str:
    """Which family of rules conflicts with the others, whatever the budget."""
    budget = scenario.budget_gbp
    fixed = _fixed_rules(scenario)
    locked = "locked lines" in fixed
    trials = []
    loose = dict(proportionality="none", min_slope=np.zeros_like(scenario.min_slope))  # (the rule with its slope)
    if scenario.proportionality != "none":
        trials.append((f"the {scenario.proportionality} proportionality rule", scenario.with_(**loose)))
    if scenario.pace is not None:
        trials.append(("the pace-of-change limits", scenario.with_(pace=None)))
    alone = [name for name, relaxed in trials if _feasible(relaxed, time_limit)]
    if alone:
        rules = " or ".join(alone)
        against = _listed(fixed) or "the budget"
        return (f"no allocation of {gbp(budget)} meets every rule; it becomes feasible "
                f"without {rules}, which conflict{'s' if len(alone) == 1 else ''} with {against}: loosen "
                + ("it" if len(alone) == 1 else "one of them") + (", or review the locked lines" if locked else ""))
    if len(trials) == 2 and _feasible(scenario.with_(**loose, pace=None), time_limit):
        return (f"no allocation of {gbp(budget)} meets every rule: the proportionality "
                "rule and the pace-of-change limits conflict with each other (each alone is feasible)")
    rules = fixed + [name[4:] for name, _ in trials] + ["budget"]
    return (f"no allocation of {gbp(budget)} meets {_listed(rules)} together"
            + (": check the locked lines against the floors and caps" if locked else ""))


# ------------------------------------------------------------------ gradient constraints

def _down(value: float, digits: int = 4) -> float:
    """``value`` rounded towards minus infinity to ``digits`` significant figures."""
    if value == 0 or not math.isfinite(value):
        return value
    step = 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)
    return math.floor(value / step) * step


def _rows_named(lp: LinearProgram, prefix: str) -> np.ndarray:
    """Indices of the rows whose names start with ``prefix`` (checking each block's first name)."""
    found = []
    for block in lp.row_blocks:
        if block.stop > block.start and name_of(lp.row_blocks, block.start).startswith(prefix):
            found.extend(range(block.start, block.stop))
    return np.array(found, dtype=np.int64)


def reduction_limit(scenario: Scenario, name: str, time_limit: float | None = None,
                    certified_only: bool = False) -> float | None:
    """The largest ``sii_reduction`` or ``gap_reduction`` the budget and the other rules allow.

    The reduction an allocation reaches is how far the measure moves in the baseline's direction
    (`_reduction_limit` finds the most); past its size before, the measure turns round, and the
    size that counts is ``|before - moved|``.  The spend allowed is a polytope and the measure
    continuous on it, so every movement between the least and the most is reached: the limit is
    the most, if that is within the size before; else the size before, if some allocation moves
    the measure no further than that (`_turns_round`); else every allocation turns the gradient
    round and the limit is ``2 before - least`` (negative when none narrows it at all).  Always
    without the mirror rows (`equity.mirrored`): with them, the least movement was bounded by the
    mirror itself and the limit said to be far lower (-0.0568 for -0.0023, in the test).
    """
    with equity.mirrored(False):  # a run re-solving with mirror rows asks too: they are no rule of the limit's
        return _turned_limit(scenario, name, time_limit, certified_only)


def _turned_limit(scenario: Scenario, name: str, time_limit: float | None, certified_only: bool) -> float | None:
    most = equity.size_before(scenario, name)
    try:
        found = _reduction_limit(scenario, name, time_limit, certified_only)
    except Bracket as bracket:
        if bracket.high <= most:
            raise
        least = _turns_round(scenario, name, most, time_limit)
        if least is not None:
            return 2.0 * most - least
        raise Bracket(None if bracket.low is None else min(bracket.low, most), most, bracket, bracket.searched) \
            from None
    if found is None or found <= most:
        return found
    least = _turns_round(scenario, name, most, time_limit)
    return most if least is None else 2.0 * most - least


def _turns_round(scenario: Scenario, name: str, most: float, time_limit: float | None) -> float | None:
    """None if some allocation moves the measure ``name`` no further than its size before
    ``most``; else the least any allocation moves it (every allocation turns the gradient round).

    First the allocation of most health, every gradient rule freed (one solve, nearly always
    enough); then the MILP in rows form that minimises the movement (binaries keep each line's
    gains exact).  A search stopped by ``time_limit`` is a `Bracket` of the limit."""
    lp = build(scenario.with_(objective="health-gain"))
    free, coef, bound = _minimising(lp, name)
    offset = float(getattr(scenario, name)) + bound
    try:
        health = solve(dataclasses.replace(free, cost=lp.cost, maximize=lp.maximize,
                                           objective_scale=lp.objective_scale), time_limit=time_limit)
        if offset - float(coef @ health.x) <= most + 1e-9 * max(1.0, most):
            return None
    except SolverError:  # stopped: the exact search below says what is known
        pass
    try:
        moved = offset - float(coef @ solve(dataclasses.replace(free, cost=-coef), time_limit=time_limit).x)
    except SolverError as exc:
        if exc.incumbent is not None and offset + exc.incumbent <= most:  # one allocation does not turn it
            return None
        if exc.bound is None:
            raise
        raise Bracket(None if exc.incumbent is None else 2.0 * most - (offset + exc.incumbent),
                      2.0 * most - (offset + exc.bound), exc) from None
    return None if moved <= most + 1e-9 * max(1.0, most) else moved


def _reduction_limit(scenario: Scenario, name: str, time_limit: float | None = None,
                     certified_only: bool = False) -> float | None:
    """The most a measure can move in the baseline's direction.

    The constraint's row reads ``a.x <= bound`` with ``bound = -asked - (fixed part)``, so
    the reduction an allocation ``x`` reaches is ``asked + bound - a.x``: minimise ``a.x``
    with every gradient constraint relaxed (the in-order binaries kept: the gains are exact).
    Where `allocator.model.gradient_bound` applies, its relaxation in suffix form, proven by
    the Lagrangian bound; when that proves nothing, the MILP over the relaxation
    (`allocator.model.suffix_milp`, searched ``time_limit`` or `SEARCH_SECONDS`) where it applies,
    unless the asked reduction is already beyond the bound (`Bracket` then, at once); else the
    MILP in rows form.  ``certified_only``: the Lagrangian proof or None.
    """
    tried = limit_attempt(scenario, name, time_limit)
    if tried is not None and tried.solution is not None:
        return reduction_offset(scenario, name) - float(tried.lp.cost @ tried.solution.x)
    if certified_only:
        return None
    searchable = (tried is not None and tried.first is not None and suffix_milp.applies(tried.lp)
                  and not gradient_bound.too_large_for_the_milp(scenario))
    beyond = tried is not None and tried.bound is not None \
        and float(getattr(scenario, name) or 0.0) > reduction_offset(scenario, name) - tried.bound
    if searchable and not beyond:
        found = _searched_limit(scenario, name, tried, SEARCH_SECONDS if time_limit is None else time_limit)
        if found is not None:
            return found
    if tried is not None and tried.bound is not None and (beyond or gradient_bound.free_lines(scenario).sum() > SEARCHED_LINES):
        # bracketed at once: the MILP would search for long (england-la: minutes without a proof)
        offset = reduction_offset(scenario, name)
        raise Bracket(None if tried.incumbent is None else offset - tried.incumbent, offset - tried.bound,
                      SolverError("the limit is bracketed by a Lagrangian bound, not proven"), searched=False)
    free, coef, bound = _minimising(build(scenario), name)
    offset = float(getattr(scenario, name)) + bound
    try:
        solution = solve(free, time_limit=time_limit)
    except SolverError as exc:  # stopped: what it found is attainable, its bound is the most there is
        if exc.bound is None:
            raise
        raise Bracket(None if exc.incumbent is None else offset - exc.incumbent, offset - exc.bound, exc) from None
    return offset - float(coef @ solution.x)


def _searched_limit(scenario: Scenario, name: str, tried, time_limit: float | None) -> float | None:
    """The limit by the MILP over the relaxation that minimises the gradient row (`suffix_milp`):
    the reduction its allocation reaches (within HiGHS's MIP gap of the most any reaches);
    `Bracket` if the time limit stops it; None if it proves nothing."""
    offset = reduction_offset(scenario, name)
    try:
        found = suffix_milp.solve(tried.lp, tried.first, time_limit, tried.bound)
    except SolverError as exc:
        if exc.bound is None:
            raise
        raise Bracket(None if exc.incumbent is None else offset - exc.incumbent, offset - exc.bound, exc) from None
    return None if found is None else offset - found[1].objective


LIMIT_GAP = 1e-7  # a limit proven by `gradient_bound` to this (relative to the gradient row's value)
SEARCHED_LINES = 1_000  # above this many free lines a bracketed limit's MILP (rows form) is not searched
SEARCH_SECONDS = 10.0  # a limit's MILP over the relaxation searched this long when no time limit is given



def limit_attempt(scenario: Scenario, name: str, time_limit: float | None = None):
    """`gradient_bound.attempt` at the largest ``name`` reduction (its row minimised), or None
    where it does not apply: the limit proven, or an allocation and a bound that bracket it."""
    if not gradient_bound.applies(scenario):
        return None
    return gradient_bound.attempt(scenario, time_limit, transform=lambda lp: _minimising(lp, name)[0],
                                  gap=LIMIT_GAP)


def _minimising(lp: LinearProgram, name: str) -> tuple[LinearProgram, np.ndarray, float]:
    """``lp`` minimising the gradient row ``name``, every gradient constraint freed; the row's
    coefficients and its bound (the reduction of an allocation x is ``asked + bound - coef @ x``)."""
    row = int(_rows_named(lp, name)[0])
    relax = np.concatenate([_rows_named(lp, n) for n in (*EQUITY_CONSTRAINTS, "worst_off(")])
    lower, upper = lp.row_lower.copy(), lp.row_upper.copy()
    lower[relax], upper[relax] = -np.inf, np.inf
    coef = lp.matrix.getrow(row).toarray().ravel()
    free = dataclasses.replace(lp, cost=coef, maximize=False, objective_scale=1.0,
                               row_lower=lower, row_upper=upper)
    return free, coef, float(lp.row_upper[row])


def reduction_offset(scenario: Scenario, name: str) -> float:
    """``asked + bound`` of the gradient row ``name`` (`equity.constraint_rows`)."""
    rows = equity.constraint_rows(scenario, equity.group_terms(scenario))
    return float(getattr(scenario, name)) + next(bound for row, _, bound in rows if row == name)


class Bracket(SolverError):
    """The search for a reduction's limit stopped at the time limit (``searched``), or a Lagrangian
    bound and an allocation bracket it with no search: the limit lies in [low, high]."""

    def __init__(self, low: float | None, high: float, stopped: SolverError, searched: bool = True):
        super().__init__(str(stopped))
        self.low, self.high, self.searched = low, high, searched


def worst_off_limit(scenario: Scenario, time_limit: float | None = None) -> float:
    """The best mean outcome of the worst-off deprivation group the budget and rules allow (maximin)."""
    best = scenario.with_(objective="maximin", sii_reduction=None, gap_reduction=None,
                          worst_off_at_least=None, levelled_at_least=None)
    lp = build(best)
    column = next(b.start for b in lp.col_blocks
                  if b.stop == b.start + 1 and name_of(lp.col_blocks, b.start) == "lowest_level")
    level = float(solve(lp, time_limit=time_limit).x[column])
    return level if scenario.gradient.higher_is_better else -level


def _loosen(scenario: Scenario, name: str) -> str:
    """'lower X', or 'raise X' for a worst-off level of an outcome where lower is better."""
    up = name == "worst_off_at_least" and not scenario.gradient.higher_is_better
    return f"{'raise' if up else 'lower'} {name}"


def _limit_text(scenario: Scenario, name: str, limit: float) -> str:
    units = scenario.gradient.outcome_units
    asked = plain(getattr(scenario, name), 6 if name == "worst_off_at_least" else 4)
    what = {"sii_reduction": "the SII (slope index of inequality)",
            "gap_reduction": "the gap between the most and least deprived groups"}.get(name)
    if what is not None:
        if limit > 0:
            can = f"can fall by at most {plain(_down(limit), 4)} {units}"
        elif limit < 0:
            can = f"cannot fall at all (it grows by at least {plain(-limit, 4)} {units})"
        else:
            can = "cannot fall at all"
        return (f"{what} {can} with this budget and these rules, but [objective] {name} asks for "
                f"{asked} {units}")
    if scenario.gradient.higher_is_better:
        return (f"the worst-off deprivation group's mean outcome can reach at most {plain(_down(limit, 6), 6)} "
                f"{units} with this budget and these rules, but [objective] worst_off_at_least asks "
                f"for {asked} {units}")
    return (f"the worst-off deprivation group's mean outcome can fall to {plain(-_down(-limit, 6), 6)} "
            f"{units} at best with this budget and these rules, but [objective] worst_off_at_least "
            f"asks for {asked} {units}")


def _bracket_text(scenario: Scenario, name: str, bracket: Bracket, below_asked: bool = False) -> str:
    """A reduction whose exact limit was not found in time: what is known of it.  ``below_asked``:
    the scenario, with this reduction its only gradient constraint, was proven infeasible."""
    units = scenario.gradient.outcome_units
    asked = float(getattr(scenario, name))
    what = {"sii_reduction": "the SII", "gap_reduction": "the gap"}[name]
    if below_asked and asked <= bracket.high:
        bracket = Bracket(bracket.low, asked, SolverError(str(bracket)), bracket.searched)
        known = f"{what} can fall by less than {plain(asked, 4)} {units} (no allocation reaches it)"
    else:
        known = f"{what} can fall by at most {plain(bracket.high, 4)} {units}"
    if bracket.low is not None and bracket.low > 0:
        known += f", and by {plain(_down(bracket.low), 4)} {units} at least"
    known += (" with this budget and these rules (the search for the exact limit stopped at the time limit)"
              if bracket.searched else " with this budget and these rules (a Lagrangian bound; the exact limit "
              "is not proven)")
    if asked > bracket.high + 1e-9 * max(1.0, abs(bracket.high)) or below_asked:
        return f"{known}, but [objective] {name} asks for {plain(asked, 4)} {units}"
    return (f"{known}; [objective] {name} asks for {plain(asked, 4)} {units}, which may be attainable: "
            + ("raise --time-limit to find out" if bracket.searched else "ask for less, or give --time-limit "
               "and try the MILP"))


def _unmet(scenario: Scenario, name: str, limit: float) -> bool:
    asked = float(getattr(scenario, name))
    if name == "worst_off_at_least" and not scenario.gradient.higher_is_better:
        return asked < limit - 1e-9 * max(1.0, abs(limit))
    return asked > limit + 1e-9 * max(1.0, abs(limit))


def equity_reason(scenario: Scenario, time_limit: float | None = None) -> str:
    """Why the gradient constraints cannot be met, when every other rule can."""
    asked = [name for name in EQUITY_CONSTRAINTS if getattr(scenario, name) is not None]
    texts, unmet = [], []
    for name in asked:
        try:
            limit = (worst_off_limit(scenario, time_limit) if name == "worst_off_at_least"
                     else reduction_limit(scenario, name, time_limit))
        except Bracket as bracket:  # alone, a reduction that makes the scenario infeasible is out of reach
            texts.append(_bracket_text(scenario, name, bracket, below_asked=len(asked) == 1))
            unmet.append(name)
            continue
        except AllocatorError as exc:  # the limit is a courtesy: say what is known without it
            texts.append(f"[objective] {name} = {plain(getattr(scenario, name), 6)} may ask for more than "
                         f"this budget and these rules allow (the most it can ask for was not found: {exc})")
            unmet.append(name)
            continue
        if _unmet(scenario, name, limit):
            texts.append(_limit_text(scenario, name, limit))
            unmet.append(name)
        elif len(asked) == 1:  # at the limit, within the solver's tolerance
            texts.append(f"[objective] {name} = {plain(getattr(scenario, name), 6)} is at the most this "
                         "budget and these rules allow, within the solver's tolerance")
            unmet.append(name)
    if texts:
        loosen = " and ".join(_loosen(scenario, name) for name in unmet)
        return "; ".join(texts) + f": every other rule can be met, so {loosen} or raise the budget"
    return (f"the gradient constraints {' and '.join(asked)} can each be met alone with this budget and "
            "these rules, but not together: loosen one of them or raise the budget")

