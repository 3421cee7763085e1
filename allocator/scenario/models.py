"""Evidence as data: need formulas and response curves, read from ``models/``.

A need model is a weighted sum of area columns (optionally times a weight per
value of one column); a response model is a concave piecewise-linear curve of
outcome gain per head against units of service per head, optionally scaled by a
weight per value of one area column.  Both are plain numbers in TOML files:
nothing in them is ever executed or evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from allocator.errors import Problem, ScenarioError
from allocator.scenario.files import number_problem, read_toml

NEED_DIR = "need"
RESPONSE_DIR = "response"


def category_key(value: object) -> str:
    """Text key for a lookup value: '1', '1.0' and 1 all become '1'."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if np.isfinite(number) and number == int(number):
        return str(int(number))
    return text


@dataclass(frozen=True)
class Lookup:
    """A weight for each value of one area column."""

    column: str
    weights: dict[str, float]

    def apply(self, keys: list[str]) -> np.ndarray:
        return np.array([self.weights[k] for k in keys], dtype=float)


@dataclass(frozen=True)
class NeedModel:
    """Relative need per head: ``(constant + sum(weight * column)) * lookup``."""

    name: str
    title: str
    description: str
    source: str
    assumptions: tuple[str, ...]
    constant: float
    terms: tuple[tuple[str, float], ...]
    lookup: Lookup | None
    path: str

    @property
    def columns(self) -> list[str]:
        cols = [c for c, _ in self.terms]
        return cols + ([self.lookup.column] if self.lookup else [])

    def raw(self, numeric: dict[str, np.ndarray], keys: dict[str, list[str]], size: int) -> np.ndarray:
        """Raw need of each of ``size`` areas, before normalisation."""
        value = np.full(size, self.constant, dtype=float)
        for column, weight in self.terms:
            value = value + weight * numeric[column]
        if self.lookup is not None:
            value = value * self.lookup.apply(keys[self.lookup.column])
        return value


@dataclass(frozen=True)
class ResponseModel:
    """Outcome gain per head as a concave piecewise-linear function of units per head."""

    name: str
    title: str
    description: str
    source: str
    assumptions: tuple[str, ...]
    outcome_units: str
    units_per_head: np.ndarray
    gain_per_head: np.ndarray
    modifier: Lookup | None
    path: str
    uncertainty: tuple = ()  # (("scale", Distribution),): how sure the effect size is

    @property
    def slopes(self) -> np.ndarray:
        return np.diff(self.gain_per_head) / np.diff(self.units_per_head)

    def gain(self, intensity: np.ndarray) -> np.ndarray:
        """Gain per head at ``intensity`` units per head; flat after the last point."""
        return np.interp(intensity, self.units_per_head, self.gain_per_head)


def _text(data: dict, key: str, path: str, problems: list[Problem], required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        problems.append(Problem(path, f"key '{key}': expected text, got {value!r}"))
        return ""
    return value


def _assumptions(data: dict, path: str, problems: list[Problem]) -> tuple[str, ...]:
    value = data.get("assumptions", [])
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(Problem(path, f"key 'assumptions': expected a list of text, got {value!r}"))
        return ()
    return tuple(value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and number_problem(value) is None


def _lookup(data: object, path: str, section: str, problems: list[Problem]) -> Lookup | None:
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("column"), str):
        problems.append(Problem(path, f"[{section}] needs 'column' (text) and 'values' (a table)"))
        return None
    values = data.get("values")
    if not isinstance(values, dict) or not values:
        problems.append(Problem(path, f"[{section}] 'values': expected a table of weights"))
        return None
    weights = {}
    for key, weight in values.items():
        if not _is_number(weight) or weight < 0:
            problems.append(Problem(path, f"[{section}] value for '{key}': "
                                    f"expected a number >= 0, got {weight!r}"))
            continue
        weights[category_key(key)] = float(weight)
    return Lookup(data["column"], weights)


def _read(path: Path, display: str, problems: list[Problem]) -> dict | None:
    """The model file's TOML, or None: missing (nothing added) or unreadable (problems added)."""
    try:
        return read_toml(path, display)
    except ScenarioError as exc:
        problems.extend(exc.problems)
        return None


def load_need_model(folder: Path, name: str, display: str, problems: list[Problem]) -> NeedModel | None:
    path = folder / NEED_DIR / f"{name}.toml"
    shown = f"{display}/{NEED_DIR}/{name}.toml"
    data = _read(path, shown, problems)
    if data is None:
        return None
    start = len(problems)
    formula = data.get("formula")
    if not isinstance(formula, dict):
        problems.append(Problem(shown, "missing [formula] table"))
        return None
    constant = formula.get("constant", 0.0)
    if not _is_number(constant):
        problems.append(Problem(shown, f"[formula] 'constant': expected a number, got {constant!r}"))
        constant = 0.0
    terms = []
    listed = formula.get("terms", [])
    if not isinstance(listed, list):
        problems.append(Problem(shown, "[formula] 'terms': expected a list like "
                                f"[ {{ column = \"name\", weight = number }} ], got {listed!r}"))
        listed = []
    for k, term in enumerate(listed):
        ok = (isinstance(term, dict) and isinstance(term.get("column"), str)
              and _is_number(term.get("weight")))
        if not ok:
            problems.append(Problem(shown, f"[formula] terms[{k}]: expected "
                                    f"{{ column = \"name\", weight = number }}, got {term!r}"))
            continue
        terms.append((term["column"], float(term["weight"])))
    lookup = _lookup(formula.get("lookup"), shown, "formula.lookup", problems)
    if not terms and lookup is None and constant <= 0:
        problems.append(Problem(shown, "[formula] has no terms, no lookup and no positive constant"))
    if len(problems) > start:
        return None
    return NeedModel(
        name=name, title=_text(data, "title", shown, problems, False),
        description=_text(data, "description", shown, problems, False),
        source=_text(data, "source", shown, problems, False),
        assumptions=_assumptions(data, shown, problems),
        constant=float(constant), terms=tuple(terms), lookup=lookup, path=shown)


def load_response_model(folder: Path, name: str, display: str,
                        problems: list[Problem]) -> ResponseModel | None:
    path = folder / RESPONSE_DIR / f"{name}.toml"
    shown = f"{display}/{RESPONSE_DIR}/{name}.toml"
    data = _read(path, shown, problems)
    if data is None:
        return None
    start = len(problems)
    curve = data.get("curve")
    if not isinstance(curve, dict):
        problems.append(Problem(shown, "missing [curve] table"))
        return None
    lists = [curve.get("units_per_head"), curve.get("gain_per_head")]
    if not all(isinstance(v, list) and all(_is_number(x) for x in v) for v in lists):
        problems.append(Problem(shown, "[curve] 'units_per_head' and 'gain_per_head' must be lists of numbers"))
        return None
    units, gains = (np.asarray(v, dtype=float) for v in lists)
    if units.ndim != 1 or units.shape != gains.shape or units.size < 2:
        problems.append(Problem(shown, "[curve] needs two lists of numbers of the same length (at least 2 points)"))
        return None
    if units[0] != 0 or gains[0] != 0:
        problems.append(Problem(shown, f"[curve] must start at 0 units with 0 gain, got ({units[0]:g}, {gains[0]:g})"))
    steps = np.diff(units)
    if np.any(steps <= 0):
        problems.append(Problem(shown, "[curve] 'units_per_head' must be strictly increasing"))
    else:
        with np.errstate(all="ignore"):
            slopes = np.diff(gains) / steps
        if not np.all(np.isfinite(slopes)):
            k = int(np.flatnonzero(~np.isfinite(slopes))[0])
            problems.append(Problem(shown, f"[curve] the slope between {units[k]:g} and {units[k + 1]:g} units "
                                    "is too steep to compute: put the points further apart"))
            slopes = np.zeros_like(slopes)
        if np.any(slopes < 0):
            problems.append(Problem(shown, "[curve] gains must not fall as units rise"))
        tol = 1e-12 * max(1.0, float(np.abs(slopes).max()))
        bad = np.flatnonzero(np.diff(slopes) > tol)
        if bad.size:
            k = int(bad[0])
            problems.append(Problem(
                shown, f"[curve] must be concave (slopes never rising): slope {slopes[k]:g} between "
                f"{units[k]:g} and {units[k + 1]:g} units is followed by a steeper {slopes[k + 1]:g}"))
    modifier = _lookup(data.get("modifier"), shown, "modifier", problems)
    units_text = _text(data, "outcome_units", shown, problems)
    uncertainty = _uncertainty(data.get("uncertainty"), shown, problems)
    if len(problems) > start:
        return None
    return ResponseModel(
        name=name, title=_text(data, "title", shown, problems, False),
        description=_text(data, "description", shown, problems, False),
        source=_text(data, "source", shown, problems, False),
        assumptions=_assumptions(data, shown, problems),
        outcome_units=units_text, units_per_head=units, gain_per_head=gains,
        modifier=modifier, path=shown, uncertainty=uncertainty)


def _uncertainty(table: object, shown: str, problems: list[Problem]) -> tuple:
    """``[uncertainty] scale = { distribution = ... }``: the effect size's distribution."""
    from allocator.scenario.uncertainty import parse

    if table is None:
        return ()
    if not isinstance(table, dict) or set(table) != {"scale"}:
        problems.append(Problem(shown, "[uncertainty] takes one key, 'scale' (a distribution of the "
                                f"multiplier of every gain), got {table!r}"))
        return ()
    try:
        return (("scale", parse(table["scale"], shown, "scale")),)
    except ScenarioError as exc:
        problems.extend(exc.problems)
        return ()
