"""Who receives what beyond deprivation: spend and health by population group.

The scenario's ``[disaggregation]`` (`allocator.scenario.population`) says how many people of
each group (ethnic group, disability, age band) live in each area. Everyone in an area is
assumed to receive the area's spend per head and its change in the outcome, so a group's
spend is the sum, over areas, of the area's spend per head times the group's people there
(`METHOD`, which the reports print). Within a dimension the groups hold every person once,
so their spend adds up to the total spend and their health gain to the total health gain.

By place (region, ICB, ward, rural/urban) the scenario's ``[gradient] group_columns`` give
the tables ``by_<column>`` (`allocator.analysis.gradient`): every area lies wholly in one
place, so no estimate is needed there.

Examples
--------
>>> import allocator
>>> result = allocator.solve("england-la")
>>> table = by_population_group(result.scenario, result.allocation, result.outcomes)
>>> totals = table.groupby("dimension", sort=False)["spend_gbp"].sum()  # each dimension: all the money
>>> totals.index.tolist(), bool((totals - result.allocation.spend.sum()).abs().max() < 0.01)
(['Ethnic group', 'Disability', 'Age'], True)
>>> table.equals(result.tables["spend_by_population_group"])
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.model.evaluate import Allocation, Outcomes
from allocator.scenario import Scenario

TABLE = "spend_by_population_group"
METHOD = ("An area-level estimate, not individual data: everyone in an area is assumed to receive the area's "
          "spend per head and its change in the outcome. A group's spend is the sum over areas of the area's "
          "spend per head times the group's people there (its share of the area's people in the areas table), "
          "so differences between groups come only from where their people live, not from who uses a service "
          "within an area. The groups of a dimension hold everyone once: their spend adds up to the total. Only "
          "the dimensions the areas table has counts for are shown (the bundled scenarios: ethnic group and "
          "disability from Census 2021, and age band; no counts by sex).")


def _by_area(values, n_areas: int) -> np.ndarray:
    """(A,) from per-area values or (A, S) lines (summed over services)."""
    x = np.asarray(values, dtype=float)
    x = x.sum(axis=1) if x.ndim == 2 else x
    if x.shape != (n_areas,):
        raise ValueError(f"expected one value per area ({n_areas}) or per line (areas x services), "
                         f"got shape {np.shape(values)}")
    return x


def _per(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(numerator), np.nan)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)


def spend_by_group(scenario: Scenario, spend, *, before=None, before_label: str = "before", fair_share=None,
                   outcome_before=None, outcome_after=None, areas=None) -> pd.DataFrame:
    """One row per dimension and group of ``scenario.disaggregation``: people, spend and outcome.

    Parameters
    ----------
    scenario : Scenario
        Its ``disaggregation`` (people of each group by area) and ``population``.
    spend : array
        GBP by area (A,) or by line (A, S): an allocation, a plan's year, or what was spent.
    before : array, optional
        GBP to compare with (the baseline, or a plan against an outturn), named ``before_label``.
    fair_share : array, optional
        Need-weighted target GBP (``scenario.fair_share``).
    outcome_before, outcome_after : array, optional
        (A,) the outcome of each area before and after; with both, the group's mean outcome
        before and after and the health gain reaching it.
    areas : array of bool, optional
        (A,) the areas to count (e.g. those that reported every line of an outturn); the others'
        people and money are left out. Default: every area.

    Returns
    -------
    pandas.DataFrame
        ``dimension``, ``group``, ``column`` (its areas column), ``population`` (people),
        ``share_of_population``, ``<before_label>_spend_gbp``, ``fair_share_gbp``, ``spend_gbp``,
        ``share_of_spend``, ``<before_label>_spend_per_head_gbp``, ``fair_share_per_head_gbp``,
        ``spend_per_head_gbp``, ``change_per_head_gbp``, ``spend_per_head_relative_to_average``
        (1: the average person's), ``outcome_baseline``, ``outcome_projected``, ``outcome_change``
        and ``health_gain`` (outcome units x people; > 0 is better, whichever way the outcome runs).
        Columns whose inputs are not given are left out; no dimensions give no rows.
    """
    n = scenario.n_areas
    spend = _by_area(spend, n)
    extra = {f"{before_label}_spend": before, "fair_share": fair_share}
    extra = {name: _by_area(v, n) for name, v in extra.items() if v is not None}
    outcomes = None
    if outcome_before is not None and outcome_after is not None:
        outcomes = _by_area(outcome_before, n), _by_area(outcome_after, n)
    population = np.asarray(scenario.population, dtype=float)
    if areas is not None:  # the areas left out hold no one and nothing
        keep = np.asarray(areas, dtype=bool)
        population = np.where(keep, population, 0.0)
        spend = np.where(keep, spend, 0.0)
        extra = {name: np.where(keep, v, 0.0) for name, v in extra.items()}
    frames = [_dimension(scenario, d, spend, extra, outcomes, before_label, population)
              for d in scenario.disaggregation]
    if frames:
        return pd.concat(frames, ignore_index=True)
    empty = _dimension(scenario, None, spend, extra, outcomes, before_label, population)
    return empty.iloc[0:0]


def _dimension(scenario: Scenario, dimension, spend: np.ndarray, extra: dict, outcomes, before_label: str,
               population: np.ndarray) -> pd.DataFrame:
    """The rows of one dimension (None: a dimension of one group, for the empty table's columns), over
    ``population`` (each area's people counted: 0 for an area left out)."""
    if dimension is None:
        shares, name, groups, columns = np.ones((scenario.n_areas, 1)), "", ("",), ("",)
    else:
        shares, name, groups, columns = dimension.shares, dimension.name, dimension.groups, dimension.columns
    people = (shares * population[:, None]).sum(axis=0)
    total_people = population.sum()
    spent = shares.T @ spend
    out = {"dimension": [name] * len(groups), "group": list(groups), "column": list(columns),
           "population": people, "share_of_population": people / total_people}
    for key, values in extra.items():
        out[f"{key}_gbp"] = shares.T @ values
    out["spend_gbp"] = spent
    out["share_of_spend"] = _per(spent, np.full(len(groups), spend.sum()))
    for key in extra:
        out[f"{key}_per_head_gbp"] = _per(out[f"{key}_gbp"], people)
    out["spend_per_head_gbp"] = _per(spent, people)
    if f"{before_label}_spend" in extra:
        out["change_per_head_gbp"] = out["spend_per_head_gbp"] - out[f"{before_label}_spend_per_head_gbp"]
    out["spend_per_head_relative_to_average"] = _per(out["spend_per_head_gbp"] * total_people,
                                                     np.full(len(groups), spend.sum()))
    if outcomes is not None:
        y0, y1 = outcomes
        weights = shares * population[:, None]  # people of each group in each area
        out["outcome_baseline"] = _per(weights.T @ y0, people)
        out["outcome_projected"] = _per(weights.T @ y1, people)
        out["outcome_change"] = out["outcome_projected"] - out["outcome_baseline"]
        sign = 1.0 if scenario.gradient.higher_is_better else -1.0
        out["health_gain"] = sign * (weights.T @ (y1 - y0))
    return pd.DataFrame(out)


def by_population_group(scenario: Scenario, allocation: Allocation, outcomes: Outcomes) -> pd.DataFrame:
    """`spend_by_group` of an allocation against 'before' (the baseline, or the budget spread flat):
    spend, fair share and outcome of each population group; `METHOD` says how they are estimated.

    Examples
    --------
    >>> import allocator
    >>> s = allocator.load("scenarios/quickstart")
    >>> result = allocator.solve(s)
    >>> by_population_group(s, result.allocation, result.outcomes).empty  # no [disaggregation]
    True
    """
    return spend_by_group(scenario, allocation.spend, before=outcomes.before_spend,
                          before_label=outcomes.before_label, fair_share=scenario.fair_share,
                          outcome_before=scenario.outcome, outcome_after=outcomes.projected)
