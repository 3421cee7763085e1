"""Area tables of the bundled scenarios: LSOAs and 2019 districts, from the LSOA data.

Pure functions of data frames (`allocator.build.sources` reads them): imputing
suppressed numerators, population-weighted deciles, aggregating LSOAs to districts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.build.assumptions import SUPPRESSED_COUNT_MAX
from allocator.build.checks import check
from allocator.build.sources import CHILDREN, CIDR, INCOME, OLDER, YPLL

#: Columns of ``areas.csv`` in the LSOA scenario, in order.
LSOA_COLUMNS = ["area_id", "area_name", "lad19_code", "lad19_name", "nhs_region",
                "population", "pop_0_15", "pop_16_59", "pop_60_plus",
                "imd_rank", "imd_decile", "imd_quintile",
                "income_deprivation_rate", "child_income_deprivation_rate",
                "older_income_deprivation_rate", YPLL, CIDR, "nhs_need_index",
                "imputed_numerators", "cost_index"]

#: Columns of ``areas.csv`` in the district scenarios (england-la, quickstart), in order.
DISTRICT_COLUMNS = ["area_id", "area_name", "nhs_region", "population", "pop_0_15",
                    "pop_16_59", "pop_60_plus", "lsoa_count", "imd_score",
                    "imd_rank_of_score", "imd_decile", "imd_quintile",
                    "income_deprivation_rate", "child_income_deprivation_rate",
                    "older_income_deprivation_rate", YPLL, CIDR, "nhs_need_index",
                    "life_expectancy_years", "le_gap_years", "life_expectancy_source",
                    "cost_index"]

AGE_BANDS = ["pop_0_15", "pop_16_59", "pop_60_plus"]


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



def imputed_counts(lsoas: pd.DataFrame) -> dict[str, int]:
    """How many LSOAs had each income numerator suppressed (blank)."""
    return {name: int(lsoas[col].isna().sum())
            for name, col in [("income", INCOME), ("children", CHILDREN), ("older", OLDER)]}


def national_populations(lsoas: pd.DataFrame) -> dict[str, int]:
    """England's population in each age band (the services' target populations)."""
    return {c: int(lsoas[c].sum()) for c in AGE_BANDS}


def national_means(lsoas: pd.DataFrame) -> dict[str, float]:
    """Population-weighted national means of the YPLL and CIDR indicators."""
    return {c: float((lsoas[c] * lsoas["population"]).sum() / lsoas["population"].sum())
            for c in [YPLL, CIDR]}


def population_deciles(score: pd.Series, population: pd.Series, n: int = 10) -> pd.Series:
    """Deciles of areas by score (highest score = 1), each holding ~1/n of people.

    An area's decile is the one where the midpoint of its population falls when
    areas are lined up from the most to the least deprived (ties by area_id).
    """
    order = sorted(score.index, key=lambda code: (-score[code], code))
    people = population.loc[order]
    midpoint = (people.cumsum() - people / 2) / people.sum()
    return (np.floor(midpoint * n).astype(int) + 1).clip(1, n).reindex(score.index)


def district_areas(lsoas: pd.DataFrame, summary: pd.DataFrame, need: pd.DataFrame,
                   life: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """The 317 districts of 2019, aggregated from their LSOAs.

    ``summary`` is IoD 2019 File 10 (`allocator.build.sources.read_district_summary`),
    ``need`` the NHS need index and region and ``life`` the life expectancy by district.
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
