"""Tests for allocator.measures.life_expectancy: the gradient of life expectancy (or any value) by area."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from phe import phe_fit

from allocator.measures.life_expectancy import (
    SINGLE_AREA_REPETITIONS,
    TABLE_REPETITIONS,
    GradientTableError,
    flag_values,
    gradient_table,
    load_bundled_le,
)

DATA = Path(__file__).parent / "data"
LE_CSV = DATA / "life_expectancy_by_decile" / "LE_data.csv"
SII_REFERENCE = DATA / "sii_reference"


@pytest.fixture(scope="module")
def le() -> pd.DataFrame:
    return load_bundled_le()


@pytest.fixture(scope="module")
def every_area(le) -> pd.DataFrame:
    return gradient_table(le)



def test_bundled_table_is_the_attributed_copy(le):
    assert le.equals(pd.read_csv(LE_CSV, dtype={"GeoCode": str}))
    notes = (Path(__file__).parents[1] / "allocator" / "measures" / "data" / "life_expectancy_by_decile.md").read_text()
    assert "PHEindicatormethods" in notes and "GPL-3" in notes and "2.1.0" in notes


@pytest.mark.parametrize("sex", [1, 2])
def test_england_sii_by_decile(le, sex):
    rows = le.query("GeoCode == 'England' and Sex == @sex").sort_values("Decile")
    row = gradient_table(le.query("GeoCode == 'England'")).set_index("Sex").loc[sex]
    b0, b1 = phe_fit(rows["LifeExp"].to_numpy(), rows["Pop"].to_numpy(dtype=float))
    assert row["sii"] == pytest.approx(b1, rel=1e-9)
    assert row["rii"] == pytest.approx((b0 + b1) / b0, rel=1e-9)
    assert row["intercept"] == pytest.approx(b0, rel=1e-9)
    assert row["sii_lower"] < row["sii"] < row["sii_upper"]
    assert row["repetitions"] == SINGLE_AREA_REPETITIONS  # one area: PHE's default
    assert row["area_type"] == "country" and row["flag"] == "" and row["note"] == ""
    # England's deciles hold ~8 million people each: the interval is narrow.
    assert row["sii_upper"] - row["sii_lower"] < 0.5


def test_england_values_in_years(le):
    table = gradient_table(le.query("GeoCode == 'England'")).set_index("Sex")
    assert table["sii"].round(2).to_dict() == {1: 9.35, 2: 7.27}
    assert table["rii"].round(3).to_dict() == {1: 1.125, 2: 1.092}


@pytest.mark.parametrize(("sex", "ons_gap_years"), [(1, 9.3), (2, 7.4)])
def test_england_gap_is_near_the_ons_published_gap(every_area, sex, ons_gap_years):
    # ONS published gaps in life expectancy at birth between the most and least
    # deprived deciles of about 9.3 years (males) and 7.4 years (females),
    # England 2014-16. The bundled PHE table does not state its period, and the
    # gap moved by a few tenths of a year across the 2010s, so the tolerance is
    # half a year: enough for a neighbouring period, far too little for a sign,
    # direction or decile-order error (the gap would be negative or ~0).
    row = every_area.query("GeoCode == 'England' and Sex == @sex").iloc[0]
    assert row["gap_absolute"] == pytest.approx(ons_gap_years, abs=0.5)
    # The SII, the gap between the fitted ends of the whole gradient, agrees too.
    assert row["sii"] == pytest.approx(ons_gap_years, abs=0.5)


def test_published_local_authority_siis_are_reproduced_by_the_table(every_area):
    # PHEindicatormethods vignette "Worked examples for phe_sii function",
    # example 1 (LE_data, se = SE): published SIIs of the first ten areas (males).
    published = pd.read_csv(SII_REFERENCE / "phe_sii_le_data_expected.csv")
    ours = every_area.set_index(["Sex", "GeoCode"]).loc[list(zip(published.Sex, published.GeoCode))]
    assert ours["sii"].to_numpy() == pytest.approx(published["sii"].to_numpy(), abs=5e-6)
    assert ours["sii_lower"].to_numpy() == pytest.approx(published["sii_lower_95"].to_numpy(), rel=0.05)
    assert ours["sii_upper"].to_numpy() == pytest.approx(published["sii_upper_95"].to_numpy(), rel=0.05)


def test_every_area_gets_a_row(le, every_area):
    groups = le[["GeoCode", "Sex"]].drop_duplicates()
    assert len(every_area) == len(groups) == 724
    assert every_area["repetitions"].eq(TABLE_REPETITIONS).all()
    counts = every_area.drop_duplicates("GeoCode")["area_type"].value_counts().to_dict()
    assert counts["country"] == 1 and counts["region"] == 9
    assert every_area.query("note == ''")["sii"].notna().all()


def test_implausible_value_is_flagged_not_hidden(le, every_area):
    flagged = every_area[every_area["flag"] != ""]
    assert flagged[["GeoCode", "Sex"]].values.tolist() == [["E06000017", 2]]
    flag = flagged["flag"].iloc[0]
    assert "decile 3" in flag and "LifeExp 107.96 outside 40-100" in flag and "SE 15.8 > 5" in flag
    assert np.isfinite(flagged["sii"].iloc[0])  # computed with it, as PHE would
    rows = flag_values(le)
    assert rows[rows != ""].index.tolist() == le.query("LifeExp > 100").index.tolist()


def test_area_with_missing_deciles_is_reported_not_dropped(every_area):
    scilly = every_area.query("GeoCode == 'E06000053'")
    assert len(scilly) == 2
    assert scilly["note"].tolist() == ["not computed: decile 2-10 missing or unusable (has 1 of 10)"] * 2
    assert scilly["sii"].isna().all() and (scilly["quantiles"] == 1).all()


def test_unusable_rows_count_as_missing(le):
    one = le.query("GeoCode == 'E06000001'").copy()
    one.loc[one.index[3], "SE"] = np.nan  # male decile 4
    one.loc[one.index[15], "Pop"] = 0  # female decile 6
    table = gradient_table(one, repetitions=1_000)
    assert table["note"].tolist() == [
        "not computed: decile 4 missing or unusable (has 9 of 10)",
        "not computed: decile 6 missing or unusable (has 9 of 10)",
    ]


def test_same_seed_same_table_other_seed_other_limits(le):
    some = le[le["GeoCode"].isin(["E06000001", "E12000004", "E09000030"])]
    first, again = gradient_table(some, seed=3), gradient_table(some, seed=3)
    pd.testing.assert_frame_equal(first, again)
    other = gradient_table(some, seed=4)
    assert (other["sii"] == first["sii"]).all()
    assert (other["sii_lower"] != first["sii_lower"]).all()


def test_an_areas_row_does_not_depend_on_the_rest_of_the_table(le, every_area):
    alone = gradient_table(le.query("GeoCode == 'E08000012'"), repetitions=TABLE_REPETITIONS)
    together = every_area.query("GeoCode == 'E08000012'").reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, together)


def test_most_deprived_as_the_largest_label_gives_the_same_gradient(le):
    some = le[le["GeoCode"].isin(["England", "E12000007"])]
    flipped = some.assign(Decile=11 - some["Decile"])
    pd.testing.assert_frame_equal(
        gradient_table(some, repetitions=2_000),
        gradient_table(flipped, most_deprived=10, repetitions=2_000),
    )


def test_other_measures_agree_with_their_definitions(le):
    rows = le.query("GeoCode == 'E12000001' and Sex == 1").sort_values("Decile")
    row = gradient_table(rows, repetitions=1_000).iloc[0]
    y, pop = rows["LifeExp"].to_numpy(), rows["Pop"].to_numpy(dtype=float)
    assert row["gap_absolute"] == pytest.approx(y[-1] - y[0])
    assert row["gap_relative"] == pytest.approx(y[-1] / y[0])
    assert row["mean"] == pytest.approx(np.average(y, weights=pop))
    assert row["ede"] == pytest.approx(np.exp(np.average(np.log(y), weights=pop)))  # epsilon 1
    assert row["rii_alternative"] == pytest.approx(row["sii"] / row["mean"])
    assert row["concentration_index"] > 0  # life expectancy concentrated among the less deprived
    assert row["population"] == pop.sum()


def test_any_indicator_rates_by_quintile_with_limits_reproduce_phe(le):
    # The calculator is not only for life expectancy: PHE's published DSR example
    # (rate, log transform) through the table API, one row per period.
    dsr = pd.read_csv(SII_REFERENCE / "phe_sii_rate_dsr_input.csv")
    expected = pd.read_csv(SII_REFERENCE / "phe_sii_rate_dsr_expected.csv")
    table = gradient_table(dsr, area="Period", quantile="Quintile", value="value",
                           population="total_pop", se=None, lower_cl="lowercl",
                           upper_cl="uppercl", by=(), value_type="rate", transform=True,
                           plausible=None, repetitions=20_000)
    assert table["Period"].tolist() == expected["Period"].tolist()
    assert table["sii"].to_numpy() == pytest.approx(expected["sii"].to_numpy(), abs=5e-6)
    assert table["rii"].to_numpy() == pytest.approx(expected["rii"].to_numpy(), abs=5e-8)
    assert table["sii_lower"].to_numpy() == pytest.approx(expected["sii_lower_95"].to_numpy(), rel=0.05)
    assert (table["flag"] == "").all() and (table["area_type"] == "").all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns="Pop"), "missing column: population 'Pop'; the table has: Sex, GeoCode"),
        (lambda t: pd.concat([t, t.iloc[[0]]]), "2 rows repeat an area x quantile"),
        (lambda t: t.astype({"LifeExp": object}).assign(LifeExp=lambda d: d["LifeExp"].where(
            d.index != d.index[2], "n/a")), "column 'LifeExp', data row 3: expected a number, got 'n/a'"),
    ],
)
def test_bad_tables_raise_errors_a_person_can_act_on(le, change, message):
    table = change(le.query("GeoCode == 'E06000001'"))
    with pytest.raises(GradientTableError, match=message.replace("(", r"\(")) as caught:
        gradient_table(table)
    assert isinstance(caught.value, ValueError)  # measures stand alone; the CLI maps ValueError to exit 2


def test_most_deprived_must_be_an_end_label(le):
    with pytest.raises(GradientTableError, match=r"smallest or largest label of 'Decile' \(1 or 10\), got 5"):
        gradient_table(le.query("GeoCode == 'England'"), most_deprived=5)


def test_se_or_limits_are_required(le):
    with pytest.raises(GradientTableError, match="give a standard error column, or both"):
        gradient_table(le.query("GeoCode == 'England'"), se=None)
