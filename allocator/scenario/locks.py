"""The baseline and locked tables: spend by area and service, read into (A, S) matrices.

Both are read in time linear in their rows: a row naming a line is placed by
index arrays, and a wildcard row (``*``: every area or every service) is expanded
once however often it is repeated, so a hostile table of a million wildcard rows
costs no more than one of each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.scenario import limits
from allocator.scenario.spec import SPEND_COLUMNS
from allocator.scenario.tables import Checker, Table

UNKNOWN, WILD = -1, -2


def _index(table: Table, column: str, ids) -> np.ndarray:
    """Each row's position in ``ids`` (UNKNOWN if absent, WILD for '*')."""
    text = table.frame[column].astype(str).str.strip()
    index = np.array(text.map({name: k for k, name in enumerate(ids)}), dtype=float)
    index[np.isnan(index)] = UNKNOWN
    index[(text == "*").to_numpy()] = WILD
    return index.astype(int)


def spend_table(table: Table | None, area_ids, service_ids, check: Checker) -> np.ndarray | None:
    """The baseline: one row per area and service, every id known, every spend a number >= 0."""
    if table is None:
        return None
    matrix = np.zeros((len(area_ids), len(service_ids)))
    if not check.columns(table, SPEND_COLUMNS) or not check.rows(
            table, "this year's spend, one row per area and service"):
        return matrix
    check.member(table, "area_id", set(area_ids), "areas' area_id")
    check.member(table, "service_id", set(service_ids), "services' service_id")
    spend = check.number(table, "spend_gbp", minimum=0)
    pairs = table.frame["area_id"].str.strip() + "\x00" + table.frame["service_id"].str.strip()
    check.cells(table, "service_id", np.flatnonzero(pairs.duplicated().to_numpy()), lambda pos: dict(
        message="the same area and service appear twice", expected="one row per area and service",
        found=table.frame["service_id"].iloc[pos]))
    a, s = _index(table, "area_id", area_ids), _index(table, "service_id", service_ids)
    ok = (a >= 0) & (s >= 0) & np.isfinite(spend)
    matrix[a[ok], s[ok]] = spend[ok]
    return matrix


def locked_table(table: Table | None, area_ids, service_ids, baseline, check: Checker) -> np.ndarray:
    """(A, S) locked spend, NaN where free; a blank spend locks a line at its baseline."""
    n_a, n_s = len(area_ids), len(service_ids)
    locked = np.full((n_a, n_s), np.nan)
    if table is None or not check.columns(table, SPEND_COLUMNS):
        return locked
    check.member(table, "area_id", set(area_ids), "areas' area_id", wildcard=True)
    check.member(table, "service_id", set(service_ids), "services' service_id", wildcard=True)
    spend = check.number(table, "spend_gbp", minimum=0, blank=-1.0)
    a, s = _index(table, "area_id", area_ids), _index(table, "service_id", service_ids)
    usable = (a != UNKNOWN) & (s != UNKNOWN) & np.isfinite(spend)
    blank, wild = spend < 0, (a == WILD) | (s == WILD)
    check.cells(table, "spend_gbp", np.flatnonzero(usable & wild & ~blank), lambda pos: dict(
        message="a wildcard row locks many lines, so its spend must be blank (locked at baseline)",
        expected="a blank cell", found=str(spend[pos])))
    usable &= ~wild | blank
    if baseline is None:
        check.cells(table, "spend_gbp", np.flatnonzero(usable & blank), lambda pos: dict(
            message="a blank spend locks the line at its baseline, but the scenario has no baseline table"))
        usable &= ~blank
    # each distinct row once (a repeat sets the same value again), as (row, area, service, value)
    distinct = pd.DataFrame({"a": a, "s": s, "v": spend})[usable].drop_duplicates()
    pos = distinct.index.to_numpy()
    a, s, v = a[pos], s[pos], spend[pos]
    one = (a >= 0) & (s >= 0)
    entries = [(pos[one], a[one], s[one], np.where(v[one] < 0, _at(baseline, a[one], s[one]), v[one]))]
    for k in np.flatnonzero(~one):
        rows = np.arange(n_a) if a[k] == WILD else np.array([a[k]])
        cols = np.arange(n_s) if s[k] == WILD else np.array([s[k]])
        ii, jj = (x.ravel() for x in np.meshgrid(rows, cols, indexing="ij"))
        entries.append((np.full(ii.size, pos[k]), ii, jj, baseline[ii, jj]))
    row, i, j, value = (np.concatenate(x) for x in zip(*entries))
    order = np.lexsort((row, i * n_s + j))  # by line, then in the table's order
    row, i, j, value = row[order], i[order], j[order], value[order]
    same = np.zeros(row.size, dtype=bool)  # the same line as the entry before
    same[1:] = (i[1:] == i[:-1]) & (j[1:] == j[:-1])
    clash = np.flatnonzero(same & (np.abs(value - np.roll(value, 1)) > 0.005))
    clash = clash[np.argsort(row[clash], kind="stable")]
    shown = limits.MAX_PROBLEMS_PER_COLUMN
    if clash.size > shown:
        check.add(table.name, f"{clash.size:,} lines are locked twice at different amounts: the first "
                  f"{shown} are listed, +{clash.size - shown:,} more", column="spend_gbp")
    for c in clash[:shown]:
        check.add(table.name, f"line {area_ids[i[c]]} x {service_ids[j[c]]} is locked twice: at "
                  f"£{value[c - 1]:,.2f} by an earlier row and at £{value[c]:,.2f} here",
                  row=table.row(row[c]), column="spend_gbp")
    last = ~np.roll(same, -1)  # the last entry of each line
    locked[i[last], j[last]] = value[last]
    return locked


def _at(baseline, a: np.ndarray, s: np.ndarray) -> np.ndarray:
    return np.zeros(a.size) if baseline is None else baseline[a, s]
