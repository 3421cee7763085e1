"""Reading the outturn (actual spend, observed outcomes) and the [monitor] thresholds: every bad cell named."""

from __future__ import annotations

import numpy as np
import pytest

import allocator
from allocator.errors import OutturnError, ScenarioError
from allocator.scenario import monitor_settings, outturn
from allocator.scenario.monitor_settings import MonitorSettings
from conftest import edit, quickstart_with


def write(path, text: str):
    path.write_text(text)
    return path


def problems(exc: pytest.ExceptionInfo) -> list[str]:
    return [str(p) for p in exc.value.problems]


SPEND = "area_id,service_id,actual_gbp\nA1,visits,16000\nA1,checks,22500\nA2,visits,\nA3,checks,15000.5\n"


def test_spend_rows_are_read_and_a_blank_or_absent_line_is_not_reported(tiny, tmp_path):
    s = allocator.load(tiny)
    o = outturn.read([write(tmp_path / "spend.csv", SPEND)], s)
    assert o.years == ("Year 1",)
    assert o.spend[["area_id", "service_id", "actual_gbp"]].values.tolist() == [
        ["A1", "visits", 16000.0], ["A1", "checks", 22500.0], ["A3", "checks", 15000.5]]  # A2 visits: blank
    assert o.spend["row"].tolist() == [2, 3, 5]
    assert o.spend[["area_index", "service_index", "year_index", "stream_index"]].values.tolist() == [
        [0, 0, 0, -1], [0, 1, 0, -1], [2, 1, 0, -1]]
    assert o.observed.empty and o.observed_years == () and not o.by_stream


def test_observed_outcomes_are_told_apart_by_their_header(tiny, tmp_path):
    s = allocator.load(tiny)
    path = write(tmp_path / "obs.csv", "area_id,year,observed,standard_error,notes\nA1,2026,75.5,0.4,x\n"
                                       "A2,2025,78,0.3,\nA3,2026,,0.2,not yet\n")
    o = outturn.read([path], s)
    assert o.spend.empty
    assert o.observed[["area_id", "year", "observed", "standard_error"]].values.tolist() == [
        ["A1", "2026", 75.5, 0.4], ["A2", "2025", 78.0, 0.3]]
    assert np.isnan(o.observed["count"]).all() and np.isnan(o.observed["population"]).all()
    assert o.observed_years == ("2025", "2026")


def test_unknown_areas_and_services_negative_and_text_spend_are_each_named(tiny, tmp_path):
    s = allocator.load(tiny)
    path = write(tmp_path / "spend.csv", "area_id,service_id,actual_gbp\nA9,visits,10\nA1,talks,10\nA2,visits,-5\n"
                                         "A3,visits,12;5\n")
    with pytest.raises(OutturnError) as exc:
        outturn.read([path], s)
    shown = f"{path}"
    assert problems(exc) == [
        f"{shown}, row 2 (data row 1), column 'area_id': expected one of the scenario's areas (area_id of its areas "
        "table), got 'A9' (unknown id)",
        f"{shown}, row 3 (data row 2), column 'service_id': expected one of the scenario's services (service_id), "
        "got 'talks' (unknown id)",
        f"{shown}, row 4 (data row 3), column 'actual_gbp': expected a number >= 0, got '-5'",
        f"{shown}, row 5 (data row 4), column 'actual_gbp': expected a number >= 0, got '12;5'"]
    assert str(exc.value).startswith("4 problems in the outturn:\n- ")


def test_a_line_given_twice_is_named_in_one_file_and_across_files(tiny, tmp_path):
    s = allocator.load(tiny)
    first = write(tmp_path / "a.csv", "area_id,service_id,actual_gbp\nA1,visits,1\nA2,visits,2\nA1,visits,3\n")
    second = write(tmp_path / "b.csv", "area_id,service_id,actual_gbp\nA3,checks,1\nA2,visits,9\n")
    with pytest.raises(OutturnError) as exc:
        outturn.read([first, second], s)
    assert problems(exc) == [
        f"{first}, row 4 (data row 3), column 'service_id': expected each line once, got 'A1 x visits' (the same "
        "year, area, service and stream as row 2: give each once)",
        f"{second}, row 3 (data row 2), column 'service_id': expected each line once, got 'A2 x visits' (the same "
        f"year, area, service and stream as {first}, row 3: give each once)"]


def test_a_year_the_plan_does_not_have_is_refused_unless_the_scenario_names_its_year(tiny, tmp_path):
    s = allocator.load(tiny)
    path = write(tmp_path / "spend.csv", "area_id,service_id,actual_gbp,year\nA1,visits,1,2026/27\nA2,visits,1,1\n")
    with pytest.raises(OutturnError) as exc:
        outturn.read([path], s)
    assert problems(exc) == [
        f"{path}, row 2 (data row 1), column 'year': expected the scenario's one year, 'Year 1' (or 1, or blank), got "
        "'2026/27' (a year the plan does not have (a scenario without [plan] has one year: name it with [monitor] "
        "year = \"...\" or --year))"]
    named = outturn.read([path], s, MonitorSettings(year="2026/27"))
    assert named.years == ("2026/27",) and named.spend["year_index"].tolist() == [0, 0]
    assert named.spend["year"].tolist() == ["2026/27", "2026/27"]


def test_a_plan_of_several_years_needs_the_year_by_label_or_number(tmp_path):
    folder = quickstart_with(tmp_path, manifest='[plan]\nyears = 3\nfirst_year = "2026/27"\n')
    s = allocator.load(folder)
    area, service = s.area_ids[0], s.service_ids[0]
    without = write(tmp_path / "spend.csv", f"area_id,service_id,actual_gbp\n{area},{service},1\n")
    with pytest.raises(OutturnError) as exc:
        outturn.read([without], s)
    assert problems(exc) == [f"{without}: missing column 'year': the plan has 3 years (2026/27, 2027/28, 2028/29); "
                             "say which year each row is"]
    given = write(tmp_path / "years.csv", f"area_id,service_id,actual_gbp,year\n{area},{service},1,2027/28\n"
                                          f"{area},{service},2,3\n{area},{service},3,2031/32\n")
    with pytest.raises(OutturnError) as exc:
        outturn.read([given], s)
    assert problems(exc) == [
        f"{given}, row 4 (data row 3), column 'year': expected one of the plan's years: 2026/27, 2027/28, 2028/29 "
        "(or 1 to 3), got '2031/32' (a year the plan does not have)"]
    edit(given, f"{area},{service},3,2031/32\n", "")
    assert outturn.read([given], s).spend["year_index"].tolist() == [1, 2]


def test_a_stream_the_scenario_does_not_have_and_a_line_in_total_and_by_stream(tiny, tmp_path):
    s = allocator.load(tiny)
    path = write(tmp_path / "spend.csv", "area_id,service_id,actual_gbp,stream_id\nA1,visits,1,grant\nA2,visits,1,\n")
    with pytest.raises(OutturnError) as exc:
        outturn.read([path], s)
    assert problems(exc) == [f"{path}, row 2 (data row 1), column 'stream_id': expected a blank: the scenario has no "
                             "funding streams (drop the column), got 'grant' (a stream the scenario does not have)"]
    streams = "stream_id,stream_name,amount_gbp,services\ngrant,Grant,60000000,all\nlocal,Local,40000000,all\n"
    folder = quickstart_with(tmp_path, streams=streams)
    q = allocator.load(folder)
    area, service = q.area_ids[0], q.service_ids[0]
    mixed = write(tmp_path / "mixed.csv", f"area_id,service_id,actual_gbp,stream_id\n{area},{service},5,grant\n"
                                          f"{area},{service},7,\n{area},{service},1,local\n")
    with pytest.raises(OutturnError) as exc:
        outturn.read([mixed], q)
    assert problems(exc) == [f"{mixed}, row 3 (data row 2), column 'service_id': expected a line's total, or its "
                             f"streams' parts, got '{area} x {service}' (the line is given in total here and by "
                             "stream in other rows: give one or the other)"]
    edit(mixed, f"{area},{service},7,\n", "")
    o = outturn.read([mixed], q)
    assert o.by_stream and o.spend["stream_index"].tolist() == [0, 1]


def test_a_file_of_neither_kind_or_both_kinds_says_what_is_expected(tiny, tmp_path):
    s = allocator.load(tiny)
    neither = write(tmp_path / "x.csv", "area,spend\nA1,5\n")
    both = write(tmp_path / "y.csv", "area_id,service_id,actual_gbp,year,observed\nA1,visits,5,1,70\n")
    with pytest.raises(OutturnError) as exc:
        outturn.read([neither, both], s)
    assert problems(exc) == [
        f"{neither}: cannot tell what this file holds (its columns: area, spend): expected actual spend (columns "
        "area_id, service_id, actual_gbp; optional stream_id, year) or observed outcomes (columns area_id, year, "
        "observed; optional standard_error, count, population)",
        f"{both}: has both an actual_gbp and an observed column: give actual spend and observed outcomes in "
        "separate files (or sheets)"]


def test_observed_outcomes_are_checked_too(tiny, tmp_path):
    s = allocator.load(tiny)
    path = write(tmp_path / "obs.csv", "area_id,year,observed,standard_error,population\nA1,,70,0.1,100\n"
                                       "A1,2026,high,-1,0\nA5,2026,70,,\nA2,2026,70,,\nA2,2026,71,,\n")
    with pytest.raises(OutturnError) as exc:
        outturn.read([path], s)
    assert problems(exc) == [
        f"{path}, row 4 (data row 3), column 'area_id': expected one of the scenario's areas (area_id of its areas "
        "table), got 'A5' (unknown id)",
        f"{path}, row 2 (data row 1), column 'year': expected the year the outcome was observed (e.g. 2025/26), got "
        "a blank cell",
        f"{path}, row 3 (data row 2), column 'observed': expected a number, got 'high'",
        f"{path}, row 3 (data row 2), column 'standard_error': expected a number >= 0, got '-1'",
        f"{path}, row 3 (data row 2), column 'population': expected a number > 0, got '0'",
        f"{path}, row 6 (data row 5), column 'year': expected each line once, got 'A2 x 2026' (the same year and "
        "area as row 5: give each once)"]


def test_a_workbook_is_read_sheet_by_sheet_as_the_csv_files_are(tiny, tmp_path):
    import openpyxl

    s = allocator.load(tiny)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "spend"
    for row in [["area_id", "service_id", "actual_gbp"], ["A1", "visits", 16000], ["A3", "checks", 15000.5]]:
        sheet.append(row)
    notes = book.create_sheet("notes")
    notes.append(["Outturn for quarter 4"])
    observed = book.create_sheet("observed")
    for row in [["area_id", "year", "observed"], ["A1", "2026/27", 75.5]]:
        observed.append(row)
    book.save(tmp_path / "outturn.xlsx")
    o = outturn.read([tmp_path / "outturn.xlsx"], s)
    assert o.spend[["area_id", "service_id", "actual_gbp"]].values.tolist() == [["A1", "visits", 16000.0],
                                                                                 ["A3", "checks", 15000.5]]
    assert o.spend["file"].tolist() == [f"{tmp_path / 'outturn.xlsx'}, sheet spend"] * 2
    assert o.observed[["area_id", "year", "observed"]].values.tolist() == [["A1", "2026/27", 75.5]]
    sheet.append(["A2", "visits", -1])
    book.save(tmp_path / "bad.xlsx")
    with pytest.raises(OutturnError) as exc:
        outturn.read([tmp_path / "bad.xlsx"], s)
    assert problems(exc) == [f"{tmp_path / 'bad.xlsx'}, sheet spend, row 4 (data row 3), column 'actual_gbp': "
                             "expected a number >= 0, got '-1'"]


def test_a_missing_file_is_named(tiny, tmp_path):
    s = allocator.load(tiny)
    with pytest.raises(OutturnError) as exc:
        outturn.read([tmp_path / "nowhere.csv"], s)
    assert problems(exc) == [f"{tmp_path / 'nowhere.csv'}: file not found"]


# -- [monitor] --------------------------------------------------------------------------------
def test_the_monitor_block_sets_the_thresholds_and_the_command_line_overrides_it(tiny):
    with open(tiny / "scenario.toml", "a") as handle:
        handle.write('\n[monitor]\nvariance_red = 0.2\nmissing = "zero"\nyear = "2025/26"\n')
    s = allocator.load(tiny)
    chosen = monitor_settings.settings(s)
    assert (chosen.variance_red, chosen.missing, chosen.year, chosen.variance_amber) == (0.2, "zero", "2025/26", 0.05)
    assert monitor_settings.plan_years(s, chosen) == ("2025/26",)
    over = monitor_settings.settings(s, {"variance_red": "0.3", "missing": "planned"})
    assert (over.variance_red, over.missing) == (0.3, "planned")


def test_a_bad_monitor_block_is_found_when_the_scenario_is_loaded(tiny):
    with open(tiny / "scenario.toml", "a") as handle:
        handle.write('\n[monitor]\nvariance_red = -1\nmissing = "guess"\ncolour = "red"\n')
    with pytest.raises(ScenarioError) as exc:
        allocator.load(tiny)
    text = str(exc.value)
    assert "[monitor] unknown key 'colour'" in text
    assert "[monitor] 'missing': expected one of exclude, zero, planned, got 'guess'" in text
    assert "[monitor] 'variance_red': expected a number >= 0, got -1" in text


def test_bad_thresholds_on_the_command_line_are_named(tiny):
    s = allocator.load(tiny)
    with pytest.raises(OutturnError) as exc:
        monitor_settings.settings(s, {"variance_red": "ten", "share_amber": "0.5", "speed": "1"})
    assert problems(exc) == ["--threshold: 'variance_red': expected a number, got 'ten'",
                             "--threshold: 'speed': unknown setting (known: " + ", ".join(monitor_settings.THRESHOLDS)
                             + ")",
                             "--threshold: 'share_amber' 0.5 is above 'share_red' 0.01: amber must come before red"]


def test_the_command_line_knows_the_same_missing_choices():
    from allocator.cli.monitoring import MISSING

    assert MISSING == monitor_settings.MISSING


# -- the bundled synthetic outturn -----------------------------------------------------------
def test_the_bundled_outturn_is_what_its_generator_writes_and_its_readme_says_so_once(tmp_path):
    """``python -m allocator.build --only outturn`` on a copy of england-la writes the bundled files byte for
    byte (seeded), and run twice keeps one README section labelling them synthetic."""
    import shutil
    from pathlib import Path

    from allocator.build.__main__ import main

    repo = Path(__file__).resolve().parents[1]
    shutil.copytree(repo / "scenarios" / "england-la", tmp_path / "scenarios" / "england-la")
    shutil.copytree(repo / "models", tmp_path / "models")
    for _ in range(2):
        assert main(["--only", "outturn", "--out", str(tmp_path)]) == 0
    for name in ("outturn.csv", "observed.csv", "README.md"):
        assert (tmp_path / "scenarios" / "england-la" / name).read_bytes() == \
            (repo / "scenarios" / "england-la" / name).read_bytes(), name
    readme = (tmp_path / "scenarios" / "england-la" / "README.md").read_text()
    assert readme.count("## Monitoring example (synthetic outturn)") == 1
    assert "are **synthetic**" in readme and "not what any council spent or observed" in readme
