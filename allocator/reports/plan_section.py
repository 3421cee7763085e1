"""The plan in the reports: the glide path year by year, the funding streams, the partners' shares
and the service groups, for the HTML and Markdown reports, the brief, and the HTML's chart.

`plan_text` turns a run's ``plan_*`` tables and ``meta["plan"]`` (written by ``allocator run``
for a scenario with ``[plan]`` or funding streams) into a lead sentence, the plan's rules in
words and tables of formatted cells; `plan_brief` says it in two sentences for the brief;
`glide_path_chart` draws the distance from target and the SII by year.  Every number goes
through `allocator.format`; the text is plain and unescaped (each renderer escapes it).

Examples
--------
>>> import pandas as pd
>>> years = pd.DataFrame({"year": ["Before", "2026/27", "2027/28"], "budget_gbp": [95e6, 1e8, 1e8],
...                       "spent_gbp": [95e6, 1e8, 1e8], "health_gain": [0.0, 10.0, 20.0],
...                       "health_gain_discounted": [0.0, 10.0, 19.0], "sii_outcome": [2.0, 1.9, 1.8],
...                       "distance_from_target_share": [0.135, 0.12, 0.093]})
>>> data = ReportData(meta={"plan": {"years": ["2026/27", "2027/28"], "discount_rate": 0.035},
...                         "scenario": {"outcome_units": "years"}}, tables={"plan_years": years})
>>> print(plan_text(data).lead)  # doctest: +NORMALIZE_WHITESPACE
Over 2 years (2026/27 to 2027/28) the distance from need-weighted targets falls from 13.5% to 9.3% and
the SII in the outcome narrows from 2.000 to 1.800 years. The plan spends £200.0m and gains 29 years × people
of health against 'before', discounted at 3.5% a year to 2026/27.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.format import aligned, money, number, percent, plain
from allocator.reports.results import ReportData, Table

TITLE = "The plan, year by year"
CHART_TITLE = "The glide path: distance from target and SII by year"
LINE, START = "#0072B2", "#6b6b6b"  # the report's colours (allocator.reports.html): the plan, 'before'
WIDTH = 8.0  # inches, as the report's other charts
TOLERANCE_GBP = 0.5  # a group's total this close to a bound is at it


@dataclass(frozen=True)
class PlanText:
    """The plan as the reports say it: a lead paragraph, its rules in words, its tables."""

    lead: str
    rules: list[str]
    tables: list[Table]


# -- reading -------------------------------------------------------------------------------------
def has_plan(data: ReportData) -> bool:
    """Whether the result is a plan (its tables and what the run said about it are there)."""
    return "plan_years" in data.tables and bool(data.meta.get("plan"))


def _units(data: ReportData) -> str:
    return str((data.meta.get("scenario") or {}).get("outcome_units") or "outcome units")


def _years(data: ReportData) -> tuple[pd.Series, pd.DataFrame]:
    """The row 'before' the plan (empty if the table has none) and the plan's years."""
    frame = data.tables["plan_years"]
    before = frame["year"].astype(str) == "Before"
    start = frame[before].iloc[0] if before.any() else pd.Series(dtype=object)
    return start, frame[~before]


def _value(row: pd.Series, column: str) -> float:
    try:
        return float(row[column])
    except (KeyError, TypeError, ValueError):
        return float("nan")


def services_by_id(data: ReportData) -> dict[str, str]:
    """Service names by id, from the scenario's services table (or the allocation)."""
    for name in ("input_services", "options_allocation"):
        frame = data.tables.get(name)
        if frame is not None and {"service_id", "service_name"} <= set(frame.columns):
            return dict(zip(frame["service_id"].astype(str), frame["service_name"].astype(str)))
    return {}


def stream_names(data: ReportData) -> dict[str, str]:
    names = {str(f.get("id")): str(f.get("name")) for f in (data.meta.get("plan") or {}).get("streams") or []}
    streams = data.tables.get("plan_streams")
    if streams is not None:
        names |= dict(zip(streams["stream_id"].astype(str), streams["stream_name"].astype(str)))
    return names


def _ids(text: object) -> list[str]:
    return [s for s in str(text).split(";") if s] if isinstance(text, str) else []


# -- saying it -----------------------------------------------------------------------------------
def _change(before: float, after: float, nearer_zero: bool, show) -> str:
    """'falls from 13.5% to 9.3%' (or 'narrows', for a gap: nearer zero is better); ``show`` formats
    the two values together."""
    if not np.isfinite([before, after]).all():
        return "is not known"
    size_before, size_after = (abs(before), abs(after)) if nearer_zero else (before, after)
    first, second = show([before, after])
    if abs(size_after - size_before) <= 1e-12 * max(abs(before), 1.0):
        return f"stays at {second}"
    verb = ("narrows" if size_after < size_before else "widens") if nearer_zero else (
        "falls" if size_after < size_before else "rises")
    return f"{verb} from {first} to {second}"


def _sii(values) -> list[str]:
    """Values of the SII or a gap, to 4 significant figures of the largest, with the same decimals."""
    return aligned(values, 4)


def _percents(values) -> list[str]:
    return [percent(v) for v in values]


def _glide(data: ReportData) -> tuple[list[str], str, str]:
    """The plan's years, and how the distance from target and the SII change from 'before' to the last."""
    start, years = _years(data)
    last = years.iloc[-1]
    distance = _change(_value(start, "distance_from_target_share"), _value(last, "distance_from_target_share"),
                       False, _percents)
    sii = _change(_value(start, "sii_outcome"), _value(last, "sii_outcome"), True, _sii)
    return [str(y) for y in years["year"]], distance, sii


def plan_lead(data: ReportData) -> str:
    """The plan in a sentence or two: the glide path from 'before' to the last year, money and health."""
    plan, units = data.meta.get("plan") or {}, _units(data)
    _, years = _years(data)
    labels, distance, sii = _glide(data)
    span = f"Over {len(labels)} years ({labels[0]} to {labels[-1]})" if len(labels) > 1 else f"In {labels[0]}"
    lead = (f"{span} the distance from need-weighted targets {distance} and the SII in the outcome "
            f"{sii} {units}.")
    spent = float(np.nansum(years["spent_gbp"].to_numpy(float)))
    gain = float(np.nansum(years["health_gain_discounted"].to_numpy(float)))
    rate = plan.get("discount_rate")
    discount = (f", discounted at {percent(rate)} a year to {labels[0]}" if isinstance(rate, (int, float))
                and rate and len(labels) > 1 else "")
    verb = "gains" if gain >= 0 else "loses"
    return (f"{lead} The plan spends {money(spent)} and {verb} {number(abs(gain))} {units} × people of health "
            f"against 'before'{discount}.")


def plan_rules(data: ReportData) -> list[str]:
    """The rules of the plan in words: pace of change, lags, uplift, convergence, streams."""
    plan, services = data.meta.get("plan") or {}, services_by_id(data)
    years = [str(y) for y in plan.get("years") or []]
    out = []
    pace = plan.get("pace")
    if isinstance(pace, (list, tuple)) and len(pace) == 2:
        out.append(f"Pace of change: no area's total falls by more than {percent(pace[0])} or rises by more than "
                   f"{percent(pace[1])} in a year.")
    if isinstance(plan.get("min_uplift"), (int, float)):
        out.append(f"Every area's total grows by at least {percent(plan['min_uplift'])} a year.")
    if isinstance(plan.get("convergence"), (int, float)):
        out.append(f"Each area's distance from its target falls by at least {percent(plan['convergence'])} a year.")
    by = plan.get("converge_by")
    if isinstance(by, int) and 0 < by <= len(years):
        out.append(f"Every area is at its target from {years[by - 1]} on.")
    for service, lag in sorted((plan.get("lags") or {}).items()):
        out.append(f"{services.get(service, service)}: its effect on health starts {number(lag)} year"
                   f"{'s' if lag != 1 else ''} after the money is spent.")
    out += _restricted(data, services)
    carried = [str(f.get("name")) for f in plan.get("streams") or [] if f.get("carry_over")]
    if carried and len(years) > 1:
        out.append("Unspent money carries over to the next year: " + ", ".join(carried) + ".")
    return out


def _restricted(data: ReportData, services: dict[str, str]) -> list[str]:
    """What each stream that may not pay for everything pays for, in words."""
    frame = data.tables.get("plan_streams")
    if frame is None or frame.empty:
        return []
    out = []
    for _, row in frame.drop_duplicates("stream_id").iterrows():
        ids = _ids(row.get("services"))
        some = 0 < len(ids) < len(services) or not services
        areas = not bool(row.get("all_areas", True))
        if some or areas:
            what = " and ".join(services.get(i, i) for i in ids) if some else "any service"
            out.append(f"{row['stream_name']} pays only for {what}{', in some areas' if areas else ''}.")
    return out


def plan_brief(data: ReportData) -> str | None:
    """Two sentences for the brief: which year it shows, and where the plan goes."""
    if not has_plan(data):
        return None
    labels, distance, sii = _glide(data)
    streams = len((data.meta.get("plan") or {}).get("streams") or [])
    funded = f" funded by {streams} stream{'s' if streams != 1 else ''}" if streams else ""
    if len(labels) == 1:
        return (f"The allocation is paid for from {streams} funding stream{'s' if streams != 1 else ''}: the report "
                "shows what each pays and what £1m more of each would buy.")
    return (f"This is the first year, {labels[0]}, of a plan of {len(labels)} years{funded}; by {labels[-1]} the "
            f"distance from need-weighted targets {distance} and the SII {sii} {_units(data)}. The report shows the "
            "plan year by year.")


# -- the tables ----------------------------------------------------------------------------------
def plan_text(data: ReportData) -> PlanText | None:
    """What the reports say about the plan, or None when the result is not a plan."""
    if not has_plan(data):
        return None
    tables = [_years_table(data), _streams_table(data), _partners_table(data), _groups_table(data),
              _moves_table(data)]
    return PlanText(lead=plan_lead(data), rules=plan_rules(data), tables=[t for t in tables if t is not None])


def _years_table(data: ReportData) -> Table:
    units, frame = _units(data), data.tables["plan_years"]
    first = next((str(y) for y in frame["year"] if str(y) != "Before"), "the first year")
    columns = ["Year", "Budget", "Spent", f"Health gain against 'before' ({units} × people)",
               f"Discounted to {first} ({units} × people)", f"SII in the outcome ({units})",
               f"Gap, least − most deprived group ({units})", "Distance from target (£)",
               "Distance from target (%)", "Spend in the most deprived fifth"]
    sii, gap = (_sii(frame[c].to_numpy(float) if c in frame else [np.nan] * len(frame))
                for c in ("sii_outcome", "gap_absolute_outcome"))
    rows = []
    for k, (_, r) in enumerate(frame.iterrows()):
        rows.append([str(r["year"]), money(_value(r, "budget_gbp")), money(_value(r, "spent_gbp")),
                     number(_value(r, "health_gain")), number(_value(r, "health_gain_discounted")),
                     sii[k], gap[k],
                     money(_value(r, "distance_from_target_gbp")), percent(_value(r, "distance_from_target_share")),
                     percent(_value(r, "share_of_spend_most_deprived_fifth"))])
    _, years = _years(data)
    if len(years) > 1:
        rows.append(["All years"] + [money(years[c].to_numpy(float).sum()) for c in ("budget_gbp", "spent_gbp")]
                    + [number(years[c].to_numpy(float).sum()) for c in ("health_gain", "health_gain_discounted")]
                    + [""] * 5)
    return Table("plan_years", "Year by year", "Each year of the plan against 'before': the budget and what is "
                 "spent, health gained (and discounted to the first year), the gap in the outcome, the distance "
                 "from need-weighted targets (the sum over areas of each one's distance, as a share of spend) and "
                 "the share of spend in the most deprived fifth.", columns, rows, [False] + [True] * 9)


def _streams_table(data: ReportData) -> Table | None:
    frame = data.tables.get("plan_streams")
    if frame is None or frame.empty:
        return None
    units = _units(data)
    columns = ["Year", "Stream", "Amount", "Brought forward", "Spent", "Carried forward",
               f"£1m more buys (discounted {units} × people)", "Against the best stream"]
    rows = [[str(r["year"]), str(r["stream_name"]), money(_value(r, "amount_gbp")),
             money(_value(r, "brought_forward_gbp")), money(_value(r, "spent_gbp")),
             money(_value(r, "carried_forward_gbp")), number(_value(r, "price_per_gbp") * 1e6),
             percent(_value(r, "relative_to_best"))] for _, r in frame.iterrows()]
    return Table("plan_streams", "Funding streams", "Each stream's money in each year: what it brings, what is "
                 "spent and carried forward, and what £1m more of it would buy (its shadow price) against the "
                 "stream whose pound buys most. A restricted stream's pound can buy less: it may only pay for "
                 "some services or areas (see above).", columns, rows, [False] * 2 + [True] * 6)


def _partners_table(data: ReportData) -> Table | None:
    frame = data.tables.get("plan_partners")
    if frame is None or frame.empty:
        return None
    names = stream_names(data)
    years = list(dict.fromkeys(frame["year"].astype(str)))
    columns = ["Stream", "Partner", "Share"] + years + ["All years"]
    rows = []
    for (stream, partner), part in frame.groupby(["stream_id", "partner"], sort=False):
        by_year = dict(zip(part["year"].astype(str), part["contribution_gbp"].to_numpy(float)))
        rows.append([names.get(str(stream), str(stream)), str(partner), percent(_value(part.iloc[0], "share"))]
                    + [money(by_year[y]) if y in by_year else "" for y in years]
                    + [money(sum(by_year.values()))])
    return Table("plan_partners", "Partners' contributions", "What each partner puts into each pooled stream, "
                 "by year: its share of what the stream spends.", columns, rows, [False, False] + [True] * (len(years) + 2))


def _against_bounds(total: float, low: float, high: float) -> str:
    slack = max(TOLERANCE_GBP, 1e-9 * abs(total))
    if np.isfinite(low) and low > 0 and total <= low + slack:
        return "at its minimum"
    if np.isfinite(high) and total >= high - slack:
        return "at its maximum"
    return "within its bounds"


def _groups_table(data: ReportData) -> Table | None:
    frame = data.tables.get("plan_groups")
    if frame is None or frame.empty:
        return None
    services = services_by_id(data)
    columns = ["Year", "Group", "Services", "Total", "Share of spend", "Minimum", "Maximum", "Against its bounds"]
    rows = []
    for _, r in frame.iterrows():
        low, high, total = _value(r, "min_gbp"), _value(r, "max_gbp"), _value(r, "total_gbp")
        rows.append([str(r["year"]), str(r["group"]), "; ".join(services.get(i, i) for i in _ids(r.get("services"))),
                     money(total), percent(_value(r, "share_of_spend")),
                     money(low) if np.isfinite(low) else "none", money(high) if np.isfinite(high) else "none",
                     _against_bounds(total, low, high)])
    return Table("plan_groups", "Service groups", "Each group's total in each year against the bounds set on it.",
                 columns, rows, [False] * 3 + [True] * 4 + [False])


def _moves_table(data: ReportData) -> Table | None:
    frame = data.tables.get("plan_waterfall_moves")
    if frame is None or frame.empty:
        return None
    years = list(dict.fromkeys(frame["year"].astype(str)))
    steps = list(dict.fromkeys(frame["step"].astype(str)))
    into = frame.assign(year=frame["year"].astype(str), step=frame["step"].astype(str)).pivot(
        index="step", columns="year", values="into_areas_gbp")
    rows = [[step] + [money(float(into.loc[step, y])) for y in years] for step in steps]
    return Table("plan_waterfall_moves", "What moves the money, year by year",
                 "Each year from the year before (the first from 'before'): the money each step moves into the "
                 "areas that gain (as much moves out of the others, plus any change in the budget). The steps "
                 "go to the need-weighted target, then add floors and caps, locked lines, the proportionality "
                 "rule and the year-on-year pace of change, each closest to the target; the last is the plan's "
                 "objective with its other rules (streams, service groups, convergence, carry-over).",
                 ["Step"] + years, rows, [False] + [True] * len(years))


# -- the chart -----------------------------------------------------------------------------------
def glide_path_chart(data: ReportData, charts) -> str:
    """Two small panels by year, from 'before': the distance from need-weighted targets and the SII,
    each from zero, each point labelled.  ``charts`` turns the figure into SVG (`allocator.reports.html.Charts`)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    frame, units = data.tables["plan_years"], _units(data)
    labels = [str(y) for y in frame["year"]]
    x = np.arange(len(labels))
    fig = Figure(figsize=(WIDTH, 3.0))
    axes = fig.subplots(1, 2, gridspec_kw={"wspace": 0.3})
    panels = (("distance_from_target_share", "Distance from need-weighted targets", _percents),
              ("sii_outcome", f"SII in the outcome ({units})", lambda values: [plain(v, 4) for v in values]))
    for ax, (column, title, show) in zip(axes, panels):
        values = frame[column].to_numpy(float) if column in frame else np.full(len(x), np.nan)
        starts = labels[0] == "Before"
        ax.plot(x[starts:], values[starts:], color=LINE, marker="o", lw=1.5, ms=5)
        if starts and len(x) > 1:
            ax.plot(x[:2], values[:2], color=START, ls="--", lw=1.2)
            ax.plot(x[:1], values[:1], "o", color=START, mfc="white", ms=6)
        for xi, v in zip(x, values):
            if np.isfinite(v):
                ax.annotate(show([v])[0], (xi, v), xytext=(0, 6 if v >= 0 else -12), textcoords="offset points",
                            ha="center", fontsize=8)
        finite = values[np.isfinite(values)]
        low, high = (min(0.0, finite.min()), max(0.0, finite.max())) if finite.size else (0.0, 1.0)
        pad = 0.18 * ((high - low) or 1.0)
        ax.set_ylim(low - (pad if low < 0 else 0), high + (pad if high > 0 else 0))  # zero shown: no exaggeration
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _, show=show: show([v])[0]))
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_xlim(-0.4, len(x) - 0.6)
        ax.set_title(title, loc="left")
    return charts.svg(fig, CHART_TITLE,
                      f"Two line charts by year, from 'before' (hollow grey point) through {len(x) - 1} years of the "
                      "plan: the distance from need-weighted targets as a share of spend, and the slope index of "
                      f"inequality in the outcome ({units}); both axes start at zero. The numbers are in the table "
                      "'Year by year'.")
