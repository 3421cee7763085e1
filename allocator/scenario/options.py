"""Allocation options: named variants of one scenario, declared as ``[[option]]`` blocks.

Commissioners compare options (pure fair share, health gain, a steeper need slope,
a bigger budget) side by side.  Each option overrides a few settings of the
manifest; everything else is shared.  ``apply`` returns the varied scenario,
re-checked against its budget.

.. code-block:: toml

    [[option]]
    name = "Health gain, steeper slope"
    objective = "health-gain"
    min_slope = 0.5                       # or per service: { health_visiting = 0.05 }
    floors = { health_visiting = 0.8 }
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from allocator.choices import SLOPE_ONLY
from allocator.errors import InfeasibleError, Problem, ScenarioError
from allocator.scenario.files import number_problem
from allocator.scenario.parameters import apply as set_parameters
from allocator.scenario.spec import OBJECTIVES, PROPORTIONALITY

KEYS = ("name", "description", "total_gbp", "budget_mode", "objective", "proportionality",
        "min_slope", "tolerance", "pace_of_change", "floors", "caps", "floor_scale", "epsilon",
        "sii_reduction", "gap_reduction", "worst_off_at_least")


@dataclass(frozen=True)
class OptionSpec:
    """One named variant: the settings it overrides (validated)."""

    name: str
    description: str = ""
    overrides: dict = field(default_factory=dict)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and number_problem(value) is None


def parse(blocks: object, shown: str, service_ids: tuple[str, ...], problems: list[Problem]) -> tuple[OptionSpec, ...]:
    """Validate the manifest's ``[[option]]`` blocks; problems are appended, not raised."""
    if blocks is None:
        return ()
    if not isinstance(blocks, list):
        problems.append(Problem(shown, "'option' must be an array of tables: write [[option]] blocks"))
        return ()
    specs, names = [], set()
    for k, block in enumerate(blocks, start=1):
        spec = _parse_block(block, k, shown, service_ids, problems, names)
        if spec is not None:
            specs.append(spec)
    return tuple(specs)


def _parse_block(block: object, k: int, shown: str, service_ids: tuple[str, ...],
                 problems: list[Problem], names: set) -> OptionSpec | None:
    """Option number ``k``, or None if it has no usable name; adds its name to ``names``."""
    where = f"[[option]] number {k}"

    def bad(text: str) -> None:
        problems.append(Problem(shown, f"{where}: {text}"))

    if not isinstance(block, dict):
        bad("must be a table")
        return None
    name = block.get("name")
    if not isinstance(name, str) or not name.strip():
        bad(f"'name': expected text, got {name!r}")
        return None
    where = f"[[option]] '{name}'"
    if name in names:
        bad("the same name is used twice")
    names.add(name)
    for key in block:
        if key not in KEYS:
            bad(f"unknown key '{key}' (known: {', '.join(KEYS)})")
    o = {}
    _budget_and_modes(block, o, bad)
    _min_slopes(block, o, bad, service_ids)
    _numbers(block, o, bad)
    _pace(block, o, bad)
    _service_tables(block, o, bad, service_ids)
    return OptionSpec(name=name, description=str(block.get("description", "")), overrides=o)


def _budget_and_modes(block: dict, o: dict, bad) -> None:
    """``total_gbp``, ``budget_mode``, ``objective`` and ``proportionality`` into overrides ``o``."""
    if "total_gbp" in block:
        if not _number(block["total_gbp"]) or block["total_gbp"] <= 0:
            bad(f"'total_gbp': expected a number > 0, got {block['total_gbp']!r}")
        else:
            o["budget_gbp"] = float(block["total_gbp"])
    for key, allowed, target in (("budget_mode", ("exact", "at-most"), "budget_mode"),
                                 ("objective", OBJECTIVES, "objective"),
                                 ("proportionality", PROPORTIONALITY, "proportionality")):
        if key in block:
            if block[key] not in allowed:
                bad(f"'{key}': expected one of {', '.join(allowed)}, got {block[key]!r}")
            else:
                o[target] = block[key]


def _min_slopes(block: dict, o: dict, bad, service_ids: tuple[str, ...]) -> None:
    """A per-service ``min_slope`` table into ``o['min_slopes']``."""
    if isinstance(block.get("min_slope"), dict):
        slopes = {}
        for sid, value in block["min_slope"].items():
            if sid not in service_ids:
                bad(f"'min_slope': unknown service '{sid}' (known: {', '.join(service_ids)})")
            elif not _number(value) or value < 0:
                bad(f"'min_slope' for '{sid}': expected a number >= 0, got {value!r}")
            else:
                slopes[sid] = float(value)
        o["min_slopes"] = slopes


def _numbers(block: dict, o: dict, bad) -> None:
    """The plain numbers (a single ``min_slope``, ``tolerance``, ``epsilon`` ...) into ``o``."""
    for key, upper in (("min_slope", None), ("tolerance", 1.0), ("floor_scale", None),
                       ("epsilon", None), ("sii_reduction", None), ("gap_reduction", None)):
        if key == "min_slope" and isinstance(block.get(key), dict):
            continue
        if key in block:
            value = block[key]
            if not _number(value) or value < 0 or (upper is not None and value >= upper):
                limit = f" below {upper:g}" if upper is not None else ""
                bad(f"'{key}': expected a number >= 0{limit}, got {value!r}")
            else:
                o[key] = float(value)
    if "worst_off_at_least" in block:  # an outcome level: any finite number
        value = block["worst_off_at_least"]
        if not _number(value):
            bad(f"'worst_off_at_least': expected a number (an outcome level), got {value!r}")
        else:
            o["worst_off_at_least"] = float(value)


def _pace(block: dict, o: dict, bad) -> None:
    """``pace_of_change``: false (none) or both limits, into ``o['pace']``."""
    if "pace_of_change" in block:
        pace = block["pace_of_change"]
        if pace is False:
            o["pace"] = None
        elif (isinstance(pace, dict) and set(pace) == {"max_decrease", "max_increase"}
              and all(_number(v) and v >= 0 for v in pace.values()) and pace["max_decrease"] <= 1):
            o["pace"] = (float(pace["max_decrease"]), float(pace["max_increase"]))
        else:
            bad("'pace_of_change': expected false or { max_decrease = fraction, max_increase = "
                f"fraction }}, got {pace!r}")


def _service_tables(block: dict, o: dict, bad, service_ids: tuple[str, ...]) -> None:
    """``floors`` and ``caps``: service_id = units per head (a cap may be "none")."""
    for key in ("floors", "caps"):
        if key not in block:
            continue
        table = block[key]
        if not isinstance(table, dict):
            bad(f"'{key}': expected a table of service_id = units per head, got {table!r}")
            continue
        values = {}
        for sid, value in table.items():
            if sid not in service_ids:
                bad(f"'{key}': unknown service '{sid}' (known: {', '.join(service_ids)})")
            elif key == "caps" and value == "none":
                values[sid] = np.inf
            elif not _number(value) or value < 0:
                bad(f"'{key}' for '{sid}': expected a number >= 0, got {value!r}")
            else:
                values[sid] = float(value)
        o[key] = values


def apply(scenario, spec: OptionSpec):
    """The scenario with the option's settings; raises `ScenarioError` if it cannot work.

    The numbers go through `allocator.scenario.parameters.apply` (the names sweeps use), so an
    option and a sweep point that set the same values give the same scenario.
    """
    o = dict(spec.overrides)
    fields = {k: o.pop(k) for k in ("budget_mode", "objective", "proportionality", "pace") if k in o}
    values = {"budget": o.pop("budget_gbp")} if "budget_gbp" in o else {}
    values.update({k: o.pop(k) for k in ("tolerance", "epsilon", "sii_reduction", "gap_reduction", "worst_off_at_least",
                                          "min_slope", "floor_scale") if k in o})
    for key, prefix in (("min_slopes", "min_slope"), ("floors", "floor"), ("caps", "cap")):
        values.update({f"{prefix}.{sid}": value for sid, value in o.pop(key, {}).items()})
    if fields.get("pace") is not None and scenario.baseline is None:
        raise ScenarioError([Problem(f"{scenario.path} [[option]] '{spec.name}'", "'pace_of_change': a pace of "
                                     "change limits change from last year's spend, and the scenario has no "
                                     "baseline table: add [tables] baseline, or drop the option's pace")])
    renamed = dataclasses.replace(scenario, name=f"{scenario.name}: {spec.name}", **fields)
    out = set_parameters(renamed, values, where=f"{scenario.path} [[option]] '{spec.name}'")
    if out.proportionality != "monotone" and np.any(np.asarray(out.min_slope) > 0):
        raise ScenarioError([Problem(f"{scenario.path} [[option]] '{spec.name}'", f"{SLOPE_ONLY}, and the option's "
                                     f"mode is '{out.proportionality}', which would ignore it: " + _slope_advice(spec))])
    return out


def _slope_advice(spec: OptionSpec) -> str:
    """What to change when an option's mode would ignore a minimum slope, by which of the two it sets."""
    sets_slope = bool({"min_slope", "min_slopes"} & set(spec.overrides))
    if "proportionality" in spec.overrides:
        return ("drop the option's min_slope or its proportionality" if sets_slope else
                "add min_slope = 0 to the option (the scenario's own slope is not 0), or drop its proportionality")
    return 'add proportionality = "monotone" to the option (the scenario\'s mode is not), or drop its min_slope'


def check_all(scenario) -> None:
    """Every option of the manifest applied, its problems raised together (`ScenarioError`), each
    named with its option; an option no allocation meets is well formed (`run` and `compare` say why)."""
    problems = []
    for spec in scenario.options:
        try:
            apply(scenario, spec)
        except InfeasibleError:
            continue
        except ScenarioError as e:
            where = f"[[option]] '{spec.name}'"
            problems += [p if where in p.file else dataclasses.replace(p, file=f"{p.file} {where}") for p in e.problems]
    if problems:
        raise ScenarioError(problems)
