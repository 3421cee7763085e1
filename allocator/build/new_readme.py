"""The README of a scenario written by `allocator new`: what is in it, every assumption, every source."""

from __future__ import annotations

import pandas as pd

from allocator.analysis.disaggregate import METHOD
from allocator.build.national import DISAGGREGATION, ETHNIC_GROUPS
from allocator.build.place import Place
from allocator.format import gbp

SOURCES = """\
| data | publisher, licence | packaged by |
|---|---|---|
| English Indices of Deprivation 2025: IMD and domain scores, ranks and deciles; health and income indicators (2021 LSOAs) | Ministry of Housing, Communities and Local Government, Open Government Licence v3.0 | github.com/humaniverse/IMD (MIT) |
| Census 2021 usual residents, ethnic group (TS021), disability (TS038) by 2021 LSOA | Office for National Statistics, Open Government Licence v3.0 | github.com/humaniverse/demographr (MIT) |
| Mid-2020 population by single year of age, 2011 LSOAs | Office for National Statistics, Open Government Licence v3.0 | github.com/humaniverse/demographr (MIT) |
| Lookups 2011 -> 2021 LSOA, 2021 LSOA -> 2024 ward, district, ICB | ONS Open Geography Portal, Open Government Licence v3.0; contains OS data (c) Crown copyright and database right | github.com/humaniverse/geographr (MIT) |
| NHS England weighted populations 2024/25 (need index; NHS region of each ICB) | NHS England, Crown copyright, Open Government Licence v3.0 | github.com/nhsx/AIF_Allocation_Tool (MIT) |
| Mortality elasticity to NHS spend by IMD quintile (response curves) | University of York unmet-need calculator | github.com/dark-peak-analytics/unmet-needs (MIT) |
"""


def _services(services: pd.DataFrame) -> str:
    rows = ["| service | target population | unit cost | floor | cap | need model | response model |",
            "|---|---|---:|---:|---:|---|---|"]
    for s in services.itertuples():
        rows.append(f"| {s.service_name} | `{s.target_population}` | £{float(s.unit_cost_gbp):,.2f} | "
                    f"{float(s.floor_units_per_head):.6g} | {s.cap_units_per_head or 'none'} | "
                    f"`{s.need_model}` | `{s.response_model}` |")
    return "\n".join(rows)


def _group_source(column: str) -> str:
    """Where a population group's counts come from."""
    census = {c: name for name, c in ETHNIC_GROUPS.items()}
    if column in census:
        return f"Census 2021 ethnic group (TS021): {census[column]}"
    if column in ("disabled", "not_disabled"):
        return ("Census 2021 disability (TS038): " + ("Disabled" if column == "disabled" else "Not disabled")
                + " under the Equality Act")
    return "age band: mid-2020 estimates carried to 2021 LSOAs, scaled to Census 2021 (see Assumptions)"


def population_groups() -> str:
    """The README's section on ``[disaggregation]``: the groups, their columns and sources, the method."""
    rows = "\n".join(f"| {dimension} | {group} | `{column}` | {_group_source(column)} |"
                      for dimension, groups in DISAGGREGATION.items() for group, column in groups.items())
    return f"""## Population groups (`[disaggregation]`)

`scenario.toml` names, for each dimension, the `areas.csv` columns holding the people of each group;
`allocator run` and `allocator compare` report the spend per head, the outcome and the health gain
reaching each group (`spend_by_population_group.csv`, the report's section 'Who receives what', a
workbook sheet per dimension; in Python `result.tables["spend_by_population_group"]`).

| dimension | group | column | source |
|---|---|---|---|
{rows}

- **Method**: {METHOD}
- The census tables of a dimension differ from the area's population by a person or two (ONS
  disclosure control), so each area's counts are used as shares of its people.
- **Sex**: the Census 2021 counts packaged here are ethnic group and disability only, so there is
  no dimension by sex. With your own columns (Census 2021 TS008, say), add one:
  `"Sex" = {{ "Female" = "female", "Male" = "male" }}`.
"""


def readme(title: str, place: Place, level: str, frame: pd.DataFrame, services: pd.DataFrame,
           gradient: dict, budget: float, note: str, baseline: bool, pace,
           made_by: str = "`allocator new`") -> str:
    unit = {"lsoa": "2021 LSOA", "ward": "2024 electoral ward", "district": "2024 district"}[level]
    groups = ", ".join(f"`{g}`" for g in gradient["group_columns"]) or "none"
    return f"""# {title}

Written by {made_by} for **{place.name}** ({place.kind}{'' if place.kind == 'england' else ', ' + place.code}):
{len(frame):,} areas, each a {unit}, {frame['population'].sum():,.0f} people (Census 2021 usual
residents), {len(services)} services, a budget of **{gbp(budget)}** ({note}).

```sh
allocator validate {{this folder}}
allocator run {{this folder}} --out out
```

Edit anything: `scenario.toml` (budget, objective, proportionality, gradient{', pace of change' if pace else ''}),
`areas.csv`, `services.csv`{', `baseline.csv`' if baseline else ''}, and the models in `models/` (copies of the
bundled ones: change them here without touching anyone else's). docs/scenario-format.md says what each
setting and column means.

## What is in it

- **Areas** (`areas.csv`): one row per {unit}: `population`, age bands `pop_*` (the services' target
  populations), `imd_score` (IoD2025: higher is more deprived; the gradient's ranking), `imd_quintile`
  (national; the response curves' effectiveness modifier), the need models' rates, the outcome
  `{gradient['outcome']}`, grouping columns ({groups}), and the people of each ethnic group and by
  disability (Census 2021: `ethnic_*`, `disabled`, `not_disabled`) for the population groups below.
- **Services** (`services.csv`):

{_services(services)}

- **Outcome**: {gradient['outcome_label']} (lower is better); the gradient is measured across
  {gradient['quantiles']} population-weighted groups of areas by IMD score.

{population_groups()}
## Assumptions

- **Budget**: {note}.
- **Age bands on 2021 LSOAs**: mid-2020 counts by single year of age exist for 2011 LSOAs only; each 2011
  LSOA's counts are shared among the 2021 LSOAs it maps to by Census 2021 residents, giving each 2021 LSOA
  its age shares, applied to its Census 2021 total. Unchanged LSOAs keep their own shares; the parts of a
  split LSOA share one age profile.
- **Aggregates** (wards, districts): counts add up over their LSOAs; scores and indicators are
  population-weighted means of their LSOAs'; `imd_quintile` is the national quintile where most of the
  area's people live. Every English 2021 LSOA lies in one 2024 ward.
- **Need**: per head from IoD2025 income deprivation (all ages, children, older people), the IoD2025
  health indicators, or NHS England's weighted-population index of the LSOA's 2021 district (the same for
  every LSOA of a district). Suppressed small income counts are imputed (at most 7.5 people) and counted in
  `imputed_numerators`.
- **Response curves** are gains per head against *units of service* per head: a different local unit cost
  changes what a pound buys, not what a unit does. They are calibrated to the York mortality elasticities
  at the national reference intensity (see each model's assumptions in `models/response/`).
- **Costs**: `cost_index` is 1 everywhere: the public data here hold no market-forces or rurality index.
  Put your own in `areas.csv` (e.g. the NHS market forces factor of your area); a service whose costs
  differ takes its own areas column through `cost_index_column` in `services.csv`.
- **Floors and caps** are the bundled services' (0.3-0.6 and 3 times the national reference intensity):
  a universal offer everywhere, and a limit on intensity.
- **Service groups** (`[[service_group]]` in `scenario.toml`, no bounds: names for sweeps and reports):
  *universal*, offered to everyone in the target population (health visiting, school nursing,
  open-access sexual health, NHS Health Checks), and *targeted*, for people with a particular risk or
  need (stop smoking, drug and alcohol treatment, physical activity and weight management, falls
  prevention). A judgement, so that `allocator sweep {{this folder}} --vary
  transfer.universal_to_targeted=0:200e6:5` asks what moving money from one to the other does; give the
  groups bounds (`min_share`, `max_gbp`, ...) to ring-fence them.

## Sources

{SOURCES}"""
