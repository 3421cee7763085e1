"""The monitoring workbook's data sheets: each table of a `allocator.analysis.monitor.Monitoring` as
columns with plain-English headers, units, number formats and live totals.

Money is in pounds; every percentage is a fraction shown as ``0.0%``; every sheet starts with
its year, so that a filter on the year shows one year, and the totals row (SUBTOTAL formulas)
that year's totals.  A column headed 'RAG' holds the words green, amber and red, and each cell
is filled in its colour too (`allocator.reports.workbook`).  Nothing here writes a file.

Examples
--------
>>> import allocator
>>> m = allocator.monitor("scenarios/england-la", "scenarios/england-la/outturn.csv")
>>> [s.name for s in monitor_sheets(m)][:5]
['Totals by year', 'Services', 'Areas', 'By deprivation decile', 'By ethnic group']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.analysis.monitor import Monitoring
from allocator.reports.markdown import measure_name
from allocator.reports.workbook import RAG
from allocator.reports.workbook_sheets import (
    BOOL,
    COUNT,
    INDEX,
    LABEL,
    MONEY,
    NUMBER,
    PERCENT,
    RATE,
    SUM,
    TEXT,
    Column,
    Sheet,
    values_of,
)

YEAR, ACTUAL = "Year", "Actual (£)"  # the columns the About sheet's checks read
AREAS = "Areas"
PLANNED, COMPARED, VARIANCE = "Planned (£)", "Planned on the lines compared (£)", "Variance (£)"


def _columns(frame: pd.DataFrame, specs) -> tuple[Column, ...]:
    """Columns from ``(name, header, kind[, total])`` specs, in order; a name the table lacks is left out.
    ``kind`` may be an array (one per row)."""
    out = []
    for name, header, kind, *total in specs:
        if name not in frame:
            continue
        values = values_of(frame[name], kind if isinstance(kind, str) and kind in (TEXT, BOOL) else NUMBER)
        out.append(Column(header, values, kind, total[0] if total else None))
    return tuple(out)


def _money() -> list[tuple]:
    """The money columns every table of groups has: planned, compared, actual, variance, flags."""
    return [("planned_gbp", PLANNED, MONEY, SUM), ("planned_compared_gbp", COMPARED, MONEY, SUM),
            ("actual_gbp", ACTUAL, MONEY, SUM), ("variance_gbp", VARIANCE, MONEY, SUM),
            ("variance_pct", "Variance (%)", PERCENT, (VARIANCE, COMPARED)),
            ("lines", "Lines", COUNT, SUM), ("lines_reported", "Lines reported", COUNT, SUM)]


def _flags() -> list[tuple]:
    return [("direction", "Over or under", TEXT), ("rag", RAG, TEXT)]


def _group_header(m: Monitoring) -> str:
    return f"Deprivation {m.group_column.removeprefix('deprivation_')} (1 = most deprived)"


def totals_sheet(m: Monitoring) -> Sheet:
    columns = _columns(m.totals, [
        ("year", YEAR, TEXT), *_money()[:5], ("areas", "Areas", COUNT),
        ("areas_reported", "Areas reporting every line", COUNT), ("areas_partly_reported", "Areas reporting some lines",
                                                                   COUNT),
        ("areas_not_reported", "Areas reporting none", COUNT), *_money()[5:], *_flags()])
    return Sheet("Totals by year", "Each year: planned, planned on the lines compared, actual and the variance (£ and "
                 "% of the plan on the lines compared), how many areas reported, the flag.", columns)


def services_sheet(m: Monitoring) -> Sheet:
    columns = _columns(m.by_service, [("year", YEAR, TEXT), ("service_id", "Service code", TEXT),
                                      ("service_name", "Service", TEXT), *_money(), *_flags()])
    return Sheet("Services", "Each service, each year: planned against actual, £ and %, with its flag.", columns, 3)


def areas_sheet(m: Monitoring) -> Sheet:
    columns = _columns(m.by_area, [
        ("year", YEAR, TEXT), ("area_id", "Area code", TEXT), ("area_name", "Area name", TEXT),
        (m.group_column, _group_header(m), LABEL), ("population", "Population (people)", COUNT),
        ("reported", "Lines reported (all, some, none)", TEXT), *_money(),
        ("planned_per_head_gbp", "Planned per head (£)", MONEY), ("actual_per_head_gbp", "Actual per head (£)", MONEY),
        *_flags()])
    return Sheet(AREAS, "Each area, each year: planned against actual, £ and %, per head (where it reported every "
                 "line), with its flag. Filter on the year: the totals row gives that year's.", columns, 3)


def groups_sheet(m: Monitoring) -> Sheet:
    label = m.group_column.removeprefix("deprivation_")
    columns = _columns(m.by_group, [
        ("year", YEAR, TEXT), (m.group_column, _group_header(m), LABEL), ("areas", "Areas", COUNT, SUM),
        ("population", "Population (people)", COUNT, SUM), *_money(),
        ("planned_per_head_gbp", "Planned per head (£)", MONEY), ("actual_per_head_gbp", "Actual per head (£)", MONEY),
        *_flags()])
    return Sheet(f"By deprivation {label}", f"The areas added up by deprivation {label}, 1 = most deprived: planned "
                 "against actual, and per head over the areas that reported every line.", columns, 2)


def streams_sheet(m: Monitoring) -> Sheet:
    columns = _columns(m.by_stream, [("year", YEAR, TEXT), ("stream_id", "Stream code", TEXT),
                                     ("stream_name", "Stream", TEXT), *_money(), *_flags()])
    return Sheet("Streams", "Each funding stream, each year: what it was planned to pay and what it paid.", columns, 3)


def pennies(values) -> np.ndarray:
    """``values`` in whole pennies that add up to their total in whole pennies (the largest remainders
    rounded up): estimates shared out between groups, so that a sheet's live sum reconciles to the penny.

    >>> pennies([1.004, 1.004, 1.004]).tolist()
    [1.01, 1.0, 1.0]
    """
    cents = np.asarray(values, dtype=float) * 100.0
    if not np.isfinite(cents).all():
        return np.round(cents) / 100.0
    whole = np.floor(cents)
    short = int(round(round(cents.sum()) - whole.sum()))
    whole[np.argsort(whole - cents, kind="stable")[:short]] += 1.0
    return whole / 100.0


def population_sheets(m: Monitoring) -> list[Sheet]:
    """One sheet per dimension of ``[disaggregation]``: planned against actual spend of each group, over the
    areas that reported every line (an area-level estimate); none without it.  Each year's planned and
    actual are shared out in whole pennies, so that the groups add up to the areas' to the penny."""
    frame = m.by_population_group
    sheets = []
    for dimension in dict.fromkeys(frame["dimension"].astype(str)):
        rows = frame[frame["dimension"].astype(str) == dimension].copy()
        for column in ("planned_gbp", "actual_gbp"):
            rows[column] = rows.groupby("year", sort=False)[column].transform(pennies)
        rows["variance_gbp"] = rows["actual_gbp"] - rows["planned_gbp"]
        people = "People (estimated)"
        columns = _columns(rows, [
            ("year", YEAR, TEXT), ("group", dimension or "Group", TEXT), ("column", "Areas column", TEXT),
            ("areas", "Areas compared", COUNT), ("population", people, COUNT, SUM),
            ("share_of_population", "Share of people (%)", PERCENT, SUM), ("planned_gbp", PLANNED, MONEY, SUM),
            ("actual_gbp", ACTUAL, MONEY, SUM), ("variance_gbp", VARIANCE, MONEY, SUM),
            ("variance_pct", "Variance (%)", PERCENT, (VARIANCE, PLANNED)),
            ("planned_per_head_gbp", "Planned per head (£)", MONEY, (PLANNED, people)),
            ("actual_per_head_gbp", "Actual per head (£)", MONEY, (ACTUAL, people)),
            ("change_per_head_gbp", "Change per head (£)", MONEY),
            ("planned_relative_to_average", "Planned per head against the average (ratio)", INDEX),
            ("actual_relative_to_average", "Actual per head against the average (ratio)", INDEX), *_flags()])
        sheets.append(Sheet(f"By {dimension.lower()}" if dimension else "By population group",
                            f"Spend by {dimension.lower() or 'population group'}, planned against actual, over the "
                            "areas that reported every line: an area-level estimate (everyone in an area receives "
                            "the area's spend per head). The groups hold everyone once: the actual adds up to those "
                            "areas' actual.", columns, 2))
    return sheets


def lines_sheet(m: Monitoring) -> Sheet:
    columns = _columns(m.lines, [
        ("year", YEAR, TEXT), ("area_id", "Area code", TEXT), ("area_name", "Area name", TEXT),
        ("service_id", "Service code", TEXT), ("service_name", "Service", TEXT),
        (m.group_column, _group_header(m), LABEL), ("status", "Status", TEXT), ("planned_gbp", PLANNED, MONEY, SUM),
        ("actual_gbp", ACTUAL, MONEY, SUM), ("variance_gbp", VARIANCE, MONEY, SUM),
        ("variance_pct", "Variance (%)", PERCENT), ("planned_units_per_head", "Planned (units per head)", RATE),
        ("actual_units_per_head", "Actual (units per head)", RATE)])
    return Sheet("Lines", "Every budget line (area × service), each year: reported or not (and how a line not "
                 "reported was counted), planned against actual.", columns, 3)


def rules_sheet(m: Monitoring) -> Sheet:
    columns = _columns(m.rules, [
        ("year", YEAR, TEXT), ("rule", "Rule", TEXT), ("description", "What it asks", TEXT),
        ("checks", "Checked over", TEXT), ("checked", "Checked", COUNT), ("breaches", "Breaches", COUNT, SUM),
        ("held", "Held", BOOL), ("tolerance", "Tolerance (%)", PERCENT), ("rag", RAG, TEXT)])
    return Sheet("Rules", "Whether each rule held in what was spent, each year, within its tolerance.", columns, 2)


def breaches_sheet(m: Monitoring) -> Sheet:
    b = m.breaches
    kinds = np.array([MONEY if u == "GBP" else RATE for u in b["units"]], dtype=object)
    header = _group_header(m)
    columns = _columns(b, [
        ("year", YEAR, TEXT), ("rule", "Rule", TEXT), ("service_id", "Service code", TEXT),
        ("service_name", "Service", TEXT), ("area_id", "Area code", TEXT), ("area_name", "Area name", TEXT),
        ("deprivation_group", header, LABEL), ("need_index", "Need index", INDEX), ("value", "Value", kinds),
        ("limit", "Limit", kinds), ("planned_value", "Planned value", kinds),
        ("beyond_pct", "Beyond the limit (%)", PERCENT), ("units", "Units", TEXT),
        ("counterpart_area_id", "Less needy area that got more: code", TEXT),
        ("counterpart_area_name", "Less needy area that got more", TEXT),
        ("counterpart_deprivation_group", f"Its {header[:1].lower()}{header[1:]}", LABEL),
        ("counterpart_need_index", "Its need index", INDEX), ("counterpart_value", "Its value", kinds),
        ("pairs", "Less needy areas that got more", COUNT), ("stream_id", "Stream code", TEXT)])
    return Sheet("Breaches", "Every breach of a rule in what was spent: the line or area, its value and the limit "
                 "(for the need ordering, the less needy area that got the most per head, and how many got more).",
                 columns, 2)


def _measure_kind(units: str) -> str:
    text = str(units).lower()
    return PERCENT if text.startswith("share") else MONEY if text.startswith("gbp") else INDEX


def measures_sheet(m: Monitoring) -> Sheet:
    r = m.measures.assign(_name=m.measures["measure"].astype(str).map(measure_name))
    kinds = np.array([_measure_kind(u) for u in r["units"]], dtype=object)
    worse = np.array([_measure_kind(u) for u in r["worse_by_units"]], dtype=object)
    columns = _columns(r, [
        ("year", YEAR, TEXT), ("_name", "Measure", TEXT), ("measure", "Measure code", TEXT), ("units", "Units", TEXT),
        ("planned", "Planned", kinds), ("actual", "Actual", kinds), ("change", "Change", kinds),
        ("worse_by", "Worse by", worse), ("worse_by_units", "Worse by: measured as", TEXT),
        ("amber", "Amber beyond", worse), ("red", "Red beyond", worse), ("rag", RAG, TEXT),
        ("areas", "Areas (reported every line)", COUNT)])
    return Sheet("Measures", "Proportionate to need? The proportionality index, the concentration index of spend and "
                 "the share to the most deprived fifth: planned against actual, with the flag and its thresholds.",
                 columns, 2)


def trend_sheet(m: Monitoring) -> Sheet:
    units = m.scenario.gradient.outcome_units or "outcome units"
    columns = _columns(m.trend, [
        ("year", YEAR, TEXT), ("source", "Source", TEXT), ("areas", "Areas", COUNT),
        ("population", "Population (people)", COUNT), ("mean_outcome", f"Mean outcome ({units})", RATE),
        ("sii", f"SII ({units})", RATE), ("sii_lower", "SII: lower limit", RATE), ("sii_upper", "SII: upper limit", RATE),
        ("rii", "RII", INDEX), ("rii_lower", "RII: lower limit", INDEX), ("rii_upper", "RII: upper limit", INDEX),
        ("gap_absolute", f"Gap, least minus most deprived ({units})", RATE),
        ("gap_relative", "Gap, least over most deprived (ratio)", INDEX), ("confidence", "Confidence (%)", PERCENT),
        ("projected_year", "Projection of the plan's year", TEXT),
        ("projected_sii", f"Projected SII over the same areas ({units})", RATE),
        ("sii_minus_projected", f"Observed minus projected SII ({units})", RATE),
        ("projected_within_limits", "Projection within the limits", BOOL)])
    return Sheet("Trend", "The gradient by year: the SII, RII and gap of the outcome at baseline, projected by the "
                 "plan and observed (with PHE's confidence limits), each observed year against the projection over "
                 "the same areas.", columns, 2)


def trend_groups_sheet(m: Monitoring) -> Sheet:
    units = m.scenario.gradient.outcome_units or "outcome units"
    columns = _columns(m.trend_by_group, [
        ("year", YEAR, TEXT), ("source", "Source", TEXT), (m.group_column, _group_header(m), LABEL),
        ("areas", "Areas", COUNT), ("population", "Population (people)", COUNT), ("outcome", f"Outcome ({units})", RATE),
        ("standard_error", f"Standard error ({units})", RATE)])
    return Sheet("Trend by group", "The outcome of each deprivation group by year (baseline, projected, observed), "
                 "population-weighted, with its standard error where the areas gave one.", columns, 3)


def monitor_sheets(m: Monitoring) -> list[Sheet]:
    """Every data sheet, in reading order (empty tables left out)."""
    sheets = [totals_sheet(m), services_sheet(m), areas_sheet(m), groups_sheet(m)]
    sheets += population_sheets(m)
    if len(m.by_stream):
        sheets.append(streams_sheet(m))
    sheets += [measures_sheet(m), rules_sheet(m), breaches_sheet(m), trend_sheet(m), trend_groups_sheet(m),
               lines_sheet(m)]
    return [s for s in sheets if s.rows and s.columns]
