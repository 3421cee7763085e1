"""Hypothesis strategies for scenario folders, and an independent reading of them.

`scenario_specs` draws a `Spec`: every number a scenario folder holds (areas,
services, need and response models, baseline, locked lines, budget, settings),
as plain Python/numpy data.  `write` turns a spec into a folder on disk in the
format of docs/scenario-format.md; `scenario_folders` does both.

Budgets are feasible by construction.  Per service, two intensity vectors ``lo``
and ``hi`` are built that both meet the floor, the cap and the proportionality
rule on the free lines (monotone with the drawn minimum slope, or proportional
with some ``k_s``); every convex combination ``x(lam)`` does too.  The baseline is
``x(lam0)`` perturbed line by line, the pace-of-change limits are widened just
enough to contain ``x(lam0)``, and the budget is the total of some ``x(lam)``
inside the pace window.  That ``x(lam)`` is kept as ``Spec.witness``.

The functions under "independent model data" (`need`, `unit_spend`, `fair_share`,
...) compute the model's data from a spec with numpy alone, from
docs/scenario-format.md and DESIGN.md, never through allocator; the differential
test builds its own LP from them.
"""

from __future__ import annotations

import atexit
import csv
import dataclasses
import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import assume, event
from hypothesis import strategies as st

# Every property test's max_examples is multiplied by this: ALLOCATOR_TEST_SCALE=10 for a
# long soak, 0.2 for a quick pass.
SCALE = float(os.environ.get("ALLOCATOR_TEST_SCALE", "1"))


def examples(n: int) -> int:
    """``n`` Hypothesis examples, times $ALLOCATOR_TEST_SCALE."""
    return max(1, round(n * SCALE))


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class NeedSpec:
    constant: float
    terms: tuple[tuple[str, float], ...]
    lookup: tuple[str, dict[str, float]] | None  # (column, {key: weight})


@dataclass(frozen=True)
class ResponseSpec:
    units: tuple[float, ...]  # starts at 0, strictly increasing
    gains: tuple[float, ...]  # starts at 0, concave, non-decreasing
    modifier: tuple[str, dict[str, float]] | None


@dataclass(frozen=True)
class ServiceSpec:
    service_id: str
    unit_cost: float
    target: str  # areas column
    floor: float
    cap: float  # inf = blank
    need_model: str
    response_model: str
    min_slope: float | None  # per-service override (None = blank cell / no column)
    budget_share: float | None


@dataclass(frozen=True, eq=False)
class Spec:
    """Everything a generated scenario folder holds."""

    area_ids: tuple[str, ...]
    columns: dict  # areas columns after area_id/area_name: name -> list of values
    services: tuple[ServiceSpec, ...]
    need_models: dict  # name -> NeedSpec
    response_models: dict  # name -> ResponseSpec
    budget: float
    mode: str  # exact | at-most
    objective: str  # health-gain | fair-share
    proportionality: str  # monotone | proportional | none
    min_slope: float  # the [proportionality] default
    slope_column: bool  # write services.min_slope
    tolerance: float
    pace: tuple[float, float] | None
    baseline: np.ndarray | None  # (A, S)
    locked_rows: tuple[tuple[str, str, float | None], ...]
    share_column: bool  # write services.budget_share
    quantiles: int
    most_deprived: str
    group_columns: tuple[str, ...]
    witness: np.ndarray  # (A, S) a feasible spend, total = budget (exact mode)

    @property
    def n_areas(self) -> int:
        return len(self.area_ids)

    @property
    def n_services(self) -> int:
        return len(self.services)

    def replace(self, **changes) -> "Spec":
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------- independent model data


def column(spec: Spec, name: str) -> np.ndarray:
    return np.array([float(v) for v in spec.columns[name]])


def target_population(spec: Spec) -> np.ndarray:
    """(A, S) people each service serves in each area."""
    return np.stack([column(spec, s.target) for s in spec.services], axis=1)


def cost_index(spec: Spec) -> np.ndarray:
    if "cost_index" in spec.columns:
        return column(spec, "cost_index")
    return np.ones(spec.n_areas)


def unit_spend(spec: Spec) -> np.ndarray:
    """(A, S) GBP for one unit per head of the target population: c_s m_a P_as."""
    cost = np.array([s.unit_cost for s in spec.services])
    return cost[None, :] * cost_index(spec)[:, None] * target_population(spec)


def _key(value) -> str:
    number = float(value)
    return str(int(number)) if number == int(number) else str(value)


def need(spec: Spec) -> np.ndarray:
    """(A, S) relative need per head: raw need over its target-population-weighted mean."""
    target = target_population(spec)
    out = np.ones((spec.n_areas, spec.n_services))
    for s, service in enumerate(spec.services):
        model = spec.need_models[service.need_model]
        raw = np.full(spec.n_areas, model.constant)
        for col, weight in model.terms:
            raw = raw + weight * column(spec, col)
        if model.lookup is not None:
            col, weights = model.lookup
            raw = raw * np.array([weights[_key(v)] for v in spec.columns[col]])
        people = target[:, s]
        if people.sum() > 0:
            out[:, s] = raw / ((raw * people).sum() / people.sum())
    return out


def modifier(spec: Spec) -> np.ndarray:
    out = np.ones((spec.n_areas, spec.n_services))
    for s, service in enumerate(spec.services):
        mod = spec.response_models[service.response_model].modifier
        if mod is not None:
            col, weights = mod
            out[:, s] = [weights[_key(v)] for v in spec.columns[col]]
    return out


def gain_weight(spec: Spec) -> np.ndarray:
    """(A, S) P_as n_as modifier_a: the weight of g_s(i) in the health gain."""
    return target_population(spec) * need(spec) * modifier(spec)


def locked(spec: Spec) -> np.ndarray:
    """(A, S) locked spend, NaN where free (rows applied in file order)."""
    out = np.full((spec.n_areas, spec.n_services), np.nan)
    a_index = {a: i for i, a in enumerate(spec.area_ids)}
    s_index = {s.service_id: j for j, s in enumerate(spec.services)}
    for a, s, amount in spec.locked_rows:
        rows = range(spec.n_areas) if a == "*" else [a_index[a]]
        cols = range(spec.n_services) if s == "*" else [s_index[s]]
        for i in rows:
            for j in cols:
                out[i, j] = spec.baseline[i, j] if amount is None else amount
    return out


def free_lines(spec: Spec) -> np.ndarray:
    """(A, S) lines the optimiser decides: not locked, somebody to serve."""
    return ~np.isfinite(locked(spec)) & (unit_spend(spec) > 0)


def service_share(spec: Spec) -> np.ndarray:
    if spec.share_column:
        share = np.array([s.budget_share for s in spec.services])
    elif spec.baseline is not None:
        share = spec.baseline.sum(axis=0)
    else:
        floors = np.array([s.floor for s in spec.services])
        share = (unit_spend(spec) * floors[None, :]).sum(axis=0)
    return share / share.sum()


def fair_share(spec: Spec) -> np.ndarray:
    """(A, S) target spend T_as = B share_s W_as / sum_a W_as, W = cost index x people x need."""
    weighted = cost_index(spec)[:, None] * target_population(spec) * need(spec)
    totals = weighted.sum(axis=0)
    share = np.divide(weighted, totals, out=np.zeros_like(weighted), where=totals > 0)
    return spec.budget * service_share(spec)[None, :] * share


def response_gain(spec: Spec, intensity: np.ndarray) -> np.ndarray:
    """(A, S) g_s(i_as) per head, flat after the last point."""
    out = np.zeros_like(intensity, dtype=float)
    for s, service in enumerate(spec.services):
        model = spec.response_models[service.response_model]
        out[:, s] = np.interp(intensity[:, s], model.units, model.gains)
    return out


# ------------------------------------------------------------------ writing to disk


def _num(x: float) -> str:
    if float(x) == int(x) and abs(x) < 1e15:
        return str(int(x)) if isinstance(x, (int, np.integer)) else repr(float(x))
    return repr(float(x))


def _toml_table(values: dict[str, float]) -> str:
    return "{ " + ", ".join(f'"{k}" = {_num(v)}' for k, v in values.items()) + " }"


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return repr(float(value))


def write(spec: Spec, folder: Path) -> Path:
    """Write ``spec`` as a scenario folder (scenario.toml, CSVs, models/) and return it."""
    folder = Path(folder)
    (folder / "models" / "need").mkdir(parents=True, exist_ok=True)
    (folder / "models" / "response").mkdir(parents=True, exist_ok=True)
    toml = [
        "[scenario]", 'name = "generated"', 'models = "models"', "",
        "[budget]", f"total_gbp = {_num(spec.budget)}", f'mode = "{spec.mode}"', "",
        "[objective]", f'name = "{spec.objective}"', "",
        "[proportionality]", f'mode = "{spec.proportionality}"',
        f"min_slope = {_num(spec.min_slope)}", f"tolerance = {_num(spec.tolerance)}", "",
    ]
    if spec.pace is not None:
        toml += ["[pace_of_change]", f"max_decrease = {_num(spec.pace[0])}",
                 f"max_increase = {_num(spec.pace[1])}", ""]
    groups = ", ".join(f'"{g}"' for g in spec.group_columns)
    toml += ["[gradient]", 'outcome = "le"', 'outcome_units = "years"', "higher_is_better = true",
             'deprivation = "imd"', f'most_deprived = "{spec.most_deprived}"',
             f"quantiles = {spec.quantiles}", f"group_columns = [{groups}]", "",
             "[tables]", 'areas = "areas.csv"', 'services = "services.csv"']
    if spec.baseline is not None:
        toml.append('baseline = "baseline.csv"')
    if spec.locked_rows:
        toml.append('locked = "locked.csv"')
    (folder / "scenario.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")

    names = list(spec.columns)
    _write_csv(folder / "areas.csv", ["area_id", "area_name", *names],
               [[a, f"Area {a}", *(_cell(spec.columns[c][i]) for c in names)]
                for i, a in enumerate(spec.area_ids)])
    header = ["service_id", "service_name", "unit_cost_gbp", "target_population",
              "floor_units_per_head", "cap_units_per_head", "need_model", "response_model",
              "life_course_stage"]
    if spec.slope_column:
        header.append("min_slope")
    if spec.share_column:
        header.append("budget_share")
    rows = []
    for s in spec.services:
        row = [s.service_id, f"Service {s.service_id}", _cell(s.unit_cost), s.target,
               _cell(s.floor), "" if not np.isfinite(s.cap) else _cell(s.cap),
               s.need_model, s.response_model, "all ages"]
        if spec.slope_column:
            row.append(_cell(s.min_slope))
        if spec.share_column:
            row.append(_cell(s.budget_share))
        rows.append(row)
    _write_csv(folder / "services.csv", header, rows)
    if spec.baseline is not None:
        _write_csv(folder / "baseline.csv", ["area_id", "service_id", "spend_gbp"],
                   [[a, s.service_id, _cell(float(spec.baseline[i, j]))]
                    for i, a in enumerate(spec.area_ids) for j, s in enumerate(spec.services)])
    if spec.locked_rows:
        _write_csv(folder / "locked.csv", ["area_id", "service_id", "spend_gbp"],
                   [[a, s, _cell(amount)] for a, s, amount in spec.locked_rows])
    for name, model in spec.need_models.items():
        text = [f'name = "{name}"', f'title = "need {name}"', "", "[formula]",
                f"constant = {_num(model.constant)}",
                "terms = [" + ", ".join(f'{{ column = "{c}", weight = {_num(w)} }}'
                                        for c, w in model.terms) + "]"]
        if model.lookup is not None:
            text += ["", "[formula.lookup]", f'column = "{model.lookup[0]}"',
                     f"values = {_toml_table(model.lookup[1])}"]
        (folder / "models" / "need" / f"{name}.toml").write_text("\n".join(text) + "\n")
    for name, model in spec.response_models.items():
        text = [f'name = "{name}"', f'title = "response {name}"', 'outcome_units = "years"', "",
                "[curve]", "units_per_head = [" + ", ".join(map(_num, model.units)) + "]",
                "gain_per_head = [" + ", ".join(map(_num, model.gains)) + "]"]
        if model.modifier is not None:
            text += ["", "[modifier]", f'column = "{model.modifier[0]}"',
                     f"values = {_toml_table(model.modifier[1])}"]
        (folder / "models" / "response" / f"{name}.toml").write_text("\n".join(text) + "\n")
    return folder


_ROOT: Path | None = None
_COUNTER = itertools.count()


def fresh_folder() -> Path:
    """A new empty folder under one temporary root removed at exit."""
    global _ROOT
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="allocator-hypothesis-"))
        atexit.register(shutil.rmtree, _ROOT, True)
    folder = _ROOT / f"s{next(_COUNTER)}"
    folder.mkdir()
    return folder


# ---------------------------------------------------------------------- strategies

SERVICE_IDS = ("early_years", "stop-smoking", "falls.prevention", "drug alcohol")
LENGTHS = (0.25, 0.5, 1.0, 2.0)
SLOPES = (4.0, 2.0, 1.0, 0.5, 0.25, 0.0)  # dyadic: equal slopes stay exactly equal
KEYS = ("1", "2", "3")
PENNY = 0.01
SMALLEST = 2_500.0  # GBP per line at least: a budget with sub-penny digits is met to 1e-6


def _area_ids(style: str, n: int) -> tuple[str, ...]:
    if style == "plain":
        return tuple(f"A{i:02d}" for i in range(n))
    return tuple(f"E0-{i} x" if i % 2 else f"e.{i}" for i in range(n))  # LP names must escape these


@st.composite
def _response(draw) -> ResponseSpec:
    n = draw(st.integers(1, 4))
    lengths = draw(st.lists(st.sampled_from(LENGTHS), min_size=n, max_size=n))
    slopes = sorted(draw(st.lists(st.sampled_from(SLOPES), min_size=n, max_size=n)), reverse=True)
    if slopes[0] == 0:
        slopes[0] = 1.0
    units = np.concatenate([[0.0], np.cumsum(lengths)])
    gains = np.concatenate([[0.0], np.cumsum(np.array(slopes) * lengths)]) / 64.0
    mod = None
    if draw(st.booleans()):
        mod = ("quintile", {k: draw(st.sampled_from((0.0, 0.5, 1.0, 1.5, 2.0))) for k in KEYS})
    return ResponseSpec(tuple(units.tolist()), tuple(gains.tolist()), mod)


@st.composite
def _need_model(draw, name: str) -> NeedSpec:
    kind = draw(st.sampled_from(("flat", "linear", "linear", "lookup")))
    if kind == "flat":  # every area ties: a constant-only formula, or a zero-weight term
        return draw(st.sampled_from((NeedSpec(1.0, (), None), NeedSpec(1.0, (("dep", 0.0),), None))))
    constant = draw(st.sampled_from((0.0, 0.5, 1.0)))
    terms = ((draw(st.sampled_from(("dep", "dep2"))), draw(st.sampled_from((0.5, 1.0, 2.0)))),)
    lookup = None
    if kind == "lookup":
        lookup = ("decile", {k: draw(st.sampled_from((0.5, 1.0, 2.0, 3.0))) for k in KEYS})
    return NeedSpec(constant, terms, lookup)


def _choose(draw, value, strategy):
    return draw(strategy) if value is None else value


@st.composite
def scenario_specs(draw, *, min_areas: int = 2, max_areas: int = 30, max_services: int = 4,
                   objective: str | None = None, proportionality: str | None = None,
                   sloped: bool | None = None, pace: bool | None = None,
                   locks: bool | None = None, mode: str | None = None,
                   plain_ids: bool = False) -> Spec:
    """A scenario whose budget is feasible by construction (module docstring).

    Keyword arguments fix a feature (``None``: drawn): ``sloped`` asks for a positive
    minimum slope in monotone mode, ``pace`` for a pace-of-change section, ``locks``
    for locked lines.
    """
    A = draw(st.integers(min_areas, max_areas), label="areas")
    S = draw(st.integers(1, max_services), label="services")
    ids = _area_ids("plain" if plain_ids else draw(st.sampled_from(("plain", "plain", "messy"))), A)

    # areas: populations, target groups with zeros, need inputs with or without ties
    pop = draw(st.lists(st.integers(1_000, 60_000), min_size=A, max_size=A))
    frac = st.sampled_from((0.0, 0.1, 0.25, 0.5))
    young = [round(p * draw(frac)) for p in pop]
    old = [round(p * draw(st.sampled_from((0.1, 0.2, 0.3)))) for p in pop]
    if draw(st.booleans()):  # ties in need
        dep = draw(st.lists(st.sampled_from((1.0, 2.0, 3.5)), min_size=A, max_size=A))
    else:
        dep = [v / 100 for v in draw(st.lists(st.integers(5, 5000), min_size=A, max_size=A,
                                                unique=True))]
    dep2 = draw(st.lists(st.sampled_from((0.5, 1.0, 1.5, 4.0)), min_size=A, max_size=A))
    columns = {"population": pop}
    if draw(st.booleans()):
        columns["cost_index"] = draw(st.lists(st.sampled_from((0.8, 1.0, 1.25, 1.5, 2.0)),
                                              min_size=A, max_size=A))
    columns.update({
        "pop_young": young, "pop_old": old, "dep": dep, "dep2": dep2,
        "decile": draw(st.lists(st.sampled_from((1, 2, 3)), min_size=A, max_size=A)),
        "quintile": draw(st.lists(st.sampled_from((1, 2, 3)), min_size=A, max_size=A)),
        "imd": draw(st.lists(st.integers(1, 60), min_size=A, max_size=A)),
        "le": [70 + (i % 13) * 0.5 for i in range(A)],
        "region": [("north", "south", "west")[i % 3] for i in range(A)],
    })

    # models and services
    need_names = [f"need{k}" for k in range(draw(st.integers(1, 2)))]
    need_models = {n: draw(_need_model(n)) for n in need_names}
    services, response_models = [], {}
    for s in range(S):
        name = f"resp{s}"
        response_models[name] = draw(_response())
        fl = draw(st.sampled_from((0.0, 0.25, 0.5, 1.0)))
        cap = draw(st.sampled_from((np.inf, np.inf, 0.0, 0.5, 1.0, 2.0, 5.0)))
        services.append(ServiceSpec(
            service_id=SERVICE_IDS[s], unit_cost=draw(st.sampled_from((100.0, 250.0, 400.0, 1000.0, 125.0))),
            target=draw(st.sampled_from(("population", "population", "pop_young", "pop_old"))),
            floor=fl, cap=fl + cap, need_model=draw(st.sampled_from(need_names)),
            response_model=name, min_slope=None,
            budget_share=float(draw(st.integers(1, 4)))))
    objective = _choose(draw, objective, st.sampled_from(("health-gain", "fair-share")))
    proportionality = _choose(draw, proportionality,
                              st.sampled_from(("monotone", "monotone", "proportional", "none")))
    spec = Spec(area_ids=ids, columns=columns, services=tuple(services), need_models=need_models,
                response_models=response_models, budget=1.0, mode="exact", objective=objective,
                proportionality=proportionality, min_slope=0.0, slope_column=False,
                tolerance=draw(st.sampled_from((0.0, 0.1, 0.25, 0.5))), pace=None, baseline=None,
                locked_rows=(), share_column=False,
                quantiles=draw(st.sampled_from([q for q in (2, 3, 5, 10) if q <= A])),  # at most the areas
                most_deprived=draw(st.sampled_from(("high", "low"))),
                group_columns=draw(st.sampled_from(((), ("region",)))), witness=np.zeros((A, S)))
    unit = unit_spend(spec)

    # locked lines: wildcards and blanks lock at baseline, which the baseline table must then hold
    with_pace = _choose(draw, pace, st.booleans())
    with_locks = _choose(draw, locks, st.sampled_from((False, False, True)))
    rows: list[tuple[str, str, float | None]] = []
    is_locked = np.zeros((A, S), bool)
    needs_baseline = False
    if with_locks:
        kind = draw(st.sampled_from(("service*", "area*", "lines", "lines")))
        if kind == "service*" and S > 1:
            s = draw(st.integers(0, S - 1))
            rows.append(("*", services[s].service_id, None))
            is_locked[:, s] = True
            needs_baseline = True
        elif kind == "area*":
            a = draw(st.integers(0, A - 1))
            rows.append((ids[a], "*", None))
            is_locked[a, :] = True
            needs_baseline = True
        for _ in range(draw(st.integers(1, 3))):
            a, s = draw(st.integers(0, A - 1)), draw(st.integers(0, S - 1))
            if is_locked[a, s]:
                continue
            is_locked[a, s] = True
            if draw(st.booleans()):
                rows.append((ids[a], services[s].service_id, None))
                needs_baseline = True
            else:
                amount = (unit[a, s] * draw(st.sampled_from((0.0, 0.5, 1.0, 3.0)))
                          if unit[a, s] > 0 else 123_450.0)
                rows.append((ids[a], services[s].service_id, round(amount, 2)))
    free = ~is_locked & (unit > 0)
    event("free lines: none" if not free.any() else "free lines: some")
    n = need(spec)

    # minimum slopes that leave room under the caps
    floor = np.array([s.floor for s in services])
    cap = np.array([s.cap for s in services])
    gammas = np.zeros(S)
    sloped = _choose(draw, sloped, st.booleans()) and proportionality == "monotone"
    if sloped:
        for s in range(S):
            ns = n[free[:, s], s]
            spread = ns.max() - ns.min() if ns.size else 0.0
            if np.isfinite(cap[s]):
                room = cap[s] - floor[s]
                gammas[s] = draw(st.sampled_from((0.0, 0.25, 0.9))) * room / spread if spread > 0 else 1.0
            else:
                gammas[s] = draw(st.sampled_from((0.0, 0.1, 0.5, 1.0)))
    slope_column = sloped and draw(st.booleans())
    default_slope = float(gammas.min()) if S else 0.0
    if sloped and not slope_column:
        gammas[:] = default_slope
    services = [dataclasses.replace(sv, min_slope=(None if slope_column and gammas[s] == default_slope
                                                   and draw(st.booleans()) else float(gammas[s])))
                for s, sv in enumerate(services)]

    # two feasible intensity vectors per service, lo <= hi
    lo, hi = np.zeros((A, S)), np.zeros((A, S))
    for s in range(S):
        rows_s = free[:, s]
        ns = n[rows_s, s]
        if not ns.size:
            continue
        head = draw(st.sampled_from((0.5, 1.0, 2.0, 4.0)))
        if proportionality == "monotone":
            low = floor[s] + gammas[s] * (ns - ns.min())
            high = (cap[s] - gammas[s] * (ns.max() - ns)) if np.isfinite(cap[s]) else low + head
        elif proportionality == "proportional":
            k = (cap[s] - floor[s]) / ns.max() if np.isfinite(cap[s]) else head / ns.max()
            low, high = np.full(ns.size, floor[s]), floor[s] + k * ns
        else:
            low = np.full(ns.size, floor[s])
            high = np.full(ns.size, cap[s] if np.isfinite(cap[s]) else floor[s] + head)
        lo[rows_s, s], hi[rows_s, s] = low, np.maximum(high, low)
    lo_spend, hi_spend = lo * unit, hi * unit

    # baseline (needed for pace and blank locks), then locked amounts
    baseline = None
    if with_pace or needs_baseline or draw(st.sampled_from((False, False, True))):
        lam0 = draw(st.sampled_from((0.0, 0.3, 0.7, 1.0)))
        wiggle = np.array(draw(st.lists(st.sampled_from((0.8, 0.95, 1.0, 1.05, 1.3)),
                                        min_size=A * S, max_size=A * S))).reshape(A, S)
        baseline = np.round((lo_spend + lam0 * (hi_spend - lo_spend)) * wiggle, 2)
        extra = np.round(unit * draw(st.sampled_from((0.25, 1.0))) * 1.0137, 2)  # odd pennies
        baseline = np.where(is_locked, np.maximum(extra, 1000.0), baseline)
        empty = baseline.sum(axis=1) <= 0
        baseline[empty, 0] = 10_000.0
    spec = spec.replace(services=tuple(services), baseline=baseline, locked_rows=tuple(rows))
    fixed = np.where(np.isfinite(locked(spec)), locked(spec), 0.0)
    spend_lo, spend_hi = fixed + lo_spend, fixed + hi_spend

    # pace: widen the drawn limits until x(lam0) fits, then keep lam inside the window
    lam_lo, lam_hi = 0.0, 1.0
    pace_limits = None
    if with_pace:
        base = baseline.sum(axis=1)
        at0 = spend_lo.sum(axis=1) + lam0 * (spend_hi - spend_lo).sum(axis=1)
        ratio = at0 / base
        down = draw(st.sampled_from((0.0, 0.02, 0.1, 0.3, 1.0)))
        up = draw(st.sampled_from((0.0, 0.02, 0.1, 0.5)))
        down = min(1.0, max(down, float((1 - ratio).max()) + 0.005))
        up = max(up, float((ratio - 1).max()) + 0.005)
        pace_limits = (round(down, 6) if down < 1 else 1.0, round(up, 6))
        down, up = 1 - pace_limits[0], 1 + pace_limits[1]
        L, D = spend_lo.sum(axis=1), (spend_hi - spend_lo).sum(axis=1)
        pos = D > 0
        if pos.any():
            lam_lo = max(0.0, float(((down * base[pos] - L[pos]) / D[pos]).max()))
            lam_hi = min(1.0, float(((up * base[pos] - L[pos]) / D[pos]).min()))
        lam_lo, lam_hi = min(lam_lo, lam0), max(lam_hi, lam0)
    frac = draw(st.sampled_from((0.0, 0.1, 0.5, 0.9, 1.0)))
    lam = lam_lo + frac * (lam_hi - lam_lo)
    if (spend_lo + lam * (spend_hi - spend_lo)).sum() < SMALLEST * A * S:
        frac, lam = 1.0, lam_hi  # rather more to spend than too little
    if pace_limits is not None and frac in (0.0, 1.0):
        lam = lam0 + (lam - lam0) * (1 - 1e-6)  # on the edge of the window, but inside it
    witness = spend_lo + lam * (spend_hi - spend_lo)
    budget = float(witness.sum())
    budget_mode = _choose(draw, mode, st.sampled_from(("exact", "exact", "at-most")))
    if budget_mode == "at-most":
        budget *= draw(st.sampled_from((1.0, 1.1, 2.0)))
    if float(witness.sum()) < SMALLEST * A * S:
        # so little to spend that a budget with fractions of a penny cannot be met to 1e-6
        # once spend is rounded to pennies: not a scenario these properties are about
        event("discarded: too little to spend")
        assume(False)
    if budget_mode == "exact":
        lowest = float((spend_lo + lam_lo * (spend_hi - spend_lo)).sum())
        highest = float((spend_lo + lam_hi * (spend_hi - spend_lo)).sum())
        if lowest + PENNY <= round(budget, 2) <= highest - PENNY:
            budget = round(budget, 2)  # whole pennies, as finance writes them
    share_column = draw(st.sampled_from((False, False, True)))
    if baseline is None and (unit * floor[None, :]).sum() <= 0:
        share_column = True  # nothing else to split fair-share targets by
    if baseline is not None and baseline.sum() <= 0:
        share_column = True

    event(f"objective={objective}")
    event(f"proportionality={proportionality}{' sloped' if sloped else ''}")
    event(f"pace={'yes' if pace_limits else 'no'}; locks={'yes' if rows else 'no'}")
    event(f"budget mode={budget_mode}")
    return spec.replace(budget=budget, mode=budget_mode, min_slope=default_slope,
                        slope_column=slope_column, pace=pace_limits, share_column=share_column,
                        witness=witness)


def scenario_folders(**kwargs):
    """(folder, spec) pairs: `scenario_specs` written to fresh folders on disk."""
    return scenario_specs(**kwargs).map(lambda spec: (write(spec, fresh_folder()), spec))


# --------------------------------------------------------------- transformations


def scaled(spec: Spec, k: float) -> Spec:
    """Every unit cost, the budget and every amount of money times ``k``."""
    services = tuple(dataclasses.replace(s, unit_cost=s.unit_cost * k) for s in spec.services)
    rows = tuple((a, s, None if amount is None else amount * k) for a, s, amount in spec.locked_rows)
    return spec.replace(services=services, budget=spec.budget * k, locked_rows=rows,
                        baseline=None if spec.baseline is None else spec.baseline * k,
                        witness=spec.witness * k)


POPULATION_COLUMNS = ("population", "pop_young", "pop_old")


def duplicated(spec: Spec, a: int) -> Spec:
    """Area ``a`` twice (the copy called '<id>_twin'); the budget grows by its witness spend."""
    twin = spec.area_ids[a] + "_twin"
    columns = {c: list(v) + [v[a]] for c, v in spec.columns.items()}
    rows = list(spec.locked_rows) + [(twin, s, amount) for area, s, amount in spec.locked_rows
                                     if area == spec.area_ids[a]]
    return spec.replace(
        area_ids=spec.area_ids + (twin,), columns=columns, locked_rows=tuple(rows),
        baseline=None if spec.baseline is None else np.vstack([spec.baseline, spec.baseline[a]]),
        witness=np.vstack([spec.witness, spec.witness[a]]),
        budget=spec.budget + float(spec.witness[a].sum()))


def doubled(spec: Spec, a: int) -> Spec:
    """Area ``a`` with every population (and its money) doubled; budget as in `duplicated`."""
    columns = {c: list(v) for c, v in spec.columns.items()}
    for c in POPULATION_COLUMNS:
        columns[c][a] = 2 * columns[c][a]
    rows = tuple((area, s, amount * 2 if amount is not None and area == spec.area_ids[a] else amount)
                 for area, s, amount in spec.locked_rows)
    baseline = None
    if spec.baseline is not None:
        baseline = spec.baseline.copy()
        baseline[a] *= 2
    witness = spec.witness.copy()
    witness[a] *= 2
    return spec.replace(columns=columns, locked_rows=rows, baseline=baseline, witness=witness,
                        budget=spec.budget + float(spec.witness[a].sum()))
