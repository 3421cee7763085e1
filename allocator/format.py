"""Numbers as people read them: one formatter for the terminal, HTML, Markdown and charts.

Money in pounds with k/m/bn (£41.2m, £3.60bn, £950k, £12,345), shares as
percentages, other values to a few significant figures, and never scientific
notation: a person reads ``0.000085``, not ``8.5e-05``.  Every output that a person
reads formats its numbers here, so that the same value reads the same everywhere.

Examples
--------
>>> gbp(3.6e9), number(0.21625, "share"), number(-8.4975e-05), compact(3.6e9)
('£3.60bn', '21.6%', '-0.000084975', '3.6bn')
"""

from __future__ import annotations

import math

_SCALES = ((1e9, "bn"), (1e6, "m"), (1e3, "k"))


def _finite(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def plain(value, digits: int = 5, signed: bool = False) -> str:
    """``value`` to ``digits`` significant figures in plain decimals, with thousands separators.

    Examples
    --------
    >>> plain(36304380.2), plain(1.0576671), plain(-0.0405331), plain(8.4975e-05)
    ('36,304,380', '1.0577', '-0.040533', '0.000084975')
    >>> plain(0), plain(0.5, signed=True), plain(float("nan")), plain(2e-13)
    ('0', '+0.5', 'n/a', '0')
    """
    v = _finite(value)
    if v is None:
        return "n/a"
    plus = "+" if signed and v > 0 else ""
    if v == 0:
        return "0"
    exponent = math.floor(math.log10(abs(v)))
    decimals = min(max(digits - 1 - exponent, 0), 12)
    text = f"{v:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text.lstrip("-") in ("0", ""):
        return "0"
    return plus + text


def aligned(values, digits: int = 5, signed: bool = False) -> list[str]:
    """Related values (a row of before, after, change) with the same decimals, to ``digits``
    significant figures of the largest, in plain decimals.

    >>> aligned([7.0, 7.25, 0.25]), aligned([3.6e9, 3.7e9]), aligned([1.2e-4, -3.5e-5], signed=True)
    (['7.0000', '7.2500', '0.2500'], ['3,600,000,000', '3,700,000,000'], ['+0.00012000', '-0.00003500'])
    """
    finite = [abs(v) for v in map(_finite, values) if v is not None and v != 0]
    decimals = min(max(digits - 1 - math.floor(math.log10(max(finite))), 0), 12) if finite else 0
    out = []
    for value in values:
        v = _finite(value)
        out.append("n/a" if v is None else f"{v:{'+' if signed else ''},.{decimals}f}")
    return out


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
    >>> gbp(9e15)
    '£9,000,000bn'
    >>> gbp(-0.3)  # rounds to nothing: no minus sign
    '£0'
    """
    if not math.isfinite(amount):
        return "£∞" if amount > 0 else "-£∞"
    sign = "-" if amount <= -0.5 else ""
    value = abs(amount)
    if value >= 1e12:  # thousands of billions still read as billions, never 9000000.00bn
        text = f"{value / 1e9:,.0f}bn"
    elif value >= 1e9:
        text = f"{value / 1e9:.2f}bn"
    elif value >= 1e6:
        text = f"{value / 1e6:.1f}m"
    elif value >= 1e5:
        text = f"{value / 1e3:.0f}k"
    else:
        text = f"{value:,.0f}"
    return f"{sign}£{text}"


def money(value: float, signed: bool = False) -> str:
    """Pounds as in a sentence (£41.2m), '+' on gains if ``signed``; never '-£0'.

    >>> money(0.3), money(-0.2), money(1.5e6, signed=True)
    ('£0', '£0', '+£1.5m')
    """
    text = gbp(value)
    if text.lstrip("-") == "£0":
        return "£0"
    return ("+" if signed and value > 0 else "") + text


def percent(share: float, signed: bool = False) -> str:
    """A share (0.216) as a percentage ('21.6%'); signed, a change in percentage points.

    >>> percent(0.21625), percent(0.0096, signed=True), percent(float("nan"))
    ('21.6%', '+1.0 pp', 'n/a')
    """
    v = _finite(share)
    if v is None:
        return "n/a"
    return f"{v * 100:+.1f} pp" if signed else f"{v:.1%}"


def small_share(share: float) -> str:
    """A share that may be tiny (an optimality gap) as a percentage to two significant figures.

    >>> small_share(0.0000359), small_share(0.0011), small_share(0.25), small_share(0.0)
    ('0.0036%', '0.11%', '25%', '0%')
    """
    v = _finite(share)
    return "n/a" if v is None else f"{plain(v * 100, 2)}%"


def change(share: float) -> str:
    """A relative change (0.12) as a signed percentage ('+12.0%'), not percentage points.

    >>> change(0.12), change(-0.0049), change(float("nan"))
    ('+12.0%', '-0.5%', 'n/a')
    """
    v = _finite(share)
    return "n/a" if v is None else f"{v * 100:+.1f}%"


def number(value, units: str = "", signed: bool = False) -> str:
    """A measure's value for a table or a sentence, formatted by its units.

    Examples
    --------
    >>> number(3.6e9, "GBP"), number(12.2723, "GBP per head"), number(0.21625, "share")
    ('£3.60bn', '£12.27', '21.6%')
    >>> number(36304380.2, "years x people"), number(1.0576671, "ratio"), number(float("nan"))
    ('36,304,380', '1.0577', 'n/a')
    >>> number(-0.0405331, "years", signed=True), number(0.0096, "share", signed=True)
    ('-0.040533', '+1.0 pp')
    """
    v = _finite(value)
    if v is None:
        return "n/a"
    if units == "GBP":
        return money(v, signed)
    if units.startswith("GBP per head"):
        return ("-" if v < 0 else "+" if signed and v > 0 else "") + f"£{abs(v):,.2f}"
    if units == "share":
        return percent(v, signed)
    if abs(v) >= 1000:
        return ("+" if signed and v > 0 else "") + f"{v:,.0f}"
    return plain(v, 5, signed)


def compact(value: float) -> str:
    """A number for a chart label, to three significant figures: 3.6bn, 40m, 250k, 0.8.

    Examples
    --------
    >>> compact(3.6e9), compact(40_000_000), compact(-250_000), compact(0.8)
    ('3.6bn', '40m', '-250k', '0.8')
    >>> compact(999_950), compact(1234), compact(float("nan")), compact(0.0000123)
    ('1m', '1.23k', 'n/a', '0.0000123')
    """
    value = float(value)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    sign = "-" if value < 0 else ""
    rounded = float(f"{abs(value):.3g}")  # round first, so 999,950 is 1m, not 1000k
    for size, suffix in _SCALES:
        if rounded >= size:
            return f"{sign}{plain(float(f'{rounded / size:.3g}'), 3)}{suffix}"
    return f"{sign}{plain(rounded, 3)}" if rounded else "0"


def short_gbp(value: float) -> str:
    """Pounds for a chart axis: £1.5bn, £40m, £250k, £12.

    >>> short_gbp(1.5e9), short_gbp(-40e6), short_gbp(12)
    ('£1.5bn', '-£40m', '£12')
    """
    text = compact(value)
    return f"-£{text[1:]}" if text.startswith("-") else f"£{text}"


def cell(value, spec: str = ",.2f") -> str:
    """A terminal table cell from a format spec; a 'g' spec gives significant figures, not 'e+'.

    >>> cell(3.6e9, ".4g"), cell(-8.4975e-05, ".4g"), cell(1234.5), cell(float("nan"))
    ('3,600,000,000', '-0.00008498', '1,234.50', 'n/a')
    """
    v = _finite(value)
    if v is None:
        return "n/a"
    if spec.endswith("g"):
        digits = int(spec.lstrip(",.").rstrip("g") or 6)
        if abs(v) >= 10 ** digits:
            return f"{v:,.0f}"
        return plain(v, digits)
    return format(v, spec)
