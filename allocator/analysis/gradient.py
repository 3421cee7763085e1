"""The social gradient of an allocation: tables by deprivation group and summary measures.

Everything here is computed from the allocation and the independently evaluated
outcomes, never from LP variables.  Deprivation groups are population-weighted
quantiles of the scenario's deprivation column, 1 = most deprived; inequality
measures follow `allocator.measures.inequality` (PHE's sign convention: a positive SII
means the value rises from most to least deprived).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.analysis.disaggregate import by_population_group
from allocator.measures import inequality as ineq
from allocator.model.equity import deprivation_groups
from allocator.model.evaluate import Allocation, Outcomes
from allocator.model.money import reference_totals
from allocator.scenario import Scenario

ATKINSON_EPSILON = 1.0


@dataclass(frozen=True)
class Gradient:
    """Tables of the allocation and its gradient, as pandas DataFrames."""

    allocation: pd.DataFrame | None  # one row per area x service (None: measured for a sweep's point)
    by_area: pd.DataFrame  # one row per area
    by_group: pd.DataFrame  # one row per deprivation quantile
    by_column: dict[str, pd.DataFrame]  # one table per grouping column
    metrics: pd.DataFrame  # one row per measure: before, after, change
    by_population_group: pd.DataFrame | None = None  # [disaggregation]: one row per dimension and group


def quantile_label(n: int) -> str:
    return {10: "decile", 5: "quintile", 4: "quartile"}.get(n, "quantile")


def group_outcomes(scenario: Scenario, outcome: np.ndarray) -> np.ndarray:
    """(Q,) population-weighted mean outcome of each deprivation group, 1 = most deprived."""
    group = deprivation_groups(scenario)
    q = scenario.gradient.quantiles
    pop = np.bincount(group, weights=scenario.population, minlength=q + 1)[1:]
    total = np.bincount(group, weights=scenario.population * outcome, minlength=q + 1)[1:]
    return np.divide(total, pop, out=np.full(q, np.nan), where=pop > 0)  # a group without people: none


def area_need(scenario: Scenario) -> np.ndarray:
    """Relative need per head of each area: its fair share per head over the budget per head."""
    per_head = scenario.fair_share.sum(axis=1) / scenario.population
    return per_head / (scenario.budget_gbp / scenario.population.sum())


def measure(scenario: Scenario, allocation: Allocation, outcomes: Outcomes, tables: bool = True) -> Gradient:
    """All tables and measures of the gradient, before and after.

    ``tables=False`` (a sweep's points, which record the measures only): no allocation
    table (None), no tables by grouping column or population group.
    """
    group = deprivation_groups(scenario)
    by_area = _by_area(scenario, allocation, outcomes, group)
    label = quantile_label(scenario.gradient.quantiles)
    by_group = _grouped(scenario, by_area, outcomes, f"deprivation_{label}", group)
    metrics = _metrics(scenario, allocation, outcomes, by_area, by_group, group)
    if not tables:
        return Gradient(allocation=None, by_area=by_area, by_group=by_group, by_column={}, metrics=metrics)
    by_column = {c: _grouped(scenario, by_area, outcomes, c, scenario.areas[c].astype(str).str.strip().to_numpy())
                 for c in scenario.gradient.group_columns}
    population = by_population_group(scenario, allocation, outcomes) if scenario.disaggregation else None
    return Gradient(allocation=_lines(scenario, allocation, outcomes), by_area=by_area,
                    by_group=by_group, by_column=by_column, metrics=metrics, by_population_group=population)


def _lines(scenario: Scenario, allocation: Allocation, outcomes: Outcomes) -> pd.DataFrame:
    A, S = scenario.n_areas, scenario.n_services
    fair = scenario.fair_share
    return pd.DataFrame({
        "area_id": np.repeat(scenario.area_ids, S),
        "area_name": np.repeat(scenario.area_names, S),
        "service_id": np.tile(scenario.service_ids, A),
        "service_name": np.tile(scenario.service_names, A),
        "target_population": scenario.target_population.ravel(),
        "need_index": scenario.need.ravel(),
        "floor_units_per_head": np.tile(scenario.floor, A),
        "cap_units_per_head": np.tile(scenario.cap, A),
        "units_per_head": outcomes.intensity.ravel(),
        f"{outcomes.before_label}_spend_gbp": outcomes.before_spend.ravel(),
        "fair_share_gbp": fair.ravel(),
        "spend_gbp": allocation.spend.ravel(),
        "change_gbp": (allocation.spend - outcomes.before_spend).ravel(),
        "locked": scenario.is_locked.ravel(),
        "gain_outcome_x_people": outcomes.gain.ravel(),
    })


def _by_area(scenario: Scenario, allocation: Allocation, outcomes: Outcomes, group) -> pd.DataFrame:
    pop = scenario.population
    before = outcomes.before_spend.sum(axis=1)
    spend = allocation.spend.sum(axis=1)
    fair = scenario.fair_share.sum(axis=1)
    before_name = outcomes.before_label
    with np.errstate(divide="ignore", invalid="ignore"):
        change_pct = np.where(before > 0, (spend - before) / before * 100.0, np.nan)
    return pd.DataFrame({
        "area_id": scenario.area_ids,
        "area_name": scenario.area_names,
        "deprivation": scenario.deprivation,
        "deprivation_group": group,
        "population": pop,
        "need_index": area_need(scenario),
        f"{before_name}_spend_gbp": before,
        "fair_share_gbp": fair,
        "spend_gbp": spend,
        "change_gbp": spend - before,
        "change_pct": change_pct,
        f"{before_name}_spend_per_head_gbp": before / pop,
        "spend_per_head_gbp": spend / pop,
        "distance_from_target_before_gbp": before - fair,
        "distance_from_target_gbp": spend - fair,
        "outcome_baseline": scenario.outcome,
        "outcome_change": outcomes.projected - scenario.outcome,
        "outcome_projected": outcomes.projected,
    })


def _grouped(scenario: Scenario, by_area: pd.DataFrame, outcomes: Outcomes, name: str, keys) -> pd.DataFrame:
    pop = scenario.population
    before_name = outcomes.before_label
    labels, code = np.unique(np.asarray(keys), return_inverse=True)
    code = code.ravel()
    n = len(labels)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(code, weights=values, minlength=n)

    people = total(pop)
    spend = total(by_area["spend_gbp"].to_numpy())
    out = {name: labels, "areas": np.bincount(code, minlength=n),
           "population": people,
           "need_index": total(by_area["need_index"].to_numpy() * pop) / people,
           f"{before_name}_spend_per_head_gbp": total(by_area[f"{before_name}_spend_gbp"].to_numpy()) / people,
           "fair_share_per_head_gbp": total(by_area["fair_share_gbp"].to_numpy()) / people,
           "spend_per_head_gbp": spend / people}
    out["change_per_head_gbp"] = out["spend_per_head_gbp"] - out[f"{before_name}_spend_per_head_gbp"]
    with np.errstate(invalid="ignore", divide="ignore"):  # nothing spent: NaN shares
        out["share_of_spend"] = spend / spend.sum()
    for s, sid in enumerate(scenario.service_ids):
        served = total(scenario.target_population[:, s])
        units = total(outcomes.intensity[:, s] * scenario.target_population[:, s])
        out[f"units_per_head_{sid}"] = np.divide(units, served, out=np.zeros_like(served), where=served > 0)
    out["outcome_baseline"] = total(scenario.outcome * pop) / people
    out["outcome_projected"] = total(outcomes.projected * pop) / people
    out["outcome_change"] = out["outcome_projected"] - out["outcome_baseline"]
    return pd.DataFrame(out)


def _metrics(scenario: Scenario, allocation: Allocation, outcomes: Outcomes, by_area: pd.DataFrame,
             by_group: pd.DataFrame, group) -> pd.DataFrame:
    g = scenario.gradient
    label = quantile_label(g.quantiles)
    rows: list[tuple[str, str, float, float]] = []
    pop = by_group["population"].to_numpy()
    y0, y1 = by_group["outcome_baseline"].to_numpy(), by_group["outcome_projected"].to_numpy()
    before_name = outcomes.before_label
    s0 = by_group[f"{before_name}_spend_per_head_gbp"].to_numpy()
    s1 = by_group["spend_per_head_gbp"].to_numpy()
    units = g.outcome_units

    def add(name, unit, before, after):
        rows.append((name, unit, float(before), float(after)))

    for name, (a, b) in {"outcome": (y0, y1), "spend_per_head": (s0, s1)}.items():
        unit = units if name == "outcome" else "GBP per head"
        i0, i1 = ineq.sii(a, pop), ineq.sii(b, pop)
        add(f"sii_{name}", unit, i0.sii, i1.sii)
        add(f"rii_{name}", "ratio", i0.rii, i1.rii)
        add(f"rii_alternative_{name}", "SII / mean", i0.rii_alternative, i1.rii_alternative)
        g0, g1 = ineq.gap(a, pop), ineq.gap(b, pop)
        add(f"gap_absolute_{name}", unit, g0.absolute, g1.absolute)
        add(f"gap_relative_{name}", "ratio", g0.relative, g1.relative)
    # area level, ranked by deprivation (most deprived first)
    ranked = _most_deprived_first(scenario)
    area_pop = scenario.population[ranked]
    spend0 = by_area[f"{before_name}_spend_per_head_gbp"].to_numpy()[ranked]
    spend1 = by_area["spend_per_head_gbp"].to_numpy()[ranked]
    add("concentration_index_spend", "index (-1..1; < 0 pro-deprived)",
        ineq.concentration_index(spend0, area_pop), ineq.concentration_index(spend1, area_pop))
    out0, out1 = scenario.outcome[ranked], outcomes.projected[ranked]
    add("concentration_index_outcome", "index (-1..1)",
        ineq.concentration_index(out0, area_pop), ineq.concentration_index(out1, area_pop))
    if g.higher_is_better and np.all(out0 > 0) and np.all(out1 > 0):
        a0 = ineq.atkinson(out0, area_pop, ATKINSON_EPSILON)
        a1 = ineq.atkinson(out1, area_pop, ATKINSON_EPSILON)
        add(f"atkinson_outcome_eps{ATKINSON_EPSILON:g}", "index (0..1)", a0.index, a1.index)
        add(f"ede_outcome_eps{ATKINSON_EPSILON:g}", units, a0.ede, a1.ede)
    need = by_area["need_index"].to_numpy()
    add("proportionality_index", "GBP per head per unit of need",
        ineq.proportionality_index(by_area[f"{before_name}_spend_per_head_gbp"], need, scenario.population),
        ineq.proportionality_index(by_area["spend_per_head_gbp"], need, scenario.population))
    first = max(1, g.quantiles // 5)
    most = group <= first
    spend_before = by_area[f"{before_name}_spend_gbp"].to_numpy()
    spend_after = by_area["spend_gbp"].to_numpy()
    add("share_of_spend_most_deprived_fifth", "share", _share(spend_before, most), _share(spend_after, most))
    mean0 = np.average(scenario.outcome, weights=scenario.population)
    mean1 = np.average(outcomes.projected, weights=scenario.population)
    add("mean_outcome", units, mean0, mean1)
    add("total_gain", f"{units} x people", outcomes.before_gain.sum(), outcomes.gain.sum())
    add("total_spend", "GBP", spend_before.sum(), spend_after.sum())
    rows += _group_measures(scenario, allocation.spend, outcomes.before_spend)
    frame = pd.DataFrame(rows, columns=["measure", "units", "before", "after"])
    frame["change"] = frame["after"] - frame["before"]
    frame.attrs["groups"] = label
    frame.attrs["before"] = before_name
    return frame


def _group_measures(scenario: Scenario, spend: np.ndarray, before: np.ndarray) -> list[tuple]:
    """Each service group's total spend; with a transfer, the GBP actually moved (against the
    comparator's split at this budget: `allocator.model.money.reference_totals`)."""
    rows = [(f"spend_group_{g.name}", "GBP", float(before[:, list(g.services)].sum()),
             float(spend[:, list(g.services)].sum())) for g in scenario.service_groups]
    t = scenario.transfer
    if t is not None:
        target = next(g for g in scenario.service_groups if g.name == t.target)
        reference = reference_totals(scenario)[t.target]
        rows.append((f"moved_{t.source}_to_{t.target}", "GBP", 0.0,
                     float(spend[:, list(target.services)].sum()) - reference))
    return rows


def _share(spend: np.ndarray, mask: np.ndarray) -> float:
    total = spend.sum()
    return float(spend[mask].sum() / total) if total > 0 else float("nan")


def _most_deprived_first(scenario: Scenario) -> np.ndarray:
    key = -scenario.deprivation if scenario.gradient.most_deprived == "high" else scenario.deprivation
    return np.argsort(key, kind="stable")


def binding(scenario: Scenario, allocation: Allocation) -> dict[str, int]:
    """How many lines sit at their floor, at their cap (within a penny), strictly between, or locked."""
    unit = scenario.unit_spend
    free = ~scenario.is_locked & (unit > 0)
    floor_spend = unit * scenario.floor[None, :]
    cap_spend = unit * scenario.cap[None, :]
    at_floor = free & (allocation.spend <= floor_spend + 0.011)
    at_cap = free & np.isfinite(cap_spend) & (allocation.spend >= cap_spend - 0.011)
    return {"lines": int(free.sum()), "between": int((free & ~at_floor & ~at_cap).sum()),
            "at_floor": int(at_floor.sum()), "at_cap": int(at_cap.sum()),
            "locked": int(scenario.is_locked.sum())}
