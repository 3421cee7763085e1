"""Monitoring for people and spreadsheets: what the plan-against-outturn means in words, and its tables.

`summary_text` is what ``allocator monitor`` prints: sentences first (what was spent against the
plan, who over- or underspent, which rules broke, whether spend stayed proportionate to need, how
the gradient moved), then short tables.  `write_tables` writes every table of a
`allocator.analysis.monitor.Monitoring` as CSV (text cells neutralised for spreadsheets, 10
significant figures) and ``monitor.json`` (what was monitored, the thresholds, the notes), all at
once through the output layer.  `load_saved` and `planned_from_saved` read the plan back from a folder saved by
``allocator run --out``, so that a plan can be monitored without solving it again.

Every number goes through `allocator.format`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.analysis.monitor import Monitoring, Planned, planned_from_spend
from allocator.errors import AllocatorError
from allocator.format import change, gbp, money, number, percent, plain
from allocator.reports.files import output
from allocator.reports.markdown import measure_name
from allocator.reports.outputs import csv_bytes, json_text, text_table
from allocator.version import __version__

META = "monitor.json"
SHOWN = 10  # rows of a terminal table, and names in a sentence, before "and N more"
POPULATION_TITLE = ("By population group (an area-level estimate: everyone in an area receives its spend per head; "
                    "over the areas that reported every line):")


# -- files -----------------------------------------------------------------------------------
def meta(m: Monitoring) -> dict:
    """What was monitored, against what, with which thresholds: ``monitor.json``."""
    g = m.scenario.gradient
    return {"kind": "monitor", "allocator": __version__, "scenario": m.scenario.name, "path": m.scenario.path,
            "years": list(m.years), "files": list(m.files), "settings": dataclasses.asdict(m.settings),
            "outcome_label": g.outcome_label, "outcome_units": g.outcome_units,
            "higher_is_better": g.higher_is_better, "groups": m.group_column, "notes": list(m.notes),
            "tables": sorted(m.tables)}


def write_tables(m: Monitoring, out: str | Path, protected=(), more: dict | None = None) -> list[Path]:
    """Every table as ``<name>.csv`` and ``monitor.json`` in ``out``, and ``more`` (file name: a function
    giving its bytes, e.g. the reports ``monitor.html`` and ``monitor.xlsx``), all at once (or nothing)."""
    out = Path(out)
    files = {f"{name}.csv": (lambda f=frame: csv_bytes(f)) for name, frame in m.tables.items()}
    files[META] = lambda: json_text(meta(m))
    files.update(more or {})
    with output(out, [*protected, *m.files, *m.scenario.inputs]) as place:
        for name in files:
            place.check(out / name)
        for name, encode in files.items():
            place.put(out / name, encode())
    return [out / name for name in files]


# -- a saved run -----------------------------------------------------------------------------
class SavedPlanError(AllocatorError):
    """A saved folder cannot be monitored: not a run's, or its plan does not fit its scenario (exit code 2)."""

    exit_code = 2


def is_saved(path: str | Path) -> bool:
    """Is ``path`` a folder saved by ``allocator run --out`` (or ``compare --out``)?"""
    from allocator.reports.results import META as SAVED

    return Path(path).is_dir() and (Path(path) / SAVED).is_file()


def load_saved(folder: str | Path) -> tuple[object, pd.DataFrame]:
    """(scenario, allocation table) of a folder saved by ``allocator run --out``: the tables read back and
    hash-checked by `allocator.reports.results.load`, the scenario loaded from where the run read it."""
    from allocator.reports.results import load, load_manifest
    from allocator.scenario import load as load_scenario

    folder = Path(folder)
    data = load(folder)
    if data.meta.get("kind") != "run":
        raise SavedPlanError(f"{folder}: a saved comparison holds several options: monitor one of them (run it with "
                             "`allocator run SCENARIO --option NAME --out DIR`), or give the scenario itself")
    run = load_manifest(folder)
    path = Path(str(run.get("path", "")))
    if not path.is_absolute() and isinstance(run.get("working_directory"), str):
        path = Path(run["working_directory"]) / path
    scenario = _option_of(load_scenario(path), str(run.get("scenario", "")))
    table = data.tables.get("plan_allocation")
    if table is None:
        table = data.tables["options_allocation"].drop(columns="option")
    return scenario, table


def planned_from_saved(scenario, table: pd.DataFrame, settings=None, folder: str | Path = "") -> Planned:
    """The `Planned` of a saved allocation table (`load_saved`)."""
    return planned_from_spend(scenario, *_arrays(scenario, table, Path(folder)), settings=settings)


def _option_of(scenario, name: str):
    """The scenario as it was run: with the [[option]] whose name the run's carries, if any."""
    if not name or name == scenario.name:
        return scenario
    from allocator.scenario.options import apply

    for option in scenario.options:
        if f"{scenario.name}: {option.name}" == name:
            return apply(scenario, option)
    raise SavedPlanError(f"the saved run is of '{name}', but its scenario ({scenario.path}) is now '{scenario.name}' "
                         "with no option of that name: run it again")


def _arrays(scenario, table: pd.DataFrame, folder: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(T, A, S) spend and (T, F, A, S) by stream (or None) from a saved allocation table."""
    from allocator.scenario.monitor_settings import plan_years

    years = plan_years(scenario) if scenario.plan is not None else ("",)
    T, A, S = len(years), scenario.n_areas, scenario.n_services
    t = (table["year"].astype(str).map({y: k for k, y in enumerate(years)}) if "year" in table and T > 1
         else pd.Series(0, index=table.index))  # one year: whatever it was called
    a = table["area_id"].astype(str).map({x: k for k, x in enumerate(scenario.area_ids)})
    s = table["service_id"].astype(str).map({x: k for k, x in enumerate(scenario.service_ids)})
    if t.isna().any() or a.isna().any() or s.isna().any() or len(table) != T * A * S:
        raise SavedPlanError(f"{folder}: the saved allocation does not fit its scenario ({scenario.path}: "
                             f"{T} year(s) x {A:,} areas x {S} services): the scenario changed since the run; run it "
                             "again")
    flat = (t.to_numpy(int) * A + a.to_numpy(int)) * S + s.to_numpy(int)
    spend = np.zeros(T * A * S)
    spend[flat] = table["spend_gbp"].to_numpy(dtype=float)
    columns = [f"stream_{f.id}_gbp" for f in scenario.streams]
    by_stream = None
    if columns and all(c in table for c in columns):
        by_stream = np.zeros((len(columns), T * A * S))
        for f, column in enumerate(columns):
            by_stream[f, flat] = table[column].to_numpy(dtype=float)
        by_stream = by_stream.reshape(len(columns), T, A, S).transpose(1, 0, 2, 3)
    return spend.reshape(T, A, S), by_stream


# -- words ---------------------------------------------------------------------------------
def _names(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN:,} more" if len(items) > SHOWN else "")


def spend_sentences(m: Monitoring, year: str) -> list[str]:
    """What was spent against the plan in ``year``, and which areas and services were off it."""
    total = m.totals[m.totals["year"] == year].iloc[0]
    if total["lines_reported"] == 0 and m.settings.missing == "exclude":
        return ["No actual spend was reported."]
    share = total["actual_gbp"] / total["planned_compared_gbp"] if total["planned_compared_gbp"] > 0 else np.nan
    partial = total["planned_compared_gbp"] < total["planned_gbp"] - 0.005
    out = [f"Spent {gbp(total['actual_gbp'])} of {gbp(total['planned_compared_gbp'])} planned on the lines "
           f"compared ({percent(share)}; {money(total['variance_gbp'], signed=True)})"
           + (f", of {gbp(total['planned_gbp'])} planned in all." if partial else ".")]
    areas = m.by_area[m.by_area["year"] == year]
    how = {"exclude": "left out, not counted as zero", "zero": "counted as nothing spent",
           "planned": "counted as spent as planned"}[m.settings.missing]
    silent, partly = areas[areas["reported"] == "none"], areas[areas["reported"] == "some"]
    if len(silent):
        out.append(f"{len(silent):,} of {len(areas):,} areas reported no spend ({_names(list(silent['area_name']))}; "
                   f"{gbp(silent['planned_gbp'].sum())} planned): {how}.")
    if len(partly):
        out.append(f"{len(partly):,} of {len(areas):,} areas reported only some of their lines "
                   f"({_names(list(partly['area_name']))}): the others {how}.")
    red = m.settings.variance_red
    compared = areas[areas["rag"] != "not reported"]
    parts = []
    for direction, word in (("over", "overspent"), ("under", "underspent")):
        hit = compared[(compared["direction"] == direction) & (compared["rag"] == "red")]
        hit = hit.reindex(hit["variance_pct"].abs().sort_values(ascending=False).index)
        listed = [f"{r.area_name} {change(r.variance_pct)}" for r in hit.itertuples()]
        parts.append(f"{f'{len(hit):,}' if len(hit) else 'none'} {word} by more than {percent(red)}"
                     + (f" ({_names(listed)})" if listed else ""))
    out.append(f"Of {len(compared):,} areas compared, " + "; ".join(parts) + ".")
    services = m.by_service[(m.by_service["year"] == year) & (m.by_service["rag"] != "not reported")]
    off = services[services["direction"].isin(["over", "under"])]
    off = off.reindex(off["variance_pct"].abs().sort_values(ascending=False).index)
    if len(off):
        listed = [f"{r.service_name} {'over' if r.direction == 'over' else 'under'}spent by "
                  f"{percent(abs(r.variance_pct))} ({money(r.variance_gbp, signed=True)})" for r in off.itertuples()]
        out.append(f"{len(off)} of {len(services)} services more than {percent(m.settings.variance_amber)} off plan: "
                   f"{_names(listed)}.")
    else:
        out.append(f"Every service within {percent(m.settings.variance_amber)} of plan.")
    return out


RULE_WORDS = {"floors": "floors", "caps": "caps", "locked": "locked lines", "need_ordering": "the need ordering",
              "pace_of_change": "the pace of change", "streams": "the funding streams' rules"}


def rule_sentence(m: Monitoring, year: str) -> str:
    """Which rules held in what was spent, and where the others broke."""
    rules = m.rules[m.rules["year"] == year]
    if rules.empty:
        return "No rule could be checked: no spend was compared."
    held = [RULE_WORDS[r] for r in rules.loc[rules["held"], "rule"]]
    broke = []
    for rule in rules.loc[~rules["held"], "rule"]:
        rows = m.breaches[(m.breaches["year"] == year) & (m.breaches["rule"] == rule)]
        broke.append(f"{RULE_WORDS[rule]} broke in {len(rows):,} place{'s' if len(rows) != 1 else ''} "
                     f"({_where(m, rule, rows)})")
    return "Rules in what was spent: " + "; ".join(broke + ([f"{_and(held)} held"] if held else [])) + "."


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _where(m: Monitoring, rule: str, rows: pd.DataFrame) -> str:
    if rule == "pace_of_change":
        return _names(list(rows["area_name"]))
    if rule == "streams":
        return _names(sorted(set(rows["stream_id"].astype(str))))
    label = m.group_column.removeprefix("deprivation_")
    parts = []
    if rule == "need_ordering":  # an area given too much breaks the ordering with every needier area: say so once
        counts = rows["counterpart_area_name"].value_counts()
        hubs = [name for name, n in counts.items() if n >= max(5, 0.1 * len(rows))][:3]
        for name in hubs:
            theirs = rows[rows["counterpart_area_name"] == name]
            services = theirs["service_name"].unique()
            which = f"{len(services)} services" if len(services) > 1 else services[0]
            parts.append(f"in {which}, {counts[name]:,} times a needier area got less per head than {name} ({label} "
                         f"{int(theirs['counterpart_deprivation_group'].iloc[0])})")
        rows = rows[~rows["counterpart_area_name"].isin(hubs)]
    for service, part in rows.groupby("service_name", sort=False):
        where = f"{label}{'s' if part['deprivation_group'].nunique() > 1 else ''} {_ranges(part['deprivation_group'])}"
        what = " got less per head than less needy areas" if rule == "need_ordering" else ""
        parts.append(f"{service}: {len(part):,} area{'s' if len(part) != 1 else ''} of {where}{what}")
    return "; ".join(parts[:SHOWN]) + (f"; and {len(parts) - SHOWN} more" if len(parts) > SHOWN else "")


def _ranges(values) -> str:
    """Group numbers as runs: 1-3, 5, 7-8.

    >>> _ranges([3, 1, 2, 5, 7, 8])
    '1-3, 5, 7-8'
    """
    numbers = sorted({int(v) for v in values})
    runs, start = [], None
    for k, n in enumerate(numbers):
        start = n if start is None else start
        if k + 1 == len(numbers) or numbers[k + 1] != n + 1:
            runs.append(f"{start}-{n}" if n > start else str(n))
            start = None
    return ", ".join(runs)


def _value(measure: str, value: float) -> str:
    if measure == "share_of_spend_most_deprived_fifth":
        return percent(value)
    if measure == "proportionality_index":
        return number(value, "GBP per head")
    return plain(value, 3)


def threshold_text(name: str, value) -> str:
    """A threshold as a person reads it.

    >>> threshold_text("variance_red", 0.1), threshold_text("share_amber", 0.005), threshold_text("missing", "zero")
    ('10.0%', '0.5 percentage points', 'zero')
    """
    if isinstance(value, str):
        return value
    if name.startswith("share_"):
        return f"{plain(value * 100, 3)} percentage points"
    if name.startswith("concentration_"):
        return plain(value, 3)
    return percent(value)


def measure_sentence(m: Monitoring, year: str) -> str:
    """Did spend stay proportionate to need: each measure planned -> actual, with its RAG."""
    rows = m.measures[m.measures["year"] == year]
    if rows.empty:
        return "Proportionality could not be measured: fewer than two areas reported every line."
    parts = [f"{measure_name(r.measure).lower()} {_value(r.measure, r.planned)} -> {_value(r.measure, r.actual)} "
             f"({r.rag})" for r in rows.itertuples()]
    return (f"Planned -> actual, over the {int(rows['areas'].iloc[0]):,} areas that reported every line: "
            + "; ".join(parts) + ".")


def trend_sentence(m: Monitoring) -> str:
    """How the gradient moved: SII at baseline, projected, and observed with its limits."""
    g = m.scenario.gradient
    t = m.trend
    base = t[t["source"] == "baseline"].iloc[0]
    projected = t[t["source"] == "projected"]
    at = "" if base["year"] == "Baseline" else f" ({base['year']})"
    text = (f"Gradient in {g.outcome_label} ({'higher' if g.higher_is_better else 'lower'} is better; SII from most "
            f"to least deprived): {plain(base['sii'], 4)} at baseline{at}, projected "
            + ", ".join(f"{plain(r.sii, 4)} ({r.year})" for r in projected.itertuples()))
    observed = []
    for r in t[t["source"] == "observed"].itertuples():
        limits = (f"{percent(r.confidence).replace('.0%', '%')} limits {plain(r.sii_lower, 4)} to "
                  f"{plain(r.sii_upper, 4)}" if np.isfinite(r.sii_lower) else "no limits: no standard errors")
        within = ("" if pd.isna(r.projected_within_limits) else
                  ", the projection within them" if r.projected_within_limits else ", the projection outside them")
        observed.append(f"{r.year} {plain(r.sii, 4)} ({limits}{within})")
    return text + ("; observed " + "; ".join(observed) if observed else "; nothing observed yet") + "."


def population_sentence(m: Monitoring, year: str) -> str | None:
    """Actual against planned spend per head of each population group, the least and most in each
    dimension (None without ``[disaggregation]``)."""
    rows = m.by_population_group[m.by_population_group["year"] == year]
    if rows.empty:
        return None
    parts = []
    for dimension, part in rows.groupby("dimension", sort=False):
        part = part[np.isfinite(part["variance_pct"].to_numpy(float))]
        if part.empty:
            continue
        low, high = part.loc[part["variance_pct"].idxmin()], part.loc[part["variance_pct"].idxmax()]
        if change(low["variance_pct"]) == change(high["variance_pct"]):
            parts.append(f"{dimension} {change(low['variance_pct'])} for every group")
        else:
            parts.append(f"{dimension} from {change(low['variance_pct'])} ({low['group']}) to "
                         f"{change(high['variance_pct'])} ({high['group']})")
    return (f"Spend per head by population group, actual against planned (an area-level estimate over the "
            f"{int(rows['areas'].iloc[0]):,} areas that reported every line): " + "; ".join(parts) + "."
            if parts else None)


def lead_lines(m: Monitoring) -> list[str]:
    """What the monitoring means, in sentences: what ``allocator monitor`` prints first, and the
    monitoring report's lead."""
    out = []
    spent = spent_years(m)
    if not spent:
        out.append("No actual spend was given: only the trend of the gradient is shown.")
    for year in spent:
        lead = f"{year}: " if len(m.years) > 1 else ""
        out += [lead + line for line in spend_sentences(m, year)]
        out.append(lead + rule_sentence(m, year))
        out.append(lead + measure_sentence(m, year))
        groups = population_sentence(m, year)
        if groups:
            out.append(lead + groups)
    later = [y for y in m.years if y not in spent]
    if spent and later:
        out.append(f"No spend reported for {_and(later)}.")
    out.append(trend_sentence(m))
    return out


# -- the terminal ----------------------------------------------------------------------------
def summary_text(m: Monitoring) -> str:
    """What ``allocator monitor`` prints: the result in words first, then short tables."""
    out = [f"Monitoring {m.scenario.name} ({', '.join(m.years)}) against {', '.join(m.files)}.", "", *lead_lines(m)]
    spent = spent_years(m)
    for title, table in _tables(m, spent)[slice(None) if spent else slice(-1, None)]:
        if len(table):
            out += ["", title, text_table(table)]
    notes = [n for n in m.notes if n not in out]  # not twice
    if notes:
        out += ["", "Notes:", *[f"- {n}" for n in notes]]
    return "\n".join(out)


def spent_years(m: Monitoring) -> list[str]:
    """The years with any actual spend compared (reported, or counted by the missing rule)."""
    compared = m.lines.loc[m.lines["status"] != "not reported", "year"]
    return [y for y in m.years if y in set(compared)]


def _tables(m: Monitoring, spent: list[str]) -> list[tuple[str, pd.DataFrame]]:
    several = len(m.years) > 1
    label = m.group_column.removeprefix("deprivation_")

    def years(frame: pd.DataFrame, view: dict) -> pd.DataFrame:
        return pd.DataFrame({**({"year": frame["year"]} if several else {}), **view})

    g = m.by_group[m.by_group["year"].isin(spent)]
    groups = years(g, {label: g[m.group_column].astype(str), "planned £/head": g["planned_per_head_gbp"].map(_head),
                       "actual £/head": g["actual_per_head_gbp"].map(_head), "variance": g["variance_pct"].map(change),
                       "RAG": g["rag"]})
    if len(groups):
        groups.iloc[0, int(several)] += " (most deprived)"
    s = m.by_service[m.by_service["year"].isin(spent)]
    services = years(s, {"service": s["service_id"], "planned": s["planned_compared_gbp"].map(gbp),
                         "actual": s["actual_gbp"].map(_gbp), "variance": s["variance_gbp"].map(_signed),
                         "%": s["variance_pct"].map(change), "RAG": s["rag"]})
    b = m.breaches.sort_values("beyond_pct", ascending=False, kind="stable").head(SHOWN)  # the largest first
    breaches = years(b, {"rule": b["rule"], "service": _text(b["service_id"]),
                         "area": _text(b["area_name"]) + b["deprivation_group"].map(
                             lambda v: "" if pd.isna(v) else f" ({label} {int(v)})"),
                         "value": [_amount(v, u) for v, u in zip(b["value"], b["units"])],
                         "limit": [_amount(v, u) for v, u in zip(b["limit"], b["units"])],
                         "less needy area that got more": _text(b["counterpart_area_name"])
                         + b["pairs"].map(lambda n: "" if pd.isna(n) else f" (+{int(n) - 1} more)" if n > 1 else "")})
    t = m.trend
    trend = pd.DataFrame({"year": t["year"], "source": t["source"], "SII": t["sii"].map(lambda v: plain(v, 4)),
                          "limits": [f"{plain(lo, 4)} to {plain(hi, 4)}" if np.isfinite(lo) else ""
                                     for lo, hi in zip(t["sii_lower"], t["sii_upper"])],
                          "RII": t["rii"].map(lambda v: plain(v, 4)),
                          "gap": t["gap_absolute"].map(lambda v: plain(v, 4))})
    more = len(m.breaches) - SHOWN
    p = m.by_population_group[m.by_population_group["year"].isin(spent)]
    people = years(p, {"dimension": p["dimension"], "group": p["group"], "planned £/head": p["planned_per_head_gbp"].map(
        _head), "actual £/head": p["actual_per_head_gbp"].map(_head), "variance": p["variance_pct"].map(change),
        "RAG": p["rag"]})
    return [(f"Spend by deprivation {label} (1 = most deprived; per head over the areas that reported every line):",
             groups), ("Services (planned on the lines compared):", services),
            (f"Breaches{f' (the {SHOWN} largest of {len(m.breaches):,}: --out writes them all)' if more > 0 else ''}:",
             breaches),
            (POPULATION_TITLE, people),
            ("The gradient by year (baseline, projected, observed):", trend)]


def _text(column: pd.Series) -> pd.Series:
    return column.map(lambda v: "" if pd.isna(v) else str(v))


def _head(value: float) -> str:
    return number(value, "GBP per head")


def _gbp(value: float) -> str:
    return "not reported" if not np.isfinite(value) else gbp(value)


def _signed(value: float) -> str:
    return "n/a" if not np.isfinite(value) else money(value, signed=True)


def _amount(value: float, units: str) -> str:
    if pd.isna(value):
        return ""
    return gbp(value) if units == "GBP" else plain(value, 4)
