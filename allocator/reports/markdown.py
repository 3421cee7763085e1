"""The report's content as text and tables, and as GitHub-flavoured Markdown.

`content` turns `ReportData` into plain-text blocks and tables of formatted
cells; `render_markdown` writes them as Markdown and `allocator.reports.html` as HTML
(with charts), so the two reports always say the same thing.  Every cell and
sentence here is plain, unescaped text: each renderer escapes for its format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.format import money, number  # noqa: F401  (html.py reads them as text.number)
from allocator.reports.brief import Brief, brief, input_hashes, notes_from
from allocator.reports.plan_section import TITLE as PLAN_TITLE
from allocator.reports.plan_section import PlanText, plan_text
from allocator.reports.population_section import TITLE as POPULATION_TITLE
from allocator.reports.population_section import PopulationText, population_text
from allocator.reports.results import ReportData, Table

TOLERANCE_GBP = 0.5  # changes smaller than this count as unchanged (as allocator.analysis.compare)
TOP = 10  # largest gains and losses listed per option
MEASURES = {
    "sii_outcome": "Slope index of inequality (SII) in the outcome",
    "rii_outcome": "Relative index of inequality (RII) in the outcome",
    "rii_alternative_outcome": "RII in the outcome (SII / mean)",
    "gap_absolute_outcome": "Gap in the outcome, least minus most deprived group",
    "gap_relative_outcome": "Ratio of the outcome, least / most deprived group",
    "sii_spend_per_head": "SII in spend per head",
    "rii_spend_per_head": "RII in spend per head",
    "rii_alternative_spend_per_head": "RII in spend per head (SII / mean)",
    "gap_absolute_spend_per_head": "Gap in spend per head, least minus most deprived group",
    "gap_relative_spend_per_head": "Ratio of spend per head, least / most deprived group",
    "concentration_index_spend": "Concentration index of spend (below 0: towards the deprived)",
    "concentration_index_outcome": "Concentration index of the outcome",
    "proportionality_index": "Proportionality (spend per head per unit of need)",
    "share_of_spend_most_deprived_fifth": "Share of spend in the most deprived fifth",
    "mean_outcome": "Mean outcome",
    "total_gain": "Health gain over the universal floors (total)",
    "total_spend": "Total spend",
    "distance_from_target_gbp": "Distance from the fair shares",
}


def measure_name(measure: str) -> str:
    """A measure's plain name.

    >>> measure_name("atkinson_outcome_eps0.5")
    'Atkinson index of the outcome (inequality aversion 0.5)'
    """
    if measure in MEASURES:
        return MEASURES[measure]
    if measure.startswith("spend_group_"):
        return f"Spend on the '{measure[len('spend_group_'):]}' services"
    found = re.fullmatch(r"moved_(.+?)_to_(.+)", measure)
    if found:
        return f"Moved from '{found[1]}' to '{found[2]}' services (against last year's split)"
    found = re.fullmatch(r"(atkinson|ede)_(outcome|spend)_eps(.+)", measure)
    if found:
        what = "the outcome" if found[2] == "outcome" else "spend"
        if found[1] == "atkinson":
            return f"Atkinson index of {what} (inequality aversion {found[3]})"
        return f"Equally-distributed equivalent of {what} (inequality aversion {found[3]})"
    return measure.replace("_", " ").capitalize()


# -- the content -------------------------------------------------------------------------
@dataclass(frozen=True)
class Content:
    """Title, the brief, summary blocks (('p', text) or ('ul', [(lead, text), ...])) and tables."""

    title: str
    subtitle: str
    description: str
    summary: list[tuple]
    tables: list[Table]
    footer: list[str]
    brief: Brief | None = None
    plan: PlanText | None = None  # a plan's years, streams, partners and groups
    population: PopulationText | None = None  # spend and health by population group ([disaggregation])


def option_names(data: ReportData) -> list[str]:
    return [str(o) for o in data.meta.get("options", [])]


def scenario(data: ReportData) -> dict:
    return data.meta.get("scenario", {})


def group_label(data: ReportData, group, groups: list) -> str:
    """'1 (most deprived)', '5', '10 (least deprived)'."""
    text = str(group)
    if len(groups) > 1 and group == groups[0]:
        return text + " (most deprived)"
    if len(groups) > 1 and group == groups[-1]:
        return text + " (least deprived)"
    return text


def comparator(data: ReportData) -> str:
    before = scenario(data).get("comparator", "baseline")
    return ("this year's spend (the baseline table)" if before == "baseline"
            else "the same budget spread flat (equal units per head everywhere)")


def rows_of(frame: pd.DataFrame, option: str) -> pd.DataFrame:
    return frame[frame["option"].astype(str) == option]


def best_by_option(data: ReportData) -> dict[str, list[str]]:
    """For each option, the measures on which it is best (empty for a single run)."""
    metrics = data.tables.get("options_metrics")
    out = {name: [] for name in option_names(data)}
    if metrics is None or len(out) < 2:
        return out
    for row in metrics[metrics["best"].astype(bool)].itertuples(index=False):
        out.setdefault(str(row.option), []).append(measure_name(str(row.measure)))
    return out


def summary(data: ReportData) -> list[tuple]:
    s = scenario(data)
    names = option_names(data)
    blocks = []
    facts = []
    if s.get("budget_gbp") is not None:
        facts.append(f"Budget {money(float(s['budget_gbp']))} across {s.get('areas', '?')} areas and "
                     f"{s.get('services', '?')} services.")
    facts.append(f"'Before' is {comparator(data)}.")
    if s.get("outcome_label"):
        better = "higher" if s.get("higher_is_better", True) else "lower"
        facts.append(f"The outcome is {s['outcome_label']}; {better} is better.")
    facts.append(f"Areas are grouped into {s.get('groups', 'quantile')}s of deprivation; group 1 is the most "
                 "deprived.")
    blocks.append(("p", " ".join(facts)))
    headline = _headlines(data)
    if headline:
        blocks.append(("p", "What each option does:" if len(names) > 1 else "What the allocation does:"))
        blocks.append(("ul", headline))
    best = best_by_option(data)
    if len(names) > 1 and any(best.values()):
        blocks.append(("p", "Best option on each measure (where 'best' has a meaning):"))
        blocks.append(("ul", [(name, ", ".join(best[name]) + "." if best[name] else "best on no measure.")
                              for name in names]))
    explanations = data.meta.get("explanations") or {}
    free = sorted({str(t) for name in names for t in explanations.get(name, []) if "cost nothing" in str(t)})
    if free:
        blocks.append(("p", f"{len(free)} rules cost nothing under any option (the optimum meets them "
                            "anyway); the table 'The price of each rule' lists every rule."))
    return blocks


def _headlines(data: ReportData) -> list[tuple[str, str]]:
    frame = data.tables.get("options_summary")
    if frame is None:
        return []
    units = scenario(data).get("outcome_units", "")
    metrics = data.tables.get("options_metrics")
    share_before = None
    if metrics is not None:
        share = metrics[metrics["measure"] == "share_of_spend_most_deprived_fifth"]
        share_before = share["before"].iloc[0] if len(share) else None
    out = []
    for name in option_names(data):
        rows = rows_of(frame, name)
        if rows.empty:
            continue
        r = rows.iloc[0]
        parts = [f"{r['objective']} objective, {r['proportionality']} proportionality; "
                 f"allocates {money(float(r['allocated_gbp']))}",
                 f"health gain against 'before' {number(r['health_gain'], signed=True)} {units} × people",
                 f"SII in the outcome {number(r['sii_outcome_before'])} → {number(r['sii_outcome_after'])} "
                 f"{units}"]
        share = f"{number(r['share_most_deprived_fifth'], 'share')} of spend goes to the most deprived fifth"
        if share_before is not None:
            share += f" ({number(share_before, 'share')} before)"
        out.append((name, "; ".join(parts + [share]) + "."))
    return out


def content(data: ReportData, manifest: dict | None = None) -> Content:
    """Everything the report says, as plain text and formatted tables (``manifest``: the run's
    run.json, for the date and the inputs' hashes)."""
    s = scenario(data)
    builders = (_options_table, _measures_table, _by_group_tables, _service_table, _grouping_tables,
                _winner_count_table, _top_tables, _waterfall_tables, _prices_table)
    tables = []
    for build in builders:
        tables.extend(t for t in build(data) if t is not None)
    footer = [f"Made by allocator {data.meta.get('allocator', '')} from the scenario '{s.get('name', '')}'."]
    if s.get("attribution"):
        footer.append(f"Data: {s['attribution']}")
    notes = notes_from(manifest)
    footer += notes
    if input_hashes(manifest):
        footer.append("Input files (sha256): " + "; ".join(input_hashes(manifest)) + ".")
    subtitle = f"Scenario: {s['name']}" if s.get("name") and data.meta.get("kind") != "run" else ""
    return Content(title=str(data.meta.get("title", "Allocation report")), subtitle=subtitle,
                   description=str(s.get("description", "")), summary=summary(data), tables=tables,
                   footer=footer, brief=brief(data, notes) if option_names(data) else None, plan=plan_text(data),
                   population=population_text(data))


def _options_table(data):
    frame = data.tables.get("options_summary")
    if frame is None:
        return []
    units = scenario(data).get("outcome_units", "")
    columns = ["Option", "Objective", "Proportionality", "Allocated", f"Health gain against 'before' ({units} × people)",
               f"SII before ({units})", f"SII after ({units})", "Spend in most deprived fifth"]
    rows = []
    for name in option_names(data):
        for r in rows_of(frame, name).itertuples(index=False):
            rows.append([name, str(r.objective), str(r.proportionality), money(float(r.allocated_gbp)),
                         number(r.health_gain), number(r.sii_outcome_before), number(r.sii_outcome_after),
                         number(r.share_most_deprived_fifth, "share")])
    return [Table("options", "Options at a glance", "Each option's settings and headline results.",
                  columns, rows, [False] * 3 + [True] * 5)]


def _measures_table(data):
    metrics = data.tables.get("options_metrics")
    if metrics is None:
        return []
    names = option_names(data)
    order = list(dict.fromkeys(metrics["measure"].astype(str)))
    single = len(names) == 1
    columns = ["Measure", "Units", "Before"] + (["After", "Change"] if single else names)
    rows, best = [], []
    for measure in order:
        here = metrics[metrics["measure"].astype(str) == measure]
        units = str(here["units"].iloc[0])
        by_option = {str(r.option): r for r in here.itertuples(index=False)}
        first = by_option.get(names[0]) if names else None
        row = [measure_name(measure), units, number(first.before if first is not None else None, units)]
        if single:
            row += [number(first.after, units), number(first.change, units, signed=True)]
            marks = [False] * 5
        else:
            row += [number(by_option[n].after, units) if n in by_option else "n/a" for n in names]
            marks = [False] * 3 + [bool(by_option[n].best) if n in by_option else False for n in names]
        rows.append(row)
        best.append(marks)
    caption = ("Each measure before and after." if single else
               "Each measure before and under each option; the best option on each measure is in bold and "
               "starred.")
    return [Table("measures", "The measures side by side", caption, columns, rows,
                  [False, False] + [True] * (len(columns) - 2), best)]


def _by_group_tables(data):
    s = scenario(data)
    out = []
    specs = (("spend_by_group", "Spend per head by deprivation group",
              "Spend per head (GBP) in each deprivation group, before and under each option.", "GBP per head"),
             ("outcome_by_group", "Outcome by deprivation group",
              f"{s.get('outcome_label', 'Outcome')} in each deprivation group, before and after each option.",
              "outcome"))
    for key, title, caption, units in specs:
        frame = data.tables.get(key)
        if frame is None:
            continue
        groups = frame.iloc[:, 0].tolist()
        # columns by position: an option may be called 'before' or 'population'
        values = frame.iloc[:, 2:]
        before = f"Before ({s.get('comparator', 'baseline')})"
        columns = [s.get("groups", "group").capitalize(), "Population", before] + [
            str(c) for c in frame.columns[3:]]
        rows = []
        for i, group in enumerate(groups):
            cells = [f"{v:,.3f}" if units == "outcome" else number(v, units) for v in values.iloc[i]]
            rows.append([group_label(data, group, groups), f"{frame.iloc[i, 1]:,.0f}"] + cells)
        out.append(Table(key, title, caption, columns, rows, [False] + [True] * (len(columns) - 1)))
    return out


def _service_table(data):
    """Spend by service: before and under each option (from the allocation table)."""
    frame = data.tables.get("options_allocation")
    if frame is None or frame.empty:
        return []
    names = option_names(data)
    first = rows_of(frame, names[0])
    services = list(dict.fromkeys(first["service_id"].astype(str)))
    labels = dict(zip(first["service_id"].astype(str), first["service_name"].astype(str)))
    before = "baseline_spend_gbp" if "baseline_spend_gbp" in first else None
    columns = ["Service"] + (["Before"] if before else []) + [f"{n}" for n in names] + (
        [f"{names[0]}: change"] if before else [])
    rows = []
    for service in services:
        spend = [rows_of(frame, n).loc[lambda f: f["service_id"].astype(str) == service, "spend_gbp"].sum()
                 for n in names]
        row = [str(labels.get(service, service))]
        if before:
            base = first.loc[first["service_id"].astype(str) == service, before].sum()
            row += [money(base)] + [money(v) for v in spend] + [money(spend[0] - base, signed=True)]
        else:
            row += [money(v) for v in spend]
        rows.append(row)
    return [Table("by_service", "Spend by service", "Each service's total spend, before and under each option.",
                  columns, rows, [False] + [True] * (len(columns) - 1))]


def _grouping_tables(data):
    """Spend per head by each grouping column of the scenario (region, ICB, ...), by option."""
    out = []
    names = option_names(data)
    for key in sorted(k for k in data.tables if k.startswith("options_by_") and k != "options_by_area"):
        frame = data.tables[key]
        if frame.empty or len(frame.columns) < 2:
            continue
        column = str(frame.columns[1])
        first = rows_of(frame, names[0])
        places = first[column].astype(str).tolist()
        before = "baseline_spend_per_head_gbp" if "baseline_spend_per_head_gbp" in first else None
        columns = [column.replace("_", " ").capitalize(), "Areas", "Population"] + (
            ["Before (£ per head)"] if before else []) + [f"{n} (£ per head)" for n in names]
        rows = []
        for place, r in zip(places, first.itertuples(index=False)):
            cells = [place, f"{int(r.areas):,}", f"{float(r.population):,.0f}"]
            if before:
                cells.append(number(getattr(r, before), "GBP per head"))
            for n in names:
                here = rows_of(frame, n)
                value = here.loc[here[column].astype(str) == place, "spend_per_head_gbp"]
                cells.append(number(value.iloc[0], "GBP per head") if len(value) else "n/a")
            rows.append(cells)
        out.append(Table(key.removeprefix("options_"), f"Spend per head by {column.replace('_', ' ')}",
                         f"Spend per head in each {column.replace('_', ' ')}, before and under each option.",
                         columns, rows, [False] + [True] * (len(columns) - 1)))
    return out


def _winner_count_table(data):
    frame = data.tables.get("winners_losers_by_group")
    if frame is None:
        return []
    names = option_names(data)
    groups = sorted(frame["deprivation_group"].unique().tolist())
    columns = [scenario(data).get("groups", "group").capitalize()]
    for name in names:
        columns += [f"{name}: gain", f"{name}: lose"] if len(names) > 1 else ["Gain", "Lose"]
    rows = []
    for group in groups:
        row = [group_label(data, group, groups)]
        for name in names:
            here = rows_of(frame, name)
            here = here[here["deprivation_group"] == group]
            row += [str(int(here["gain"].sum())), str(int(here["lose"].sum()))]
        rows.append(row)
    return [Table("winners_by_group", "Areas gaining and losing, by deprivation group",
                  "How many areas in each deprivation group gain or lose money against 'before' "
                  f"(changes under {money(1)} count as unchanged).", columns, rows,
                  [False] + [True] * (len(columns) - 1))]


def top_changes(data: ReportData, name: str) -> pd.DataFrame:
    """The option's largest gains (descending), then its largest losses (most negative first)."""
    frame = rows_of(data.tables["winners_losers"], name)
    gains = frame[frame["change_gbp"] > TOLERANCE_GBP].sort_values(
        ["change_gbp", "area_id"], ascending=[False, True], kind="stable").head(TOP)
    losses = frame[frame["change_gbp"] < -TOLERANCE_GBP].sort_values(
        ["change_gbp", "area_id"], ascending=[True, True], kind="stable").head(TOP)
    return pd.concat([gains, losses], ignore_index=True)


def _top_tables(data):
    if "winners_losers" not in data.tables:
        return []
    out = []
    for i, name in enumerate(option_names(data)):
        top = top_changes(data, name)
        rows = [[str(r.area_name), str(r.deprivation_group), money(r.before_gbp), money(r.spend_gbp),
                 money(r.change_gbp, signed=True), f"{r.change_pct:+.1f}%" if pd.notna(r.change_pct) else "n/a"]
                for r in top.itertuples(index=False)]
        out.append(Table(f"top_{i + 1}", f"Largest gains and losses: {name}",
                         f"The {TOP} areas gaining most and the {TOP} losing most under {name}, against 'before'.",
                         ["Area", "Group", "Before", "After", "Change", "Change %"], rows,
                         [False] + [True] * 5))
    return out


def illustrative_areas(data: ReportData, limit: int = 4) -> list[str]:
    """Area ids for waterfalls: under the first option, the largest gain, the largest loss, the
    largest area (by spend before) and the area of median change, each not already picked."""
    water = data.tables["waterfall"]
    areas = [a for a in dict.fromkeys(water["area_id"].astype(str)) if a != "ALL"]
    winners = data.tables.get("winners_losers")
    names = option_names(data)
    orders = [areas]
    if winners is not None and names:
        w = rows_of(winners, names[0]).astype({"area_id": str})
        w = w[w["area_id"].isin(areas)].sort_values(["change_gbp", "area_id"], kind="stable")
        by_size = w.sort_values(["before_gbp", "area_id"], ascending=[False, True], kind="stable")
        middle = w.iloc[(np.abs(np.arange(len(w)) - len(w) // 2)).argsort(kind="stable")]
        orders = [w["area_id"][::-1].tolist(), w["area_id"].tolist(), by_size["area_id"].tolist(),
                  middle["area_id"].tolist()] + orders
    picks = []
    for order in orders * limit:
        fresh = [a for a in order if a not in picks]
        if fresh and len(picks) < min(limit, len(areas)):
            picks.append(fresh[0])
    return picks


def waterfall_steps(data: ReportData, name: str, area_id: str) -> pd.DataFrame:
    water = rows_of(data.tables["waterfall"], name)
    return water[water["area_id"].astype(str) == area_id][["area_name", "step", "amount_gbp"]]


def _waterfall_tables(data):
    if "waterfall" not in data.tables:
        return []
    areas = ["ALL"] + illustrative_areas(data)
    out = []
    for i, name in enumerate(option_names(data)):
        parts = [waterfall_steps(data, name, a) for a in areas]
        parts = [p for p in parts if len(p)]
        if not parts:
            continue
        steps = parts[0]["step"].astype(str).tolist()
        columns = ["Step"] + [str(p["area_name"].iloc[0]) for p in parts]
        rows = []
        for k, step in enumerate(steps):
            ends = step.startswith(("start:", "end:"))
            amounts = [money(float(p["amount_gbp"].iloc[k]), signed=not ends) if k < len(p) else "" for p in parts]
            rows.append([step[:1].upper() + step[1:]] + amounts)
        out.append(Table(f"waterfall_{i + 1}", f"From 'before' to the allocation: {name}",
                         "Each step is the change made by adding one family of rules; the steps add up to the "
                         "area's change.", columns, rows, [False] + [True] * (len(columns) - 1)))
    return out


def _prices_table(data):
    frame = data.tables.get("prices")
    if frame is None or frame.empty:
        return []
    rows = []
    for name in option_names(data):
        for r in rows_of(frame, name).itertuples(index=False):
            noise = (not str(r.rule).startswith("budget") and pd.notna(r.cost) and pd.notna(r.without)
                     and abs(r.cost) <= 1e-6 * max(1.0, abs(r.without)))
            rows.append([name, str(r.rule), number(r.without), "0" if noise else number(r.cost)])
    return [Table("prices", "The price of each rule",
                  "The objective with the rule relaxed, and what the rule costs in the objective (health gain "
                  "in outcome x people, or GBP of distance from fair shares); for 'budget (+£1)', the objective "
                  "with one more pound and what that pound buys. The summary says it in words.",
                  ["Option", "Rule", "Objective with the rule relaxed", "Cost of the rule"], rows,
                  [False, False, True, True])]


# -- Markdown ----------------------------------------------------------------------------
_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~#])")


def md_text(text: str, block: bool = False) -> str:
    r"""Text that Markdown shows as written: markup characters escaped, newlines as spaces.

    >>> md_text("<script>alert(1)</script> | *x*")
    '\\<script\\>alert(1)\\</script\\> \\| \\*x\\*'
    """
    text = " ".join(str(text).split())
    text = _SPECIAL.sub(r"\\\1", text)
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", text) if block else text  # '1. x' is no list item


def md_table(table: Table) -> list[str]:
    lines = ["| " + " | ".join(md_text(c) for c in table.columns) + " |",
             "|" + "|".join("---:" if n else ":---" for n in table.numeric) + "|"]
    for i, row in enumerate(table.rows):
        marks = table.best[i] if table.best else [False] * len(row)
        cells = [f"**{md_text(c)}** \\*" if m else md_text(c) for c, m in zip(row, marks)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def md_brief(b: Brief) -> list[str]:
    """The brief in Markdown: lead, verdict, one bullet per option, the table, the rules, notes."""
    out = ["## The brief", "", md_text(b.lead, block=True), ""]
    out += [md_text(line, block=True) for line in b.verdict] + ([""] if b.verdict else [])
    out += [f"- **{md_text(name)}**: {md_text(says)}" for name, says in b.options] + [""]
    out += md_table(Table("brief", "", "", b.columns, b.rows, [False] + [True] * (len(b.columns) - 1))) + [""]
    out += ["Rules that bind, and what they cost:", ""]
    out += [f"- **{md_text(name)}**: {md_text(rules)}" for name, rules in b.rules] + [""]
    out += [md_text(line, block=True) for line in b.notes] + ([""] if b.notes else [])
    return out


def md_plan(plan: PlanText) -> list[str]:
    """The plan in Markdown: the lead, its rules, the tables (the HTML adds the glide-path chart)."""
    out = [f"## {md_text(PLAN_TITLE)}", "", md_text(plan.lead, block=True), ""]
    out += [f"- {md_text(rule, block=True)}" for rule in plan.rules] + ([""] if plan.rules else [])
    for table in plan.tables:
        out += [f"### {md_text(table.title)}", "", md_text(table.caption, block=True), ""] + md_table(table) + [""]
    return out


def md_population(population: PopulationText) -> list[str]:
    """The population groups in Markdown: a sentence per dimension, the method, the tables (the HTML adds a chart)."""
    out = [f"## {md_text(POPULATION_TITLE)}", ""]
    out += [md_text(line, block=True) for line in population.lead] + [""]
    out += [f"*{md_text(population.method)}*", ""]
    for table in population.tables:
        out += [f"### {md_text(table.title)}", "", md_text(table.caption, block=True), ""] + md_table(table) + [""]
    return out


def render_markdown(data: ReportData, manifest: dict | None = None) -> str:
    """The report as GitHub-flavoured Markdown: the same text and tables as the HTML, no charts.

    Examples
    --------
    >>> data = ReportData(meta={"title": "A | B", "options": []}, tables={})
    >>> render_markdown(data).splitlines()[0]
    '# A \\\\| B'
    """
    c = content(data, manifest)
    out = [f"# {md_text(c.title)}", ""]
    if c.subtitle:
        out += [f"*{md_text(c.subtitle)}*", ""]
    if c.description:
        out += [md_text(c.description), ""]
    if c.brief is not None:
        out += md_brief(c.brief)
    if c.plan is not None:
        out += md_plan(c.plan)
    out += ["## Detail", ""]
    for kind, body in c.summary:
        if kind == "p":
            out += [md_text(body, block=True), ""]
        else:
            out += [f"- **{md_text(lead)}**: {md_text(text)}" if lead else f"- {md_text(text, block=True)}"
                    for lead, text in body] + [""]
    if c.population is not None:
        out += md_population(c.population)
    out += ["## Tables", ""]
    for table in c.tables:
        out += [f"### {md_text(table.title)}", "", md_text(table.caption, block=True), ""]
        out += md_table(table) if table.rows else ["(no rows)"]
        out.append("")
    out += ["---", ""] + [md_text(line, block=True) + "  " for line in c.footer]
    return "\n".join(out).rstrip() + "\n"
