"""`allocator new` and `allocator template` from the command line, from any directory."""

from __future__ import annotations

import openpyxl
import pytest

from hostile import expect


def test_new_then_run_works_from_any_directory(tmp_path):
    out = expect(0, ["new", "--district", "Blackpool", "--level", "lsoa", "--budget", "20e6", "--out", "blackpool"],
                 "Wrote blackpool/: Blackpool, 94 LSOAs", "Next: allocator run blackpool", cwd=tmp_path)
    assert "34% of the budget lines at their floor or cap" in out.output  # the warning (on stderr)
    run = expect(0, ["run", "blackpool", "-q", "--out", "result"], cwd=tmp_path)
    assert run.output == ""
    assert (tmp_path / "result" / "allocation.csv").is_file()


@pytest.mark.parametrize(("args", "says"), [
    (["--district", "Blackpol"], "did you mean 'Blackpool'"),
    (["--district", "South Lakeland"], "now in Westmorland and Furness"),
    (["--district", "York", "--level", "district"], "needs at least two areas"),
    (["--district", "Blackpool", "--budget", "1e6"], "give at least £3.9m"),
    (["--district", "Blackpool", "--budget", "1e9"], "the caps allow at most"),
    (["--district", "Blackpool", "--pace", "5%,15%"], "give --baseline FILE too"),
    (["--district", "Blackpool", "--icb", "QYG"], "give one place"),
    ([], "give one place"),
    (["--district", "Blackpool", "--services", "nope.csv"], "nope.csv"),
])
def test_a_bad_request_exits_2_and_writes_nothing(tmp_path, args, says):
    expect(2, ["new", *args, "--out", tmp_path / "s"], says)
    assert not (tmp_path / "s").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_baseline_and_a_pace_of_change_go_into_the_scenario(tmp_path):
    expect(0, ["new", "--district", "Blackpool", "--out", tmp_path / "first", "-q"])
    expect(0, ["run", tmp_path / "first", "-q", "--out", tmp_path / "plan"])
    allocation = (tmp_path / "plan" / "allocation.csv").read_text().splitlines()
    header = allocation[0].replace('"', "").split(",")
    keep = [header.index(c) for c in ("area_id", "service_id", "spend_gbp")]
    rows = [",".join(line.replace('"', "").split(",")[k] for k in keep) for line in allocation[1:]]
    baseline = tmp_path / "last-year.csv"
    baseline.write_text("area_id,service_id,spend_gbp\n" + "\n".join(rows) + "\n")  # last year's plan
    expect(0, ["new", "--district", "Blackpool", "--baseline", baseline, "--pace", "5%,15%", "--out",
               tmp_path / "s", "-q"])
    manifest = (tmp_path / "s" / "scenario.toml").read_text()
    assert "[pace_of_change]\nmax_decrease = 0.05\nmax_increase = 0.15" in manifest
    assert (tmp_path / "s" / "baseline.csv").read_text() == baseline.read_text()
    expect(0, ["run", tmp_path / "s", "-q"])


def test_a_baseline_the_pace_of_change_cannot_reach_is_refused_with_the_reason(tmp_path):
    baseline = tmp_path / "last-year.csv"
    baseline.write_text("area_id,service_id,spend_gbp\nE01012662,stop_smoking,1200\n")
    expect(2, ["new", "--district", "Blackpool", "--baseline", baseline, "--pace", "5%,15%", "--out",
               tmp_path / "s"], "the pace of change", "E01012663")
    assert not (tmp_path / "s").exists()


def test_a_baseline_naming_an_area_elsewhere_is_refused(tmp_path):
    baseline = tmp_path / "last-year.csv"
    baseline.write_text("area_id,service_id,spend_gbp\nE01000001,stop_smoking,1200\n")
    expect(2, ["new", "--district", "Blackpool", "--baseline", baseline, "--out", tmp_path / "s"],
           "last-year.csv", "row 2", "area_id", "E01000001")
    assert not (tmp_path / "s").exists()


def test_list_names_every_place_of_a_kind():
    out = expect(0, ["new", "--list", "district"], "296 districts of England")
    assert "E06000009    Blackpool" in out.output


def test_the_template_workbook_has_every_sheet_notes_lists_and_an_example(tmp_path):
    path = tmp_path / "mine.xlsx"
    expect(0, ["template", "--xlsx", path], f"Wrote {path}")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["README", "lists", "scenario", "areas", "services", "baseline", "locked"]
    assert book["lists"].sheet_state == "hidden"
    services = book["services"]
    assert [c.value for c in services[1]][:3] == ["service_id", "service_name", "unit_cost_gbp"]
    assert "pounds per unit" in services["C1"].comment.text
    lists = {str(v.sqref)[0]: v.formula1 for v in services.data_validations.dataValidation}
    assert set(lists) == {"G", "H", "I"} and all(f.startswith("lists!") for f in lists.values())
    assert services["H2"].value == "york-ypll2025-stop-smoking"
    expect(2, ["template", "--xlsx", path], "already exists")


def _fill(path, scenario_folder):
    """The template at ``path`` filled in with the tables of a scenario folder (as a person would paste)."""
    import csv

    book = openpyxl.load_workbook(path)
    for sheet, name in (("areas", "areas.csv"), ("services", "services.csv")):
        ws = book[sheet]
        ws.delete_rows(1, ws.max_row)
        with (scenario_folder / name).open() as handle:
            for row in csv.reader(handle):
                ws.append([_number(v) for v in row])
    for sheet in ("baseline", "locked"):
        book[sheet].delete_rows(2, book[sheet].max_row)  # the example rows go: no baseline, nothing locked
    settings = book["scenario"]
    for row in settings.iter_rows(min_row=2):
        if (row[0].value, row[1].value) == ("gradient", "quantiles"):
            row[2].value = 10
        if (row[0].value, row[1].value) == ("budget", "total_gbp"):
            row[2].value = 15_000_000
    book.save(path)


def _number(text):
    try:
        return float(text) if text else None
    except ValueError:
        return text


def test_a_filled_in_template_validates_and_runs_as_a_scenario(tmp_path):
    path = tmp_path / "blackpool.xlsx"
    expect(0, ["template", "--xlsx", path])
    expect(2, ["validate", path], "sheet scenario", "quantiles")  # one example area: not yet a scenario
    expect(0, ["new", "--district", "Blackpool", "--out", tmp_path / "bp", "-q"])
    _fill(path, tmp_path / "bp")
    expect(0, ["validate", path], "OK: My place: public health budget by need", "94 areas, 8 services")
    out = expect(0, ["run", path], "Budget £15.0m (exact)")
    assert "every invariant re-checked from the allocation: OK" in out.output


def test_a_bundled_scenario_is_found_by_name_from_any_directory(tmp_path):
    expect(0, ["validate", "quickstart"], "OK: Quickstart", cwd=tmp_path)
    expect(2, ["validate", "no-such-scenario"], "no-such-scenario", cwd=tmp_path)
