"""Why a plan has no solution, in pounds: which year, which stream, which rule runs short.

The plan's money rows (each stream's amount and carry-over, each year's budget, service
group bounds) and its rows over areas (pace of change, convergence) are made elastic:
each may be missed, at a cost of one per pound missed.  The cheapest way to miss them is
the smallest change in money that would make a plan exist, and the rows it misses are
the ones to name.  Floors, caps and the need ordering stay hard: when even that has no
solution, the first year's own diagnosis (`allocator.model.diagnose`) says why.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import numpy as np
import scipy.sparse as sp

from allocator.errors import AllocatorError, InfeasibleError
from allocator.format import gbp
from allocator.model.solver import solve


def _elastic_rows(built, labels: tuple[str, ...]) -> list[tuple[int, float, str, str, str]]:
    """(row, units per GBP, year label, kind, what) for every row that may be missed."""
    scenario = built.years[0]
    out = []
    row_start = np.concatenate([[0], np.cumsum([lp.n_rows for lp in built.year_lps])])
    for t, lp in enumerate(built.year_lps):
        scale = lp.budget_scale
        if lp.money is None or not len(lp.money.stream_rows):
            out.append((row_start[t], scale, labels[t], "budget", "the budget"))
        if lp.money is not None:
            for f, row in enumerate(lp.money.stream_rows):
                stream = scenario.streams[f]
                out.append((row_start[t] + row, scale, labels[t], "stream", f"stream '{stream.name}'"))
            for name, row in lp.money.group_rows.items():
                out.append((row_start[t] + row, scale, labels[t], "group", f"service group '{name}'"))
    end = row_start[-1]
    for kind, rows in built.coupling.items():
        for row in rows:
            name = names_of(built, row)
            year = name[name.rfind(",") + 1:-1] if name.endswith(")") else ""
            what = name[name.find("(") + 1:name.rfind(",")]
            out.append((int(row), float(built.per_gbp[row - end]), year, kind, what))
    return out


def names_of(built, row: int) -> str:
    from allocator.model.lp import name_of

    return name_of(built.lp.row_blocks, int(row))


def explain(scenario, built, time_limit: float | None = None) -> str | None:
    """The smallest changes in pounds that would let a plan exist, by year and rule; None if
    the money rules are not the cause."""
    rows = _elastic_rows(built, scenario.plan.labels)
    if not rows:
        return None
    lp = built.lp
    index = np.array([r[0] for r in rows], np.int64)
    per_gbp = np.array([r[1] for r in rows])
    n = len(rows)
    slack = sp.csc_matrix((np.concatenate([np.ones(n), -np.ones(n)]),
                           (np.concatenate([index, index]), np.arange(2 * n))), shape=(lp.n_rows, 2 * n))
    cost = np.concatenate([np.zeros(lp.n_cols), 1.0 / per_gbp, 1.0 / per_gbp])
    elastic = dataclasses.replace(
        lp, cost=cost * 1e-6, maximize=False, objective_scale=1e-6,
        col_lower=np.concatenate([lp.col_lower, np.zeros(2 * n)]),
        col_upper=np.concatenate([lp.col_upper, np.full(2 * n, np.inf)]),
        matrix=sp.hstack([lp.matrix, slack], format="csc"), integrality=None, fill_pairs=None)
    try:
        solution = solve(elastic, time_limit=time_limit)
    except AllocatorError:
        return _first_year(scenario, built, time_limit)
    x = solution.x[lp.n_cols:]
    over, under = x[:n] / per_gbp, x[n:] / per_gbp  # row value = target - over + under
    return _words(rows, over, under) or _first_year(scenario, built, time_limit)


def _first_year(scenario, built, time_limit) -> str | None:
    from allocator.model.diagnose import explain as explain_year

    try:
        return f"{scenario.plan.labels[0]}: " + explain_year(built.years[0], time_limit=time_limit)
    except (AllocatorError, InfeasibleError):
        return None


def _words(rows, over: np.ndarray, under: np.ndarray) -> str | None:
    """One line per (year, rule) that must give, largest first."""
    found = defaultdict(lambda: [0.0, 0.0, [], ""])
    for (row, _, year, kind, what), more, less in zip(rows, under, over):
        if max(more, less) < 0.5:  # pennies of solver tolerance
            continue
        key = (year, kind, what if kind in ("stream", "group", "budget", "carry_over") else "")
        entry = found[key]
        entry[0] += more
        entry[1] += less
        entry[2].append((max(more, less), what))
    if not found:
        return None
    lines = []
    for (year, kind, what), (more, less, parts, _) in sorted(found.items(), key=lambda kv: -max(kv[1][:2])):
        lines.append(_line(year, kind, what, more, less, parts))
    return ("no plan meets every rule; the smallest changes that would let one exist:\n- "
            + "\n- ".join(lines[:12]))


def _line(year: str, kind: str, what: str, more: float, less: float, parts: list) -> str:
    if kind == "stream":
        if more >= less:
            return f"{year}: {what} runs short by {gbp(more)}: the lines it alone may fund need that much more"
        return f"{year}: {what} cannot spend {gbp(less)} of its amount: the lines it may fund are capped"
    if kind == "budget":
        if more >= less:
            return f"{year}: the budget runs short by {gbp(more)}"
        return f"{year}: {gbp(less)} of the budget cannot be spent within the caps and rules"
    if kind == "group":
        return f"{year}: {what} needs its bounds moved by {gbp(max(more, less))}"
    if kind == "carry_over":
        return f"{year}: carry-over stream '{what}' runs short by {gbp(max(more, less))} so far in the plan"
    parts.sort(reverse=True)
    largest = ", ".join(f"{w} {gbp(v)}" for v, w in parts[:3])
    rule = {"pace": "the pace of change (and minimum uplift)",
            "convergence": "convergence to target"}.get(kind, kind)
    return (f"{year}: {rule} must allow {gbp(more + less)} more, in {len(parts):,} area"
            f"{'s' if len(parts) != 1 else ''} (largest: {largest})")
