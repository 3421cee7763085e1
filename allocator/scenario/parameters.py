"""Numeric settings a sweep can vary, by name, and how to set them on a scenario.

Sweeps, Monte Carlo draws and ``allocator sweep --vary`` all name what they
change with the same dotted names::

    budget                          total budget, GBP
    epsilon, tolerance              objective / proportionality settings
    sii_reduction, gap_reduction    equity constraints (outcome units)
    worst_off_at_least              floor under every deprivation group's outcome
    min_slope, min_slope.<service>  minimum slope of intensity on need (units per head)
    pace.max_decrease, pace.max_increase   pace-of-change limits (fractions)
    floor.<service>, cap.<service>  universal floor / cap (units per head)
    floor_scale                     every floor times this (a floor.<service> also given wins)
    unit_cost.<service>             GBP per unit
    cost_scale                      every unit cost times this (likewise unit_cost.<service>)
    need.<model>.<column>           weight of a column in a need formula
    need.<model>.constant           the formula's constant
    response.<model>.scale          a response curve's gains times this (effect size)
    response_scale                  every response curve's gains times this
    group.<name>.min, group.<name>.max   a service group's least / most total, GBP
    transfer.<from>_to_<to>         GBP moved from one service group to another, against
                                    last year's split at this year's budget (both fixed)

`apply` returns a new scenario (the original is never changed) and raises
`ScenarioError` naming the parameter, the value and what was expected.

Examples
--------
>>> from allocator.scenario.parameters import split
>>> split("floor.stop_smoking")
('floor', 'stop_smoking')
>>> split("budget")
('budget', '')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.errors import Problem, ScenarioError
from allocator.scenario.checks import check_budget
from allocator.scenario.limits import MAX_NUMBER
from allocator.scenario.models import category_key

SCALARS = {"budget": "budget_gbp", "epsilon": "epsilon", "tolerance": "tolerance",
           "sii_reduction": "sii_reduction", "gap_reduction": "gap_reduction",
           "worst_off_at_least": "worst_off_at_least"}
PER_SERVICE = ("floor", "cap", "unit_cost", "min_slope")
SCALES = ("floor_scale", "cost_scale", "response_scale")
HELP = ("budget, epsilon, tolerance, sii_reduction, gap_reduction, worst_off_at_least, "
        "min_slope, min_slope.<service>, pace.max_decrease, pace.max_increase, floor.<service>, "
        "cap.<service>, floor_scale, unit_cost.<service>, cost_scale, need.<model>.<column>, "
        "need.<model>.constant, response.<model>.scale, response_scale, group.<name>.min, "
        "group.<name>.max, transfer.<from>_to_<to>")


@dataclass(frozen=True)
class Parameter:
    """One named numeric setting, checked against a scenario."""

    name: str
    kind: str  # the part before the first dot
    target: str  # service, model or '' for scalars
    column: str = ""  # need-model column, or 'constant'
    units: str = ""


def split(name: str) -> tuple[str, str]:
    """``'floor.stop_smoking'`` -> ``('floor', 'stop_smoking')``; no dot -> ``(name, '')``."""
    kind, _, rest = name.partition(".")
    return kind, rest


def _bad(name: str, text: str, where: str = "parameter") -> ScenarioError:
    return ScenarioError([Problem(where, f"{name!r}: {text}")])


def resolve(scenario, name: str, where: str = "parameter") -> Parameter:
    """The parameter called ``name`` in ``scenario``, or a `ScenarioError` saying what exists."""
    if not isinstance(name, str):
        raise _bad(_short(name), f"expected the name of a parameter (text; known: {HELP})", where)
    kind, rest = split(name.strip())
    services = scenario.service_ids
    if kind in SCALARS and not rest:
        units = {"budget": "GBP", "epsilon": "", "tolerance": "fraction"}.get(
            kind, scenario.gradient.outcome_units)
        return Parameter(name, kind, "", units=units)
    if kind in SCALES and not rest:
        return Parameter(name, kind, "", units="multiplier")
    if kind == "min_slope" and not rest:
        return Parameter(name, kind, "", units="units per head per unit of need")
    if kind in PER_SERVICE:
        if rest not in services:
            raise _bad(name, f"unknown service '{rest}' (known: {', '.join(services)})", where)
        units = "GBP per unit" if kind == "unit_cost" else "units per head"
        return Parameter(name, kind, rest, units=units)
    if kind == "pace":
        if rest not in ("max_decrease", "max_increase"):
            raise _bad(name, "expected pace.max_decrease or pace.max_increase", where)
        if scenario.pace is None:
            raise _bad(name, "the scenario has no [pace_of_change] section to vary", where)
        return Parameter(name, kind, rest, units="fraction")
    if kind == "need":
        model, _, column = rest.partition(".")
        known = {m.name: m for m in scenario.need_models}
        if model not in known:
            raise _bad(name, f"unknown need model '{model}' (used by this scenario: "
                       f"{', '.join(sorted(known))})", where)
        columns = [c for c, _ in known[model].terms]
        if column != "constant" and column not in columns:
            raise _bad(name, f"need model '{model}' has no term '{column}' (its terms: "
                       f"{', '.join(columns + ['constant'])})", where)
        return Parameter(name, kind, model, column, units="weight")
    if kind == "response":
        model, _, what = rest.partition(".")
        known = {m.name for m in scenario.response_models}
        if model not in known:
            raise _bad(name, f"unknown response model '{model}' (used by this scenario: "
                       f"{', '.join(sorted(known))})", where)
        if what != "scale":
            raise _bad(name, f"expected response.{model}.scale", where)
        return Parameter(name, kind, model, units="multiplier")
    if kind in ("group", "transfer"):
        return _money_parameter(scenario, name, kind, rest, where)
    raise _bad(name, f"unknown parameter (known: {HELP})", where)


def _money_parameter(scenario, name: str, kind: str, rest: str, where: str) -> Parameter:
    """group.<name>.min|max and transfer.<from>_to_<to>, against the scenario's service groups."""
    groups = [g.name for g in scenario.service_groups]
    known = ", ".join(groups) or "none: add [[service_group]] blocks"
    if kind == "group":
        group, _, bound = rest.rpartition(".")
        if group not in groups or bound not in ("min", "max"):
            raise _bad(name, f"expected group.<name>.min or group.<name>.max for a service group (known: "
                       f"{known})", where)
        return Parameter(name, kind, group, bound, units="GBP")
    for k in range(len(rest)):
        if rest.startswith("_to_", k) and rest[:k] in groups and rest[k + 4:] in groups and rest[:k] != rest[k + 4:]:
            return Parameter(name, kind, rest[:k], rest[k + 4:], units="GBP")
    raise _bad(name, f"expected transfer.<from>_to_<to> naming two service groups (known: {known})", where)


def base_value(scenario, name: str) -> float:
    """The value ``name`` has in ``scenario`` as loaded (scales: 1)."""
    p = resolve(scenario, name)
    if p.kind in SCALARS:
        value = getattr(scenario, SCALARS[p.kind])
        return float("nan") if value is None else float(value)
    if p.kind in SCALES or p.kind == "response":
        return 1.0
    if p.kind == "min_slope" and not p.target:
        slopes = np.unique(scenario.min_slope)
        return float(slopes[0]) if slopes.size == 1 else float("nan")
    if p.kind in PER_SERVICE:
        array = {"floor": scenario.floor, "cap": scenario.cap, "unit_cost": scenario.unit_cost,
                 "min_slope": scenario.min_slope}[p.kind]
        return float(array[scenario.service_ids.index(p.target)])
    if p.kind == "pace":
        return float(scenario.pace[0 if p.target == "max_decrease" else 1])
    if p.kind == "need":
        model = next(m for m in scenario.need_models if m.name == p.target)
        return float(model.constant) if p.column == "constant" else float(dict(model.terms)[p.column])
    if p.kind == "group":
        group = next(g for g in scenario.service_groups if g.name == p.target)
        low, high = group.bounds(scenario.budget_gbp)
        value = low if p.column == "min" else high
        return float(value) if np.isfinite(value) and (value > 0 or p.column == "max") else float("nan")
    if p.kind == "transfer":
        t = scenario.transfer
        return float(t.amount) if t is not None and (t.source, t.target) == (p.target, p.column) else 0.0
    raise AssertionError(name)


def check_value(p: Parameter, value: float, where: str = "parameter") -> float:
    """``value`` as a float if it can be ``p``'s value in any scenario, else `ScenarioError`."""
    if isinstance(value, (bool, np.bool_)):
        raise _bad(p.name, f"expected a number, got {value!r}", where)
    try:
        value = float(value)
    except OverflowError:
        raise _bad(p.name, f"expected a number of at most {MAX_NUMBER:g} in size, got one too large "
                   "for a float", where) from None
    except (TypeError, ValueError):
        raise _bad(p.name, f"expected a number, got {_short(value)}", where) from None
    if not np.isfinite(value) and not (p.kind == "cap" and value == np.inf):
        raise _bad(p.name, f"expected a finite number, got {value!r}", where)
    if np.isfinite(value) and abs(value) > MAX_NUMBER:
        raise _bad(p.name, f"expected a number of at most {MAX_NUMBER:g} in size, got {value:g}", where)
    positive = {"budget", "unit_cost"}
    at_least_zero = {"epsilon", "floor", "cap", "min_slope", "pace", "floor_scale", "cost_scale",
                     "response_scale", "response", "sii_reduction", "gap_reduction", "group"}
    if p.kind in positive and value <= 0:
        raise _bad(p.name, f"expected a number > 0, got {value:g}", where)
    if p.kind in at_least_zero and value < 0:
        raise _bad(p.name, f"expected a number >= 0, got {value:g}", where)
    if p.kind == "cost_scale" and value <= 0:
        raise _bad(p.name, f"expected a number > 0, got {value:g}", where)
    if p.kind == "tolerance" and not 0 <= value < 1:
        raise _bad(p.name, f"expected a fraction in [0, 1), got {value:g}", where)
    if p.kind == "pace" and p.target == "max_decrease" and value > 1:
        raise _bad(p.name, f"expected a fraction in [0, 1], got {value:g}", where)
    return value


def _short(value: object) -> str:
    """``repr(value)``, cut short (a 5,000-digit number is not shown)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def apply(scenario, values: Mapping[str, float], where: str = "parameter", *, check: bool = True):
    """``scenario`` with every named parameter set to its value; raises `ScenarioError`.

    ``check`` also runs the money checks of `allocator.scenario.check_budget` (a budget
    below the floors, say), which raise `ScenarioError` too.

    Examples
    --------
    >>> import allocator
    >>> s = allocator.load("scenarios/quickstart")
    >>> apply(s, {"budget": 120e6, "floor_scale": 1.1}).budget_gbp
    120000000.0
    """
    params = [(resolve(scenario, name, where), value) for name, value in values.items()]
    values = [(p, check_value(p, raw, where)) for p, raw in params]
    # scales first: a service's own floor or unit cost, if also given, is taken as it is
    scales = {"floor_scale": 1.0, "cost_scale": 1.0}
    scales.update({p.kind: value for p, value in values if p.kind in scales})
    changes: dict = {}
    floor, cap = scenario.floor * scales["floor_scale"], scenario.cap.copy()
    unit_cost, slopes = scenario.unit_cost * scales["cost_scale"], scenario.min_slope.copy()
    pace = list(scenario.pace) if scenario.pace is not None else None
    need_edits: dict[str, dict[str, float]] = {}
    groups = {g.name: g for g in scenario.service_groups}
    response_scale = np.ones(scenario.n_services)
    index = {sid: j for j, sid in enumerate(scenario.service_ids)}
    for p, value in values:
        if p.kind in SCALARS:
            changes[SCALARS[p.kind]] = value
        elif p.kind == "response_scale":
            response_scale *= value
        elif p.kind == "response":
            for j, model in enumerate(scenario.response_models):
                if model.name == p.target:
                    response_scale[j] *= value
        elif p.kind == "min_slope" and not p.target:
            slopes[:] = value
        elif p.kind in PER_SERVICE:
            {"floor": floor, "cap": cap, "unit_cost": unit_cost, "min_slope": slopes}[p.kind][
                index[p.target]] = value
        elif p.kind == "pace":
            pace[0 if p.target == "max_decrease" else 1] = value
        elif p.kind == "need":
            need_edits.setdefault(p.target, {})[p.column] = value
        elif p.kind == "group":
            share = "min_share" if p.column == "min" else "max_share"
            groups[p.target] = dataclasses.replace(groups[p.target], **{f"{p.column}_gbp": value, share: None})
        elif p.kind == "transfer":
            from allocator.scenario.budget import Transfer

            changes["transfer"] = Transfer(p.target, p.column, value)
    if groups:
        changes["service_groups"] = tuple(groups.values())
    changes.update(floor=floor, cap=cap, unit_cost=unit_cost, min_slope=slopes)
    if pace is not None:
        changes["pace"] = tuple(pace)
    if np.any(response_scale != 1.0):
        changes["response_models"] = tuple(
            dataclasses.replace(m, gain_per_head=m.gain_per_head * k) if k != 1.0 else m
            for m, k in zip(scenario.response_models, response_scale))
    if need_edits:
        changes.update(_need(scenario, need_edits, where))
    changed = dataclasses.replace(scenario, **changes)
    bad = np.flatnonzero(changed.cap < changed.floor)
    if bad.size:
        j = int(bad[0])
        raise ScenarioError([Problem(where, f"the cap of {scenario.service_ids[j]} ({changed.cap[j]:g} "
                                     f"units per head) is below its floor ({changed.floor[j]:g})")])
    if check:
        check_budget(changed)
    return changed


def _need(scenario, edits: dict[str, dict[str, float]], where: str) -> dict:
    """New need models and the (A, S) need matrix they give, normalised as the loader does."""
    models = list(scenario.need_models)
    need = scenario.need.copy()
    for name, edit in edits.items():
        old = next(m for m in models if m.name == name)
        terms = tuple((c, edit.get(c, w)) for c, w in old.terms)
        new = dataclasses.replace(old, terms=terms, constant=edit.get("constant", old.constant))
        numeric = {c: pd.to_numeric(scenario.areas[c], errors="coerce").to_numpy(float) for c, _ in terms}
        keys = {}
        if new.lookup is not None:
            keys[new.lookup.column] = [category_key(v) for v in scenario.areas[new.lookup.column]]
        raw = new.raw(numeric, keys, scenario.n_areas)
        if not np.all(np.isfinite(raw)) or np.any(raw <= 0):
            pos = int(np.flatnonzero(~(np.isfinite(raw) & (raw > 0)))[0])
            shown = ", ".join(f"{c} = {v:g}" for c, v in edit.items())
            raise ScenarioError([Problem(where, f"need model '{name}' with {shown} gives raw need "
                                         f"{raw[pos]:g} for area '{scenario.area_ids[pos]}': need must be "
                                         "> 0 in every area")])
        for s, model in enumerate(models):
            if model.name != name:
                continue
            models[s] = new
            weight = scenario.target_population[:, s]
            if weight.sum() > 0:
                need[:, s] = raw / (np.dot(raw, weight) / weight.sum())
    return {"need_models": tuple(models), "need": need}
