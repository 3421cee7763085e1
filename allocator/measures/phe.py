"""PHE's ``phe_sii`` in full: the SII and RII of any value type, with simulated limits.

Holds :func:`phe_sii`, its result :class:`PheSii` and the limits at one
confidence level :class:`SiiLimits`; the helpers below it check the inputs,
derive the standard errors, and fit and simulate on the natural scale
(:func:`_fit_natural`) or the log / logit scale (:func:`_fit_transformed`).

Method
------
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
   (:func:`~allocator.measures.slope.sii`): y is the value itself when
   ``transform`` is false, log / logit value when it is true.
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

Sign convention as :mod:`allocator.measures.inequality`: groups most deprived
first, so the SII of a value that rises with affluence is positive. Not
implemented: PHE's ``reliability_stat`` (rerun 10 times to report the mean
average difference). The simulated draws differ from R's, so limits agree with
PHE's to simulation error (well within 5% at 100,000 repetitions), point
estimates exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
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
from allocator.measures._simulation import (
    ValueType,
    _inverse_link,
    _limit_positions,
    _link,
    _partition_at,
    _simulated_fits,
)
from allocator.measures.slope import _slope_coefficients

__all__ = ["PheSii", "SiiLimits", "ValueType", "phe_sii"]

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

    ``sii``, ``rii`` and ``intercept`` are PHE's outputs exactly (see the
    module's Method for the multiplier and transform rules).
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


def phe_sii(
    values: ArrayLike | None, populations: ArrayLike, *, value_type: ValueType | int = "normal",
    transform: bool = False, lower_cl: ArrayLike | None = None, upper_cl: ArrayLike | None = None,
    standard_errors: ArrayLike | None = None, counts: ArrayLike | None = None,
    multiplier: float = 1.0, confidence: float | Sequence[float] = 0.95,
    repetitions: int = 100_000, seed: int | np.random.Generator | None = 0,
) -> PheSii:
    """SII and RII with simulated confidence limits, exactly as PHE ``phe_sii``.

    Follows PHEindicatormethods ``phe_sii`` step by step (Low & Low 2004); the
    module docstring (:mod:`allocator.measures.phe`) sets out each step.

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
        flips the polarity, inverting the RII and swapping the limits.
    confidence : float or sequence of float, default 0.95
        One or more two-sided levels, each in (0, 1).
    repetitions : int, default 100_000
        Number of simulated data sets R (PHE's default).
    seed : int, numpy Generator or None, default 0
        Seed for ``numpy.random.default_rng``: reports are reproducible.

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
    data = _checked_inputs(
        values, populations, value_type=value_type, transform=transform, lower_cl=lower_cl,
        upper_cl=upper_cl, standard_errors=standard_errors, counts=counts, multiplier=multiplier,
        confidence=confidence, repetitions=repetitions,
    )
    c0, c1 = _slope_coefficients(data.populations)
    fit = (_fit_transformed if transform else _fit_natural)(data, c0, c1, multiplier, seed)
    pop, y = data.populations, data.values
    return PheSii(
        sii=fit.raw_sii * multiplier,
        rii=_ratio(1.0, fit.rii) if multiplier < 0 else fit.rii,
        intercept=fit.intercept,
        rii_alternative=_ratio(math.copysign(1.0, multiplier) * fit.raw_sii, float(pop @ y / pop.sum())),
        limits=fit.limits,
        value_type=data.value_type,
        transform=bool(transform),
        multiplier=float(multiplier),
        repetitions=data.repetitions,
    )


# ------------------------------------------------------------ checking inputs
@dataclass(frozen=True)
class _PheInputs:
    """The checked inputs of :func:`phe_sii`: values on both scales and their SEs."""

    value_type: ValueType
    values: NDArray[np.float64]  # natural scale
    populations: NDArray[np.float64]
    centre: NDArray[np.float64]  # values on the link (log / logit) scale
    standard_errors: NDArray[np.float64]  # on the link scale
    levels: tuple[float, ...]
    repetitions: int


def _checked_inputs(
    values: ArrayLike | None, populations: ArrayLike, *, value_type: ValueType | int,
    transform: bool, lower_cl: ArrayLike | None, upper_cl: ArrayLike | None,
    standard_errors: ArrayLike | None, counts: ArrayLike | None, multiplier: float,
    confidence: float | Sequence[float], repetitions: int,
) -> _PheInputs:
    """Check every argument of :func:`phe_sii` (in a fixed order) and derive the SEs."""
    vt = _value_type(value_type)
    pop = _populations("populations", populations)
    y = _group_values(vt, values, counts, pop)
    _check_options(vt, transform, standard_errors, lower_cl, upper_cl, multiplier)
    levels = _confidence_levels(confidence)
    repetitions = _repetitions(repetitions)
    _check_domain(vt, "values", y)
    centre = _link(vt, y)
    se = _standard_errors(vt, y, standard_errors, lower_cl, upper_cl)
    return _PheInputs(vt, y, pop, centre, se, levels, repetitions)


def _value_type(value_type: ValueType | int) -> ValueType:
    """PHE's value type by name or integer code (not a bool).

    Examples
    --------
    >>> _value_type(1), _value_type("proportion")
    ('rate', 'proportion')
    """
    vt = _VALUE_TYPES.get(value_type if not isinstance(value_type, bool) else None)
    if vt is None:
        raise ValueError(
            f"value_type: expected 'normal', 'rate' or 'proportion' (or PHE's 0, 1, 2), got {value_type!r}"
        )
    return vt


def _group_values(vt: ValueType, values: ArrayLike | None, counts: ArrayLike | None,
                  pop: NDArray[np.float64]) -> NDArray[np.float64]:
    """The values, or for a proportion without them ``counts / populations``."""
    if values is None:
        if counts is None or vt != "proportion":
            raise ValueError("values: required, unless value_type is 'proportion' and counts are given")
        x = _vector("counts", counts)
        _same_length(counts=x, populations=pop)
        y = np.divide(x, pop, out=np.full_like(x, np.nan), where=pop > 0)
    else:
        y = _vector("values", values)
    _same_length(values=y, populations=pop)
    return y


def _check_options(vt: ValueType, transform: bool, standard_errors: ArrayLike | None,
                   lower_cl: ArrayLike | None, upper_cl: ArrayLike | None, multiplier: float) -> None:
    """Raise for a combination of options PHE does not allow."""
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


def _check_domain(value_type: ValueType, name: str, x: NDArray[np.float64]) -> None:
    """Raise unless a rate is > 0 and a proportion strictly between 0 and 1."""
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


def _standard_errors(vt: ValueType, y: NDArray[np.float64], standard_errors: ArrayLike | None,
                     lower_cl: ArrayLike | None, upper_cl: ArrayLike | None) -> NDArray[np.float64]:
    """The SEs as given, or derived from 95% limits on the link scale (PHE's step 2)."""
    if standard_errors is not None:
        se = _vector("standard_errors", standard_errors)
        _same_length(values=y, standard_errors=se)
        _check_standard_errors(se)
        return se
    lower, upper = _vector("lower_cl", lower_cl), _vector("upper_cl", upper_cl)
    _same_length(values=y, lower_cl=lower, upper_cl=upper)
    _check_domain(vt, "lower_cl", lower)
    _check_domain(vt, "upper_cl", upper)
    if np.any(upper < lower):
        bad = int(np.flatnonzero(upper < lower)[0])
        raise ValueError(
            f"upper_cl: expected upper_cl >= lower_cl, got {upper[bad]} < {lower[bad]} at position {bad}"
        )
    return (_link(vt, upper) - _link(vt, lower)) / _Z_975 / 2


# ---------------------------------------------------- the fit and its limits
class _Estimates(NamedTuple):
    """A fit and its limits, before the multiplier and polarity are applied to the point estimates."""

    raw_sii: float  # slope on the natural scale, not yet multiplied
    rii: float  # not yet inverted for a negative multiplier
    intercept: float
    limits: tuple[SiiLimits, ...]  # final: multiplied, inverted and swapped


def _fit_natural(data: _PheInputs, c0: NDArray[np.float64], c1: NDArray[np.float64],
                 multiplier: float, seed: int | np.random.Generator | None) -> _Estimates:
    """Fit the values as they are; draws on the link scale are mapped back before each refit."""
    y, vt = data.values, data.value_type
    b0, b1 = float(y @ c0), float(y @ c1)
    sb0, sb1 = _simulated_fits(data.centre, data.standard_errors, c0, c1, data.repetitions, seed,
                               back=None if vt == "normal" else vt)
    slopes = sb1 * multiplier
    with np.errstate(divide="ignore", invalid="ignore"):
        riis = (sb0 + sb1) / sb0
        if multiplier < 0:
            riis = 1 / riis
    positions = _limit_positions(data.repetitions, data.levels)
    _partition_at(positions, slopes, riis)
    limits = tuple(
        SiiLimits(c, float(slopes[lo]), float(slopes[hi]), float(riis[lo]), float(riis[hi]))
        for c, (lo, hi) in zip(data.levels, positions)
    )
    return _Estimates(raw_sii=b1, rii=_ratio(b0 + b1, b0), intercept=b0, limits=limits)


def _fit_transformed(data: _PheInputs, c0: NDArray[np.float64], c1: NDArray[np.float64],
                     multiplier: float, seed: int | np.random.Generator | None) -> _Estimates:
    """Fit and simulate on the log / logit scale, then map slopes back around rank 1/2."""
    vt, centre = data.value_type, data.centre
    b0, b1 = float(centre @ c0), float(centre @ c1)
    mid = b0 + b1 / 2
    _, sb1 = _simulated_fits(centre, data.standard_errors, c0, c1, data.repetitions, seed, back=None)
    positions = _limit_positions(data.repetitions, data.levels)
    _partition_at(positions, sb1)
    limits = tuple(
        _transformed_limits(vt, mid, c, float(sb1[lo]), float(sb1[hi]), multiplier)
        for c, (lo, hi) in zip(data.levels, positions)
    )
    return _Estimates(
        raw_sii=_back_sii(vt, mid, b1),
        rii=_back_rii(vt, mid, b1),
        intercept=float(_inverse_link(vt, b0)) * abs(multiplier),
        limits=limits,
    )


def _back_sii(vt: ValueType, mid: float, s: float) -> float:
    """A transformed slope s as a natural-scale SII: ``f(mid + s/2) - f(mid - s/2)``."""
    return float(_inverse_link(vt, mid + s / 2) - _inverse_link(vt, mid - s / 2))


def _back_rii(vt: ValueType, mid: float, s: float) -> float:
    """A transformed slope s as an RII: ``f(mid + s/2) / f(mid - s/2)``."""
    return _ratio(float(_inverse_link(vt, mid + s / 2)), float(_inverse_link(vt, mid - s / 2)))


def _transformed_limits(vt: ValueType, mid: float, confidence: float, s_lo: float, s_hi: float,
                        multiplier: float) -> SiiLimits:
    """Limits from the limits of the transformed slope; a negative multiplier inverts and swaps."""
    if multiplier < 0:
        return SiiLimits(confidence, multiplier * _back_sii(vt, mid, s_hi),
                         multiplier * _back_sii(vt, mid, s_lo),
                         1 / _back_rii(vt, mid, s_hi), 1 / _back_rii(vt, mid, s_lo))
    return SiiLimits(confidence, multiplier * _back_sii(vt, mid, s_lo),
                     multiplier * _back_sii(vt, mid, s_hi),
                     _back_rii(vt, mid, s_lo), _back_rii(vt, mid, s_hi))
