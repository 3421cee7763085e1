"""A plan's sheets of the workbook: by year, its funding streams, partners and service groups, each
area by year, and every line by year with each stream's part.

Each is a `allocator.reports.workbook_sheets.Sheet` with plain headers and units, money in pounds
and shares as fractions shown as percentages; a filter on the year shows one year, and the totals
row (live SUBTOTAL formulas) that year's totals: on 'Plan by area' each year's spend adds up to
its budget, which the About sheet checks year by year.  Nothing here writes a file.

Examples
--------
>>> import pandas as pd
>>> years = pd.DataFrame({"year": ["Before", "2026/27"], "budget_gbp": [95e6, 1e8], "spent_gbp": [95e6, 1e8],
...                       "health_gain": [0.0, 12.5], "distance_from_target_share": [0.135, 0.12]})
>>> sheet = plan_sheets(ReportData(meta={"plan": {"years": ["2026/27"]}}, tables={"plan_years": years}))[0]
>>> sheet.name, [(c.header, c.kind, c.total) for c in sheet.columns][:2]
('Plan by year', [('Year', 'text', None), ('Budget (£)', 'money', None)])
>>> sheet.column("Distance from target (%)").values.tolist()
[0.135, 0.12]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.reports.plan_section import services_by_id as _services
from allocator.reports.plan_section import stream_names as _stream_names
from allocator.reports.results import ReportData
from allocator.reports.workbook_sheets import (
    BOOL,
    INDEX,
    MONEY,
    NUMBER,
    PERCENT,
    RATE,
    SUM,
    TEXT,
    Column,
    Labels,
    Sheet,
    values_of,
)

BY_AREA = "Plan by area"
YEAR, SPEND = "Year", "Spend (£)"  # the columns the About sheet's check of each year reads


def plan_sheets(data: ReportData) -> list[Sheet]:
    """The plan's sheets, in reading order (none when the result is not a plan)."""
    tables = data.tables
    if "plan_years" not in tables or not data.meta.get("plan"):
        return []
    labels = Labels.of(data.meta, _services(data))
    sheets = [years_sheet(tables["plan_years"], labels)]
    if "plan_streams" in tables:
        sheets.append(streams_sheet(tables["plan_streams"], labels))
    if "plan_partners" in tables:
        sheets.append(partners_sheet(tables["plan_partners"], _stream_names(data)))
    if "plan_groups" in tables:
        sheets.append(groups_sheet(tables["plan_groups"], labels))
    if "plan_by_area" in tables:
        sheets.append(by_area_sheet(tables["plan_by_area"]))
    if "plan_waterfall" in tables:
        sheets.append(waterfall_sheet(tables["plan_waterfall"]))
    if "plan_allocation" in tables:
        sheets.append(allocation_sheet(tables["plan_allocation"], tables.get("plan_by_area"), labels,
                                       _stream_names(data)))
    return [s for s in sheets if s.rows and s.columns]


def _columns(frame: pd.DataFrame, specs) -> tuple[Column, ...]:
    """Columns from ``(name, header, kind[, total])`` specs, in order; a name the table lacks is left out."""
    out = []
    for name, header, kind, *total in specs:
        if name not in frame:
            continue
        values = values_of(frame[name], kind if kind in (TEXT, BOOL) else NUMBER)
        out.append(Column(header, values, kind, total[0] if total else None))
    return tuple(out)


def _names(ids: pd.Series, names: dict[str, str]) -> pd.Series:
    """'a;b' lists of ids as their names, '; ' between."""
    return ids.astype(str).map(lambda text: "; ".join(names.get(i, i) for i in text.split(";") if i))


def years_sheet(frame: pd.DataFrame, labels: Labels) -> Sheet:
    """Each year of the plan after 'Before': budget, spent, health gained, the gap, the distance from targets."""
    units = labels.units
    columns = _columns(frame, [
        ("year", YEAR, TEXT), ("budget_gbp", "Budget (£)", MONEY), ("spent_gbp", "Spent (£)", MONEY),
        ("health_gain", f"Health gain against before ({units} × people)", NUMBER, SUM),
        ("discount_factor", "Discount factor", INDEX),
        ("health_gain_discounted", f"Health gain, discounted ({units} × people)", NUMBER, SUM),
        ("sii_outcome", f"SII in the outcome ({units})", RATE),
        ("gap_absolute_outcome", f"Gap, least minus most deprived group ({units})", RATE),
        ("distance_from_target_gbp", "Distance from target (£)", MONEY),
        ("distance_from_target_share", "Distance from target (%)", PERCENT),
        ("share_of_spend_most_deprived_fifth", "Share of spend in the most deprived fifth (%)", PERCENT)])
    return Sheet("Plan by year", "The plan year by year from 'Before': budget, spent, health gained against "
                 "before (and discounted to the first year), the SII and gap in the outcome, the distance from "
                 "need-weighted targets (the glide path). Totals: the health gained over the plan.", columns)


def streams_sheet(frame: pd.DataFrame, labels: Labels) -> Sheet:
    """Each funding stream by year: received, brought and carried forward, spent, and its shadow price."""
    frame = frame.assign(_services=_names(frame["services"], labels.services) if "services" in frame else "",
                         _price=pd.to_numeric(frame["price_per_gbp"], errors="coerce") * 1e6
                         if "price_per_gbp" in frame else np.nan)
    columns = _columns(frame, [
        ("year", YEAR, TEXT), ("stream_id", "Stream code", TEXT), ("stream_name", "Stream", TEXT),
        ("_services", "Pays for (services)", TEXT), ("all_areas", "All areas", BOOL),
        ("amount_gbp", "Amount (£)", MONEY, SUM), ("brought_forward_gbp", "Brought forward (£)", MONEY),
        ("spent_gbp", "Spent (£)", MONEY, SUM), ("carried_forward_gbp", "Carried forward (£)", MONEY),
        ("_price", f"What £1m more buys (discounted {labels.units} × people)", NUMBER),
        ("relative_to_best", "Against the best stream (%)", PERCENT)])
    return Sheet("Plan streams", "Each funding stream by year: what it brings, brings forward, spends and carries "
                 "forward, and what £1m more of it would buy against the best stream.", columns, 3)


def partners_sheet(frame: pd.DataFrame, names: dict[str, str]) -> Sheet:
    """What each partner puts into each pooled stream, by year."""
    frame = frame.assign(_stream=frame["stream_id"].astype(str).map(lambda s: names.get(s, s)))
    columns = _columns(frame, [
        ("year", YEAR, TEXT), ("stream_id", "Stream code", TEXT), ("_stream", "Stream", TEXT),
        ("partner", "Partner", TEXT), ("share", "Share (%)", PERCENT),
        ("contribution_gbp", "Contribution (£)", MONEY, SUM)])
    return Sheet("Plan partners", "What each partner puts into each pooled stream, by year (its share of what "
                 "the stream spends).", columns, 3)


def groups_sheet(frame: pd.DataFrame, labels: Labels) -> Sheet:
    """Each service group's total by year against its bounds."""
    frame = frame.assign(_services=_names(frame["services"], labels.services) if "services" in frame else "")
    columns = _columns(frame, [
        ("year", YEAR, TEXT), ("group", "Group", TEXT), ("_services", "Services", TEXT),
        ("total_gbp", "Total (£)", MONEY), ("share_of_spend", "Share of spend (%)", PERCENT),
        ("min_gbp", "Minimum (£)", MONEY), ("max_gbp", "Maximum (£)", MONEY)])
    return Sheet("Plan groups", "Each service group's total by year against the bounds set on it (an empty "
                 "maximum: none).", columns, 2)


def by_area_sheet(frame: pd.DataFrame) -> Sheet:
    """Each area in each year: spend, change on the year before, need-weighted target and distance from it."""
    columns = _columns(frame, [
        ("year", YEAR, TEXT), ("area_id", "Area code", TEXT), ("area_name", "Area name", TEXT),
        ("spend_gbp", SPEND, MONEY, SUM), ("change_on_previous_year", "Change on the year before (%)", PERCENT),
        ("target_gbp", "Target (£)", MONEY, SUM), ("distance_from_target_gbp", "Distance from target (£)", MONEY, SUM),
        ("distance_from_target_share", "Distance from target (%)", PERCENT,
         ("Distance from target (£)", "Target (£)"))])
    return Sheet(BY_AREA, "Each area in each year of the plan: spend, change on the year before, need-weighted "
                 "target and distance from it. Filter on the year: the totals row gives that year's.", columns, 3)


def waterfall_sheet(frame: pd.DataFrame) -> Sheet:
    """Each year's waterfall: each area's steps from the year before to the plan."""
    columns = _columns(frame, [
        ("year", YEAR, TEXT), ("area_id", "Area code", TEXT), ("area_name", "Area name", TEXT),
        ("step", "Step", TEXT), ("amount_gbp", "Amount (£)", MONEY)])
    return Sheet("Plan waterfall", "Each year from the year before (the first from 'before') to the plan, area by "
                 "area: the start, the money each step moves (to the need-weighted target; floors and caps; locked "
                 "lines; the proportionality rule; the pace of change; the plan's objective and other rules) and "
                 "the end. Filter on the year and area: the steps add up to the change, to the penny.", columns, 4)


def allocation_sheet(frame: pd.DataFrame, by_area: pd.DataFrame | None, labels: Labels,
                     streams: dict[str, str]) -> Sheet:
    """Every line (area x service) in each year, with the part each funding stream pays."""
    names = {}
    if by_area is not None and {"area_id", "area_name"} <= set(by_area.columns):
        names = dict(zip(by_area["area_id"].astype(str), by_area["area_name"].astype(str)))
    frame = frame.assign(_area=frame["area_id"].astype(str).map(names),
                         _service=frame["service_id"].astype(str).map(lambda s: labels.services.get(s, s)))
    parts = [(c, f"Paid by {streams.get(c[7:-4], c[7:-4])} (£)", MONEY, SUM) for c in frame.columns
             if str(c).startswith("stream_") and str(c).endswith("_gbp")]
    columns = _columns(frame, [
        ("year", YEAR, TEXT), ("area_id", "Area code", TEXT), ("_area", "Area name", TEXT),
        ("service_id", "Service code", TEXT), ("_service", "Service", TEXT), ("spend_gbp", SPEND, MONEY, SUM),
        *parts])
    return Sheet("Plan allocation", "Every budget line (area × service) in each year of the plan, and what each "
                 "funding stream pays of it.", columns, 3)
