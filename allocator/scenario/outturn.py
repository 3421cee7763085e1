"""Outturn: what was actually spent and the outcomes observed, read and checked against a scenario.

`read` takes the files given to ``allocator monitor --actual`` (CSV files, or XLSX workbooks whose
sheets are read each as a table) and tells two kinds apart by their header:

* **actual spend**: ``area_id``, ``service_id``, ``actual_gbp``; optional ``stream_id`` (the funding
  stream that paid, for a scenario with streams) and ``year`` (one of the plan's years, by its label
  such as ``2026/27`` or its number, 1 for the first; required when the plan has several years);
* **observed outcomes**: ``area_id``, ``year``, ``observed`` (the outcome of the scenario's
  ``[gradient]``, in its units); optional ``standard_error`` (of the area's value, in the same
  units) or ``count`` (the events behind a rate: its standard error is then taken as
  value / sqrt(count), Poisson), and ``population`` (that year's; default the scenario's).
  Outcomes may be observed in any year: before, during or after the plan (they lag spend).

Other columns (an area's name, notes) are ignored.  Every cell is checked as every other input
is, and every problem in every file is collected and raised as one `OutturnError` naming file,
row, column, what was expected and what was found: an unknown area, service or stream, a
negative or non-numeric amount, a line given twice (in one file or across files), a year the
plan does not have.

A line (year x area x service) that no file gives, or whose amount is blank, was **not
reported**: it is not zero.  Monitoring leaves it out of every comparison unless told otherwise
(``[monitor] missing = "zero"`` or ``"planned"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import OutturnError
from allocator.scenario import limits
from allocator.scenario.monitor_settings import DEFAULT_YEAR, MonitorSettings, plan_years
from allocator.scenario.tables import Checker, Table, read_csv
from allocator.scenario.workbook import read_every_sheet

SPEND, OBSERVED = "actual spend", "observed outcomes"
SPEND_COLUMNS = ["area_id", "service_id", "actual_gbp"]
OBSERVED_COLUMNS = ["area_id", "year", "observed"]
_HOW = ("expected actual spend (columns area_id, service_id, actual_gbp; optional stream_id, year) or "
        "observed outcomes (columns area_id, year, observed; optional standard_error, count, population)")


@dataclass(frozen=True)
class Outturn:
    """What was spent and observed, checked against a scenario and the years of its plan.

    ``spend``: one row per reported line (and stream): ``year``, ``area_id``, ``service_id``,
    ``stream_id`` ('' for a line given in total), ``actual_gbp``, the ``file`` and ``row`` it came
    from, and positions ``year_index``, ``area_index``, ``service_index``, ``stream_index`` (-1: no
    stream).  ``observed``: one row per area and year: ``year``, ``area_id``, ``observed``,
    ``standard_error``, ``count``, ``population`` (NaN where not given), ``file``, ``row``,
    ``area_index``.  Either table may be empty.
    """

    years: tuple[str, ...]  # the plan's years that spend is matched to
    spend: pd.DataFrame
    observed: pd.DataFrame
    observed_years: tuple[str, ...]  # in time order
    files: tuple[str, ...]

    @property
    def by_stream(self) -> bool:
        """Does the outturn say which funding stream paid?"""
        return bool(len(self.spend)) and bool((self.spend["stream_index"] >= 0).any())


def read(paths: Iterable[str | Path], scenario, settings: MonitorSettings | None = None) -> Outturn:
    """Read and check the outturn files against ``scenario``; raise `OutturnError` listing every problem.

    Examples
    --------
    >>> import allocator
    >>> s = allocator.load("scenarios/england-la")
    >>> o = read(["scenarios/england-la/outturn.csv"], s)
    >>> o.years, len(o.spend) > 2000, o.observed.empty
    (('Year 1',), True, True)
    """
    years = plan_years(scenario, settings)
    check = Checker()
    spend, observed, shown = [], [], []
    paths = [Path(p) for p in paths]
    if not paths:
        check.add("--actual", "no file given: " + _HOW)
    for path in paths:
        shown.append(str(path))
        for table in _tables(path, check):
            kind = _kind(table, check)
            if kind == SPEND:
                spend.append(_spend(table, scenario, years, check))
            elif kind == OBSERVED:
                observed.append(_observed(table, scenario, check))
    spend_frame = _joined(spend, _SPEND_EMPTY, ["year_index", "area_index", "service_index", "stream_index"],
                          "the same year, area, service and stream", check)
    _total_and_streams(spend_frame, check)
    observed_frame = _joined(observed, _OBSERVED_EMPTY, ["year", "area_index"], "the same year and area", check)
    if check.problems:
        raise OutturnError(check.problems)
    return Outturn(years=years, spend=spend_frame, observed=observed_frame,
                   observed_years=year_order(observed_frame["year"].unique()), files=tuple(shown))


_SPEND_EMPTY = {"year": str, "area_id": str, "service_id": str, "stream_id": str, "actual_gbp": float,
                "file": str, "row": int, "year_index": int, "area_index": int, "service_index": int,
                "stream_index": int}
_OBSERVED_EMPTY = {"year": str, "area_id": str, "observed": float, "standard_error": float, "count": float,
                   "population": float, "file": str, "row": int, "area_index": int}


def _tables(path: Path, check: Checker) -> list[Table]:
    """The tables of one file: a CSV file's one, or each sheet of a workbook (none if unreadable)."""
    if path.suffix.lower() == ".xlsx":
        sheets = read_every_sheet(path, str(path), check)
        chosen = [t for t in sheets.values() if _has(t, "actual_gbp") or _has(t, "observed")]
        if sheets and not chosen:
            check.add(str(path), "no sheet holds actual spend or observed outcomes: " + _HOW)
        return chosen
    table = read_csv(path, str(path), check)
    return [] if table is None else [table]


def _has(table: Table, column: str) -> bool:
    return column in table.frame.columns


def _kind(table: Table, check: Checker) -> str | None:
    spend, observed = _has(table, "actual_gbp"), _has(table, "observed")
    if spend and observed:
        check.add(table.name, "has both an actual_gbp and an observed column: give actual spend and observed "
                  "outcomes in separate files (or sheets)")
        return None
    if not (spend or observed):
        have = ", ".join(map(str, table.frame.columns)) or "no columns"
        check.add(table.name, f"cannot tell what this file holds (its columns: {have}): {_HOW}")
        return None
    return SPEND if spend else OBSERVED


def _positions(table: Table, column: str, ids) -> np.ndarray:
    """Each row's position in ``ids`` (-1 where unknown)."""
    text = table.frame[column].astype(str).str.strip()
    index = text.map({name: k for k, name in enumerate(ids)})
    return index.fillna(-1).to_numpy(dtype=int)


def _spend(table: Table, scenario, years: tuple[str, ...], check: Checker) -> pd.DataFrame | None:
    """One table of actual spend, checked; its rows with an amount (a blank one: not reported)."""
    if not check.columns(table, SPEND_COLUMNS) or not check.rows(table, "actual spend, one row per line"):
        return None
    check.member(table, "area_id", set(scenario.area_ids), "scenario's areas (area_id of its areas table)")
    check.member(table, "service_id", set(scenario.service_ids), "scenario's services (service_id)")
    amount = check.number(table, "actual_gbp", minimum=0, blank=np.nan)
    year = _plan_year(table, years, check)
    stream = _stream(table, scenario, check)
    frame = table.frame
    out = pd.DataFrame({
        "year": [years[t] if t >= 0 else "" for t in year], "area_id": frame["area_id"].str.strip(),
        "service_id": frame["service_id"].str.strip(),
        "stream_id": frame["stream_id"].str.strip() if "stream_id" in frame else "",
        "actual_gbp": amount, "file": table.name, "row": table.file_row(range(len(frame))),
        "year_index": year, "area_index": _positions(table, "area_id", scenario.area_ids),
        "service_index": _positions(table, "service_id", scenario.service_ids), "stream_index": stream})
    given = np.isfinite(amount) | (frame["actual_gbp"].str.strip() != "").to_numpy()
    return out[given]


def _plan_year(table: Table, years: tuple[str, ...], check: Checker) -> np.ndarray:
    """Each row's year of the plan (0-based; -1 where unknown): by label or by number."""
    n = len(table.frame)
    if "year" not in table.frame:
        if len(years) > 1:
            check.add(table.name, f"missing column 'year': the plan has {len(years)} years ({', '.join(years)}); "
                      "say which year each row is")
            return np.full(n, -1)
        return np.zeros(n, dtype=int)
    text = table.frame["year"].astype(str).str.strip()
    lookup = {str(t + 1): t for t in range(len(years))} | {label.casefold(): t for t, label in enumerate(years)}
    index = text.str.casefold().map(lookup)
    if len(years) == 1:
        index[text == ""] = 0
    index = index.fillna(-1).to_numpy(dtype=int)
    expected = (f"one of the plan's years: {', '.join(years)} (or 1 to {len(years)})" if len(years) > 1
                else f"the scenario's one year, '{years[0]}' (or 1, or blank)")
    hint = ("a year the plan does not have" + (f" (a scenario without [plan] has one year: name it with [monitor] "
                                                 f"year = \"...\" or --year)" if years == (DEFAULT_YEAR,) else ""))
    check.cells(table, "year", np.flatnonzero(index < 0), lambda pos: dict(
        message=hint, expected=expected, found=text.iloc[pos]))
    return index


def _stream(table: Table, scenario, check: Checker) -> np.ndarray:
    """Each row's funding stream (position; -1 for a line given in total, or unknown)."""
    n = len(table.frame)
    if "stream_id" not in table.frame:
        return np.full(n, -1)
    text = table.frame["stream_id"].astype(str).str.strip()
    ids = [f.id for f in scenario.streams]
    index = _positions(table, "stream_id", ids)
    unknown = np.flatnonzero(((text != "") & (index < 0)).to_numpy())
    expected = (f"one of the scenario's streams ({', '.join(ids)}) or a blank for the line's total" if ids
                else "a blank: the scenario has no funding streams (drop the column)")
    check.cells(table, "stream_id", unknown, lambda pos: dict(
        message="a stream the scenario does not have", expected=expected, found=text.iloc[pos]))
    return index


def _observed(table: Table, scenario, check: Checker) -> pd.DataFrame | None:
    """One table of observed outcomes, checked; its rows with a value (a blank one: not reported)."""
    if not check.columns(table, OBSERVED_COLUMNS) or not check.rows(table, "observed outcomes, one row per area "
                                                                            "and year"):
        return None
    frame = table.frame
    check.member(table, "area_id", set(scenario.area_ids), "scenario's areas (area_id of its areas table)")
    year = frame["year"].astype(str).str.strip()
    check.cells(table, "year", np.flatnonzero((year == "").to_numpy()), lambda pos: dict(
        message="", expected="the year the outcome was observed (e.g. 2025/26)", found=""))
    value = check.number(table, "observed", blank=np.nan)
    optional = {}
    for column, minimum, strict in (("standard_error", 0, False), ("count", 0, False), ("population", 0, True)):
        optional[column] = (check.number(table, column, minimum=minimum, strict=strict, blank=np.nan)
                            if column in frame else np.full(len(frame), np.nan))
    out = pd.DataFrame({"year": year, "area_id": frame["area_id"].str.strip(), "observed": value, **optional,
                        "file": table.name, "row": table.file_row(range(len(frame))),
                        "area_index": _positions(table, "area_id", scenario.area_ids)})
    given = np.isfinite(value) | (frame["observed"].str.strip() != "").to_numpy()
    return out[given]


def _joined(parts: list, empty: dict, key: list[str], same: str, check: Checker) -> pd.DataFrame:
    """The tables of one kind one below the other; a line given twice (in any files) is a problem."""
    frames = [p for p in parts if p is not None and len(p)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in empty.items()})
    frame = pd.concat(frames, ignore_index=True)
    known = np.ones(len(frame), dtype=bool)  # rows naming what does not exist are reported already
    for column in ("year_index", "area_index", "service_index"):
        if column in frame:
            known &= (frame[column] >= 0).to_numpy()
    if "stream_id" in frame:
        known &= ((frame["stream_id"] == "") | (frame["stream_index"] >= 0)).to_numpy()
    twice = frame.duplicated(key, keep="first").to_numpy() & known
    if twice.any():
        first = frame[~frame.duplicated(key, keep="first")].set_index(key)[["file", "row"]]
        _listed(check, frame, np.flatnonzero(twice), lambda r: (
            f"{same} as {_place(first.loc[tuple(r[k] for k in key)], r)}: give each once",
            "each line once"))
    return frame


def _place(first: pd.Series, row: pd.Series) -> str:
    return f"row {first['row']}" if first["file"] == row["file"] else f"{first['file']}, row {first['row']}"


def _listed(check: Checker, frame: pd.DataFrame, positions: np.ndarray, describe) -> None:
    """A problem for each of the first few ``positions`` of a joined table, after a count if more."""
    shown = limits.MAX_PROBLEMS_PER_COLUMN
    if positions.size > shown:
        check.add(str(frame["file"].iloc[positions[0]]), f"{positions.size:,} rows repeat a line given before: the "
                  f"first {shown} are listed, +{positions.size - shown:,} more")
    for pos in positions[:shown]:
        row = frame.iloc[pos]
        message, expected = describe(row)
        column = "stream_id" if "stream_id" in frame and row.get("stream_id") else (
            "service_id" if "service_id" in frame else "year")
        check.add(str(row["file"]), message, row=int(row["row"]), column=column, expected=expected,
                  found=f"{row['area_id']} x {row.get('service_id', row['year'])}")


def _total_and_streams(frame: pd.DataFrame, check: Checker) -> None:
    """A line given in total and also by stream would be counted twice: a problem."""
    if not len(frame) or not (frame["stream_index"] >= 0).any():
        return
    line = ["year_index", "area_index", "service_index"]
    kinds = frame.assign(total=frame["stream_index"] < 0).groupby(line)["total"].agg(["any", "all"])
    mixed = kinds.index[kinds["any"] & ~kinds["all"]]
    bad = frame.set_index(line).index.isin(mixed) & (frame["stream_index"] < 0).to_numpy()
    _listed(check, frame, np.flatnonzero(bad), lambda r: (
        "the line is given in total here and by stream in other rows: give one or the other",
        "a line's total, or its streams' parts"))


def year_order(labels) -> tuple[str, ...]:
    """Year labels in time order: by their first four-digit number when each has one, else as given.

    >>> year_order(["2026/27", "2024/25", "2025/26"])
    ('2024/25', '2025/26', '2026/27')
    >>> year_order(["Year 2", "Year 1"])
    ('Year 2', 'Year 1')
    """
    labels = [str(v) for v in labels]
    found = [re.search(r"\d{4}", v) for v in labels]
    if labels and all(found):
        return tuple(sorted(labels, key=lambda v: (int(re.search(r"\d{4}", v).group()), v)))
    return tuple(dict.fromkeys(labels))
