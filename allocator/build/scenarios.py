"""Build the bundled scenarios and the evidence models from the shared public data.

`build` writes (overwriting) ``models/need/*.toml``, ``models/response/*.toml``,
``models/README.md`` and ``scenarios/{england-lsoa,england-la,quickstart}/`` under a
project root, in the formats of ``docs/scenario-format.md``; run it as
``python -m allocator.build --shared ../shared/data``.

It is deterministic: rows are sorted, floats are written in fixed formats, so a rerun
on the same data is byte-identical. Every number that is an assumption rather than
data is a named constant in `allocator.build.assumptions`, and is repeated in the
README written next to the files that use it. Everything is read before anything is
written, so a missing or unexpected input leaves the project's files as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from allocator.build.areas import (
    DISTRICT_COLUMNS,
    district_areas,
    impute_suppressed_numerators,
    national_means,
    national_populations,
)
from allocator.build.assumptions import (
    BUDGET_GBP,
    NORTH_EAST,
    PACE_MAX_DECREASE,
    PACE_MAX_INCREASE,
    QUICKSTART_BUDGET_GBP,
)
from allocator.build.checks import check
from allocator.build.models import (
    current_need_models,
    current_response_models,
    need_models,
    response_models,
)
from allocator.build.national import national_means as current_means
from allocator.build.national import national_table, write_national
from allocator.build.new import current_services, write_bundled
from allocator.build.place import Place, areas
from allocator.build.plan_example import plan_block, plan_readme, write_plan_tables
from allocator.build.readmes import (
    models_readme,
    quickstart_readme,
)
from allocator.build.services import (
    baseline_table,
    national_budgets,
    national_option_blocks,
    option_blocks,
    quickstart_services,
    reference_budgets,
    service_table,
)
from allocator.build.sources import (
    YPLL,
    read_district_summary,
    read_life_expectancy,
    read_lsoas,
    read_nhs_need,
    read_york,
    require_shared,
)
from allocator.build.writers import (
    AREA_DECIMALS,
    scenario_toml,
    write_csv,
    write_need_model,
    write_response_model,
    write_services,
    write_text,
)

ENGLAND = Place("england", "E92000001", "England")

#: The gradient of the district scenarios: persons life expectancy by IMD score.
LE_GRADIENT = {"outcome": "life_expectancy_years",
               "outcome_label": "Life expectancy at birth, persons (years)",
               "outcome_units": "years", "higher_is_better": True,
               "deprivation": "imd_score", "most_deprived": "high"}

#: The gradient of the LSOA scenario: premature mortality by IMD rank.
YPLL_GRADIENT = {"outcome": YPLL,
                 "outcome_label": "Years of potential life lost indicator (IoD 2019)",
                 "outcome_units": "YPLL indicator points", "higher_is_better": False,
                 "deprivation": "imd_rank", "most_deprived": "low", "quantiles": 10,
                 "group_columns": ["nhs_region"]}


@dataclass(frozen=True)
class BuildData:
    """Everything the bundled files are written from, read and checked from the shared data."""

    lsoas: pd.DataFrame  # every LSOA, suppressed numerators imputed
    districts: pd.DataFrame  # the 317 districts of 2019
    services: pd.DataFrame  # the eight services with reference intensity, floor and cap
    york: dict  # York elasticities (`allocator.build.sources.read_york`)
    england_le: float  # England persons life expectancy
    means: dict[str, float]  # national YPLL and CIDR means
    nhs_stats: dict  # counts and mappings of the NHS need index
    national: pd.DataFrame  # every 2021 LSOA on current data (`allocator.build.national`)


def read_data(shared: Path) -> BuildData:
    """Read and check the shared data folder (`allocator.build.checks.BuildError` if amiss)."""
    require_shared(shared)
    lsoas = impute_suppressed_numerators(read_lsoas(shared))
    lad19_codes = sorted(lsoas["lad19_code"].unique())
    check(len(lad19_codes) == 317, f"{len(lad19_codes)} districts, expected 317")
    need, nhs_stats = read_nhs_need(shared, lad19_codes)
    life, england_le = read_life_expectancy(shared, lad19_codes)
    york = read_york(shared)
    districts, _ = district_areas(
        lsoas, read_district_summary(shared), need, life)
    return BuildData(
        lsoas=lsoas, districts=districts,
        services=service_table(national_populations(lsoas)), york=york, england_le=england_le,
        means=national_means(lsoas), nhs_stats=nhs_stats,
        national=national_table(shared))


def write_models(data: BuildData, root: Path) -> None:
    """``models/``: the need and response models (old ``*.toml`` removed first) and README."""
    for folder in ["need", "response"]:
        for old in sorted((root / "models" / folder).glob("*.toml")):
            old.unlink()
    current = current_means(data.national)
    needs = need_models(data.means) + current_need_models(current)
    responses = (response_models(data.services, data.york, data.england_le, data.means[YPLL])
                 + current_response_models(current_services(data.national), data.york, current[YPLL]))
    for model in needs:
        write_need_model(model, root / "models" / "need")
    for model in responses:
        write_response_model(model, root / "models" / "response")
    write_text(root / "models" / "README.md", models_readme(needs, responses, data.york))


def write_england_lsoa(data: BuildData, root: Path) -> None:
    """``scenarios/england-lsoa``: every 2021 LSOA, eight services, the IoD2025 YPLL gradient."""
    services = current_services(data.national)
    lsoas = areas(ENGLAND, "lsoa")
    write_bundled(root / "scenarios" / "england-lsoa", ENGLAND, "lsoa",
                  name="England LSOAs: public health grant by need", budget=BUDGET_GBP,
                  description="The 2024/25-sized public health grant split across the 33,755 English 2021 "
                              "LSOAs and eight services across the life course, a universal floor everywhere "
                              "and intensity rising with need, against last year's spend (an assumed split "
                              "by target population, as england-la's); gradient in premature mortality "
                              "(IoD2025 YPLL) by IMD score. Its options apply each rule at national scale.",
                  baseline=baseline_table(lsoas, services, national_budgets(services)),
                  options=tuple(national_option_blocks(services)))


def write_england_la(data: BuildData, root: Path) -> None:
    """``scenarios/england-la``: the 296 districts of 2024 against a baseline, with pace of change."""
    services = current_services(data.national)
    districts = areas(ENGLAND, "district")
    write_bundled(root / "scenarios" / "england-la", ENGLAND, "district",
                  name="England districts: public health grant by need, with pace of change", budget=BUDGET_GBP,
                  description="The 2024/25-sized public health grant split across the 296 local authority "
                              "districts of 2024 and eight services, against last year's spend (an assumed "
                              "split by target population) with a pace-of-change limit; gradient in premature "
                              "mortality (IoD2025 YPLL) by district IMD score.",
                  baseline=baseline_table(districts, services, national_budgets(services)),
                  pace=(PACE_MAX_DECREASE, PACE_MAX_INCREASE),
                  options=tuple(option_blocks(services)))


PLAN_TITLE = "England districts: a five-year plan with three funding streams"


def write_england_la_plan(data: BuildData, root: Path) -> None:
    """``scenarios/england-la-plan``: england-la over five years, three streams, a pooled fund."""
    services = current_services(data.national)
    districts = areas(ENGLAND, "district")
    folder = root / "scenarios" / "england-la-plan"
    write_bundled(folder, ENGLAND, "district", name=PLAN_TITLE, budget=BUDGET_GBP,
                  description="The districts, services and baseline of england-la over five years from 2026/27, "
                              "funded by the public health grant, an ICB health-inequalities fund pooled with "
                              "the councils for targeted services in the most deprived fifth of districts, and "
                              "a three-year family hubs grant; pace of change year on year, convergence to "
                              "need-weighted targets, gains discounted at 3.5% a year. The streams are "
                              "illustrative assumptions (README).",
                  baseline=baseline_table(districts, services, national_budgets(services)),
                  pace=(PACE_MAX_DECREASE, PACE_MAX_INCREASE), options=tuple(plan_block()),
                  tables=(("streams", "streams.csv"), ("partners", "partners.csv")))
    write_plan_tables(folder)
    write_text(folder / "README.md", plan_readme(PLAN_TITLE))


def write_quickstart(data: BuildData, root: Path) -> None:
    """``scenarios/quickstart``: the North East's 12 districts and three services."""
    folder = root / "scenarios" / "quickstart"
    areas = data.districts[data.districts["area_id"].isin(NORTH_EAST)]
    check(len(areas) == 12, "North East districts missing")
    services = quickstart_services(data.services)
    write_csv(areas[DISTRICT_COLUMNS], folder / "areas.csv", AREA_DECIMALS)
    write_services(services, folder / "services.csv", "le")
    baseline = baseline_table(areas, services, reference_budgets(services, areas))
    check(baseline["spend_gbp"].sum() < QUICKSTART_BUDGET_GBP,
          "quickstart baseline exceeds its budget")
    write_csv(baseline, folder / "baseline.csv", {"spend_gbp": 2})
    write_text(folder / "scenario.toml", scenario_toml(
        name="Quickstart: North East, three services",
        description="The 12 districts of the North East and three services (health "
                    "visiting, drug and alcohol treatment, falls prevention): a round "
                    "budget a little above last year's spend, split with a universal "
                    "floor and intensity rising with need.",
        attribution=["imd", "nhs", "york", "le"], budget=QUICKSTART_BUDGET_GBP,
        baseline=True, pace=False,
        gradient={**LE_GRADIENT, "quantiles": 5, "group_columns": []},
        options=option_blocks(services)))
    write_text(folder / "README.md", quickstart_readme(areas, services, baseline))


def build(shared: Path, root: Path) -> None:
    """Read ``shared`` (the public data folder) and write ``models/`` and ``scenarios/`` under ``root``.

    Raises `allocator.build.checks.MissingDataError`, before anything is written, if the
    folder or a file in it is missing; `allocator.build.checks.BuildError` if the data
    are not as expected.
    """
    data = read_data(Path(shared))
    root = Path(root)
    write_national(data.national, root / "allocator" / "build" / "data")
    write_models(data, root)
    write_england_lsoa(data, root)
    write_england_la(data, root)
    write_england_la_plan(data, root)
    write_quickstart(data, root)
