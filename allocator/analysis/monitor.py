"""Monitoring: the plan against what was actually spent and observed.

`monitor` takes the plan (a `allocator.analysis.pipeline.Result`, a
`allocator.analysis.plan.PlanResult`, or a `Planned` built from saved tables) and the outturn
(`allocator.scenario.outturn.Outturn`) and returns a frozen `Monitoring` of tidy tables, one row
per year x ... (a scenario without ``[plan]`` has one year). Money is in GBP, shares and
percentages are fractions (0.05 is 5%), and ``rag`` is ``green``, ``amber`` or ``red`` on the
thresholds of `allocator.scenario.monitor_settings.MonitorSettings`:

``monitor_totals``
    year, planned_gbp, planned_compared_gbp, actual_gbp, variance_gbp, variance_pct, areas,
    areas_reported (every planned line), areas_partly_reported, areas_not_reported, lines,
    lines_reported, direction (over / under / on plan), rag.
``monitor_lines``
    year, area_id, area_name, service_id, service_name, deprivation_<group>, status (reported, not
    reported, assumed zero, assumed as planned), planned_gbp, actual_gbp, variance_gbp,
    variance_pct, planned_units_per_head, actual_units_per_head.
``monitor_by_area`` / ``monitor_by_service`` / ``monitor_by_group`` / ``monitor_by_stream``
    the key columns (area_id, area_name, deprivation_<group>, population, reported: all / some /
    none; service_id, service_name; deprivation_<group>, areas, population; stream_id,
    stream_name), then planned_gbp, planned_compared_gbp, actual_gbp, variance_gbp, variance_pct,
    lines, lines_reported, direction, rag; areas and groups add planned_per_head_gbp and
    actual_per_head_gbp over the areas whose every planned line was compared. By stream only
    when the outturn names the streams that paid.
``monitor_rules`` / ``monitor_breaches``
    whether each rule held in what was spent (`allocator.analysis.monitor_rules`), and every
    breach: the line or area, its value and the limit, the pair of areas that break the need
    ordering.
``monitor_measures``
    year, measure, units, planned, actual, change, worse_by, worse_by_units, amber, red, rag,
    areas: the proportionality index, the concentration index of spend and the share of spend
    in the most deprived fifth, over the areas whose every planned line was compared.
``monitor_trend`` / ``monitor_trend_by_group``
    the gradient of the outcome by year: baseline, projected and observed
    (`allocator.analysis.trend`).
``monitor_by_population_group``
    year, dimension, group, column, areas, population, share_of_population, planned_gbp, actual_gbp,
    variance_gbp, variance_pct, planned_per_head_gbp, actual_per_head_gbp, change_per_head_gbp,
    planned_relative_to_average, actual_relative_to_average, direction, rag: each population group
    of the scenario's ``[disaggregation]`` (ethnic group, disability, age band), over the areas whose
    every planned line was compared, estimated as `allocator.analysis.disaggregate.METHOD` says
    (an area-level estimate, not individual data); empty without ``[disaggregation]``. Within a
    dimension the groups hold everyone once: their actual spend adds up to the areas'.

*planned_compared_gbp* is the plan on the lines compared: those reported, and with ``missing =
"zero"`` or ``"planned"`` those not reported too; the variance is actual minus it, so that a
line not reported is never counted as an underspend.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.analysis import monitor_rules, trend
from allocator.analysis.disaggregate import spend_by_group
from allocator.analysis.gradient import area_need, quantile_label
from allocator.measures import inequality as ineq
from allocator.model import evaluate as ev
from allocator.model.equity import deprivation_groups
from allocator.scenario import Scenario
from allocator.scenario.monitor_settings import MonitorSettings, plan_years
from allocator.scenario.outturn import Outturn

REPORTED, NOT_REPORTED, ASSUMED_ZERO, ASSUMED_PLANNED = "reported", "not reported", "assumed zero", "assumed as planned"
GREEN, AMBER, RED, NONE = "green", "amber", "red", "not reported"
MONEY = ["planned_gbp", "planned_compared_gbp", "actual_gbp", "variance_gbp", "variance_pct", "lines",
         "lines_reported", "direction", "rag"]


@dataclass(frozen=True)
class Planned:
    """The plan being monitored: spend each year (and by stream), and the outcomes it projects."""

    scenario: Scenario
    years: tuple[str, ...]
    spend: np.ndarray  # (T, A, S) GBP
    by_stream: np.ndarray | None  # (T, F, A, S) GBP, when the plan has funding streams
    projected: np.ndarray  # (T, A) projected outcome each year
    budgets: tuple[float, ...]


def planned(plan, settings: MonitorSettings | None = None) -> Planned:
    """The `Planned` of a `Result` (one year), a `PlanResult` (each year of the plan) or a `Planned`."""
    if isinstance(plan, Planned):
        return plan
    if hasattr(plan, "years") and hasattr(plan, "plan_lp"):  # a PlanResult
        s = plan.scenario
        streams = [y.allocation.by_stream for y in plan.years]
        return Planned(scenario=s, years=plan_years(s, settings),
                       spend=np.stack([y.allocation.spend for y in plan.years]),
                       by_stream=np.stack(streams) if all(b is not None for b in streams) else None,
                       projected=np.stack([y.outcomes.projected for y in plan.years]),
                       budgets=tuple(float(y.allocation.spend.sum()) for y in plan.years))
    s = plan.scenario
    by_stream = plan.allocation.by_stream
    return Planned(scenario=s, years=plan_years(s, settings), spend=plan.allocation.spend[None],
                   by_stream=None if by_stream is None else by_stream[None],
                   projected=plan.outcomes.projected[None], budgets=(float(plan.allocation.spend.sum()),))


def planned_from_spend(scenario: Scenario, spend: np.ndarray, by_stream: np.ndarray | None = None,
                       settings: MonitorSettings | None = None) -> Planned:
    """A `Planned` from spend alone, (T, A, S) or (A, S), e.g. read back from a saved run: the
    projected outcomes are evaluated from it by the response curves (with a plan's lags), as a run
    evaluates them."""
    spend = np.asarray(spend, dtype=float)
    spend = spend[None] if spend.ndim == 2 else spend
    years = plan_years(scenario, settings)
    if spend.shape != (len(years), scenario.n_areas, scenario.n_services):
        raise ValueError(f"spend: expected shape {(len(years), scenario.n_areas, scenario.n_services)} (years, "
                         f"areas, services), got {spend.shape}")
    budgets = tuple(float(x.sum()) for x in spend)
    if scenario.plan is None:
        projected = ev.evaluate(scenario, spend[0]).projected[None]
    else:
        from allocator.analysis.plan import effective_spend

        spends = list(spend)
        projected = np.stack([ev.evaluate(scenario.with_(budget_gbp=scenario.plan.budgets[t]),
                                          effective_spend(scenario, spends, t)).projected
                              for t in range(len(years))])
    if by_stream is not None:
        by_stream = np.asarray(by_stream, dtype=float)
        by_stream = by_stream[None] if by_stream.ndim == 3 else by_stream
    return Planned(scenario=scenario, years=years, spend=spend, by_stream=by_stream, projected=projected,
                   budgets=budgets)


@dataclass(frozen=True)
class Monitoring:
    """The plan against the outturn: tidy tables (see the module's docstring for their columns)."""

    scenario: Scenario
    years: tuple[str, ...]
    settings: MonitorSettings
    files: tuple[str, ...]
    totals: pd.DataFrame
    lines: pd.DataFrame
    by_area: pd.DataFrame
    by_service: pd.DataFrame
    by_group: pd.DataFrame
    by_stream: pd.DataFrame
    rules: pd.DataFrame
    breaches: pd.DataFrame
    measures: pd.DataFrame
    trend: pd.DataFrame
    trend_by_group: pd.DataFrame
    notes: tuple[str, ...]
    by_population_group: pd.DataFrame = dataclasses.field(default_factory=lambda: pd.DataFrame(columns=GROUPS))

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by the name it is saved under (``monitor_totals``, ``monitor_lines``, ...)."""
        names = ("totals", "lines", "by_area", "by_service", "by_group", "by_stream", "rules", "breaches",
                 "measures", "trend", "trend_by_group", "by_population_group")
        return {f"monitor_{n}": getattr(self, n) for n in names}

    @property
    def has_spend(self) -> bool:
        """Was any actual spend compared (reported, or counted by the missing rule)?"""
        return bool((self.lines["status"] != NOT_REPORTED).any())

    @property
    def group_column(self) -> str:
        """The name of the deprivation group column: ``deprivation_decile``, ``..._quintile``, ..."""
        return f"deprivation_{quantile_label(self.scenario.gradient.quantiles)}"


@dataclass(frozen=True)
class _Spend:
    """The actual spend laid over the plan's lines."""

    actual: np.ndarray  # (T, A, S): compared lines' amounts (reported, or as the missing rule says); NaN: not
    status: np.ndarray  # (T, A, S) one of REPORTED, ...
    by_stream: np.ndarray | None  # (T, F, A, S) reported by stream (NaN: not), when the outturn names streams
    complete: np.ndarray  # (T, A) every line planned above zero is compared


def monitor(plan, outturn: Outturn, settings: MonitorSettings | None = None) -> Monitoring:
    """The plan against what was spent and observed.

    Parameters
    ----------
    plan : Result, PlanResult or Planned
        What was planned (`allocator.solve`, `allocator.analysis.plan.run_plan`, or `planned_from_spend`).
    outturn : Outturn
        What was spent and observed (`allocator.scenario.outturn.read`), read against the same scenario.
    settings : MonitorSettings, optional
        Thresholds (default: `MonitorSettings()`).

    Examples
    --------
    >>> import allocator
    >>> from allocator.scenario import outturn
    >>> s = allocator.load("scenarios/england-la")
    >>> m = monitor(allocator.solve(s), outturn.read(["scenarios/england-la/outturn.csv"], s))
    >>> m.totals[["year", "areas", "areas_not_reported"]].values.tolist()
    [['Year 1', 296, 1]]
    """
    settings = settings or MonitorSettings()
    plan = planned(plan, settings)
    if len(plan.years) == len(outturn.years) == 1 and plan.scenario.plan is None:
        plan = dataclasses.replace(plan, years=outturn.years)  # one year, named by whoever read the outturn
    if outturn.years != plan.years:
        raise ValueError(f"the outturn was read for the years {outturn.years}, the plan has {plan.years}: read it "
                         "with the same settings")
    s = plan.scenario
    spent = _laid_over(plan, outturn, settings)
    group = deprivation_groups(s)
    gcol = f"deprivation_{quantile_label(s.gradient.quantiles)}"
    rules, breaches = monitor_rules.check(plan, spent.actual, spent.by_stream, spent.complete, group, settings)
    trends, by_group_trend = trend.trend(plan, outturn, settings, group, gcol)
    return Monitoring(
        scenario=s, years=plan.years, settings=settings, files=outturn.files,
        totals=_totals(plan, spent, settings), lines=_lines(plan, spent, group, gcol),
        by_area=_by_area(plan, spent, group, gcol, settings), by_service=_by_service(plan, spent, settings),
        by_group=_by_group(plan, spent, group, gcol, settings), by_stream=_by_stream(plan, spent, settings),
        rules=rules, breaches=breaches, measures=_measures(plan, spent, group, settings),
        trend=trends, trend_by_group=by_group_trend, notes=_notes(plan, outturn, spent, settings),
        by_population_group=_by_population_group(plan, spent, settings))


def _laid_over(plan: Planned, outturn: Outturn, settings: MonitorSettings) -> _Spend:
    """The outturn's spend as arrays over the plan's lines; lines not reported as the missing rule says."""
    T, A, S = plan.spend.shape
    frame = outturn.spend
    flat = (frame["year_index"].to_numpy() * A + frame["area_index"].to_numpy()) * S + frame["service_index"].to_numpy()
    amount = frame["actual_gbp"].to_numpy(dtype=float)
    reported = np.bincount(flat, minlength=T * A * S).reshape(T, A, S) > 0
    actual = np.where(reported, np.bincount(flat, weights=amount, minlength=T * A * S).reshape(T, A, S), np.nan)
    status = np.where(reported, REPORTED, NOT_REPORTED).astype(object)
    if settings.missing == "zero":
        actual, status = np.where(reported, actual, 0.0), np.where(reported, status, ASSUMED_ZERO)
    elif settings.missing == "planned":
        actual, status = np.where(reported, actual, plan.spend), np.where(reported, status, ASSUMED_PLANNED)
    by_stream = None
    if outturn.by_stream:
        F = len(plan.scenario.streams)
        f = frame["stream_index"].to_numpy()
        keep = f >= 0
        index = f[keep] * T * A * S + flat[keep]
        by_stream = np.bincount(index, weights=amount[keep], minlength=F * T * A * S).reshape(F, T, A, S)
        seen = np.bincount(index, minlength=F * T * A * S).reshape(F, T, A, S) > 0
        by_stream = np.where(seen, by_stream, np.nan).transpose(1, 0, 2, 3)
    compared = np.isfinite(actual) | (plan.spend <= 0)
    return _Spend(actual=actual, status=status, by_stream=by_stream, complete=compared.all(axis=2))


# -- money tables ---------------------------------------------------------------------------
def rag(worse_by, amber: float, red: float) -> np.ndarray:
    """green up to ``amber``, amber up to ``red``, red beyond; 'not reported' where ``worse_by`` is NaN.

    >>> rag([0.0, 0.07, 0.2, float("nan")], 0.05, 0.1).tolist()
    ['green', 'amber', 'red', 'not reported']
    """
    w = np.asarray(worse_by, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(w), NONE, np.where(w > red, RED, np.where(w > amber, AMBER, GREEN)))


def _money(planned: np.ndarray, compared: np.ndarray, actual: np.ndarray, lines: np.ndarray, reported: np.ndarray,
           settings: MonitorSettings) -> dict:
    """The money columns of a table of groups: planned, planned on the lines compared, actual, variance."""
    counted = np.asarray(compared, dtype=float)
    variance = actual - counted
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(counted > 0, variance / counted, np.where(np.isfinite(actual) & (actual > 0), np.inf, 0.0))
    pct = np.where(np.isfinite(actual), pct, np.nan)
    worse = np.abs(pct)
    direction = np.where(np.isnan(pct), NONE, np.where(worse <= settings.variance_amber, "on plan",
                                                       np.where(pct > 0, "over", "under")))
    return {"planned_gbp": planned, "planned_compared_gbp": counted, "actual_gbp": actual, "variance_gbp": variance,
            "variance_pct": pct, "lines": lines, "lines_reported": reported, "direction": direction,
            "rag": rag(worse, settings.variance_amber, settings.variance_red)}


def _grouped(plan: Planned, spent: _Spend, t: int, code: np.ndarray, n: int, settings: MonitorSettings) -> dict:
    """The money columns of year ``t`` summed by ``code`` (an (A, S) array of group numbers 0..n-1)."""
    planned, actual = plan.spend[t], spent.actual[t]
    compared = np.isfinite(actual)
    code = code.ravel()

    def total(values, mask=None):
        v = np.asarray(values, dtype=float).ravel()
        return np.bincount(code, weights=v if mask is None else np.where(mask.ravel(), v, 0.0), minlength=n)

    any_compared = total(compared) > 0
    actual_sum = np.where(any_compared, total(np.nan_to_num(actual)), np.nan)
    return _money(total(planned), total(planned, compared), actual_sum, total(np.ones_like(planned)).astype(int),
                  total(spent.status[t] == REPORTED).astype(int), settings)


def _totals(plan: Planned, spent: _Spend, settings: MonitorSettings) -> pd.DataFrame:
    T, A, S = plan.spend.shape
    rows = []
    for t, year in enumerate(plan.years):
        money = {k: v[0] for k, v in _grouped(plan, spent, t, np.zeros((A, S), int), 1, settings).items()}
        reported = (spent.status[t] == REPORTED) | (plan.spend[t] <= 0)
        some = (spent.status[t] == REPORTED).any(axis=1)
        rows.append({"year": year, **{k: money[k] for k in MONEY[:5]}, "areas": A,
                     "areas_reported": int(reported.all(axis=1).sum()),
                     "areas_partly_reported": int((some & ~reported.all(axis=1)).sum()),
                     "areas_not_reported": int((~some).sum()), **{k: money[k] for k in MONEY[5:]}})
    return pd.DataFrame(rows)


def _lines(plan: Planned, spent: _Spend, group: np.ndarray, gcol: str) -> pd.DataFrame:
    s = plan.scenario
    T, A, S = plan.spend.shape
    unit = s.unit_spend
    parts = []
    for t, year in enumerate(plan.years):
        planned, actual = plan.spend[t], spent.actual[t]
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.where(planned > 0, (actual - planned) / planned, np.nan)
            parts.append(pd.DataFrame({
                "year": year, "area_id": np.repeat(s.area_ids, S), "area_name": np.repeat(s.area_names, S),
                "service_id": np.tile(s.service_ids, A), "service_name": np.tile(s.service_names, A),
                gcol: np.repeat(group, S), "status": spent.status[t].ravel(), "planned_gbp": planned.ravel(),
                "actual_gbp": actual.ravel(), "variance_gbp": (actual - planned).ravel(), "variance_pct": pct.ravel(),
                "planned_units_per_head": np.where(unit > 0, planned / unit, np.nan).ravel(),
                "actual_units_per_head": np.where(unit > 0, actual / unit, np.nan).ravel()}))
    return pd.concat(parts, ignore_index=True)


def _per_head(plan: Planned, spent: _Spend, t: int, code: np.ndarray, n: int) -> dict:
    """Planned and actual GBP per head over the areas (of each group) whose every line was compared."""
    s = plan.scenario
    whole = spent.complete[t]
    pop = np.bincount(code, weights=np.where(whole, s.population, 0.0), minlength=n)
    planned = np.bincount(code, weights=np.where(whole, plan.spend[t].sum(axis=1), 0.0), minlength=n)
    actual = np.bincount(code, weights=np.where(whole, np.nansum(spent.actual[t], axis=1), 0.0), minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"planned_per_head_gbp": np.where(pop > 0, planned / pop, np.nan),
                "actual_per_head_gbp": np.where(pop > 0, actual / pop, np.nan)}


def _by_area(plan: Planned, spent: _Spend, group: np.ndarray, gcol: str, settings: MonitorSettings) -> pd.DataFrame:
    s = plan.scenario
    T, A, S = plan.spend.shape
    code = np.repeat(np.arange(A), S).reshape(A, S)
    parts = []
    for t, year in enumerate(plan.years):
        money = _grouped(plan, spent, t, code, A, settings)
        some = (spent.status[t] == REPORTED).any(axis=1)
        every = ((spent.status[t] == REPORTED) | (plan.spend[t] <= 0)).all(axis=1)
        parts.append(pd.DataFrame({"year": year, "area_id": s.area_ids, "area_name": s.area_names, gcol: group,
                                   "population": s.population,
                                   "reported": np.where(every, "all", np.where(some, "some", "none")),
                                   **money, **_per_head(plan, spent, t, np.arange(A), A)}))
    return pd.concat(parts, ignore_index=True)


def _by_service(plan: Planned, spent: _Spend, settings: MonitorSettings) -> pd.DataFrame:
    s = plan.scenario
    T, A, S = plan.spend.shape
    code = np.tile(np.arange(S), A).reshape(A, S)
    return pd.concat([pd.DataFrame({"year": year, "service_id": s.service_ids, "service_name": s.service_names,
                                    **_grouped(plan, spent, t, code, S, settings)})
                      for t, year in enumerate(plan.years)], ignore_index=True)


def _by_group(plan: Planned, spent: _Spend, group: np.ndarray, gcol: str, settings: MonitorSettings) -> pd.DataFrame:
    s = plan.scenario
    T, A, S = plan.spend.shape
    Q = s.gradient.quantiles
    code = np.repeat(group - 1, S).reshape(A, S)
    parts = []
    for t, year in enumerate(plan.years):
        parts.append(pd.DataFrame({"year": year, gcol: np.arange(1, Q + 1),
                                   "areas": np.bincount(group - 1, minlength=Q),
                                   "population": np.bincount(group - 1, weights=s.population, minlength=Q),
                                   **_grouped(plan, spent, t, code, Q, settings),
                                   **_per_head(plan, spent, t, group - 1, Q)}))
    return pd.concat(parts, ignore_index=True)


def _by_stream(plan: Planned, spent: _Spend, settings: MonitorSettings) -> pd.DataFrame:
    """Each stream's plan against what it paid, when the outturn names the streams (else empty)."""
    s = plan.scenario
    columns = ["year", "stream_id", "stream_name", *MONEY]
    if spent.by_stream is None or plan.by_stream is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    rows = []
    for t, year in enumerate(plan.years):
        for f, stream in enumerate(s.streams):
            actual, planned = spent.by_stream[t, f], plan.by_stream[t, f]
            seen = np.isfinite(actual)
            money = _money(np.array([planned.sum()]), np.array([planned[seen].sum()]),
                           np.array([actual[seen].sum() if seen.any() else np.nan]),
                           np.array([int((planned > 0).sum())]), np.array([int(seen.sum())]), settings)
            rows.append({"year": year, "stream_id": stream.id, "stream_name": stream.name,
                         **{k: v[0] for k, v in money.items()}})
    return pd.DataFrame(rows, columns=columns)


GROUPS = ["year", "dimension", "group", "column", "areas", "population", "share_of_population", "planned_gbp",
          "actual_gbp", "variance_gbp", "variance_pct", "planned_per_head_gbp", "actual_per_head_gbp",
          "change_per_head_gbp", "planned_relative_to_average", "actual_relative_to_average", "direction", "rag"]


def _by_population_group(plan: Planned, spent: _Spend, settings: MonitorSettings) -> pd.DataFrame:
    """Planned against actual spend per head of each population group ([disaggregation]), over the areas
    whose every planned line was compared (`allocator.analysis.disaggregate.spend_by_group`)."""
    s = plan.scenario
    parts = []
    for t, year in enumerate(plan.years):
        areas = spent.complete[t]
        if not s.disaggregation or not areas.any():
            continue
        g = spend_by_group(s, np.nansum(spent.actual[t], axis=1), before=plan.spend[t].sum(axis=1),
                           before_label="planned", areas=areas)
        money = _money(g["planned_spend_gbp"].to_numpy(float), g["planned_spend_gbp"].to_numpy(float),
                       g["spend_gbp"].to_numpy(float), np.zeros(len(g)), np.zeros(len(g)), settings)
        people, planned_total = float(s.population[areas].sum()), float(plan.spend[t][areas].sum())
        planned_average = planned_total / people if people > 0 and planned_total > 0 else np.nan
        parts.append(pd.DataFrame({
            "year": year, "dimension": g["dimension"], "group": g["group"], "column": g["column"],
            "areas": int(areas.sum()), "population": g["population"], "share_of_population": g["share_of_population"],
            **{k: money[k] for k in ("planned_gbp", "actual_gbp", "variance_gbp", "variance_pct")},
            "planned_per_head_gbp": g["planned_spend_per_head_gbp"], "actual_per_head_gbp": g["spend_per_head_gbp"],
            "change_per_head_gbp": g["change_per_head_gbp"],
            "planned_relative_to_average": g["planned_spend_per_head_gbp"] / planned_average,
            "actual_relative_to_average": g["spend_per_head_relative_to_average"],
            "direction": money["direction"], "rag": money["rag"]}))
    return pd.concat(parts, ignore_index=True)[GROUPS] if parts else pd.DataFrame(columns=GROUPS)


# -- proportionate universalism: planned against actual ------------------------------------
#: measure: (units, True when higher is better, how worse_by is measured, settings' prefix)
MEASURES = {"proportionality_index": ("GBP per head per unit of need", True, "share of planned", "proportionality"),
            "concentration_index_spend": ("index (-1..1; < 0 pro-deprived)", False, "index points", "concentration"),
            "share_of_spend_most_deprived_fifth": ("share", True, "share", "share")}


def spend_measures(scenario: Scenario, area_spend: np.ndarray, areas: np.ndarray, group: np.ndarray) -> dict:
    """The proportionality index, concentration index of spend and share to the most deprived fifth of
    ``area_spend`` (A,) over the areas of the mask ``areas``, as `allocator.analysis.gradient` measures
    them for a run (all areas: the same numbers as its metrics)."""
    pop = scenario.population[areas]
    per_head = area_spend[areas] / pop
    need = area_need(scenario)[areas]
    key = -scenario.deprivation if scenario.gradient.most_deprived == "high" else scenario.deprivation
    ranked = np.argsort(key[areas], kind="stable")
    most = group[areas] <= max(1, scenario.gradient.quantiles // 5)
    total = area_spend[areas].sum()
    return {"proportionality_index": ineq.proportionality_index(per_head, need, pop),
            "concentration_index_spend": ineq.concentration_index(per_head[ranked], pop[ranked]),
            "share_of_spend_most_deprived_fifth": float(area_spend[areas][most].sum() / total) if total > 0
            else float("nan")}


def _measures(plan: Planned, spent: _Spend, group: np.ndarray, settings: MonitorSettings) -> pd.DataFrame:
    s = plan.scenario
    rows = []
    for t, year in enumerate(plan.years):
        areas = spent.complete[t]
        if areas.sum() < 2:
            continue
        before = spend_measures(s, plan.spend[t].sum(axis=1), areas, group)  # need per head: the budget cancels
        after = spend_measures(s, np.nansum(spent.actual[t], axis=1), areas, group)
        for name, (units, higher, scale, prefix) in MEASURES.items():
            p, a = before[name], after[name]
            worse = (p - a) if higher else (a - p)
            if scale == "share of planned":
                worse = worse / abs(p) if p != 0 else float("nan")
            amber, red = getattr(settings, f"{prefix}_amber"), getattr(settings, f"{prefix}_red")
            rows.append({"year": year, "measure": name, "units": units, "planned": p, "actual": a, "change": a - p,
                         "worse_by": worse, "worse_by_units": scale, "amber": amber, "red": red,
                         "rag": str(rag([worse], amber, red)[0]), "areas": int(areas.sum())})
    columns = ["year", "measure", "units", "planned", "actual", "change", "worse_by", "worse_by_units", "amber",
               "red", "rag", "areas"]
    return pd.DataFrame(rows, columns=columns)


def _notes(plan: Planned, outturn: Outturn, spent: _Spend, settings: MonitorSettings) -> tuple[str, ...]:
    """What a reader must know to read the tables: lines not reported and how they were counted."""
    s = plan.scenario
    notes = []
    if outturn.spend.empty:
        notes.append("No actual spend was given: only the trend of the gradient is shown.")
    else:
        for t, year in enumerate(plan.years):
            silent = np.flatnonzero(~(spent.status[t] == REPORTED).any(axis=1))
            if silent.size:
                names = ", ".join(s.area_names[a] for a in silent[:5]) + (f" and {silent.size - 5} more"
                                                                        if silent.size > 5 else "")
                how = {"exclude": "left out of every comparison (not counted as zero)",
                       "zero": "counted as nothing spent (missing = zero)",
                       "planned": "counted as spent as planned (missing = planned)"}[settings.missing]
                notes.append(f"{year}: {silent.size} area{'s' if silent.size != 1 else ''} reported no spend "
                             f"({names}): {how}.")
        if plan.by_stream is not None and not outturn.by_stream:
            notes.append("The outturn does not say which funding stream paid: streams are not compared.")
    if outturn.observed.empty:
        notes.append("No observed outcomes were given: the trend shows the baseline and the projection only.")
    return tuple(notes)
