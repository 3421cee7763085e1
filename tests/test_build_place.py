"""A scenario for any English place: found forgivingly, built on current data, valid and solvable."""

from __future__ import annotations

import pytest

import allocator
from allocator.build.new import current_services, default_budget, new_scenario
from allocator.build.place import Place, PlaceError, areas, find, places

# Census 2021 usual residents as ONS published them, rounded to the nearest 100 (TS001):
# a unitary authority, a London borough, a shire district, and the districts of one ICB.
CENSUS_2021 = {"Blackpool": 141_100, "Tower Hamlets": 310_300, "Cambridge": 145_700}
CHESHIRE_AND_MERSEYSIDE = {"Cheshire East": 398_800, "Cheshire West and Chester": 357_200, "Halton": None,
                           "Knowsley": 154_500, "Liverpool": 486_100, "St. Helens": 183_200,
                           "Sefton": 279_300, "Warrington": 210_900, "Wirral": 320_200}


@pytest.mark.parametrize(("kind", "query", "code"), [
    ("district", "Blackpool", "E06000009"),
    ("district", "  tower hamlets ", "E09000030"),
    ("district", "E07000008", "E07000008"),
    ("district", "Kingston upon Hull", "E06000010"),
    ("district", "Bristol", "E06000023"),
    ("icb", "Cheshire & Merseyside ICB", "E54000008"),
    ("icb", "QYG", "E54000008"),
    ("icb", "NHS Cheshire and Merseyside Integrated Care Board", "E54000008"),
    ("region", "north west", "North West"),
])
def test_places_are_found_by_code_or_by_name_as_people_type_it(kind, query, code):
    assert find(kind, query).code == code


@pytest.mark.parametrize(("kind", "query", "says"), [
    ("district", "Blackpol", "did you mean 'Blackpool'"),
    ("district", "Newcastle", "matches more than one"),
    ("district", "South Lakeland", "now in Westmorland and Furness"),
    ("district", "Harrogate", "now in North York"),
    ("icb", "Atlantis", "is not a 2024 Integrated Care Board"),
    ("region", "Wales", "NHS region"),
])
def test_a_place_not_in_the_data_is_refused_with_the_nearest_choices(kind, query, says):
    with pytest.raises(PlaceError, match=says):
        find(kind, query)


def test_the_places_partition_england():
    districts, icbs = places("district"), places("icb")
    assert len(districts) == 296 and len(icbs) == 42
    assert districts["population"].sum() == icbs["population"].sum() == places("region")["population"].sum()


@pytest.mark.parametrize(("district", "level"), [("Blackpool", "lsoa"), ("Tower Hamlets", "ward"),
                                                  ("Cambridge", "lsoa")])
def test_a_district_scenario_validates_solves_and_holds_its_census_population(tmp_path, district, level):
    written = new_scenario(tmp_path / "s", find("district", district), level)
    assert abs(written.population - CENSUS_2021[district]) <= 100  # published to the nearest 100
    scenario = allocator.load(written.folder)
    assert scenario.n_areas == written.areas and scenario.n_services == 8
    assert scenario.budget_gbp == written.budget_gbp
    result = allocator.solve(scenario)
    assert result.allocation.spend.sum() == pytest.approx(written.budget_gbp, abs=0.01)
    assert (written.folder / "models" / "need").is_dir() and (written.folder / "README.md").is_file()


def test_an_icb_at_district_level_holds_its_districts(tmp_path):
    written = new_scenario(tmp_path / "icb", find("icb", "QYG"), "district", check=False)
    frame = allocator.load(written.folder).areas.set_index("area_name")
    assert sorted(frame.index) == sorted(CHESHIRE_AND_MERSEYSIDE)
    for name, census in CHESHIRE_AND_MERSEYSIDE.items():
        if census is not None:  # (Halton's published figure is not to hand here)
            assert abs(float(frame.at[name, "population"]) - census) <= 100, name


def test_default_budgets_share_out_the_national_budget_by_need():
    services = current_services()
    regions = places("region")
    total = sum(default_budget(Place("region", r, r), services)[0] for r in regions["code"])
    assert total == pytest.approx(3.6e9, rel=1e-6)  # the regions partition England's need


def test_a_budget_below_the_floors_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(PlaceError, match="the floors alone cost .* give at least"):
        new_scenario(tmp_path / "s", find("district", "Blackpool"), "lsoa", budget=1e6)
    assert not (tmp_path / "s").exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder left behind


def test_a_budget_that_pins_lines_to_their_caps_is_warned_about_with_a_better_range(tmp_path):
    written = new_scenario(tmp_path / "s", find("district", "Blackpool"), "lsoa", budget=20e6)
    assert len(written.warnings) == 1
    assert "of the budget lines at their floor or cap" in written.warnings[0]
    assert "keep at most 25% of lines at a bound" in written.warnings[0]


def test_a_level_the_place_cannot_be_split_into_is_refused():
    with pytest.raises(PlaceError, match="needs at least two areas"):
        areas(find("district", "York"), "district")


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "keep.txt").write_text("mine")
    with pytest.raises(allocator.ScenarioError, match="already exists"):
        new_scenario(tmp_path / "s", find("district", "Blackpool"), "lsoa")
    assert (tmp_path / "s" / "keep.txt").read_text() == "mine"


def test_the_readme_names_every_source_with_its_licence(tmp_path):
    written = new_scenario(tmp_path / "s", find("district", "Cambridge"), "ward", check=False)
    text = (written.folder / "README.md").read_text()
    for source in ("Indices of Deprivation 2025", "Census 2021", "Mid-2020 population", "Open Geography",
                   "NHS England weighted populations", "York", "Open Government Licence v3.0"):
        assert source in text, source
    assert "cost_index` is 1 everywhere" in text
