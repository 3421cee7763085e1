"""What a scenario is, once read and checked: the frozen `Scenario` and its `Gradient`.

Everything the LP and the reports need, as plain arrays (areas x services); the
names of the settings a manifest may give. Reading and checking files is `loader`.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocator.choices import BUDGET_MODES, OBJECTIVES, PROPORTIONALITY  # noqa: F401  (re-exported)
from allocator.errors import Problem, ScenarioError
from allocator.scenario.checks import MANIFEST  # noqa: F401  (one name for the manifest file)
from allocator.scenario.files import number_problem
from allocator.scenario.limits import MAX_NUMBER
from allocator.scenario.models import NeedModel, ResponseModel

if TYPE_CHECKING:
    from allocator.scenario.budget import Plan, ServiceGroup, Stream, Transfer
    from allocator.scenario.options import OptionSpec
    from allocator.scenario.population import Dimension

AREA_COLUMNS = ["area_id", "area_name", "population"]
SERVICE_COLUMNS = ["service_id", "service_name", "unit_cost_gbp", "target_population",
                   "floor_units_per_head", "cap_units_per_head", "need_model",
                   "response_model", "life_course_stage"]
SPEND_COLUMNS = ["area_id", "service_id", "spend_gbp"]


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Gradient:
    """How the social gradient is measured: outcome, deprivation ranking, groups."""

    outcome: str
    outcome_label: str
    outcome_units: str
    higher_is_better: bool
    deprivation: str
    most_deprived: str  # "high" (a score) or "low" (a rank)
    quantiles: int
    group_columns: tuple[str, ...]


@dataclass(frozen=True)
class Scenario:
    """Everything the LP and the reports need, validated, as arrays (areas x services)."""

    name: str
    path: str
    description: str
    attribution: str
    budget_gbp: float
    budget_mode: str
    objective: str
    proportionality: str
    min_slope: np.ndarray  # (S,) units per head per unit of relative need
    tolerance: float
    pace: tuple[float, float] | None  # (max_decrease, max_increase) as fractions
    gradient: Gradient
    areas: pd.DataFrame  # as read (text), one row per area
    services: pd.DataFrame  # as read (text), one row per service
    area_ids: tuple[str, ...]
    area_names: tuple[str, ...]
    service_ids: tuple[str, ...]
    service_names: tuple[str, ...]
    population: np.ndarray  # (A,)
    target_population: np.ndarray  # (A, S)
    cost_index: np.ndarray  # (A, S): the areas' cost_index, or a service's own column (cost_index_column)
    unit_cost: np.ndarray  # (S,)
    floor: np.ndarray  # (S,) units per head
    cap: np.ndarray  # (S,) units per head, inf = no cap
    need: np.ndarray  # (A, S) relative need per head, target-population-weighted mean 1
    modifier: np.ndarray  # (A, S) response effectiveness
    service_share: np.ndarray  # (S,) shares of the budget behind fair-share targets
    baseline: np.ndarray | None  # (A, S) spend last year
    locked: np.ndarray  # (A, S) fixed spend, NaN where free
    deprivation: np.ndarray  # (A,) the ranking column as numbers
    outcome: np.ndarray  # (A,) baseline outcome
    need_models: tuple[NeedModel, ...]  # per service
    response_models: tuple[ResponseModel, ...]  # per service
    inputs: tuple[str, ...]  # every file read, for the run manifest
    options: tuple[OptionSpec, ...] = ()  # [[option]] blocks: named variants to compare
    epsilon: float = 1.0  # inequality aversion of the equity-weighted objective
    sii_reduction: float | None = None  # the SII must fall by at least this (outcome units)
    gap_reduction: float | None = None  # the gap most vs least deprived must fall by at least this
    worst_off_at_least: float | None = None  # every deprivation group's mean outcome must reach this
    levelled_at_least: float | None = None  # the level-up measure must reach this (level units)
    uncertain: tuple = ()  # ((parameter, Distribution), ...) from [[uncertain]] blocks, for Monte Carlo
    service_groups: tuple[ServiceGroup, ...] = ()  # [[service_group]] blocks: totals held within bounds
    streams: tuple[Stream, ...] = ()  # funding streams: amounts a year, what each may fund
    plan: Plan | None = None  # [plan]: several years solved as one LP
    transfer: Transfer | None = None  # GBP moved from one service group to another
    year: int = 0  # the year of the plan this scenario stands for (0-based): streams' amounts
    disaggregation: tuple[Dimension, ...] = ()  # [disaggregation]: the people of each area by group

    @property
    def n_areas(self) -> int:
        return len(self.area_ids)

    @property
    def n_services(self) -> int:
        return len(self.service_ids)

    # computed once per scenario (a sweep's point reads them a dozen times), read-only so that
    # nobody changes them under the next reader; `with_` makes a new scenario, with none cached
    @functools.cached_property
    def unit_spend(self) -> np.ndarray:
        """(A, S) cost of one unit per head of the target population, in GBP."""
        return _frozen(self.unit_cost[None, :] * self.cost_index * self.target_population)

    @functools.cached_property
    def gain_weight(self) -> np.ndarray:
        """(A, S) people x relative need x effectiveness: the weight of g_s(i) in the gain."""
        return _frozen(self.target_population * self.need * self.modifier)

    @functools.cached_property
    def is_locked(self) -> np.ndarray:
        return _frozen(np.isfinite(self.locked))

    @property
    def fair_share(self) -> np.ndarray:
        """(A, S) need-weighted target spend: budget x service share x area's weighted share."""
        weighted = self.cost_index * self.target_population * self.need
        totals = weighted.sum(axis=0)
        share = np.divide(weighted, totals, out=np.zeros_like(weighted), where=totals > 0)
        return self.budget_gbp * self.service_share[None, :] * share

    def comparator_spend(self) -> np.ndarray:
        """(A, S) spend the allocation is compared with: the baseline, or the same budget flat.

        Flat: every area at the same units per head of each service, the budget split
        across services by ``service_share``.
        """
        if self.baseline is not None:
            return self.baseline
        unit = self.unit_spend
        totals = unit.sum(axis=0)
        share = np.divide(unit, totals, out=np.zeros_like(unit), where=totals > 0)
        return self.budget_gbp * self.service_share[None, :] * share

    def line_gains(self, spend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(intensity, gain) per line from spend alone, with the response curves."""
        unit = self.unit_spend
        intensity = np.divide(spend, unit, out=np.zeros_like(spend), where=unit > 0)
        gain = np.zeros_like(spend)
        weight = self.gain_weight
        for s, model in enumerate(self.response_models):
            gain[:, s] = weight[:, s] * model.gain(intensity[:, s])
        return intensity, gain

    def with_(self, **changes) -> "Scenario":
        """A copy with some settings changed; the scenario itself never changes.

        Keys are the scenario's fields (``budget_gbp``, ``objective``, ``floor`` ...) or
        the names of `allocator.scenario.parameters` that need no dot (``budget``,
        ``floor_scale``, ``cost_scale``, ``response_scale``, ``epsilon`` ...); dotted
        ones (``floor.<service>``) go through `allocator.scenario.parameters.apply`.

        Examples
        --------
        >>> import allocator
        >>> s = allocator.load("scenarios/quickstart")
        >>> s.with_(budget=120e6, objective="fair-share").budget_gbp
        120000000.0
        >>> float(s.with_(cost_scale=2).unit_cost[0] / s.unit_cost[0])
        2.0
        """
        fields = {f.name for f in dataclasses.fields(self)}
        named = {k: v for k, v in changes.items() if k not in fields}
        direct = _checked(self, {k: v for k, v in changes.items() if k in fields})
        changed = dataclasses.replace(self, **direct)
        if direct.get("pace") is not None and changed.baseline is None:
            raise ScenarioError([Problem(WITH, "'pace': a pace of change limits change from last year's "
                                         "spend, and this scenario has no baseline: give baseline= too, or "
                                         "a baseline table in the manifest")])
        bad = np.flatnonzero(changed.cap < changed.floor)
        if bad.size and ("cap" in direct or "floor" in direct):
            j = int(bad[0])
            raise ScenarioError([Problem(WITH, f"the cap of {changed.service_ids[j]} ({changed.cap[j]:g} units "
                                         f"per head) is below its floor ({changed.floor[j]:g})")])
        if named:
            from allocator.scenario.parameters import apply

            changed = apply(changed, named, where="Scenario.with_", check=False)
        return changed




WITH = "Scenario.with_"
_CHOICES = {"objective": OBJECTIVES, "proportionality": PROPORTIONALITY, "budget_mode": BUDGET_MODES}
_TEXT = ("name", "path", "description", "attribution")
# field: (lowest, lowest excluded, highest (excluded), None allowed)
_SCALARS = {"budget_gbp": (0, True, None, False), "tolerance": (0, False, 1, False),
            "epsilon": (0, False, None, False), "sii_reduction": (0, False, None, True),
            "gap_reduction": (0, False, None, True), "worst_off_at_least": (None, False, None, True),
            "levelled_at_least": (None, False, None, True)}
# field: (shape: A areas, S services, lowest, lowest excluded, what else is allowed)
_ARRAYS = {"min_slope": ("S", 0, False, ""), "floor": ("S", 0, False, ""), "cap": ("S", 0, False, "inf"),
           "unit_cost": ("S", 0, True, ""), "service_share": ("S", 0, False, ""),
           "population": ("A", 0, True, ""), "cost_index": ("AS", 0, True, ""),
           "deprivation": ("A", None, False, ""), "outcome": ("A", None, False, ""),
           "target_population": ("AS", 0, False, ""), "need": ("AS", 0, True, ""),
           "modifier": ("AS", 0, False, ""), "baseline": ("AS", 0, False, "None"),
           "locked": ("AS", 0, False, "nan")}


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _checked(scenario: Scenario, changes: dict) -> dict:
    """``changes`` to fields of ``scenario``, checked as the manifest's values are; arrays as floats.

    A value outside a field's choices or range raises `ScenarioError` (never solved as something else).
    """
    problems, out = [], dict(changes)

    def bad(key: str, text: str) -> None:
        problems.append(Problem(WITH, f"'{key}': {text}"))

    for key, value in changes.items():
        if key in _CHOICES and (not isinstance(value, str) or value not in _CHOICES[key]):
            bad(key, f"expected one of {', '.join(_CHOICES[key])}, got {value!r}")
        elif key in _TEXT and not isinstance(value, str):
            bad(key, f"expected text, got {value!r}")
        elif key in _SCALARS and not (value is None and _SCALARS[key][3]):
            low, low_open, high, _ = _SCALARS[key]
            reason = (f"expected a number, got {value!r}" if not _is_number(value)
                      else number_problem(float(value)))
            if reason is None and low is not None and (value < low or (low_open and value <= low)):
                reason = f"expected a number {'>' if low_open else '>='} {low}, got {value!r}"
            if reason is None and high is not None and value >= high:
                reason = f"expected a number below {high}, got {value!r}"
            if reason:
                bad(key, reason)
            else:
                out[key] = float(value)
        elif key in _ARRAYS:
            out[key] = _array(scenario, key, value, bad)
        elif key == "pace" and value is not None:
            ok = (isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_number(v) for v in value)
                  and all(number_problem(float(v)) is None and v >= 0 for v in value) and value[0] <= 1)
            if not ok:
                bad(key, f"expected None or (max_decrease, max_increase), fractions >= 0 (the "
                    f"decrease at most 1), got {value!r}")
            else:
                out[key] = (float(value[0]), float(value[1]))
        elif key == "gradient":
            _gradient(scenario, value, bad)
    if problems:
        raise ScenarioError(problems)
    return out


def _array(scenario: Scenario, key: str, value, bad):
    """``value`` as a float array of the field's shape and range, or a problem (and None)."""
    shape, low, low_open, also = _ARRAYS[key]
    if value is None and also == "None":
        return None
    size = {"A": (scenario.n_areas,), "S": (scenario.n_services,),
            "AS": (scenario.n_areas, scenario.n_services)}[shape]
    try:
        array = np.array(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        bad(key, f"expected an array of numbers of shape {size}, got {type(value).__name__}")
        return None
    if array.shape != size:
        bad(key, f"expected an array of shape {size}, got shape {array.shape}")
        return None
    ok = np.isfinite(array) | (np.isnan(array) if also == "nan" else False) | (
        (array == np.inf) if also == "inf" else False)
    with np.errstate(invalid="ignore"):
        ok &= ~(np.isfinite(array) & (np.abs(array) > MAX_NUMBER))
        if low is not None:
            ok &= np.isnan(array) | ((array > low) if low_open else (array >= low))
    if not ok.all():
        pos = np.unravel_index(int(np.flatnonzero(~ok.ravel())[0]), size)
        limit = f"{'>' if low_open else '>='} {low}" if low is not None else "finite"
        bad(key, f"expected numbers {limit} (at most {MAX_NUMBER:g} in size), got {float(array[pos])!r} "
            f"at {tuple(int(p) for p in pos)}")
        return None
    return array


def _gradient(scenario: Scenario, value, bad) -> None:
    if not isinstance(value, Gradient):
        bad("gradient", f"expected a Gradient, got {value!r}")
        return
    q = value.quantiles
    if not isinstance(q, (int, np.integer)) or isinstance(q, bool) or not 2 <= q <= scenario.n_areas:
        bad("gradient", f"quantiles: expected a whole number from 2 to the number of areas "
            f"({scenario.n_areas:,}), got {q!r}")
    if value.most_deprived not in ("high", "low"):
        bad("gradient", f"most_deprived: expected high or low, got {value.most_deprived!r}")
    if not isinstance(value.higher_is_better, (bool, np.bool_)):
        bad("gradient", f"higher_is_better: expected true or false, got {value.higher_is_better!r}")
