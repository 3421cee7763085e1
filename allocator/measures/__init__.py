"""Summary measures of inequality, with one sign convention, checked against published values.

Groups run from most to least deprived; a positive slope index rises towards the
least deprived. Nothing here imports the rest of allocator: these functions take
arrays and return numbers, so they serve any table of a value by deprivation group.
"""

from allocator.measures.inequality import (
    AtkinsonResult,
    Gap,
    PheSii,
    SlopeIndex,
    atkinson,
    concentration_index,
    erreygers_index,
    gap,
    gini,
    group_by_quantile,
    kolm,
    mean_log_deviation,
    phe_sii,
    proportionality_index,
    relative_ranks,
    sii,
    sii_confidence,
    theil,
)
from allocator.measures.life_expectancy import (
    GradientTableError,
    gradient_table,
    load_bundled_le,
)

__all__ = [
    "AtkinsonResult", "Gap", "GradientTableError", "PheSii", "SlopeIndex", "atkinson",
    "concentration_index", "erreygers_index", "gap", "gini", "gradient_table", "group_by_quantile",
    "kolm", "load_bundled_le", "mean_log_deviation", "phe_sii", "proportionality_index",
    "relative_ranks", "sii", "sii_confidence", "theil",
]
