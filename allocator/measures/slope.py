"""The slope and relative index of inequality (SII, RII): the fit and its simulated limits.

Holds :func:`relative_ranks` (midpoint population ranks), :func:`sii` (the
population-weighted fit of Low & Low 2004, as PHE's ``phe_sii``) with its
result :class:`SlopeIndex`, and :func:`sii_confidence` (simulated limits of a
normal value, :class:`SlopeIndexInterval`). :func:`~allocator.measures.phe.phe_sii`
adds PHE's value types, transform and polarity. Groups run from most to least
deprived (see :mod:`allocator.measures.inequality` for the sign convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from allocator.measures._checks import (
    _check_standard_errors,
    _confidence_levels,
    _populations,
    _ratio,
    _repetitions,
    _same_length,
    _vector,
)
from allocator.measures._simulation import _limit_positions, _simulated_fits

__all__ = ["SlopeIndex", "SlopeIndexInterval", "relative_ranks", "sii", "sii_confidence"]


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

    Examples
    --------
    >>> c0, c1 = _slope_coefficients(np.array([1.0, 1.0]))
    >>> float(np.array([70.0, 72.0]) @ c0), float(np.array([70.0, 72.0]) @ c1)
    (69.0, 4.0)
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
        Unlike :func:`~allocator.measures.phe.phe_sii`, a negative multiplier
        does not invert the RII.

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
    ``value_type = 0`` (normal, no transformation);
    :func:`~allocator.measures.phe.phe_sii` has the other value types, the
    transform and several confidence levels.

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
    _check_standard_errors(se)
    (confidence,) = _confidence_levels(confidence)
    repetitions = _repetitions(repetitions)
    c0, c1 = _slope_coefficients(pop)
    b0, b1 = _simulated_fits(y, se, c0, c1, repetitions, seed, back=None)
    slopes = b1 * multiplier
    with np.errstate(divide="ignore", invalid="ignore"):
        riis = (b0 + b1) / b0
    [(lo, hi)] = _limit_positions(repetitions, (confidence,))
    slopes.partition((lo, hi))
    riis.partition((lo, hi))
    return SlopeIndexInterval(
        float(slopes[lo]), float(slopes[hi]), float(riis[lo]), float(riis[hi])
    )
