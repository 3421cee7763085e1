"""Seeded synthetic scenarios that look like English LSOAs, for tests and benchmarks.

`write_scenario` writes a complete scenario folder in the formats of
docs/scenario-format.md: the manifest, the areas and services tables, optional
baseline and locked tables, and its own ``models/need`` and ``models/response``
files.  Nothing is real, but the shapes are: LSOA-sized populations with age
bands, a skewed IMD-like deprivation score, need columns that rise with it (with
noise, so need and deprivation rank areas differently), a response modifier by
deprivation quintile that is *not* monotone (the York mortality elasticities
peak in the middle quintile), concave 3- or 4-piece response curves, floors
that use about a third of the budget and caps that allow three times it.

The same arguments write byte-identical files: every number is drawn from one
``numpy.random.default_rng(seed)`` in a fixed order and written in a fixed format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

OBJECTIVES = ("health-gain", "fair-share")
PROPORTIONALITY = ("monotone", "proportional", "none")
NEEDS = ("continuous", "deciles")

# English regions with their share of LSOAs (2011 geography), deprivation shift
# (latent scale) and cost index (an order-of-magnitude market-forces factor).
_REGIONS = (
    ("North East", 0.051, 0.30, 1.00),
    ("North West", 0.136, 0.30, 1.00),
    ("Yorkshire and The Humber", 0.101, 0.20, 1.00),
    ("East Midlands", 0.085, 0.00, 1.00),
    ("West Midlands", 0.106, 0.20, 1.00),
    ("East of England", 0.110, -0.20, 1.02),
    ("London", 0.147, 0.10, 1.12),
    ("South East", 0.164, -0.35, 1.04),
    ("South West", 0.100, -0.15, 1.00),
)

# service id, name, unit cost (GBP), target population column, share of the
# budget, life-course stage, need model (continuous), steepness of the decile need
_SERVICES = (
    ("health_visiting", "Health visiting and family support", 100.0, "pop_0_15", 0.25,
     "early years", "income-children", 2.5),
    ("school_nursing", "School nursing and young people's mental health", 80.0, "pop_0_15", 0.08,
     "school age", "income-children", 2.0),
    ("stop_smoking", "Stop smoking service", 250.0, "pop_16_59", 0.05,
     "working age", "income", 3.0),
    ("drug_alcohol", "Drug and alcohol treatment and recovery", 2500.0, "pop_16_59", 0.22,
     "working age", "income", 3.0),
    ("sexual_health", "Sexual health services", 130.0, "pop_16_59", 0.20,
     "working age", "income-universal", 1.5),
    ("health_checks", "NHS Health Checks", 40.0, "pop_16_59", 0.03,
     "working age", "health", 1.5),
    ("physical_activity", "Physical activity and weight management", 250.0, "pop_16_59", 0.07,
     "working age", "health", 2.0),
    ("falls_prevention", "Falls prevention (strength and balance)", 400.0, "pop_60_plus", 0.05,
     "older people", "income-older", 2.0),
)

# York mortality elasticities by IMD quintile (1 = most deprived), divided by their mean
_YORK_MODIFIER = (0.7656, 0.9112, 1.4854, 1.2735, 0.5489)
_BUDGET_PER_HEAD_GBP = 64.0  # about the English public health grant per head
_GAIN_PER_GBP = 0.002  # years of life expectancy per GBP per head at the reference intensity
_FLOOR, _CAP = 0.3, 3.0  # floor and cap as multiples of the reference intensity
_BASELINE_TOTAL = 0.97  # last year's spend as a share of this year's budget


def write_scenario(folder: str | Path, n_areas: int, n_services: int = 8, seed: int = 0, *,
                   objective: str = "health-gain", proportionality: str = "monotone",
                   min_slope: float = 0.0, pace: tuple[float, float] | None = None,
                   baseline: bool = False, need: str = "continuous", locked: int = 0) -> Path:
    """Write a synthetic LSOA-like scenario into ``folder`` and return the folder.

    Parameters
    ----------
    folder : str or Path
        Where to write; created if missing.  Files of the same names are overwritten.
    n_areas : int
        Number of areas (rows of ``areas.csv``), at least 10.
    n_services : int, default 8
        Number of services.  The first eight are modelled on the public health grant's
        (health visiting, school nursing, ..., falls prevention); more repeat them
        with an ``_2``, ``_3``... suffix and a different unit cost.
    seed : int, default 0
        Seed of the one random generator: the same arguments give byte-identical files.
    objective : {"health-gain", "fair-share"}
    proportionality : {"monotone", "proportional", "none"}
        Written to ``[proportionality] mode`` (``tolerance = 0.25`` for "proportional").
    min_slope : float, default 0.0
        Minimum slope of intensity on relative need as a fraction of each service's
        reference intensity (its budget share spread evenly); written per service to
        the ``min_slope`` column of ``services.csv`` in units per head per unit of need.
    pace : (max_decrease, max_increase) or None
        Pace-of-change limits as fractions, e.g. ``(0.05, 0.15)``; implies ``baseline``.
    baseline : bool, default False
        Write ``baseline.csv``: last year's spend, 97% of the budget, split half evenly
        and half by need, with noise.
    need : {"continuous", "deciles"}
        "continuous": need models are weighted sums of deprivation rates (every area
        has its own need).  "deciles": need is a weight per IMD decile (3x to 1.5x for
        the most against the least deprived), so many lines share a need level.
    locked : int, default 0
        Number of area x service lines to lock in ``locked.csv``.  With a baseline
        every other one is locked at its baseline (blank spend), the rest at a fixed sum.

    Returns
    -------
    Path
        ``folder``, ready for `allocator.load` and `allocator.run`.

    Examples
    --------
    >>> import tempfile, allocator
    >>> from allocator.build.synthetic import write_scenario
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_scenario(tmp, n_areas=50, n_services=3, seed=1, baseline=True)
    ...     scenario = allocator.load(path)
    ...     result = allocator.run(scenario)
    ...     sorted(p.name for p in path.iterdir())
    ...     scenario.n_areas, scenario.n_services
    ...     round(result.allocation.spend.sum()) == scenario.budget_gbp
    ['areas.csv', 'baseline.csv', 'models', 'scenario.toml', 'services.csv']
    (50, 3)
    True
    """
    _check_arguments(n_areas, n_services, objective, proportionality, need, locked, min_slope)
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    areas = _areas(rng, n_areas)
    services = _services(rng, n_services, need)
    relative_need, reference_spend = _write_models(folder, rng, areas, services, need)
    budget = float(round(reference_spend.sum(), -3))
    tables = _write_tables(folder, rng, areas, services, relative_need, reference_spend, budget,
                           baseline=baseline or pace is not None, locked=locked,
                           min_slope=min_slope)
    _write(folder / "scenario.toml", _manifest(n_areas, n_services, seed, budget, objective,
                                               proportionality, pace, need, tables))
    return folder


def _check_arguments(n_areas: int, n_services: int, objective: str, proportionality: str,
                     need: str, locked: int, min_slope: float) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective: expected one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if proportionality not in PROPORTIONALITY:
        raise ValueError(f"proportionality: expected one of {', '.join(PROPORTIONALITY)}, "
                         f"got {proportionality!r}")
    if need not in NEEDS:
        raise ValueError(f"need: expected one of {', '.join(NEEDS)}, got {need!r}")
    if n_areas < 10 or n_services < 1:
        raise ValueError(f"expected at least 10 areas and 1 service, got {n_areas} and {n_services}")
    if not 0 <= locked <= n_areas * n_services // 2:
        raise ValueError(f"locked: expected 0 to half the {n_areas * n_services} lines, got {locked}")
    if min_slope < 0:
        raise ValueError(f"min_slope: expected a number >= 0, got {min_slope!r}")


def _write_models(folder: Path, rng: np.random.Generator, areas: dict, services: list[dict],
                  need: str) -> tuple[np.ndarray, np.ndarray]:
    """Write ``models/need`` and ``models/response``; set each service's ``reference``.

    Returns the relative need (areas x services) and the spend at every service's
    reference intensity in every area.
    """
    for sub in ("models/need", "models/response"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    target = np.stack([areas[s["target"]] for s in services], axis=1).astype(float)
    cost_index = areas["cost_index"]
    need_models = _need_models(areas, services, need)
    for name, model in need_models.items():
        _write(folder / "models" / "need" / f"{name}.toml", model.text)
    relative_need = np.stack([_relative_need(need_models[s["need_model"]].raw, target[:, j])
                              for j, s in enumerate(services)], axis=1)
    # reference intensity: the service's share of the budget spread evenly over its people
    people = areas["population"].sum()
    for j, s in enumerate(services):
        s["reference"] = (s["share"] * _BUDGET_PER_HEAD_GBP * people
                          / (s["unit_cost"] * np.dot(cost_index, target[:, j])))
    for s in services:
        _write(folder / "models" / "response" / f"{s['response_model']}.toml", _response_toml(rng, s))
    unit_spend = np.array([s["unit_cost"] for s in services])[None, :] * cost_index[:, None] * target
    reference = np.array([s["reference"] for s in services])
    return relative_need, unit_spend * reference[None, :]


def _write_tables(folder: Path, rng: np.random.Generator, areas: dict, services: list[dict],
                  relative_need: np.ndarray, reference_spend: np.ndarray, budget: float, *,
                  baseline: bool, locked: int, min_slope: float) -> dict[str, str]:
    """Write the areas, services and optional baseline and locked tables; return ``[tables]``."""
    _write(folder / "areas.csv", _csv(areas, _AREA_FORMATS))
    _write(folder / "services.csv", _services_csv(services, min_slope))
    tables = {"areas": "areas.csv", "services": "services.csv"}
    spend = None
    if baseline:
        mix = 0.5 + 0.5 * relative_need
        noise = np.exp(rng.normal(0.0, 0.05, size=mix.shape))
        spend = reference_spend * mix * noise
        spend *= _BASELINE_TOTAL * budget / spend.sum()
        _write(folder / "baseline.csv", _spend_csv(areas["area_id"], services, spend,
                                                   np.ones(spend.shape, bool)))
        tables["baseline"] = "baseline.csv"
    if locked:
        values, mask = _locked_lines(rng, reference_spend * relative_need, locked,
                                     at_baseline=spend is not None)
        _write(folder / "locked.csv", _spend_csv(areas["area_id"], services, values, mask))
        tables["locked"] = "locked.csv"
    return tables


def _locked_lines(rng: np.random.Generator, fixed: np.ndarray, locked: int,
                  at_baseline: bool) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``locked`` lines at random: their spend (``fixed``; every other one blank, i.e.
    locked at its baseline, when there is one) and the mask of them, both areas x services."""
    n = fixed.size
    lines = np.sort(rng.choice(n, size=locked, replace=False))
    mask = np.zeros(n, bool)
    mask[lines] = True
    values = np.full(n, np.nan)
    values[lines] = fixed.ravel()[lines]
    if at_baseline:
        values[lines[::2]] = np.nan  # blank: locked at baseline
    return values.reshape(fixed.shape), mask.reshape(fixed.shape)


def _areas(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    shares = np.array([r[1] for r in _REGIONS])
    region = np.sort(rng.choice(len(_REGIONS), size=n, p=shares / shares.sum()))
    shift = np.array([r[2] for r in _REGIONS])[region]
    latent = rng.normal(0.0, 1.0, size=n) + shift  # deprivation, higher = more deprived
    population = np.clip(np.round(np.exp(rng.normal(np.log(1650.0), 0.18, size=n))), 1000, 3000)
    child_share = np.clip(rng.normal(0.19 + 0.025 * latent, 0.03), 0.08, 0.32)
    older_share = np.clip(rng.normal(0.24 - 0.04 * latent, 0.05), 0.05, 0.45)
    pop_0_15 = np.round(population * child_share)
    pop_60_plus = np.round(population * older_share)
    pop_16_59 = population - pop_0_15 - pop_60_plus
    # the score and the rates each see the latent deprivation through their own noise,
    # so need and deprivation rank areas differently, as the IMD domains do
    imd_score = np.clip(np.exp(2.75 + 0.62 * (latent + rng.normal(0.0, 0.25, size=n))), 0.5, 92.0)
    income = np.clip(0.11 * np.exp(0.6 * latent + rng.normal(0.0, 0.25, size=n)), 0.005, 0.65)
    child_income = np.clip(income * 1.3 * np.exp(rng.normal(0.0, 0.2, size=n)), 0.005, 0.8)
    older_income = np.clip(income * 1.1 * np.exp(rng.normal(0.0, 0.2, size=n)), 0.005, 0.8)
    ypll = np.clip(57.0 * np.exp(0.3 * latent + rng.normal(0.0, 0.2, size=n)), 5.0, 300.0)
    cidr = np.clip(117.0 * np.exp(0.25 * latent + rng.normal(0.0, 0.15, size=n)), 20.0, 400.0)
    life_expectancy = 83.0 - 2.2 * latent + rng.normal(0.0, 0.8, size=n)
    imd_score = np.round(imd_score, 3)
    rank = np.empty(n, np.int64)
    rank[np.lexsort((np.arange(n), -imd_score))] = np.arange(1, n + 1)  # 1 = most deprived
    decile = (rank - 1) * 10 // n + 1
    ids = np.array([f"SYN{i + 1:07d}" for i in range(n)])
    return {
        "area_id": ids,
        "area_name": np.array([f"Synthetic {_REGIONS[r][0]} {i + 1:05d}" for i, r in enumerate(region)]),
        "region": np.array([_REGIONS[r][0] for r in region]),
        "population": population, "pop_0_15": pop_0_15, "pop_16_59": pop_16_59,
        "pop_60_plus": pop_60_plus,
        "imd_score": imd_score, "imd_rank": rank, "imd_decile": decile,
        "imd_quintile": (decile + 1) // 2,
        "income_deprivation_rate": np.round(income, 6),
        "child_income_deprivation_rate": np.round(child_income, 6),
        "older_income_deprivation_rate": np.round(older_income, 6),
        "years_of_potential_life_lost_indicator": np.round(ypll, 3),
        "comparative_illness_and_disability_ratio_indicator": np.round(cidr, 3),
        "life_expectancy_years": np.round(life_expectancy, 2),
        "cost_index": np.array([r[3] for r in _REGIONS])[region],
    }


_AREA_FORMATS = {
    "area_id": "{}", "area_name": "{}", "region": "{}", "population": "{:.0f}",
    "pop_0_15": "{:.0f}", "pop_16_59": "{:.0f}", "pop_60_plus": "{:.0f}",
    "imd_score": "{:.3f}", "imd_rank": "{}", "imd_decile": "{}", "imd_quintile": "{}",
    "income_deprivation_rate": "{:.6f}", "child_income_deprivation_rate": "{:.6f}",
    "older_income_deprivation_rate": "{:.6f}", "years_of_potential_life_lost_indicator": "{:.3f}",
    "comparative_illness_and_disability_ratio_indicator": "{:.3f}",
    "life_expectancy_years": "{:.2f}", "cost_index": "{:.2f}",
}


def _services(rng: np.random.Generator, n: int, need: str) -> list[dict]:
    services = []
    for j in range(n):
        sid, name, cost, target, share, stage, need_model, steep = _SERVICES[j % len(_SERVICES)]
        copy = j // len(_SERVICES)
        if copy:
            sid, name = f"{sid}_{copy + 1}", f"{name} ({copy + 1})"
            cost = round(cost * float(rng.uniform(0.6, 1.6)), 2)
        services.append({"id": sid, "name": name, "unit_cost": cost, "target": target,
                         "share": share, "stage": stage, "response_model": f"synthetic-{sid}",
                         "need_model": need_model if need == "continuous" else f"decile-x{steep:g}",
                         "pieces": 3 + j % 2})
    total = sum(s["share"] for s in services)
    for s in services:
        s["share"] /= total
    return services


@dataclass(frozen=True)
class _NeedModel:
    """A need model's TOML text and its raw need per area, computed the way the loader does."""

    text: str
    raw: np.ndarray


def _need_models(areas: dict, services: list[dict], need: str) -> dict[str, _NeedModel]:
    models = {}
    pop = areas["population"]
    for s in services:
        name = s["need_model"]
        if name in models:
            continue
        if need == "deciles":
            top = float(name.removeprefix("decile-x"))
            weights = {d: round(1.0 + (top - 1.0) * (10 - d) / 9, 4) for d in range(1, 11)}
            values = ", ".join(f'"{d}" = {w:g}' for d, w in weights.items())
            raw = np.array([weights[int(d)] for d in areas["imd_decile"]])
            models[name] = _NeedModel(_need_toml(
                name, f"Need by IMD decile, {top:g}x in the most deprived tenth",
                "A weight per national IMD decile, falling evenly from the most to the least "
                "deprived (like the public health grant formula's ~3x).", 1.0, [],
                f'\n[formula.lookup]\ncolumn = "imd_decile"\nvalues = {{ {values} }}\n'), raw)
            continue
        constant, terms, title = 0.0, [], ""
        if name == "income":
            terms, title = [("income_deprivation_rate", 1.0)], "Income deprivation, all ages"
        elif name == "income-children":
            terms, title = [("child_income_deprivation_rate", 1.0)], "Income deprivation affecting children"
        elif name == "income-older":
            terms, title = [("older_income_deprivation_rate", 1.0)], "Income deprivation, older people"
        elif name == "income-universal":
            constant, terms = 0.1, [("income_deprivation_rate", 1.0)]
            title = "Half universal, half income deprivation"
        else:  # health: premature mortality and illness, each scaled to a mean of 1
            title = "Premature mortality and illness"
            terms = [(c, round(0.5 / float(np.average(areas[c], weights=pop)), 8))
                     for c in ("years_of_potential_life_lost_indicator",
                               "comparative_illness_and_disability_ratio_indicator")]
        raw = constant + sum(w * areas[c] for c, w in terms)
        models[name] = _NeedModel(_need_toml(name, title, f"Synthetic: {title.lower()}.", constant,
                                             terms, ""), raw)
    return models


def _need_toml(name: str, title: str, description: str, constant: float,
               terms: list[tuple[str, float]], lookup: str) -> str:
    lines = [f'name = "{name}"', f'title = "{title}"', f'description = "{description}"',
             'source = "allocator.build.synthetic: generated, not real data."',
             'assumptions = ["Synthetic: for tests and benchmarks only."]', "", "[formula]",
             f"constant = {constant!r}", "terms = ["]
    lines += [f'    {{ column = "{c}", weight = {w!r} }},' for c, w in terms]
    return "\n".join(lines) + "\n]\n" + lookup


def _relative_need(raw: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Need per head with a target-population-weighted mean of 1, as the loader computes it."""
    return raw / (np.dot(raw, weight) / weight.sum())


def _response_toml(rng: np.random.Generator, s: dict) -> str:
    ref = s["reference"]
    marginal = _GAIN_PER_GBP * s["unit_cost"] * float(rng.uniform(0.7, 1.3))  # per unit per head
    if s["pieces"] == 4:
        units, factors = [0.0, 0.5, 1.0, 2.0, 3.0], [1.6, 1.2, 0.8, 0.4]
    else:
        units, factors = [0.0, 1.0, 2.0, 3.0], [1.5, 1.0, 0.5]
    knots = [round(u * ref, 8) for u in units]
    gains = [0.0]
    for k, f in enumerate(factors):
        gains.append(gains[-1] + f * marginal * (knots[k + 1] - knots[k]))
    modifier = [round(m * float(rng.uniform(0.92, 1.08)), 4) for m in _YORK_MODIFIER]
    values = ", ".join(f'"{q + 1}" = {m:g}' for q, m in enumerate(modifier))
    return "\n".join([
        f'name = "{s["response_model"]}"',
        f'title = "{s["name"]}: life expectancy (synthetic)"',
        'description = "Concave piecewise-linear gain per head of the target population against '
        'units per head, steepest below the reference intensity."',
        'source = "allocator.build.synthetic: generated, not real data. Modifier shaped like the York '
        'mortality elasticities by IMD quintile (github.com/dark-peak-analytics/unmet-needs)."',
        f'assumptions = ["Reference intensity {ref:.6g} units per head: the service\'s budget '
        'share spread evenly."]',
        'outcome_units = "years"', "", "[curve]",
        f"units_per_head = [{', '.join(f'{u:.8g}' for u in knots)}]",
        f"gain_per_head = [{', '.join(f'{g:.8g}' for g in gains)}]", "", "[modifier]",
        'column = "imd_quintile"', f"values = {{ {values} }}", ""])


def _services_csv(services: list[dict], min_slope: float) -> str:
    header = ["service_id", "service_name", "unit_cost_gbp", "target_population",
              "floor_units_per_head", "cap_units_per_head", "need_model", "response_model",
              "life_course_stage"] + (["min_slope"] if min_slope > 0 else [])
    rows = [",".join(header)]
    for s in services:
        ref = s["reference"]
        row = [s["id"], _quote(s["name"]), f"{s['unit_cost']:.2f}", s["target"],
               f"{_FLOOR * ref:.8g}", f"{_CAP * ref:.8g}", s["need_model"], s["response_model"],
               s["stage"]] + ([f"{min_slope * ref:.8g}"] if min_slope > 0 else [])
        rows.append(",".join(row))
    return "\n".join(rows) + "\n"


def _quote(text: str) -> str:
    return f'"{text}"' if any(ch in text for ch in ',"') else text


def _csv(columns: dict[str, np.ndarray], formats: dict[str, str]) -> str:
    names = list(formats)
    cells = [[formats[c].format(v) for v in columns[c].tolist()] for c in names]
    return ",".join(names) + "\n" + "".join(",".join(row) + "\n" for row in zip(*cells))


def _spend_csv(area_ids: np.ndarray, services: list[dict], spend: np.ndarray, mask: np.ndarray) -> str:
    out = ["area_id,service_id,spend_gbp\n"]
    sids = [s["id"] for s in services]
    for a, s in zip(*np.nonzero(mask)):
        value = spend[a, s]
        out.append(f"{area_ids[a]},{sids[s]},{'' if np.isnan(value) else f'{value:.2f}'}\n")
    return "".join(out)


def _manifest(n_areas: int, n_services: int, seed: int, budget: float, objective: str,
              proportionality: str, pace, need: str, tables: dict[str, str]) -> str:
    lines = [
        "# Written by allocator.build.synthetic.write_scenario: synthetic data, not real.",
        "[scenario]",
        f'name = "Synthetic: {n_areas:,} areas x {n_services} services (seed {seed})"',
        f'description = "LSOA-like synthetic areas, {need} need, seeded: for tests and benchmarks."',
        'attribution = "Generated by allocator.build.synthetic; the response modifier is shaped like the '
        'York mortality elasticities by IMD quintile (github.com/dark-peak-analytics/unmet-needs, MIT)."',
        'models = "models"', "", "[budget]", f"total_gbp = {int(budget)}", 'mode = "exact"', "",
        "[objective]", f'name = "{objective}"', "", "[proportionality]",
        f'mode = "{proportionality}"', "min_slope = 0.0",
    ]
    if proportionality == "proportional":
        lines.append("tolerance = 0.25")
    if pace is not None:
        lines += ["", "[pace_of_change]", f"max_decrease = {float(pace[0])!r}",
                  f"max_increase = {float(pace[1])!r}"]
    lines += ["", "[gradient]", 'outcome = "life_expectancy_years"',
              'outcome_label = "Life expectancy at birth (years, synthetic)"',
              'outcome_units = "years"', "higher_is_better = true", 'deprivation = "imd_score"',
              'most_deprived = "high"', "quantiles = 10", 'group_columns = ["region"]', "",
              "[tables]"]
    lines += [f'{key} = "{value}"' for key, value in tables.items()]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
