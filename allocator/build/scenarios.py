#!/usr/bin/env python
"""Build the example scenarios and the evidence models from the shared public data.

    python scripts/build_scenarios.py --shared ../shared/data

writes (overwriting) ``models/need/*.toml``, ``models/response/*.toml``,
``models/README.md`` and ``scenarios/{england-lsoa,england-la,quickstart}/``.
The file formats are those of ``docs/scenario-format.md``.

This script is the only code that reads the shared data folder; nothing in the
package or the tests does. It is deterministic: rows are sorted, floats are written
in fixed formats, so a rerun on the same data is byte-identical.

Every number that is an assumption rather than data is a named constant in the
"Assumptions" section below, and is repeated in the README written next to the
files that use it.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

# ---------------------------------------------------------------------------
# Assumptions
# ---------------------------------------------------------------------------

#: National budget: the 2024/25 England public health grant was about £3.6bn.
BUDGET_GBP = 3_600_000_000

#: Quickstart budget: a round number a little above last year's spend there.
QUICKSTART_BUDGET_GBP = 100_000_000

#: England-LA pace of change: each district's total within -5% / +15% of baseline.
PACE_MAX_DECREASE = 0.05
PACE_MAX_INCREASE = 0.15

#: Suppressed IoD numerators. Published counts are multiples of 5 and none is
#: below 10, so a blank is a small count; assuming rounding to the nearest 5,
#: the true count is below 7.5, and an imputed count is capped there.
SUPPRESSED_COUNT_MAX = 7.5

#: York: a 1% change in spend is 1% of CCG allocations per head. CCG allocations
#: in 2019/20 were of the order of £80bn for 56m people: about £1,400 a head.
CCG_SPEND_PER_HEAD_GBP = 1_400

#: Life-table entropy (Keyfitz H) for England: a proportional fall m in
#: mortality at all ages raises life expectancy by about H * e0 * m.
LIFE_TABLE_ENTROPY = 0.15
#: Its plausible range ("of order 0.13-0.16"): the ends of the H part of the
#: effect-size uncertainty of the life-expectancy curves.
LIFE_TABLE_ENTROPY_RANGE = (0.13, 0.16)

#: The York calculator's other branch (commit in york_unmet_need/SOURCE.md): its
#: elasticities, against dev's, measure how far the estimate has moved. Used only
#: for the effect-size uncertainty written into every response model.
YORK_MAIN_COMMIT = "ed3a040f"

#: Shape of every response curve, in multiples of the service's reference
#: intensity r (what the national budget buys at a uniform intensity).
#: The York marginal gain applies at r (mean of the slopes either side of it);
#: returns diminish: steeper below r, flatter above, flat beyond the cap.
CURVE_BREAKS = (0.0, 0.5, 1.0, 2.0, 3.0)
CURVE_SLOPES = (1.6, 1.2, 0.8, 0.4)
CAP_MULTIPLE = 3.0

#: The eight services. ``budget_share``: rough share of the grant by line,
#: after English local authority revenue outturn (RO) public health lines,
#: rounded and rescaled so that the eight services use the whole grant.
#: ``unit_cost_gbp``: order of magnitude, PSSRU Unit Costs of Health and Social
#: Care (2023) and the NHS/tariff sources named in ``cost_note``.
#: ``floor_fraction``: universal floor as a share of the reference intensity.
SERVICES = [
    dict(service_id="health_visiting",
         service_name="Health visiting and family support (0-5 Healthy Child Programme)",
         life_course_stage="early years", target_population="pop_0_15",
         unit="one health visitor or family support contact", unit_cost_gbp=100,
         cost_note="community nurse (Agenda for Change band 6) cost per hour of "
                   "patient-related work, PSSRU, of the order of £100",
         budget_share=0.30, floor_fraction=0.6, need_model="imd-income-children"),
    dict(service_id="school_nursing",
         service_name="School nursing and young people's mental health support",
         life_course_stage="school age", target_population="pop_0_15",
         unit="one school nurse or wellbeing practitioner contact", unit_cost_gbp=80,
         cost_note="school nurse / children's wellbeing practitioner hour, PSSRU, "
                   "of the order of £60-£100",
         budget_share=0.10, floor_fraction=0.5, need_model="imd-income-children"),
    dict(service_id="stop_smoking",
         service_name="Stop smoking service",
         life_course_stage="working age", target_population="pop_16_59",
         unit="one supported quit attempt (12 weeks' behavioural support and medication)",
         unit_cost_gbp=250,
         cost_note="NICE/NCSCT costings of a supported quit attempt, of the order "
                   "of £200-£300",
         budget_share=0.05, floor_fraction=0.3, need_model="imd-income"),
    dict(service_id="drug_alcohol",
         service_name="Drug and alcohol treatment and recovery",
         life_course_stage="working age", target_population="pop_16_59",
         unit="one person-year in structured community treatment", unit_cost_gbp=2_500,
         cost_note="community drug and alcohol treatment, PSSRU, of the order of "
                   "£2,000-£3,000 per person-year",
         budget_share=0.22, floor_fraction=0.3, need_model="imd-income"),
    dict(service_id="sexual_health",
         service_name="Sexual health services (testing, treatment, contraception)",
         life_course_stage="working age", target_population="pop_16_59",
         unit="one sexual health clinic attendance", unit_cost_gbp=130,
         cost_note="integrated sexual health tariffs, of the order of £100-£150 "
                   "per attendance",
         budget_share=0.18, floor_fraction=0.5, need_model="imd-income"),
    dict(service_id="health_checks",
         service_name="NHS Health Checks (cardiovascular risk, ages 40-74)",
         life_course_stage="working age", target_population="pop_16_59",
         unit="one NHS Health Check", unit_cost_gbp=40,
         cost_note="invitation, check and bloods, of the order of £25-£50",
         budget_share=0.03, floor_fraction=0.4, need_model="nhs-weighted"),
    dict(service_id="physical_activity",
         service_name="Physical activity and weight management (adults)",
         life_course_stage="working age", target_population="pop_16_59",
         unit="one tier-2 weight management or exercise course", unit_cost_gbp=250,
         cost_note="tier-2 behavioural weight management programmes, of the order "
                   "of £150-£300 per course",
         budget_share=0.07, floor_fraction=0.3, need_model="imd-health"),
    dict(service_id="falls_prevention",
         service_name="Falls prevention (strength and balance)",
         life_course_stage="older people", target_population="pop_60_plus",
         unit="one strength-and-balance course (e.g. FaME, Otago)", unit_cost_gbp=400,
         cost_note="group strength-and-balance programmes, of the order of "
                   "£300-£600 per course",
         budget_share=0.05, floor_fraction=0.3, need_model="imd-income-older"),
]
QUICKSTART_SERVICES = ["health_visiting", "drug_alcohol", "falls_prevention"]

TARGET_POPULATION_NOTES = {
    "pop_0_15": "children 0-15 (IoD 2019 denominator; stands in for 0-4 and 5-19, "
                "which the shared data do not have)",
    "pop_16_59": "people aged 16-59 (stands in for adults; NHS Health Checks are "
                 "for 40-74, which the shared data do not have)",
    "pop_60_plus": "people aged 60 and over",
}

# ---------------------------------------------------------------------------
# Geography: facts about boundary changes, checked against the data below
# ---------------------------------------------------------------------------

#: The 12 districts of the North East region (ONS E12000001). Checked: their
#: LE_data populations sum exactly to the region's.
NORTH_EAST = [
    "E06000001", "E06000002", "E06000003", "E06000004", "E06000005", "E06000047",
    "E06000057", "E08000021", "E08000022", "E08000023", "E08000024", "E08000037",
]

#: 2019 districts abolished by 2021 (the NHS file uses 2021 districts): each maps
#: to its successor unitary authority.
SUCCESSOR_2021 = {
    # Buckinghamshire (1 April 2020)
    "E07000004": "E06000060", "E07000005": "E06000060",
    "E07000006": "E06000060", "E07000007": "E06000060",
    # North Northamptonshire (1 April 2021)
    "E07000150": "E06000061", "E07000152": "E06000061",
    "E07000153": "E06000061", "E07000156": "E06000061",
    # West Northamptonshire (1 April 2021)
    "E07000151": "E06000062", "E07000154": "E06000062", "E07000155": "E06000062",
}

#: 2019 districts created by the April 2019 mergers: LE_data still has their
#: predecessors, whose rows are pooled.
LE_PREDECESSORS = {
    "E06000058": ["E06000028", "E06000029", "E07000048"],  # Bournemouth, Christchurch and Poole
    "E06000059": ["E07000049", "E07000050", "E07000051", "E07000052", "E07000053"],  # Dorset
    "E07000244": ["E07000205", "E07000206"],  # East Suffolk
    "E07000245": ["E07000201", "E07000204"],  # West Suffolk
    "E07000246": ["E07000190", "E07000191"],  # Somerset West and Taunton
}
#: Districts with no life-expectancy rows at all: use their region's.
LE_REGION_FALLBACK = {"E09000001": ("E12000007", "London")}  # City of London

# ---------------------------------------------------------------------------
# Attribution
# ---------------------------------------------------------------------------

ATTRIBUTION = {
    "imd": "Contains public sector information licensed under the Open Government "
           "Licence v3.0 (Ministry of Housing, Communities and Local Government, "
           "English Indices of Deprivation 2019); packaged by github.com/humaniverse/IMD "
           "(MIT) and github.com/ScHARR-PHEDS/DoPE_Public (MIT).",
    "nhs": "NHS England weighted populations 2024/25 (revenue allocations 2023/24 to "
           "2024/25), Crown copyright, from github.com/nhsx/AIF_Allocation_Tool "
           "(MIT and Open Government Licence v3.0).",
    "york": "Mortality elasticities by IMD quintile from the University of York "
            "unmet-need calculator, github.com/dark-peak-analytics/unmet-needs "
            "(MIT), branch dev commit 08361a49.",
    "le": "Life expectancy by deprivation decile: Public Health England figures, as "
          "packaged in the LE_data example data of the PHEindicatormethods R package "
          "(UKHSA, GPL-3, v2.1.0); only the packaging is from PHEindicatormethods.",
}

def check(condition: bool, message: str) -> None:
    """Stop the build with a message: the shared data are not what this script expects."""
    if not condition:
        raise SystemExit(f"check failed: {message}")


# ---------------------------------------------------------------------------
# Reading the shared data
# ---------------------------------------------------------------------------

POPULATION_COLUMNS = {
    "LSOA code (2011)": "area_id",
    "LSOA name (2011)": "area_name",
    "Local Authority District code (2019)": "lad19_code",
    "Local Authority District name (2019)": "lad19_name",
    "Total population: mid 2015 (excluding prisoners)": "population",
    "Dependent Children aged 0-15: mid 2015 (excluding prisoners)": "pop_0_15",
    "Population aged 16-59: mid 2015 (excluding prisoners)": "pop_16_59",
    "Older population aged 60 and over: mid 2015 (excluding prisoners)": "pop_60_plus",
}
INCOME = "income_domain_numerator"
CHILDREN = "income_deprivation_affecting_children_index_idaci_numerator"
OLDER = "income_deprivation_affecting_older_people_index_idaopi_numerator"
YPLL = "years_of_potential_life_lost_indicator"
CIDR = "comparative_illness_and_disability_ratio_indicator"


def read_lsoas(shared: Path) -> pd.DataFrame:
    """Every English LSOA with its population, IMD ranks and the indicators used."""
    imd = shared / "imd2019"
    population = pd.read_csv(imd / "IoD2019_Population_Denominators.csv",
                             thousands=",", usecols=list(POPULATION_COLUMNS))
    population = population.rename(columns=POPULATION_COLUMNS)
    ranks = pd.read_csv(imd / "imd2019_england_lsoa11.csv",
                        usecols=["lsoa11_code", "IMD_rank", "IMD_decile",
                                 "Income_rank", "Income_decile"])
    indicators = pd.read_csv(imd / "imd2019_england_lsoa11_indicators.csv",
                             usecols=["lsoa11_code", INCOME, CHILDREN, OLDER, YPLL, CIDR])
    lsoas = (population
             .merge(ranks.rename(columns={"lsoa11_code": "area_id"}),
                    on="area_id", how="inner", validate="one_to_one")
             .merge(indicators.rename(columns={"lsoa11_code": "area_id"}),
                    on="area_id", how="inner", validate="one_to_one"))
    check(len(population) == len(ranks) == len(indicators) == len(lsoas) == 32_844,
          f"LSOA files do not join one-to-one: {len(population)}, {len(ranks)}, "
          f"{len(indicators)} rows, {len(lsoas)} joined")
    check(lsoas["population"].sum() == 54_728_204,
          f"LSOA population {lsoas['population'].sum():,}, expected 54,728,204")
    check((lsoas["pop_0_15"] + lsoas["pop_16_59"] + lsoas["pop_60_plus"]
           == lsoas["population"]).all(), "age bands do not add up to the total")
    for column in ["IMD_rank", "IMD_decile", "Income_rank", "Income_decile"]:
        lsoas[column] = lsoas[column].astype(int)
    lsoas["imd_quintile"] = (lsoas["IMD_decile"] + 1) // 2
    return lsoas.sort_values("area_id").reset_index(drop=True)


def impute_suppressed_numerators(lsoas: pd.DataFrame) -> pd.DataFrame:
    """Fill blank (suppressed) income-deprivation numerators; add the three rates.

    All-age income: the income domain score is the numerator over the population,
    and its rank is published for every LSOA, so a suppressed LSOA's rate is
    interpolated from the published rates at neighbouring income ranks.
    Children and older people: the LSOA's all-age rate times the ratio of the
    age-specific rate to the all-age rate in its national income decile.
    Both are capped at SUPPRESSED_COUNT_MAX people.
    """
    out = lsoas.copy()
    published = out[INCOME].notna()
    rate_by_rank = (out.loc[published, INCOME] / out.loc[published, "population"]
                    ).groupby(out.loc[published, "Income_rank"]).mean()
    interpolated = np.interp(out["Income_rank"], rate_by_rank.index, rate_by_rank.values)
    expected = pd.Series(out["population"] * interpolated, index=out.index)
    income = out[INCOME].fillna(expected.clip(upper=SUPPRESSED_COUNT_MAX))
    all_age_rate = income / out["population"]

    def impute_age_group(numerator: str, denominator: str) -> pd.Series:
        both = out[numerator].notna() & published
        by_decile = out[both].groupby("Income_decile")
        ratio = ((by_decile[numerator].sum() / by_decile[denominator].sum())
                 / (by_decile[INCOME].sum() / by_decile["population"].sum()))
        expected = out[denominator] * all_age_rate * out["Income_decile"].map(ratio)
        return out[numerator].fillna(expected.clip(upper=SUPPRESSED_COUNT_MAX))

    out["income_deprived"] = income
    out["children_income_deprived"] = impute_age_group(CHILDREN, "pop_0_15")
    out["older_income_deprived"] = impute_age_group(OLDER, "pop_60_plus")
    out["imputed_numerators"] = out[[INCOME, CHILDREN, OLDER]].isna().sum(axis=1)
    out["income_deprivation_rate"] = out["income_deprived"] / out["population"]
    out["child_income_deprivation_rate"] = out["children_income_deprived"] / out["pop_0_15"]
    out["older_income_deprivation_rate"] = out["older_income_deprived"] / out["pop_60_plus"]
    return out


def read_nhs_need(shared: Path, lad19_codes: list[str]) -> tuple[pd.DataFrame, dict]:
    """NHS weighted-population need index and NHS region for each 2019 district."""
    nhs = pd.read_csv(shared / "nhs_weighted_populations" / "2024_2025.csv",
                      usecols=["LAD21", "LTLA21", "Region22", "pop 2022/23", "Final WP"])
    by_lad21 = nhs.groupby("LAD21")[["pop 2022/23", "Final WP"]].sum()
    by_lad21["nhs_need_index"] = by_lad21["Final WP"] / by_lad21["pop 2022/23"]
    # A few districts have practices in two NHS regions: take the region holding
    # most of the district's registered population.
    by_region = nhs.groupby(["LAD21", "Region22"])["pop 2022/23"].sum().reset_index()
    main_region = (by_region.sort_values(["LAD21", "pop 2022/23"], ascending=[True, False])
                   .drop_duplicates("LAD21").set_index("LAD21")["Region22"])
    by_lad21["nhs_region"] = main_region
    split = by_region.groupby("LAD21").size()
    split = sorted(split[split > 1].index)

    lad21 = pd.Series([SUCCESSOR_2021.get(code, code) for code in lad19_codes],
                      index=lad19_codes)
    missing = sorted(set(lad21) - set(by_lad21.index))
    check(not missing, f"2019 districts with no NHS district: {missing}")
    unused = sorted(set(by_lad21.index) - set(lad21))
    check(not unused, f"NHS districts matching no 2019 district: {unused}")
    result = by_lad21.loc[lad21.values, ["nhs_need_index", "nhs_region"]]
    result.index = lad21.index
    stats = {"practices": len(nhs), "lad21": len(by_lad21),
             "mapped_to_successor": len(SUCCESSOR_2021), "split_region_districts": split,
             "national_index": nhs["Final WP"].sum() / nhs["pop 2022/23"].sum()}
    return result, stats


def read_life_expectancy(shared: Path, lad19_codes: list[str]) -> tuple[pd.DataFrame, float]:
    """Persons life expectancy and the decile 10 - decile 1 gap per 2019 district.

    Persons LE is approximated as the Pop-weighted mean of the male and female
    LE of every decile (LE is not additive; a pooled life table would be exact).
    Returns the table and England's persons LE, computed the same way.
    """
    le = pd.read_csv(shared / "life_expectancy_by_decile" / "LE_data.csv")

    def summarise(rows: pd.DataFrame) -> tuple[float, float]:
        weighted = rows.assign(w=rows["Pop"] * rows["LifeExp"])
        overall = weighted["w"].sum() / weighted["Pop"].sum()
        by_decile = weighted.groupby("Decile")[["w", "Pop"]].sum()
        by_decile = by_decile["w"] / by_decile["Pop"]
        gap = by_decile[10] - by_decile[1] if {1, 10} <= set(by_decile.index) else math.nan
        return overall, gap

    records = []
    codes = set(le["GeoCode"])
    for code in lad19_codes:
        if code in codes:
            source, rows = "district", le[le["GeoCode"] == code]
        elif code in LE_PREDECESSORS:
            source = "pooled predecessors " + " ".join(LE_PREDECESSORS[code])
            rows = le[le["GeoCode"].isin(LE_PREDECESSORS[code])]
            check(rows["GeoCode"].nunique() == len(LE_PREDECESSORS[code]),
                  f"predecessors of {code} missing from LE_data")
        elif code in LE_REGION_FALLBACK:
            region, name = LE_REGION_FALLBACK[code]
            source, rows = f"region {region} ({name})", le[le["GeoCode"] == region]
        else:
            raise SystemExit(f"no life expectancy for district {code}")
        overall, gap = summarise(rows)
        if code in LE_REGION_FALLBACK:
            gap = math.nan  # the region's gap says nothing about the district's
        records.append({"area_id": code, "life_expectancy_years": overall,
                        "le_gap_years": gap, "life_expectancy_source": source})
    england, _ = summarise(le[le["GeoCode"] == "England"])
    north_east = le.loc[le["GeoCode"].isin(NORTH_EAST), "Pop"].sum()
    check(north_east == le.loc[le["GeoCode"] == "E12000001", "Pop"].sum(),
          "the 12 North East districts do not add up to the region in LE_data")
    return pd.DataFrame(records).set_index("area_id"), england


def read_york(shared: Path) -> dict:
    """York elasticities (dev; main for the uncertainty) and national IMD quintile populations."""
    folder = shared / "york_unmet_need"
    values = pd.read_csv(folder / "input_data_mQALE_values.csv")
    dev = values[values["branch"] == "dev"]
    quintiles = ["Q1 - Most Deprived", "Q2", "Q3", "Q4", "Q5 - Least Deprived"]

    def parameter(name: str, branch: str = "dev") -> np.ndarray:
        rows = values[(values["branch"] == branch) & (values["parameter"] == name)]
        rows = rows.set_index("group")["value"]
        check(rows.index.is_unique and set(quintiles) <= set(rows.index),
              f"York {branch} '{name}' is not one value per IMD quintile")
        return rows.loc[quintiles].to_numpy(dtype=float)

    check(YORK_MAIN_COMMIT in (folder / "SOURCE.md").read_text(encoding="utf-8"),
          f"york_unmet_need/SOURCE.md does not name main commit {YORK_MAIN_COMMIT}")
    ccgs = pd.read_csv(folder / "CCG_IMD_population_2019.csv")
    population = ccgs[quintiles].sum().to_numpy(dtype=float)
    elasticity = parameter("Mortality elasticity (per 1% spend)")
    mean_elasticity = float((population * elasticity).sum() / population.sum())
    # main: the same population weights, so the two means differ only by the elasticities
    main_elasticity = parameter("Mortality elasticity (per 1% spend)", "main")
    main_mean = float((population * main_elasticity).sum() / population.sum())
    return {"elasticity": elasticity, "mortality": parameter(
                "Mortality rate per 100000 (adjusted)"),
            "population": population, "mean_elasticity": mean_elasticity,
            "equal_elasticity": float(dev.loc[dev["parameter"] == "Equal mortality elasticity",
                                              "value"].iloc[0]),
            "modifier": elasticity / mean_elasticity,
            "main_elasticity": main_elasticity, "main_mean_elasticity": main_mean,
            "main_modifier": main_elasticity / main_mean,
            "main_over_dev": main_mean / mean_elasticity}


def scale_uncertainty(york: dict, uses_entropy: bool, group: str) -> tuple[dict, str]:
    """Effect-size uncertainty of a York curve: ``[uncertainty] scale`` and its explanation.

    The curve's scale is proportional to the population-weighted mean York
    elasticity, and, for life expectancy, to the life-table entropy H. Triangular,
    mode 1 (the curve as built); the ends combine the range of H (where the curve
    uses it) with the move from the dev to the main branch's mean elasticity:
    low = (H_low / H) * min(1, ratio), high = (H_high / H) * max(1, ratio),
    ratio = main / dev, rounded to 4 decimals.
    """
    ratio = york["main_over_dev"]
    h_low, h_high = LIFE_TABLE_ENTROPY_RANGE
    f_low, f_high = ((h_low / LIFE_TABLE_ENTROPY, h_high / LIFE_TABLE_ENTROPY) if uses_entropy
                     else (1.0, 1.0))
    low, high = round(f_low * min(1.0, ratio), 4), round(f_high * max(1.0, ratio), 4)
    check(low < 1.0 <= high or low <= 1.0 < high, "effect-size range does not straddle 1")
    table = {"distribution": "triangular", "low": low, "mode": 1.0, "high": high, "draw_group": group}
    elasticity = (f"Elasticity: the calculator's main branch (commit {YORK_MAIN_COMMIT}) gives "
                  f"a population-weighted mean of {york['main_mean_elasticity']:.6f} against "
                  f"dev's {york['mean_elasticity']:.6f} (same 2019 CCG quintile weights), ratio "
                  f"main/dev = {ratio:.4f}: the only evidence in the shared data of how far the "
                  f"estimate moves")
    if uses_entropy:
        scale = (f"The curve's scale is proportional to H x the mean elasticity. H = "
                 f"{LIFE_TABLE_ENTROPY:g} is a central value in a range of order "
                 f"{h_low:g}-{h_high:g}. {elasticity}. Ends: low = ({h_low:g} / "
                 f"{LIFE_TABLE_ENTROPY:g}) x min(1, {ratio:.4f}) = {low:.4f}, high = "
                 f"({h_high:g} / {LIFE_TABLE_ENTROPY:g}) x max(1, {ratio:.4f}) = {high:.4f}")
    else:
        scale = (f"The curve's scale is proportional to the mean elasticity; the life-table "
                 f"entropy H does not enter it (the YPLL scale above does not use H). "
                 f"{elasticity}. Ends: low = min(1, {ratio:.4f}) = {low:.4f}, high = "
                 f"max(1, {ratio:.4f}) = {high:.4f} (one-sided: the only other estimate "
                 f"is lower)")
    text = (f"Effect-size uncertainty ([uncertainty] scale = triangular, low {low:.4f}, mode 1, "
            f"high {high:.4f}; a Monte Carlo draw multiplies every gain of the curve). "
            f"{scale}; mode 1 = the curve as built (dev elasticities"
            + (f", H = {LIFE_TABLE_ENTROPY:g}" if uses_entropy else "") + "). "
            "Left out, so the true uncertainty is wider: the elasticities' sampling error "
            "(not in the shared data), the spend per head, the transfer from NHS to public "
            "health spend and the curve's shape. The quintile modifier is not made uncertain: "
            "it keeps the dev elasticities (main's would give "
            + ", ".join(f"{v:.4f}" for v in york["main_modifier"])
            + " for quintiles 1-5). The same factor applies to every York curve of this "
            f"outcome, so all of them share draw_group \"{group}\": a Monte Carlo draw moves "
            "them together (the same quantile of each), as one source of uncertainty.")
    return table, text


# ---------------------------------------------------------------------------
# Area tables
# ---------------------------------------------------------------------------


def population_deciles(score: pd.Series, population: pd.Series, n: int = 10) -> pd.Series:
    """Deciles of areas by score (highest score = 1), each holding ~1/n of people.

    An area's decile is the one where the midpoint of its population falls when
    areas are lined up from the most to the least deprived (ties by area_id).
    """
    order = sorted(score.index, key=lambda code: (-score[code], code))
    people = population.loc[order]
    midpoint = (people.cumsum() - people / 2) / people.sum()
    return (np.floor(midpoint * n).astype(int) + 1).clip(1, n).reindex(score.index)


def district_areas(lsoas: pd.DataFrame, shared: Path, need: pd.DataFrame,
                   life: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """The 317 districts of 2019, aggregated from their LSOAs.

    Also returns the largest difference between the all-age income rate and the
    published district Income_Score (a check on the numerators and imputation).
    """
    by_district = lsoas.groupby("lad19_code")
    sums = by_district[["population", "pop_0_15", "pop_16_59", "pop_60_plus",
                        "income_deprived", "children_income_deprived",
                        "older_income_deprived"]].sum()
    weighted = lsoas[[YPLL, CIDR]].mul(lsoas["population"], axis=0)
    weighted["lad19_code"] = lsoas["lad19_code"]
    means = weighted.groupby("lad19_code").sum().div(sums["population"], axis=0)

    summary = pd.read_csv(shared / "imd2019" / "imd2019_england_ltla19.csv",
                          usecols=["ltla19_code", "Score", "Income_Score"])
    summary = summary.set_index("ltla19_code")
    check(set(summary.index) == set(sums.index), "LAD codes differ between IMD files")

    areas = pd.DataFrame(index=sums.index)
    areas["area_name"] = by_district["lad19_name"].first()
    areas["nhs_region"] = need["nhs_region"]
    for column in ["population", "pop_0_15", "pop_16_59", "pop_60_plus"]:
        areas[column] = sums[column]
    areas["lsoa_count"] = by_district.size()
    areas["imd_score"] = summary["Score"]
    areas["imd_rank_of_score"] = areas["imd_score"].rank(ascending=False, method="min").astype(int)
    areas["imd_decile"] = population_deciles(areas["imd_score"], areas["population"])
    areas["imd_quintile"] = (areas["imd_decile"] + 1) // 2
    areas["income_deprivation_rate"] = sums["income_deprived"] / sums["population"]
    areas["child_income_deprivation_rate"] = sums["children_income_deprived"] / sums["pop_0_15"]
    areas["older_income_deprivation_rate"] = sums["older_income_deprived"] / sums["pop_60_plus"]
    areas[YPLL] = means[YPLL]
    areas[CIDR] = means[CIDR]
    areas["nhs_need_index"] = need["nhs_need_index"]
    areas = areas.join(life)
    areas["cost_index"] = 1
    income_score_difference = float(
        (areas["income_deprivation_rate"] - summary["Income_Score"]).abs().max())
    areas = areas.reset_index(names="area_id").sort_values("area_id").reset_index(drop=True)
    return areas, income_score_difference


def lsoa_areas(lsoas: pd.DataFrame, need: pd.DataFrame) -> pd.DataFrame:
    areas = lsoas.rename(columns={"IMD_rank": "imd_rank", "IMD_decile": "imd_decile"})
    areas = areas.join(need, on="lad19_code")
    areas["cost_index"] = 1
    columns = ["area_id", "area_name", "lad19_code", "lad19_name", "nhs_region",
               "population", "pop_0_15", "pop_16_59", "pop_60_plus",
               "imd_rank", "imd_decile", "imd_quintile",
               "income_deprivation_rate", "child_income_deprivation_rate",
               "older_income_deprivation_rate", YPLL, CIDR, "nhs_need_index",
               "imputed_numerators", "cost_index"]
    return areas[columns].sort_values("area_id").reset_index(drop=True)

# ---------------------------------------------------------------------------
# Services and models
# ---------------------------------------------------------------------------


def significant(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def service_table(national: dict[str, int]) -> pd.DataFrame:
    """Services with their reference intensity, floor and cap (units per head)."""
    rows = []
    for service in SERVICES:
        people = national[service["target_population"]]
        reference = significant(service["budget_share"] * BUDGET_GBP
                                / (service["unit_cost_gbp"] * people))
        rows.append({**service, "reference_units_per_head": reference,
                     "floor_units_per_head": round(service["floor_fraction"] * reference, 9),
                     "cap_units_per_head": round(CAP_MULTIPLE * reference, 9)})
    return pd.DataFrame(rows)


def need_models(means: dict[str, float]) -> list[dict]:
    imd_source = ("English Indices of Deprivation 2019 (MHCLG), File 8 underlying "
                  "indicators and File 6 population denominators. " + ATTRIBUTION["imd"])
    suppression = (f"Suppressed (blank) numerators are small counts: published counts are "
                   f"multiples of 5 and none is below 10. Imputed: see models/README.md; "
                   f"capped at {SUPPRESSED_COUNT_MAX} people.")
    return [
        dict(name="imd-income", title="Income deprivation, all ages (IMD 2019)",
             description="Need per head proportional to the share of people who are "
                         "income deprived (IoD 2019 income domain numerator / mid-2015 "
                         "population).",
             source=imd_source,
             assumptions=["Need per head is proportional to the income deprivation rate; "
                          "no universal component beyond the service floor.",
                          suppression,
                          "District rates are the sum of LSOA numerators over the sum of "
                          "LSOA populations."],
             terms=[("income_deprivation_rate", 1.0)]),
        dict(name="imd-income-children", title="Income deprivation affecting children (IDACI 2019)",
             description="Need per child proportional to the share of children aged 0-15 "
                         "living in income-deprived families (IDACI numerator / population "
                         "aged 0-15).",
             source=imd_source,
             assumptions=["Need per child is proportional to the IDACI rate.", suppression,
                          "Children 0-15 stand in for both 0-4 (health visiting) and 5-19 "
                          "(school nursing)."],
             terms=[("child_income_deprivation_rate", 1.0)]),
        dict(name="imd-income-older", title="Income deprivation affecting older people (IDAOPI 2019)",
             description="Need per older person proportional to the share of people aged "
                         "60 and over who are income deprived (IDAOPI numerator / "
                         "population aged 60+).",
             source=imd_source,
             assumptions=["Need per older person is proportional to the IDAOPI rate.",
                          suppression],
             terms=[("older_income_deprivation_rate", 1.0)]),
        dict(name="imd-health", title="Premature mortality and illness (IMD 2019 health indicators)",
             description="Need per head from the IoD 2019 health outcomes: half years of "
                         "potential life lost (premature mortality), half the comparative "
                         "illness and disability ratio, each divided by its national "
                         "population-weighted mean.",
             source=imd_source,
             assumptions=[f"Equal weights after scaling each indicator to a national mean "
                          f"of 1 (national LSOA means, population-weighted: YPLL "
                          f"{means[YPLL]:.3f}, CIDR {means[CIDR]:.3f}).",
                          "District values are population-weighted means of LSOA "
                          "indicators (the indicators are standardised rates, so this "
                          "is an approximation).",
                          "YPLL is also the outcome of the LSOA scenario: a service using "
                          "this model targets the outcome it is judged on."],
             terms=[(YPLL, round(0.5 / means[YPLL], 8)), (CIDR, round(0.5 / means[CIDR], 8))]),
        dict(name="nhs-weighted", title="NHS England weighted population index (2024/25)",
             description="Need per head = NHS England 'Final WP' (overall core weighted "
                         "population) / registered population, summed over the GP "
                         "practices of each lower-tier authority of 2021.",
             source="NHS England revenue allocations 2023/24 to 2024/25, weighted "
                    "populations by GP practice. " + ATTRIBUTION["nhs"],
             assumptions=["Practices are assigned to districts by the NHS file's LAD21 code "
                          "(where the practice is, not where its patients live).",
                          "2019 districts abolished by 2021 take their successor's index: "
                          "Aylesbury Vale, Chiltern, South Bucks and Wycombe -> "
                          "Buckinghamshire; Corby, East Northamptonshire, Kettering and "
                          "Wellingborough -> North Northamptonshire; Daventry, Northampton "
                          "and South Northamptonshire -> West Northamptonshire.",
                          "Every LSOA takes its district's index: there is no within-district "
                          "variation.",
                          "The index reflects NHS need (age, morbidity, unmet need), not "
                          "public-health need specifically."],
             terms=[("nhs_need_index", 1.0)]),
    ]


def gain_at(units: list[float], gains: list[float], intensity: float) -> float:
    return float(np.interp(intensity, units, gains))


def response_models(services: pd.DataFrame, york: dict, england_le: float,
                    ypll_mean: float) -> list[dict]:
    """Per-service concave curves calibrated to the York elasticity, two outcomes.

    The York marginal gain of £1 per head a year, in outcome units, at the
    reference intensity r: one 1% spend increase (CCG_SPEND_PER_HEAD_GBP / 100)
    cuts mortality by the mean elasticity (a fraction); that is
    H * e0 * elasticity years of life expectancy, or elasticity * mean YPLL
    points of YPLL. Per unit per head of the target population, the marginal
    gain is that times the service's unit cost.
    """
    one_percent = CCG_SPEND_PER_HEAD_GBP / 100
    epsilon = york["mean_elasticity"]
    h_low, h_high = LIFE_TABLE_ENTROPY_RANGE
    outcomes = {
        "le": dict(units="years", per_gbp=LIFE_TABLE_ENTROPY * england_le * epsilon / one_percent,
                   label="life expectancy at birth", uses_entropy=True,
                   scale=f"a proportional fall m in mortality at all ages raises life "
                         f"expectancy by H * e0 * m, with H = {LIFE_TABLE_ENTROPY} (England "
                         f"life-table entropy, order {h_low:g}-{h_high:g}) and e0 = "
                         f"{england_le:.2f} years (England persons, LE_data)"),
        "ypll": dict(units="YPLL indicator points",
                     per_gbp=ypll_mean * epsilon / one_percent,
                     label="the IoD 2019 years of potential life lost indicator (a fall "
                           "counts as a gain)", uses_entropy=False,
                     scale=f"a proportional fall m in mortality under 75 cuts the YPLL "
                           f"indicator by the same proportion, from the national mean "
                           f"{ypll_mean:.3f} (LSOAs, population-weighted)"),
    }
    modifier = {str(q + 1): round(float(v), 4) for q, v in enumerate(york["modifier"])}
    models = []
    for outcome, spec in outcomes.items():
        uncertainty, uncertainty_text = scale_uncertainty(york, spec["uses_entropy"],
                                                          f"york-{outcome}-effect-size")
        for service in services.itertuples():
            r = service.reference_units_per_head
            slope = spec["per_gbp"] * service.unit_cost_gbp  # at r, per unit per head
            units = [round(b * r, 9) for b in CURVE_BREAKS]
            gains = [0.0]
            for k, multiple in enumerate(CURVE_SLOPES):
                gains.append(gains[-1] + multiple * slope * (units[k + 1] - units[k]))
            gains = [significant(g, 6) for g in gains]
            at_reference = gains[CURVE_BREAKS.index(1.0)]
            models.append(dict(
                name=f"york-{outcome}-{service.service_id.replace('_', '-')}",
                service_id=service.service_id,
                title=f"{service.service_name}: {spec['label']}, York elasticities",
                description=(f"Gain per head of the target population ({service.target_population}) "
                             f"against units of service per head a year (a unit: "
                             f"{service.unit}), calibrated so that at the "
                             f"reference intensity ({r:g} units per head) £1 a head buys what "
                             f"£1 a head of NHS spend buys in the York estimates; returns "
                             f"diminish either side. Outcome: {spec['label']}."),
                source="Mortality elasticity to NHS spend by national IMD quintile, "
                       "University of York unmet-need calculator (dev branch). "
                       + ATTRIBUTION["york"]
                       + f" Effect-size uncertainty: also its main branch, commit "
                         f"{YORK_MAIN_COMMIT}."
                       + (" England persons life expectancy: " + ATTRIBUTION["le"]
                          if outcome == "le" else
                          " YPLL national mean: " + ATTRIBUTION["imd"]),
                assumptions=[
                    f"Public health spend is assumed to buy health like marginal NHS spend: "
                    f"a 1% spend increase is 1% of about £{CCG_SPEND_PER_HEAD_GBP:,} a head "
                    f"(CCG allocations, order of magnitude) and cuts mortality by the "
                    f"population-weighted mean York elasticity {epsilon:.6f} (a fraction). "
                    f"Studies of the public health grant suggest it is if anything more "
                    f"productive, so gains are likely conservative.",
                    f"Scale: {spec['scale']}. So £1 per head a year gives "
                    f"{spec['per_gbp']:.6g} {spec['units']} at the reference intensity.",
                    f"Calibrated for a unit cost of £{service.unit_cost_gbp:,} and a reference "
                    f"intensity of {r:g} units per head (the national budget spread "
                    f"uniformly, this service's share {service.budget_share:.0%}); rebuild if "
                    f"either changes.",
                    f"Diminishing returns: slopes {', '.join(f'{s:g}' for s in CURVE_SLOPES)} "
                    f"times the York marginal gain on intensities "
                    f"{', '.join(f'{b:g}' for b in CURVE_BREAKS)} times reference; flat "
                    f"beyond {CURVE_BREAKS[-1]:g} x reference (the scenarios' cap). At the "
                    f"scenarios' floor ({service.floor_fraction:g} x reference, "
                    f"{service.floor_units_per_head:g} units per head) the gain is "
                    f"{gain_at(units, gains, service.floor_units_per_head):.6g} {spec['units']} per "
                    f"head, {gain_at(units, gains, service.floor_units_per_head) / at_reference:.0%} of "
                    f"the gain at reference ({at_reference:g}); at the cap "
                    f"{gains[-1]:g}, {gains[-1] / at_reference:.0%} of it.",
                    "All eight services are assumed equally productive per £ at the "
                    "reference intensity: the shared data hold no service-specific "
                    "effect sizes.",
                    "Effectiveness by deprivation (modifier) = York elasticity of the "
                    "area's national IMD quintile / population-weighted mean elasticity "
                    "(national quintile populations of the 2019 CCG file). The York "
                    "mortality rate is NOT in the modifier: the level of need is carried "
                    "by the need model, and putting it here too would count it twice.",
                    uncertainty_text,
                ],
                outcome_units=spec["units"], units=units, gains=gains, modifier=modifier,
                uncertainty=uncertainty))
    return models

# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 100_000 else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def toml_header(model: dict) -> list[str]:
    lines = [f"name = {toml_value(model['name'])}",
             f"title = {toml_value(model['title'])}",
             f"description = {toml_value(model['description'])}",
             f"source = {toml_value(model['source'])}",
             "assumptions = ["]
    lines += [f"    {toml_value(a)}," for a in model["assumptions"]]
    return lines + ["]"]


def write_need_model(model: dict, folder: Path) -> None:
    lines = ["# Written by scripts/build_scenarios.py from the shared data: do not edit by hand.",
             *toml_header(model), "", "[formula]", "constant = 0.0", "terms = ["]
    lines += [f"    {{ column = {toml_value(c)}, weight = {toml_value(w)} }},"
              for c, w in model["terms"]]
    lines.append("]")
    write_text(folder / f"{model['name']}.toml", "\n".join(lines) + "\n")


def write_response_model(model: dict, folder: Path) -> None:
    lines = ["# Written by scripts/build_scenarios.py from the shared data: do not edit by hand.",
             *toml_header(model),
             f"outcome_units = {toml_value(model['outcome_units'])}", "",
             "[curve]",
             f"units_per_head = {toml_value(model['units'])}",
             f"gain_per_head = {toml_value(model['gains'])}", "",
             "[modifier]",
             'column = "imd_quintile"',
             f"values = {toml_value(model['modifier'])}", "",
             "[uncertainty]",
             "scale = { " + ", ".join(f"{k} = {toml_value(v)}"
                                      for k, v in model["uncertainty"].items()) + " }"]
    write_text(folder / f"{model['name']}.toml", "\n".join(lines) + "\n")


def write_csv(frame: pd.DataFrame, path: Path, decimals: dict[str, int]) -> None:
    """CSV with fixed decimals per float column, blank for missing, LF line ends."""
    out = frame.copy()
    for column, places in decimals.items():
        if column not in out:
            continue
        out[column] = [("" if pd.isna(v) else f"{v:.{places}f}") for v in out[column]]
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, lineterminator="\n")


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


AREA_DECIMALS = {"income_deprivation_rate": 6, "child_income_deprivation_rate": 6,
                 "older_income_deprivation_rate": 6, YPLL: 3, CIDR: 3,
                 "nhs_need_index": 6, "imd_score": 3, "life_expectancy_years": 4,
                 "le_gap_years": 4}


def write_services(services: pd.DataFrame, path: Path, response_outcome: str) -> None:
    table = services.assign(
        response_model=[f"york-{response_outcome}-{s.replace('_', '-')}"
                        for s in services["service_id"]])
    columns = ["service_id", "service_name", "unit_cost_gbp", "target_population",
               "floor_units_per_head", "cap_units_per_head", "need_model",
               "response_model", "life_course_stage"]
    write_csv(table[columns], path, {"unit_cost_gbp": 2, "floor_units_per_head": 6,
                                     "cap_units_per_head": 6})


def split_pennies(total_gbp: float, weights: pd.Series) -> pd.Series:
    """Split a sum in pounds by weights, to the penny, summing exactly (largest remainder)."""
    pennies = round(total_gbp * 100)
    exact = weights / weights.sum() * pennies
    whole = np.floor(exact).astype(np.int64)
    short = pennies - int(whole.sum())
    order = sorted(weights.index, key=lambda i: (-(exact[i] - whole[i]), i))
    whole[order[:short]] += 1
    return whole / 100


def baseline_table(areas: pd.DataFrame, services: pd.DataFrame, budgets: dict) -> pd.DataFrame:
    rows = []
    for service in services.itertuples():
        weights = areas.set_index("area_id")[service.target_population]
        spend = split_pennies(budgets[service.service_id], weights)
        rows.append(pd.DataFrame({"area_id": spend.index, "service_id": service.service_id,
                                  "spend_gbp": spend.values}))
    table = pd.concat(rows).sort_values(["area_id", "service_id"]).reset_index(drop=True)
    return table


OPTION_SLOPE_SHARE = 0.05  # "steeper need slope" option: min slope = 5% of the floor per unit of need


def option_blocks(services: pd.DataFrame) -> list[str]:
    """Three options a board would compare: health gain, pure fair share, a steeper need slope."""
    slopes = ", ".join(f"{row.service_id} = {toml_value(round(row.floor_units_per_head * OPTION_SLOPE_SHARE, 6))}"
                       for row in services.itertuples())
    return ["[[option]]", 'name = "Health gain"',
            'description = "Maximise modelled health gain within the floors, caps and rules."', "",
            "[[option]]", 'name = "Fair share"', 'objective = "fair-share"',
            'description = "Closest to need-weighted target shares (NHS distance from target)."', "",
            "[[option]]", 'name = "Health gain, steeper need slope"',
            f'description = "Health gain, with intensity rising by at least {OPTION_SLOPE_SHARE:.0%} of the '
            'floor per unit of relative need."',
            f"min_slope = {{ {slopes} }}", ""]


def scenario_toml(name: str, description: str, attribution: list[str], budget: int,
                  gradient: dict, baseline: bool, pace: bool, options: list[str] | None = None) -> str:
    lines = ["# Written by scripts/build_scenarios.py from the shared data: do not edit by hand.",
             "[scenario]", f"name = {toml_value(name)}",
             f"description = {toml_value(description)}",
             f"attribution = {toml_value(' '.join(ATTRIBUTION[a] for a in attribution))}",
             'models = "../../models"', "",
             "[budget]", f"total_gbp = {toml_value(budget)}", 'mode = "exact"', "",
             "[objective]", 'name = "health-gain"', "",
             "[proportionality]", 'mode = "monotone"', "min_slope = 0.0", ""]
    if pace:
        lines += ["[pace_of_change]", f"max_decrease = {PACE_MAX_DECREASE}",
                  f"max_increase = {PACE_MAX_INCREASE}", ""]
    lines += ["[gradient]"] + [f"{k} = {toml_value(v)}" for k, v in gradient.items()]
    lines += ["", "[tables]", 'areas = "areas.csv"', 'services = "services.csv"']
    if baseline:
        lines.append('baseline = "baseline.csv"')
    if options:
        lines += [""] + options
    return "\n".join(lines).rstrip("\n") + "\n"

# ---------------------------------------------------------------------------
# READMEs
# ---------------------------------------------------------------------------

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
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def services_markdown(services: pd.DataFrame, outcome: str) -> str:
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
    return float(sum(s.unit_cost_gbp * getattr(s, column) * areas[s.target_population].sum()
                     for s in services.itertuples()))


def common_assumptions(services: pd.DataFrame) -> str:
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
    return "\n".join(f"- {ATTRIBUTION[k]}" for k in keys)

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, required=True,
                        help="the shared data folder, e.g. ../shared/data")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="project root to write models/ and scenarios/ into")
    args = parser.parse_args()
    shared, root = args.shared, args.out

    lsoas = impute_suppressed_numerators(read_lsoas(shared))
    lad19_codes = sorted(lsoas["lad19_code"].unique())
    check(len(lad19_codes) == 317, f"{len(lad19_codes)} districts, expected 317")
    need, nhs_stats = read_nhs_need(shared, lad19_codes)
    life, england_le = read_life_expectancy(shared, lad19_codes)
    york = read_york(shared)

    districts, income_score_difference = district_areas(lsoas, shared, need, life)
    small_areas = lsoa_areas(lsoas, need)
    national = {c: int(lsoas[c].sum()) for c in ["pop_0_15", "pop_16_59", "pop_60_plus"]}
    means = {c: float((lsoas[c] * lsoas["population"]).sum() / lsoas["population"].sum())
             for c in [YPLL, CIDR]}
    services = service_table(national)

    # Models.
    for folder in ["need", "response"]:
        for old in sorted((root / "models" / folder).glob("*.toml")):
            old.unlink()
    needs = need_models(means)
    responses = response_models(services, york, england_le, means[YPLL])
    for model in needs:
        write_need_model(model, root / "models" / "need")
    for model in responses:
        write_response_model(model, root / "models" / "response")
    write_text(root / "models" / "README.md", models_readme(needs, responses, york))

    imputed = {name: int(lsoas[col].isna().sum())
               for name, col in [("income", INCOME), ("children", CHILDREN), ("older", OLDER)]}

    # England LSOAs.
    folder = root / "scenarios" / "england-lsoa"
    write_csv(small_areas, folder / "areas.csv", AREA_DECIMALS)
    write_services(services, folder / "services.csv", "ypll")
    write_text(folder / "scenario.toml", scenario_toml(
        name="England LSOAs: public health grant by need",
        description="The 2024/25-sized public health grant split across the 32,844 English "
                    "LSOAs and eight services across the life course, a universal floor "
                    "everywhere and intensity rising with need; gradient in premature "
                    "mortality (YPLL) by IMD decile.",
        attribution=["imd", "nhs", "york"], budget=BUDGET_GBP, baseline=False, pace=False,
        gradient={"outcome": YPLL,
                  "outcome_label": "Years of potential life lost indicator (IoD 2019)",
                  "outcome_units": "YPLL indicator points", "higher_is_better": False,
                  "deprivation": "imd_rank", "most_deprived": "low", "quantiles": 10,
                  "group_columns": ["nhs_region"]}))
    write_text(folder / "README.md", lsoa_readme(small_areas, services, imputed))

    # England districts.
    folder = root / "scenarios" / "england-la"
    la_columns = ["area_id", "area_name", "nhs_region", "population", "pop_0_15", "pop_16_59",
                  "pop_60_plus", "lsoa_count", "imd_score", "imd_rank_of_score", "imd_decile",
                  "imd_quintile", "income_deprivation_rate", "child_income_deprivation_rate",
                  "older_income_deprivation_rate", YPLL, CIDR, "nhs_need_index",
                  "life_expectancy_years", "le_gap_years", "life_expectancy_source",
                  "cost_index"]
    write_csv(districts[la_columns], folder / "areas.csv", AREA_DECIMALS)
    write_services(services, folder / "services.csv", "le")
    la_budgets = {s.service_id: s.budget_share * BUDGET_GBP for s in services.itertuples()}
    la_baseline = baseline_table(districts, services, la_budgets)
    write_csv(la_baseline, folder / "baseline.csv", {"spend_gbp": 2})
    le_gradient = {"outcome": "life_expectancy_years",
                   "outcome_label": "Life expectancy at birth, persons (years)",
                   "outcome_units": "years", "higher_is_better": True,
                   "deprivation": "imd_score", "most_deprived": "high"}
    write_text(folder / "scenario.toml", scenario_toml(
        name="England districts: public health grant by need, with pace of change",
        description="The 2024/25-sized public health grant split across the 317 local "
                    "authority districts of 2019 and eight services, against last year's "
                    "spend (an assumed uniform split) with a pace-of-change limit; gradient "
                    "in life expectancy by district IMD score.",
        attribution=["imd", "nhs", "york", "le"], budget=BUDGET_GBP, baseline=True, pace=True,
        gradient={**le_gradient, "quantiles": 10, "group_columns": ["nhs_region"]},
        options=option_blocks(services)))
    write_text(folder / "README.md",
               la_readme(districts, services, la_baseline, nhs_stats, imputed,
                         income_score_difference))

    # Quickstart: the North East.
    folder = root / "scenarios" / "quickstart"
    quick_areas = districts[districts["area_id"].isin(NORTH_EAST)]
    check(len(quick_areas) == 12, "North East districts missing")
    quick_services = services[services["service_id"].isin(QUICKSTART_SERVICES)]
    write_csv(quick_areas[la_columns], folder / "areas.csv", AREA_DECIMALS)
    write_services(quick_services, folder / "services.csv", "le")
    quick_budgets = {s.service_id: s.unit_cost_gbp * s.reference_units_per_head
                     * quick_areas[s.target_population].sum()
                     for s in quick_services.itertuples()}
    quick_budgets = {k: round(v, 2) for k, v in quick_budgets.items()}
    quick_baseline = baseline_table(quick_areas, quick_services, quick_budgets)
    check(quick_baseline["spend_gbp"].sum() < QUICKSTART_BUDGET_GBP,
          "quickstart baseline exceeds its budget")
    write_csv(quick_baseline, folder / "baseline.csv", {"spend_gbp": 2})
    write_text(folder / "scenario.toml", scenario_toml(
        name="Quickstart: North East, three services",
        description="The 12 districts of the North East and three services (health "
                    "visiting, drug and alcohol treatment, falls prevention): a round "
                    "budget a little above last year's spend, split with a universal "
                    "floor and intensity rising with need.",
        attribution=["imd", "nhs", "york", "le"], budget=QUICKSTART_BUDGET_GBP,
        baseline=True, pace=False,
        gradient={**le_gradient, "quantiles": 5, "group_columns": []},
        options=option_blocks(quick_services)))
    write_text(folder / "README.md", quickstart_readme(quick_areas, quick_services, quick_baseline))


def models_readme(needs: list[dict], responses: list[dict], york: dict) -> str:
    need_rows = pd.DataFrame({
        "model": [f"`{m['name']}`" for m in needs],
        "formula (raw need per head)": [" + ".join(f"{w:g} x `{c}`" for c, w in m["terms"])
                                        for m in needs],
        "what": [m["title"] for m in needs]})
    response_rows = pd.DataFrame({
        "model": [f"`{m['name']}`" for m in responses],
        "outcome_units": [m["outcome_units"] for m in responses],
        "units per head": [", ".join(f"{u:g}" for u in m["units"]) for m in responses],
        "gain per head": [", ".join(f"{g:g}" for g in m["gains"]) for m in responses]})
    quintiles = pd.DataFrame({
        "IMD quintile": ["1 (most deprived)", "2", "3", "4", "5 (least deprived)"],
        "population (2019 CCG file)": [f"{p:,.0f}" for p in york["population"]],
        "York mortality per 100,000": [f"{m:g}" for m in york["mortality"]],
        "York elasticity (dev)": [f"{e:g}" for e in york["elasticity"]],
        "modifier": [f"{v:.4f}" for v in york["modifier"]],
        f"York elasticity (main, {YORK_MAIN_COMMIT})": [f"{e:g}" for e in york["main_elasticity"]],
        "modifier if main (not used)": [f"{v:.4f}" for v in york["main_modifier"]]})
    h_low, h_high = LIFE_TABLE_ENTROPY_RANGE
    ratio = york["main_over_dev"]
    ranges = {}
    for m in responses:
        u = m["uncertainty"]
        ranges.setdefault((u["low"], u["mode"], u["high"]), []).append(m["name"])
    range_lines = "\n".join(
        f"- triangular(low = {low:.4f}, mode = {mode:g}, high = {high:.4f}): "
        + ", ".join(f"`{n}`" for n in names)
        for (low, mode, high), names in ranges.items())
    assumption_text = "\n\n".join(
        f"### `{m['name']}`\n\n{m['description']}\n\nSource: {m['source']}\n\n"
        + "\n".join(f"- {a}" for a in m["assumptions"])
        for m in needs + responses[:1] + responses[len(responses) // 2:len(responses) // 2 + 1])
    return f"""\
# Models

Evidence as data, referenced by name from `scenarios/*/services.csv`. Written by
`scripts/build_scenarios.py` from the shared public data: rerun it rather than edit
these files. Format: `docs/scenario-format.md`.

## Need models (`need/`)

Raw need per head = the formula, evaluated on each area's columns (which the build
script writes into every `areas.csv`); the allocator normalises it per service so that
its mean weighted by the service's target population is 1. All raw needs are > 0.

{markdown_table(need_rows)}

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
approximation: York's quintiles are national LSOA quintiles and a district mixes them.

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
apart at random and the uncertainty of the total gain would be understated).

## Sources and assumptions, in full

{assumption_text}

The other response models differ only in service (unit cost, reference intensity,
target population), as the tables above show.

## Attribution

{attribution_markdown(['imd', 'nhs', 'york', 'le'])}
"""


def lsoa_readme(areas: pd.DataFrame, services: pd.DataFrame, imputed: dict) -> str:
    floors = cost_at(services, areas, "floor_units_per_head")
    caps = cost_at(services, areas, "cap_units_per_head")
    columns = "\n".join(f"- `{c}`: {COLUMN_NOTES[c]}" for c in areas.columns)
    return f"""\
# England LSOAs: public health grant by need

All {len(areas):,} lower-layer super output areas (LSOA 2011) of England,
{areas['population'].sum():,} people (mid-2015), and eight public health services
across the life course. A national budget of £{BUDGET_GBP:,} is split so that every
LSOA gets at least a universal floor of each service and intensity rises (never
falls) with need; the objective is the largest total health gain. The report shows
the gradient in premature mortality (IoD 2019 years of potential life lost, higher is
worse) by national IMD decile (`imd_rank`, 1 = most deprived), and by NHS region.

Written by `scripts/build_scenarios.py` from the shared data; rerun it rather than
edit these files.

## Budget

£{BUDGET_GBP:,}: the 2024/25 England public health grant was about £3.6bn
(assumption: the whole grant goes through these eight services). Mode `exact`.
Floors cost £{floors:,.0f} ({floors / BUDGET_GBP:.0%} of the budget); caps allow
£{caps:,.0f} ({caps / BUDGET_GBP:.1f} x the budget). No baseline, no pace of change.

## Services

{services_markdown(services, 'ypll')}

## Areas (`areas.csv`)

{columns}

## Assumptions

{common_assumptions(services)}
- **Suppressed numerators imputed here:** all-age income {imputed['income']} LSOAs,
  children {imputed['children']:,}, older people {imputed['older']:,}
  (`imputed_numerators` marks them).
- **NHS need index and region at LSOA level:** each LSOA takes its district's value
  (no within-district variation).
- **Outcome units.** The response models are in YPLL indicator points; their gain is a
  *fall* in the indicator. The indicator's scale is IoD's (age/sex standardised,
  shrunk); treat changes as relative.

## Attribution

{attribution_markdown(['imd', 'nhs', 'york'])}
"""


def la_readme(areas: pd.DataFrame, services: pd.DataFrame, baseline: pd.DataFrame,
              nhs_stats: dict, imputed: dict, income_score_difference: float) -> str:
    floors = cost_at(services, areas, "floor_units_per_head")
    caps = cost_at(services, areas, "cap_units_per_head")
    sources = areas["life_expectancy_source"].value_counts().sort_index()
    source_lines = "\n".join(
        f"  - {', '.join(areas.loc[areas['life_expectancy_source'] == s, 'area_name'])}: {s}"
        for s in sources.index if s != "district")
    no_gap = ", ".join(areas.loc[areas["le_gap_years"].isna(), "area_name"])
    split = ", ".join(areas.set_index("area_id").loc[
        [c for c in areas["area_id"] if SUCCESSOR_2021.get(c, c) in nhs_stats[
            "split_region_districts"]], "area_name"]) or "none"
    columns = "\n".join(f"- `{c}`: {DISTRICT_COLUMN_NOTES[c]}" for c in areas.columns)
    return f"""\
# England districts: public health grant by need, with pace of change

The {len(areas)} local authority districts of 2019 (LAD19), {areas['population'].sum():,}
people (mid-2015, summed from their LSOAs), and the same eight services as the LSOA
scenario. The same national budget, £{BUDGET_GBP:,}, against last year's spend
(`baseline.csv`) with a pace-of-change limit: each district's total may fall at most
{PACE_MAX_DECREASE:.0%} and rise at most {PACE_MAX_INCREASE:.0%}. Objective: the
largest gain in life expectancy; the report shows the gradient in persons life
expectancy by population-weighted decile of district IMD score, and by NHS region.

Written by `scripts/build_scenarios.py` from the shared data; rerun it rather than
edit these files.

## Budget and baseline

- Budget £{BUDGET_GBP:,} (2024/25 public health grant, about £3.6bn), mode `exact`:
  flat cash against the baseline.
- **Baseline (assumption, not data):** no per-service spend by district is in the
  shared data. Last year's spend is taken to be the same £{BUDGET_GBP:,} split
  between services in the shares below, and each service's sum split between
  districts by their share of its target population (to the penny, largest
  remainder), i.e. a uniform intensity everywhere and no proportionality yet.
  Baseline total £{baseline['spend_gbp'].sum():,.2f}.
- Feasibility: the baseline itself meets every floor and cap (uniform reference
  intensity), is monotone in need (flat) and is within the pace of change, so the
  scenario is feasible. Floors cost £{floors:,.0f} ({floors / BUDGET_GBP:.0%} of the
  budget); caps allow £{caps:,.0f}.

## Services

{services_markdown(services, 'le')}

## Areas (`areas.csv`)

{columns}

## Assumptions and mappings

{common_assumptions(services)}
- **District deciles and quintiles** (`imd_decile`, `imd_quintile`): districts lined up
  by IMD score, most deprived first; a district's decile is where the midpoint of its
  population falls, so each decile holds about a tenth of the people. Quintile =
  (decile + 1) // 2. Used by the response modifier, which York defines on national
  LSOA quintiles: a district-level approximation.
- **Need inputs at district level:** income rates = sum of (imputed) LSOA numerators /
  sum of populations (suppressed numerators: all-age {imputed['income']} LSOAs,
  children {imputed['children']:,}, older people {imputed['older']:,}); the all-age
  rate differs from File 10's `Income_Score` by at most
  {income_score_difference:.4f}. YPLL and CIDR = population-weighted
  means of LSOA values.
- **NHS need index:** {nhs_stats['practices']:,} practices summed to
  {nhs_stats['lad21']} districts of 2021 (national Final WP / population =
  {nhs_stats['national_index']:.6f}). The {nhs_stats['mapped_to_successor']} districts of
  2019 abolished by 2021 take their successor's index and region (Aylesbury Vale,
  Chiltern, South Bucks, Wycombe -> Buckinghamshire; Corby, East Northamptonshire,
  Kettering, Wellingborough -> North Northamptonshire; Daventry, Northampton, South
  Northamptonshire -> West Northamptonshire). Districts with practices in two NHS
  regions take the region of most of their patients: {split}.
- **Life expectancy** (`life_expectancy_years`): persons LE approximated as the
  Pop-weighted mean of the 20 male and female by-decile LEs of the district (LE is not
  additive; a pooled life table would be exact). `le_gap_years` = persons LE of
  decile 10 minus decile 1, each Pop-weighted over the two sexes; the deciles rank the
  district's own LSOAs. LE_data does not state its period (England's gaps, 9.3 years
  male and 7.4 female, match ONS 2014-16). {len(areas) - int(sources.get('district', 0))}
  of {len(areas)} districts are not in LE_data:
{source_lines}
  (pooled predecessors: the 2019 mergers; decile k of the new district = the pooled
  decile-k rows of its predecessors, each ranked within its own old district). The
  gap is left blank where it cannot be measured: {no_gap}.
- **Known oddity kept:** Rutland (E06000017) female decile 3 has LE 107.96 (SE 15.8,
  16 deaths); it is kept as published and raises Rutland's persons LE by about 0.86
  years (84.82 with it, 83.96 without).

## Attribution

{attribution_markdown(['imd', 'nhs', 'york', 'le'])}
"""


def quickstart_readme(areas: pd.DataFrame, services: pd.DataFrame, baseline: pd.DataFrame) -> str:
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
`scripts/build_scenarios.py`; rerun it rather than edit these files.

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

{attribution_markdown(['imd', 'nhs', 'york', 'le'])}
"""


if __name__ == "__main__":
    main()
