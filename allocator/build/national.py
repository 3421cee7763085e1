"""England on current geography: every 2021 LSOA with its place, people and deprivation.

Reads the public data in ``../shared/data`` (IoD2025, Census 2021, mid-2020 single-year
ages, the 2021 LSOA -> 2024 ward / district / ICB lookups, NHS weighted populations for
the NHS region of each ICB) and assembles one table, one row per English 2021 LSOA,
that `allocator new` builds scenarios from. The table ships with the package
(`allocator/build/data/lsoa21.parquet`, written by `write_national`), so building a
scenario for a place needs no download and no ``../shared``.

Age bands (the target populations of services) come from mid-2020 estimates on 2011
LSOAs, carried to 2021 LSOAs through the ONS best-fit lookup and scaled to the Census
2021 total of each 2021 LSOA (`carry_ages`): an unchanged LSOA keeps its own age shares,
merged LSOAs pool theirs, and a split (or irregular) 2011 LSOA gives each of its 2021
LSOAs its age shares, apportioned by Census 2021 usual residents.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from allocator.build.assumptions import SUPPRESSED_COUNT_MAX
from allocator.build.checks import check

#: The files read here, relative to the shared data folder.
NATIONAL_FILES = (
    "imd2025/imd2025_lsoa21.csv",
    "imd2025/imd2025_lsoa21_indicators.csv",
    "census2021/ethnicity_lsoa21.csv",
    "census2021/disability_lsoa21.csv",
    "population/population_mid2020_lsoa11_single_year.csv",
    "geography/lookup_lsoa11_lsoa21_ltla22.csv",
    "geography/lookup_lsoa21_ward24_ltla24.csv",
    "geography/lookup_lsoa21_icb24.csv",
    "nhs_weighted_populations/2024_2025.csv",
)
ENGLAND_LSOAS_2021 = 33_755

#: Age bands, ``name: (first age, last age)``, ages in whole years; 90 means 90 and over.
AGE_BANDS = {
    "pop_0_4": (0, 4), "pop_0_15": (0, 15), "pop_5_19": (5, 19), "pop_16_24": (16, 24),
    "pop_16_59": (16, 59), "pop_16_64": (16, 64), "pop_18_plus": (18, 90), "pop_40_74": (40, 74),
    "pop_60_plus": (60, 90), "pop_65_plus": (65, 90), "pop_75_plus": (75, 90),
}
COUNTS = {*AGE_BANDS, "income_deprived", "children_income_deprived", "older_income_deprived"}
DOMAINS = ("IMD", "Income", "Employment", "Education", "Health", "Crime", "Housing_and_Services",
           "Environment")
ETHNIC_GROUPS = {
    "Asian, Asian British or Asian Welsh": "ethnic_asian",
    "Black, Black British, Black Welsh, Caribbean or African": "ethnic_black",
    "Mixed or Multiple ethnic groups": "ethnic_mixed",
    "Other ethnic group": "ethnic_other",
    "White": "ethnic_white",
}
#: The population groups of scenarios built on this table, as their ``[disaggregation]``: dimension ->
#: {group: areas column}. Census 2021 by sex is not among the shared data: there is no dimension by sex.
DISAGGREGATION = {
    "Ethnic group": {"Asian": "ethnic_asian", "Black": "ethnic_black", "Mixed": "ethnic_mixed",
                     "White": "ethnic_white", "Other": "ethnic_other"},
    "Disability": {"Disabled": "disabled", "Not disabled": "not_disabled"},
    "Age": {"0-15": "pop_0_15", "16-64": "pop_16_64", "65 and over": "pop_65_plus"},
}
INDICATORS = {
    "income_domain_numerator": "income_deprived",
    "income_deprivation_affecting_children_index_idaci_numerator": "children_income_deprived",
    "income_deprivation_affecting_older_people_index_idaopi_numerator": "older_income_deprived",
    "years_of_potential_life_lost_indicator": "years_of_potential_life_lost_indicator",
    "comparative_illness_and_disability_ratio_indicator": "comparative_illness_and_disability_ratio_indicator",
    "acute_morbidity_indicator": "acute_morbidity_indicator",
    "mental_health_indicator": "mental_health_indicator",
    "patient_to_gp_ratio": "patient_to_gp_ratio",
}


def _english(frame: pd.DataFrame, column: str = "lsoa21_code") -> pd.DataFrame:
    return frame[frame[column].str.startswith("E")].copy()


def read_geography(shared: Path) -> pd.DataFrame:
    """2021 LSOA -> name, 2024 ward, 2024 district, 2024 ICB and its NHS region."""
    geo = shared / "geography"
    wards = _english(pd.read_csv(geo / "lookup_lsoa21_ward24_ltla24.csv"))
    icbs = _english(pd.read_csv(geo / "lookup_lsoa21_icb24.csv",
                                usecols=["lsoa21_code", "icb24_code", "icb24_code_nhs", "icb24_name"]))
    check(wards["lsoa21_code"].is_unique, "an English 2021 LSOA lies in more than one 2024 ward")
    out = wards.merge(icbs, on="lsoa21_code", how="left", validate="one_to_one")
    check(out["icb24_code"].notna().all(), "an English 2021 LSOA has no 2024 ICB")
    out["nhs_region"] = out["icb24_code_nhs"].map(icb_regions(shared))
    check(out["nhs_region"].notna().all(), "an ICB has no NHS region among the practices of 2024/25")
    return out


def icb_regions(shared: Path) -> pd.Series:
    """NHS region of each ICB (by its NHS code): the region of most of its practices' patients."""
    practices = pd.read_csv(shared / "nhs_weighted_populations" / "2024_2025.csv",
                            usecols=["ICS22", "Region22", "Patients"])
    by = practices.groupby(["ICS22", "Region22"])["Patients"].sum().reset_index()
    main = by.sort_values(["ICS22", "Patients", "Region22"], ascending=[True, False, True])
    return main.drop_duplicates("ICS22").set_index("ICS22")["Region22"]


def nhs_need(shared: Path) -> pd.Series:
    """NHS England's weighted population per registered person ('Final WP' / 'pop 2022/23') of
    the GP practices in each 2021 district, relative to England's, for each English 2021 LSOA
    through its 2021 (= 2022) district in the ONS 2011 -> 2021 lookup."""
    nhs = pd.read_csv(shared / "nhs_weighted_populations" / "2024_2025.csv",
                      usecols=["LAD21", "pop 2022/23", "Final WP"])
    by = nhs.groupby("LAD21")[["pop 2022/23", "Final WP"]].sum()
    index = (by["Final WP"] / by["pop 2022/23"]) / (nhs["Final WP"].sum() / nhs["pop 2022/23"].sum())
    lookup = _english(pd.read_csv(shared / "geography" / "lookup_lsoa11_lsoa21_ltla22.csv",
                                  usecols=["lsoa21_code", "ltla22_code"])).drop_duplicates("lsoa21_code")
    out = lookup.set_index("lsoa21_code")["ltla22_code"].map(index)
    check(out.notna().all(), "a 2021 district has no GP practice in the NHS weighted populations")
    return out.rename("nhs_need_index")


def former_districts(shared: Path) -> pd.DataFrame:
    """The 2021/22 district of each 2021 LSOA (``ltla22_code``, ``ltla22_name``): districts abolished
    in 2023 (Cumbria, North Yorkshire, Somerset) are still found by their old names."""
    lookup = pd.read_csv(shared / "geography" / "lookup_lsoa11_lsoa21_ltla22.csv",
                         usecols=["lsoa21_code", "ltla22_code", "ltla22_name"])
    return _english(lookup).drop_duplicates("lsoa21_code")


def read_census(shared: Path) -> pd.DataFrame:
    """Census 2021 usual residents, by the five ethnic groups and by disability."""
    census = shared / "census2021"
    ethnic = _english(pd.read_csv(census / "ethnicity_lsoa21.csv")).rename(columns=ETHNIC_GROUPS)
    disability = _english(pd.read_csv(census / "disability_lsoa21.csv")).rename(columns={
        "usual_residents_2021": "residents_disability_table",
        "Disabled under the Equality Act": "disabled", "Not disabled under the Equality Act": "not_disabled"})
    out = ethnic.rename(columns={"usual_residents_2021": "population"}).merge(
        disability, on="lsoa21_code", how="inner", validate="one_to_one")
    return out.drop(columns="residents_disability_table")


def carry_ages(single_year: pd.DataFrame, lookup: pd.DataFrame, population21: pd.Series) -> pd.DataFrame:
    """Age bands per 2021 LSOA from single-year counts per 2011 LSOA, scaled to ``population21``.

    Each 2011 LSOA's counts are shared among the 2021 LSOAs it maps to in proportion to their
    Census 2021 usual residents (an unchanged or merged LSOA gives all of its counts to one);
    the counts reaching a 2021 LSOA give its age shares, applied to its Census 2021 total.

    Examples
    --------
    >>> ages = pd.DataFrame({"lsoa11_code": ["a", "b"], **{str(k): [1.0, 3.0] for k in range(90)},
    ...                      "90+": [0.0, 0.0]})
    >>> lookup = pd.DataFrame({"lsoa11_code": ["a", "b", "b"], "lsoa21_code": ["A", "B1", "B2"]})
    >>> bands = carry_ages(ages, lookup, pd.Series({"A": 180.0, "B1": 100.0, "B2": 300.0}))
    >>> bands.loc[["A", "B2"], "pop_0_4"].round(6).tolist()
    [10.0, 16.666667]
    """
    ages = [str(k) for k in range(90)] + ["90+"]
    counts = single_year.set_index("lsoa11_code")[ages].astype(float)
    pairs = lookup[["lsoa11_code", "lsoa21_code"]].drop_duplicates()
    pairs = pairs[pairs["lsoa11_code"].isin(counts.index) & pairs["lsoa21_code"].isin(population21.index)]
    residents = pairs["lsoa21_code"].map(population21).astype(float)
    share = residents / residents.groupby(pairs["lsoa11_code"]).transform("sum")
    carried = counts.loc[pairs["lsoa11_code"]].to_numpy() * share.to_numpy()[:, None]
    by21 = pd.DataFrame(carried, columns=ages).groupby(pairs["lsoa21_code"].to_numpy()).sum()
    total = by21.sum(axis=1)
    scale = population21.reindex(by21.index) / total
    out = pd.DataFrame(index=by21.index)
    for name, (first, last) in AGE_BANDS.items():
        columns = [str(k) for k in range(first, min(last, 89) + 1)] + (["90+"] if last >= 90 else [])
        out[name] = by21[columns].sum(axis=1) * scale
    return out


def read_ages(shared: Path, population21: pd.Series) -> pd.DataFrame:
    """`carry_ages` on the shared mid-2020 estimates and the ONS 2011 -> 2021 lookup."""
    single = pd.read_csv(shared / "population" / "population_mid2020_lsoa11_single_year.csv")
    lookup = pd.read_csv(shared / "geography" / "lookup_lsoa11_lsoa21_ltla22.csv",
                         usecols=["lsoa11_code", "lsoa21_code", "change_code"])
    bands = carry_ages(_english(single, "lsoa11_code"), _english(lookup), population21)
    check(len(bands) == len(population21), f"ages reach {len(bands):,} of {len(population21):,} 2021 LSOAs")
    return bands


def read_deprivation(shared: Path) -> pd.DataFrame:
    """IoD2025 scores, ranks and deciles of the IMD and its domains, and the indicators used."""
    imd = shared / "imd2025"
    ranks = pd.read_csv(imd / "imd2025_lsoa21.csv")
    indicators = pd.read_csv(imd / "imd2025_lsoa21_indicators.csv", usecols=["lsoa21_code", *INDICATORS])
    out = ranks.merge(indicators.rename(columns=INDICATORS), on="lsoa21_code", how="inner",
                      validate="one_to_one")
    for domain in DOMAINS:
        out[f"{domain}_rank"] = out[f"{domain}_rank"].astype(int)
        out[f"{domain}_decile"] = out[f"{domain}_decile"].astype(int)
    out.columns = [c.lower() if c.split("_")[0] in {d.split("_")[0] for d in DOMAINS} else c for c in out.columns]
    return out


def impute_numerators(table: pd.DataFrame) -> pd.DataFrame:
    """Fill suppressed (blank) income-deprivation counts, as for IoD2019 (see areas.py), and flag them.

    All ages: the rate published at neighbouring income ranks times the population. Children
    and older people: the all-age rate times the age group's ratio in the LSOA's income decile,
    times the age band. Each imputed count is capped at SUPPRESSED_COUNT_MAX people.
    """
    out = table.copy()
    count = {"income_deprived": "population", "children_income_deprived": "pop_0_15",
             "older_income_deprived": "pop_60_plus"}
    out["imputed_numerators"] = out[list(count)].isna().sum(axis=1).astype(int)
    known = out["income_deprived"].notna()
    rate = (out.loc[known, "income_deprived"] / out.loc[known, "population"]).groupby(
        out.loc[known, "income_rank"]).mean()
    all_age = np.interp(out["income_rank"], rate.index, rate.to_numpy()) * out["population"]
    out["income_deprived"] = out["income_deprived"].fillna(pd.Series(all_age, index=out.index)
                                                           .clip(upper=SUPPRESSED_COUNT_MAX))
    all_rate = out["income_deprived"] / out["population"]
    for numerator in ("children_income_deprived", "older_income_deprived"):
        band = count[numerator]
        both = out[numerator].notna() & known
        by = out[both].groupby("income_decile")
        ratio = (by[numerator].sum() / by[band].sum()) / (by["income_deprived"].sum() / by["population"].sum())
        expected = out[band] * all_rate * out["income_decile"].map(ratio)
        out[numerator] = out[numerator].fillna(expected.clip(upper=SUPPRESSED_COUNT_MAX))
    return out


def national_table(shared: Path) -> pd.DataFrame:
    """One row per English 2021 LSOA: place, people (ages, ethnic group, disability), deprivation."""
    geography = read_geography(shared)
    census = read_census(shared)
    check(len(geography) == len(census) == ENGLAND_LSOAS_2021,
          f"{len(geography):,} LSOAs in the lookups, {len(census):,} in the census; expected {ENGLAND_LSOAS_2021:,}")
    table = geography.merge(census, on="lsoa21_code", how="inner", validate="one_to_one")
    ages = read_ages(shared, table.set_index("lsoa21_code")["population"].astype(float))
    table = table.merge(ages, left_on="lsoa21_code", right_index=True, how="left", validate="one_to_one")
    table = table.merge(read_deprivation(shared), on="lsoa21_code", how="inner", validate="one_to_one")
    check(len(table) == ENGLAND_LSOAS_2021, f"{len(table):,} LSOAs after joining, expected {ENGLAND_LSOAS_2021:,}")
    table = impute_numerators(table)
    table["nhs_need_index"] = table["lsoa21_code"].map(nhs_need(shared))
    table = table.merge(former_districts(shared), on="lsoa21_code", how="left", validate="one_to_one")
    check(table["nhs_need_index"].notna().all(), "an LSOA has no NHS need index")
    return table.sort_values("lsoa21_code").reset_index(drop=True)


def national_means(table: pd.DataFrame) -> dict[str, float]:
    """Population-weighted national means of the health indicators (for need weights and curves)."""
    weight = table["population"] / table["population"].sum()
    return {column: float((table[column] * weight).sum()) for column in (
        "years_of_potential_life_lost_indicator", "comparative_illness_and_disability_ratio_indicator")}


def write_national(table: pd.DataFrame, folder: Path) -> Path:
    """Write the national table as compressed Parquet (deterministic bytes) into ``folder``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = table.copy()
    for column in table.columns:  # people to a hundredth (carried and imputed counts), scores as published
        if table[column].dtype.kind == "f":
            table[column] = table[column].round(2 if column in COUNTS else 6 if column == "nhs_need_index" else 3)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "lsoa21.parquet"
    arrow = pa.Table.from_pandas(table, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(arrow, path, compression="zstd", compression_level=19, write_statistics=False)
    return path
