"""Rows over money, not intensity: service groups, a transfer between them, funding streams.

Each is a linear function of spend, and spend is linear in the LP's columns: a segment
column adds its group's unit spend, a suffix column ("raise everyone from position t")
adds the unit spend of every group from t on.  `spend_terms` turns "the spend of the
lines labelled l" into coefficients on the columns for a few labels at once, so these
rows keep the fast suffix form.

Streams: lines are split into classes of areas that the same streams may fund (one class
when no stream is limited to some areas), and each stream gets a column per class and
service it may fund, ``y[f, c, s] >= 0`` in pounds (scaled like the budget row).  A
balance row per class and service says its spend is paid by its streams; a row per stream
holds it to its amount (``<=`` when the budget may be underspent; in a plan, unspent money
may be carried to the next year by `allocator.model.plan`'s carry columns).  With
streams, the budget row is left free: the streams are the budget, and their shadow prices
are what one more pound of each is worth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from allocator.errors import Problem, ScenarioError

if TYPE_CHECKING:
    from allocator.model.lp import _Builder, _Setup
    from allocator.model.rows import Columns
    from allocator.scenario import Scenario

INF = np.inf


@dataclass(frozen=True)
class MoneyRows:
    """Where the money rows and stream columns of one LP are (for plans, reports and checks)."""

    stream_cols: np.ndarray  # (n, 4): column, stream, class, service
    stream_rows: np.ndarray  # (F,) each stream's amount row
    group_rows: dict  # service group name -> row
    classes: np.ndarray  # (A,) class of each area (which streams may fund it)


def area_classes(scenario: Scenario) -> np.ndarray:
    """(A,) areas numbered by the set of area-limited streams that may fund them (0, 1, ...)."""
    limited = [f.areas if f.areas is not None else f.class_areas for f in scenario.streams
               if f.areas is not None or f.class_areas is not None]
    if not limited:
        return np.zeros(scenario.n_areas, np.int64)
    _, inverse = np.unique(np.stack(limited, axis=1), axis=0, return_inverse=True)
    return inverse.ravel().astype(np.int64)


def fixed_spend(scenario: Scenario, line_group: np.ndarray) -> np.ndarray:
    """(A, S) spend outside the LP's columns: locked lines, and the floors of free ones."""
    unit = scenario.unit_spend
    floors = np.where(line_group >= 0, unit * scenario.floor[None, :], 0.0)
    return floors + np.where(scenario.is_locked, scenario.locked, 0.0)


def spend_terms(m: _Setup, cols: Columns, label: np.ndarray, n_labels: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(label, column, GBP per unit of the column) triplets: the spend above the fixed spend of
    the groups labelled 0..n_labels-1 (``label`` (G,): -1 for none)."""
    unit = m.groups.unit_spend
    rows, cols_out, vals = [], [], []
    for mine, seg, _, _ in cols.seg_sets:
        lab = label[mine]
        keep = lab >= 0
        rows.append(lab[keep])
        cols_out.append(seg[keep])
        vals.append(unit[mine][keep])
    for mine, raise_cols, _, _ in cols.suffix_sets:
        lab = label[mine]
        for value in np.unique(lab[lab >= 0]):
            inside = np.where(lab == value, unit[mine], 0.0)
            coef = np.cumsum(inside[::-1])[::-1]
            keep = coef > 0
            rows.append(np.full(int(keep.sum()), value))
            cols_out.append(raise_cols[keep])
            vals.append(coef[keep])
    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
    return cat(rows, np.int64), cat(cols_out, np.int64), cat(vals, float)


def check(scenario: Scenario) -> list[Problem]:
    """Streams and groups the LP cannot honour, named: a service no stream may fund but whose
    floors or locked lines need money, a transfer between unknown groups."""
    problems = []
    shown = f"scenario '{scenario.name}'"
    if scenario.streams:
        total = sum(f.amounts[scenario.year] for f in scenario.streams)
        if scenario.plan is None and abs(total - scenario.budget_gbp) > max(0.01, 1e-9 * total):
            problems.append(Problem(shown, f"the streams hold {total:,.2f} GBP but the budget is "
                                    f"{scenario.budget_gbp:,.2f}: with funding streams the budget is the sum "
                                    "of the streams (change a stream's amount, not the budget)"))
        eligible = np.zeros((scenario.n_areas, scenario.n_services), bool)
        for f in scenario.streams:
            eligible |= f.eligible(scenario.n_areas)
        need = fixed_spend(scenario, np.where(scenario.unit_spend > 0, 0, -1)) > 0
        orphan = np.argwhere(need & ~eligible)
        if orphan.size:
            a, s = orphan[0]
            problems.append(Problem(shown, f"no funding stream may pay for {scenario.service_ids[s]} in "
                                    f"{scenario.area_ids[a]} ({len(orphan):,} such lines), yet its floor or "
                                    "locked spend needs money: let a stream fund it (the streams table's "
                                    "services and areas columns)"))
    names = {g.name for g in scenario.service_groups}
    if scenario.transfer is not None:
        for side in (scenario.transfer.source, scenario.transfer.target):
            if side not in names:
                problems.append(Problem(shown, f"transfer: no service group is named {side!r} (known: "
                                        f"{', '.join(sorted(names)) or 'none: add [[service_group]] blocks'})"))
    return problems


def group_bounds(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """Each service group's (lowest, highest) total in GBP, with the transfer's fixed totals."""
    bounds = {g.name: g.bounds(scenario.budget_gbp) for g in scenario.service_groups}
    t = scenario.transfer
    if t is not None:
        reference = reference_totals(scenario)
        for name, amount in ((t.source, -t.amount), (t.target, t.amount)):
            low, high = bounds[name]
            fixed = reference[name] + amount
            bounds[name] = (max(low, fixed), min(high, fixed)) if low <= fixed <= high else (fixed, fixed)
    return bounds


def reference_totals(scenario: Scenario) -> dict[str, float]:
    """Each service group's total in the comparator (last year's split at this year's budget,
    or the budget spread flat): what a transfer is measured from."""
    before = scenario.comparator_spend()
    total = before.sum()
    by_service = before.sum(axis=0) * (scenario.budget_gbp / total if total > 0 else 0.0)
    return {g.name: float(by_service[list(g.services)].sum()) for g in scenario.service_groups}


def add_money_rows(b: _Builder, m: _Setup, cols: Columns, budget_row: int, budget_scale: float
                   ) -> MoneyRows | None:
    """Service group rows (and a transfer's), stream columns and rows; None when there are none."""
    scenario = m.scenario
    if not scenario.service_groups and not scenario.streams:
        return None
    groups = m.groups
    fixed = fixed_spend(scenario, groups.line_group)
    group_rows = {}
    bounds = group_bounds(scenario)
    for group in scenario.service_groups:
        low, high = bounds[group.name]
        if low <= 0 and not np.isfinite(high):
            continue  # a name only: no row
        in_group = np.isin(groups.service, group.services)
        label = np.where(in_group, 0, -1)
        base = float(fixed[:, list(group.services)].sum())
        row = b.add_rows([(low - base) * budget_scale], (high - base) * budget_scale,
                         make=lambda i, name=group.name: f"group({name})")[0]
        _, c, v = spend_terms(m, cols, label, 1)
        b.coef(np.full(len(c), row), c, v * budget_scale)
        group_rows[group.name] = row
    stream_cols, stream_rows = _streams(b, m, cols, fixed, budget_row, budget_scale)
    return MoneyRows(stream_cols=stream_cols, stream_rows=stream_rows, group_rows=group_rows,
                     classes=m.classes)


def _streams(b: _Builder, m: _Setup, cols: Columns, fixed: np.ndarray, budget_row: int,
             budget_scale: float) -> tuple[np.ndarray, np.ndarray]:
    scenario, groups = m.scenario, m.groups
    if not scenario.streams:
        return np.zeros((0, 4), np.int64), np.zeros(0, np.int64)
    # the streams are the budget: the budget row only names the total
    b.row_lower[0], b.row_upper[0] = np.array([-INF]), np.array([INF])
    b.empty_rows.add(budget_row)
    S, classes = scenario.n_services, m.classes
    C = int(classes.max()) + 1
    # balance rows: spend of (class, service) above its fixed spend = its streams' columns - fixed
    a_of_group = np.zeros(len(groups.service), np.int64)
    a_idx, s_idx = np.nonzero(groups.line_group >= 0)
    a_of_group[groups.line_group[a_idx, s_idx]] = a_idx
    label = classes[a_of_group] * S + groups.service
    fixed_cs = np.zeros(C * S)
    np.add.at(fixed_cs, (classes[:, None] * S + np.arange(S)[None, :]).ravel(), fixed.ravel())
    balance = b.add_rows(-fixed_cs * budget_scale, -fixed_cs * budget_scale,
                         make=lambda i: f"paid(class_{i // S + 1},{m.sid[i % S]})")
    r, c, v = spend_terms(m, cols, label, C * S)
    b.coef(balance[r], c, v * budget_scale)
    exact = scenario.budget_mode == "exact"
    stream_rows, entries = [], []
    for f, stream in enumerate(scenario.streams):
        ok = np.zeros((C, S), bool)
        areas = np.ones(scenario.n_areas, bool) if stream.areas is None else stream.areas
        ok[np.unique(classes[areas])] = True
        ok &= stream.services[None, :]
        cs = np.flatnonzero(ok.ravel())
        y = b.add_cols(np.zeros(len(cs)), 0.0, INF,
                       make=lambda j, f=f, cs=cs: f"from({scenario.streams[f].id},class_{cs[j] // S + 1},"
                       f"{m.sid[cs[j] % S]})")
        b.coef(balance[cs], y, -1.0)
        amount = stream.amounts[scenario.year] * budget_scale
        row = b.add_rows([amount if exact else -INF], amount,
                         make=lambda i, f=f: f"stream({scenario.streams[f].id})")[0]
        b.coef(row, y, 1.0)
        stream_rows.append(row)
        entries.append(np.stack([y, np.full(len(cs), f), cs // S, cs % S], axis=1))
    return np.concatenate(entries).astype(np.int64), np.array(stream_rows, np.int64)


def check_settings(scenario: Scenario) -> None:
    """`check` as an error (exit code 2)."""
    problems = check(scenario)
    if problems:
        raise ScenarioError(problems)


def group_violations(scenario: Scenario, spend: np.ndarray) -> list[str]:
    """Each service group's total (and a transfer's) re-checked from ``spend``."""
    problems = []
    for group in scenario.service_groups:
        low, high = group_bounds(scenario)[group.name]
        total = float(spend[:, list(group.services)].sum())
        slack = 1e-6 * max(scenario.budget_gbp, 1.0) + 0.01 * scenario.n_areas
        if total < low - slack or total > high + slack:
            problems.append(f"service group {group.name} totals {total:,.2f}, outside "
                            f"[{low:,.2f}, {high:,.2f}]")
    return problems
