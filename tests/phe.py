"""PHE's own SII fit, written independently of allocator, for tests to check against."""

from __future__ import annotations

import numpy as np


def phe_fit(values: np.ndarray, populations: np.ndarray) -> tuple[float, float]:
    """PHE's formulation: no-intercept LS of sqrt(a)y on [sqrt(a), b sqrt(a)]; (b0, b1).

    ``a`` is each group's population share and ``b`` its cumulative mid-point rank.
    """
    a = populations / populations.sum()
    b = np.cumsum(a) - a / 2
    design = np.column_stack([np.sqrt(a), b * np.sqrt(a)])
    (b0, b1), *_ = np.linalg.lstsq(design, np.sqrt(a) * values, rcond=None)
    return float(b0), float(b1)
