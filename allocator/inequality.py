"""Inequality measures over grouped data: the numbers behind the social gradient.

Sign convention (every function here)
-------------------------------------
Groups are given in order from the MOST deprived (first, relative rank near 0)
to the LEAST deprived (last, relative rank near 1), exactly as PHE's
``phe_sii`` with quantile 1 = most deprived. Hence:

- a positive slope index (SII) means the value rises from the most to the least
  deprived group, as life expectancy does; a negative SII means it falls, as
  mortality or (in a pro-poor allocation) spend per head does;
- the absolute gap is least deprived minus most deprived (same sign as the SII);
- a negative concentration index means the quantity is concentrated among the
  most deprived (pro-poor, for spend).

All functions are pure: array-likes in, floats or frozen results out. Bad input
(mismatched lengths, NaN, negative populations, a non-positive total
population) raises :class:`ValueError`; a ratio whose denominator is exactly
zero (an undefined measure, not bad input) is returned as ``nan``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "AtkinsonResult",
    "Gap",
    "SlopeIndex",
    "SlopeIndexInterval",
    "atkinson",
    "concentration_index",
    "gap",
    "group_by_quantile",
    "proportionality_index",
    "relative_ranks",
    "sii",
    "sii_confidence",
]

_CHUNK_ELEMENTS = 1 << 21  # ~16 MB of float64 draws per simulation chunk


# --------------------------------------------------------------------- checks
def _vector(name: str, x: ArrayLike) -> NDArray[np.float64]:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected numbers, got {x!r}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected at least one value, got none")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(
            f"{name}: expected finite numbers, got {arr[bad[0]]} at position {bad[0]}"
            + (f" (+{bad.size - 1} more)" if bad.size > 1 else "")
        )
    return arr


def _populations(name: str, x: ArrayLike) -> NDArray[np.float64]:
    pop = _vector(name, x)
    neg = np.flatnonzero(pop < 0)
    if neg.size:
        raise ValueError(f"{name}: expected values >= 0, got {pop[neg[0]]} at position {neg[0]}")
    if not pop.sum() > 0:
        raise ValueError(f"{name}: expected a positive total, got {pop.sum()}")
    return pop


def _same_length(**arrays: NDArray[np.float64]) -> None:
    lengths = {name: arr.size for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        found = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"expected equal lengths, got: {found}")


def _ratio(num: float, den: float) -> float:
    return num / den if den != 0 else math.nan


# ---------------------------------------------------------------------- ranks
def relative_ranks(populations: ArrayLike) -> NDArray[np.float64]:
    """Midpoint cumulative population ranks of groups ordered most → least deprived.

    ``b_q = sum_{j<q} a_j + a_q / 2`` with population shares ``a_q = N_q / sum N``
    (Low & Low 2004, as implemented in PHEindicatormethods ``phe_sii``).

    Parameters
    ----------
    populations : array-like of float
        Population of each group, most deprived first; each >= 0, total > 0.

    Returns
    -------
    numpy.ndarray
        Relative rank of each group's midpoint, in (0, 1).

    Examples
    --------
    >>> relative_ranks([100, 100, 200]).tolist()
    [0.125, 0.375, 0.75]
    """
    pop = _populations("populations", populations)
    share = pop / pop.sum()
    return np.cumsum(share) - share / 2


# ----------------------------------------------------------- slope index (SII)
@dataclass(frozen=True)
class SlopeIndex:
    """Slope and relative index of inequality from a population-weighted fit.

    ``sii`` is the slope (times the multiplier): fitted least − fitted most
    deprived. ``rii`` is PHE's ratio of fitted values, rank 1 / rank 0.
    ``intercept`` is the fitted value at rank 0 (most deprived), unscaled.
    ``rii_alternative`` is the alternative definition, slope / population-
    weighted mean (unscaled), as used e.g. by Mackenbach & Kunst 1997.
    """

    sii: float
    rii: float
    intercept: float
    rii_alternative: float


class SlopeIndexInterval(NamedTuple):
    """Simulated confidence limits for the SII and RII."""

    sii_lower: float
    sii_upper: float
    rii_lower: float
    rii_upper: float


def _slope_coefficients(
    populations: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Weights ``c0, c1`` such that intercept = y @ c0 and slope = y @ c1.

    Closed form of weighted least squares of y on midpoint rank b with weights
    a, identical to PHE's no-intercept fit of sqrt(a)·y on [sqrt(a), b·sqrt(a)].
    """
    if np.count_nonzero(populations) < 2:
        raise ValueError("populations: need at least two groups with population > 0 to fit a slope")
    share = populations / populations.sum()
    rank = np.cumsum(share) - share / 2
    centred = rank - share @ rank
    c1 = share * centred / (share @ centred**2)
    c0 = share - c1 * (share @ rank)
    return c0, c1


def sii(values: ArrayLike, populations: ArrayLike, *, multiplier: float = 1.0) -> SlopeIndex:
    """Slope index of inequality (SII) and relative index (RII), as PHE computes them.

    Method of Low & Low (2004) as in PHEindicatormethods ``phe_sii``: with
    ``a_q = N_q / sum N`` and midpoint ranks ``b_q``, fit without intercept
    ``sqrt(a_q) y_q ~ b0 sqrt(a_q) + b1 b_q sqrt(a_q)`` (weighted least squares
    of y on b, weights a). Then ``SII = b1 * multiplier`` and
    ``RII = (b0 + b1) / b0``, the fitted value at rank 1 (least deprived) over
    that at rank 0 (most deprived). The alternative ``RII = b1 / mean`` (mean
    population-weighted) is reported as ``rii_alternative``.

    Parameters
    ----------
    values : array-like of float
        Indicator value of each group, most deprived first.
    populations : array-like of float
        Population of each group; at least two must be positive.
    multiplier : float, default 1.0
        Scales the SII only (e.g. -1 to report a falling gradient as positive).

    Returns
    -------
    SlopeIndex
        ``nan`` for ``rii`` / ``rii_alternative`` when the denominator is 0.

    Examples
    --------
    >>> r = sii([70.0, 72.0, 74.0, 76.0], [1, 1, 1, 1])
    >>> round(r.sii, 9), round(r.rii, 9), round(r.intercept, 9)
    (8.0, 1.115942029, 69.0)
    """
    y = _vector("values", values)
    pop = _populations("populations", populations)
    _same_length(values=y, populations=pop)
    c0, c1 = _slope_coefficients(pop)
    b0, b1 = float(y @ c0), float(y @ c1)
    mean = float(pop @ y / pop.sum())
    return SlopeIndex(
        sii=b1 * multiplier,
        rii=_ratio(b0 + b1, b0),
        intercept=b0,
        rii_alternative=_ratio(b1, mean),
    )


def sii_confidence(
    values: ArrayLike,
    populations: ArrayLike,
    standard_errors: ArrayLike,
    *,
    confidence: float = 0.95,
    repetitions: int = 100_000,
    seed: int | np.random.Generator | None = 0,
    multiplier: float = 1.0,
) -> SlopeIndexInterval:
    """Confidence limits of the SII and RII by simulation, as PHE ``phe_sii``.

    Each repetition draws ``y_q ~ Normal(y_q, SE_q)`` independently and refits
    (Low & Low 2004). The SII and RII draws are sorted separately and the limits
    are the draws at 1-based positions ``round(R (1 - cv))`` and ``round(R cv)``
    with ``cv = c + (1 - c) / 2``. The refit is linear in y, so all draws are
    fitted at once (in chunks to bound memory). Values are treated as PHE's
    ``value_type = 0`` (normal, no transformation).

    Parameters
    ----------
    values, populations : array-like of float
        As for :func:`sii`.
    standard_errors : array-like of float
        Standard error of each group's value, each >= 0.
    confidence : float, default 0.95
        Two-sided confidence level c, 0 < c < 1.
    repetitions : int, default 100_000
        Number of simulated data sets R.
    seed : int, numpy Generator or None, default 0
        Seed for ``numpy.random.default_rng``; fixed by default so that reports
        are reproducible.
    multiplier : float, default 1.0
        Scales the SII draws, as in :func:`sii`.

    Returns
    -------
    SlopeIndexInterval
        ``(sii_lower, sii_upper, rii_lower, rii_upper)``.

    Examples
    --------
    >>> ci = sii_confidence([70.0, 72.0, 74.0, 76.0], [1, 1, 1, 1], [0, 0, 0, 0])
    >>> round(ci.sii_lower, 9), round(ci.sii_upper, 9)
    (8.0, 8.0)
    """
    y = _vector("values", values)
    pop = _populations("populations", populations)
    se = _vector("standard_errors", standard_errors)
    _same_length(values=y, populations=pop, standard_errors=se)
    if np.any(se < 0):
        raise ValueError(f"standard_errors: expected values >= 0, got {se.min()}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a level between 0 and 1, got {confidence}")
    if isinstance(repetitions, bool) or int(repetitions) != repetitions or repetitions < 1:
        raise ValueError(f"repetitions: expected a positive integer, got {repetitions!r}")
    repetitions = int(repetitions)
    c0, c1 = _slope_coefficients(pop)
    rng = np.random.default_rng(seed)

    slopes = np.empty(repetitions)
    riis = np.empty(repetitions)
    chunk = max(1, _CHUNK_ELEMENTS // y.size)
    for start in range(0, repetitions, chunk):
        stop = min(start + chunk, repetitions)
        draws = rng.normal(y, se, size=(stop - start, y.size))
        b0, b1 = draws @ c0, draws @ c1
        slopes[start:stop] = b1 * multiplier
        with np.errstate(divide="ignore", invalid="ignore"):
            riis[start:stop] = (b0 + b1) / b0

    cv = confidence + (1 - confidence) / 2
    # R indexes from 1; clamp so tiny R still gives valid positions.
    lo = min(max(round(repetitions * (1 - cv)), 1), repetitions) - 1
    hi = min(max(round(repetitions * cv), 1), repetitions) - 1
    slopes.partition((lo, hi))
    riis.partition((lo, hi))
    return SlopeIndexInterval(
        float(slopes[lo]), float(slopes[hi]), float(riis[lo]), float(riis[hi])
    )


# -------------------------------------------------------- concentration index
def concentration_index(values: ArrayLike, populations: ArrayLike) -> float:
    """Concentration index with population-weighted fractional ranks.

    ``C = 2 cov_w(y, r) / mean_w(y)`` where r is the weighted fractional
    (midpoint) rank and the covariance and mean are weighted by population
    (O'Donnell, van Doorslaer, Wagstaff & Lindelow 2008, *Analyzing Health
    Equity Using Household Survey Data*, World Bank, ch. 8, eq. 8.7).

    Ranks run from most deprived (r near 0) to least deprived (r near 1), the
    same direction as poorest → richest in the textbook, so C < 0 means y is
    concentrated among the most deprived (pro-poor for spend) and C > 0 among
    the least deprived. C lies in [-1, 1] for non-negative y.

    Parameters
    ----------
    values : array-like of float
        Per-head value of each group or area, most deprived first.
    populations : array-like of float
        Population of each group or area.

    Returns
    -------
    float
        ``nan`` if the weighted mean of ``values`` is 0.

    Examples
    --------
    >>> concentration_index([4.0, 3.0, 2.0, 1.0], [1, 1, 1, 1])
    -0.25
    """
    y = _vector("values", values)
    pop = _populations("populations", populations)
    _same_length(values=y, populations=pop)
    # C is scale-free in y; dividing by max |y| keeps tiny or huge values finite.
    scale = float(np.abs(y).max())
    if scale == 0:
        return math.nan
    y = y / scale
    share = pop / pop.sum()
    rank = np.cumsum(share) - share / 2
    mean = float(share @ y)
    cov = float(share @ ((y - mean) * (rank - share @ rank)))
    return _ratio(2 * cov, mean)


# ------------------------------------------------------------------- Atkinson
@dataclass(frozen=True)
class AtkinsonResult:
    """Atkinson index and the equally distributed equivalent (EDE) value."""

    index: float
    ede: float


def atkinson(values: ArrayLike, weights: ArrayLike, epsilon: float) -> AtkinsonResult:
    """Atkinson inequality index and equally distributed equivalent.

    ``EDE = (sum w y^(1-e) / sum w)^(1/(1-e))`` for e != 1, the weighted
    geometric mean for e = 1, and ``index = 1 - EDE / mean`` (Atkinson 1970,
    "On the measurement of inequality", J. Econ. Theory 2:244-263).

    Parameters
    ----------
    values : array-like of float
        Values, each > 0 (e.g. life expectancy, or outcome per head).
    weights : array-like of float
        Weight (population) of each value; each >= 0, total > 0.
    epsilon : float
        Inequality aversion e >= 0; 0 gives index 0, larger e weighs the
        lowest values more.

    Returns
    -------
    AtkinsonResult

    Examples
    --------
    >>> r = atkinson([1.0, 4.0], [1, 1], epsilon=1)
    >>> round(r.ede, 12), round(r.index, 12)
    (2.0, 0.2)
    """
    y = _vector("values", values)
    w = _populations("weights", weights)
    _same_length(values=y, weights=w)
    if np.any(y <= 0):
        raise ValueError(f"values: expected values > 0 for the Atkinson index, got {y.min()}")
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise ValueError(f"epsilon: expected a finite inequality aversion >= 0, got {epsilon}")
    share = w / w.sum()
    mean = float(share @ y)
    power = 1 - epsilon
    active = share > 0
    logs, share = np.log(y[active]), share[active]
    if power == 0:
        log_ede = float(share @ logs)
    else:
        # log of the power mean, centred on the term with the largest y^(1-e)
        # so nothing overflows for large e, and written with expm1/log1p so it
        # stays accurate (and tends to the geometric mean) as e approaches 1.
        ref = float(logs.max() if power > 0 else logs.min())
        log_ede = ref + math.log1p(float(share @ np.expm1(power * (logs - ref)))) / power
    ede = math.exp(log_ede)
    return AtkinsonResult(index=1 - ede / mean, ede=ede)


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
