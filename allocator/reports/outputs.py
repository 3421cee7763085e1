"""Write a result's tables (CSV, JSON) safely, and say what happened in plain text.

Outputs go through the output layer (`allocator.reports.files`: all at once, never
over an input, in a locked folder), with spreadsheet formulas neutralised in every
text cell (reversibly: `restore`) and a fixed float format, so that the same inputs
give the same bytes.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.analysis.disaggregate import TABLE as POPULATION_TABLE
from allocator.analysis.gradient import binding, quantile_label
from allocator.analysis.pipeline import Result
from allocator.format import aligned, cell, gbp, number, percent, plain
from allocator.progress import stage
from allocator.reports.files import (
    atomic_write,  # noqa: F401 - where the writers have always found it
    output,
    unique_stems,
)

FLOAT_FORMAT = "%.10g"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPED_STARTS = (*FORMULA_STARTS, "'")  # after a leading "'": escaped too, so `restore` is exact


def _risky(text: str) -> bool:
    return text.startswith(FORMULA_STARTS) or text.startswith("'") and text[1:].startswith(ESCAPED_STARTS)


def neutralise(text: str) -> str:
    """Stop a spreadsheet from running a cell as a formula (OWASP CSV injection).

    A leading "'" is added to text starting with = + - @ or a tab or carriage return
    (and to text already starting with "'" and one of those, so that `restore` gives
    back exactly what was neutralised).

    Examples
    --------
    >>> neutralise("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> neutralise("Barking and Dagenham"), neutralise("'Fair' share")
    ('Barking and Dagenham', "'Fair' share")
    >>> restore(neutralise("'=x")), restore(neutralise("-5% cut"))
    ("'=x", '-5% cut')
    """
    return "'" + text if _risky(text) else text


def restore(text: str) -> str:
    """The text `neutralise` was given (for tables read back from a saved folder)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(ESCAPED_STARTS) else text


def _map_text(frame: pd.DataFrame, change) -> pd.DataFrame:
    """A copy with ``change`` applied to every text cell and column name; numbers stay numbers."""
    out = frame.copy()
    out.columns = [change(c) if isinstance(c, str) else c for c in out.columns]
    for k in range(out.shape[1]):
        values = out.iloc[:, k]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        rows = np.flatnonzero(values.astype(str).str.startswith(ESCAPED_STARTS).to_numpy(bool))
        texts = {i: v for i in rows if isinstance(v := values.iat[i], str)}
        new = {i: changed for i, v in texts.items() if (changed := change(v)) != v}
        if new:
            column = values.astype(object).copy()
            for i, v in new.items():
                column.iat[i] = v
            out.isetitem(k, column)
    return out


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell (and column name) neutralised; numbers stay numbers."""
    return _map_text(frame, neutralise)


def restored_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A saved table's text as it was before `safe_frame` (see `restore`)."""
    return _map_text(frame, restore)


def significant(values: np.ndarray, digits: int = 10) -> np.ndarray:
    """Round to ``digits`` significant figures, so output bytes do not carry float noise."""
    x = np.asarray(values, dtype=float)
    finite = np.isfinite(x) & (x != 0)
    exponent = np.zeros_like(x)
    exponent[finite] = np.floor(np.log10(np.abs(x[finite])))
    scale = 10.0 ** (digits - 1 - exponent)
    return np.where(finite, np.round(x * scale) / scale, x)


_ENCODED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("allocator_encoded", default=None)


@contextlib.contextmanager
def encoded_once():
    """Within the block each table is cleaned (neutralised, rounded) once and encoded once per format,
    however many files and readers want it: the tables, the saved comparison, the reports read back."""
    token = _ENCODED.set({})
    try:
        yield
    finally:
        _ENCODED.reset(token)


def _once(frame: pd.DataFrame, what: str, make):
    """``make(frame)``, remembered for this very frame inside `encoded_once` (it is held, so its id stays its)."""
    cache = _ENCODED.get()
    if cache is None:
        return make(frame)
    hit = cache.get((id(frame), what))
    if hit is None or hit[0] is not frame:
        hit = cache[(id(frame), what)] = (frame, make(frame))
    return hit[1]


def rounded_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as it is written: text neutralised (`safe_frame`), numbers to 10 significant figures."""
    return _once(frame, "rounded", _rounded)


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    out = safe_frame(frame)
    for column in out.columns:
        if out[column].dtype.kind == "f":
            out[column] = significant(out[column].to_numpy())
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV with neutralised text and 10 significant figures (pyarrow: 10x pandas' speed)."""
    return _once(frame, ".csv", _csv)


def _csv(frame: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.Table.from_pandas(rounded_frame(frame), preserve_index=False)
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue()


def _jsonable(value):
    if isinstance(value, (np.floating, float)):
        value = float(value)
        if not math.isfinite(value):
            return None
        return float(FLOAT_FORMAT % value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _jsonable(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def file_hash(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def manifest(result: Result, options: dict) -> dict:
    """What was run, on what, with what: enough to reproduce or audit the result."""
    import highspy
    import pulp

    from allocator.version import __version__

    s = result.scenario
    return {
        "scenario": s.name, "path": s.path, "working_directory": os.getcwd(),
        "written": time.strftime("%Y-%m-%d"),
        "inputs": {p: file_hash(p) for p in s.inputs},
        "options": options,
        "versions": {"allocator": __version__, "python": platform.python_version(),
                     "highspy": getattr(highspy, "__version__", "unknown"), "pulp": pulp.__version__,
                     "numpy": np.__version__, "pandas": pd.__version__},
        "solver": result.solution.solver, "status": result.solution.status.value,
        "formulation": result.lp.formulation,
        "lp_size": {"rows": result.lp.n_rows, "columns": result.lp.n_cols,
                    "nonzeros": int(result.lp.matrix.nnz)},
        "seconds": {k: round(v, 4) for k, v in result.seconds.items()},
    }


def summary(result: Result) -> dict:
    """Headline numbers of a result (deterministic: no timings)."""
    s, sol = result.scenario, result.solution
    spend = result.allocation.spend
    price = sol.budget_price(result.lp)
    return {
        "scenario": s.name, "areas": s.n_areas, "services": s.n_services,
        "objective": s.objective, "proportionality": s.proportionality,
        "budget_gbp": _jsonable(s.budget_gbp), "allocated_gbp": _jsonable(round(float(spend.sum()), 2)),
        "comparator": result.outcomes.before_label,
        "objective_value": _jsonable(sol.objective),
        "objective_units": (f"{s.gradient.outcome_units} x people gained over the floors"
                            if s.objective == "health-gain" else "GBP distance from fair-share targets"),
        "budget_shadow_price_per_gbp": _jsonable(price) if price is not None else None,
        "lines": binding(s, result.allocation),
    }


def json_bytes(frame: pd.DataFrame) -> bytes:
    """Records as JSON, numbers to 10 significant figures.

    pandas' writer (fast, for big tables) counts decimal places, not significant
    figures, so tables small enough go through the json module and keep every figure.
    """
    return _once(frame, ".json", _json)


def _json(frame: pd.DataFrame) -> bytes:
    rounded = rounded_frame(frame)
    if len(rounded) * max(1, len(rounded.columns)) <= 200_000:
        return (json.dumps(records(rounded), ensure_ascii=False, allow_nan=False) + "\n").encode()
    return (rounded.to_json(orient="records", double_precision=15, force_ascii=False) + "\n").encode()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet (zstd) with neutralised text and 10 significant figures: the big tables' JSON.

    The same table gives the same bytes (no timestamps in pyarrow's metadata).
    """
    return _once(frame, ".parquet", _parquet)


def _parquet(frame: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(rounded_frame(frame), preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


# Tables that grow with the areas (x services x options): saved as Parquet beside the CSV, not
# as JSON (at LSOA scale allocation.json was 129 MB; the Parquet file is a few MB).
BIG_TABLES = ("allocation", "by_area", "options_allocation", "options_by_area", "waterfall", "winners_losers",
              "input_areas", "plan_allocation", "plan_by_area")


def encodings(name: str) -> tuple[tuple[str, object], ...]:
    """(suffix, encoder) pairs a table is saved with: CSV, and JSON or (big tables) Parquet."""
    second = (".parquet", parquet_bytes) if name in BIG_TABLES else (".json", json_bytes)
    return (".csv", csv_bytes), second


SMALL_TABLES = ("by_group", "metrics", POPULATION_TABLE)
RESERVED = ("allocation", "by_area", "by_group", "metrics", "result", "run", "comparison", "report")


def result_tables(result: Result) -> dict[str, pd.DataFrame]:
    """A result's tables by file name: ``by_<column>`` of each group column made a safe,
    unique name (``by_area-2`` for a column named 'area': never over another table)."""
    g = result.gradient
    tables = {"allocation": g.allocation, "by_area": g.by_area, "by_group": g.by_group, "metrics": g.metrics}
    stems = unique_stems(g.by_column, prefix="by_", reserved=RESERVED, fallback="column")
    tables.update(zip(stems, g.by_column.values()))
    if g.by_population_group is not None:
        tables[POPULATION_TABLE] = g.by_population_group
    return tables


def json_text(data) -> bytes:
    return (json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode()


def write_outputs(result: Result, out: str | Path, options: dict) -> list[Path]:
    """Every table as CSV and JSON (Parquet for the big ones), a summary JSON and the run
    manifest; returns the paths.

    ``result.json`` holds the headline numbers and the small tables (by group,
    metrics, by grouping column, by population group); ``run.json`` the inputs' hashes, versions,
    options and timings (the only file that differs between identical runs).
    All are written at once, or none (see `allocator.reports.files.output`).
    """
    out = Path(out)
    tables = result_tables(result)
    small = {name: records(safe_frame(frame)) for name, frame in tables.items()
             if name in SMALL_TABLES or name.startswith("by_") and name != "by_area"}
    files = [(f"{name}{suffix}", lambda f=frame, e=encode: e(f)) for name, frame in tables.items()
             for suffix, encode in encodings(name)]
    files += [("result.json", lambda: json_text({"summary": summary(result), "tables": small})),
              ("run.json", lambda: json_text(manifest(result, options)))]
    with output(out, result.scenario.inputs) as place:
        for name, _ in files:  # every target checked before anything is written
            place.check(out / name)
        for k, (name, encode) in enumerate(files):
            stage(f"Writing the tables ({k + 1} of {len(files)}: {name})")
            place.put(out / name, encode())
    return [out / name for name, _ in files]


# -- terminal ---------------------------------------------------------------------------
def measures_text(wide: pd.DataFrame, name_of) -> str:
    """The compare command's measures table: plain names, numbers by their units (£, %, ...)."""
    options = [c for c in wide.columns if c not in ("measure", "units", "before", "best")]
    rows = []
    for r in wide.to_dict(orient="records"):
        units = str(r["units"])
        rows.append({"measure": name_of(str(r["measure"])), "units": units,
                     "before": number(r["before"], units),
                     **{o: number(r[o], units) for o in options}, "best": r["best"]})
    return text_table(pd.DataFrame(rows))
def text_table(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    """A plain fixed-width table for the terminal."""
    formats = formats or {}
    cells = [[str(c) for c in frame.columns]]
    for row in frame.itertuples(index=False):
        line = []
        for column, value in zip(frame.columns, row):
            if isinstance(value, (float, np.floating)):
                line.append(cell(value, formats.get(column, ",.2f")))
            else:
                line.append(str(value))
        cells.append(line)
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = []
    for k, r in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_text(result: Result) -> str:
    """What a person needs to see after a run: budget, binding lines, gradient before/after."""
    s = result.scenario
    g = s.gradient
    sol = result.solution
    spend = result.allocation.spend
    lines_info = binding(s, result.allocation)
    before = result.outcomes.before_label
    before_text = ("this year's spend (baseline table)" if before == "baseline"
                   else "the same budget spread flat (equal units per head everywhere)")
    out = [f"{s.name}",
           f"{s.n_areas:,} areas x {s.n_services} services; objective {s.objective}; "
           f"proportionality {s.proportionality}"
           + (f"; pace of change -{s.pace[0]:.0%}/+{s.pace[1]:.0%}" if s.pace else "")
           + "".join(f"; {text} {plain(value, 4)} {g.outcome_units}" for text, value in (
               ("the SII must fall by at least", s.sii_reduction), ("the gap must fall by at least", s.gap_reduction),
               ("every deprivation group's outcome at least", s.worst_off_at_least)) if value is not None),
           f"Budget {gbp(s.budget_gbp)} ({s.budget_mode}); allocated £{spend.sum():,.2f}.",
           f"Solved by {sol.solver} in {sol.seconds:.2f} s (model {result.lp.n_rows:,} rows x "
           f"{result.lp.n_cols:,} columns); every invariant re-checked from the allocation: OK.",
           f"Lines: {lines_info['between']:,} between floor and cap, {lines_info['at_floor']:,} at their floor, "
           f"{lines_info['at_cap']:,} at their cap, {lines_info['locked']:,} locked."]
    price = sol.budget_price(result.lp)
    if price is not None and s.objective == "health-gain":
        per_million = price * 1e6
        amount = f"{per_million:,.0f}" if abs(per_million) >= 100 else plain(per_million, 4)
        out.append(f"One more £1m of budget would buy {amount} {g.outcome_units} x people "
                   "(the budget's shadow price).")
    out.append(f"Compared with {before_text}.")
    label = quantile_label(g.quantiles)
    table = result.gradient.by_group
    view = pd.DataFrame({
        label: table.iloc[:, 0].astype(str),
        "population": table["population"].map(lambda v: f"{v:,.0f}"),
        "need": table["need_index"],
        f"{before} £/head": table[f"{before}_spend_per_head_gbp"],
        "£/head": table["spend_per_head_gbp"],
        "change £/head": table["change_per_head_gbp"],
        "outcome before": table["outcome_baseline"],
        "outcome after": table["outcome_projected"],
    })
    view.iloc[0, 0] += " (most deprived)"
    view.iloc[-1, 0] += " (least)"
    out.append("")
    out.append(f"By deprivation {label} ({g.outcome_label}; "
               f"{'higher' if g.higher_is_better else 'lower'} is better):")
    out.append(text_table(view, {"need": ".3f", "outcome before": ".4f", "outcome after": ".4f"}))
    m = result.gradient.metrics.set_index("measure")
    rows = []
    names = {"sii_outcome": "SII of outcome", "rii_outcome": "RII of outcome",
             "gap_absolute_outcome": f"Gap, least - most deprived {label}",
             "sii_spend_per_head": "SII of spend per head (£)",
             "concentration_index_spend": "Concentration index of spend (< 0 pro-deprived)",
             "share_of_spend_most_deprived_fifth": "Share of spend, most deprived fifth",
             "proportionality_index": "Proportionality (£/head per unit of need)",
             "mean_outcome": "Mean outcome"}
    for key, text in names.items():
        if key in m.index:
            values = [m.at[key, "before"], m.at[key, "after"], m.at[key, "change"]]
            if m.at[key, "units"] == "share":
                before, after, change = percent(values[0]), percent(values[1]), percent(values[2], signed=True)
            else:
                before, after, change = aligned(values)
            rows.append({"measure": text, "before": before, "after": after, "change": change})
    out.append("")
    out.append("The social gradient, before -> after:")
    out.append(text_table(pd.DataFrame(rows)))
    return "\n".join(out + _population_lines(result))


def _population_lines(result: Result) -> list[str]:
    """Spend per head by population group ([disaggregation]), an area-level estimate; none without it."""
    table = result.gradient.by_population_group
    if table is None or table.empty:
        return []
    before = result.outcomes.before_label
    view = pd.DataFrame({
        "dimension": table["dimension"].astype(str), "group": table["group"].astype(str),
        "people": table["population"].map(lambda v: number(round(v))),
        f"{before} £/head": table[f"{before}_spend_per_head_gbp"].map(lambda v: number(v, "GBP per head")),
        "£/head": table["spend_per_head_gbp"].map(lambda v: number(v, "GBP per head")),
        "x average": aligned(table["spend_per_head_relative_to_average"], 3),
        "health gain": table["health_gain"].map(number)})
    return ["", "By population group (an area-level estimate: everyone in an area receives its spend per head):",
            text_table(view)]
