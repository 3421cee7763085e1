"""Who receives what beyond deprivation, in the reports: spend per head and health by population group.

`population_text` turns the ``options_spend_by_population_group`` table (`allocator.analysis.disaggregate`,
for a scenario with ``[disaggregation]``) into a lead sentence per dimension, the method (an area-level
estimate) and one table per dimension; `population_chart` draws each group's spend per head against
the average, before and under each option. Every number goes through `allocator.format`; the text is
plain and unescaped (each renderer escapes it).

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"option": ["A", "A"], "dimension": ["Disability"] * 2,
...                       "group": ["Disabled", "Not disabled"], "population": [200.0, 800.0],
...                       "share_of_population": [0.2, 0.8], "baseline_spend_gbp": [2000.0, 8000.0],
...                       "spend_gbp": [3000.0, 7000.0], "share_of_spend": [0.3, 0.7],
...                       "baseline_spend_per_head_gbp": [10.0, 10.0], "spend_per_head_gbp": [15.0, 8.75],
...                       "spend_per_head_relative_to_average": [1.5, 0.875]})
>>> text = population_text(ReportData(meta={"options": ["A"]}, tables={TABLE: frame}))
>>> print(text.lead[0])
Disability: the most per head goes to Disabled (£15.00, 1.50 times the average), the least to Not disabled (£8.75, 0.88 times).
>>> text.tables[0].rows[0][:4]
['Disabled', '200', '20.0%', '£10.00']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.analysis.disaggregate import METHOD
from allocator.analysis.disaggregate import TABLE as RESULT_TABLE
from allocator.format import aligned, number, plain
from allocator.reports.results import OPTION_PREFIX, ReportData, Table

TABLE = f"{OPTION_PREFIX}{RESULT_TABLE}"
TITLE = "Who receives what: population groups"
CHART_TITLE = "Spend per head by population group, against the average"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")  # as html.py
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
BEFORE = "#6b6b6b"
WIDTH = 8.0  # inches, as the report's other charts


@dataclass(frozen=True)
class PopulationText:
    """The population groups as the reports say them: a sentence per dimension, the method, the tables."""

    lead: list[str]
    method: str
    tables: list[Table]


def _options(data: ReportData, frame: pd.DataFrame) -> list[str]:
    names = [str(o) for o in data.meta.get("options", [])]
    present = set(frame["option"].astype(str))
    return [n for n in names if n in present] or list(dict.fromkeys(frame["option"].astype(str)))


def _before(frame: pd.DataFrame) -> str | None:
    """The 'before' spend column (``baseline_spend_gbp``, ``flat_spend_gbp``), if the table has one."""
    return next((c for c in frame.columns if c.endswith("_spend_gbp") and c not in ("spend_gbp", "fair_share_gbp")),
                None)


def _dimensions(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["dimension"].astype(str)))


def population_text(data: ReportData) -> PopulationText | None:
    """What the reports say of the population groups (None when the result has none)."""
    frame = data.tables.get(TABLE)
    if frame is None or frame.empty or "dimension" not in frame:
        return None
    names = _options(data, frame)
    lead = [_sentence(frame, dimension, names[0]) for dimension in _dimensions(frame)]
    if len(names) > 1:
        lead.append(f"Under {names[0]}; the tables give every option.")
    units = str((data.meta.get("scenario") or {}).get("outcome_units") or "outcome units")
    tables = [_table(frame, dimension, names, units, k) for k, dimension in enumerate(_dimensions(frame))]
    return PopulationText(lead=[s for s in lead if s], method=METHOD, tables=tables)


def _rows(frame: pd.DataFrame, dimension: str, option: str) -> pd.DataFrame:
    return frame[(frame["dimension"].astype(str) == dimension) & (frame["option"].astype(str) == option)]


def _sentence(frame: pd.DataFrame, dimension: str, option: str) -> str:
    """'Disability: the most per head goes to Disabled (£15.00, 1.50 times the average), the least to ...'."""
    rows = _rows(frame, dimension, option)
    ratio = rows["spend_per_head_relative_to_average"].to_numpy(float)
    if rows.empty or not np.isfinite(ratio).any():
        return ""
    most, least = rows.iloc[int(np.nanargmax(ratio))], rows.iloc[int(np.nanargmin(ratio))]
    high, low = aligned([most["spend_per_head_relative_to_average"], least["spend_per_head_relative_to_average"]], 3)
    per_head = "GBP per head"
    return (f"{dimension}: the most per head goes to {most['group']} ({number(most['spend_per_head_gbp'], per_head)}, "
            f"{high} times the average), the least to {least['group']} "
            f"({number(least['spend_per_head_gbp'], per_head)}, {low} times).")


def relative_before(rows: pd.DataFrame) -> np.ndarray:
    """Each group's 'before' spend per head against the average before, within one dimension and option."""
    before = _before(rows)
    if before is None:
        return np.full(len(rows), np.nan)
    spend, people = rows[before].to_numpy(float), rows["population"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (spend / people) / (spend.sum() / people.sum())


def _table(frame: pd.DataFrame, dimension: str, names: list[str], units: str, k: int) -> Table:
    """One dimension: each group (and option), its people, spend per head before and after, the share
    of spend, the outcome before and after, and the health gain reaching it."""
    single = len(names) == 1
    rows = pd.concat([_rows(frame, dimension, n) for n in names], ignore_index=True)
    rows = rows.iloc[np.argsort(pd.Categorical(rows["group"].astype(str),
                                               list(dict.fromkeys(rows["group"].astype(str)))).codes,
                                kind="stable")]
    before = _before(rows)
    columns = ["Group"] + ([] if single else ["Option"]) + ["People", "Share of people"]
    columns += ["Before (£ per head)"] if before else []
    columns += ["£ per head", "Against the average", "Share of spend"]
    outcome = {"outcome_baseline", "outcome_projected", "health_gain"} <= set(rows.columns)
    columns += [f"Outcome before ({units})", f"Outcome after ({units})",
                f"Health gain against 'before' ({units} × people)"] if outcome else []
    ratios = aligned(rows["spend_per_head_relative_to_average"].to_numpy(float), 3)
    levels = aligned(np.concatenate([rows["outcome_baseline"].to_numpy(float),
                                     rows["outcome_projected"].to_numpy(float)]), 5) if outcome else []
    gains = aligned(rows["health_gain"].to_numpy(float), 5) if outcome else []
    body = []
    for i, r in enumerate(rows.itertuples(index=False)):
        row = [str(r.group)] + ([] if single else [str(r.option)])
        row += [number(round(float(r.population))), number(r.share_of_population, "share")]
        if before:
            row.append(number(getattr(r, f"{before[:-4]}_per_head_gbp", np.nan), "GBP per head"))
        row += [number(r.spend_per_head_gbp, "GBP per head"), f"{ratios[i]}×", number(r.share_of_spend, "share")]
        if outcome:
            row += [levels[i], levels[len(rows) + i], gains[i]]
        body.append(row)
    numeric = [False] + ([] if single else [False]) + [True] * (len(columns) - (1 if single else 2))
    return Table(f"population_{k + 1}", f"By {dimension.lower()}" if dimension else "By population group",
                 f"Spend per head and health gain by {dimension.lower() or 'group'}: an area-level estimate "
                 "(everyone in an area receives the area's spend per head). 'Against the average': the group's "
                 "spend per head over everyone's.", columns, body, numeric)


def population_chart(data: ReportData, charts) -> str | None:
    """Dots of each group's spend per head against the average (1), one panel per dimension: 'before'
    hollow grey, each option in its colour. ``charts`` turns the figure into SVG (`allocator.reports.html.Charts`)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    frame = data.tables.get(TABLE)
    if frame is None or frame.empty:
        return None
    names, dimensions = _options(data, frame), _dimensions(frame)
    sizes = [len(_rows(frame, d, names[0])) for d in dimensions]
    fig = Figure(figsize=(WIDTH, 0.9 + 0.32 * sum(sizes) + 0.35 * len(dimensions)))
    axes = np.atleast_1d(fig.subplots(len(dimensions), 1, sharex=True, squeeze=False,
                                      gridspec_kw={"height_ratios": [max(s, 1) for s in sizes], "hspace": 0.5}).ravel())
    handles, labels = [], []
    for ax, dimension in zip(axes, dimensions):
        first = _rows(frame, dimension, names[0])
        y = np.arange(len(first))[::-1]
        h = ax.plot(relative_before(first), y, "o", mfc="white", color=BEFORE, ms=6, ls="none")[0]
        if not labels:
            handles, labels = [h], ["Before"]
        for k, name in enumerate(names):
            rows = _rows(frame, dimension, name).set_index("group").reindex(first["group"])
            h = ax.plot(rows["spend_per_head_relative_to_average"].to_numpy(float), y, MARKERS[k % len(MARKERS)],
                        color=PALETTE[k % len(PALETTE)], ms=5, ls="none")[0]
            if len(labels) < len(names) + 1:
                handles.append(h)
                labels.append(name)
        ax.axvline(1.0, color="#333", lw=0.8)
        ax.set_yticks(y, [_clip(g) for g in first["group"].astype(str)], fontsize=8)
        ax.set_ylim(-0.6, len(first) - 0.4)
        ax.grid(axis="x")
        ax.grid(axis="y", visible=False)
        ax.set_title(_clip(dimension, 60), loc="left")
    axes[-1].xaxis.set_major_formatter(FuncFormatter(lambda v, _: plain(v, 3) + "×"))
    axes[-1].set_xlabel("spend per head against the average person's (1×: the average)")
    fig.legend(handles, [str(label) for label in labels], loc="lower right", bbox_to_anchor=(0.9, 0.99),
               ncols=min(4, len(labels)), frameon=False)
    return charts.svg(fig, CHART_TITLE,
                      f"Dot charts, one per dimension ({', '.join(dimensions)}), of each group's spend per head "
                      "against the average person's, before (hollow grey) and under each option; an area-level "
                      "estimate. The numbers are in the tables below.")


def _clip(name, length: int = 32) -> str:
    name = " ".join(str(name).split())
    return name if len(name) <= length else name[:length - 1] + "…"
