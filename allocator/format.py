"""Money as people read it: £41.2m, £3.60bn, £950k, £12,345."""

from __future__ import annotations

import math


def gbp(amount: float) -> str:
    """Format an amount of pounds for a sentence.

    Examples
    --------
    >>> gbp(41_200_000)
    '£41.2m'
    >>> gbp(3_600_000_000)
    '£3.60bn'
    >>> gbp(-950_000)
    '-£950k'
    >>> gbp(12_345.67)
    '£12,346'
    """
    if not math.isfinite(amount):
        return "£∞" if amount > 0 else "-£∞"
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    if value >= 1e9:
        text = f"{value / 1e9:.2f}bn"
    elif value >= 1e6:
        text = f"{value / 1e6:.1f}m"
    elif value >= 1e5:
        text = f"{value / 1e3:.0f}k"
    else:
        text = f"{value:,.0f}"
    return f"{sign}£{text}"
