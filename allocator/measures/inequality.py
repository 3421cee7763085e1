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
- a negative concentration index (standard or Erreygers) means the quantity is
  concentrated among the most deprived (pro-poor, for spend).

The measures of pure dispersion (:func:`gini`, :func:`theil`,
:func:`mean_log_deviation`, :func:`kolm`, :func:`atkinson`) ignore the order of
the groups: they say how unequal the values are, not whether the inequality
follows deprivation. Weights are populations throughout.

Measures, with the source of each formula in its docstring:
:func:`sii` and :func:`sii_confidence` (the SII/RII core), :func:`phe_sii`
(the whole of PHE's ``phe_sii``: value types, log/logit transform, multiplier,
several confidence levels), :func:`gap`, :func:`concentration_index`,
:func:`erreygers_index`, :func:`atkinson`, :func:`kolm`, :func:`gini`,
:func:`theil`, :func:`mean_log_deviation`, :func:`proportionality_index`.

All functions are pure: array-likes in, floats or frozen results out. Bad input
(mismatched lengths, NaN, negative populations, a non-positive total
population, values outside a measure's domain) raises :class:`ValueError`; a
ratio whose denominator is exactly zero (an undefined measure, not bad input)
is returned as ``nan``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "AtkinsonResult",
    "Gap",
    "PheSii",
    "SiiLimits",
    "SlopeIndex",
    "SlopeIndexInterval",
    "atkinson",
    "concentration_index",
    "erreygers_index",
    "gap",
    "gini",
    "group_by_quantile",
    "kolm",
    "mean_log_deviation",
    "phe_sii",
    "proportionality_index",
    "relative_ranks",
    "sii",
    "sii_confidence",
    "theil",
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
        Unlike :func:`phe_sii`, a negative multiplier does not invert the RII.

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
    ``value_type = 0`` (normal, no transformation); :func:`phe_sii` has the
    other value types, the transform and several confidence levels.

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


def _check_standard_errors(se: NDArray[np.float64]) -> None:
    if np.any(se < 0):
        raise ValueError(f"standard_errors: expected values >= 0, got {se.min()}")


def _confidence_levels(confidence: float | Sequence[float]) -> tuple[float, ...]:
    levels = (confidence,) if np.ndim(confidence) == 0 else tuple(confidence)  # type: ignore[arg-type]
    if not levels:
        raise ValueError("confidence: expected at least one level, got none")
    for level in levels:
        if not 0 < float(level) < 1:
            raise ValueError(f"confidence: expected a level between 0 and 1, got {level}")
    return tuple(float(level) for level in levels)


def _repetitions(repetitions: int) -> int:
    if isinstance(repetitions, bool) or int(repetitions) != repetitions or repetitions < 1:
        raise ValueError(f"repetitions: expected a positive integer, got {repetitions!r}")
    return int(repetitions)


def _limit_positions(repetitions: int, levels: Sequence[float]) -> list[tuple[int, int]]:
    """0-based positions of PHE's limits in the sorted draws, one pair per level.

    PHE takes the draws at 1-based positions ``round(R (1 - cv))`` and
    ``round(R cv)``, ``cv = c + (1 - c) / 2`` (R's ``round`` is half-to-even, as
    Python's); positions are clamped so that tiny R still gives valid ones.
    """
    positions = []
    for c in levels:
        cv = c + (1 - c) / 2
        lo = min(max(round(repetitions * (1 - cv)), 1), repetitions) - 1
        hi = min(max(round(repetitions * cv), 1), repetitions) - 1
        positions.append((lo, hi))
    return positions


def _simulated_fits(
    centre: NDArray[np.float64],
    se: NDArray[np.float64],
    c0: NDArray[np.float64],
    c1: NDArray[np.float64],
    repetitions: int,
    seed: int | np.random.Generator | None,
    back: Literal["rate", "proportion"] | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Intercept and slope of the refit to each of R simulated data sets.

    Draws ``y_q ~ Normal(centre_q, se_q)`` (PHE ``SimulationFunc``), maps them
    back to the natural scale with exp (rates) or expit (proportions) when
    ``back`` says so, and refits. The fit is linear in y, so all draws are
    fitted at once, in chunks to bound memory.
    """
    rng = np.random.default_rng(seed)
    b0 = np.empty(repetitions)
    b1 = np.empty(repetitions)
    chunk = max(1, _CHUNK_ELEMENTS // centre.size)
    for start in range(0, repetitions, chunk):
        stop = min(start + chunk, repetitions)
        draws = rng.normal(centre, se, size=(stop - start, centre.size))
        if back is not None:
            draws = _inverse_link(back, draws)
        b0[start:stop] = draws @ c0
        b1[start:stop] = draws @ c1
    return b0, b1


# -------------------------------------------------- PHE phe_sii, in full
ValueType = Literal["normal", "rate", "proportion"]
_VALUE_TYPES: dict[object, ValueType] = {
    "normal": "normal", "rate": "rate", "proportion": "proportion",
    0: "normal", 1: "rate", 2: "proportion",  # PHE's integer codes
}
# PHE derives a standard error from 95% limits whatever the confidence asked for.
_Z_975 = NormalDist().inv_cdf(0.975)


class SiiLimits(NamedTuple):
    """Simulated limits of the SII and RII at one confidence level."""

    confidence: float
    sii_lower: float
    sii_upper: float
    rii_lower: float
    rii_upper: float


@dataclass(frozen=True)
class PheSii:
    """Result of :func:`phe_sii`: point estimates and simulated limits.

    ``sii``, ``rii`` and ``intercept`` are PHE's outputs exactly (see
    :func:`phe_sii` for the multiplier and transform rules).
    ``rii_alternative`` is the ALTERNATIVE definition of the RII, SII / mean
    (Mackenbach & Kunst 1997), with the mean population-weighted on the
    natural scale and the sign of the multiplier (not its size) applied.
    ``limits`` holds one :class:`SiiLimits` per confidence level, in the order
    asked; ``sii_lower`` etc. are those of the first level.
    """

    sii: float
    rii: float
    intercept: float
    rii_alternative: float
    limits: tuple[SiiLimits, ...]
    value_type: ValueType
    transform: bool
    multiplier: float
    repetitions: int

    @property
    def sii_lower(self) -> float:
        return self.limits[0].sii_lower

    @property
    def sii_upper(self) -> float:
        return self.limits[0].sii_upper

    @property
    def rii_lower(self) -> float:
        return self.limits[0].rii_lower

    @property
    def rii_upper(self) -> float:
        return self.limits[0].rii_upper

    def at(self, confidence: float) -> SiiLimits:
        """The limits at one of the confidence levels asked for."""
        for limits in self.limits:
            if math.isclose(limits.confidence, confidence):
                return limits
        asked = ", ".join(str(x.confidence) for x in self.limits)
        raise KeyError(f"confidence {confidence}: not computed (computed: {asked})")


def _link(value_type: ValueType, x: NDArray[np.float64]) -> NDArray[np.float64]:
    if value_type == "rate":
        return np.log(x)
    if value_type == "proportion":
        return np.log(x / (1 - x))
    return x


def _inverse_link(value_type: str, x: NDArray[np.float64] | float) -> NDArray[np.float64]:
    if value_type == "rate":
        return np.exp(x)
    if value_type == "proportion":
        return 1 / (1 + np.exp(-np.asarray(x)))  # expit, overflow-safe in both tails
    return np.asarray(x)


def _check_domain(value_type: ValueType, name: str, x: NDArray[np.float64]) -> None:
    if value_type == "rate" and np.any(x <= 0):
        bad = int(np.flatnonzero(x <= 0)[0])
        raise ValueError(
            f"{name}: a rate is log-transformed, so every value must be > 0; "
            f"got {x[bad]} at position {bad}"
        )
    if value_type == "proportion" and np.any((x <= 0) | (x >= 1)):
        bad = int(np.flatnonzero((x <= 0) | (x >= 1))[0])
        raise ValueError(
            f"{name}: a proportion is logit-transformed, so every value must lie "
            f"strictly between 0 and 1 (divide percentages by 100); got {x[bad]} at position {bad}"
        )


def phe_sii(
    values: ArrayLike | None,
    populations: ArrayLike,
    *,
    value_type: ValueType | int = "normal",
    transform: bool = False,
    lower_cl: ArrayLike | None = None,
    upper_cl: ArrayLike | None = None,
    standard_errors: ArrayLike | None = None,
    counts: ArrayLike | None = None,
    multiplier: float = 1.0,
    confidence: float | Sequence[float] = 0.95,
    repetitions: int = 100_000,
    seed: int | np.random.Generator | None = 0,
) -> PheSii:
    """SII and RII with simulated confidence limits, exactly as PHE ``phe_sii``.

    Follows PHEindicatormethods ``phe_sii`` (v2.x, GPL-3; method of Low & Low
    2004, *J Public Health* 26:388-395), step by step:

    1. Value type. ``"normal"`` (PHE 0) values are used as they are; ``"rate"``
       (PHE 1) values and limits are log-transformed and ``"proportion"`` (PHE 2)
       ones logit-transformed, *for the standard error*, whatever ``transform``.
    2. Standard error. ``standard_errors`` if given (for rates and proportions
       PHE reads it as the SE of log / logit value), else
       ``(t(upper_cl) - t(lower_cl)) / (2 z)`` with t the transform above and
       ``z = qnorm(0.975)``: PHE assumes 95% limits on input.
    3. Fit. Weighted least squares of y on midpoint rank b with weights a
       (:func:`sii`): y is the value itself when ``transform`` is false, log /
       logit value when it is true.
    4. Simulation. R draws ``t(y_q) ~ Normal(t(y_q), SE_q)``; without
       ``transform`` each draw is mapped back (exp / expit) before refitting, with
       it the refit is on the transformed scale. Limits are the sorted draws at
       1-based positions ``round(R (1 - cv))`` and ``round(R cv)``,
       ``cv = c + (1 - c) / 2``.
    5. Output, without transform: ``SII = b1 * multiplier``,
       ``RII = (b0 + b1) / b0``, ``intercept = b0``; each simulated SII is
       multiplied and each simulated RII inverted (if the multiplier is
       negative) before sorting.
       With transform, on the transformed scale fitted values at rank 0 and 1
       are ``b0`` and ``b0 + b1``, mapped back by f = exp / expit:
       ``SII = (f(b0 + b1) - f(b0)) * multiplier``,
       ``RII = f(b0 + b1) / f(b0)``, ``intercept = f(b0) * |multiplier|``. A
       limit s of the transformed slope becomes
       ``(f(m + s/2) - f(m - s/2)) * multiplier`` and
       ``f(m + s/2) / f(m - s/2)``, with m = b0 + b1/2 the fitted value at rank
       1/2.
    6. Polarity. A negative multiplier inverts the RII and its limits and
       swaps lower and upper. (PHE's rate-with-transform branch swaps when the
       multiplier is below 1, which for a multiplier between 0 and 1 yields a
       lower limit above the upper; here the swap is for negative multipliers
       in every branch, as PHE does for proportions.)

    Sign convention as the module: groups most deprived first, so the SII of a
    value that rises with affluence is positive. Not implemented: PHE's
    ``reliability_stat`` (rerun 10 times to report the mean average difference).

    Parameters
    ----------
    values : array-like of float, or None
        Value of each group, most deprived first (a proportion as a fraction
        in (0, 1), not a percentage). None for a proportion given by ``counts``.
    populations : array-like of float
        Population (denominator) of each group; at least two positive.
    value_type : {"normal", "rate", "proportion"} or {0, 1, 2}, default "normal"
        Indicator type, as PHE's ``value_type``.
    transform : bool, default False
        Fit on the log (rates) or logit (proportions) scale and transform back.
        Needs ``lower_cl`` and ``upper_cl`` and no ``standard_errors`` (as PHE).
    lower_cl, upper_cl : array-like of float, optional
        95% confidence limits of each value, used to derive the SE.
    standard_errors : array-like of float, optional
        SE of each value (of its log / logit for rates / proportions); takes
        precedence over the limits.
    counts : array-like of float, optional
        Numerators of a proportion; ``values = counts / populations`` when
        ``values`` is None.
    multiplier : float, default 1.0
        Scales the SII and its limits (100 for percentages); a negative value
        flips the polarity, inverting the RII as above.
    confidence : float or sequence of float, default 0.95
        One or more two-sided levels, each in (0, 1).
    repetitions : int, default 100_000
        Number of simulated data sets R (PHE's default).
    seed : int, numpy Generator or None, default 0
        Seed for ``numpy.random.default_rng``: reports are reproducible. The
        draws differ from R's, so limits agree with PHE's to simulation error
        (well within 5% at 100,000 repetitions), point estimates exactly.

    Returns
    -------
    PheSii

    Examples
    --------
    A rate falling with affluence, fitted on the log scale and reported with
    PHE's polarity flip (multiplier -1), so the SII is positive and RII > 1:

    >>> r = phe_sii([150.0, 131.0, 127.5, 130.5, 135.5], [1, 1, 1, 1, 1],
    ...             value_type="rate", transform=True,
    ...             lower_cl=[147.3, 128.4, 125.0, 128.2, 133.2],
    ...             upper_cl=[153.1, 133.7, 130.0, 132.8, 137.9],
    ...             multiplier=-1, repetitions=10_000)
    >>> round(r.sii, 3), round(r.rii, 4), r.sii_lower < r.sii < r.sii_upper
    (13.955, 1.1091, True)
    """
    vt = _VALUE_TYPES.get(value_type if not isinstance(value_type, bool) else None)
    if vt is None:
        raise ValueError(
            f"value_type: expected 'normal', 'rate' or 'proportion' (or PHE's 0, 1, 2), got {value_type!r}"
        )
    pop = _populations("populations", populations)
    if values is None:
        if counts is None or vt != "proportion":
            raise ValueError("values: required, unless value_type is 'proportion' and counts are given")
        x = _vector("counts", counts)
        _same_length(counts=x, populations=pop)
        y = np.divide(x, pop, out=np.full_like(x, np.nan), where=pop > 0)
    else:
        y = _vector("values", values)
    _same_length(values=y, populations=pop)
    if transform and vt == "normal":
        raise ValueError("transform: only rates and proportions can be transformed; set value_type")
    if transform and standard_errors is not None:
        raise ValueError(
            "standard_errors: PHE derives the SE from the confidence limits when transform=True; "
            "give lower_cl and upper_cl instead"
        )
    if standard_errors is None and (lower_cl is None or upper_cl is None):
        raise ValueError("standard_errors: give either standard_errors or both lower_cl and upper_cl")
    if not math.isfinite(multiplier) or multiplier == 0:
        raise ValueError(f"multiplier: expected a finite non-zero number, got {multiplier}")
    levels = _confidence_levels(confidence)
    repetitions = _repetitions(repetitions)
    _check_domain(vt, "values", y)
    centre = _link(vt, y)
    if standard_errors is not None:
        se = _vector("standard_errors", standard_errors)
        _same_length(values=y, standard_errors=se)
        _check_standard_errors(se)
    else:
        lower, upper = _vector("lower_cl", lower_cl), _vector("upper_cl", upper_cl)
        _same_length(values=y, lower_cl=lower, upper_cl=upper)
        _check_domain(vt, "lower_cl", lower)
        _check_domain(vt, "upper_cl", upper)
        if np.any(upper < lower):
            bad = int(np.flatnonzero(upper < lower)[0])
            raise ValueError(
                f"upper_cl: expected upper_cl >= lower_cl, got {upper[bad]} < {lower[bad]} at position {bad}"
            )
        se = (_link(vt, upper) - _link(vt, lower)) / _Z_975 / 2

    c0, c1 = _slope_coefficients(pop)
    flip = multiplier < 0
    mean = float(pop @ y / pop.sum())
    positions = _limit_positions(repetitions, levels)
    if not transform:
        b0, b1 = float(y @ c0), float(y @ c1)
        rii = _ratio(b0 + b1, b0)
        raw_sii, intercept = b1, b0
        sb0, sb1 = _simulated_fits(centre, se, c0, c1, repetitions, seed,
                                   back=None if vt == "normal" else vt)
        slopes = sb1 * multiplier
        with np.errstate(divide="ignore", invalid="ignore"):
            riis = (sb0 + sb1) / sb0
            if flip:
                riis = 1 / riis
        flat = sorted({i for pair in positions for i in pair})
        slopes.partition(flat)
        riis.partition(flat)
        limits = tuple(
            SiiLimits(c, float(slopes[lo]), float(slopes[hi]), float(riis[lo]), float(riis[hi]))
            for c, (lo, hi) in zip(levels, positions)
        )
    else:
        b0, b1 = float(centre @ c0), float(centre @ c1)
        mid = b0 + b1 / 2

        def back_sii(s: float) -> float:
            return float(_inverse_link(vt, mid + s / 2) - _inverse_link(vt, mid - s / 2))

        def back_rii(s: float) -> float:
            return _ratio(float(_inverse_link(vt, mid + s / 2)), float(_inverse_link(vt, mid - s / 2)))

        raw_sii = back_sii(b1)
        rii = back_rii(b1)
        intercept = float(_inverse_link(vt, b0)) * abs(multiplier)
        _, sb1 = _simulated_fits(centre, se, c0, c1, repetitions, seed, back=None)
        flat = sorted({i for pair in positions for i in pair})
        sb1.partition(flat)
        limits = []
        for c, (lo, hi) in zip(levels, positions):
            s_lo, s_hi = float(sb1[lo]), float(sb1[hi])
            if flip:
                limits.append(SiiLimits(c, multiplier * back_sii(s_hi), multiplier * back_sii(s_lo),
                                        1 / back_rii(s_hi), 1 / back_rii(s_lo)))
            else:
                limits.append(SiiLimits(c, multiplier * back_sii(s_lo), multiplier * back_sii(s_hi),
                                        back_rii(s_lo), back_rii(s_hi)))
        limits = tuple(limits)
    if flip:
        rii = _ratio(1.0, rii)
    return PheSii(
        sii=raw_sii * multiplier,
        rii=rii,
        intercept=intercept,
        rii_alternative=_ratio(math.copysign(1.0, multiplier) * raw_sii, mean),
        limits=limits,
        value_type=vt,
        transform=bool(transform),
        multiplier=float(multiplier),
        repetitions=repetitions,
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
    # The Gini is the concentration index of y ranked by y itself.
    return concentration_index(y[order], w[order])


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
