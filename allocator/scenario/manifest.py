"""The shape of ``scenario.toml``: its sections, their keys, each key's type, choices and range.

`check` collects a problem for everything out of place; the loader reads the
manifest only once it is clean, so that it never meets a section given as a
value, text where a number belongs, or a number out of range.
"""

from __future__ import annotations

from allocator.scenario import monitor_settings
from allocator.scenario.spec import BUDGET_MODES, OBJECTIVES, PROPORTIONALITY
from allocator.scenario.tables import Checker

NUMBER, WHOLE, TEXT, BOOL, LIST = (int, float), (int,), (str,), (bool,), (list,)

# section -> {key: (type, required)}
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "scenario": {"name": (TEXT, True), "description": (TEXT, False),
                 "attribution": (TEXT, False), "models": (TEXT, False)},
    "budget": {"total_gbp": (NUMBER, True), "mode": (TEXT, False)},
    "objective": {"name": (TEXT, True), "epsilon": (NUMBER, False),
                  "sii_reduction": (NUMBER, False), "gap_reduction": (NUMBER, False),
                  "worst_off_at_least": (NUMBER, False)},
    "proportionality": {"mode": (TEXT, True), "min_slope": (NUMBER, False),
                        "tolerance": (NUMBER, False)},
    "pace_of_change": {"max_decrease": (NUMBER, True), "max_increase": (NUMBER, True)},
    "gradient": {"outcome": (TEXT, True), "outcome_label": (TEXT, False),
                 "outcome_units": (TEXT, True), "higher_is_better": (BOOL, True),
                 "deprivation": (TEXT, True), "most_deprived": (TEXT, True),
                 "quantiles": (WHOLE, False), "group_columns": (LIST, False)},
    "tables": {"areas": (TEXT, False), "services": (TEXT, False),
               "baseline": (TEXT, False), "locked": (TEXT, False),
               "workbook": (TEXT, False), "streams": (TEXT, False), "partners": (TEXT, False)},
}
REQUIRED_SECTIONS = ("scenario", "budget", "objective", "proportionality", "gradient", "tables")
# [[option]], [[uncertain]] and [[service_group]] blocks, [plan] and [disaggregation], checked by their modules
ARRAYS = ("option", "uncertain", "service_group", "plan", "disaggregation")
CHOICES = [("objective", "name", OBJECTIVES, None), ("proportionality", "mode", PROPORTIONALITY, None),
           ("budget", "mode", BUDGET_MODES, "exact"), ("gradient", "most_deprived", ("high", "low"), None)]
# (section, key, lowest, lowest excluded, highest, highest excluded)
RANGES = [("budget", "total_gbp", 0, True, None, False), ("proportionality", "min_slope", 0, False, None, False),
          ("proportionality", "tolerance", 0, False, 1, True), ("objective", "epsilon", 0, False, None, False),
          ("objective", "sii_reduction", 0, False, None, False),
          ("objective", "gap_reduction", 0, False, None, False),
          ("pace_of_change", "max_decrease", 0, False, 1, False),
          ("pace_of_change", "max_increase", 0, False, None, False), ("gradient", "quantiles", 2, False, None, False)]
# [monitor]: the thresholds of `allocator monitor` (allocator.scenario.monitor_settings)
SCHEMA["monitor"] = monitor_settings.SCHEMA
CHOICES += monitor_settings.CHOICES
RANGES += monitor_settings.RANGES


def section(data: dict, name: str) -> dict:
    """``data[name]`` if it is a table, else an empty one (its problem is reported by `check`)."""
    block = data.get(name)
    return block if isinstance(block, dict) else {}


def _type_name(types: tuple[type, ...]) -> str:
    if types == WHOLE:
        return "a whole number"
    return {NUMBER: "a number", TEXT: "text", BOOL: "true or false", LIST: "a list"}[types]


def is_a(value: object, types: tuple[type, ...]) -> bool:
    """``value`` is of ``types``; true and false are never numbers."""
    return isinstance(value, types) and (bool in types or not isinstance(value, bool))


def check(data: dict, shown: str, check: Checker) -> None:
    """Every problem of the manifest's shape, choices and ranges, into ``check``."""
    for name, value in data.items():
        if name not in SCHEMA and name not in ARRAYS:
            check.add(shown, f"unknown section [{name}] (known: {', '.join(SCHEMA)})")
        elif name in SCHEMA and not isinstance(value, dict):
            check.add(shown, f"[{name}] must be a table (a [{name}] section of keys), got {value!r}")
    for name in REQUIRED_SECTIONS:
        if name not in data:
            check.add(shown, f"missing section [{name}]")
    for name, keys in SCHEMA.items():
        if isinstance(data.get(name), dict):
            _keys(data[name], name, keys, shown, check)
    for name, key, allowed, default in CHOICES:
        value = section(data, name).get(key, default)
        if isinstance(value, str) and value not in allowed:
            check.add(shown, f"[{name}] '{key}': expected one of {', '.join(allowed)}, got {value!r}")
    for name, key, low, low_open, high, high_open in RANGES:
        value = section(data, name).get(key)
        if not is_a(value, NUMBER):
            continue
        if value < low or (low_open and value <= low):
            check.add(shown, f"[{name}] '{key}': expected a number {'>' if low_open else '>='} {low}, "
                      f"got {value!r}")
        elif high is not None and (value > high or (high_open and value >= high)):
            check.add(shown, f"[{name}] '{key}': expected a number {'below' if high_open else '<='} "
                      f"{high}, got {value!r}")
    groups = section(data, "gradient").get("group_columns", [])
    if isinstance(groups, list) and not all(isinstance(g, str) and g.strip() for g in groups):
        check.add(shown, f"[gradient] 'group_columns': expected a list of column names, got {groups!r}")
    tables = data.get("tables")
    if isinstance(tables, dict) and "workbook" not in tables:
        for key in ("areas", "services"):
            if key not in tables:
                check.add(shown, f"[tables] missing key '{key}' (or give 'workbook')")


def _keys(block: dict, name: str, keys: dict, shown: str, check: Checker) -> None:
    for key in block:
        if key not in keys:
            check.add(shown, f"[{name}] unknown key '{key}' (known: {', '.join(keys)})")
    for key, (types, required) in keys.items():
        if key not in block:
            if required:
                check.add(shown, f"[{name}] missing key '{key}'")
        elif not is_a(block[key], types):
            check.add(shown, f"[{name}] '{key}': expected {_type_name(types)}, got {block[key]!r}")
