"""The tables of a solved plan, tidy (one row per year x ...), for files, reports and the API.

* ``plan_years``: per year the budget, what was spent, health gained against the start
  (undiscounted and discounted), the SII and gap of the projected outcome, the distance
  from need-weighted targets (the glide path), the share to the most deprived fifth;
* ``plan_by_area``: per year and area, spend, change on the year before, target, distance;
* ``plan_allocation``: per year, area and service, spend (and each stream's part);
* ``plan_streams``: per year and stream, amount received, spent, carried forward, and what
  one more pound of it would buy (its shadow price) next to the best stream's;
* ``plan_partners``: per year, pooled stream and partner, the partner's contribution;
* ``plan_groups``: per year and service group, its total and its bounds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocator.model import plan as pm
from allocator.model import streams as st
from allocator.model.money import group_bounds

if TYPE_CHECKING:
    from allocator.analysis.plan import PlanResult


def tables(result: PlanResult) -> dict[str, pd.DataFrame]:
    out = {"plan_years": years_table(result), "plan_by_area": by_area(result),
           "plan_allocation": allocation(result)}
    scenario = result.scenario
    if scenario.streams:
        out["plan_streams"] = streams_table(result)
        partners = partners_table(result)
        if len(partners):
            out["plan_partners"] = partners
    if scenario.service_groups:
        out["plan_groups"] = groups_table(result)
    return out


def _metric(year, name: str) -> float:
    m = year.gradient.metrics.set_index("measure")
    return float(m.loc[name, "after"]) if name in m.index else float("nan")


def years_table(result: PlanResult) -> pd.DataFrame:
    scenario, plan = result.scenario, result.scenario.plan
    target = pm.target_shares(scenario)
    rows = []
    start = result.years[0].gradient.metrics.set_index("measure")
    for t, year in enumerate(result.years):
        spend = year.allocation.spend.sum(axis=1)
        budget = plan.budgets[t]
        gain = float(year.outcomes.gain.sum() - year.outcomes.before_gain.sum())
        distance = float(np.abs(spend - target * spend.sum()).sum())
        rows.append({"year": year.label, "budget_gbp": budget, "spent_gbp": float(spend.sum()),
                     "health_gain": gain, "discount_factor": plan.discount(t),
                     "health_gain_discounted": gain * plan.discount(t),
                     "sii_outcome": _metric(year, "sii_outcome"), "gap_absolute_outcome":
                     _metric(year, "gap_absolute_outcome"),
                     "distance_from_target_gbp": distance,
                     "distance_from_target_share": distance / spend.sum() if spend.sum() > 0 else np.nan,
                     "share_of_spend_most_deprived_fifth": _metric(year, "share_of_spend_most_deprived_fifth")})
    frame = pd.DataFrame(rows)
    before_spend = scenario.comparator_spend().sum(axis=1)
    first = {"year": "Before", "budget_gbp": float(before_spend.sum()), "spent_gbp": float(before_spend.sum()),
             "health_gain": 0.0, "discount_factor": np.nan, "health_gain_discounted": 0.0,
             "sii_outcome": float(start.loc["sii_outcome", "before"]),
             "gap_absolute_outcome": float(start.loc["gap_absolute_outcome", "before"]),
             "distance_from_target_gbp": float(np.abs(before_spend - target * before_spend.sum()).sum()),
             "share_of_spend_most_deprived_fifth": float(start.loc["share_of_spend_most_deprived_fifth", "before"])}
    first["distance_from_target_share"] = first["distance_from_target_gbp"] / first["spent_gbp"]
    frame = pd.concat([pd.DataFrame([first]), frame], ignore_index=True)
    frame.attrs["units"] = scenario.gradient.outcome_units
    frame.attrs["before"] = result.years[0].outcomes.before_label
    return frame


def by_area(result: PlanResult) -> pd.DataFrame:
    scenario, plan = result.scenario, result.scenario.plan
    target = pm.target_shares(scenario)
    previous = scenario.comparator_spend().sum(axis=1)
    parts = []
    for t, year in enumerate(result.years):
        spend = year.allocation.spend.sum(axis=1)
        goal = target * spend.sum()
        parts.append(pd.DataFrame({
            "year": year.label, "area_id": scenario.area_ids, "area_name": scenario.area_names,
            "spend_gbp": spend, "change_on_previous_year": np.divide(spend - previous, previous,
                                                                     out=np.full(len(spend), np.nan),
                                                                     where=previous > 0),
            "target_gbp": goal, "distance_from_target_gbp": spend - goal,
            "distance_from_target_share": np.divide(spend - goal, goal, out=np.full(len(spend), np.nan),
                                                    where=goal > 0)}))
        previous = spend
    del plan
    return pd.concat(parts, ignore_index=True)


def allocation(result: PlanResult) -> pd.DataFrame:
    """Per year, area and service: spend, and (with streams) one column per stream."""
    scenario = result.scenario
    A, S = scenario.n_areas, scenario.n_services
    parts = []
    for year in result.years:
        frame = pd.DataFrame({"year": year.label, "area_id": np.repeat(scenario.area_ids, S),
                              "service_id": np.tile(scenario.service_ids, A),
                              "spend_gbp": year.allocation.spend.ravel()})
        if year.allocation.by_stream is not None:
            for f, stream in enumerate(scenario.streams):
                frame[f"stream_{stream.id}_gbp"] = year.allocation.by_stream[f].ravel()
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def streams_table(result: PlanResult) -> pd.DataFrame:
    scenario = result.scenario
    prices = result.prices.set_index(["year", "stream_id"])
    carried = np.zeros(len(scenario.streams))
    rows = []
    for t, year in enumerate(result.years):
        spent = year.allocation.by_stream.sum(axis=(1, 2))
        for f, stream in enumerate(scenario.streams):
            amount = stream.amounts[t]
            available = amount + carried[f]
            carried[f] = available - spent[f] if stream.carry_over else 0.0
            key = (year.label, stream.id)
            rows.append({"year": year.label, "stream_id": stream.id, "stream_name": stream.name,
                         "amount_gbp": amount, "brought_forward_gbp": available - amount,
                         "spent_gbp": float(spent[f]), "carried_forward_gbp": float(carried[f]),
                         "services": ";".join(np.array(scenario.service_ids)[stream.services]),
                         "all_areas": stream.areas is None,
                         "price_per_gbp": float(prices.loc[key, "price_per_gbp"]) if key in prices.index else np.nan,
                         "relative_to_best": float(prices.loc[key, "relative_to_best"])
                         if key in prices.index else np.nan})
    frame = pd.DataFrame(rows)
    # a stream with no money in a year (a grant that has ended) has no price there: its row's dual
    # is then degenerate, anywhere between what a pound buys that year and what it bought before
    idle = (frame["amount_gbp"] == 0) & (frame["brought_forward_gbp"].abs() < 0.005)
    frame.loc[idle, ["price_per_gbp", "relative_to_best"]] = np.nan
    best = frame.groupby("year", sort=False)["price_per_gbp"].transform("max")
    frame["relative_to_best"] = np.where(best > 0, frame["price_per_gbp"] / best.where(best > 0, 1.0), np.nan)
    return frame


def partners_table(result: PlanResult) -> pd.DataFrame:
    scenario = result.scenario
    rows = []
    for year in result.years:
        for f, name, amount in st.partners(year.scenario, year.allocation.by_stream):
            stream = scenario.streams[f]
            share = next(p.share for p in stream.partners if p.name == name)
            rows.append({"year": year.label, "stream_id": stream.id, "partner": name, "share": share,
                         "contribution_gbp": float(amount.sum())})
    return pd.DataFrame(rows, columns=["year", "stream_id", "partner", "share", "contribution_gbp"])


def groups_table(result: PlanResult) -> pd.DataFrame:
    scenario = result.scenario
    rows = []
    for year in result.years:
        bounds = group_bounds(year.scenario)
        spend = year.allocation.spend
        for group in scenario.service_groups:
            low, high = bounds[group.name]
            total = float(spend[:, list(group.services)].sum())
            rows.append({"year": year.label, "group": group.name,
                         "services": ";".join(scenario.service_ids[s] for s in group.services),
                         "total_gbp": total, "share_of_spend": total / spend.sum(),
                         "min_gbp": low, "max_gbp": high if np.isfinite(high) else np.nan})
    return pd.DataFrame(rows)
