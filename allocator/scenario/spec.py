"""What a scenario is, once read and checked: the frozen `Scenario` and its `Gradient`.

Everything the LP and the reports need, as plain arrays (areas x services); the
names of the settings a manifest may give. Reading and checking files is `loader`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocator.scenario.checks import MANIFEST  # noqa: F401  (one name for the manifest file)
from allocator.scenario.models import NeedModel, ResponseModel

if TYPE_CHECKING:
    from allocator.scenario.options import OptionSpec

OBJECTIVES = ("health-gain", "fair-share", "equity-weighted", "level-up", "maximin")
PROPORTIONALITY = ("monotone", "proportional", "none")
BUDGET_MODES = ("exact", "at-most")
AREA_COLUMNS = ["area_id", "area_name", "population"]
SERVICE_COLUMNS = ["service_id", "service_name", "unit_cost_gbp", "target_population",
                   "floor_units_per_head", "cap_units_per_head", "need_model",
                   "response_model", "life_course_stage"]
SPEND_COLUMNS = ["area_id", "service_id", "spend_gbp"]


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
    cost_index: np.ndarray  # (A,)
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

    @property
    def n_areas(self) -> int:
        return len(self.area_ids)

    @property
    def n_services(self) -> int:
        return len(self.service_ids)

    @property
    def unit_spend(self) -> np.ndarray:
        """(A, S) cost of one unit per head of the target population, in GBP."""
        return self.unit_cost[None, :] * self.cost_index[:, None] * self.target_population

    @property
    def gain_weight(self) -> np.ndarray:
        """(A, S) people x relative need x effectiveness: the weight of g_s(i) in the gain."""
        return self.target_population * self.need * self.modifier

    @property
    def is_locked(self) -> np.ndarray:
        return np.isfinite(self.locked)

    @property
    def fair_share(self) -> np.ndarray:
        """(A, S) need-weighted target spend: budget x service share x area's weighted share."""
        weighted = self.cost_index[:, None] * self.target_population * self.need
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
        changed = dataclasses.replace(self, **{k: v for k, v in changes.items() if k in fields})
        if named:
            from allocator.scenario.parameters import apply

            changed = apply(changed, named, where="Scenario.with_", check=False)
        return changed


