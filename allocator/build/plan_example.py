"""``scenarios/england-la-plan``: england-la held as finance holds it, over five years.

The same districts, services and baseline as ``england-la``; three funding streams
(`allocator.build.assumptions.PLAN_STREAMS`), a pooled fund's partners, the universal
and targeted service groups, and a ``[plan]`` of five years.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from allocator.build.assumptions import (
    PLAN_CONVERGENCE,
    PLAN_DISCOUNT_RATE,
    PLAN_FIRST_YEAR,
    PLAN_LAGS,
    PLAN_PARTNERS,
    PLAN_STREAMS,
    PLAN_YEARS,
    SERVICE_GROUPS,
)
from allocator.build.writers import toml_value

STREAM_COLUMNS = ["stream_id", "stream_name", "amount_gbp", "services", "areas", "carry_over", "growth",
                  "from_year", "to_year"]


def group_blocks(service_ids: tuple[str, ...]) -> list[str]:
    """The ``[[service_group]]`` blocks of the bundled England scenarios (no bounds: names), for the
    services of ``service_ids`` (a group none of them is in is left out)."""
    text = {"universal": "Offered to everyone in the target population (an assumption: see README).",
            "targeted": "Offered to people with a particular risk or need (an assumption: see README)."}
    lines = []
    for name, services in SERVICE_GROUPS.items():
        services = [s for s in services if s in service_ids]
        if not services:
            continue
        lines += ["[[service_group]]", f"name = {toml_value(name)}",
                  f"services = [{', '.join(toml_value(s) for s in services)}]",
                  f"description = {toml_value(text[name])}", ""]
    return lines


def plan_block() -> list[str]:
    lags = ", ".join(f"{k} = {v}" for k, v in PLAN_LAGS.items())
    return ["[plan]", f"years = {PLAN_YEARS}", f"first_year = {toml_value(PLAN_FIRST_YEAR)}",
            f"discount_rate = {toml_value(PLAN_DISCOUNT_RATE)}", f"convergence = {toml_value(PLAN_CONVERGENCE)}",
            f"lags = {{ {lags} }}", ""]


def write_plan_tables(folder: Path) -> None:
    streams = pd.DataFrame(PLAN_STREAMS, columns=STREAM_COLUMNS)
    streams.to_csv(folder / "streams.csv", index=False, lineterminator="\n")
    partners = pd.DataFrame(PLAN_PARTNERS, columns=["stream_id", "partner", "share"])
    partners.to_csv(folder / "partners.csv", index=False, lineterminator="\n")


def plan_readme(title: str) -> str:
    streams = "\n".join(
        f"| `{sid}` | {name} | £{amount / 1e6:,.0f}m | {services} | {areas or 'every district'} | {carry} | "
        f"{growth:.0%} | {f'years {first}-{last}' if first else 'every year'} |"
        for sid, name, amount, services, areas, carry, growth, first, last in PLAN_STREAMS)
    partners = "\n".join(f"| `{sid}` | {name} | {share:.0%} |" for sid, name, share in PLAN_PARTNERS)
    groups = "\n".join(f"| {name} | {', '.join(f'`{s}`' for s in services)} |" for name, services in SERVICE_GROUPS.items())
    return f"""# {title}

Written by `python -m allocator.build` from the shared data: the districts, services, baseline and
pace of change of [`../england-la`](../england-la/README.md) (its README lists every source and
assumption behind them), held as a finance team holds the money, over five years.

    allocator run scenarios/england-la-plan --explain --out out/england-la-plan

solves the five years as one linear program and prints, year by year, the budget, the health
gained, the SII and the distance from need-weighted targets (the glide path), what £1m more of
each funding stream would buy, and what each rule of the plan costs.

## Funding streams (`streams.csv`) — assumptions, not published allocations

| stream | name | a year | may fund | areas | carry over | growth | when |
|---|---|---:|---|---|---|---:|---|
{streams}

The three add up to the £3.6bn of `england-la` in the first year. The ICB fund is pooled with the
councils (section 75 style); its partners' shares (`partners.csv`):

| stream | partner | share |
|---|---|---:|
{partners}

## Service groups (an assumption)

| group | services |
|---|---|
{groups}

## The plan (`[plan]` in `scenario.toml`)

- {PLAN_YEARS} years from {PLAN_FIRST_YEAR}; health gains discounted at {PLAN_DISCOUNT_RATE:.1%} a year (as NICE).
- Pace of change year on year: each district's total within -5% / +15% of the year before
  (the first year against the baseline).
- Convergence: each district's distance from its need-weighted target share falls by at least
  {PLAN_CONVERGENCE:.0%} a year.
- Lags: {', '.join(f'`{k}` {v} year' for k, v in PLAN_LAGS.items())} before its effect on outcomes starts.

All streams and the plan's settings are illustrations for planning, not funding decisions.

## Population groups (`[disaggregation]`)

As in `england-la`: spend per head, outcome and health gain by ethnic group, disability (Census
2021) and age band, an area-level estimate; its README gives the columns, sources and method
(there are no counts by sex).
"""
