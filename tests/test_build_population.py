"""Population groups in the scenarios the build and `allocator new` write: columns, [disaggregation], README.

Reads only the project's files: the bundled scenarios and the packaged national table.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import allocator
from allocator.build.national import DISAGGREGATION
from allocator.build.new import new_scenario
from allocator.build.place import areas, find, national
from allocator.build.writers import scenario_toml

ROOT = Path(__file__).resolve().parents[1]
ETHNIC = ["ethnic_asian", "ethnic_black", "ethnic_mixed", "ethnic_white", "ethnic_other"]


@pytest.mark.parametrize("name", ["england-la", "england-la-plan", "england-lsoa"])
def test_the_bundled_england_scenarios_name_their_groups(name):
    manifest = tomllib.loads((ROOT / "scenarios" / name / "scenario.toml").read_text())
    assert manifest["disaggregation"] == DISAGGREGATION
    header = (ROOT / "scenarios" / name / "areas.csv").open().readline().strip().split(",")
    assert {c for groups in DISAGGREGATION.values() for c in groups.values()} <= set(header)
    readme = (ROOT / "scenarios" / name / "README.md").read_text()
    assert "Population groups (`[disaggregation]`)" in readme
    if name != "england-la-plan":  # whose README points to england-la's
        assert "Census 2021 ethnic group (TS021)" in readme and "no dimension by sex" in readme
        assert "An area-level estimate, not individual data" in readme


def test_the_districts_hold_the_census_people_of_their_lsoas():
    table = pd.read_csv(ROOT / "scenarios" / "england-la" / "areas.csv")
    lsoas = national()
    by_district = lsoas.groupby("ltla24_code")[ETHNIC + ["disabled", "not_disabled"]].sum()
    mine = table.set_index("area_id")[ETHNIC + ["disabled", "not_disabled"]]
    pd.testing.assert_frame_equal(mine.sort_index().astype(float), by_district.sort_index(), check_names=False)
    assert (table[ETHNIC].sum(axis=1) == table["population"]).all()  # one census table: the same total
    off = (table["disabled"] + table["not_disabled"] - table["population"]).abs() / table["population"]
    assert off.max() < 0.001  # another census table: a few people apart in an area of thousands


def test_a_new_ward_scenario_sums_its_lsoas_and_loads_its_three_dimensions(tmp_path):
    place = find("district", "Blackpool")
    written = new_scenario(tmp_path / "s", place, "ward", check=False)
    table = pd.read_csv(written.folder / "areas.csv")
    lsoas = national()
    lsoas = lsoas[lsoas["ltla24_code"] == place.code]
    expected = lsoas.groupby("ward24_code")[ETHNIC + ["disabled"]].sum()
    got = table.set_index("area_id")[ETHNIC + ["disabled"]].astype(float)
    pd.testing.assert_frame_equal(got.sort_index(), expected.sort_index(), check_names=False)
    s = allocator.load(written.folder)
    assert [d.name for d in s.disaggregation] == ["Ethnic group", "Disability", "Age"]
    assert s.disaggregation[0].groups == ("Asian", "Black", "Mixed", "White", "Other")
    ages = table[["pop_0_15", "pop_16_64", "pop_65_plus"]].to_numpy()
    np.testing.assert_allclose(s.disaggregation[2].shares, ages / ages.sum(axis=1, keepdims=True))
    assert "no dimension by sex" in (written.folder / "README.md").read_text()


def test_the_area_columns_at_lsoa_level_are_the_census_counts():
    frame = areas(find("district", "Blackpool"), "lsoa")
    lsoas = national().set_index("lsoa21_code")
    for column in ETHNIC + ["disabled", "not_disabled"]:
        assert frame.set_index("area_id")[column].equals(lsoas.loc[frame["area_id"], column].rename_axis("area_id"))


def test_the_block_written_parses_back():
    gradient = {"outcome": "y", "outcome_units": "u", "higher_is_better": True, "deprivation": "d",
                "most_deprived": "high"}
    groups = {"Ethnic \"group\"": {"A & B": "a", "C": "c"}, "Sex": {"Female": "f", "Male": "m"}}
    text = scenario_toml("n", "d", "credit", 1e6, gradient, baseline=False, pace=None, disaggregation=groups)
    assert tomllib.loads(text)["disaggregation"] == groups
    assert "[disaggregation]" not in scenario_toml("n", "d", "credit", 1e6, gradient, baseline=False, pace=None)
