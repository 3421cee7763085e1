"""The Excel workbook: totals that reconcile, numbers as numbers, plain headers, no formulas in text.

Read back with two readers (openpyxl, and python-calamine, which reads the cached values of the
formulas as any viewer does) and, where LibreOffice is installed, recalculated from scratch.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import edit
from python_calamine import CalamineWorkbook

import allocator
from allocator.analysis.compare import compare
from allocator.errors import AllocatorError
from allocator.reports import workbook
from allocator.reports.outputs import FORMULA_STARTS, manifest
from allocator.reports.results import ReportData, load, report_data, save
from allocator.reports.workbook import workbook_bytes, write_workbook
from allocator.reports.workbook_sheets import FORMATS

OPTIONS = ("Health gain", "Fair share", "Steeper need slope")
SHEETS = ["About", "Allocation", "By area", "By service", "By deprivation quantile", "By region", "Options",
          "Measures", "Winners and losers", "Rule costs", "Input areas", "Input services", "Run manifest"]
INPUTS = ("Input areas", "Input services", "Run manifest")  # named as in the files they come from
MONEY, PERCENT = FORMATS["money"], FORMATS["percent"]
ALLOCATION = ["Option", "Area code", "Area name", "Service code", "Service", "Need index",
              "Target population (people)", "Floor (units per head)", "Cap (units per head)",
              "Allocation (units per head)", "Baseline (£)", "Fair share (£)", "Allocation (£)", "Change (£)",
              "Change (%)", "Locked", "Health gain (years × people)"]
BUDGET = 100_000


def build(folder: Path, names=OPTIONS, kind: str = "compare"):
    s = allocator.load(folder)
    variants = [s, s.with_(objective="fair-share"), s.with_(min_slope=s.floor * 0.05)][:len(names)]
    comparison = compare(list(zip(names, variants)))
    runs = {n: manifest(r, {"solver": "highs"}) for n, r in zip(comparison.names, comparison.results)}
    for run in runs.values():
        run["written"] = "2025-04-01"
    return report_data(comparison, kind), {"options": runs} if kind == "compare" else runs[names[0]]


@pytest.fixture
def data(tiny):
    return build(tiny)


@pytest.fixture
def path(data, tmp_path) -> Path:
    target = tmp_path / "options.xlsx"
    write_workbook(data[0], target, data[1])
    return target


@pytest.fixture
def book(path):
    return openpyxl.load_workbook(path)


@pytest.fixture
def cached(path):
    """The values a viewer shows: formulas as their cached results (openpyxl's data_only)."""
    return openpyxl.load_workbook(path, data_only=True)


def header(ws) -> list:
    return [c.value for c in ws[1]]


def column(ws, name: str, totals: bool = True) -> list:
    """A column's cells below the header (without the totals row unless ``totals``)."""
    j = header(ws).index(name) + 1
    cells = [row[0] for row in ws.iter_rows(min_row=2, min_col=j, max_col=j)]
    return cells if totals or not _has_totals(ws) else cells[:-1]


def _has_totals(ws) -> bool:
    return any(t.totalsRowCount for t in ws.tables.values())


def data_sheets(book):
    return [ws for ws in book.worksheets if ws.title != "About"]


def calamine(path: Path, sheet: str) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def reconciliation(ws) -> dict[str, list]:
    """The About sheet's check rows: option -> [budget, live sum, difference, reconciles]."""
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    start = next(i for i, r in enumerate(rows) if r[4] == "Reconciles")
    out = {}
    for row in rows[start + 1:]:
        if row[4] is None:
            break
        out[row[0]] = row[1:5]
    return out


# -- what it holds ---------------------------------------------------------------------------
def test_sheets_in_order(book):
    assert book.sheetnames == SHEETS


def test_about_names_the_scenario_date_version_options_and_input_hashes(book, tiny):
    ws = book["About"]
    cells = [[c.value for c in row] for row in ws.iter_rows()]
    assert cells[0][0] == "Tiny test scenario"  # the scenario, not an option
    facts = {r[0]: r[1] for r in cells if r[0] is not None}
    assert facts["Solved on"] == "2025-04-01"
    assert facts["allocator version"] == allocator.__version__
    budget = next(row[1] for row in ws.iter_rows() if row[0].value == "Budget (£)")
    assert budget.value == BUDGET and budget.number_format == MONEY
    assert facts["Report"] == "3 options compared"
    what = {r[0]: r[1] for r in cells[cells.index(next(r for r in cells if r[1] == "What it does")) + 1:][:3]}
    assert list(what) == list(OPTIONS)
    assert what["Fair share"].startswith("Keeps areas as close to their fair shares as the rules allow")
    assert "on a budget of £100k" in what["Health gain"]
    hashes = {r[0]: r[1] for r in cells if isinstance(r[1], str) and len(r[1]) == 64}
    for name in ("areas.csv", "services.csv", "baseline.csv", "scenario.toml"):
        assert hashes[str(tiny / name)] == hashlib.sha256((tiny / name).read_bytes()).hexdigest()


def test_document_properties(book):
    props = book.properties
    assert props.title == "Tiny test scenario" and props.creator == "allocator"
    assert props.subject == "Budget allocation: 3 options compared"
    assert props.created == props.modified == workbook.datetime.datetime(2025, 4, 1)


def test_a_comparison_has_every_option_on_every_sheet(book, data):
    assert reconciliation(book["About"]).keys() == set(OPTIONS)
    for ws in data_sheets(book):
        if "Option" in header(ws):
            assert {c.value for c in column(ws, "Option", totals=False)} == set(OPTIONS), ws.title
    allocation = data[0].tables["options_allocation"]
    assert book["Allocation"].max_row == len(allocation) + 2 == 3 * 8 + 2  # header, 3 options x 8 lines, totals


def test_a_run_has_no_option_column(tiny, tmp_path):
    data, run = build(tiny, names=("Tiny",), kind="run")
    write_workbook(data, tmp_path / "run.xlsx", run)
    book = openpyxl.load_workbook(tmp_path / "run.xlsx", data_only=True)
    assert header(book["Allocation"]) == ALLOCATION[1:]
    assert book["Allocation"].freeze_panes == "C2"  # code and name stay in view
    assert reconciliation(book["About"]) == {"Tiny": [BUDGET, BUDGET, 0, "yes"]}
    assert book.properties.subject == "Budget allocation: one run"


# -- totals that reconcile ------------------------------------------------------------------------
def test_the_live_sum_of_the_allocation_reconciles_to_the_budget(book, cached, path):
    rows = reconciliation(book["About"])
    for budget, live, difference, check in rows.values():
        assert budget == BUDGET
        assert live.startswith("=SUMPRODUCT(--EXACT('Allocation'!$A$2:$A$25,$A$") and "'Allocation'!$M$2:$M$25" in live
        assert difference.startswith("=ROUND(") and check.startswith("=IF(ABS(")
    assert reconciliation(cached["About"]) == {o: [BUDGET, BUDGET, 0, "yes"] for o in OPTIONS}
    # the lines themselves, read by both readers, add up to the budget option by option
    lines = calamine(path, "Allocation")
    assert lines[0] == ALLOCATION and lines[-1][0] == "Total"
    spend = pd.DataFrame(lines[1:-1], columns=lines[0]).groupby("Option")["Allocation (£)"].sum()
    assert spend.to_dict() == pytest.approx({o: BUDGET for o in OPTIONS}, abs=0.01)
    pennies = pd.DataFrame(lines[1:-1], columns=lines[0])["Allocation (£)"] * 100
    assert ((pennies - pennies.round()).abs() < 1e-6).all()  # whole pennies
    openpyxl_spend = [c.value for c in column(book["Allocation"], "Allocation (£)", totals=False)]
    assert math.fsum(openpyxl_spend) == pytest.approx(3 * BUDGET, abs=0.01)


def test_every_table_has_a_live_totals_row(book, cached, path):
    ws = book["Allocation"]
    totals = [c.value for c in list(ws.iter_rows())[-1]]
    assert totals[0] == "Total"
    assert totals[ALLOCATION.index("Allocation (£)")] == "=SUBTOTAL(109,Allocation[Allocation (£)])"
    assert totals[ALLOCATION.index("Change (%)")] == (
        '=IFERROR(SUBTOTAL(109,Allocation[Change (£)])/SUBTOTAL(109,Allocation[Baseline (£)]),"")')
    assert [c.value for c in list(cached["Allocation"].iter_rows())[-1]][ALLOCATION.index("Allocation (£)")] \
        == 3 * BUDGET
    for sheet in ("By area", "By service", "By deprivation quantile", "By region"):
        rows = calamine(path, sheet)
        frame = pd.DataFrame(rows[1:-1], columns=rows[0])
        assert frame.groupby("Option")["Allocation (£)"].sum().to_dict() == pytest.approx(
            {o: BUDGET for o in OPTIONS}, abs=0.01), sheet
        assert rows[-1][rows[0].index("Allocation (£)")] == pytest.approx(3 * BUDGET, abs=0.01), sheet


def test_by_region_has_a_row_per_option_and_region(book, data):
    rows = [r for r in book["By region"].iter_rows(min_row=2, values_only=True)][:-1]
    assert [r[:2] for r in rows] == [(o, region) for o in OPTIONS for region in ("North", "South")]
    by_area = data[0].tables["options_by_area"]
    north = by_area[(by_area["option"] == "Fair share") & by_area["area_id"].isin(["A1", "A2"])]
    row = dict(zip(header(book["By region"]), rows[2]))
    assert row["Allocation (£)"] == pytest.approx(north["spend_gbp"].sum(), abs=0.005)
    assert row["Population (people)"] == 3000 and row["Areas"] == 2
    assert row["Distance from target (%)"] == pytest.approx(  # the sums are to the penny
        (north["spend_gbp"].sum() - north["fair_share_gbp"].sum()) / north["fair_share_gbp"].sum(), abs=1e-6)


# -- numbers, formats, headers ----------------------------------------------------------------------
def test_numbers_are_numbers_and_every_number_has_a_format(book):
    for ws in data_sheets(book):
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                    assert cell.data_type == "n" and cell.number_format != "General", (ws.title, cell.coordinate)
                elif isinstance(cell.value, str) and not cell.value.startswith("="):
                    with pytest.raises(ValueError):  # no number hides as text
                        float(cell.value)


def test_money_percent_and_count_formats(book):
    def formats(sheet, name):
        return {c.number_format for c in column(book[sheet], name, totals=False)}

    for name in ("Baseline (£)", "Fair share (£)", "Allocation (£)", "Change (£)"):
        assert formats("Allocation", name) == {MONEY}, name
    assert formats("By area", "Distance from target (%)") == {PERCENT}
    assert formats("By region", "Share of the allocation (%)") == {PERCENT}
    assert formats("By area", "Population (people)") == {"#,##0"}
    assert formats("Options", "Share of the allocation to the most deprived fifth (%)") == {PERCENT}
    assert formats("Input services", "unit_cost_gbp") == {MONEY}
    measures = {r[2].value: r for r in book["Measures"].iter_rows(min_row=2)}
    assert measures["share_of_spend_most_deprived_fifth"][4].number_format == PERCENT
    assert measures["total_spend"][4].number_format == MONEY
    assert all(c.data_type == "b" for c in column(book["Measures"], "Best of the options"))


def test_percentages_are_fractions_with_one_format(book, data):
    by_area = data[0].tables["options_by_area"]
    change = [c.value for c in column(book["By area"], "Change (%)", totals=False)]
    assert change == pytest.approx((by_area["change_pct"] / 100).tolist(), nan_ok=True)
    assert max(abs(v) for v in change if v is not None) < 5  # fractions, not percent units
    distance = [c.value for c in column(book["By area"], "Distance from target (%)", totals=False)]
    assert distance == pytest.approx(((by_area["spend_gbp"] - by_area["fair_share_gbp"])
                                      / by_area["fair_share_gbp"]).tolist())
    for ws in data_sheets(book):
        for name in [h for h in header(ws) if "(%)" in str(h)]:
            assert {c.number_format for c in column(ws, name, totals=False)} == {PERCENT}, (ws.title, name)


def test_headers_are_plain_english_with_units(book):
    assert header(book["Allocation"]) == ALLOCATION
    assert header(book["By area"])[:11] == [
        "Option", "Area code", "Area name", "Deprivation score", "Deprivation quantile (1 = most deprived)",
        "Population (people)", "Need index", "Fair share, the target (£)", "Allocation (£)",
        "Distance from target (£)", "Distance from target (%)"]
    for ws in data_sheets(book):
        if ws.title not in INPUTS:
            assert not [h for h in header(ws) if "_" in str(h) or str(h) != str(h).strip()], ws.title
    assert header(book["Input areas"])[:3] == ["area_id", "area_name", "population"]  # as in areas.csv


def test_scenario_inputs_are_numbers_not_text(book):
    areas = book["Input areas"]
    assert [c.value for c in column(areas, "population")] == [1000, 2000, 1500, 500]
    assert [c.value for c in column(areas, "area_id")] == ["A1", "A2", "A3", "A4"]
    assert [c.value for c in column(book["Input services"], "cap_units_per_head")] == [8.0, None]


# -- a table a finance user can filter, freeze and print ---------------------------------------------
def test_every_data_sheet_is_a_filtered_table_frozen_and_set_up_to_print(book):
    for ws in data_sheets(book):
        (table,) = ws.tables.values()
        assert table.ref == ws.dimensions, ws.title
        assert table.autoFilter is not None and table.autoFilter.ref.startswith("A1:"), ws.title
        assert ws.freeze_panes is not None and ws.freeze_panes.endswith("2"), ws.title
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToHeight == 0, ws.title
        assert ws.page_setup.fitToWidth in (None, 1), ws.title  # one page wide (1 is the default)
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title  # the header row on every page
        assert "&P" in ws.oddFooter.center.text, ws.title
        widths = [ws.column_dimensions[c.column_letter].width for c in ws[1]]
        assert all(8 <= w <= 51 for w in widths), ws.title
    assert book["Allocation"].freeze_panes == "D2" and book["By area"].freeze_panes == "D2"


# -- safe text ------------------------------------------------------------------------------------------
EVIL_NAME, EVIL_AT = '=HYPERLINK("http://x")', "@SUM(1)"


def test_every_text_cell_is_neutralised_and_no_text_is_a_formula(tiny, tmp_path):
    edit(tiny / "areas.csv", "A1,Northtown,", 'A1,"=HYPERLINK(""http://x"")",')
    edit(tiny / "areas.csv", "A2,Easton,", "A2,@SUM(1),")
    edit(tiny / "areas.csv", "0.30,76.0,North,", "0.30,76.0,-North,")
    data, run = build(tiny, names=("Health gain", "=cmd|' /C calc'!A0", "+2+3"))
    path = tmp_path / "evil.xlsx"
    write_workbook(data, path, run)
    book = openpyxl.load_workbook(path)
    texts = [c for ws in book for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    formulas = [c for c in texts if c.data_type == "f"]
    text = [c for c in texts if c.data_type != "f"]
    assert not [c.value for c in text if c.value.startswith(FORMULA_STARTS)]
    assert "'" + EVIL_NAME in {c.value for c in text} and "'" + EVIL_AT in {c.value for c in text}
    assert {"'=cmd|' /C calc'!A0", "'+2+3", "'-North"} <= {c.value for c in text}
    # the only formulas are the totals rows and the About sheet's checks, none holding any text of the data
    for cell in formulas:
        assert cell.parent.title == "About" or cell.row == cell.parent.max_row, (cell.parent.title, cell.coordinate)
        assert not any(s in cell.value for s in ("HYPERLINK", "cmd", "SUM(1)")), cell.value
    cached = reconciliation(openpyxl.load_workbook(path, data_only=True)["About"])
    assert cached["'=cmd|' /C calc'!A0"][-1] == cached["'+2+3"][-1] == "yes"
    with zipfile.ZipFile(path) as archive:
        body = b"".join(archive.read(n) for n in archive.namelist())
    assert b"HYPERLINK" in body and not any(b"<f>" + s in body for s in (b"HYPERLINK", b"cmd", b"@SUM"))


def test_nan_and_inf_are_empty_cells_and_control_characters_are_replaced(tmp_path):
    frame = pd.DataFrame({"area_name": ["a\x01b", "\tTab", None], "spend_gbp": [1.5, np.nan, np.inf],
                          "ok": [True, False, True], "n": pd.array([1, None, 3], dtype="Int64"),
                          "note": ["_x0041_ & <b>", "line\r\nbreak", ""]})
    write_workbook(ReportData(meta={"title": "Odd"}, tables={"odd": frame}), tmp_path / "odd.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "odd.xlsx")["Odd"]
    assert header(ws) == ["Area name", "Spend (£)", "Ok", "N", "Note"]
    assert [[c.value for c in row][:4] for row in ws.iter_rows(min_row=2)] == [
        ["a\ufffdb", 1.5, True, 1], ["'\tTab", None, False, None], [None, None, True, 3]]
    # text that Excel would read as an escaped character is escaped itself (openpyxl does not unescape it)
    assert [row[4] for row in calamine(tmp_path / "odd.xlsx", "Odd")[1:]] == ["_x0041_ & <b>", "line\r\nbreak", ""]


# -- reproducible, safe writing --------------------------------------------------------------------------
def test_a_saved_folder_gives_the_same_bytes_every_time(data, tmp_path):
    save(data[0], tmp_path / "saved", set(), data[1])
    first, again = workbook_bytes(load(tmp_path / "saved"), data[1]), workbook_bytes(load(tmp_path / "saved"), data[1])
    assert first == again
    assert workbook_bytes(data[0], data[1]) == workbook_bytes(data[0], data[1])
    with zipfile.ZipFile(workbook.io.BytesIO(first)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2000, 1, 1, 0, 0, 0)}


def test_a_saved_folder_gives_the_same_cells_as_memory(data, tmp_path):
    save(data[0], tmp_path / "saved", set(), data[1])
    write_workbook(data[0], tmp_path / "memory.xlsx", data[1])
    write_workbook(load(tmp_path / "saved"), tmp_path / "folder.xlsx", data[1])
    memory, folder = (openpyxl.load_workbook(tmp_path / n) for n in ("memory.xlsx", "folder.xlsx"))
    assert memory.sheetnames == folder.sheetnames
    for ws in memory:
        for row, again in zip(ws.iter_rows(values_only=True), folder[ws.title].iter_rows(values_only=True), strict=True):
            # the saved JSON keeps 15 decimal places, so numbers below 1e-5 lose figures there
            assert row == tuple(pytest.approx(v, rel=1e-6, abs=1e-12) if isinstance(v, float) else v
                                for v in again), ws.title


def test_no_run_date_gives_a_fixed_one(data):
    book = openpyxl.load_workbook(workbook.io.BytesIO(workbook_bytes(data[0])))
    assert book.properties.created == workbook.FIXED_TIME
    facts = {r[0]: r[1] for r in book["About"].iter_rows(values_only=True)}
    assert facts["Solved on"].startswith("not recorded")


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


def test_long_tables_continue_on_more_sheets_and_still_reconcile(monkeypatch, data, tmp_path):
    monkeypatch.setattr(workbook, "MAX_ROWS", 7)  # a header, five rows and the totals a sheet
    write_workbook(data[0], tmp_path / "long.xlsx", data[1])
    book = openpyxl.load_workbook(tmp_path / "long.xlsx", data_only=True)
    parts = [n for n in book.sheetnames if n.startswith("Allocation")]
    assert parts == ["Allocation"] + [f"Allocation ({k})" for k in range(2, 7)]  # 8 lines: 5 + 3 per option
    options = [{c.value for c in column(book[n], "Option", totals=False)} for n in parts]
    assert all(len(o) == 1 for o in options)  # an option's lines never share a sheet with another's
    assert reconciliation(book["About"]) == {o: [BUDGET, BUDGET, 0, "yes"] for o in OPTIONS}
    formula = reconciliation(openpyxl.load_workbook(tmp_path / "long.xlsx")["About"])["Fair share"][1]
    assert formula == "=SUM('Allocation (3)'!$M$2:$M$6)+SUM('Allocation (4)'!$M$2:$M$4)"


def test_sheet_names_are_legal_and_unique(tmp_path):
    names = ["x" * 40, "x" * 40 + "y", "a/b:c*d?[e]\\f", "'quoted'", "about", "History", "a1"]
    tables = {n: pd.DataFrame({"v": [1]}) for n in names}
    write_workbook(ReportData(meta={}, tables=tables), tmp_path / "names.xlsx")
    book = openpyxl.load_workbook(tmp_path / "names.xlsx")
    # other tables go in name order, so that a saved folder gives the same order
    assert book.sheetnames == ["About", "quoted", "history table", "A-b-c-d--e--f", "A1", "About (2)",
                               "X" + "x" * 30, "X" + "x" * 26 + " (2)"]
    assert len({t for ws in book for t in ws.tables}) == len(names)


# -- another application opens it and recalculates every formula to the same values -------------------------
RECALCULATE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><item oor:path="/org.openoffice.Office.Calc/Formula/Load">
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item></oor:items>
"""


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_it_and_recalculates_every_formula_to_the_cached_value(path, tmp_path):
    profile = tmp_path / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALCULATE)  # recalculate on load, always
    subprocess.run(["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to",
                    "xlsx:Calc MS Excel 2007 XML", "--outdir", str(tmp_path / "out"), str(path)],
                   check=True, capture_output=True, timeout=180)
    ours = openpyxl.load_workbook(path, data_only=True)
    theirs = openpyxl.load_workbook(tmp_path / "out" / path.name, data_only=True)
    assert theirs.sheetnames == ours.sheetnames
    for ws in ours:
        for row, again in zip(ws.iter_rows(values_only=True), theirs[ws.title].iter_rows(values_only=True),
                              strict=True):
            assert again == tuple(pytest.approx(v, rel=1e-9, abs=1e-6) if isinstance(v, float) else v
                                  for v in row), ws.title
    assert reconciliation(theirs["About"]) == {o: [BUDGET, BUDGET, 0, "yes"] for o in OPTIONS}
