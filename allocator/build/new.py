"""`allocator new`: a complete, valid scenario folder for any English place, on current data.

The areas are the place's 2021 LSOAs, 2024 wards or 2024 districts (`allocator.build.place`)
with IoD2025 deprivation and Census 2021 people; the services are a bundled set (or the
user's own table); the outcome is the IoD2025 years of potential life lost indicator. The
folder holds a copy of every model it uses and a README stating every assumption and
source, so it runs anywhere: ``allocator new --district Blackpool --out blackpool &&
allocator run blackpool``.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.build.assumptions import BUDGET_GBP, QUICKSTART_SERVICES, SERVICES
from allocator.build.models import current_need_models
from allocator.build.national import DISAGGREGATION, national_means
from allocator.build.place import Place, PlaceError, areas, lsoas_of, national
from allocator.build.services import service_table
from allocator.build.writers import scenario_toml, write_csv, write_text
from allocator.errors import AllocatorError, Problem, ScenarioError
from allocator.format import gbp
from allocator.scenario.bundled import bundled_root

SERVICE_SETS = {"public-health": [s["service_id"] for s in SERVICES], "quickstart": list(QUICKSTART_SERVICES)}
OUTCOMES = {"ypll": dict(outcome="years_of_potential_life_lost_indicator",
                         outcome_label="Years of potential life lost indicator (IoD2025)",
                         outcome_units="YPLL indicator points (IoD2025)", higher_is_better=False,
                         response="ypll2025")}
#: 2019 need models -> their IoD2025 versions (the NHS index is one model on either data).
CURRENT_NEED = {"imd-income": "imd2025-income", "imd-income-children": "imd2025-income-children",
                "imd-income-older": "imd2025-income-older", "imd-health": "imd2025-health",
                "nhs-weighted": "nhs-weighted"}
AREA_DECIMALS = {"population": 0, "pop_0_4": 2, "pop_0_15": 2, "pop_5_19": 2, "pop_16_24": 2, "pop_16_59": 2,
                 "pop_16_64": 2, "pop_18_plus": 2, "pop_40_74": 2, "pop_60_plus": 2, "pop_65_plus": 2,
                 "pop_75_plus": 2, "income_deprivation_rate": 6, "child_income_deprivation_rate": 6,
                 "older_income_deprivation_rate": 6, "imd_score": 3, "health_score": 3,
                 "years_of_potential_life_lost_indicator": 3,
                 "comparative_illness_and_disability_ratio_indicator": 3, "nhs_need_index": 6,
                 "cost_index": 0, "ethnic_asian": 0, "ethnic_black": 0, "ethnic_mixed": 0, "ethnic_white": 0,
                 "ethnic_other": 0, "disabled": 0, "not_disabled": 0}
GROUPS = ("nhs_region", "icb", "district", "ward")  # coarse to fine
TIGHT = 0.25  # more than this share of lines at a floor or cap: the need ordering says little
CHECK_AREAS = 5_000  # above this many areas the budget check (a solve) is skipped


@dataclass
class Written:
    """What `new` wrote: the folder, the place, its areas, the budget, and warnings to show."""

    folder: Path
    place: Place
    level: str
    areas: int
    population: float
    budget_gbp: float
    budget_note: str
    warnings: list[str] = field(default_factory=list)


def current_services(table: pd.DataFrame | None = None, service_set: str = "public-health") -> pd.DataFrame:
    """The bundled services on 2021 populations: reference intensity, floor and cap per head,
    IoD2025 need models and the IoD2025 YPLL response curves."""
    table = national() if table is None else table
    people = {band: float(table[band].sum()) for band in ("population", "pop_0_15", "pop_16_59", "pop_60_plus")}
    services = service_table(people)
    services = services[services["service_id"].isin(SERVICE_SETS[service_set])].copy()
    services["need_model"] = services["need_model"].map(CURRENT_NEED)
    services["response_model"] = [f"york-{OUTCOMES['ypll']['response']}-{s.replace('_', '-')}"
                                  for s in services["service_id"]]
    return services.reset_index(drop=True)


def need_terms() -> dict[str, list[tuple[str, float]]]:
    """Each current need model's formula: ``{name: [(column, weight), ...]}``."""
    models = {m["name"]: m["terms"] for m in current_need_models(national_means(national()))}
    return {**models, "nhs-weighted": [("nhs_need_index", 1.0)]}


def need_share(place: Place, services: pd.DataFrame) -> dict[str, float]:
    """The place's share of England's need-weighted target population, per service."""
    england = areas(Place("england", "E92000001", "England"), "lsoa")
    inside = england["area_id"].isin(set(lsoas_of(place)["lsoa21_code"]))
    terms = need_terms()
    shares = {}
    for s in services.itertuples():
        need = sum(weight * england[column] for column, weight in terms[s.need_model])
        weighted = need * england[s.target_population]
        shares[s.service_id] = float(weighted[inside].sum() / weighted.sum())
    return shares


def default_budget(place: Place, services: pd.DataFrame) -> tuple[float, str]:
    """The place's need-weighted share of the national budget, service by service, to the pound."""
    shares = need_share(place, services)
    budget = sum(BUDGET_GBP * s.budget_share * shares[s.service_id] for s in services.itertuples())
    owner = place.name + ("'" if place.name.endswith("s") else "'s")
    note = (f"{owner} need-weighted share of a national budget of {gbp(BUDGET_GBP)} (the "
            f"2024/25-sized public health grant), service by service: each service's national share "
            f"times the place's share of England's need-weighted target population "
            f"({min(shares.values()):.3%} to {max(shares.values()):.3%})")
    return float(round(budget)), note


def _gradient(frame: pd.DataFrame, level: str, outcome: str) -> dict:
    n = len(frame)
    quantiles = 10 if n >= 50 else 5 if n >= 10 else 2
    finer = {"lsoa": 4, "ward": 3, "district": 2}[level]
    groups = [g for g in GROUPS[:finer] if g in frame and 2 <= frame[g].nunique() <= 60]
    spec = OUTCOMES[outcome]
    return {"outcome": spec["outcome"], "outcome_label": spec["outcome_label"],
            "outcome_units": spec["outcome_units"], "higher_is_better": spec["higher_is_better"],
            "deprivation": "imd_score", "most_deprived": "high", "quantiles": quantiles,
            "group_columns": groups}


def _area_table(frame: pd.DataFrame, gradient: dict) -> pd.DataFrame:
    ages = ["pop_0_4", "pop_0_15", "pop_5_19", "pop_16_24", "pop_16_59", "pop_16_64", "pop_18_plus", "pop_40_74",
            "pop_60_plus", "pop_65_plus", "pop_75_plus"]
    groups = [c for g in DISAGGREGATION.values() for c in g.values() if c not in ages]  # ethnic group, disability
    columns = ["area_id", "area_name", "population", *ages, *groups, "imd_score", "imd_quintile",
               "income_deprivation_rate", "child_income_deprivation_rate", "older_income_deprivation_rate", "health_score",
               "years_of_potential_life_lost_indicator", "comparative_illness_and_disability_ratio_indicator",
               "nhs_need_index", "imputed_numerators", *(["lsoas"] if "lsoas" in frame else []),
               *gradient["group_columns"]]
    out = frame[columns].copy()
    out["cost_index"] = 1.0
    return out


HEADER = "# Written by allocator new: edit freely (docs/scenario-format.md says what each line means)."


@dataclass(frozen=True)
class Layout:
    """How a folder is written: its own copy of the models (``allocator new``) or the shared
    ``../../models`` of the bundled scenarios, a first line, and any ``[[option]]`` blocks."""

    models: str = "models"
    header: str = HEADER
    options: tuple[str, ...] = ()
    description: str | None = None
    tables: tuple[tuple[str, str], ...] = ()  # more [tables] keys (streams, partners)


def _manifest(name: str, description: str, budget: float, gradient: dict, baseline: bool,
              pace: tuple[float, float] | None, layout: Layout = Layout(), service_ids: tuple[str, ...] = ()) -> str:
    from allocator.build.plan_example import group_blocks

    return scenario_toml(name, description, ATTRIBUTION_TEXT, budget, gradient, baseline, pace,
                         list(layout.options) + group_blocks(service_ids), models=layout.models, header=layout.header,
                         tables=layout.tables, disaggregation=DISAGGREGATION)


ATTRIBUTION_TEXT = (
    "Contains public sector information licensed under the Open Government Licence v3.0: English "
    "Indices of Deprivation 2025 (MHCLG), Census 2021 and mid-2020 small area population estimates "
    "(ONS), ONS Open Geography lookups (contains OS data (c) Crown copyright and database right), NHS "
    "England weighted populations 2024/25 (Crown copyright); packaged by github.com/humaniverse (IMD, "
    "demographr, geographr; MIT) and github.com/nhsx/AIF_Allocation_Tool (MIT). Mortality elasticities by "
    "IMD quintile from the University of York unmet-need calculator, github.com/dark-peak-analytics/"
    "unmet-needs (MIT).")


def _copy_models(services: pd.DataFrame, folder: Path) -> None:
    root = bundled_root()
    if root is None:
        raise ScenarioError("the bundled models are not installed with allocator: reinstall it")
    for kind, column in (("need", "need_model"), ("response", "response_model")):
        for name in sorted(set(services[column])):
            source = root / "models" / kind / f"{name}.toml"
            if not source.is_file():
                raise ScenarioError([Problem("--services", f"no bundled {kind} model {name!r}",
                                             column=column)])
            target = folder / "models" / kind / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def _line_costs(frame: pd.DataFrame, services: pd.DataFrame) -> tuple[float, float]:
    """What every line at its floor, and every line at its cap, would cost."""
    floor = sum(s.unit_cost_gbp * s.floor_units_per_head * frame[s.target_population].sum()
                for s in services.itertuples())
    cap = sum(s.unit_cost_gbp * s.cap_units_per_head * frame[s.target_population].sum()
              for s in services.itertuples())
    return float(floor), float(cap)


def _check_budget(budget: float, frame: pd.DataFrame, services: pd.DataFrame) -> None:
    floor, cap = _line_costs(frame, services)
    if not np.isfinite(budget) or budget <= 0:
        raise PlaceError([Problem("--budget", "a budget in pounds, > 0", expected="a number > 0",
                                  found=budget)])
    if budget < floor:
        raise PlaceError([Problem("--budget", f"the floors alone cost {gbp(floor)} here, more than "
                                  f"the budget of {gbp(budget)}: give at least {gbp(floor)} (every line at "
                                  f"its floor) and at most {gbp(cap)} (every line at its cap)")])
    if budget > cap:
        raise PlaceError([Problem("--budget", f"the caps allow at most {gbp(cap)} here, less than the "
                                  f"budget of {gbp(budget)}: give between {gbp(floor)} and {gbp(cap)}")])


def _bounds_share(scenario, budget: float) -> float:
    """The share of lines at their floor or cap when ``scenario`` is solved at ``budget``."""
    from allocator.analysis.gradient import binding
    from allocator.analysis.pipeline import run

    result = run(scenario.with_(budget=budget))
    lines = binding(result.scenario, result.allocation)
    return (lines["lines"] - lines["between"]) / max(lines["lines"], 1)


def _budget_warning(folder: Path, budget: float, frame: pd.DataFrame, services: pd.DataFrame) -> list[str]:
    """A warning when the budget puts many lines at a floor or cap, with the budgets that do not."""
    from allocator.scenario import load

    if len(frame) > CHECK_AREAS:
        return []
    scenario = load(folder)
    share = _bounds_share(scenario, budget)
    if share <= TIGHT:
        return []
    floor, cap = _line_costs(frame, services)
    grid = np.geomspace(floor * 1.001, cap * 0.999, 9)
    good = [b for b in grid if _bounds_share(scenario, float(b)) <= TIGHT]
    where = (f"budgets from about {gbp(min(good))} to {gbp(max(good))} keep at most {TIGHT:.0%} of lines "
             f"at a bound" if good else f"no budget between {gbp(floor)} and {gbp(cap)} keeps fewer than "
             f"{TIGHT:.0%} of lines at a bound: loosen the floors or caps")
    return [f"the budget of {gbp(budget)} puts {share:.0%} of the budget lines at their floor or cap, so "
            f"the need ordering decides little there; {where} (floors {gbp(floor)}, caps {gbp(cap)})"]


def _read_services(path: Path) -> pd.DataFrame:
    """The user's own services table (CSV, or the sheet 'services' of an XLSX workbook), as text;
    its values are checked when the written scenario is loaded."""
    try:
        if path.suffix.lower() == ".xlsx":
            table = pd.read_excel(path, sheet_name="services", dtype=str, engine="openpyxl").fillna("")
        else:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, KeyError) as exc:
        raise ScenarioError([Problem(str(path), f"cannot be read as a services table: {exc}")]) from None
    missing = {"service_id", "service_name", "unit_cost_gbp", "target_population", "floor_units_per_head",
               "cap_units_per_head", "need_model", "response_model", "life_course_stage"} - set(table.columns)
    if missing:
        raise ScenarioError([Problem(str(path), "a services table needs these columns (docs/scenario-format.md)",
                                     column=", ".join(sorted(missing)))])
    return table


def _baseline(path: Path, frame: pd.DataFrame, services: pd.DataFrame) -> pd.DataFrame:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"area_id", "service_id", "spend_gbp"} - set(table.columns)
    if missing:
        raise ScenarioError([Problem(str(path), "a baseline needs the columns area_id, service_id, spend_gbp",
                                     column=", ".join(sorted(missing)))])
    problems = []
    for i, row in enumerate(table.itertuples(index=False), start=2):
        if row.area_id not in set(frame["area_id"]):
            problems.append(Problem(str(path), f"not an area of this scenario (e.g. {frame['area_id'].iloc[0]})",
                                    row=i, column="area_id", expected="an area_id of the place", found=row.area_id))
        if row.service_id not in set(services["service_id"]):
            problems.append(Problem(str(path), f"services: {', '.join(services['service_id'])}", row=i,
                                    column="service_id", expected="a service_id", found=row.service_id))
    if problems:
        raise ScenarioError(problems)
    return table[["area_id", "service_id", "spend_gbp"]]


def new_scenario(out: Path, place: Place, level: str = "lsoa", *, budget: float | None = None,
                 services: str | Path = "public-health", outcome: str = "ypll", baseline: Path | None = None,
                 pace: tuple[float, float] | None = None, name: str | None = None,
                 check: bool = True) -> Written:
    """Write a scenario folder for ``place`` at ``level`` into ``out`` (which must not exist or be empty).

    Raises `PlaceError` / `ScenarioError` (nothing written) for a place or level the data lack,
    a budget outside what the floors and caps allow, or a bad services or baseline file.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ScenarioError([Problem(str(out), "already exists and is not empty: choose a new --out folder")])
    if outcome not in OUTCOMES:
        raise PlaceError([Problem("--outcome", f"choose one of {', '.join(OUTCOMES)}", found=outcome,
                                  expected="an IoD2025 health outcome")])
    if pace is not None and baseline is None:
        raise PlaceError([Problem("--pace", "a pace of change limits change from last year's spend: "
                                  "give --baseline FILE too")])
    frame = areas(place, level)
    if isinstance(services, Path) or str(services) not in SERVICE_SETS:
        table = _read_services(Path(services))
    else:
        table = current_services(service_set=str(services))
    note = "given with --budget"
    if budget is None:
        budget, note = default_budget(place, current_services())
        if isinstance(services, Path) or str(services) not in SERVICE_SETS:
            note += " (for the bundled service set; your services may cost more or less)"
    _check_budget(float(budget), frame, _numeric_services(table))
    gradient = _gradient(frame, level, outcome)
    title = name or f"{place.name}: {level if level != 'lsoa' else 'LSOA'}s, public health budget by need"
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write_folder(staging, frame, table, gradient, budget, title, place, level,
                      _baseline(Path(baseline), frame, table) if baseline else None, pace, note)
        _validate(staging, services, baseline)
        warnings = _budget_warning(staging, float(budget), frame, _numeric_services(table)) if check else []
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Written(out, place, level, len(frame), float(frame["population"].sum()), float(budget), note,
                   warnings)


def _validate(folder: Path, services, baseline) -> None:
    """Load what was written, as `allocator validate` would; a problem (or rules that admit no
    allocation) is refused as bad input to `new`, naming the user's own files."""
    from allocator.scenario import load

    def rename(text: str) -> str:
        text = text.replace(str(folder / "services.csv"), str(services)).replace(str(folder / "baseline.csv"),
                                                                               str(baseline))
        return text.replace(str(folder), "the new scenario")

    try:
        load(folder)
    except AllocatorError as exc:
        problems = getattr(exc, "problems", None) or [Problem("the new scenario", str(exc))]
        raise PlaceError([dataclasses.replace(p, file=rename(p.file), message=rename(p.message))
                          for p in problems]) from None


def _numeric_services(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for column in ("unit_cost_gbp", "floor_units_per_head", "cap_units_per_head"):
        out[column] = pd.to_numeric(out[column], errors="coerce").fillna(np.inf if column.startswith("cap")
                                                                         else 0.0)
    return out


def _write_folder(folder: Path, frame: pd.DataFrame, services: pd.DataFrame, gradient: dict, budget: float,
                  title: str, place: Place, level: str, baseline: pd.DataFrame | None,
                  pace: tuple[float, float] | None, note: str, layout: Layout = Layout()) -> None:
    from allocator.build.new_readme import readme

    description = layout.description or (
        f"{place.name} ({place.kind}), {len(frame):,} {level if level != 'lsoa' else 'LSOA'}s, "
        f"{len(services)} services; IoD2025 deprivation and Census 2021 people; gradient in "
        f"{gradient['outcome_label']} by IMD score.")
    write_text(folder / "scenario.toml", _manifest(title, description, budget, gradient, baseline is not None,
                                                   pace, layout, tuple(services["service_id"])))
    write_csv(_area_table(frame, gradient), folder / "areas.csv", AREA_DECIMALS)
    columns = ["service_id", "service_name", "unit_cost_gbp", "target_population", "floor_units_per_head",
               "cap_units_per_head", "need_model", "response_model", "life_course_stage"]
    extra = [c for c in services.columns if c not in columns and c in ("min_slope", "budget_share")]
    write_csv(services[columns + extra], folder / "services.csv",
              {"floor_units_per_head": 6, "cap_units_per_head": 6})
    if baseline is not None:
        baseline.to_csv(folder / "baseline.csv", index=False, lineterminator="\n")
    if layout.models == "models":
        _copy_models(services, folder)
    made_by = "`allocator new`" if layout.models == "models" else "`python -m allocator.build` (as `allocator new` would)"
    write_text(folder / "README.md", readme(title, place, level, frame, services, gradient, budget, note,
                                            baseline is not None, pace, made_by))


def write_bundled(folder: Path, place: Place, level: str, *, name: str, description: str, budget: float,
                  baseline: pd.DataFrame | None = None, pace: tuple[float, float] | None = None,
                  options: tuple[str, ...] = (), tables: tuple[tuple[str, str], ...] = ()) -> None:
    """A bundled scenario (``scenarios/<name>``) on current data: as `new_scenario` writes, with the
    shared ``../../models``; the files it writes are replaced, any others (a sweep file) kept."""
    frame = areas(place, level)
    services = current_services()
    gradient = _gradient(frame, level, "ypll")
    layout = Layout(models="../../models", header="# Written by python -m allocator.build from the shared "
                    "data: do not edit by hand.", options=options, description=description, tables=tables)
    staging = Path(tempfile.mkdtemp(prefix=".bundled."))
    try:
        _write_folder(staging, frame, services, gradient, budget, name, place, level, baseline, pace,
                      "the 2024/25-sized public health grant", layout)
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(staging.iterdir()):
            shutil.copyfile(path, folder / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
