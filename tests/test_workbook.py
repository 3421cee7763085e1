"""The Excel workbook: sheets and their order, numbers as numbers, no formulas, safe writing."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import allocator
import allocator.reports.workbook as workbook
from allocator.analysis.compare import compare
from allocator.errors import AllocatorError
from allocator.reports.outputs import manifest
from allocator.reports.results import ReportData, load, report_data, save
from allocator.reports.workbook import write_workbook
from conftest import edit

EVIL = '=HYPERLINK("http://evil","x")'
SHEETS = ["Summary", "Measures", "options_summary", "options_metrics", "spend_by_group", "outcome_by_group",
          "winners_losers", "winners_losers_by_group", "waterfall", "prices", "input_areas", "input_services",
          "Run manifest"]


def build(folder: Path, names=("Health gain", "Fair share", "Steeper need slope")):
    s = allocator.load(folder)
    variants = [s, s.with_(objective="fair-share"), s.with_(min_slope=s.floor * 0.05)]
    comparison = compare(list(zip(names, variants)))
    run_manifest = {"options": {n: manifest(r, {"solver": "highs"})
                                for n, r in zip(comparison.names, comparison.results)}}
    return report_data(comparison, "compare"), run_manifest


@pytest.fixture
def data(tiny):
    return build(tiny)


@pytest.fixture
def book(data, tmp_path):
    path = tmp_path / "options.xlsx"
    write_workbook(data[0], path, data[1])
    return openpyxl.load_workbook(path)


def header(ws) -> dict[str, int]:
    return {cell.value: cell.column for cell in ws[1]}


def column(ws, name: str) -> list:
    return [row[0] for row in ws.iter_rows(min_row=2, min_col=header(ws)[name], max_col=header(ws)[name])]


def formats_of(cells) -> set[str]:
    return {c.number_format for c in cells}


def values(path: Path) -> dict[str, list[list]]:
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in openpyxl.load_workbook(path)}


def test_sheets_in_order(book):
    assert book.sheetnames == SHEETS


def test_every_table_sheet_has_a_frozen_bold_filtered_header(book):
    for ws in book.worksheets[1:]:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref == ws.dimensions, ws.title
        assert all(cell.font.b for cell in ws[1]), ws.title
        widths = [ws.column_dimensions[c.column_letter].width for c in ws[1]]
        assert all(8 <= w <= 60 for w in widths), ws.title


def test_numbers_are_numbers_with_formats_by_column(book):
    def formats(ws, name):
        cells = column(ws, name)
        assert cells and all(c.data_type == "n" and isinstance(c.value, (int, float)) for c in cells), name
        return {c.number_format for c in cells}

    wl = book["winners_losers"]
    assert formats(wl, "spend_gbp") == {"£#,##0.00"}
    assert formats(wl, "change_pct") == {'0.0"%"'}
    assert formats(wl, "deprivation_group") == {"0"}
    summary = book["options_summary"]
    assert formats(summary, "budget_gbp") == {"£#,##0"}
    assert formats(summary, "share_most_deprived_fifth") == {"0.0%"}
    assert formats(summary, "sii_outcome_after") == {"0.0000"}
    assert formats(book["spend_by_group"], "population") == {"#,##0"}
    assert formats(book["spend_by_group"], "Fair share") == {"£#,##0.00"}  # £ per head
    assert formats(book["winners_losers_by_group"], "gain") == {"#,##0"}
    assert [c.value for c in column(book["waterfall"], "amount_pennies")][0] == 1700000  # A1's baseline £17,000
    assert all(c.data_type == "b" for c in column(book["options_metrics"], "best"))


def test_scenario_inputs_are_numbers_not_text(book):
    areas = book["input_areas"]
    assert [c.value for c in column(areas, "population")] == [1000, 2000, 1500, 500]
    assert formats_of(column(areas, "population")) == {"#,##0"}
    assert [c.value for c in column(areas, "imd_score")] == [40.0, 25.0, 15.0, 8.0]
    assert [c.value for c in column(areas, "area_id")] == ["A1", "A2", "A3", "A4"]
    services = book["input_services"]
    assert [c.value for c in column(services, "unit_cost_gbp")] == [20, 10]
    assert formats_of(column(services, "unit_cost_gbp")) == {"£#,##0.00"}
    assert [c.value for c in column(services, "cap_units_per_head")] == [8.0, None]  # blank stays empty
    for ws in book.worksheets[1:-1]:  # no number hides as text anywhere in the tables
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str):
                    with pytest.raises(ValueError):
                        float(cell.value)


def test_measures_side_by_side_with_formats_by_units(book):
    ws = book["Measures"]
    assert [c.value for c in ws[1]] == ["measure", "units", "before", "Health gain", "Fair share",
                                        "Steeper need slope", "best"]
    rows = {row[0].value: row for row in ws.iter_rows(min_row=2)}
    share = rows["share_of_spend_most_deprived_fifth"]
    assert [c.number_format for c in share[2:6]] == ["0.0%"] * 4
    assert share[4].value == pytest.approx(0.754556, abs=1e-6)
    assert rows["total_spend"][3].number_format == "£#,##0"
    assert rows["sii_spend_per_head"][3].number_format == "£#,##0.00"
    assert rows["mean_outcome"][6].value == "Health gain"
    assert rows["distance_from_target_gbp"][6].value == "Fair share"


def test_summary_has_title_options_best_and_explanations(book):
    ws = book["Summary"]
    cells = [[c.value for c in row] for row in ws.iter_rows()]
    assert cells[0][0] == "Options for Tiny test scenario"
    assert ["Scenario", "Tiny test scenario"] == cells[2][:2]
    by_label = {row[0]: row[1] for row in cells if row[0] is not None}
    assert by_label["Budget"] == 100000
    assert ws.cell(row=[r[0] for r in cells].index("Budget") + 1, column=2).number_format == "£#,##0"
    assert by_label["Higher outcome is better"] is True
    assert [r[:2] for r in cells if r[0] in (1, 2, 3)] == [[1, "Health gain"], [2, "Fair share"],
                                                          [3, "Steeper need slope"]]
    best = {r[0]: r[1] for r in cells if r[2] is not None and r[0] != "Measure"}
    assert best["mean_outcome"] == "Health gain" and best["distance_from_target_gbp"] == "Fair share"
    assert best["sii_spend_per_head"] == "–"
    texts = [r[1] for r in cells if r[0] == "Fair share"]
    assert "The caps cost nothing: the optimum already meets them." in texts


def test_formula_like_text_is_stored_as_text_never_a_formula(tiny, tmp_path):
    edit(tiny / "areas.csv", "A1,Northtown,", 'A1,"=HYPERLINK(""http://evil"",""x"")",')
    edit(tiny / "areas.csv", "A2,Easton,", "A2,@SUM(1+1),")
    data, run_manifest = build(tiny, names=("Health gain", "=cmd|' /C calc'!A0", "-2+3"))
    path = tmp_path / "evil.xlsx"
    write_workbook(data, path, run_manifest)
    book = openpyxl.load_workbook(path)
    evil = [c for ws in book for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert {c.parent.title for c in evil} >= {"winners_losers", "waterfall", "input_areas"}
    assert all(c.data_type == "s" and c.value == "'" + EVIL for c in evil)
    assert "'@SUM(1+1)" in [c.value for c in column(book["input_areas"], "area_name")]
    assert [c.value for c in book["spend_by_group"][1]][-2:] == ["'=cmd|' /C calc'!A0", "'-2+3"]
    for ws in book:
        for row in ws.iter_rows():
            assert all(c.data_type != "f" for c in row), ws.title
    with zipfile.ZipFile(path) as archive:  # and no formula element in the file itself
        assert not any(b"<f>" in archive.read(n) or b"<f " in archive.read(n) for n in archive.namelist())


def test_nan_and_inf_are_empty_cells_and_control_characters_are_replaced(tmp_path):
    frame = pd.DataFrame({"area_name": ["a\x01b", "\tTab", None], "spend_gbp": [1.5, np.nan, np.inf],
                          "ok": [True, False, True], "n": pd.array([1, None, 3], dtype="Int64")})
    path = tmp_path / "odd.xlsx"
    write_workbook(ReportData(meta={"title": "Odd"}, tables={"odd": frame}), path)
    ws = openpyxl.load_workbook(path)["odd"]
    assert [[c.value for c in row] for row in ws.iter_rows(min_row=2)] == [
        ["a\ufffdb", 1.5, True, 1], ["'\tTab", None, False, None], [None, None, True, 3]]


def test_manifest_sheet_has_the_input_hashes(book, tiny):
    rows = {k: v for k, v in book["Run manifest"].iter_rows(min_row=2, values_only=True)}
    for name in ("areas.csv", "services.csv", "baseline.csv", "scenario.toml"):
        expected = hashlib.sha256((tiny / name).read_bytes()).hexdigest()
        assert rows[f"options.Fair share.inputs.{tiny / name}"] == expected
    assert rows["options.Health gain.status"] == "optimal"
    assert rows["options.Health gain.options.solver"] == "highs"
    assert isinstance(rows["options.Health gain.lp_size.rows"], int)


def test_never_writes_over_an_input(data, tiny):
    target = tiny / "areas.xlsx"
    target.write_bytes(b"input")
    with pytest.raises(AllocatorError, match=f"refusing to overwrite the input file {target}"):
        write_workbook(data[0], target, data[1], protected={target})
    relative = Path("..") / tiny.name / "areas.xlsx"  # however the path is spelled
    with pytest.raises(AllocatorError, match="refusing to overwrite the input file"):
        write_workbook(data[0], tiny / relative, data[1], protected={target.resolve()})
    assert target.read_bytes() == b"input"
    with pytest.raises(AllocatorError, match=r"expected a file name ending in \.xlsx, got '\.csv'"):
        write_workbook(data[0], tiny / "out.csv")


def test_written_atomically_with_no_temporary_file_left(data, tmp_path):
    folder = tmp_path / "new" / "folder"
    write_workbook(data[0], folder / "a.xlsx", data[1])
    write_workbook(data[0], folder / "a.xlsx", data[1])  # replacing an earlier workbook
    assert [p.name for p in folder.iterdir()] == ["a.xlsx"]


def test_same_data_same_cells_and_bytes(data, tmp_path):
    write_workbook(data[0], tmp_path / "one.xlsx", data[1])
    write_workbook(data[0], tmp_path / "two.xlsx", data[1])
    assert values(tmp_path / "one.xlsx") == values(tmp_path / "two.xlsx")
    assert (tmp_path / "one.xlsx").read_bytes() == (tmp_path / "two.xlsx").read_bytes()
    props = openpyxl.load_workbook(tmp_path / "one.xlsx").properties
    assert props.created == props.modified == workbook.FIXED_TIME


def test_a_saved_folder_gives_the_same_workbook(data, tmp_path):
    save(data[0], tmp_path / "saved", set(), data[1])
    write_workbook(data[0], tmp_path / "memory.xlsx", data[1])
    write_workbook(load(tmp_path / "saved"), tmp_path / "folder.xlsx", data[1])
    memory, folder = values(tmp_path / "memory.xlsx"), values(tmp_path / "folder.xlsx")
    assert list(memory) == list(folder)
    for sheet in memory:
        for row, again in zip(memory[sheet], folder[sheet], strict=True):
            # the saved JSON keeps 15 decimal places, so numbers below 1e-5 lose figures there
            assert row == [pytest.approx(v, rel=1e-6, abs=1e-12) if isinstance(v, float) else v
                           for v in again], sheet


def test_long_tables_continue_on_more_sheets(monkeypatch, tmp_path):
    monkeypatch.setattr(workbook, "MAX_ROWS", 4)  # a header and three rows a sheet
    frame = pd.DataFrame({"area_id": [f"A{i}" for i in range(7)], "spend_gbp": np.arange(7.0)})
    path = tmp_path / "long.xlsx"
    write_workbook(ReportData(meta={}, tables={"allocation": frame}), path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Summary", "allocation", "allocation (2)", "allocation (3)"]
    rows = [r for ws in book.worksheets[1:] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert rows == list(zip(frame["area_id"], frame["spend_gbp"]))
    assert all(ws["A1"].value == "area_id" and ws.freeze_panes == "A2" for ws in book.worksheets[1:])


def test_sheet_names_are_legal_and_unique(tmp_path):
    names = ["x" * 40, "x" * 40 + "y", "a/b:c*d?[e]\\f", "'quoted'", "summary", "History"]
    tables = {n: pd.DataFrame({"v": [1]}) for n in names}
    path = tmp_path / "names.xlsx"
    write_workbook(ReportData(meta={}, tables=tables), path)
    titles = openpyxl.load_workbook(path).sheetnames
    # tables other than a comparison's go in name order, so a saved folder gives the same order
    assert titles == ["Summary", "quoted", "history table", "a-b-c-d--e--f", "summary (2)", "x" * 31,
                      "x" * 27 + " (2)"]
