"""Input checks shared by the inequality measures.

Each helper turns an array-like into a checked float array, or checks one
argument, and raises :class:`ValueError` naming the argument and the first bad
value. :func:`_ratio` is the one rule for an undefined measure: a ratio whose
denominator is exactly zero is ``nan``, not an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _vector(name: str, x: ArrayLike) -> NDArray[np.float64]:
    """``x`` as a non-empty 1-D float array of finite numbers.

    Examples
    --------
    >>> _vector("values", [1, 2.5]).tolist()
    [1.0, 2.5]
    >>> _vector("values", [1, float("inf")])
    Traceback (most recent call last):
    ...
    ValueError: values: expected finite numbers, got inf at position 1
    """
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
    """``x`` as populations (or weights): a :func:`_vector` of values >= 0 with a positive total.

    Examples
    --------
    >>> _populations("populations", [0, 0])
    Traceback (most recent call last):
    ...
    ValueError: populations: expected a positive total, got 0.0
    """
    pop = _vector(name, x)
    neg = np.flatnonzero(pop < 0)
    if neg.size:
        raise ValueError(f"{name}: expected values >= 0, got {pop[neg[0]]} at position {neg[0]}")
    if not pop.sum() > 0:
        raise ValueError(f"{name}: expected a positive total, got {pop.sum()}")
    return pop


def _same_length(**arrays: NDArray[np.float64]) -> None:
    """Raise unless every array, named by its keyword, has the same length.

    Examples
    --------
    >>> _same_length(values=np.zeros(3), populations=np.ones(2))
    Traceback (most recent call last):
    ...
    ValueError: expected equal lengths, got: values has 3, populations has 2
    """
    lengths = {name: arr.size for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        found = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"expected equal lengths, got: {found}")


def _ratio(num: float, den: float) -> float:
    """``num / den``, or ``nan`` when ``den`` is exactly 0.

    Examples
    --------
    >>> _ratio(3.0, 2.0), _ratio(1.0, 0.0)
    (1.5, nan)
    """
    return num / den if den != 0 else math.nan


def _check_standard_errors(se: NDArray[np.float64]) -> None:
    """Raise unless every standard error is >= 0."""
    if np.any(se < 0):
        raise ValueError(f"standard_errors: expected values >= 0, got {se.min()}")


def _confidence_levels(confidence: float | Sequence[float]) -> tuple[float, ...]:
    """One level or several, as a tuple of floats each strictly between 0 and 1.

    Examples
    --------
    >>> _confidence_levels(0.95), _confidence_levels([0.95, 0.998])
    ((0.95,), (0.95, 0.998))
    """
    levels = (confidence,) if np.ndim(confidence) == 0 else tuple(confidence)  # type: ignore[arg-type]
    if not levels:
        raise ValueError("confidence: expected at least one level, got none")
    for level in levels:
        if not 0 < float(level) < 1:
            raise ValueError(f"confidence: expected a level between 0 and 1, got {level}")
    return tuple(float(level) for level in levels)


def _repetitions(repetitions: int) -> int:
    """A number of simulated data sets, checked to be a positive integer (not a bool)."""
    if isinstance(repetitions, bool) or int(repetitions) != repetitions or repetitions < 1:
        raise ValueError(f"repetitions: expected a positive integer, got {repetitions!r}")
    return int(repetitions)
