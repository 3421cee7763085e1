"""A sweep's report: one self-contained HTML page of what it found, its plots and its tables.

``allocator report SWEEP_DIR`` writes ``SWEEP_DIR/report.html`` from the folder alone
(``sweep.json`` and ``sweep.parquet``, or ``sweep.csv``): no solve, no scenario.  The
page leads with what the sweep found in plain words (`allocator.reports.sweep.findings`),
then the plots (the sweep's own figures, `allocator.reports.sweep_plots.figures`, as
inline SVG with text kept as text), the comparisons of the options (how often each is
best; for Monte Carlo the paired differences A − B on the same draws) and the tables.
It looks like the run and compare reports (their CSS and Content-Security-Policy):
nothing is fetched, there is no script, every name from the input is escaped, and
the same folder gives the same bytes (the only date is the sweep's own).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib
import pandas as pd

from allocator.analysis.sweeps import (
    OUTPUTS,
    best_shares,
    direction,
    paired_differences,
    summary,
)
from allocator.format import number, percent
from allocator.reports.files import OutputError, output
from allocator.reports.html import CSP, CSS, Charts, esc
from allocator.reports.markdown import measure_name
from allocator.reports.outputs import restored_frame
from allocator.reports.results import SavedResultError
from allocator.reports.sweep import BEST, findings, parameter_text
from allocator.reports.sweep_plots import figures, parameter_label
from allocator.version import __version__

AGAIN = "run the sweep again with `allocator sweep --out`"
TEXT = {"option", "status", "reason", "measure", "units"}  # the text columns of a sweep's tidy table
FACTS = ("design", "response_models", "higher_is_better", "same_as_base", "base_values")
SHOWN = ("sii_outcome", "gap_absolute_outcome", "mean_outcome", "total_gain")
CAPTIONS = {"distributions": "Each option's spread over the Monte Carlo draws: boxes 25th-75th percentile, "
                             "whiskers 5th-95th, the black line the median; dashed grey: before allocation.",
            "tornado": "Each parameter at its lowest and highest value, the others at their values in the "
                       "scenario as loaded: the longest bar moves the measure most."}


# -- reading the folder ------------------------------------------------------------------
def is_sweep(folder: str | Path) -> bool:
    """Whether ``folder`` holds a sweep (its ``sweep.json``), rather than a run or a comparison."""
    return (Path(folder) / "sweep.json").is_file()


def sweep_info(folder: str | Path) -> dict:
    """``sweep.json`` of a sweep folder."""
    path = Path(folder) / "sweep.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SavedResultError(f"{path}: cannot be read ({exc}); {AGAIN}") from None
    if not isinstance(info, dict):
        raise SavedResultError(f"{path}: expected a JSON object; {AGAIN}")
    return info


def read(folder: str | Path) -> tuple[pd.DataFrame, dict]:
    """A sweep folder's tidy table (its ``attrs`` set from ``sweep.json``) and ``sweep.json``."""
    folder = Path(folder)
    info = sweep_info(folder)
    plan = info.get("plan")
    if not isinstance(plan, dict) or not isinstance(plan.get("grid", {}), dict):
        raise SavedResultError(f"{folder / 'sweep.json'}: no 'plan' with its 'grid'; {AGAIN}")
    try:
        if (folder / "sweep.parquet").is_file():  # exact: no spreadsheet neutralising, every digit
            table = pd.read_parquet(folder / "sweep.parquet")
        else:
            table = restored_frame(pd.read_csv(folder / "sweep.csv", keep_default_na=False, dtype=str))
            for column in set(table.columns) - TEXT:  # an option named "NA" stays a name
                table[column] = pd.to_numeric(table[column].replace("", None), errors="coerce")
    except (OSError, ValueError) as exc:
        raise SavedResultError(f"{folder}: cannot read sweep.parquet or sweep.csv ({exc}); {AGAIN}") from None
    missing = {"point", "option", "draw", "status", "measure", "units", "before", "after"} - set(table.columns)
    if missing:
        raise SavedResultError(f"{folder}: the sweep table has no column '{min(missing)}'; {AGAIN}")
    table["draw"] = pd.to_numeric(table["draw"], errors="coerce").astype("Int64")
    grid = [g for g in plan.get("grid", {}) if g in table.columns]
    table.attrs.update({"grid": grid, "drawn": [d for d in plan.get("uncertain", {}) if d in table.columns],
                        **{k: info[k] for k in FACTS if k in info}})
    table.attrs.setdefault("design", plan.get("design", "grid"))
    base = info.get("base_values") if isinstance(info.get("base_values"), dict) else {}
    table.attrs["base_values"] = {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
                                  for k, v in base.items()}  # JSON has no NaN: a value with no single base is null
    return table, info


# -- pieces of the page --------------------------------------------------------------------
def _table(key: str, title: str, caption: str, columns: list[str], rows: list[list[str]],
           numeric: list[bool], tall: bool = False) -> str:
    head = "".join(f'<th scope="col"{" class=num" if n else ""}>{esc(c)}</th>' for c, n in zip(columns, numeric))
    body = "\n".join("<tr>" + "".join(
        (f"<th scope=\"row\">{esc(cell)}</th>" if j == 0 else f"<td{' class=num' if n else ''}>{esc(cell)}</td>")
        for j, (cell, n) in enumerate(zip(row, numeric))) + "</tr>" for row in rows)
    wrap = "table-wrap tall" if tall else "table-wrap"
    return (f'<h3 id="{key}">{esc(title)}</h3>\n<div class="{wrap}" tabindex="0"><table><caption>{esc(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table></div>")


def _at(row, grid: list[str]) -> list[str]:
    return [parameter_text(g, row[g]) for g in grid]


def _grid(table: pd.DataFrame) -> list[str]:
    """The grid parameters that take more than one value."""
    return [g for g in table.attrs.get("grid", []) if table[g].nunique() > 1]


def _units(table: pd.DataFrame) -> dict[str, str]:
    ok = table[table["status"] == "ok"]
    return dict(zip(ok["measure"], ok["units"].astype(str)))


def _plots(table: pd.DataFrame) -> str:
    """Every figure of the sweep as inline SVG, with a caption."""
    base = table.attrs.get("base_values") or {}
    one_at_a_time = table.attrs.get("design") == "one-at-a-time" and all(
        math.isfinite(base.get(g, math.nan)) for g in table.attrs["grid"])
    charts, parts = Charts(), []
    with matplotlib.rc_context({"svg.fonttype": "none", "savefig.dpi": 72}):
        for stem, fig in figures(table, table.attrs["grid"], base=base if one_at_a_time else None,
                                 current=base):
            title = fig.get_suptitle() or stem
            caption = CAPTIONS.get(stem, "The key measures after allocation against the swept value, one line per "
                                         "option (the median, with a 5th-95th percentile band over draws or other "
                                         "swept values); dashed grey: before allocation."
                                   + (" Dotted: the budget as loaded." if stem == "budget" else ""))
            if stem == "tornado":
                title = fig.axes[0].get_title()
            svg = charts.svg(fig, title, caption)
            parts.append(f"<h3>{esc(title)}</h3>\n<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>")
    return "\n".join(parts) or "<p>No plots: no parameter took more than one value and nothing was drawn.</p>"


def _best(table: pd.DataFrame) -> str:
    """How often each option is best on each key measure, at each swept value: P(ranks best)."""
    grid = _grid(table)
    shares = best_shares(table, by=grid)
    if shares.empty:
        return ""
    drawn = table["draw"].notna().any()
    parts = []
    for measure, part in shares.groupby("measure", sort=False):
        keys = part[grid].drop_duplicates().to_dict(orient="records") if grid else [{}]
        columns = ["Option"] + [", ".join(_at(k, grid)) or "All draws" for k in keys]
        rows = []
        for option in dict.fromkeys(part["option"]):
            mine = part[part["option"] == option]
            cells = [mine.loc[(mine[list(k)] == pd.Series(k)).all(axis=1), "p_best"] if k else mine["p_best"]
                     for k in keys]
            rows.append([option] + [percent(c.iloc[0]) if len(c) else "n/a" for c in cells])
        what = ("the share of the draws where it is best" if drawn else "whether it is best (100%) or not (0%)")
        at = f", at each value of {' and '.join(grid)}" if grid else ""
        parts.append(_table(f"best-{measure}", f"{BEST.get(measure, measure_name(measure))}: P(option ranks best)",
                            f"For each option, {what} on {measure_name(measure)}{at}. An option tied for best "
                            "counts as best.", columns, rows, [False] + [True] * len(keys)))
    return "\n".join(parts)


def _pairs(table: pd.DataFrame) -> str:
    """Monte Carlo: the pairwise matrix P(row beats column) and the paired differences A − B."""
    if not table["draw"].notna().any():
        return ""
    units, grid = _units(table), _grid(table)
    pooled = _in_order(paired_differences(table, measures=SHOWN, by=[]))
    parts = []
    for measure, part in pooled.groupby("measure", sort=False):
        if not direction(measure, table.attrs.get("higher_is_better")):
            continue
        names = list(dict.fromkeys([*part["option_a"], *part["option_b"]]))
        beats = {(r.option_a, r.option_b): r.p_a_better for r in part.itertuples()}
        beats.update({(r.option_b, r.option_a): r.p_b_better for r in part.itertuples()})
        rows = [[a] + ["—" if a == b else percent(beats.get((a, b), math.nan)) for b in names] for a in names]
        parts.append(_table(f"beats-{measure}", f"{BEST.get(measure, measure_name(measure))}: P(row beats column)",
                            f"The share of the {int(part['draws'].iloc[0]):,} draws"
                            + (f" (at every {' and '.join(grid)} value)" if grid else "")
                            + f" where the row's option is better than the column's on {measure_name(measure)};"
                            " the rest are ties.", ["Option", *names], rows, [False] + [True] * len(names)))
    diffs = _in_order(paired_differences(table, measures=SHOWN, by=grid))
    rows = []
    for r in diffs.to_dict(orient="records"):
        u = units.get(r["measure"], "")
        rows.append([measure_name(r["measure"]), *_at(r, grid), r["option_a"], r["option_b"],
                     *(number(r[k], u, signed=True) for k in ("mean_difference", "p05", "p95")),
                     *("n/a" if pd.isna(r[k]) else percent(r[k]) for k in ("p_a_better", "p_b_better"))])
    columns = ["Measure", *map(parameter_label, grid), "A", "B", "Mean A − B", "5th percentile", "95th percentile", "A better",
               "B better"]
    parts.append(_table("differences", "Paired differences between options, draw by draw",
                        "Every option is solved on the same draws, so A − B on one draw is a paired difference: "
                        "its mean and 5th-95th percentiles over the draws, and how often each option is "
                        "better (for an SII or a gap: closer to zero). All of it is in differences.csv.",
                        columns, rows, [False] * (3 + len(grid)) + [True] * 5, tall=True))
    return "\n".join(parts)


def _in_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order of the key measures (a stable sort keeps the rest of the order)."""
    return frame.sort_values("measure", key=lambda m: m.map(SHOWN.index), kind="mergesort")


def _summary_table(table: pd.DataFrame) -> str:
    grid = _grid(table)
    summ = summary(table, by=grid)
    summ = summ[summ["measure"].isin(SHOWN)]
    rows = [[r["option"], *_at(r, grid), measure_name(r["measure"]), *(number(r[k], r["units"]) for k in (
        "mean", "p05", "p95", "before"))] for r in summ.to_dict(orient="records")]
    return _table("summary-table", "Summary of the key measures", "Each key measure after allocation: the "
                  "mean and the 5th-95th percentiles over the draws (the value itself without draws), and "
                  "before allocation. Every measure is in summary.csv.",
                  ["Option", *map(parameter_label, grid), "Measure", "Mean", "5th percentile", "95th percentile", "Before"], rows,
                  [False] * (2 + len(grid)) + [True] * 4, tall=True)


def _setup(table: pd.DataFrame, info: dict) -> str:
    """How the sweep was set up: swept values, drawn inputs, options."""
    plan = info.get("plan", {})
    rows = [[parameter_label(name), ", ".join(parameter_text(name, v) for v in values)]
            for name, values in plan.get("grid", {}).items()]
    rows += [[name, f"drawn: {text}"] for name, text in plan.get("uncertain", {}).items()]
    if plan.get("samples"):
        rows.append(["Monte Carlo", f"{plan['samples']:,} draws, seed {plan.get('seed')}"])
    options = list(plan.get("options", []))
    twin = info.get("same_as_base")
    rows.append(["Options", ", ".join(options) + (f" ('{twin}' is also the scenario as loaded)" if twin else "")])
    status = info.get("status", {})
    rows.append(["Points", f"{info.get('points', 0):,}: " + ", ".join(f"{n:,} {k}" for k, n in status.items())])
    return _table("setup-table", "What was swept", f"The sweep's design: {plan.get('design', 'grid')}.",
                  ["Setting", "Values"], rows, [False, False])


# -- the page ----------------------------------------------------------------------------
def render(folder: str | Path) -> str:
    """The report of the sweep saved in ``folder``, as one HTML page."""
    table, info = read(folder)
    name = str(info.get("scenario", ""))
    said = findings(table)
    sections = [("found", "What the sweep found",
                 '<ul class="summary">' + "".join(f"<li>{esc(s)}</li>" for s in said) + "</ul>"),
                ("plots", "Plots", _plots(table))]
    compare = _best(table) + _pairs(table)
    if compare:
        sections.append(("compare", "Comparing the options", compare))
    sections.append(("tables", "Tables", _setup(table, info) + "\n" + _summary_table(table)))
    links = "".join(f'<li><a href="#{key}">{esc(t)}</a></li>' for key, t, _ in sections)
    written = str(info.get("written", ""))
    parts = ["<!DOCTYPE html>", '<html lang="en-GB">', "<head>", '<meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{esc('Sweep: ' + name)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
             f"<header><h1>{esc('Sweep: ' + name)}</h1><p class=\"subtitle\">{esc(_subtitle(info))}</p></header>",
             f'<nav aria-label="Contents"><ol>{links}</ol></nav>', "<main>"]
    for key, t, body in sections:
        parts.append(f'<section id="{key}" aria-labelledby="{key}-h"><h2 id="{key}-h">{esc(t)}</h2>\n{body}\n'
                     "</section>")
    files = ", ".join(n for n in OUTPUTS if n not in ("sweep.sqlite", "plots"))
    footer = [f"Sweep of {info.get('scenario_path', '')}, written {written}; report by allocator {__version__}.",
              f"Every number is in the sweep's folder: {files}."]
    parts += ["</main>", "<footer>" + "".join(f"<p>{esc(line)}</p>" for line in footer) + "</footer>",
              "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _subtitle(info: dict) -> str:
    plan = info.get("plan", {})
    draws = f"{plan['samples']:,} Monte Carlo draws of the uncertain inputs" if plan.get("samples") else ""
    options = len(plan.get("options", []))
    points = f"{options} option{'s' if options != 1 else ''}, {info.get('points', 0):,} points"
    if not plan.get("grid"):
        return f"{draws or 'No parameter varied'}: {points}."
    swept = " and ".join(plan["grid"])
    return (f"{plan.get('design', 'grid').capitalize()} sweep of {swept}" + (f", with {draws}" if draws else "")
            + f": {points}.")


def write(folder: str | Path, target: str | Path | None = None) -> Path:
    """Write the report of a sweep folder to ``target`` (default ``folder/report.html``)."""
    folder = Path(folder)
    target = Path(target) if target is not None else folder / "report.html"
    if target.suffix.lower() not in (".html", ".htm"):
        raise OutputError(f"{target}: expected a file name ending in .html, got '{target.suffix}'")
    info = sweep_info(folder)
    protected = {p.resolve() for p in folder.rglob("*") if p.is_file() and p.name != "report.html"}
    protected |= {Path(i).resolve() for i in info.get("inputs", []) if isinstance(i, str)}
    with output(target.parent, protected, option="--output") as place:
        place.check(target)
        try:
            body = render(folder)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise SavedResultError(f"{folder}: its tables do not hold what the report needs "
                                   f"({type(exc).__name__}: {exc}); {AGAIN}") from None
        place.put(target, body.encode())
    return target
