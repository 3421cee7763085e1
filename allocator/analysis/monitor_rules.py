"""Did the rules hold in what was actually spent?  Floors, caps, locked lines, the need ordering,
the pace of change and the funding streams, re-checked from the actual spend alone.

The checks are those a solution passes (`allocator.model.evaluate.violations`,
`allocator.analysis.plan.violations`), with two differences an outturn needs: a tolerance
(`MonitorSettings.rule_tolerance` for limits, ``ordering_tolerance`` for the need ordering), since
money is never spent to the penny of a plan, and every breach is named rather than counted.
A line that was not reported is not checked.

* **floors / caps**: a line's units per head below ``floor x (1 - tolerance)``, or above ``cap x
  (1 + tolerance)``;
* **locked lines**: a locked line's spend more than the tolerance off its locked amount;
* **need ordering** (``monotone`` or ``proportional`` scenarios): within each service, an area
  that gets less than ``(1 - ordering_tolerance)`` times the units per head of a less needy
  area. Each breach names the needier area, the less needy area that got the most per head (its
  counterpart) and how many less needy areas got more (``pairs``). The scenario's minimum slope
  is not re-checked: only the direction;
* **pace of change**: an area's total outside its limits against last year's (the baseline in
  the first year; later, the year before's actual where every line of the area was reported,
  else its plan), widened by the tolerance; the plan's ``min_uplift`` too;
* **streams** (when the outturn names them): a stream paying for a line it may not fund, or
  spending more than it held that year (beyond the tolerance; a carry-over stream is not held to
  its year's amount).

`check` returns two tables: ``rules`` (year, rule, checks, checked, breaches, held, rag,
tolerance, description) and ``breaches`` (year, rule, service_id, service_name, area_id,
area_name, deprivation_group, need_index, value, limit, planned_value, beyond_pct, units,
counterpart_area_id, counterpart_area_name, counterpart_deprivation_group, counterpart_need_index,
counterpart_value, pairs, stream_id).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.model import plan as pm
from allocator.scenario.monitor_settings import MonitorSettings

RULES = {"floors": "every line at or above its floor (units per head)",
         "caps": "every line at or below its cap (units per head)",
         "locked": "every locked line at its locked amount",
         "need_ordering": "within each service, units per head rise with need",
         "pace_of_change": "every area's total within its pace of change",
         "streams": "every stream pays only for what it may fund, within what it holds"}
BREACH_COLUMNS = ["year", "rule", "service_id", "service_name", "area_id", "area_name", "deprivation_group",
                  "need_index", "value", "limit", "planned_value", "beyond_pct", "units", "counterpart_area_id",
                  "counterpart_area_name", "counterpart_deprivation_group", "counterpart_need_index",
                  "counterpart_value", "pairs", "stream_id"]
RULE_COLUMNS = ["year", "rule", "checks", "checked", "breaches", "held", "rag", "tolerance", "description"]
PAIR_CHUNK = 2_000_000  # booleans compared at once when counting the pairs of an ordering breach


def check(plan, actual: np.ndarray, by_stream: np.ndarray | None, complete: np.ndarray, group: np.ndarray,
          settings: MonitorSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rules table and the breaches table of ``actual`` (T, A, S; NaN: not compared)."""
    rules, breaches = [], []
    for t, year in enumerate(plan.years):
        found = []
        found += _limits(plan, actual, t, group, settings)
        found += _ordering(plan, actual, t, group, settings)
        found += _pace(plan, actual, complete, t, group, settings)
        if by_stream is not None:
            found += _streams(plan, by_stream, t, settings)
        for rule, checks, checked, rows in found:
            if not checked:  # nothing reported to check it on: not 'held'
                continue
            tolerance = settings.ordering_tolerance if rule == "need_ordering" else settings.rule_tolerance
            rules.append({"year": year, "rule": rule, "checks": checks, "checked": int(checked),
                          "breaches": len(rows), "held": not rows, "rag": "red" if rows else "green",
                          "tolerance": tolerance, "description": RULES[rule]})
            breaches += [{"year": year, "rule": rule, **row} for row in rows]
    return (pd.DataFrame(rules, columns=RULE_COLUMNS),
            pd.DataFrame(breaches, columns=BREACH_COLUMNS).astype({"pairs": "Int64"}))


def _line(s, a: int, k: int, group: np.ndarray, **fields) -> dict:
    """A breach row of line (area ``a``, service ``k``)."""
    return {"service_id": s.service_ids[k], "service_name": s.service_names[k], "area_id": s.area_ids[a],
            "area_name": s.area_names[a], "deprivation_group": int(group[a]), "need_index": float(s.need[a, k]),
            **fields}


def _limits(plan, actual: np.ndarray, t: int, group: np.ndarray, settings: MonitorSettings) -> list:
    """Floors, caps and locked lines of year ``t``: (rule, checks, checked, breach rows) each."""
    s, tol = plan.scenario, settings.rule_tolerance
    x, unit = actual[t], s.unit_spend
    seen = np.isfinite(x)
    free = seen & ~s.is_locked & (unit > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        i = np.where(unit > 0, x / unit, np.nan)
        planned = np.where(unit > 0, plan.spend[t] / unit, np.nan)
    floor, cap = s.floor[None, :], s.cap[None, :]
    out = []
    for rule, applies, broken, limit, beyond in (
            ("floors", free & (floor > 0), i < floor * (1 - tol), floor, (floor - i) / np.where(floor > 0, floor, 1)),
            ("caps", free & np.isfinite(cap), i > cap * (1 + tol), cap,
             (i - cap) / np.where(np.isfinite(cap) & (cap > 0), cap, 1))):
        rows = [_line(s, a, k, group, value=float(i[a, k]), limit=float(limit[0, k]),
                      planned_value=float(planned[a, k]), beyond_pct=float(beyond[a, k]), units="units per head")
                for a, k in zip(*np.nonzero(applies & broken))]
        out.append((rule, "lines", int(applies.sum()), rows))
    locked = seen & s.is_locked
    if s.is_locked.any():
        amount = np.where(s.is_locked, s.locked, 0.0)
        off = locked & (np.abs(x - amount) > tol * amount + 0.005)
        rows = [_line(s, a, k, group, value=float(x[a, k]), limit=float(amount[a, k]),
                      planned_value=float(plan.spend[t][a, k]),
                      beyond_pct=float(abs(x[a, k] - amount[a, k]) / amount[a, k]) if amount[a, k] > 0 else np.inf,
                      units="GBP")
                for a, k in zip(*np.nonzero(off))]
        out.append(("locked", "lines", int(locked.sum()), rows))
    return out


def ordering_breaks(need: np.ndarray, intensity: np.ndarray, tolerance: float) -> tuple[np.ndarray, ...]:
    """Where intensity falls as need rises: (needier, counterpart, pairs), positions into the arrays.

    An area breaks the ordering when it gets less than ``(1 - tolerance)`` times the intensity of
    an area of strictly lower need; its counterpart is the less needy area that got the most, and
    ``pairs`` counts the less needy areas beyond the tolerance.

    Examples
    --------
    >>> ordering_breaks(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 1.5, 3.0]), 0.1)
    (array([2]), array([1]), array([1]))
    >>> [a.size for a in ordering_breaks(np.array([1.0, 2.0]), np.array([1.0, 0.95]), 0.1)]
    [0, 0, 0]
    """
    order = np.argsort(need, kind="stable")
    n_sorted, i_sorted = need[order], intensity[order]
    running = np.maximum.accumulate(i_sorted)
    at = np.maximum.accumulate(np.where(i_sorted >= running, np.arange(order.size), 0))  # where the max was
    first = np.searchsorted(n_sorted, n_sorted, side="left")  # the first of each area's equal-need areas
    below = np.maximum(first - 1, 0)
    broken = (first > 0) & (i_sorted < (1 - tolerance) * running[below])
    needier, counterpart = order[broken], order[at[below][broken]]
    pairs = np.zeros(needier.size, dtype=int)
    step = max(1, PAIR_CHUNK // max(need.size, 1))
    for k in range(0, needier.size, step):
        a = needier[k:k + step, None]
        pairs[k:k + step] = ((need[None, :] < need[a]) & ((1 - tolerance) * intensity[None, :] > intensity[a])).sum(1)
    return needier, counterpart, pairs


def _ordering(plan, actual: np.ndarray, t: int, group: np.ndarray, settings: MonitorSettings) -> list:
    s = plan.scenario
    if s.proportionality == "none":
        return []
    unit = s.unit_spend
    free = np.isfinite(actual[t]) & ~s.is_locked & (unit > 0)
    rows, checked = [], 0
    for k in range(s.n_services):
        lines = np.flatnonzero(free[:, k])
        if lines.size < 2:
            continue
        intensity = actual[t][lines, k] / unit[lines, k]
        planned = plan.spend[t][lines, k] / unit[lines, k]
        checked += lines.size
        for a, b, n in zip(*ordering_breaks(s.need[lines, k], intensity, settings.ordering_tolerance)):
            A, B = lines[a], lines[b]
            rows.append(_line(s, A, k, group, value=float(intensity[a]),
                              limit=float((1 - settings.ordering_tolerance) * intensity[b]),
                              planned_value=float(planned[a]), beyond_pct=float(1 - intensity[a] / intensity[b]),
                              units="units per head", counterpart_area_id=s.area_ids[B],
                              counterpart_area_name=s.area_names[B], counterpart_deprivation_group=int(group[B]),
                              counterpart_need_index=float(s.need[B, k]), counterpart_value=float(intensity[b]),
                              pairs=int(n)))
    return [("need_ordering", "lines", checked, rows)]


def pace_limits(scenario) -> tuple[float, float] | None:
    """(lowest, highest) ratio of an area's total to the year before's, or None: the pace of change and a
    plan's minimum uplift, as the plan's LP holds them (`allocator.model.plan.pace_factors`)."""
    if scenario.plan is not None:
        return pm.pace_factors(scenario)
    return None if scenario.pace is None else (1 - scenario.pace[0], 1 + scenario.pace[1])


def _pace(plan, actual: np.ndarray, complete: np.ndarray, t: int, group: np.ndarray,
          settings: MonitorSettings) -> list:
    s, tol = plan.scenario, settings.rule_tolerance
    limits = pace_limits(s)
    if limits is None or (t == 0 and s.baseline is None):
        return []
    if t == 0:
        before = s.baseline.sum(axis=1)
    else:
        before = np.where(complete[t - 1], np.nansum(actual[t - 1], axis=1), plan.spend[t - 1].sum(axis=1))
    now = np.nansum(actual[t], axis=1)
    low, high = limits[0] * before * (1 - tol), limits[1] * before * (1 + tol)
    checked = complete[t] & (before > 0)
    rows = []
    for a in np.flatnonzero(checked & ((now < low) | (now > high))):
        limit = limits[0] * before[a] if now[a] < low[a] else limits[1] * before[a]
        rows.append({"area_id": s.area_ids[a], "area_name": s.area_names[a], "deprivation_group": int(group[a]),
                     "value": float(now[a]), "limit": float(limit), "planned_value": float(plan.spend[t][a].sum()),
                     "beyond_pct": float(abs(now[a] - limit) / limit), "units": "GBP"})
    return [("pace_of_change", "areas", int(checked.sum()), rows)]


def _streams(plan, by_stream: np.ndarray, t: int, settings: MonitorSettings) -> list:
    s = plan.scenario
    rows, checked = [], 0
    for f, stream in enumerate(s.streams):
        paid = by_stream[t, f]
        seen = np.isfinite(paid)
        checked += int(seen.sum())
        for a, k in zip(*np.nonzero(seen & (paid > 0.005) & ~stream.eligible(s.n_areas))):
            rows.append({"service_id": s.service_ids[k], "service_name": s.service_names[k],
                         "area_id": s.area_ids[a], "area_name": s.area_names[a], "value": float(paid[a, k]),
                         "limit": 0.0, "units": "GBP", "stream_id": stream.id})
        held = stream.amounts[t] if t < len(stream.amounts) else np.nan
        spent = float(np.nansum(paid))
        if not stream.carry_over and np.isfinite(held) and spent > held * (1 + settings.rule_tolerance) + 0.005:
            rows.append({"value": spent, "limit": float(held), "beyond_pct": (spent - held) / held if held else np.inf,
                         "units": "GBP", "stream_id": stream.id})
    return [("streams", "stream lines", checked, rows)]
