"""Loading scenarios: CSV and XLSX agree, locked lines, need normalisation, model checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import edit

import allocator
from allocator.errors import ScenarioError


def to_workbook(folder):
    """The same tables as sheets of one XLSX workbook, and a manifest pointing at it."""
    with pd.ExcelWriter(folder / "book.xlsx", engine="openpyxl") as writer:
        for sheet in ("areas", "services", "baseline"):
            frame = pd.read_csv(folder / f"{sheet}.csv")
            frame.to_excel(writer, sheet_name=sheet, index=False)
            (folder / f"{sheet}.csv").unlink()
    text = (folder / "scenario.toml").read_text()
    start = text.index("[tables]")
    (folder / "scenario.toml").write_text(text[:start] + '[tables]\nworkbook = "book.xlsx"\n')


def test_xlsx_workbook_gives_the_same_allocation(tiny, tmp_path):
    from_csv = allocator.run(tiny)
    to_workbook(tiny)
    from_xlsx = allocator.run(tiny)
    np.testing.assert_array_equal(from_xlsx.allocation.spend, from_csv.allocation.spend)
    assert str(tiny / "book.xlsx") in from_xlsx.scenario.inputs


def test_xlsx_problems_name_the_sheet(tiny):
    to_workbook(tiny)
    frame = pd.read_excel(tiny / "book.xlsx", sheet_name=None, engine="openpyxl")
    frame["areas"]["population"] = frame["areas"]["population"].astype(object)
    frame["areas"].loc[1, "population"] = "lots"
    with pd.ExcelWriter(tiny / "book.xlsx", engine="openpyxl") as writer:
        for name, sheet in frame.items():
            sheet.to_excel(writer, sheet_name=name, index=False)
    with pytest.raises(ScenarioError) as info:
        allocator.load(tiny)
    assert str(info.value.problems[0]) == (
        f"{tiny}/book.xlsx, sheet areas, row 3 (data row 2), column 'population': "
        "expected a number > 0, got 'lots'")


def test_need_is_normalised_to_a_weighted_mean_of_one(tiny):
    s = allocator.load(tiny)
    for j in range(s.n_services):
        weights = s.target_population[:, j]
        assert np.dot(s.need[:, j], weights) / weights.sum() == pytest.approx(1.0, rel=1e-12)
    # need = 0.5 + 10 x rate, so A1 (rate 0.3) has 3.5 / 1.5 = 7/3 times A3's (rate 0.1) need
    assert s.need[0, 0] / s.need[2, 0] == pytest.approx(3.5 / 1.5)


def test_response_modifier_is_looked_up_by_value(tiny):
    s = allocator.load(tiny)
    assert s.modifier[:, 1].tolist() == [0.8, 1.0, 1.2, 0.5]  # quintiles 1, 2, 4, 5
    assert s.modifier[:, 0].tolist() == [1.0, 1.0, 1.0, 1.0]  # no modifier


def test_a_value_missing_from_a_lookup_is_reported(tiny):
    edit(tiny / "areas.csv", "A4,Westfield,500,100,8.0,0.05,83.0,South,5",
         "A4,Westfield,500,100,8.0,0.05,83.0,South,6")
    with pytest.raises(ScenarioError) as info:
        allocator.load(tiny)
    assert str(info.value.problems[0]) == (
        f"{tiny}/areas.csv, row 5 (data row 4), column 'quintile': expected one of 1, 2, 3, 4, 5, "
        f"got '6' (value not listed in {tiny}/models/response/checks-curve.toml)")


def test_locked_lines_hold_and_wildcards_lock_at_baseline(tiny):
    (tiny / "locked.csv").write_text("area_id,service_id,spend_gbp\nA2,visits,15000\n*,checks,\n")
    edit(tiny / "scenario.toml", 'baseline = "baseline.csv"', 'baseline = "baseline.csv"\nlocked = "locked.csv"')
    result = allocator.run(tiny)
    spend = result.allocation.spend
    assert spend[1, 0] == 15000
    np.testing.assert_array_equal(spend[:, 1], [9000, 18000, 13000, 4500])
    assert spend.sum() == pytest.approx(100_000, abs=1e-9)


def test_a_wildcard_with_an_amount_is_refused(tiny):
    (tiny / "locked.csv").write_text("area_id,service_id,spend_gbp\n*,checks,100\n")
    edit(tiny / "scenario.toml", 'baseline = "baseline.csv"', 'baseline = "baseline.csv"\nlocked = "locked.csv"')
    with pytest.raises(ScenarioError, match="a wildcard row locks many lines, so its spend must be blank"):
        allocator.load(tiny)


def test_need_must_be_positive(tiny):
    edit(tiny / "models/need/deprivation.toml", "constant = 0.5", "constant = -1.0")
    with pytest.raises(ScenarioError) as info:
        allocator.load(tiny)
    # raw need = -1 + 10 x rate: A3 (rate 0.1) gets 0 and A4 (rate 0.05) gets -0.5
    assert [str(p) for p in info.value.problems] == [
        f"{tiny}/areas.csv: need model 'deprivation' gives raw need {v} for area '{a}' (data row {r}); "
        "need must be > 0 in every area" for v, a, r in (("0", "A3", 3), ("-0.5", "A4", 4))]


def test_outcome_units_must_match_the_response_models(tiny):
    edit(tiny / "scenario.toml", 'outcome_units = "years"', 'outcome_units = "deaths"')
    with pytest.raises(ScenarioError, match="outcome_units 'years' differ from the scenario's"):
        allocator.load(tiny)


def test_pace_of_change_needs_a_baseline(tiny):
    text = (tiny / "scenario.toml").read_text().replace('baseline = "baseline.csv"\n', "")
    (tiny / "scenario.toml").write_text(text + "\n[pace_of_change]\nmax_decrease = 0.1\nmax_increase = 0.1\n")
    with pytest.raises(ScenarioError, match=r"\[pace_of_change\] needs a baseline table"):
        allocator.load(tiny)


def test_inputs_are_never_modified(tiny, tmp_path):
    before = {p: p.read_bytes() for p in tiny.rglob("*") if p.is_file()}
    allocator.run(tiny)
    from allocator.reports.outputs import write_outputs
    write_outputs(allocator.run(tiny), tmp_path / "out", {})
    assert {p: p.read_bytes() for p in tiny.rglob("*") if p.is_file()} == before


def test_with_returns_a_changed_copy(tiny):
    s = allocator.load(tiny)
    t = s.with_(budget_gbp=90_000)
    assert (s.budget_gbp, t.budget_gbp) == (100_000, 90_000)
    assert allocator.run(t).allocation.spend.sum() == pytest.approx(90_000, abs=1e-9)


def test_a_service_can_have_its_own_cost_index(tiny):
    rows = (tiny / "areas.csv").read_text().splitlines()
    costs = ["1.0", "1.2", "0.9", "1.5"]  # a community-services market forces index, one per area
    rows = [rows[0] + ",cost_visits"] + [f"{row},{cost}" for row, cost in zip(rows[1:], costs)]
    (tiny / "areas.csv").write_text("\n".join(rows) + "\n")
    edit(tiny / "services.csv", "life_course_stage\n", "life_course_stage,cost_index_column\n")
    edit(tiny / "services.csv", "early years\n", "early years,cost_visits\n")
    edit(tiny / "services.csv", "working age\n", "working age,\n")
    s = allocator.load(tiny)
    assert s.cost_index[:, 0].tolist() == [1.0, 1.2, 0.9, 1.5]  # visits: its own column
    assert s.cost_index[:, 1].tolist() == [1.0, 1.0, 1.0, 1.0]  # checks: the areas' cost_index (none: 1)
    assert np.allclose(s.unit_spend[:, 0], s.unit_cost[0] * np.array(costs, float) * s.target_population[:, 0])
    result = allocator.solve(s)
    assert result.allocation.spend.sum() == pytest.approx(s.budget_gbp, abs=0.01)


def test_a_cost_index_column_that_is_not_there_is_named(tiny):
    edit(tiny / "services.csv", "life_course_stage\n", "life_course_stage,cost_index_column\n")
    edit(tiny / "services.csv", "early years\n", "early years,mff_community\n")
    edit(tiny / "services.csv", "working age\n", "working age,\n")
    with pytest.raises(ScenarioError, match=r"services.csv, row 2 .*column 'cost_index_column'.*mff_community"):
        allocator.load(tiny)
