"""The monitoring report: ``monitor.html``, one page a health and wellbeing board can receive each quarter.

It leads with what the result means in words, the sentences ``allocator monitor`` prints
(`allocator.reports.monitor_tables.lead_lines`); then spend against the plan (each year,
service, area off plan and funding stream), spend per head by deprivation group, the rules in
what was spent, whether spend stayed proportionate to need, the gradient's trend and, with
``[disaggregation]``, who received what by population group; last, what the figures rest on
(the files, the thresholds, the notes).  Every red/amber/green flag is a word as well as a
colour, never colour alone.  The two charts (`allocator.reports.monitor_charts`) start their
axes at zero.

The page is self-contained, in the style of the run's ``brief.html``: inline CSS and SVG, no
script (its Content-Security-Policy forbids any), every name from the input escaped, every
number through `allocator.format`; the same monitoring gives the same bytes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.analysis.disaggregate import METHOD
from allocator.analysis.monitor import Monitoring
from allocator.format import aligned, change, gbp, number, percent, plain
from allocator.reports.html import CSP, CSS, RC, Charts, esc
from allocator.reports.markdown import measure_name
from allocator.reports.monitor_charts import spend_chart, trend_chart
from allocator.reports.monitor_tables import (
    RULE_WORDS,
    SHOWN,
    lead_lines,
    spent_years,
    threshold_text,
)
from allocator.scenario.monitor_settings import THRESHOLDS
from allocator.version import __version__

TITLE = "The plan against what was spent and observed"
AREAS_SHOWN = 20  # areas off plan listed on the page (every area is in the CSV and the workbook)
RAG = "RAG"  # the header of a column of flags: each cell a word and a colour
WORDS = {"green": "Green", "amber": "Amber", "red": "Red", "not reported": "Not reported"}
CAVEAT = ("Over the areas that reported every line only: the people of an area that did not are left out of both "
          "the planned and the actual figures, so the groups compare like with like.")
MONITOR_CSS = """
.rag{font-weight:600;white-space:nowrap}
.rag-green{background:#d5ecd4}
.rag-amber{background:#fde8b0}
.rag-red{background:#f8d3cf}
.rag-none{color:#444;font-style:italic;font-weight:400}
.rag::before{display:inline-block;width:1.1em;font-weight:700}
.rag-green::before{content:"\\2713";content:"\\2713" / ""}
.rag-amber::before{content:"!";content:"!" / ""}
.rag-red::before{content:"\\2717";content:"\\2717" / ""}
ul.lead-lines li{margin:.4rem 0}
@media print{h2{break-before:auto}#brief{break-after:auto}
 .rag{print-color-adjust:exact;-webkit-print-color-adjust:exact}}
"""


# -- tables --------------------------------------------------------------------------------------
def _cell(column: str, value, numeric: bool, first: bool) -> str:
    if column == RAG:
        word = str(value)
        kind = word if word in ("green", "amber", "red") else "none"
        return f'<td class="rag rag-{kind}">{esc(WORDS.get(word, word))}</td>'
    attr = ' class="num"' if numeric else ""
    return f'<th scope="row"{attr}>{esc(value)}</th>' if first else f"<td{attr}>{esc(value)}</td>"


def table(key: str, caption: str, frame: pd.DataFrame, text: tuple[str, ...] = ()) -> str:
    """A table of formatted cells (strings), its first column the row's name; ``text``: the columns
    that are words (left-aligned; the others are numbers, right-aligned); a column headed `RAG` holds
    flags."""
    words = {frame.columns[0], RAG, *text}
    head = "".join(f'<th scope="col"{"" if c in words else " class=num"}>{esc(c)}</th>' for c in frame.columns)
    body = "".join("<tr>" + "".join(_cell(c, v, c not in words, j == 0) for j, (c, v) in
                                    enumerate(zip(frame.columns, row))) + "</tr>\n"
                   for row in frame.itertuples(index=False))
    return (f'<div class="table-wrap" tabindex="0"><table id="{key}"><caption>{esc(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table></div>")


def _gbp(value) -> str:
    return "not reported" if not np.isfinite(value) else gbp(value)


def _signed(value) -> str:
    return "n/a" if not np.isfinite(value) else number(value, "GBP", signed=True)


def _head(value) -> str:
    return number(value, "GBP per head")


def _with_year(m: Monitoring, frame: pd.DataFrame, view: dict) -> pd.DataFrame:
    """The view, with the year first when the plan has several."""
    first = dict(list(view.items())[:1])
    rest = dict(list(view.items())[1:])
    year = {"Year": frame["year"].astype(str).to_numpy()} if len(m.years) > 1 else {}
    return pd.DataFrame({**first, **year, **rest})


def _money(frame: pd.DataFrame) -> dict:
    """The money columns of a table of groups, formatted as the terminal formats them."""
    return {"Planned (lines compared)": frame["planned_compared_gbp"].map(gbp).to_numpy(),
            "Actual": frame["actual_gbp"].map(_gbp).to_numpy(), "Variance": frame["variance_gbp"].map(_signed).to_numpy(),
            "Variance %": frame["variance_pct"].map(change).to_numpy(), RAG: frame["rag"].to_numpy()}


def totals_table(m: Monitoring) -> str:
    t = m.totals
    view = {"Year": t["year"].astype(str).to_numpy(), "Planned in all": t["planned_gbp"].map(gbp).to_numpy(),
            **_money(t), "Areas reporting every line": [f"{r:,} of {a:,}" for r, a in zip(t["areas_reported"],
                                                                                           t["areas"])]}
    return table("monitor-totals", "Each year: planned, actual on the lines compared, and the variance (a line not "
                 "reported is not counted as an underspend).", pd.DataFrame(view), ("Areas reporting every line",))


def services_table(m: Monitoring, spent: list[str]) -> str:
    s = m.by_service[m.by_service["year"].isin(spent)]
    view = _with_year(m, s, {"Service": s["service_name"].astype(str).to_numpy(), **_money(s)})
    return table("monitor-services", f"Each service: more than {percent(m.settings.variance_amber)} off plan is "
                 f"amber, more than {percent(m.settings.variance_red)} red.", view, ("Year",))


def areas_table(m: Monitoring, spent: list[str]) -> str:
    a = m.by_area[m.by_area["year"].isin(spent)]
    off = a[a["rag"].isin(["red", "amber"])]
    off = off.reindex(off["variance_pct"].abs().sort_values(ascending=False, kind="stable").index)
    silent = a[a["reported"] == "none"]
    shown = pd.concat([off, silent]).head(AREAS_SHOWN)
    label = m.group_column.removeprefix("deprivation_")
    if shown.empty:
        return (f"<p>Every area compared spent within {esc(percent(m.settings.variance_amber))} of its plan; every "
                "area is in monitor_by_area.csv and the workbook's Areas sheet.</p>")
    view = _with_year(m, shown, {"Area": shown["area_name"].astype(str).to_numpy(),
                                 label.capitalize(): shown[m.group_column].map(lambda v: f"{int(v)}").to_numpy(),
                                 "Planned in all": shown["planned_gbp"].map(gbp).to_numpy(), **_money(shown)})
    more = len(off) + len(silent) - len(shown)
    return table("monitor-areas", f"Areas more than {percent(m.settings.variance_amber)} off plan, the largest "
                 f"first, then areas that reported no spend{f' ({more:,} more not shown)' if more > 0 else ''}; every "
                 "area is in monitor_by_area.csv and the workbook's Areas sheet.", view, ("Year",))


def streams_table(m: Monitoring, spent: list[str]) -> str | None:
    s = m.by_stream[m.by_stream["year"].isin(spent)] if len(m.by_stream) else m.by_stream
    if s.empty:
        return None
    view = _with_year(m, s, {"Funding stream": s["stream_name"].astype(str).to_numpy(), **_money(s)})
    return table("monitor-streams", "Each funding stream: what it was planned to pay on the lines compared, and "
                 "what it paid.", view, ("Year",))


def groups_table(m: Monitoring, spent: list[str]) -> str:
    g = m.by_group[m.by_group["year"].isin(spent)]
    label = m.group_column.removeprefix("deprivation_")
    names = [f"{int(v)}" + (" (most deprived)" if int(v) == 1 else "") for v in g[m.group_column]]
    view = _with_year(m, g, {label.capitalize(): names, "Areas": g["areas"].map(lambda v: f"{int(v):,}").to_numpy(),
                             "Planned per head": g["planned_per_head_gbp"].map(_head).to_numpy(),
                             "Actual per head": g["actual_per_head_gbp"].map(_head).to_numpy(), **_money(g)})
    return table("monitor-groups", f"Spend by deprivation {label}, 1 = most deprived; per head over the areas that "
                 "reported every line.", view, ("Year",))


def rules_table(m: Monitoring, spent: list[str]) -> str:
    r = m.rules[m.rules["year"].isin(spent)]
    view = _with_year(m, r, {"Rule": [RULE_WORDS.get(x, x).capitalize() for x in r["rule"]],
                             "What it asks": r["description"].astype(str).to_numpy(),
                             "Checked": [f"{int(n):,} {c}" for n, c in zip(r["checked"], r["checks"])],
                             "Breaches": r["breaches"].map(lambda v: f"{int(v):,}").to_numpy(),
                             "Held": np.where(r["held"].astype(bool), "held", "broke"), RAG: r["rag"].to_numpy()})
    return table("monitor-rules", f"Whether each rule held in what was spent (a limit missed by at most "
                 f"{percent(m.settings.rule_tolerance)} of it still holds; the need ordering breaks where an area got "
                 f"less than {percent(1 - m.settings.ordering_tolerance)} of the units per head of a less needy one).",
                 view, ("Year", "What it asks", "Held"))


def breaches_table(m: Monitoring) -> str | None:
    b = m.breaches.sort_values("beyond_pct", ascending=False, kind="stable").head(SHOWN)
    if b.empty:
        return None
    label = m.group_column.removeprefix("deprivation_")

    def amount(v, units):
        return "" if pd.isna(v) else gbp(v) if units == "GBP" else plain(v, 4)

    view = _with_year(m, b, {
        "Rule": [RULE_WORDS.get(x, x).capitalize() for x in b["rule"]],
        "Service": b["service_name"].map(lambda v: "" if pd.isna(v) else str(v)).to_numpy(),
        "Area": [("" if pd.isna(a) else str(a)) + ("" if pd.isna(g) else f" ({label} {int(g)})")
                 for a, g in zip(b["area_name"], b["deprivation_group"])],
        "Value": [amount(v, u) for v, u in zip(b["value"], b["units"])],
        "Limit": [amount(v, u) for v, u in zip(b["limit"], b["units"])],
        "Units": b["units"].astype(str).to_numpy(),
        "Less needy area that got more": [("" if pd.isna(a) else str(a)) + (
            f" (+{int(n) - 1:,} more)" if not pd.isna(n) and n > 1 else "")
            for a, n in zip(b["counterpart_area_name"], b["pairs"])]})
    return table("monitor-breaches", f"The {len(b)} largest breaches of {len(m.breaches):,} (beyond their limit, "
                 "the most first); every one is in monitor_breaches.csv and the workbook.", view,
                 ("Year", "Service", "Area", "Units", "Less needy area that got more"))


def _measure(name: str, value) -> str:
    if name == "share_of_spend_most_deprived_fifth":
        return percent(value)
    if name == "proportionality_index":
        return number(value, "GBP per head")
    return plain(value, 3)


def measures_table(m: Monitoring) -> str | None:
    r = m.measures
    if r.empty:
        return None
    view = _with_year(m, r, {"Measure": [measure_name(x) for x in r["measure"]],
                             "Planned": [_measure(x, v) for x, v in zip(r["measure"], r["planned"])],
                             "Actual": [_measure(x, v) for x, v in zip(r["measure"], r["actual"])],
                             "Amber beyond": [_threshold(x, v, u) for x, v, u in zip(r["measure"], r["amber"],
                                                                                     r["worse_by_units"])],
                             "Red beyond": [_threshold(x, v, u) for x, v, u in zip(r["measure"], r["red"],
                                                                                   r["worse_by_units"])],
                             RAG: r["rag"].to_numpy()})
    areas = int(r["areas"].iloc[0])
    return table("monitor-measures", f"Planned against actual, over the {areas:,} areas that reported every line; "
                 "each flag is set by how far the measure moved the wrong way.", view,
                 ("Year", "Amber beyond", "Red beyond"))


def _threshold(name: str, value: float, units: str) -> str:
    if units == "share of planned":
        return f"{percent(value)} worse"
    if units == "share":
        return f"{plain(value * 100, 3)} percentage points worse"
    return f"{plain(value, 3)} worse"


def trend_table(m: Monitoring) -> str:
    t = m.trend.sort_values("order", kind="stable")
    within = t["projected_within_limits"].map(lambda v: "" if pd.isna(v) else "yes" if v else "no")
    view = pd.DataFrame({
        "Year": t["year"].astype(str).to_numpy(), "Source": t["source"].astype(str).to_numpy(),
        "Areas": t["areas"].map(lambda v: f"{int(v):,}").to_numpy(), "SII": t["sii"].map(lambda v: plain(v, 4)).to_numpy(),
        "Confidence limits": [f"{plain(lo, 4)} to {plain(hi, 4)}" if np.isfinite(lo) else ""
                              for lo, hi in zip(t["sii_lower"], t["sii_upper"])],
        "RII": t["rii"].map(lambda v: plain(v, 4)).to_numpy(),
        "Gap (least − most deprived)": t["gap_absolute"].map(lambda v: plain(v, 4)).to_numpy(),
        "Projected over the same areas": t["projected_sii"].map(lambda v: "" if pd.isna(v) else plain(v, 4)).to_numpy(),
        "Projection within the limits": within.to_numpy()})
    units = m.scenario.gradient.outcome_units or "outcome units"
    return table("monitor-trend", f"The gradient by year, in {units}: baseline, projected by the plan, observed "
                 "(with PHE's confidence limits where the areas gave standard errors or counts).", view,
                 ("Source", "Confidence limits", "Projection within the limits"))


def population_tables(m: Monitoring, spent: list[str]) -> list[str]:
    """One table per dimension of ``[disaggregation]``: each group's people and spend per head, planned
    and actual, over the areas that reported every line (none without it)."""
    p = m.by_population_group[m.by_population_group["year"].isin(spent)]
    out = []
    for k, (dimension, rows) in enumerate(p.groupby("dimension", sort=False)):
        ratios = aligned([*rows["planned_relative_to_average"], *rows["actual_relative_to_average"]], 3)
        relative = [f"{a}× → {b}×" for a, b in zip(ratios[:len(rows)], ratios[len(rows):])]
        view = _with_year(m, rows, {
            "Group": rows["group"].astype(str).to_numpy(),
            "People": rows["population"].map(lambda v: number(round(v))).to_numpy(),
            "Share of people": rows["share_of_population"].map(percent).to_numpy(),
            "Planned": rows["planned_gbp"].map(gbp).to_numpy(), "Actual": rows["actual_gbp"].map(_gbp).to_numpy(),
            "Planned per head": rows["planned_per_head_gbp"].map(_head).to_numpy(),
            "Actual per head": rows["actual_per_head_gbp"].map(_head).to_numpy(),
            "Change per head": rows["change_per_head_gbp"].map(lambda v: number(v, "GBP per head", signed=True)
                                                               ).to_numpy(),
            "Variance %": rows["variance_pct"].map(change).to_numpy(),
            "Against the average, planned → actual": relative, RAG: rows["rag"].to_numpy()})
        out.append(f"<h3>By {esc(str(dimension).lower())}</h3>" + table(
            f"monitor-population-{k + 1}", f"Spend by {str(dimension).lower()}, over the {int(rows['areas'].iloc[0]):,} "
            "areas that reported every line: an area-level estimate. The groups hold everyone once: their actual "
            "spend adds up to those areas'.", view, ("Year",)))
    return out


# -- the page ------------------------------------------------------------------------------------
def _figure(svg: str | None, caption: str) -> str:
    return "" if svg is None else f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"


def _thresholds(m: Monitoring) -> str:
    """The thresholds used, each with what it means."""
    rows = [(name, threshold_text(name, getattr(m.settings, name)), meaning)
            for name, (_, meaning) in THRESHOLDS.items() if name not in ("year", "baseline_year")]
    view = pd.DataFrame(rows, columns=["Threshold", "Value", "What it means"])
    return table("monitor-thresholds", "The thresholds of this report ([monitor] in scenario.toml, or --threshold).",
                 view, ("Value", "What it means"))


def sections(m: Monitoring) -> list[tuple[str, str, str]]:
    """(id, title, HTML) of each section of the page, in reading order."""
    spent = spent_years(m)
    label = m.group_column.removeprefix("deprivation_")
    with_rc = _charts(m)
    out = [("brief", "What it means", '<ul class="summary lead-lines">'
            + "".join(f"<li>{esc(line)}</li>" for line in lead_lines(m)) + "</ul>")]
    if spent:
        out.append(("spend", "Spend against the plan", "\n".join(
            x for x in (totals_table(m), services_table(m, spent), areas_table(m, spent), streams_table(m, spent))
            if x)))
        out.append(("groups", f"Spend per head by deprivation {label}", _figure(
            with_rc["spend"], f"Planned (hollow grey) and actual (blue) spend per head in each deprivation {label}; "
            "the axis starts at zero.") + groups_table(m, spent)))
        out.append(("rules", "The rules in what was spent",
                    rules_table(m, spent) + (breaches_table(m) or "<p>No breaches.</p>")))
        out.append(("proportionality", "Did spend stay proportionate to need?", measures_table(m) or
                    "<p>Proportionality could not be measured: fewer than two areas reported every line.</p>"))
    observed = ("and observed with its confidence limits" if (m.trend["source"] == "observed").any()
                else "(nothing observed yet)")
    out.append(("trend", "The gradient's trend", _figure(
        with_rc["trend"], f"The slope index of inequality by year: baseline, projected by the plan {observed}; the "
        "axis starts at zero, so a change is shown at its true size.") + trend_table(m)))
    population = population_tables(m, spent)
    if population:
        out.append(("population", "Who received what: population groups",
                    f'<p class="notes">{esc(METHOD)}</p><p class="notes">{esc(CAVEAT)}</p>' + "\n".join(population)))
    notes = "".join(f"<li>{esc(n)}</li>" for n in m.notes)
    out.append(("about", "About these figures", (f"<ul>{notes}</ul>" if notes else "") + "<p>Actual spend and outcomes "
                "from " + ", ".join(f"<code>{esc(f)}</code>" for f in m.files) + ".</p>" + _thresholds(m)))
    return out


def _charts(m: Monitoring) -> dict[str, str | None]:
    import matplotlib

    charts = Charts("monitor-chart")
    with matplotlib.rc_context(RC):
        return {"spend": spend_chart(m, charts), "trend": trend_chart(m, charts)}


def render_monitor_html(m: Monitoring) -> str:
    """The monitoring report as one self-contained HTML page.

    Examples
    --------
    >>> import allocator
    >>> m = allocator.monitor("scenarios/england-la", "scenarios/england-la/outturn.csv")
    >>> page = render_monitor_html(m)
    >>> page.startswith("<!DOCTYPE html>"), "<script" in page, "Spent £3.56bn of £3.60bn" in page
    (True, False, True)
    """
    s = m.scenario
    title = f"Monitoring: {s.name}"
    header = (f"<header><h1>{esc(title)}</h1><p class=\"subtitle\">{esc(TITLE)}, {esc(', '.join(m.years))}</p>"
              + (f'<p class="description">{esc(s.description)}</p>' if s.description else "") + "</header>")
    footer = [(f"Written by allocator {__version__}. Every table in full: monitor_*.csv and monitor.xlsx beside this "
               "page; what was monitored and the thresholds: monitor.json.")]
    if s.attribution:
        footer.append(s.attribution)
    parts = ["<!DOCTYPE html>", '<html lang="en-GB">', "<head>", '<meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{esc(title)}</title>",
             f"<style>{CSS}{MONITOR_CSS}</style>", "</head>", "<body>", header, "<main>"]
    for key, name, body in sections(m):
        parts.append(f'<section id="{key}" aria-labelledby="{key}-h"><h2 id="{key}-h">{esc(name)}</h2>\n{body}\n'
                     "</section>")
    parts += ["</main>", "<footer>" + "".join(f"<p>{esc(line)}</p>" for line in footer) + "</footer>", "</body>",
              "</html>"]
    return "\n".join(parts) + "\n"
