"""Gaps between the ends of the gradient, the proportionality of spend to need, and quantile groups.

Holds :func:`gap` (least minus most deprived group, and their ratio, as
:class:`Gap`), :func:`proportionality_index` (the population-weighted slope of
spend per head on need) and :func:`group_by_quantile` (population-weighted
quantile groups, 1 = most deprived), which puts units into the groups the
other measures take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from allocator.measures._checks import _populations, _ratio, _same_length, _vector

__all__ = ["Gap", "gap", "group_by_quantile", "proportionality_index"]


# ------------------------------------------------------------------------ gap
@dataclass(frozen=True)
class Gap:
    """Gap between the least and the most deprived group."""

    absolute: float
    relative: float


def gap(values: ArrayLike, populations: ArrayLike | None = None) -> Gap:
    """Absolute and relative gap, least deprived group vs most deprived group.

    ``absolute = y_last - y_first`` (same sign convention as the SII) and
    ``relative = y_last / y_first`` (the range and rate ratio of Mackenbach &
    Kunst 1997). With ``populations``, groups of zero population are skipped
    when finding the two end groups.

    Parameters
    ----------
    values : array-like of float
        Value of each group, most deprived first.
    populations : array-like of float, optional
        Population of each group.

    Returns
    -------
    Gap
        ``relative`` is ``nan`` if the most deprived value is 0.

    Examples
    --------
    >>> gap([70.0, 75.0, 84.0])
    Gap(absolute=14.0, relative=1.2)
    """
    y = _vector("values", values)
    if populations is not None:
        pop = _populations("populations", populations)
        _same_length(values=y, populations=pop)
        y = y[pop > 0]
    first, last = float(y[0]), float(y[-1])
    return Gap(absolute=last - first, relative=_ratio(last, first))


# ------------------------------------------------------------ proportionality
def proportionality_index(
    spend_per_head: ArrayLike, need: ArrayLike, populations: ArrayLike
) -> float:
    """Population-weighted least-squares slope of spend per head on need.

    ``slope = sum w (x - x̄)(s - s̄) / sum w (x - x̄)^2`` with x = need, s = spend
    per head and means weighted by population w (weighted least squares with an
    intercept). A positive slope means spend rises with need, as proportionate
    universalism asks (Marmot 2010, *Fair Society, Healthy Lives*).

    Parameters
    ----------
    spend_per_head : array-like of float
        Spend per head in each area or group.
    need : array-like of float
        Need per head (any index) in the same areas or groups.
    populations : array-like of float
        Population of each area or group.

    Returns
    -------
    float
        Spend per head per unit of need; ``nan`` if need does not vary.

    Examples
    --------
    >>> proportionality_index([10.0, 20.0, 30.0], [1.0, 2.0, 3.0], [5, 1, 5])
    10.0
    """
    s = _vector("spend_per_head", spend_per_head)
    x = _vector("need", need)
    pop = _populations("populations", populations)
    _same_length(spend_per_head=s, need=x, populations=pop)
    share = pop / pop.sum()
    dx = x - share @ x
    return _ratio(float(share @ (dx * (s - share @ s))), float(share @ dx**2))


# ------------------------------------------------------------------- grouping
def group_by_quantile(
    rank_values: ArrayLike,
    populations: ArrayLike,
    n_groups: int,
    *,
    most_deprived: Literal["low", "high"] = "low",
) -> NDArray[np.int64]:
    """Population-weighted quantile groups, 1 = most deprived.

    Units are sorted from most to least deprived (ties kept in input order);
    unit i goes to the group k whose interval ``[(k-1)/n, k/n)`` holds the
    midpoint of its cumulative population share, so each group holds as close
    as possible to 1/n of the population (the midpoint rule used for
    population-weighted IMD deciles).

    Parameters
    ----------
    rank_values : array-like of float
        Deprivation rank or score of each unit (e.g. IMD rank or score).
    populations : array-like of float
        Population of each unit.
    n_groups : int
        Number of groups (5 for quintiles, 10 for deciles).
    most_deprived : {"low", "high"}, default "low"
        "low" when a low value is most deprived (IMD rank 1), "high" when a high
        value is most deprived (IMD score).

    Returns
    -------
    numpy.ndarray of int
        Group label 1..n of each unit, in input order.

    Examples
    --------
    >>> group_by_quantile([4, 1, 3, 2], [1, 1, 1, 1], 2).tolist()
    [2, 1, 2, 1]
    >>> group_by_quantile([4, 1, 3, 2], [1, 1, 1, 1], 2, most_deprived="high").tolist()
    [1, 2, 1, 2]
    """
    rank = _vector("rank_values", rank_values)
    pop = _populations("populations", populations)
    _same_length(rank_values=rank, populations=pop)
    if isinstance(n_groups, bool) or int(n_groups) != n_groups or n_groups < 1:
        raise ValueError(f"n_groups: expected a positive integer, got {n_groups!r}")
    if most_deprived not in ("low", "high"):
        raise ValueError(f"most_deprived: expected 'low' or 'high', got {most_deprived!r}")
    order = np.argsort(rank if most_deprived == "low" else -rank, kind="stable")
    sorted_pop = pop[order]
    before = np.cumsum(sorted_pop) - sorted_pop
    # floor(midpoint share * n), done as an exact float floor-division so that
    # a midpoint on a boundary k/n goes to the upper group consistently.
    group = np.floor_divide((2 * before + sorted_pop) * n_groups, 2 * pop.sum())
    labels = np.empty(rank.size, dtype=np.int64)
    labels[order] = np.clip(group, 0, n_groups - 1).astype(np.int64) + 1
    return labels
