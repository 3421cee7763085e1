"""The thresholds of monitoring: the ``[monitor]`` block of scenario.toml, or ``--threshold NAME=VALUE``.

`settings` reads the block from the scenario's manifest (its shape is checked with the rest of
the manifest when the scenario is loaded: `allocator validate` reports a bad key), lays the
command line's values over it, checks every value and returns a frozen `MonitorSettings`.

.. code-block:: toml

    [monitor]
    variance_amber = 0.05       # an area, service, group or stream more than 5% off plan: amber
    variance_red = 0.10         # ... more than 10%: red (over- or underspent)
    rule_tolerance = 0.05       # a floor, cap or pace limit missed by at most 5% of it still holds
    ordering_tolerance = 0.10   # intensity may dip 10% below a less needy area's before it counts
    missing = "exclude"         # a line not reported: left out ("exclude"), "zero", or "planned"
    year = "2025/26"            # the label of the one year of a scenario without [plan]
    baseline_year = "2023/24"   # the year of the scenario's outcome column, in the trend
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from allocator.errors import OutturnError, Problem
from allocator.scenario import files
from allocator.scenario.checks import MANIFEST

_NUMBER, _TEXT = (int, float), (str,)
MISSING = ("exclude", "zero", "planned")

#: key: (default, what it means): the README and ``allocator monitor --help`` say the same
THRESHOLDS: dict[str, tuple[object, str]] = {
    "variance_amber": (0.05, "an area, service, deprivation group or stream whose actual spend is more than this "
                             "share off plan (either way) is amber"),
    "variance_red": (0.10, "... and red beyond this share: over- or underspent"),
    "rule_tolerance": (0.05, "a line still holds its floor or cap, and an area its pace of change, when it misses "
                             "the limit by at most this share of it"),
    "ordering_tolerance": (0.10, "the need ordering breaks where an area gets less than (1 - this) times the units "
                                 "per head of a less needy area"),
    "proportionality_amber": (0.05, "the proportionality index (GBP per head per unit of need) is amber when it "
                                    "falls by more than this share of the planned value"),
    "proportionality_red": (0.10, "... and red beyond this share"),
    "concentration_amber": (0.01, "the concentration index of spend is amber when it rises (less pro-deprived) by "
                                  "more than this"),
    "concentration_red": (0.02, "... and red beyond this"),
    "share_amber": (0.005, "the share of spend in the most deprived fifth is amber when it falls by more than "
                           "this (0.005 = half a percentage point)"),
    "share_red": (0.01, "... and red beyond this"),
    "confidence": (0.95, "the confidence level of the limits of the observed SII and RII"),
    "missing": ("exclude", "a line the outturn does not report: left out of every comparison (exclude), counted as "
                           "nothing spent (zero), or as spent as planned (planned)"),
    "year": ("", "the label of the one year of a scenario without [plan] (default 'Year 1'); a plan's years are "
                 "its own labels"),
    "baseline_year": ("Baseline", "the label of the year the scenario's outcome column describes, in the trend"),
}
#: pairs (amber, red): amber may not exceed red
PAIRS = (("variance_amber", "variance_red"), ("proportionality_amber", "proportionality_red"),
         ("concentration_amber", "concentration_red"), ("share_amber", "share_red"))
TEXT_KEYS = ("missing", "year", "baseline_year")

# the shapes manifest.check holds [monitor] to: key: (types, required); (key, choices, default);
# (key, lowest, lowest excluded, highest, highest excluded)
SCHEMA = {key: (_TEXT if key in TEXT_KEYS else _NUMBER, False) for key in THRESHOLDS}
CHOICES = [("monitor", "missing", MISSING, "exclude")]
RANGES = [("monitor", key, 0, False, None, False) for key in THRESHOLDS if key not in (*TEXT_KEYS, "confidence")] + [
    ("monitor", "confidence", 0, True, 1, True)]


@dataclass(frozen=True)
class MonitorSettings:
    """Thresholds and choices of monitoring (`THRESHOLDS` says what each means).

    Examples
    --------
    >>> MonitorSettings().variance_red, MonitorSettings().missing
    (0.1, 'exclude')
    """

    variance_amber: float = 0.05
    variance_red: float = 0.10
    rule_tolerance: float = 0.05
    ordering_tolerance: float = 0.10
    proportionality_amber: float = 0.05
    proportionality_red: float = 0.10
    concentration_amber: float = 0.01
    concentration_red: float = 0.02
    share_amber: float = 0.005
    share_red: float = 0.01
    confidence: float = 0.95
    missing: str = "exclude"
    year: str = ""
    baseline_year: str = "Baseline"


DEFAULT_YEAR = "Year 1"


def plan_years(scenario, settings: MonitorSettings | None = None) -> tuple[str, ...]:
    """The labels of the plan's years: a ``[plan]``'s own, else one year (``year`` of the settings, or
    'Year 1')."""
    if scenario.plan is not None:
        return tuple(scenario.plan.labels)
    chosen = (settings.year if settings is not None else "") or DEFAULT_YEAR
    return (chosen,)


def manifest_block(scenario) -> tuple[dict, str]:
    """The scenario's ``[monitor]`` block as its manifest gives it ({} when none), and where it is.

    Read again from the manifest (a scenario.toml, or a workbook's scenario sheet) that the scenario
    was loaded from; a scenario made in Python has none.
    """
    first = str(scenario.inputs[0]) if scenario.inputs else ""
    suffix = ", sheet scenario"
    try:
        if first.endswith(suffix):
            from allocator.scenario.workbook import read_settings

            data = read_settings(Path(first[: -len(suffix)]), first[: -len(suffix)])
        elif first.endswith(".toml") and Path(first).is_file():
            data = files.read_toml(Path(first), first) or {}
        else:
            return {}, MANIFEST
    except OutturnError:
        raise
    except Exception as exc:  # noqa: BLE001  the manifest changed since the scenario was loaded
        raise OutturnError([Problem(first, f"cannot be read again for its [monitor] block: {exc}")]) from None
    block = data.get("monitor", {})
    return (block if isinstance(block, dict) else {}), first


def settings(scenario=None, overrides: dict | None = None, where: str = "--threshold") -> MonitorSettings:
    """`MonitorSettings` from the scenario's ``[monitor]`` block with ``overrides`` laid over it.

    ``overrides`` maps keys of `THRESHOLDS` to numbers, or to text to be read as numbers (the
    command line's ``--threshold NAME=VALUE``); an unknown key, a value that is not a number or
    out of range, or an amber threshold above its red one raises `OutturnError`.

    Examples
    --------
    >>> settings(None, {"variance_red": "0.2", "missing": "zero"}).variance_red
    0.2
    >>> settings(None, {"variance_amber": 0.3})
    Traceback (most recent call last):
    ...
    allocator.errors.OutturnError: 1 problem in the outturn:
    - --threshold: 'variance_amber' 0.3 is above 'variance_red' 0.1: amber must come before red
    """
    block, shown = manifest_block(scenario) if scenario is not None else ({}, MANIFEST)
    values: dict[str, object] = {}
    origin: dict[str, str] = {}
    problems: list[Problem] = []
    for source, given in ((f"{shown} [monitor]", block), (where, overrides or {})):
        for key, value in given.items():
            checked = _checked(key, value, source, problems)
            if checked is not None:
                values[key], origin[key] = checked, source
    chosen = dataclasses.replace(MonitorSettings(), **values)
    for amber, red in PAIRS:
        low, high = getattr(chosen, amber), getattr(chosen, red)
        if low > high:
            place = origin.get(amber) or origin.get(red) or where
            problems.append(Problem(place, f"'{amber}' {low:g} is above '{red}' {high:g}: amber must come before red"))
    if problems:
        raise OutturnError(problems)
    return chosen


def _checked(key: str, value: object, source: str, problems: list[Problem]):
    """``value`` for ``key`` as the settings hold it, or None after adding a problem."""
    def bad(text: str) -> None:
        problems.append(Problem(source, f"'{key}': {text}"))

    if key not in THRESHOLDS:
        bad(f"unknown setting (known: {', '.join(THRESHOLDS)})")
        return None
    if key in TEXT_KEYS:
        text = str(value).strip()
        if key == "missing" and text not in MISSING:
            bad(f"expected one of {', '.join(MISSING)}, got {text!r}")
            return None
        if key == "baseline_year" and not text:
            bad("expected a label such as 'Baseline' or '2023/24', got a blank")
            return None
        return text
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        bad(f"expected a number, got {value!r}")
        return None
    if key == "confidence" and not 0 < number < 1:
        bad(f"expected a number between 0 and 1 (0.95 for 95% limits), got {value!r}")
        return None
    if number < 0 or number > 1e6:
        bad(f"expected a number >= 0 (a share: 0.1 is 10%), got {value!r}")
        return None
    return number
