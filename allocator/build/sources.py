"""Reading the shared public data folder (``../shared/data``).

This module and `national` are the only code that reads the shared data folder; nothing
else in the package or the tests does. `require_shared` checks up front that every file read
here exists, so that a missing one stops the build before anything is written.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.build.assumptions import (
    LE_PREDECESSORS,
    LE_REGION_FALLBACK,
    NORTH_EAST,
    SUCCESSOR_2021,
    YORK_MAIN_COMMIT,
)
from allocator.build.checks import SHARED_HINT, BuildError, MissingDataError, check
from allocator.build.national import NATIONAL_FILES

#: Every file the build reads, relative to the shared data folder.
REQUIRED_FILES = (
    "imd2019/IoD2019_Population_Denominators.csv",
    "imd2019/imd2019_england_lsoa11.csv",
    "imd2019/imd2019_england_lsoa11_indicators.csv",
    "imd2019/imd2019_england_ltla19.csv",
    "nhs_weighted_populations/2024_2025.csv",
    "life_expectancy_by_decile/LE_data.csv",
    "york_unmet_need/SOURCE.md",
    "york_unmet_need/CCG_IMD_population_2019.csv",
    "york_unmet_need/input_data_mQALE_values.csv",
    *NATIONAL_FILES,
)


def require_shared(shared: Path) -> None:
    """Raise `MissingDataError` unless ``shared`` is a folder holding every required file."""
    if not shared.is_dir():
        raise MissingDataError(f"{SHARED_HINT}: {shared} is not a folder")
    missing = [name for name in REQUIRED_FILES if not (shared / name).is_file()]
    if missing:
        raise MissingDataError(f"{SHARED_HINT}: {shared} lacks {', '.join(missing)}")

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


def _summarise_life_expectancy(rows: pd.DataFrame) -> tuple[float, float]:
    """Pop-weighted persons LE of LE_data rows, and decile 10 minus decile 1 (or NaN)."""
    weighted = rows.assign(w=rows["Pop"] * rows["LifeExp"])
    overall = weighted["w"].sum() / weighted["Pop"].sum()
    by_decile = weighted.groupby("Decile")[["w", "Pop"]].sum()
    by_decile = by_decile["w"] / by_decile["Pop"]
    gap = by_decile[10] - by_decile[1] if {1, 10} <= set(by_decile.index) else math.nan
    return overall, gap


def _life_expectancy_rows(le: pd.DataFrame, code: str) -> tuple[str, pd.DataFrame]:
    """Where a 2019 district's LE_data rows come from, and the rows."""
    own = le["GeoCode"] == code
    if own.any():
        return "district", le[own]
    if code in LE_PREDECESSORS:
        rows = le[le["GeoCode"].isin(LE_PREDECESSORS[code])]
        check(rows["GeoCode"].nunique() == len(LE_PREDECESSORS[code]),
              f"predecessors of {code} missing from LE_data")
        return "pooled predecessors " + " ".join(LE_PREDECESSORS[code]), rows
    if code in LE_REGION_FALLBACK:
        region, name = LE_REGION_FALLBACK[code]
        return f"region {region} ({name})", le[le["GeoCode"] == region]
    raise BuildError(f"no life expectancy for district {code}")


def read_life_expectancy(shared: Path, lad19_codes: list[str]) -> tuple[pd.DataFrame, float]:
    """Persons life expectancy and the decile 10 - decile 1 gap per 2019 district.

    Persons LE is approximated as the Pop-weighted mean of the male and female
    LE of every decile (LE is not additive; a pooled life table would be exact).
    Returns the table and England's persons LE, computed the same way.
    """
    le = pd.read_csv(shared / "life_expectancy_by_decile" / "LE_data.csv")
    records = []
    for code in lad19_codes:
        source, rows = _life_expectancy_rows(le, code)
        overall, gap = _summarise_life_expectancy(rows)
        if code in LE_REGION_FALLBACK:
            gap = math.nan  # the region's gap says nothing about the district's
        records.append({"area_id": code, "life_expectancy_years": overall,
                        "le_gap_years": gap, "life_expectancy_source": source})
    england, _ = _summarise_life_expectancy(le[le["GeoCode"] == "England"])
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


def read_district_summary(shared: Path) -> pd.DataFrame:
    """IoD 2019 File 10: each 2019 district's IMD average score and income score."""
    summary = pd.read_csv(shared / "imd2019" / "imd2019_england_ltla19.csv",
                          usecols=["ltla19_code", "Score", "Income_Score"])
    return summary.set_index("ltla19_code")
