"""Summary indices of inequality: concentration, Erreygers, Atkinson, Gini, Theil, MLD, Kolm.

Holds the indices that summarise a whole distribution in one number.
:func:`concentration_index` and :func:`erreygers_index` follow the order of the
groups (most deprived first: a negative index means the quantity is
concentrated among the most deprived). The measures of pure dispersion
(:func:`atkinson` with :class:`AtkinsonResult`, :func:`gini`, :func:`theil`,
:func:`mean_log_deviation`, :func:`kolm`) ignore the order: they say how
unequal the values are, not whether the inequality follows deprivation.
Weights are populations throughout; the source of each formula is in its
docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from allocator.measures._checks import _populations, _ratio, _same_length, _vector

__all__ = [
    "AtkinsonResult",
    "atkinson",
    "concentration_index",
    "erreygers_index",
    "gini",
    "kolm",
    "mean_log_deviation",
    "theil",
]


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


def erreygers_index(
    values: ArrayLike, populations: ArrayLike, lower: float, upper: float
) -> float:
    """Erreygers' corrected concentration index for a bounded variable.

    ``E = 4 mu / (b - a) * C`` with C the :func:`concentration_index`, mu the
    population-weighted mean and [a, b] the bounds of the variable (Erreygers
    2009, "Correcting the concentration index", *J Health Econ* 28:504-515,
    eq. 14). E lies in [-1, 1], and is unchanged by adding a constant to the
    values and the bounds or by measuring attainment (b - y) instead of
    shortfall with the sign flipped, which C is not.

    Parameters
    ----------
    values : array-like of float
        Value of each group, most deprived first, each within [lower, upper].
    populations : array-like of float
        Population of each group.
    lower, upper : float
        Bounds a < b of the variable (0 and 1 for a proportion, 0 and 100 for a
        percentage).

    Returns
    -------
    float
        ``nan`` when C is undefined (mean 0).

    Examples
    --------
    >>> round(erreygers_index([0.4, 0.3, 0.2, 0.1], [1, 1, 1, 1], 0, 1), 12)
    -0.25
    """
    y = _vector("values", values)
    if not (math.isfinite(lower) and math.isfinite(upper) and upper > lower):
        raise ValueError(f"lower, upper: expected finite bounds with lower < upper, got {lower}, {upper}")
    outside = np.flatnonzero((y < lower) | (y > upper))
    if outside.size:
        raise ValueError(
            f"values: expected values within [{lower}, {upper}], "
            f"got {y[outside[0]]} at position {outside[0]}"
        )
    pop = _populations("populations", populations)
    _same_length(values=y, populations=pop)
    mean = float(pop @ y / pop.sum())
    return 4 * mean / (upper - lower) * concentration_index(y, pop)


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


# ------------------------------------------------- dispersion: GE family, Gini, Kolm
def _positive_mean(name: str, y: NDArray[np.float64], share: NDArray[np.float64],
                   strictly_positive: bool) -> float:
    """Weighted mean of ``y``, checking ``y >= 0`` (``> 0`` if strictly positive) and a mean > 0."""
    bad = np.flatnonzero(y <= 0) if strictly_positive else np.flatnonzero(y < 0)
    if bad.size:
        sign = "> 0" if strictly_positive else ">= 0"
        raise ValueError(f"values: expected values {sign} for the {name}, got {y[bad[0]]} at position {bad[0]}")
    mean = float(share @ y)
    if not mean > 0:
        raise ValueError(f"values: expected a positive mean for the {name}, got {mean}")
    return mean


def gini(values: ArrayLike, weights: ArrayLike) -> float:
    """Gini coefficient of population-weighted values.

    ``G = sum_i sum_j w_i w_j |y_i - y_j| / (2 W^2 mu)`` (Gini 1912; Cowell
    2011, *Measuring Inequality*, 3rd ed., eq. 2.6), computed from the values
    sorted ascending as ``G = 2 sum_i s_i y_i F_i / mu - 1`` with shares
    ``s_i = w_i / W`` and midpoint ranks ``F_i``. With equal weights this is
    the uncorrected Gini of R's ``ineq::Gini``: no n / (n - 1) factor, as for
    a population rather than a sample. Order of the input does not matter.

    Parameters
    ----------
    values : array-like of float
        Values, each >= 0, with a positive weighted mean.
    weights : array-like of float
        Weight (population) of each value.

    Returns
    -------
    float
        In [0, 1).

    Examples
    --------
    >>> gini([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    0.25
    """
    y = _vector("values", values)
    w = _populations("weights", weights)
    _same_length(values=y, weights=w)
    share = w / w.sum()
    _positive_mean("Gini coefficient", y, share, strictly_positive=False)
    order = np.argsort(y, kind="stable")
    # The Gini is the concentration index of y ranked by y itself; it cannot be negative, so a
    # rounding residue below zero (equal values: -4e-33) is zero.
    return max(0.0, concentration_index(y[order], w[order]))


def theil(values: ArrayLike, weights: ArrayLike) -> float:
    """Theil's T index, the generalised entropy index GE(1).

    ``T = sum_i s_i (y_i / mu) ln(y_i / mu)`` with population shares s_i and
    ``0 ln 0 = 0`` (Theil 1967, *Economics and Information Theory*; Cowell
    2011, eq. 3.14 with alpha = 1). Additively decomposable with weights equal
    to each group's share of the total (income shares).

    Parameters
    ----------
    values : array-like of float
        Values, each >= 0, positive weighted mean.
    weights : array-like of float
        Weight (population) of each value.

    Returns
    -------
    float
        In [0, ln(N)] for N equally weighted values.

    Examples
    --------
    >>> round(theil([1.0, 3.0], [1, 1]), 12)  # (0.5 ln 0.5 + 1.5 ln 1.5) / 2
    0.130812035941
    """
    y = _vector("values", values)
    w = _populations("weights", weights)
    _same_length(values=y, weights=w)
    share = w / w.sum()
    mean = _positive_mean("Theil index", y, share, strictly_positive=False)
    ratio = y / mean
    terms = np.zeros_like(ratio)
    positive = ratio > 0
    terms[positive] = ratio[positive] * np.log(ratio[positive])
    return max(float(share @ terms), 0.0)  # >= 0 by Jensen; clip rounding below 0


def mean_log_deviation(values: ArrayLike, weights: ArrayLike) -> float:
    """Mean log deviation (Theil's L), the generalised entropy index GE(0).

    ``L = sum_i s_i ln(mu / y_i)`` with population shares s_i (Theil 1967;
    Cowell 2011, eq. 3.14 with alpha = 0). Additively decomposable with
    population-share weights: total = sum_g s_g L_g + L(between-group means).

    Parameters
    ----------
    values : array-like of float
        Values, each > 0.
    weights : array-like of float
        Weight (population) of each value.

    Returns
    -------
    float
        >= 0.

    Examples
    --------
    >>> round(mean_log_deviation([1.0, 4.0], [1, 1]), 12)  # ln(2.5) - ln(2)
    0.223143551314
    """
    y = _vector("values", values)
    w = _populations("weights", weights)
    _same_length(values=y, weights=w)
    share = w / w.sum()
    mean = _positive_mean("mean log deviation", y, share, strictly_positive=True)
    return max(float(share @ np.log(mean / y)), 0.0)


def kolm(values: ArrayLike, weights: ArrayLike, alpha: float = 1.0) -> float:
    """Kolm's absolute inequality index.

    ``K = (1 / alpha) ln( sum_i s_i exp(alpha (mu - y_i)) )`` with population
    shares s_i and inequality aversion alpha > 0 (Kolm 1976, "Unequal
    inequalities I", *J Econ Theory* 12:416-442; as R's ``ineq::Kolm``). In the
    units of y: adding a constant to every value leaves K unchanged, scaling
    the values by k scales K by k only if alpha is divided by k.
    ``mu - K`` is the Kolm-Pollak equally distributed equivalent. Computed with
    a shifted log-sum-exp, so large ``alpha (mu - y)`` stays finite (where
    ``ineq::Kolm`` overflows to Inf).

    Parameters
    ----------
    values : array-like of float
        Values (any sign).
    weights : array-like of float
        Weight (population) of each value.
    alpha : float, default 1.0
        Inequality aversion, > 0, in 1 / (units of y).

    Returns
    -------
    float
        >= 0.

    Examples
    --------
    >>> round(kolm([0.0, 2.0], [1, 1], 1.0), 12)  # ln cosh 1
    0.433780830483
    """
    y = _vector("values", values)
    w = _populations("weights", weights)
    _same_length(values=y, weights=w)
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha: expected a finite inequality aversion > 0, got {alpha}")
    share = w / w.sum()
    active = share > 0
    d = alpha * (float(share @ y) - y[active])
    top = float(d.max())
    return max((top + math.log(float(share[active] @ np.exp(d - top)))) / alpha, 0.0)
