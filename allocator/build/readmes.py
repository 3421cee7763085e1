"""The READMEs of the bundled scenarios and of ``models/``: every source and assumption.

Each function returns Markdown text; `allocator.build.scenarios` writes it. The numbers
in the text come from the data and from `allocator.build.assumptions`, so a README
always states what its files were built with.
"""

from __future__ import annotations

import pandas as pd

from allocator.build.assumptions import (
    ATTRIBUTION,
    BUDGET_GBP,
    CAP_MULTIPLE,
    CCG_SPEND_PER_HEAD_GBP,
    LIFE_TABLE_ENTROPY,
    LIFE_TABLE_ENTROPY_RANGE,
    QUICKSTART_BUDGET_GBP,
    SUPPRESSED_COUNT_MAX,
    YORK_MAIN_COMMIT,
)
from allocator.build.sources import CIDR, YPLL

COLUMN_NOTES = {
    "area_id": "LSOA 2011 code",
    "area_name": "LSOA 2011 name (IoD 2019 File 6)",
    "lad19_code": "2019 district of the LSOA", "lad19_name": "its name",
    "nhs_region": "NHS England region (2022) of the district, from the NHS weighted-population "
                  "file (LAD21 -> Region22; the region holding most of the district's registered "
                  "patients; abolished 2019 districts via their 2021 successor). Not the ONS region.",
    "population": "total population, mid-2015, excluding prisoners (IoD 2019 denominator)",
    "pop_0_15": "children 0-15, mid-2015", "pop_16_59": "people 16-59, mid-2015",
    "pop_60_plus": "people 60 and over, mid-2015",
    "lsoa_count": "number of LSOAs in the district",
    "imd_rank": "IMD 2019 rank, 1 = most deprived of 32,844",
    "imd_decile": "IMD 2019 decile, 1 = most deprived",
    "imd_quintile": "(imd_decile + 1) // 2, 1 = most deprived",
    "imd_score": "IMD 2019 district average score (File 10 `Score`, population-weighted "
                 "average of LSOA scores); higher = more deprived",
    "imd_rank_of_score": "rank of imd_score among the 317 districts, 1 = most deprived",
    "income_deprivation_rate": "income-deprived people / population (imputed where suppressed)",
    "child_income_deprivation_rate": "IDACI numerator / pop_0_15 (imputed where suppressed)",
    "older_income_deprivation_rate": "IDAOPI numerator / pop_60_plus (imputed where suppressed)",
    YPLL: "IoD 2019 years of potential life lost indicator (premature death under 75, "
          "age/sex standardised, 2013-17; higher is worse)",
    CIDR: "IoD 2019 comparative illness and disability ratio (100 = England average)",
    "nhs_need_index": "NHS England Final WP / registered population of the district (2024/25)",
    "imputed_numerators": "how many of this LSOA's three income numerators were suppressed "
                          "and imputed (0-3)",
    "life_expectancy_years": "persons life expectancy at birth (approximation, see below)",
    "le_gap_years": "persons LE of the district's least deprived decile minus its most deprived",
    "life_expectancy_source": "where life_expectancy_years came from",
    "cost_index": "1 everywhere: no area cost adjustment is in the shared data",
}
DISTRICT_COLUMN_NOTES = {
    **COLUMN_NOTES,
    "area_id": "LAD 2019 code",
    "area_name": "district name, 2019 (IoD 2019 File 6)",
    "population": "total population, mid-2015, excluding prisoners: sum of the district's LSOAs",
    "pop_0_15": "children 0-15, mid-2015, summed from LSOAs",
    "pop_16_59": "people 16-59, mid-2015, summed from LSOAs",
    "pop_60_plus": "people 60 and over, mid-2015, summed from LSOAs",
    "imd_decile": "population-weighted decile of the 317 districts by imd_score, 1 = most "
                  "deprived (see below; not an IMD publication figure)",
    "imd_quintile": "(imd_decile + 1) // 2, 1 = most deprived",
    "income_deprivation_rate": "sum of LSOA income-deprived (imputed where suppressed) / population",
    "child_income_deprivation_rate": "sum of LSOA IDACI numerators (imputed where suppressed) "
                                     "/ pop_0_15",
    "older_income_deprivation_rate": "sum of LSOA IDAOPI numerators (imputed where suppressed) "
                                     "/ pop_60_plus",
    YPLL: "population-weighted mean of the LSOAs' IoD 2019 years of potential life lost "
          "indicator (premature death under 75, age/sex standardised, 2013-17; higher is worse)",
    CIDR: "population-weighted mean of the LSOAs' comparative illness and disability ratio",
}


def markdown_table(frame: pd.DataFrame) -> str:
    """A data frame as a Markdown table, cells as ``str`` gives them."""
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def services_markdown(services: pd.DataFrame, outcome: str) -> str:
    """The services table of a scenario README and a note on each unit cost."""
    table = pd.DataFrame({
        "service_id": services["service_id"],
        "stage": services["life_course_stage"],
        "target": services["target_population"],
        "unit": services["unit"],
        "unit cost": [f"£{c:,}" for c in services["unit_cost_gbp"]],
        "floor": services["floor_units_per_head"].map(lambda v: f"{v:g}"),
        "reference": services["reference_units_per_head"].map(lambda v: f"{v:g}"),
        "cap": services["cap_units_per_head"].map(lambda v: f"{v:g}"),
        "need model": services["need_model"],
        "response model": [f"york-{outcome}-{s.replace('_', '-')}" for s in services["service_id"]],
    })
    notes = "\n".join(f"- `{s.service_id}`: {s.service_name}. Unit cost: {s.cost_note} "
                      f"(assumption, order of magnitude)." for s in services.itertuples())
    return markdown_table(table) + "\n\n" + notes


def cost_at(services: pd.DataFrame, areas: pd.DataFrame, column: str) -> float:
    """What every area at ``column`` (units per head) of every service costs, in pounds."""
    return float(sum(s.unit_cost_gbp * getattr(s, column) * areas[s.target_population].sum()
                     for s in services.itertuples()))


def common_assumptions(services: pd.DataFrame) -> str:
    """The assumptions the three scenario READMEs share, as a Markdown list."""
    shares = ", ".join(f"{s.service_id} {s.budget_share:.0%}" for s in services.itertuples())
    floors = ", ".join(f"{s.service_id} {s.floor_fraction:g}" for s in services.itertuples())
    return f"""\
- **Services, unit costs, floors, caps.** Unit costs are assumptions of the right order
  of magnitude (PSSRU *Unit Costs of Health and Social Care* 2023 and the tariffs
  named in the table), not prices. Each service has a *reference intensity*: what
  the national £{BUDGET_GBP / 1e9:.1f}bn would buy if spread uniformly over the target
  population in rough shares of the grant by line (after local authority revenue
  outturn public health lines, rescaled so that the eight services use the whole
  grant: {shares}). Floor = a stated fraction of the reference, higher for
  universal services than targeted ones ({floors}); cap = {CAP_MULTIPLE:g} x
  reference.
- **Target populations.** The shared data have only the bands 0-15, 16-59 and 60+:
  0-15 stands in for 0-4 (health visiting) and 5-19 (school nursing); 16-59 for
  adults (Health Checks are for 40-74).
- **Cost index** = 1 in every area (no market-forces or rurality index in the shared data).
- **Suppressed numerators.** In IoD 2019 File 8, counts are published as multiples of
  5 and none below 10; a blank is a small count. Imputed (capped at
  {SUPPRESSED_COUNT_MAX} people, the largest count that rounds below 10): all-age
  income by interpolating the published rate over the LSOA's income-domain rank (the
  domain score is that rate, and its rank is published for every LSOA); children
  (IDACI) and older people (IDAOPI) as the LSOA's all-age rate times the ratio of
  the age-specific to the all-age rate in its national income decile.
- **Need.** Each service's need model is named in the table; see `models/README.md`.
- **Response.** Curves calibrated to the York mortality elasticities, one per service
  and outcome; effectiveness by national IMD quintile (the modifier) = York
  elasticity / population-weighted mean. See `models/README.md`."""


def attribution_markdown(keys: list[str]) -> str:
    """The attributions of the named sources (keys of ``ATTRIBUTION``), one bullet each."""
    return "\n".join(f"- {ATTRIBUTION[k]}" for k in keys)


# ---------------------------------------------------------------------------
# models/README.md
# ---------------------------------------------------------------------------


def _need_rows(needs: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({
        "model": [f"`{m['name']}`" for m in needs],
        "formula (raw need per head)": [" + ".join(f"{w:g} x `{c}`" for c, w in m["terms"])
                                        for m in needs],
        "what": [m["title"] for m in needs]})


def _response_rows(responses: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({
        "model": [f"`{m['name']}`" for m in responses],
        "outcome_units": [m["outcome_units"] for m in responses],
        "units per head": [", ".join(f"{u:g}" for u in m["units"]) for m in responses],
        "gain per head": [", ".join(f"{g:g}" for g in m["gains"]) for m in responses]})


def _quintile_rows(york: dict) -> pd.DataFrame:
    return pd.DataFrame({
        "IMD quintile": ["1 (most deprived)", "2", "3", "4", "5 (least deprived)"],
        "population (2019 CCG file)": [f"{p:,.0f}" for p in york["population"]],
        "York mortality per 100,000": [f"{m:g}" for m in york["mortality"]],
        "York elasticity (dev)": [f"{e:g}" for e in york["elasticity"]],
        "modifier": [f"{v:.4f}" for v in york["modifier"]],
        f"York elasticity (main, {YORK_MAIN_COMMIT})": [f"{e:g}" for e in york["main_elasticity"]],
        "modifier if main (not used)": [f"{v:.4f}" for v in york["main_modifier"]]})


def _uncertainty_ranges(responses: list[dict]) -> str:
    """One line per distinct effect-size distribution, naming the models that use it."""
    ranges = {}
    for m in responses:
        u = m["uncertainty"]
        ranges.setdefault((u["low"], u["mode"], u["high"]), []).append(m["name"])
    return "\n".join(
        f"- triangular(low = {low:.4f}, mode = {mode:g}, high = {high:.4f}): "
        + ", ".join(f"`{n}`" for n in names)
        for (low, mode, high), names in ranges.items())


def _models_intro(needs: list[dict]) -> str:
    need_rows = _need_rows(needs)
    return f"""\
# Models

Evidence as data, referenced by name from `scenarios/*/services.csv`. Written by
`python -m allocator.build` from the shared public data: rerun it rather than edit
these files. Format: `docs/scenario-format.md`.

## Need models (`need/`)

Raw need per head = the formula, evaluated on each area's columns (which the build
script writes into every `areas.csv`); the allocator normalises it per service so that
its mean weighted by the service's target population is 1. All raw needs are > 0.

{markdown_table(need_rows)}"""


def _models_responses(responses: list[dict], york: dict) -> str:
    response_rows = _response_rows(responses)
    quintiles = _quintile_rows(york)
    return f"""\
## Response models (`response/`)

One concave piecewise-linear curve per service and outcome: `york-le-*` in years of
life expectancy (district scenarios), `york-ypll-*` in points of the IoD 2019 years of
potential life lost indicator (LSOA scenario; a *fall* in YPLL is the gain, so gains
are positive). One curve per service, not one shared curve, because the curve is in
units of service and units cost from £40 to £2,500: a shared curve would make a
£40 Health Check as effective as a £2,500 treatment year.

{markdown_table(response_rows)}

Every response model has the same modifier, on `imd_quintile`:

{markdown_table(quintiles)}

modifier = elasticity / population-weighted mean elasticity ({york['mean_elasticity']:.6f};
York's own "equal mortality elasticity" is {york['equal_elasticity']:g}). Only the
elasticity is in the modifier: York's deaths averted = mortality rate x elasticity, but
the mortality rate is the *level of need*, which the need model carries; putting it in
the modifier too would count need twice. In district scenarios `imd_quintile` is the
district's own quintile (population-weighted quintiles of districts by IMD score), an
approximation: York's quintiles are national LSOA quintiles and a district mixes them."""


def _models_uncertainty(responses: list[dict], york: dict) -> str:
    h_low, h_high = LIFE_TABLE_ENTROPY_RANGE
    ratio = york["main_over_dev"]
    range_lines = _uncertainty_ranges(responses)
    return f"""\
## Effect-size uncertainty (`[uncertainty]`)

Every response model has an `[uncertainty]` table: `scale`, the multiplier of every
gain of the curve, is uncertain, and Monte Carlo sweeps draw it. The curve's scale is
proportional to the population-weighted mean York elasticity and, for the life
expectancy curves (`york-le-*`), to the life-table entropy H; the YPLL curves
(`york-ypll-*`) do not use H. Two pieces of evidence:

- **H** = {LIFE_TABLE_ENTROPY:g}, of order {h_low:g}-{h_high:g}: a factor of
  {h_low / LIFE_TABLE_ENTROPY:.4f} to {h_high / LIFE_TABLE_ENTROPY:.4f} on the LE curves.
- **The elasticity** has moved between the calculator's branches. With the same
  quintile populations (table above), the population-weighted mean is
  {york['main_mean_elasticity']:.6f} on `main` ({YORK_MAIN_COMMIT}) and
  {york['mean_elasticity']:.6f} on `dev` (08361a49, the one the curves use):
  ratio main/dev = {ratio:.4f}. Two estimates are not a confidence interval; the size
  of the revision is the only evidence in the shared data of how far the estimate moves.

Distribution: triangular, mode 1 (the curve as built), low = (H_low / H) x min(1,
ratio), high = (H_high / H) x max(1, ratio) on the LE curves and min(1, ratio),
max(1, ratio) on the YPLL curves, rounded to 4 decimals:

{range_lines}

The YPLL range is one-sided (nothing in the data says the effect is larger than built).
Left out, so the true uncertainty is wider: the elasticities' sampling error (not in
the shared data), the £{CCG_SPEND_PER_HEAD_GBP:,} spend per head, the transfer from NHS
to public health spend and the curve's shape. The quintile modifier is not made
uncertain: it keeps the dev elasticities, although main's would reshape it (last
column above). The factor is common to every York curve of an outcome, so the curves
of one outcome share a `draw_group` (`york-le-effect-size`, `york-ypll-effect-size`):
each Monte Carlo draw takes the same quantile for all of them, and they move together
as one source of uncertainty (drawn independently, the services' gains would move
apart at random and the uncertainty of the total gain would be understated)."""


def _models_sources(needs: list[dict], responses: list[dict]) -> str:
    """Every need model in full, and the first response model of each outcome."""
    firsts: dict[str, dict] = {}
    for model in responses:
        firsts.setdefault(model["outcome_units"], model)
    assumption_text = "\n\n".join(
        f"### `{m['name']}`\n\n{m['description']}\n\nSource: {m['source']}\n\n"
        + "\n".join(f"- {a}" for a in m["assumptions"])
        for m in needs + list(firsts.values()))
    return f"""\
## Sources and assumptions, in full

{assumption_text}

The other response models differ only in service (unit cost, reference intensity,
target population), as the tables above show.

## Attribution

{attribution_markdown(['imd', 'imd2025', 'census', 'geography', 'nhs', 'york', 'le'])}"""


def models_readme(needs: list[dict], responses: list[dict], york: dict) -> str:
    """``models/README.md``: the need and response models, their sources and assumptions."""
    sections = [_models_intro(needs), _models_responses(responses, york),
                _models_uncertainty(responses, york), _models_sources(needs, responses)]
    return "\n\n".join(sections) + "\n"


# ---------------------------------------------------------------------------
# Scenario READMEs
# ---------------------------------------------------------------------------


def quickstart_readme(areas: pd.DataFrame, services: pd.DataFrame, baseline: pd.DataFrame) -> str:
    """``scenarios/quickstart/README.md``."""
    floors = cost_at(services, areas, "floor_units_per_head")
    caps = cost_at(services, areas, "cap_units_per_head")
    shown = areas[["area_id", "area_name", "population", "imd_score", "imd_quintile",
                   "life_expectancy_years"]].copy()
    shown["imd_score"] = shown["imd_score"].map(lambda v: f"{v:.1f}")
    shown["life_expectancy_years"] = shown["life_expectancy_years"].map(lambda v: f"{v:.1f}")
    shown["population"] = shown["population"].map(lambda v: f"{v:,}")
    spend = baseline.groupby("service_id")["spend_gbp"].sum()
    return f"""\
# Quickstart: the North East, three services

A scenario small enough to follow by eye: the 12 districts of the North East (ONS
region E12000001), {areas['population'].sum():,} people, and three services, one per
stage of the life course: health visiting (early years), drug and alcohol treatment
(working age) and falls prevention (older people). A round budget of
£{QUICKSTART_BUDGET_GBP:,}, a little above last year's spend, is split with a universal
floor in every district and intensity rising with need, to maximise the gain in life
expectancy. No pace of change.

All numbers are real (IMD 2019, NHS weighted populations, PHE life expectancy, York
elasticities) and the columns are those of `../england-la`; the district deciles and
quintiles are national (from all 317 districts). Written by
`python -m allocator.build`; rerun it rather than edit these files.

{markdown_table(shown)}

## Budget and baseline

- Budget £{QUICKSTART_BUDGET_GBP:,} (assumption: a round figure). Mode `exact`.
- **Baseline (assumption, not data):** last year's spend = each service at its national
  reference intensity in every district (a uniform intensity, no proportionality):
  {', '.join(f'{k} £{v:,.2f}' for k, v in spend.items())}; total
  £{baseline['spend_gbp'].sum():,.2f}. So there is £{QUICKSTART_BUDGET_GBP - baseline['spend_gbp'].sum():,.2f}
  of new money.
- Floors cost £{floors:,.0f} ({floors / QUICKSTART_BUDGET_GBP:.0%} of the budget); caps
  allow £{caps:,.0f}.

## Services

{services_markdown(services, 'le')}

## Assumptions

As `../england-la/README.md` (the columns, imputations, mappings and life-expectancy
approximation are the same), and:

{common_assumptions(services)}
- The North East's 12 districts are listed in the build script; checked against
  LE_data, where their populations sum exactly to the region's.

## Attribution

{attribution_markdown(['imd', 'imd2025', 'census', 'geography', 'nhs', 'york', 'le'])}
"""
