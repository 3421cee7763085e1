"""The report as one self-contained HTML file: text, tables and inline SVG charts.

The text and tables are `allocator.reports.markdown.content`, so the HTML and Markdown
reports say the same thing.  Nothing is fetched when the file is opened: the CSS
is inline, the charts are SVG drawn by matplotlib with text kept as text, and
there is no script at all (a Content-Security-Policy forbids any).  Every name
from the input is escaped, in the page and inside the charts, and the same data
gives the same bytes.
"""

from __future__ import annotations

import html
import io
import re
import textwrap

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from allocator.format import gbp, plain, short_gbp
from allocator.reports import markdown as text
from allocator.reports.html_parts import SCRIPT, brief_section, find_my_area, maps_section, script_hash
from allocator.reports.plan_section import TITLE as PLAN_TITLE
from allocator.reports.plan_section import glide_path_chart
from allocator.reports.population_section import TITLE as POPULATION_TITLE
from allocator.reports.population_section import population_chart
from allocator.reports.results import ReportData

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")  # Okabe-Ito
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
BEFORE, GAIN, LOSS = "#6b6b6b", "#0072B2", "#D55E00"
WIDTH = 8.0  # inches, at 72 pt per inch: 768 px on screen, scaled to the page width in print
RC = {"svg.fonttype": "none",  # text stays text: searchable, and escaped by matplotlib's XML writer
      "text.parse_math": False,  # a '$' in a name is a dollar, not mathtext
      "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
      "font.size": 9, "axes.titlesize": 10, "axes.spines.top": False, "axes.spines.right": False,
      "axes.grid": True, "axes.grid.axis": "y", "grid.color": "#dddddd", "grid.linewidth": 0.6,
      "axes.axisbelow": True, "legend.frameon": False, "figure.dpi": 72, "savefig.dpi": 72}
SHORT_STEPS = {"need-weighted target": "Need target", "floors and caps": "Floors, caps",
               "locked lines": "Locked lines", "proportionality": "Proportionality",
               "pace of change": "Pace of change", "objective": "Objective"}

CSS = """
:root{color-scheme:light}
body{margin:0;background:#fff;color:#1a1a1a;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
 "Helvetica Neue",Arial,sans-serif}
header,nav,main,footer{max-width:64rem;margin:0 auto;padding:0 1.25rem}
h1{font-size:1.9rem;line-height:1.2;margin:1.5rem 0 .3rem}
h2{font-size:1.4rem;margin:2.5rem 0 .75rem;padding-bottom:.2rem;border-bottom:2px solid #0072B2}
h3{font-size:1.1rem;margin:1.75rem 0 .4rem}
.subtitle{color:#444;margin:0 0 .5rem;font-style:italic}
.description{color:#333}
nav ol{columns:2;font-size:.95rem}
a{color:#005a8c}
ul.summary li{margin:.25rem 0}
figure{margin:.5rem 0 1.5rem}
figure svg{display:block;max-width:100%;height:auto}
figcaption{font-size:.9rem;color:#333;margin-top:.3rem}
.table-wrap{overflow-x:auto;margin:.25rem 0 1.5rem;position:relative}
table{border-collapse:collapse;font-size:.85rem;font-variant-numeric:tabular-nums}
caption{caption-side:top;text-align:left;color:#333;padding:.2rem 0 .4rem;font-size:.9rem}
th,td{padding:.25rem .55rem;border-bottom:1px solid #d6d6d6;vertical-align:top;text-align:left}
thead th{background:#eef3f7;border-bottom:2px solid #9aa9b5}
tbody th{font-weight:400}
.num{text-align:right}
td.num{white-space:nowrap}
td.best{font-weight:700;background:#fff3cc;white-space:nowrap}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
footer{font-size:.8rem;color:#444;border-top:1px solid #ccc;margin-top:3rem;padding-bottom:2rem;
 overflow-wrap:anywhere}
.lead{font-size:1.05rem}
.verdict{border-left:4px solid #0072B2;background:#f2f7fb;padding:.4rem .9rem;margin:.75rem 0}
.verdict p{margin:.35rem 0;font-weight:600}
ul.options li,ul.rules li{margin:.35rem 0}
.notes{font-size:.85rem;color:#444}
.brief-table th[scope=row]{max-width:22rem}
.tall{max-height:32rem;overflow:auto}
.maps{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:0 1.5rem}
.maps h3{grid-column:1/-1}
figure.map svg{width:100%;height:auto}
#areas-table thead th{position:sticky;top:0}
th button{font:inherit;font-weight:700;background:none;border:0;padding:0;color:inherit;cursor:pointer;
 text-align:inherit}
#find-box{font:inherit;padding:.2rem .4rem;max-width:100%}
h1,h2,h3,p,li,caption{overflow-wrap:break-word}
@media (max-width:600px){h1{font-size:1.45rem}h2{font-size:1.2rem}body{font-size:15px}}
@media print{
 @page{size:A4;margin:14mm}
 body{font-size:10pt}
 header,nav,main,footer{max-width:none;padding:0}
 nav{display:none}
 h2{break-before:page;break-after:avoid}
 #brief h2{break-before:auto}
 #brief{break-after:page}
 .tall{max-height:none;overflow:visible}
 #areas,nav{display:none}
 @page{@bottom-right{content:"Page " counter(page) " of " counter(pages);font:8pt sans-serif;color:#444}}
 h3{break-after:avoid}
 figure,tr,li{break-inside:avoid}
 figure svg{width:100%}
 .table-wrap{overflow:visible}
 table{width:100%;font-size:8pt}
 td.num{white-space:normal}
 thead{display:table-header-group}
 thead th,td.best{print-color-adjust:exact;-webkit-print-color-adjust:exact}
 a{color:inherit;text-decoration:none}
}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def esc(value) -> str:
    """Text safe inside HTML content and quoted attributes."""
    return html.escape(str(value), quote=True)


# -- charts ------------------------------------------------------------------------------
class Charts:
    """Numbered SVG charts: each gets its own id prefix so ids never clash within the page."""

    def __init__(self, prefix: str = "chart"):
        self.count, self.prefix = 0, prefix

    def svg(self, fig: Figure, title: str, desc: str) -> str:
        self.count += 1
        name = f"{self.prefix}{self.count}"
        buffer = io.StringIO()
        with matplotlib.rc_context({"svg.hashsalt": name}):  # fixed salt: the same ids every time
            fig.savefig(buffer, format="svg", bbox_inches="tight",
                        metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
        svg = buffer.getvalue()
        svg = svg[svg.index("<svg"):]  # drop the XML declaration and DOCTYPE (which name a URL)
        svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg, count=2)  # implied in HTML
        used = set(re.findall(r"#([A-Za-z][\w.-]*)", svg))
        svg = re.sub(r'(<[A-Za-z][^<>]*?) id="([^"]*)"',  # in tags only: text has no raw '<'
                     lambda m: m[0] if m[2] in used else m[1], svg)
        head = (f' id="{name}" role="img" aria-labelledby="{name}-title {name}-desc">'
                f'<title id="{name}-title">{esc(title)}</title><desc id="{name}-desc">{esc(desc)}</desc>')
        return re.sub(r"\s*>", head, svg, count=1)


def _legend(ax, handles, labels, **kw):
    # explicit labels: matplotlib would drop a name that starts with '_'
    ax.legend(handles, [str(label) for label in labels], **kw)


def _group_ticks(ax, groups, data):
    ax.set_xticks(np.arange(len(groups)), [text.group_label(data, g, groups).replace(" (", "\n(")
                                           for g in groups], fontsize=7.5)


def _gradient_lines(ax, frame, data, before_label, formatter=None):
    groups = frame.iloc[:, 0].tolist()
    x = np.arange(len(groups))
    handles = [ax.plot(x, frame.iloc[:, 2], color=BEFORE, ls="--", marker="o", mfc="white", lw=1.5)[0]]
    for i in range(3, frame.shape[1]):
        k = (i - 3) % len(PALETTE)
        handles.append(ax.plot(x, frame.iloc[:, i], color=PALETTE[k], marker=MARKERS[k], lw=1.5, ms=4.5)[0])
    _group_ticks(ax, groups, data)
    if formatter:
        ax.yaxis.set_major_formatter(FuncFormatter(formatter))
    return handles, [before_label] + [str(c) for c in frame.columns[3:]]


def spend_chart(data: ReportData, charts: Charts) -> str:
    frame = data.tables["spend_by_group"]
    fig = Figure(figsize=(WIDTH, 3.4))
    ax = fig.subplots()
    before = f"Before ({text.scenario(data).get('comparator', 'baseline')})"
    handles, labels = _gradient_lines(ax, frame, data, before, lambda v, _: "£" + plain(v, 4))
    ax.set_ylim(bottom=0)  # spend from zero: the gradient at its true size
    ax.set_ylabel("Spend per head (£)")
    _legend(ax, handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=min(4, len(labels)))
    return charts.svg(fig, "Spend per head by deprivation group",
                      f"Line chart of spend per head in each {_groups(data)}, before and under "
                      f"{_names(data)}. The numbers are in the table 'Spend per head by deprivation group'.")


def outcome_chart(data: ReportData, charts: Charts) -> str:
    frame = data.tables["outcome_by_group"]
    s = text.scenario(data)
    fig = Figure(figsize=(WIDTH, 3.4))
    left, right = fig.subplots(1, 2, gridspec_kw={"wspace": 0.35})
    handles, labels = _gradient_lines(left, frame, data, "Before", lambda v, _: plain(v, 4))
    if np.nanmin(frame.iloc[:, 2:].to_numpy(float)) >= 0:
        left.set_ylim(bottom=0)  # levels from zero: the gap at its true size
    left.set_ylabel(f"{s.get('outcome_units', 'outcome')}")
    left.set_title("Level, before and after", loc="left")
    groups = frame.iloc[:, 0].tolist()
    n = frame.shape[1] - 3
    width = 0.8 / max(n, 1)
    for i in range(n):
        change = frame.iloc[:, 3 + i] - frame.iloc[:, 2]
        right.bar(np.arange(len(groups)) - 0.4 + width * (i + 0.5), change, width, color=PALETTE[i % len(PALETTE)])
    right.axhline(0, color="#333", lw=0.8)
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _: plain(v, 3)))
    _group_ticks(right, groups, data)
    right.set_title("Change from before", loc="left")
    right.set_ylabel(f"change ({s.get('outcome_units', '')})")
    _legend(fig, handles, labels, loc="lower center", bbox_to_anchor=(0.5, -0.12), ncols=min(4, len(labels)))
    return charts.svg(fig, f"{s.get('outcome_label', 'Outcome')} by deprivation group",
                      f"Two charts: the outcome in each {_groups(data)} before and after {_names(data)}, "
                      "and the change from before. The numbers are in the table 'Outcome by deprivation group'.")


def sii_chart(data: ReportData, charts: Charts) -> str | None:
    metrics = data.tables.get("options_metrics")
    if metrics is None:
        return None
    sii = metrics[metrics["measure"] == "sii_outcome"]
    names = [n for n in text.option_names(data) if n in set(sii["option"].astype(str))]
    if not names:
        return None
    s = text.scenario(data)
    fig = Figure(figsize=(WIDTH, 0.9 + 0.45 * len(names)))
    ax = fig.subplots()
    ax.grid(axis="x")
    ax.grid(axis="y", visible=False)
    for k, name in enumerate(names):
        row = text.rows_of(sii, name).iloc[0]
        y = len(names) - 1 - k
        ax.annotate("", (row["after"], y), (row["before"], y),
                    arrowprops={"arrowstyle": "->", "color": PALETTE[k % len(PALETTE)], "lw": 1.5})
        ax.plot([row["before"]], [y], "o", mfc="white", color=BEFORE, ms=7)
        ax.plot([row["after"]], [y], "o", color=PALETTE[k % len(PALETTE)], ms=7)
        ax.annotate(f"{text.number(row['before'])} → {text.number(row['after'])}",
                    (max(row["after"], row["before"]), y), xytext=(10, 0), textcoords="offset points",
                    ha="left", va="center", fontsize=8)
    ax.set_yticks(np.arange(len(names)), [_clip(n, 32) for n in names[::-1]])
    ax.set_ylim(-0.6, len(names) - 0.3)
    ends = np.concatenate([sii["before"].to_numpy(float), sii["after"].to_numpy(float), [0.0]])
    span = np.nanmax(ends) - np.nanmin(ends)
    ax.set_xlim(np.nanmin(ends) - 0.08 * span, np.nanmax(ends) + 0.08 * span)  # zero shown: no exaggeration
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: plain(v, 4)))
    label, units = s.get("outcome_label", "the outcome"), s.get("outcome_units", "")
    if units and f"({units})" not in label:
        label += f" ({units})"
    ax.set_xlabel(f"SII in {label}; hollow: before, filled: after; nearer 0 is more equal")
    return charts.svg(fig, "Slope index of inequality before and after",
                      "Dot chart of the slope index of inequality in the outcome before (hollow) and after "
                      f"(filled) under {_names(data)}. The numbers are in the table 'The measures side by side'.")


def winner_count_chart(data: ReportData, charts: Charts) -> str:
    frame = data.tables["winners_losers_by_group"]
    names = text.option_names(data)
    groups = sorted(frame["deprivation_group"].unique().tolist())
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(WIDTH, 2.6 * rows + 0.4))
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False).ravel())
    x = np.arange(len(groups))
    for ax, name in zip(axes, names):
        here = text.rows_of(frame, name).set_index("deprivation_group").reindex(groups, fill_value=0)
        gain = ax.bar(x, here["gain"], color=GAIN)
        lose = ax.bar(x, -here["lose"], color=LOSS)
        ax.axhline(0, color="#333", lw=0.8)
        ax.set_title(name, loc="left")
        ax.set_xticks(x, [str(g) for g in groups], fontsize=7.5)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):.0f}"))
    for ax in axes[len(names):]:
        ax.set_visible(False)
    axes[0].set_ylabel("areas losing ↓   areas gaining ↑")
    fig.supxlabel(f"deprivation {_groups(data)} (1 = most deprived)", fontsize=8.5)
    _legend(fig, [gain, lose], ["areas gaining", "areas losing"], loc="upper right", ncols=2,
            bbox_to_anchor=(1, 1.06))
    return charts.svg(fig, "Areas gaining and losing by deprivation group",
                      f"Bar charts, one per option, of how many areas in each {_groups(data)} gain (up) or "
                      "lose (down). The numbers are in the table 'Areas gaining and losing, by deprivation group'.")


def top_chart(data: ReportData, name: str, charts: Charts) -> str | None:
    top = text.top_changes(data, name)
    if top.empty:
        return None
    fig = Figure(figsize=(WIDTH, 0.8 + 0.2 * len(top)))
    ax = fig.subplots()
    y = np.arange(len(top))[::-1]
    change = top["change_gbp"].to_numpy(dtype=float)
    ax.barh(y, change, color=np.where(change > 0, GAIN, LOSS), height=0.7)
    ax.set_yticks(y, [f"{_clip(a)} ({g})" for a, g in zip(top["area_name"], top["deprivation_group"])], fontsize=7.5)
    for yi, v in zip(y, change):
        ax.annotate(text.money(v, signed=True), (v, yi), xytext=(3 if v > 0 else -3, 0),
                    textcoords="offset points", ha="left" if v > 0 else "right", va="center", fontsize=7)
    ax.axvline(0, color="#333", lw=0.8)
    ax.grid(axis="x")
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.18)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: gbp(v)))
    ax.set_xlabel(f"change in spend against 'before' (area's deprivation {_groups(data)} in brackets)")
    return charts.svg(fig, f"Largest gains and losses: {name}",
                      f"Bar chart of the areas gaining most and losing most under {name}. The numbers are in "
                      f"the table 'Largest gains and losses: {name}'.")


def waterfall_chart(data: ReportData, areas: list[str], charts: Charts) -> str | None:
    """One row per option, one column per area (all areas first): start, each step, end."""
    names = [n for n in text.option_names(data) if len(text.waterfall_steps(data, n, areas[0]))]
    areas = [a for a in areas if names and len(text.waterfall_steps(data, names[0], a))]
    if not names or not areas:
        return None
    fig = Figure(figsize=(WIDTH, 0.5 + 1.7 * len(names)))
    axes = fig.subplots(len(names), len(areas), sharex="col", sharey=True, squeeze=False,
                        gridspec_kw={"hspace": 0.3, "wspace": 0.15})
    spans = np.zeros((2, len(areas)))
    for r, name in enumerate(names):
        for c, area in enumerate(areas):
            part = text.waterfall_steps(data, name, area)
            ax = axes[r, c]
            ends = _waterfall(ax, part["step"].astype(str).tolist(), part["amount_gbp"].to_numpy(dtype=float))
            spans[:, c] = min(spans[0, c], ends.min()), max(spans[1, c], ends.max())
            if r == 0:
                ax.set_title(textwrap.fill(_clip(part["area_name"].iloc[0], 34), 18), loc="left", fontsize=8.5)
        axes[r, 0].set_ylabel(textwrap.fill(_clip(name, 40), 20), fontweight="bold", fontsize=8.5)
    for c in range(len(areas)):
        pad = 0.06 * (spans[1, c] - spans[0, c]) or 1.0
        axes[0, c].set_xlim(spans[0, c] - (pad if spans[0, c] < 0 else 0), spans[1, c] + pad)
    axes[0, 0].invert_yaxis()
    return charts.svg(fig, "From 'before' to the allocation",
                      f"Waterfall charts, one row per option ({_names(data)}), for all areas and "
                      f"{len(areas) - 1} illustrative areas: the start, the change made by each family of rules, "
                      "and the end. The numbers are in the tables 'From 'before' to the allocation'.")


def _waterfall(ax, steps: list[str], amounts: np.ndarray) -> np.ndarray:
    """Horizontal waterfall bars; returns where the bars start and end."""
    lefts, colours, level = [], [], 0.0
    for step, amount in zip(steps, amounts):
        ends = step.startswith(("start:", "end:"))
        lefts.append(0.0 if ends else level)
        colours.append(BEFORE if ends else GAIN if amount >= 0 else LOSS)
        level = amount if ends else level + amount
    y = np.arange(len(steps))
    ax.barh(y, amounts, left=lefts, color=colours, height=0.7)
    ax.set_yticks(y, [s.split(": ")[0].capitalize() if ":" in s else SHORT_STEPS.get(s, s) for s in steps],
                  fontsize=7.5)
    ax.grid(axis="x")
    ax.grid(axis="y", visible=False)
    ax.xaxis.set_major_locator(MaxNLocator(2))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: short_gbp(v)))
    ax.tick_params(axis="x", labelsize=7)
    return np.concatenate([lefts, np.add(lefts, amounts)])


def _clip(name, length: int = 40) -> str:
    """A name short enough for a chart label (the tables give it in full)."""
    name = " ".join(str(name).split())
    return name if len(name) <= length else name[:length - 1] + "…"


def _groups(data: ReportData) -> str:
    return str(text.scenario(data).get("groups", "group"))


def _names(data: ReportData) -> str:
    names = text.option_names(data)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# -- the page ----------------------------------------------------------------------------
NUM = ' class="num"'


def _table(table: text.Table) -> str:
    head = "".join(f'<th scope="col"{NUM if n else ""}>{esc(c)}</th>' for c, n in zip(table.columns, table.numeric))
    body = []
    for i, row in enumerate(table.rows):
        marks = table.best[i] if table.best else [False] * len(row)
        cells = []
        for j, (cell, numeric, best) in enumerate(zip(row, table.numeric, marks)):
            cls = " ".join(c for c in ("num" if numeric else "", "best" if best else "") if c)
            attr = f' class="{cls}"' if cls else ""
            inner = (f'<strong>{esc(cell)}</strong><span aria-hidden="true"> ★</span>'
                     f'<span class="sr-only"> (best)</span>' if best else esc(cell))
            cells.append(f'<th scope="row"{attr}>{inner}</th>' if j == 0 else f"<td{attr}>{inner}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<h3 id="{table.key}">{esc(table.title)}</h3>\n<div class="table-wrap" tabindex="0"><table>'
            f"<caption>{esc(table.caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>\n" + "\n".join(body) + "\n</tbody></table></div>")


def _figure(title: str, svg: str | None, caption: str, table_key: str) -> str:
    if svg is None:
        return ""
    return (f"<h3>{esc(title)}</h3>\n<figure>{svg}<figcaption>{esc(caption)} "
            f'<a href="#{table_key}">The numbers are in a table below.</a></figcaption></figure>')


def _summary(blocks) -> str:
    out = []
    for kind, body in blocks:
        if kind == "p":
            out.append(f"<p>{esc(body)}</p>")
        else:
            items = [f"<li><strong>{esc(lead)}</strong>: {esc(t)}</li>" if lead else f"<li>{esc(t)}</li>"
                     for lead, t in body]
            out.append('<ul class="summary">' + "".join(items) + "</ul>")
    return "\n".join(out)


def _charts(data: ReportData) -> list[tuple[str, str]]:
    """(section title, HTML) of each chart section, for the tables the data has."""
    charts, t, names = Charts(), data.tables, text.option_names(data)
    gradient, winners, why = [], [], []
    with matplotlib.rc_context(RC):
        if "spend_by_group" in t:
            gradient.append(_figure("Spend per head by deprivation group", spend_chart(data, charts),
                                    "Spend per head in each group; group 1 is the most deprived.",
                                    "spend_by_group"))
        if "outcome_by_group" in t:
            gradient.append(_figure("Outcome by deprivation group", outcome_chart(data, charts),
                                    "The outcome in each group before and after, and the change.",
                                    "outcome_by_group"))
        gradient.append(_figure("The slope index of inequality (SII), before and after", sii_chart(data, charts),
                                "The SII is the modelled gap in the outcome between the most and least "
                                "deprived ends of the population.", "measures"))
        if "winners_losers_by_group" in t:
            winners.append(_figure("Areas gaining and losing, by deprivation group",
                                   winner_count_chart(data, charts),
                                   "How many areas in each group gain or lose money, for each option.",
                                   "winners_by_group"))
        if "winners_losers" in t:
            for i, name in enumerate(names):
                winners.append(_figure(f"Largest gains and losses: {name}", top_chart(data, name, charts),
                                       f"The {text.TOP} largest gains and losses in spend under {name}.",
                                       f"top_{i + 1}"))
        if "waterfall" in t:
            why.append(_figure("From 'before' to the allocation",
                               waterfall_chart(data, ["ALL"] + text.illustrative_areas(data), charts),
                               "Grey bars: start and end; blue: steps that add money; orange: steps that take it "
                               "away. The areas: the first option's largest gain and loss, the largest area and "
                               "one of middling change.", "waterfall_1"))
    sections = [("The social gradient", gradient), ("Winners and losers", winners),
                ("Why: from 'before' to the allocation", why)]
    return [(title, "\n".join(parts)) for title, parts in sections if any(parts)]


def _plan(c: text.Content, data: ReportData) -> str:
    """The plan's section: the lead, its rules, the glide path and the tables."""
    with matplotlib.rc_context(RC):
        svg = glide_path_chart(data, Charts("plan-chart"))
    return "\n".join([f'<p class="lead">{esc(c.plan.lead)}</p>']
                     + ([_summary([("ul", [("", rule) for rule in c.plan.rules])])] if c.plan.rules else [])
                     + [_figure("The glide path", svg, "Distance from need-weighted targets and the SII, from "
                                "'before' (hollow grey point) through each year of the plan.", "plan_years")]
                     + [_table(t) for t in c.plan.tables])


def _population(c: text.Content, data: ReportData) -> str:
    """Who receives what: a sentence per dimension, the method, the dot chart and a table per dimension."""
    with matplotlib.rc_context(RC):
        svg = population_chart(data, Charts("population-chart"))
    p = c.population
    return "\n".join([f'<p class="lead">{esc(line)}</p>' for line in p.lead] + [f'<p class="notes">{esc(p.method)}</p>']
                     + [_figure("Spend per head against the average", svg, "Each group's spend per head over the "
                                "average person's: hollow grey before, filled under each option.", "population_1")]
                     + [_table(t) for t in p.tables])


def _css_string(value: str) -> str:
    """Text inside a CSS string: quotes, backslashes and '<' escaped, no line breaks."""
    out = " ".join(str(value).split()).replace("\\", "\\5C ").replace('"', "\\22 ").replace("<", "\\3C ")
    return f'"{out}"'


def _page(title: str, header: str, sections: list[tuple[str, str, str]], footer: list[str], stamp: str,
          nav: bool = True, script: bool = False) -> str:
    """A whole page: head (CSP, CSS with the print footer's date), header, sections, footer."""
    csp = CSP + (f"; script-src {script_hash()}" if script else "")
    css = CSS + f"@media print{{@page{{@bottom-left{{content:{_css_string(stamp)};font:8pt sans-serif;color:#444}}}}}}"
    if not nav:  # the brief alone: no page break after it
        css += "@media print{#brief{break-after:auto}}"
    links = "".join(f'<li><a href="#{key}">{esc(t)}</a></li>' for key, t, _ in sections)
    parts = ["<!DOCTYPE html>", '<html lang="en-GB">', "<head>", '<meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{esc(title)}</title>", f"<style>{css}</style>", "</head>", "<body>", header]
    if nav:
        parts.append(f'<nav aria-label="Contents"><ol>{links}</ol></nav>')
    parts.append("<main>")
    for key, t, body in sections:
        parts.append(f'<section id="{key}" aria-labelledby="{key}-h"><h2 id="{key}-h">{esc(t)}</h2>\n'
                     f"{body}\n</section>")
    parts += ["</main>", "<footer>" + "".join(f"<p>{esc(line)}</p>" for line in footer) + "</footer>"]
    if script:
        parts.append(f"<script>{SCRIPT}</script>")
    return "\n".join(parts + ["</body>", "</html>"]) + "\n"


def _header(c: text.Content) -> str:
    return (f"<header><h1>{esc(c.title)}</h1>"
            + (f'<p class="subtitle">{esc(c.subtitle)}</p>' if c.subtitle else "")
            + (f'<p class="description">{esc(c.description)}</p>' if c.description else "") + "</header>")


def _stamp(c: text.Content) -> str:
    solved = next((n for n in (c.brief.notes if c.brief else []) if n.startswith("Solved on")), "")
    return f"allocator report. {solved}".strip()  # no names from the input in CSS


def render_html(data: ReportData, manifest: dict | None = None) -> str:
    """The report as one self-contained HTML page: the brief first, then charts, every area
    (searchable) and the tables.  ``manifest``: the run's run.json (date, input hashes).

    Examples
    --------
    >>> page = render_html(ReportData(meta={"title": "<b>A & B</b>", "options": []}, tables={}))
    >>> "<title>&lt;b&gt;A &amp; B&lt;/b&gt;</title>" in page, "<script" in page
    (True, False)
    """
    c = text.content(data, manifest)
    sections = [("brief", "The brief", brief_section(c.brief))] if c.brief else []
    if c.plan is not None:
        sections.append(("plan", PLAN_TITLE, _plan(c, data)))
    sections.append(("summary", "Detail", _summary(c.summary)))
    for k, (title, body) in enumerate(_charts(data)):
        sections.append((f"charts-{k + 1}", title, body))
    if c.population is not None:
        sections.append(("population", POPULATION_TITLE, _population(c, data)))
    maps = maps_section(data)
    if maps:
        sections.append(("maps", "Maps", maps))
    areas = find_my_area(data)
    if areas:
        sections.append(("areas", "Find your area", areas))
    if c.tables:
        sections.append(("tables", "Tables", "\n".join(_table(t) for t in c.tables)))
    return _page(c.title, _header(c), sections, c.footer, _stamp(c), script=areas is not None)


def render_brief_html(data: ReportData, manifest: dict | None = None) -> str:
    """The brief alone, as a page that prints on one or two A4 sheets."""
    c = text.content(data, manifest)
    body = brief_section(c.brief) if c.brief else "<p>No options to report.</p>"
    shown = set(c.brief.notes if c.brief else [])
    footer = [line for line in c.footer if not line.startswith("Input files") and line not in shown]
    return _page(c.title, _header(c), [("brief", "The brief", body)], footer, _stamp(c), nav=False)
