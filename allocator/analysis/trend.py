"""The trend of the gradient: the outcome's SII, RII and gap by year, observed against the plan's projection.

Three sources, each grouped into the scenario's deprivation groups (population-weighted
quantiles, 1 = most deprived) and measured as `allocator.analysis.gradient` measures a run:

* ``baseline``: the scenario's outcome column (the year it describes: ``[monitor] baseline_year``);
* ``projected``: the outcome the plan projects for each of its years (a run's projected outcome);
* ``observed``: the outcomes observed in each year of the outturn.

An observed group's value is the population-weighted mean of its areas that reported; its
standard error is ``sqrt(sum((p_i / P)^2 se_i^2))`` from the areas' ``standard_error`` (areas
independent), or ``value / sqrt(sum of counts)`` from their ``count`` (a Poisson rate). With
standard errors the SII and RII get PHE's simulated confidence limits
(`allocator.measures.phe.phe_sii`, value type normal, seed 0); without, only the point estimates.
Sign convention as PHE's: a positive SII rises from the most to the least deprived; the gap is
least minus most deprived.

Each observed year is set against the projection of the plan's year of the same label (else the
plan's last year), over the same areas and populations: ``projected_sii``,
``sii_minus_projected`` and ``projected_within_limits``.

Tables: ``trend`` (year, source, order, areas, population, mean_outcome, sii, sii_lower,
sii_upper, rii, rii_lower, rii_upper, gap_absolute, gap_relative, confidence, projected_year,
projected_sii, sii_minus_projected, projected_within_limits) and ``trend_by_group`` (year, source,
deprivation_<group>, areas, population, outcome, standard_error).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.measures import inequality as ineq
from allocator.scenario.monitor_settings import MonitorSettings

REPETITIONS = 100_000  # PHE's default number of simulated data sets
TREND_COLUMNS = ["year", "source", "order", "areas", "population", "mean_outcome", "sii", "sii_lower", "sii_upper",
                 "rii", "rii_lower", "rii_upper", "gap_absolute", "gap_relative", "confidence", "projected_year",
                 "projected_sii", "sii_minus_projected", "projected_within_limits"]


def grouped(values: np.ndarray, population: np.ndarray, group: np.ndarray, n_groups: int,
            standard_error: np.ndarray | None = None, count: np.ndarray | None = None) -> pd.DataFrame:
    """Areas' values as groups 1..n: areas, population, population-weighted mean and its standard error
    (NaN without one); groups with no area are left out.

    >>> grouped(np.array([70.0, 73.0, 80.0]), np.array([1000.0, 2000.0, 1000.0]), np.array([1, 1, 2]), 2)
       group  areas  population  outcome  standard_error
    0      1      2      3000.0     72.0             NaN
    1      2      1      1000.0     80.0             NaN
    """
    code = group - 1
    pop = np.bincount(code, weights=population, minlength=n_groups)
    areas = np.bincount(code, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(code, weights=population * values, minlength=n_groups) / pop
        se = np.full(n_groups, np.nan)
        if standard_error is not None and np.all(np.isfinite(standard_error)):
            share = population / pop[code]
            se = np.sqrt(np.bincount(code, weights=(share * standard_error) ** 2, minlength=n_groups))
        elif count is not None and np.all(np.isfinite(count)):
            events = np.bincount(code, weights=count, minlength=n_groups)
            se = np.where(events > 0, np.abs(mean) / np.sqrt(events), np.nan)
    keep = areas > 0
    return pd.DataFrame({"group": np.arange(1, n_groups + 1)[keep], "areas": areas[keep], "population": pop[keep],
                         "outcome": mean[keep], "standard_error": se[keep]})


def measured(groups: pd.DataFrame, confidence: float) -> dict:
    """SII, RII (with PHE's limits when every group has a standard error) and gap of grouped values."""
    values, pop, se = (groups[c].to_numpy(dtype=float) for c in ("outcome", "population", "standard_error"))
    out = {"areas": int(groups["areas"].sum()), "population": float(pop.sum()),
           "mean_outcome": float(pop @ values / pop.sum()) if pop.sum() > 0 else np.nan}
    nan = dict(sii=np.nan, sii_lower=np.nan, sii_upper=np.nan, rii=np.nan, rii_lower=np.nan, rii_upper=np.nan,
               gap_absolute=np.nan, gap_relative=np.nan, confidence=np.nan)
    if (pop > 0).sum() < 2:
        return {**out, **nan}
    gap = ineq.gap(values, pop)
    out.update(gap_absolute=gap.absolute, gap_relative=gap.relative)
    if np.all(np.isfinite(se)):
        fit = ineq.phe_sii(values, pop, standard_errors=se, confidence=confidence, repetitions=REPETITIONS, seed=0)
        return {**out, "sii": fit.sii, "sii_lower": fit.sii_lower, "sii_upper": fit.sii_upper, "rii": fit.rii,
                "rii_lower": fit.rii_lower, "rii_upper": fit.rii_upper, "confidence": confidence}
    fit = ineq.sii(values, pop)
    return {**out, **{k: v for k, v in nan.items() if k.startswith(("sii_", "rii_", "confidence"))},
            "sii": fit.sii, "rii": fit.rii}


def trend(plan, outturn, settings: MonitorSettings, group: np.ndarray, gcol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``trend`` and ``trend_by_group`` tables of a plan and its outturn."""
    s = plan.scenario
    Q = s.gradient.quantiles
    rows, parts = [], []

    def add(year: str, source: str, groups: pd.DataFrame, extra: dict | None = None) -> None:
        rows.append({"year": year, "source": source, "order": len(rows), **measured(groups, settings.confidence),
                     **(extra or {})})
        parts.append(groups.rename(columns={"group": gcol}).assign(year=year, source=source))

    add(settings.baseline_year, "baseline", grouped(s.outcome, s.population, group, Q))
    for t, year in enumerate(plan.years):
        add(year, "projected", grouped(plan.projected[t], s.population, group, Q))
    observed = outturn.observed
    for year in outturn.observed_years:
        rows_y = observed[observed["year"] == year]
        a = rows_y["area_index"].to_numpy()
        pop = rows_y["population"].to_numpy(dtype=float)
        pop = np.where(np.isfinite(pop), pop, s.population[a])
        groups = grouped(rows_y["observed"].to_numpy(dtype=float), pop, group[a], Q,
                         rows_y["standard_error"].to_numpy(dtype=float), rows_y["count"].to_numpy(dtype=float))
        t = plan.years.index(year) if year in plan.years else len(plan.years) - 1
        projection = measured(grouped(plan.projected[t][a], pop, group[a], Q), settings.confidence)["sii"]
        add(year, "observed", groups, {"projected_year": plan.years[t], "projected_sii": projection})
    frame = pd.DataFrame(rows).reindex(columns=TREND_COLUMNS)
    frame["sii_minus_projected"] = frame["sii"] - frame["projected_sii"]
    limits = frame["sii_lower"].notna() & frame["projected_sii"].notna()
    within = (frame["sii_lower"] <= frame["projected_sii"]) & (frame["projected_sii"] <= frame["sii_upper"])
    frame["projected_within_limits"] = pd.array(np.where(limits, within, pd.NA), dtype="boolean")
    by_group = pd.concat(parts, ignore_index=True)[["year", "source", gcol, "areas", "population", "outcome",
                                                   "standard_error"]]
    return frame, by_group
