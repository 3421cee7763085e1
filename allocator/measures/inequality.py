"""Inequality measures over grouped data: the numbers behind the social gradient.

This module gathers the measures, which live in the modules named below, so
``from allocator.measures import inequality as ineq`` reaches every one.

Sign convention (every measure)
-------------------------------
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

Where each measure lives, with the source of each formula in its docstring:

- :mod:`allocator.measures.slope`: :func:`relative_ranks`, :func:`sii` and
  :func:`sii_confidence` (the SII/RII core);
- :mod:`allocator.measures.phe`: :func:`phe_sii` (the whole of PHE's
  ``phe_sii``: value types, log/logit transform, multiplier, several
  confidence levels);
- :mod:`allocator.measures.indices`: :func:`concentration_index`,
  :func:`erreygers_index`, :func:`atkinson`, :func:`gini`, :func:`theil`,
  :func:`mean_log_deviation`, :func:`kolm`;
- :mod:`allocator.measures.gaps`: :func:`gap`, :func:`proportionality_index`,
  :func:`group_by_quantile`;
- ``_checks`` and ``_simulation``: the input checks and the simulation they share.

All functions are pure: array-likes in, floats or frozen results out. Bad input
(mismatched lengths, NaN, negative populations, a non-positive total
population, values outside a measure's domain) raises :class:`ValueError`; a
ratio whose denominator is exactly zero (an undefined measure, not bad input)
is returned as ``nan``.
"""

from __future__ import annotations

# The private helpers are re-exported too (``name as name``), for code that
# reached them here before the measures were split into modules.
from allocator.measures._checks import _check_standard_errors as _check_standard_errors
from allocator.measures._checks import _confidence_levels as _confidence_levels
from allocator.measures._checks import _populations as _populations
from allocator.measures._checks import _ratio as _ratio
from allocator.measures._checks import _repetitions as _repetitions
from allocator.measures._checks import _same_length as _same_length
from allocator.measures._checks import _vector as _vector
from allocator.measures._simulation import _CHUNK_ELEMENTS as _CHUNK_ELEMENTS
from allocator.measures._simulation import ValueType
from allocator.measures._simulation import _inverse_link as _inverse_link
from allocator.measures._simulation import _limit_positions as _limit_positions
from allocator.measures._simulation import _link as _link
from allocator.measures._simulation import _simulated_fits as _simulated_fits
from allocator.measures.gaps import Gap, gap, group_by_quantile, proportionality_index
from allocator.measures.indices import (
    AtkinsonResult,
    atkinson,
    concentration_index,
    erreygers_index,
    gini,
    kolm,
    mean_log_deviation,
    theil,
)
from allocator.measures.indices import _positive_mean as _positive_mean
from allocator.measures.phe import _VALUE_TYPES as _VALUE_TYPES
from allocator.measures.phe import _Z_975 as _Z_975
from allocator.measures.phe import PheSii, SiiLimits, phe_sii
from allocator.measures.phe import _check_domain as _check_domain
from allocator.measures.slope import (
    SlopeIndex,
    SlopeIndexInterval,
    relative_ranks,
    sii,
    sii_confidence,
)
from allocator.measures.slope import _slope_coefficients as _slope_coefficients

__all__ = [
    "AtkinsonResult",
    "Gap",
    "PheSii",
    "SiiLimits",
    "SlopeIndex",
    "SlopeIndexInterval",
    "ValueType",
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
