"""The packaged national table (England on 2021 geography) holds what SOURCE.md says it holds."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

from allocator.build.national import AGE_BANDS, ENGLAND_LSOAS_2021, carry_ages, impute_numerators

# Published totals (ONS): Census 2021 usual residents of England, and of three districts
# (the sum over their LSOAs of the TS021 table).
ENGLAND_RESIDENTS_2021 = 56_490_048


@pytest.fixture(scope="module")
def national() -> pd.DataFrame:
    return pd.read_parquet(files("allocator.build") / "data" / "lsoa21.parquet")


def test_every_english_2021_lsoa_once_with_its_place(national):
    assert len(national) == ENGLAND_LSOAS_2021 and national["lsoa21_code"].is_unique
    assert national["lsoa21_code"].str.match(r"^E01\d{6}$").all()
    for column in ("ward24_code", "ltla24_code", "icb24_code", "nhs_region"):
        assert national[column].notna().all(), column
    assert national["ltla24_code"].nunique() == 296  # 2024 districts
    assert national["icb24_code"].nunique() == 42
    assert national["nhs_region"].nunique() == 7
    # every district lies in one NHS region (ICBs nest in regions, districts in ICBs but a few)
    assert (national.groupby("icb24_code")["nhs_region"].nunique() == 1).all()


def test_population_is_the_census_and_every_age_band_sums_within_it(national):
    assert national["population"].sum() == pytest.approx(ENGLAND_RESIDENTS_2021, abs=100)
    ethnic = national[[c for c in national if c.startswith("ethnic_")]].sum(axis=1)
    assert np.allclose(ethnic, national["population"], atol=3)  # ONS disclosure control: +-1 or 2
    disability = national["disabled"] + national["not_disabled"] - national["population"]
    assert disability.abs().max() <= 12 and abs(disability.mean()) < 0.01  # perturbed, not biased
    bands = national[list(AGE_BANDS)]
    assert (bands.ge(0).all(axis=None)) and bands.le(national["population"] + 0.01, axis=0).all(axis=None)
    # bands that partition the ages add up to the whole population
    parts = national["pop_0_15"] + national["pop_16_59"] + national["pop_60_plus"]
    assert np.allclose(parts, national["population"], atol=0.05)
    parts = national["pop_0_4"] + national["pop_5_19"] - national["pop_16_24"] + national["pop_16_64"] \
        + national["pop_65_plus"]
    assert parts.sum() < national["population"].sum()  # 16-19 counted twice, then 16-24 removed
    children = national["pop_0_15"].sum() / national["population"].sum()
    assert 0.17 < children < 0.20  # England: about 18.5% aged 0-15 in 2021


def test_deprivation_deciles_ranks_and_scores_agree(national):
    assert sorted(national["imd_rank"]) == list(range(1, ENGLAND_LSOAS_2021 + 1))
    ordered = national.sort_values("imd_rank")
    assert ordered["imd_score"].is_monotonic_decreasing  # rank 1 = highest score = most deprived
    assert ordered["imd_decile"].is_monotonic_increasing
    assert national["imd_decile"].value_counts().sort_index().between(3375, 3376).all()
    assert national["imputed_numerators"].between(0, 3).all()
    assert national[["income_deprived", "children_income_deprived", "older_income_deprived"]].notna().all(axis=None)
    rate = national["income_deprived"] / national["population"]
    # IoD2025's denominators are not the census's: one LSOA (E01001826, income score 0.998) counts
    # more income-deprived people than census residents
    assert rate.between(0, 1.2).all() and (rate > 1).sum() == 1
    # the income score is published as the income-deprived rate: the numerators agree with it
    published = national["imputed_numerators"] == 0
    assert np.corrcoef(rate[published], national.loc[published, "income_score"])[0, 1] > 0.95


def test_carrying_ages_keeps_an_unchanged_lsoas_shares_and_splits_by_residents():
    ages = [str(k) for k in range(90)] + ["90+"]
    single = pd.DataFrame({"lsoa11_code": ["u", "s", "m1", "m2"],
                           **{a: [2.0, 4.0, 1.0, 3.0] if int(a.rstrip("+")) < 16 else [1.0, 1.0, 1.0, 1.0]
                              for a in ages}})
    lookup = pd.DataFrame({"lsoa11_code": ["u", "s", "s", "m1", "m2"],
                           "lsoa21_code": ["U", "S1", "S2", "M", "M"]})
    residents = pd.Series({"U": 500.0, "S1": 300.0, "S2": 100.0, "M": 400.0})
    bands = carry_ages(single, lookup, residents)
    share_u = 16 * 2.0 / (16 * 2.0 + 75 * 1.0)
    assert bands.at["U", "pop_0_15"] == pytest.approx(500 * share_u)
    share_s = 16 * 4.0 / (16 * 4.0 + 75)
    assert bands.at["S1", "pop_0_15"] == pytest.approx(300 * share_s)  # a split shares one profile
    assert bands.at["S2", "pop_0_15"] == pytest.approx(100 * share_s)
    share_m = 16 * 4.0 / (16 * 4.0 + 150)  # a merge pools its parts
    assert bands.at["M", "pop_0_15"] == pytest.approx(400 * share_m)
    assert bands["pop_0_15"].add(bands["pop_16_59"]).add(bands["pop_60_plus"]).to_dict() == pytest.approx(
        residents.to_dict())


def test_suppressed_counts_are_imputed_small_and_flagged():
    table = pd.DataFrame({
        "population": [1000.0, 1000.0, 1000.0, 1000.0], "pop_0_15": [200.0] * 4, "pop_60_plus": [250.0] * 4,
        "income_rank": [1, 2, 3, 4], "income_decile": [1, 1, 1, 1],
        "income_deprived": [300.0, np.nan, 100.0, 50.0],
        "children_income_deprived": [80.0, 60.0, np.nan, 10.0],
        "older_income_deprived": [70.0, 50.0, 20.0, np.nan]})
    out = impute_numerators(table)
    assert out["imputed_numerators"].tolist() == [0, 1, 1, 1]
    assert out.loc[1, "income_deprived"] == 7.5  # interpolated 200, capped: a suppressed count is small
    assert 0 < out.loc[2, "children_income_deprived"] <= 7.5
    assert 0 < out.loc[3, "older_income_deprived"] <= 7.5
    assert out.loc[0, "income_deprived"] == 300.0  # published counts untouched
