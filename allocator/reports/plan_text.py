"""A plan on the terminal: the glide path by year, the streams and what a pound of each buys."""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.format import gbp, plain
from allocator.reports.outputs import text_table


def _pct(value: float) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.1%}"


def plan_meta(result) -> dict:
    """What a report needs to know about the plan besides its tables."""
    s, plan = result.scenario, result.scenario.plan
    return {"years": list(plan.labels), "discount_rate": plan.discount_rate,
            "lags": {s.service_ids[k]: lag for k, lag in enumerate(plan.lags) if lag},
            "min_uplift": plan.min_uplift, "convergence": plan.convergence, "converge_by": plan.converge_by,
            "pace": list(s.pace) if s.pace else None,
            "streams": [{"id": f.id, "name": f.name, "carry_over": f.carry_over,
                         "partners": [[p.name, p.share] for p in f.partners]} for f in s.streams],
            "groups": [{"name": g.name, "services": [s.service_ids[k] for k in g.services],
                        "description": g.description} for g in s.service_groups]}


def plan_summary_text(result, costs: pd.DataFrame | None = None, moves: pd.DataFrame | None = None) -> str:
    """Years, streams, prices and (with ``costs``) what each rule of the plan costs, (with ``moves``)
    the money each step of each year's waterfall moves."""
    s, plan = result.scenario, result.scenario.plan
    units = s.gradient.outcome_units
    lp = result.plan_lp.lp
    out = [s.name,
           f"A plan of {plan.years} year{'s' if plan.years > 1 else ''} ({plan.labels[0]} to {plan.labels[-1]}), "
           f"{s.n_areas:,} areas x {s.n_services} services, {len(s.streams)} funding stream"
           f"{'s' if len(s.streams) != 1 else ''}; objective {s.objective}, health discounted at "
           f"{plan.discount_rate:.1%} a year.",
           f"Solved as one LP by {result.solution.solver} in {result.solution.seconds:.2f} s ({lp.n_rows:,} rows x "
           f"{lp.n_cols:,} columns); every rule re-checked from the allocation, year by year: OK."]
    years = result.tables["plan_years"]
    view = pd.DataFrame({
        "year": years["year"], "budget": years["budget_gbp"].map(gbp), "spent": years["spent_gbp"].map(gbp),
        f"health gain ({units} x people)": years["health_gain"].map(lambda v: plain(v, 4)),
        "SII": years["sii_outcome"].map(lambda v: plain(v, 4)),
        "distance from target": years["distance_from_target_share"].map(_pct),
        "to most deprived fifth": years["share_of_spend_most_deprived_fifth"].map(_pct)})
    out += ["", text_table(view)]
    if s.objective == "health-gain":
        out.append(f"Health gained over the floors, all years, discounted to {plan.labels[0]}: "
                   f"{plain(result.health, 6)} {units} x people.")
    if s.streams:
        out += ["", _streams_text(result)]
    if costs is not None and len(costs):
        out += ["", "Why: what each rule of the plan costs (the plan re-solved without it)"]
        for _, row in costs.iterrows():
            cost = row["cost"]
            what = (f"{plain(cost, 4)} {units} x people of discounted health" if s.objective != "fair-share"
                    else f"{gbp(cost)} further from the fair shares")
            out.append(f"- {row['text']}: " + ("costs nothing (the plan meets it anyway)" if abs(cost) < 1e-6
                                                 * max(1.0, abs(result.solution.objective)) else f"costs {what}"))
    if moves is not None and len(moves):
        wide = moves.assign(step=moves["step"].astype(str), year=moves["year"].astype(str)).pivot(
            index="step", columns="year", values="into_areas_gbp")
        order = list(dict.fromkeys(moves["step"].astype(str)))
        view = pd.DataFrame({"step": order, **{y: [gbp(wide.loc[k, y]) for k in order]
                                               for y in dict.fromkeys(moves["year"].astype(str))}})
        out += ["", "What moves the money: £ each step moves into the areas that gain, from the year before",
                text_table(view)]
    return "\n".join(out)


def _streams_text(result) -> str:
    s = result.scenario
    table = result.tables["plan_streams"]
    units = s.gradient.outcome_units
    first = table[table["year"] == table["year"].iloc[0]]
    lines = [f"Funding streams in {first['year'].iloc[0]} (what £1m more of each would buy, in discounted "
             f"{units} x people):"]
    for _, row in first.iterrows():
        price = row["price_per_gbp"] * 1e6
        relative = row["relative_to_best"]
        note = "" if not np.isfinite(relative) or relative > 0.999 else f", {relative:.0%} of the best stream's"
        lines.append(f"- {row['stream_name']}: {gbp(row['amount_gbp'])}, spent {gbp(row['spent_gbp'])}; "
                     f"£1m more buys {plain(price, 4)}{note}")
    return "\n".join(lines)
