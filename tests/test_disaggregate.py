"""Spend and health by population group (`[disaggregation]`): read, checked, estimated and reconciled.

The numbers of the hand-worked case are worked out in the comments from the tiny scenario's
areas (1,000, 2,000, 1,500 and 500 people), never taken from allocator's own output.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import DATA, edit
from hostile import expect
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import allocator
from allocator.analysis.disaggregate import METHOD, by_population_group, spend_by_group
from allocator.scenario.population import Dimension

# people per area A1..A4 (population 1000, 2000, 1500, 500); 'notdis' of A1 is two people over,
# as census tables are: the counts are used as shares of each area's people
COLUMNS = {"dis": [200, 300, 150, 50], "notdis": [802, 1700, 1350, 450],
           "young": [200, 300, 250, 100], "old": [800, 1700, 1250, 400]}
BLOCK = ('\n[disaggregation]\n"Disability" = { "Disabled" = "dis", "Not disabled" = "notdis" }\n'
         '"Age" = { "Young" = "young", "Old" = "old" }\n')


def with_groups(folder, block: str = BLOCK, columns: dict | None = None):
    """The tiny scenario in ``folder`` with population-group columns and a [disaggregation] block."""
    areas = folder / "areas.csv"
    lines = areas.read_text().splitlines()
    columns = COLUMNS if columns is None else columns
    lines[0] += "".join(f",{c}" for c in columns)
    for k in range(1, len(lines)):
        lines[k] += "".join(f",{v[k - 1]}" for v in columns.values())
    areas.write_text("\n".join(lines) + "\n")
    manifest = (folder / "scenario.toml").read_text()
    top = not block.lstrip().startswith("[")  # a top-level key: above the first section
    (folder / "scenario.toml").write_text(block + manifest if top else manifest + block)
    return folder


@pytest.fixture
def grouped(tiny):
    return with_groups(tiny)


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    import shutil

    folder = tmp_path_factory.mktemp("groups") / "tiny"
    shutil.copytree(DATA / "tiny", folder)
    return allocator.solve(with_groups(folder))


# -- reading and checking ---------------------------------------------------------------------
def test_the_block_is_read_as_shares_of_each_areas_people(grouped):
    s = allocator.load(grouped)
    disability, age = s.disaggregation
    assert (disability.name, disability.groups, disability.columns) == ("Disability", ("Disabled", "Not disabled"),
                                                                        ("dis", "notdis"))
    assert age.groups == ("Young", "Old")
    assert disability.shares[0].tolist() == pytest.approx([200 / 1002, 802 / 1002])  # a census-like total
    assert disability.shares[1].tolist() == pytest.approx([0.15, 0.85])
    np.testing.assert_allclose(disability.people(s.population).sum(axis=1), s.population)


@pytest.mark.parametrize(("block", "columns", "says"), [
    ('\n[disaggregation]\n"Age" = { "Young" = "young", "Old" = "nope" }\n', None,
     ["areas.csv: missing column 'nope'", "[disaggregation] 'Age' group 'Old'"]),
    (BLOCK, {**COLUMNS, "dis": [200, "many", 150, 50]},
     ["areas.csv, row 3 (data row 2), column 'dis': expected a number >= 0, got 'many'"]),
    (BLOCK, {**COLUMNS, "old": [800, 1700, 1250, -400]},
     ["areas.csv, row 5 (data row 4), column 'old': expected a number >= 0, got '-400'"]),
    ('\n[disaggregation]\n"Disability" = { "Disabled" = "dis" }\n', None,
     ["[disaggregation] 'Disability': expected at least two groups", "got 1"]),
    ('\n[disaggregation]\n"Age" = { "Young" = "young", "Disabled" = "dis" }\n', None,
     [("areas.csv, row 2 (data row 1), column 'young + dis': expected people adding up to the area's population "
       "1,000 (within 5% or 10 people), got 400.0"), "the groups of 'Age' should hold all the area's people"]),
    ('\n[disaggregation]\n"Age" = "young"\n', None, ["[disaggregation] 'Age': expected a table of groups"]),
    ('disaggregation = 3\n', None, ["[disaggregation] must be a table"]),
    ('\n[disaggregation]\n"Age" = { "Young" = "young", "Old" = "young" }\n', None,
     ["groups 'Young' and 'Old' both name the column 'young'"]),
])
def test_bad_groups_exit_2_naming_the_file_row_column_expected_and_found(tiny, block, columns, says):
    with_groups(tiny, block, columns)
    expect(2, ["validate", tiny], *says)


def test_far_from_the_population_lists_every_area(tiny):
    out = expect(2, ["validate", with_groups(tiny, '\n[disaggregation]\n"Age" = { "Young" = "young", '
                                                   '"Disabled" = "dis" }\n')], "row 2", "row 3", "row 4", "row 5")
    assert "4 problems" in out.output


def test_counts_a_few_people_off_the_population_are_accepted(tiny):
    off = {**COLUMNS, "notdis": [810, 1690, 1350, 450]}  # 10 over, 10 under: within 10 people
    s = allocator.load(with_groups(tiny, columns=off))
    assert s.disaggregation[0].shares.sum(axis=1) == pytest.approx(np.ones(4))


def test_from_counts_refuses_what_cannot_be_shares():
    with pytest.raises(allocator.ScenarioError, match="at least two groups"):
        Dimension.from_counts("x", ["a"], [[1], [2]])
    with pytest.raises(allocator.ScenarioError, match="finite and >= 0"):
        Dimension.from_counts("x", ["a", "b"], [[1, -1], [2, 2]])
    with pytest.raises(allocator.ScenarioError, match="area number 2 has nobody"):
        Dimension.from_counts("x", ["a", "b"], [[1, 1], [0, 0]])


# -- the estimate, by hand ------------------------------------------------------------------------
def test_a_hand_worked_case(grouped):
    s = allocator.load(grouped)
    spend = np.array([10_000.0, 20_000.0, 30_000.0, 40_000.0])
    before = np.full(4, 25_000.0)
    y0, y1 = s.outcome, s.outcome + np.array([1.0, 0.5, 0.0, 0.0])  # life expectancy 76, 79, 81, 83
    table = spend_by_group(s, spend, before=before, before_label="baseline", outcome_before=y0,
                           outcome_after=y1).set_index("group")
    # disabled people: 200/1002 of A1's 1,000 (199.6), 300 of A2, 150 of A3, 50 of A4
    a1 = 200 / 1002
    people = a1 * 1000 + 300 + 150 + 50
    spent = a1 * 10_000 + 0.15 * 20_000 + 0.1 * 30_000 + 0.1 * 40_000
    row = table.loc["Disabled"]
    assert row["population"] == pytest.approx(people)
    assert row["spend_gbp"] == pytest.approx(spent)
    assert row["baseline_spend_gbp"] == pytest.approx(25_000 * (a1 + 0.15 + 0.1 + 0.1))
    assert row["spend_per_head_gbp"] == pytest.approx(spent / people)
    assert row["spend_per_head_relative_to_average"] == pytest.approx((spent / people) / (100_000 / 5_000))
    assert row["share_of_spend"] == pytest.approx(spent / 100_000)
    assert row["share_of_population"] == pytest.approx(people / 5_000)
    gain = a1 * 1000 * 1.0 + 300 * 0.5  # years x people: A1 gains a year, A2 half a year
    assert row["health_gain"] == pytest.approx(gain)
    assert row["outcome_baseline"] == pytest.approx((a1 * 1000 * 76 + 300 * 79 + 150 * 81 + 50 * 83) / people)
    assert row["outcome_change"] == pytest.approx(gain / people)
    assert table.loc["Not disabled", "health_gain"] == pytest.approx(1000 * 1.0 + 2000 * 0.5 - gain)
    # age: young 200, 300, 250, 100 of 1000, 2000, 1500, 500 (each area's counts add up)
    assert table.loc["Young", "spend_gbp"] == pytest.approx(0.2 * 10_000 + 0.15 * 20_000 + 30_000 / 6 + 0.2 * 40_000)
    assert table.loc["Young", "column"] == "young"


def test_lower_is_better_outcomes_gain_when_they_fall(grouped):
    edit(grouped / "scenario.toml", "higher_is_better = true", "higher_is_better = false")
    s = allocator.load(grouped)
    table = spend_by_group(s, np.ones(4), outcome_before=s.outcome, outcome_after=s.outcome - 1.0)
    assert table["health_gain"].to_numpy() == pytest.approx(table["population"].to_numpy())


def test_no_dimensions_give_an_empty_table_with_the_columns(tiny):
    s = allocator.load(tiny)
    table = spend_by_group(s, np.ones(4), before=np.ones(4))
    assert table.empty and {"dimension", "group", "spend_gbp", "before_spend_gbp"} <= set(table.columns)
    with pytest.raises(ValueError, match="one value per area"):
        spend_by_group(s, np.ones(3))


# -- a solved scenario: reconciled, and in the result, the comparison and the API ---------------------
def test_each_dimension_reconciles_to_the_allocation_and_the_health_gain(solved):
    table = solved.tables["spend_by_population_group"]
    total = solved.allocation.spend.sum()
    gain = solved.metrics.set_index("measure").at["total_gain", "change"]
    for dimension, rows in table.groupby("dimension"):
        assert abs(rows["spend_gbp"].sum() - total) < 0.005, dimension  # to the penny
        assert rows["spend_gbp"].sum() == pytest.approx(total, rel=1e-9)
        assert rows["population"].sum() == pytest.approx(solved.scenario.population.sum(), rel=1e-12)
        assert rows["health_gain"].sum() == pytest.approx(gain, rel=1e-9)
        assert rows["share_of_spend"].sum() == pytest.approx(1.0)
    assert table.equals(by_population_group(solved.scenario, solved.allocation, solved.outcomes))


def test_a_scenario_without_groups_has_no_table(tiny):
    result = allocator.solve(tiny)
    assert "spend_by_population_group" not in result.tables
    assert result.gradient.by_population_group is None
    assert "options_spend_by_population_group" not in allocator.compare(tiny, explain=False).tables


def test_compare_gives_each_options_groups(grouped):
    (grouped / "scenario.toml").write_text((grouped / "scenario.toml").read_text().replace(
        "[disaggregation]", '[[option]]\nname = "Health"\n\n[[option]]\nname = "Fair"\nobjective = "fair-share"'
        '\n\n[disaggregation]'))
    comparison = allocator.compare(grouped, explain=False)
    table = comparison.tables["options_spend_by_population_group"]
    assert table.columns[0] == "option" and table["option"].unique().tolist() == ["Health", "Fair"]
    for name, result in zip(comparison.names, comparison.results):
        mine = table[table["option"] == name].drop(columns="option").reset_index(drop=True)
        assert mine.equals(result.tables["spend_by_population_group"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_group_shares_reconcile_and_stay_within_the_areas_spend_per_head(solved, data):
    groups = data.draw(st.integers(2, 6))
    counts = data.draw(arrays(float, (4, groups), elements=st.floats(0, 1e6, allow_subnormal=False))
                       .filter(lambda c: (c.sum(axis=1) > 1e-3).all()))
    spend = data.draw(arrays(float, 4, elements=st.floats(0, 1e9, allow_subnormal=False)))
    dimension = Dimension.from_counts("Random", [f"g{k}" for k in range(groups)], counts)
    s = dataclasses.replace(solved.scenario, disaggregation=(dimension,))
    table = spend_by_group(s, spend, outcome_before=s.outcome, outcome_after=solved.outcomes.projected)
    assert table["spend_gbp"].sum() == pytest.approx(spend.sum(), rel=1e-9, abs=1e-6)
    assert table["population"].sum() == pytest.approx(s.population.sum(), rel=1e-12)
    change = ((solved.outcomes.projected - s.outcome) * s.population).sum()
    assert table["health_gain"].sum() == pytest.approx(change, rel=1e-9, abs=1e-9)
    per_head = spend / s.population
    present = table["population"].to_numpy() > 1e-9 * s.population.sum()
    inside = table.loc[present, "spend_per_head_gbp"].to_numpy()
    assert np.all(inside >= per_head.min() * (1 - 1e-9) - 1e-9)
    assert np.all(inside <= per_head.max() * (1 + 1e-9) + 1e-9)
    if spend.sum() > 0:  # the average person's spend per head is the people-weighted mean of the groups'
        weighted = (table["share_of_population"] * table["spend_per_head_relative_to_average"])[present].sum()
        assert weighted == pytest.approx(1.0, rel=1e-9)


def test_the_same_shares_everywhere_give_every_group_the_average(solved):
    counts = np.outer(solved.scenario.population, [0.3, 0.7])
    s = dataclasses.replace(solved.scenario, disaggregation=(Dimension.from_counts("Flat", ["a", "b"], counts),))
    table = by_population_group(s, solved.allocation, solved.outcomes)
    assert table["spend_per_head_relative_to_average"].to_numpy() == pytest.approx([1.0, 1.0])


def test_the_method_says_it_is_an_area_level_estimate():
    assert "area-level estimate, not individual data" in METHOD and "sex" in METHOD
