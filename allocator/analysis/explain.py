"""Why each number is what it is: waterfalls by constraint, and the price of each rule.

Waterfall.  From the baseline (or the flat comparator) to the need-weighted target
(fair share), then to the allocation closest to that target once each family of
rules is added in turn — floors and caps, locked lines, the proportionality rule,
the pace of change — and finally to the chosen objective's optimum.  Every step
is the difference between two solved allocations (rounded to pennies), so the
steps add up exactly to each area's change.

Prices.  What each family of rules costs in the objective: the optimum with the
family relaxed minus the optimum with it ("the price of equity"), and the
objective value of one more pound of budget (the budget row's dual).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.errors import InfeasibleError, SolverError
from allocator.format import gbp
from allocator.progress import stage, stages
from allocator.scenario import Scenario

STEPS = ("need-weighted target", "floors and caps", "locked lines", "proportionality",
         "pace of change", "objective")
_STEPS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("waterfall_steps", default=None)


@contextlib.contextmanager
def shared_steps():
    """Inside the block, waterfalls share their fair-share optima: options that relax to the same
    scenario (they differ only in objective, or in a rule a step has dropped) solve it once."""
    token = _STEPS.set({})
    try:
        yield
    finally:
        _STEPS.reset(token)


def _relaxed(scenario: Scenario, floors: bool, locked: bool, proportionality: bool, pace: bool,
             objective: str) -> Scenario:
    """The scenario with families of rules relaxed; gradient constraints belong to the objective step."""
    return dataclasses.replace(
        scenario, objective=objective, sii_reduction=None, gap_reduction=None, worst_off_at_least=None,
        levelled_at_least=None,
        floor=scenario.floor if floors else np.zeros_like(scenario.floor),
        cap=scenario.cap if floors else np.full_like(scenario.cap, np.inf),
        locked=scenario.locked if locked else np.full_like(scenario.locked, np.nan),
        proportionality=scenario.proportionality if proportionality else "none",
        min_slope=scenario.min_slope if proportionality else np.zeros_like(scenario.min_slope),  # (the rule's slope)
        pace=scenario.pace if pace else None)


def _pennies(values: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(values, dtype=float) * 100.0).astype(np.int64)


def waterfall(result) -> pd.DataFrame:
    """One row per area and step, amounts in GBP; the steps sum exactly to each area's change."""
    return waterfall_between(result.scenario, result.outcomes.before_spend, result.allocation.spend,
                             "start: " + result.outcomes.before_label)


def waterfall_between(s: Scenario, before_spend: np.ndarray, final_spend: np.ndarray, start: str,
                      steps: tuple[str, ...] = STEPS, end: str = "end: allocation") -> pd.DataFrame:
    """The waterfall from ``before_spend`` to ``final_spend`` (both (A, S) GBP) through the
    fair-share optima of ``s`` with each family of rules added in turn; ``steps`` names them (the
    optima side by side: `allocator.analysis.side_by_side`)."""
    from allocator.analysis.pipeline import run
    from allocator.analysis.side_by_side import in_order
    from allocator.analysis.sweep_plan import solved_digest

    before = _pennies(before_spend.sum(axis=1))
    plan = [(True, False, False, False), (True, True, False, False), (True, True, True, False),
            (True, True, True, True)]
    relaxed = [_relaxed(s, *rules, "fair-share") for rules in plan]
    keys = [solved_digest(r) for r in relaxed]  # a step that drops nothing more is the step before
    known = _STEPS.get() if _STEPS.get() is not None else {}
    todo = [k for k, key in enumerate(keys) if key not in known and key not in keys[:k]]
    found = in_order(lambda k: _pennies(run(relaxed[k]).allocation.spend.sum(axis=1)), todo,
                     lambda i, k: stage(f"step {k + 2}/{len(plan) + 1} ({steps[k + 1]})"))
    known.update({keys[k]: optimum for k, optimum in zip(todo, found)})
    levels = [_pennies(s.fair_share.sum(axis=1)), *(known[key] for key in keys)]
    final = _pennies(final_spend.sum(axis=1))
    levels.append(final)
    moves = [levels[0] - before] + [b - a for a, b in zip(levels[:-1], levels[1:])]
    rows = []
    for a in range(s.n_areas):
        rows.append((s.area_ids[a], s.area_names[a], start, before[a]))
        rows.extend((s.area_ids[a], s.area_names[a], name, step[a]) for name, step in zip(steps, moves))
        rows.append((s.area_ids[a], s.area_names[a], end, final[a]))
    rows.append(("ALL", "All areas", start, before.sum()))
    rows.extend(("ALL", "All areas", name, step.sum()) for name, step in zip(steps, moves))
    rows.append(("ALL", "All areas", end, final.sum()))
    frame = pd.DataFrame(rows, columns=["area_id", "area_name", "step", "amount_pennies"])
    frame["amount_gbp"] = frame["amount_pennies"] / 100.0
    return frame


@dataclass(frozen=True)
class Price:
    rule: str
    without: float | None  # objective with the rule relaxed (None: still infeasible)
    cost: float | None  # objective lost to the rule (>= 0 up to solver tolerance)
    text: str
    marginal: float | None = None  # an equity constraint's shadow price: health lost per unit more of it


EQUITY_ROWS = {"sii_reduction": "sii_reduction", "gap_reduction": "gap_reduction", "worst_off_at_least": "worst_off("}


def marginal_price(result, key: str) -> float | None:
    """The health one more unit of an equity constraint would cost near the optimum (``key``:
    ``sii_reduction``, ``gap_reduction`` or ``worst_off_at_least``, a unit of the outcome towards
    better), from its row's dual: None when the objective is not total health or the solve gave no
    duals (a MILP).  Checked against re-solving a step further (tests/test_explain.py)."""
    from allocator.model.diagnose import _rows_named

    s, lp, solution = result.scenario, result.lp, result.solution
    if s.objective != "health-gain" or solution.row_dual is None or getattr(s, key) is None:
        return None
    rows = _rows_named(lp, EQUITY_ROWS[key])
    if rows.size == 0:
        return None
    return float(-solution.row_dual[rows].sum() / lp.objective_scale)


def objective_total(result) -> float:
    """What a rule is priced in: total health gain (floors included) for every health objective
    (maximin, level-up and equity-weighted too), or £ distance for fair shares."""
    if result.scenario.objective != "fair-share":  # every health objective is priced in health
        return float(result.outcomes.gain.sum())
    return float(np.abs(result.allocation.spend - result.scenario.fair_share).sum())


def prices(result) -> pd.DataFrame:
    """The objective each family of rules costs, and the marginal value of the budget.

    The re-solves run in a `warm_starts` block of their own: those of one matrix (a floor or a cap
    dropped is a change of bounds) start from the last one's basis, and only their optima are read
    (england-la's three options: 20 s -> 6 s; benchmarks/README.md, session 29)."""
    from allocator.model.highs import warm_starts

    s = result.scenario
    health = s.objective != "fair-share"
    value = objective_total(result)
    units = (f"{s.gradient.outcome_units} x people of health gain" if health
             else "GBP of distance from fair shares")
    families = [("universal floors", dict(floor=np.zeros_like(s.floor))),
                ("caps", dict(cap=np.full_like(s.cap, np.inf))),
                (f"{s.proportionality} proportionality rule", dict(proportionality="none", min_slope=np.zeros_like(s.min_slope))),
                ("pace of change", dict(pace=None)),
                ("locked lines", dict(locked=np.full_like(s.locked, np.nan)))]
    families += [(name, {key: None}) for name, key in _equity_names(s)]  # equity constraints: health they cost
    marginals = {name: marginal_price(result, key) for name, key in _equity_names(s)}
    active = [(name, change) for name, change in families if _active(s, name)]
    if np.count_nonzero(s.floor) > 1:  # each service's floor on its own, when there are several
        for j in np.flatnonzero(s.floor > 0):
            floor = s.floor.copy()
            floor[j] = 0.0
            active.append((f"{s.service_ids[j]} floor ({s.floor[j]:.4g} units per head)", dict(floor=floor)))
    rows = []
    with warm_starts():
        for k, (name, change) in enumerate(active):
            if " floor (" in name and _free(rows, s, value):  # as every floor dropped at once: nothing
                rows.append(Price(name, value, 0.0, f"The {name} cost nothing: the optimum already meets it."))
                continue
            rows.append(_priced(s, name, change, k, len(active), value, units, marginals.get(name)))
    price = result.solution.budget_price(result.lp)
    if price is not None:
        text = (f"One more £1 of budget buys {price:.6g} {units}; one more £1m buys {_amount(price * 1e6)}."
                if health else "One more £1 of budget changes the distance from fair shares by "
                f"{'-' if price < 0 else ''}£{abs(price):.2f}.")
        rows.append(Price("budget (+£1)", value + price, price, text))
    return pd.DataFrame([dataclasses.asdict(r) for r in rows])


def _priced(s: Scenario, name: str, change: dict, k: int, n: int, value: float, units: str,
            marginal: float | None) -> Price:
    """The price of one family of rules: the optimum without it (``change``) against ``value``."""
    from allocator.analysis.pipeline import run

    health = s.objective != "fair-share"
    try:
        with stages(f"without the {name} ({k + 1}/{n})"):
            without = objective_total(run(dataclasses.replace(s, **change), diagnose=False))
    except InfeasibleError:
        return Price(name, None, None, f"Without the {name} the scenario is infeasible.")
    except SolverError as exc:  # not solved without it (a time limit, a MILP too large to search)
        if _stopped_by_the_clock(exc):
            raise
        return Price(name, None, None, f"Without the {name} the optimum was not found: {exc}.")
    cost = (without - value) if health else (value - without)
    share = abs(cost) / abs(value) if value else 0.0
    if _nothing(cost, value):
        text = f"The {name} cost nothing: the optimum already meets {'it' if ' floor (' in name else 'them'}."
    elif health and cost < 0:  # an equity objective gives up total health of its own accord
        text = (f"Without the {name} the {s.objective} optimum would have {_amount(-cost)} {units} less "
                f"({share:.2%} of the total): the objective is {s.objective}, not total health.")
    elif health:
        text = f"The {name} cost {_amount(cost)} {units} ({share:.2%} of the total)."
        if marginal is not None:
            text += (f" At the margin, each further 0.01 {s.gradient.outcome_units} of it costs "
                     f"{_amount(marginal / 100)} {units} (its shadow price).")
    else:
        text = f"The {name} kept the allocation {gbp(cost)} further from the fair shares."
    return Price(name, without, cost, text, marginal)


def _free(rows: list[Price], s: Scenario, value: float) -> bool:
    """Whether every floor dropped at once was found to cost nothing, so that any one of them dropped
    costs nothing either: the optima are nested (with every floor <= with all but one <= with none,
    equal at the ends).  Only where the optimum is the total health it is priced in, and exact (an
    LP: an SII or gap reduction is a MILP solved to a gap), and where a lower floor only widens what
    is allowed (not in proportional mode, whose bands are on the intensity above the floor)."""
    if s.objective != "health-gain" or s.sii_reduction is not None or s.gap_reduction is not None \
            or s.proportionality == "proportional":
        return False
    universal = next((r for r in rows if r.rule == "universal floors"), None)
    return universal is not None and universal.cost is not None and _nothing(universal.cost, value)


def _nothing(cost: float, value: float) -> bool:
    """A price within the solver's tolerance of zero."""
    return abs(cost) <= 1e-6 * max(1.0, abs(value))


def _stopped_by_the_clock(exc: SolverError) -> bool:
    """The command's time limit ran out: the whole --explain stops, as every solve under it would."""
    return "time limit" in str(exc)


def _equity_names(s: Scenario) -> list[tuple[str, str]]:
    """(family name as `prices` writes it, scenario key) of the equity constraints the scenario has."""
    units_of = s.gradient.outcome_units
    names = (("sii_reduction", "SII reduction"), ("gap_reduction", "gap reduction"),
             ("worst_off_at_least", "floor under the worst-off group"))
    return [(f"{what} ({getattr(s, key):.4g} {units_of})", key) for key, what in names if getattr(s, key) is not None]


def _amount(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def _active(s: Scenario, name: str) -> bool:
    if name == "universal floors":
        return bool(np.any(s.floor > 0))
    if name == "caps":
        return bool(np.any(np.isfinite(s.cap)))
    if name == "pace of change":
        return s.pace is not None
    if name == "locked lines":
        return bool(s.is_locked.any())
    if name.startswith(("SII reduction", "gap reduction", "floor under the worst-off")):
        return True
    return s.proportionality != "none"
