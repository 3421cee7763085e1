"""Simulated confidence limits, shared by :func:`~allocator.measures.slope.sii_confidence` and
:func:`~allocator.measures.phe.phe_sii`.

Holds the value types (:data:`ValueType`) with their log / logit links, the
simulation of R data sets and their refits (:func:`_simulated_fits`), and
PHE's rule for which sorted draws are the limits (:func:`_limit_positions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

_CHUNK_ELEMENTS = 1 << 21  # ~16 MB of float64 draws per simulation chunk

ValueType = Literal["normal", "rate", "proportion"]


def _link(value_type: ValueType, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log of a rate, logit of a proportion, a normal value as it is.

    Examples
    --------
    >>> _link("proportion", np.array([0.5])).tolist(), _link("normal", np.array([2.0])).tolist()
    ([0.0], [2.0])
    """
    if value_type == "rate":
        return np.log(x)
    if value_type == "proportion":
        return np.log(x / (1 - x))
    return x


def _inverse_link(value_type: str, x: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """Inverse of :func:`_link`: exp for a rate, expit for a proportion.

    Examples
    --------
    >>> float(_inverse_link("proportion", 0.0)), float(_inverse_link("rate", 0.0))
    (0.5, 1.0)
    """
    if value_type == "rate":
        return np.exp(x)
    if value_type == "proportion":
        return 1 / (1 + np.exp(-np.asarray(x)))  # expit, overflow-safe in both tails
    return np.asarray(x)


def _limit_positions(repetitions: int, levels: Sequence[float]) -> list[tuple[int, int]]:
    """0-based positions of PHE's limits in the sorted draws, one pair per level.

    PHE takes the draws at 1-based positions ``round(R (1 - cv))`` and
    ``round(R cv)``, ``cv = c + (1 - c) / 2`` (R's ``round`` is half-to-even, as
    Python's); positions are clamped so that tiny R still gives valid ones.

    Examples
    --------
    >>> _limit_positions(1000, [0.95, 0.8])
    [(24, 974), (99, 899)]
    """
    positions = []
    for c in levels:
        cv = c + (1 - c) / 2
        lo = min(max(round(repetitions * (1 - cv)), 1), repetitions) - 1
        hi = min(max(round(repetitions * cv), 1), repetitions) - 1
        positions.append((lo, hi))
    return positions


def _partition_at(positions: Sequence[tuple[int, int]], *draws: NDArray[np.float64]) -> None:
    """Partition each array of draws in place so every limit position holds its sorted value."""
    flat = sorted({i for pair in positions for i in pair})
    for array in draws:
        array.partition(flat)


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
