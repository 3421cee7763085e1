"""The hostile-input catalogue, inputs: every number and every file a scenario is made of, broken
on purpose. Each case must exit 2 with a message naming the file (and the row and column, or
the key), print no traceback, change no input and finish in time (`hostile.expect`); or, where
the input is odd but fine, load. The Python API raises `ScenarioError` for the same inputs.

Classes: manifest, CSV, XLSX, models, names and special files, limits, sweep files, API.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pytest
from conftest import edit
from hostile import expect, tiny_copy

import allocator
from allocator.analysis.sweep_plan import SweepError, read_sweep_file
from allocator.errors import ScenarioError
from allocator.scenario import limits

# ============================================================== helpers


def set_key(folder: Path, section: str, key: str, value: str) -> None:
    """``[section] key = value`` (TOML text) in the manifest, replacing the key or adding it."""
    path = folder / "scenario.toml"
    lines = path.read_text().splitlines()
    header = f"[{section}]"
    if header not in lines:
        lines += ["", header] + (["max_decrease = 0.5", "max_increase = 0.5"]
                                 if section == "pace_of_change" else [])
    start = lines.index(header) + 1
    end = next((k for k in range(start, len(lines)) if lines[k].startswith("[")), len(lines))
    kept = [line for line in lines[start:end] if not line.startswith(f"{key} =")]
    lines[start:end] = [f"{key} = {value}", *kept]
    path.write_text("\n".join(lines) + "\n")


def set_cell(path: Path, row: int, column: str, value: str) -> None:
    """The cell of ``column`` in file row ``row`` (the header is row 1) of a CSV file."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    rows[row - 1][rows[0].index(column)] = value
    write_rows(path, rows)


def write_rows(path: Path, rows) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue())


def drop_section(folder: Path, section: str) -> None:
    """The manifest without ``[section]`` and its keys."""
    lines = (folder / "scenario.toml").read_text().splitlines()
    start = lines.index(f"[{section}]")
    end = next((k for k in range(start + 1, len(lines)) if lines[k].startswith("[")), len(lines))
    (folder / "scenario.toml").write_text("\n".join(lines[:start] + lines[end:]) + "\n")


def sheet(rows, dimension: str | None = None) -> str:
    """A worksheet's XML (numbers as numbers, the rest as inline text)."""
    def cell(v):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return f'<c t="n"><v>{v}</v></c>'
        return f'<c t="inlineStr"><is><t>{escape(str(v))}</t></is></c>'
    size = f'<dimension ref="{dimension}"/>' if dimension else ""
    body = "".join("<row>" + "".join(map(cell, r)) + "</row>" for r in rows)
    return ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            f'spreadsheetml/2006/main">{size}<sheetData>{body}</sheetData></worksheet>')


def workbook(path: Path, sheets: dict[str, str], extra=()) -> None:
    """An XLSX file made by hand (fast, and free to be hostile): {sheet name: sheet XML}."""
    ns = "http://schemas.openxmlformats.org"
    rel = f"{ns}/officeDocument/2006/relationships"
    names = list(sheets)
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{ns}/package/2006/content-types"><Default Extension="rels" '
        f'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{ns}/spreadsheetml/2006/main" xmlns:r="{rel}"><sheets>'
        + "".join(f'<sheet name="{escape(n)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(names))
        + "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{ns}/package/2006/relationships">'
        + "".join(f'<Relationship Id="rId{i + 1}" Type="{rel}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                  for i in range(len(names))) + "</Relationships>",
    }
    parts.update({f"xl/worksheets/sheet{i + 1}.xml": sheets[n] for i, n in enumerate(names)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in [*parts.items(), *extra]:
            archive.writestr(name, data)


def rows_of(folder: Path, name: str) -> list[list]:
    """A CSV table of ``folder`` as rows, whole numbers as ints (as a spreadsheet holds them)."""
    with open(folder / f"{name}.csv", newline="") as handle:
        return [[int(v) if v.isdigit() else v for v in r] for r in csv.reader(handle)]


def to_workbook(folder: Path, sheets: dict[str, str] | None = None, extra=()) -> Path:
    """The scenario's tables as the sheets of book.xlsx (or ``sheets``), the manifest pointing at it."""
    if sheets is None:
        sheets = {n: sheet(rows_of(folder, n)) for n in ("areas", "services", "baseline")}
    workbook(folder / "book.xlsx", sheets, extra)
    text = (folder / "scenario.toml").read_text()
    (folder / "scenario.toml").write_text(text[:text.index("[tables]")] + '[tables]\nworkbook = "book.xlsx"\n')
    return folder / "book.xlsx"


def validate(folder: Path, *fragments: str, code: int = 2):
    return expect(code, ["validate", folder], *fragments, unchanged=[folder])


@pytest.fixture
def folder(tmp_path) -> Path:
    return tiny_copy(tmp_path / "s")


# ============================================================== manifest

NUMERIC_KEYS = [("budget", "total_gbp", True), ("objective", "epsilon", True),
                ("objective", "sii_reduction", True), ("objective", "gap_reduction", True),
                ("objective", "worst_off_at_least", False), ("proportionality", "min_slope", True),
                ("proportionality", "tolerance", True), ("pace_of_change", "max_decrease", True),
                ("pace_of_change", "max_increase", True), ("gradient", "quantiles", True)]
BAD_NUMBERS = {"nan": "nan", "inf": "inf", "-inf": "-inf", "text": '"0.5"', "huge float": "1e400",
               "huge int": "123456789012345678901234567890123456789", "negative": "-1",
               "table": "{ value = 1 }", "list": "[1, 2]", "bool": "true"}


@pytest.mark.parametrize(("section", "key", "value"), [
    pytest.param(section, key, value, id=f"{section}.{key}={name}")
    for section, key, positive in NUMERIC_KEYS for name, value in BAD_NUMBERS.items()
    if positive or name != "negative"])
def test_a_bad_number_in_the_manifest_is_named(folder, section, key, value):
    set_key(folder, section, key, value)
    validate(folder, f"{folder}/scenario.toml", f"[{section}] '{key}'")


@pytest.mark.parametrize(("section", "key", "value", "fragment"), [
    ("objective", "name", '"bogus"', "expected one of health-gain"),
    ("proportionality", "mode", '"steep"', "expected one of monotone"),
    ("budget", "mode", '"roughly"', "expected one of exact, at-most"),
    ("gradient", "most_deprived", '"middle"', "expected one of high, low"),
    ("objective", "name", "5", "expected text"),
    ("gradient", "higher_is_better", '"yes"', "expected true or false"),
    ("gradient", "quantiles", "2.5", "expected a whole number"),
    ("gradient", "quantiles", "1000000", "from 2 to the number of areas (4)"),
    ("gradient", "quantiles", "5", "from 2 to the number of areas (4)"),
    ("gradient", "quantiles", "1", "expected a number >= 2"),
    ("gradient", "group_columns", "[1, 2]", "expected a list of column names"),
    ("gradient", "group_columns", '"region"', "expected a list"),
    ("proportionality", "tolerance", "1.0", "below 1"),
    ("pace_of_change", "max_decrease", "1.5", "<= 1"),
    ("budget", "total_gbp", "0", "expected a number > 0"),
    ("budget", "total_gbp", "1979-05-27", "expected a number"),
    ("scenario", "models", "5", "expected text"),
    ("tables", "areas", "5", "expected text"),
    ("budget", "surprise", "1", "unknown key 'surprise'"),
])
def test_a_bad_setting_in_the_manifest_is_named(folder, section, key, value, fragment):
    set_key(folder, section, key, value)
    validate(folder, f"{folder}/scenario.toml", f"[{section}] '{key}'" if "unknown" not in fragment
             else f"[{section}]", fragment)


@pytest.mark.parametrize("mode", ["proportional", "none"])
def test_a_minimum_slope_the_mode_would_ignore_is_named(folder, mode):
    set_key(folder, "proportionality", "mode", f'"{mode}"')
    set_key(folder, "proportionality", "min_slope", "0.5")
    validate(folder, f"{folder}/scenario.toml, column '[proportionality] min_slope'", "mode 'monotone' only", "got 0.5")
    with open(folder / "services.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    write_rows(folder / "services.csv", [rows[0] + ["min_slope"]] + [r + ["0"] for r in rows[1:2]]
               + [r + ["0.25"] for r in rows[2:]])  # the services' own slopes, the second the first set
    validate(folder, *(f"{folder}/services.csv, row {row} (data row {row - 1}), column 'min_slope'"
                       for row in range(3, len(rows) + 1)), "got '0.25'")
    set_key(folder, "proportionality", "mode", '"monotone"')
    expect(0, ["validate", folder])


def test_an_option_whose_mode_would_ignore_its_slope_is_named(folder):
    manifest = folder / "scenario.toml"
    text = manifest.read_text()
    manifest.write_text(text + '\n[[option]]\nname = "Both"\nproportionality = "proportional"\nmin_slope = 0.5\n')
    validate(folder, f"{folder} [[option]] 'Both'", "mode 'monotone' only", "drop the option's min_slope")
    said = expect(2, ["compare", folder, "--no-explain"]).output  # named once, where it is set
    assert f"{folder} [[option]] 'Both'" in said and "option 'Both':" not in said
    set_key(folder, "proportionality", "min_slope", "0.5")  # the scenario's own slope, an option's mode
    without = manifest.read_text().rsplit("[[option]]", 1)[0]
    manifest.write_text(without + '[[option]]\nname = "Proportional"\nproportionality = "proportional"\n')
    validate(folder, f"{folder} [[option]] 'Proportional'", "add min_slope = 0 to the option")
    manifest.write_text(manifest.read_text() + "min_slope = 0\n")
    assert "Options (1): Proportional." in expect(0, ["validate", folder]).output
    set_key(folder, "proportionality", "mode", '"proportional"')  # the mode the scenario's, the slope an option's
    set_key(folder, "proportionality", "min_slope", "0")
    manifest.write_text(manifest.read_text() + '\n[[option]]\nname = "Sloped"\nmin_slope = 0.5\n'
                        '\n[[option]]\nname = "Tiny"\ntotal_gbp = 1\n')  # (no allocation: well formed)
    outcome = validate(folder, f"{folder} [[option]] 'Sloped'", 'add proportionality = "monotone" to the option')
    assert "'Tiny'" not in outcome.output


def _top(text: str):
    def change(folder):
        path = folder / "scenario.toml"
        path.write_text(text + "\n" + path.read_text())
    return change


@pytest.mark.parametrize(("change", "fragments"), [
    pytest.param(lambda f: (drop_section(f, "budget"), _top("budget = 5")(f)), ["[budget] must be a table"],
                 id="budget = 5"),
    pytest.param(lambda f: (drop_section(f, "tables"), _top('tables = "x"')(f)), ["[tables] must be a table"],
                 id="tables = 'x'"),
    pytest.param(lambda f: drop_section(f, "tables"), ["missing section [tables]"], id="no [tables]"),
    pytest.param(lambda f: drop_section(f, "gradient"), ["missing section [gradient]"], id="no [gradient]"),
    pytest.param(lambda f: edit(f / "scenario.toml", 'name = "Tiny test scenario"\n', ""),
                 ["[scenario] missing key 'name'"], id="no name"),
    pytest.param(_top("[extra]\nx = 1"), ["unknown section [extra]"], id="unknown section"),
    pytest.param(_top("option = 5"), ["'option' must be an array of tables"], id="option = 5"),
    pytest.param(_top('[[option]]\nname = "x"\ntotal_gbp = nan'), ["[[option]] number 1 'total_gbp'"],
                 id="option nan"),
    pytest.param(_top('[[option]]\nname = "x"\nobjective = "bogus"'), ["[[option]] 'x'", "'objective'"],
                 id="option bogus objective"),
    pytest.param(_top('[[uncertain]]\nparameter = "budget"\ndistribution = ["normal"]'),
                 ["uncertainty of 'budget'", "'distribution'"], id="uncertain distribution list"),
    pytest.param(_top('[[uncertain]]\nparameter = "budget"\ndistribution = "uniform"\nlow = 1\nhigh = inf'),
                 ["[[uncertain]] number 1 'high'", "finite"], id="uncertain inf"),
    pytest.param(_top('[[uncertain]]\nparameter = "no.such"\ndistribution = "uniform"\nlow = 1\nhigh = 2'),
                 ["'no.such'", "unknown parameter"], id="uncertain unknown parameter"),
    pytest.param(_top("a = " + "[" * 2000 + "]" * 2000), ["not valid TOML"], id="deeply nested"),
    pytest.param(_top("a = " + "9" * 5000), ["not valid TOML"], id="5000-digit integer"),
    pytest.param(_top("x = 1\nx = 2"), ["not valid TOML"], id="key twice"),
])
def test_a_manifest_of_the_wrong_shape_is_named(folder, change, fragments):
    change(folder)
    validate(folder, f"{folder}/scenario.toml", *fragments)


@pytest.mark.parametrize(("data", "fragments"), [
    pytest.param(b"", ["missing section [scenario]"], id="empty"),
    pytest.param(b"\xff\xfe[\x00s\x00", ["not UTF-8", "UTF-16"], id="UTF-16"),
    pytest.param(b'[scenario]\nname = "caf\xe9"\n', ["not UTF-8", "line 2, column 12"], id="Latin-1"),
    pytest.param(b"PK\x03\x04\x14\x00\x00\x00\xff", ["not UTF-8", "zip archive"], id="a workbook"),
    pytest.param(b"\x00\x01\x02binary", ["not valid TOML"], id="binary"),
    pytest.param(b"not = toml = at all", ["not valid TOML"], id="not TOML"),
])
def test_a_manifest_that_is_not_toml_text_is_named(folder, data, fragments):
    (folder / "scenario.toml").write_bytes(data)
    validate(folder, f"{folder}/scenario.toml", *fragments)


def test_a_manifest_with_a_byte_order_mark_loads(folder):
    (folder / "scenario.toml").write_bytes(b"\xef\xbb\xbf" + (folder / "scenario.toml").read_bytes())
    validate(folder, "OK: Tiny test scenario", code=0)


# ============================================================== CSV tables

CSV_NUMBERS = [("areas", 3, "population"), ("areas", 3, "pop_0_15"), ("areas", 3, "imd_score"),
               ("areas", 3, "deprivation_rate"), ("areas", 3, "life_expectancy"),
               ("services", 3, "unit_cost_gbp"), ("services", 3, "floor_units_per_head"),
               ("services", 2, "cap_units_per_head"), ("baseline", 2, "spend_gbp")]
BAD_CELLS = {"nan": "nan", "inf": "inf", "text": "lots", "1e308": "1e308", "blank": ""}


@pytest.mark.parametrize(("table", "row", "column", "value"), [
    pytest.param(t, r, c, v, id=f"{t}.{c}={n}") for t, r, c in CSV_NUMBERS for n, v in BAD_CELLS.items()
    if not (c == "cap_units_per_head" and n == "blank")])  # a blank cap is no cap
def test_a_bad_cell_is_named_by_file_row_and_column(folder, table, row, column, value):
    set_cell(folder / f"{table}.csv", row, column, value)
    validate(folder, f"{folder}/{table}.csv, row {row} (data row {row - 1}), column '{column}'")


def _lines(name: str, text: str):
    def change(folder):
        (folder / f"{name}.csv").write_text(text)
    return change


def _bytes(name: str, data: bytes):
    def change(folder):
        (folder / f"{name}.csv").write_bytes(data)
    return change


def _header_only(name):
    def change(folder):
        path = folder / f"{name}.csv"
        path.write_text(path.read_text().splitlines()[0] + "\n")
    return change


@pytest.mark.parametrize(("change", "name", "fragments"), [
    pytest.param(lambda f: edit(f / "areas.csv", "quintile\n", "population\n"), "areas",
                 ["column 'population' appears twice in the header (columns 3 and 9)"], id="header twice"),
    pytest.param(lambda f: edit(f / "areas.csv", "area_name,", " area_id ,"), "areas",
                 ["column 'area_id' appears twice"], id="header twice with spaces"),
    pytest.param(_header_only("areas"), "areas", ["this table has no rows"], id="areas header only"),
    pytest.param(_header_only("services"), "services", ["this table has no rows"], id="services header only"),
    pytest.param(_header_only("baseline"), "baseline", ["this table has no rows"], id="baseline header only"),
    pytest.param(_lines("areas", ""), "areas", ["the file is empty"], id="empty"),
    pytest.param(_lines("areas", "\n\n \n"), "areas", ["the file is empty"], id="blank lines"),
    pytest.param(_lines("areas", ",,,\n1,2,3,4\n"), "areas", ["missing column 'area_id' (the file has: 1, 2, 3, 4)"],
                 id="blank header"),
    pytest.param(_lines("areas", "\n\narea_id,area_name,population\n,,\nA1,North,\n"), "areas",
                 ["row 5 (data row 4), column 'population'"], id="blank lines above the header"),
    pytest.param(_bytes("areas", b"area_id,area_name\nA1,\x00\n"), "areas", ["NUL character at line 2"],
                 id="NUL"),
    pytest.param(_bytes("areas", b"area_id,area_name\nA1,Caf\xe9\n"), "areas", ["not UTF-8", "line 2"],
                 id="Latin-1"),
    pytest.param(_bytes("areas", "area_id,area_name\n".encode("utf-16")), "areas", ["UTF-16"], id="UTF-16"),
    pytest.param(_bytes("areas", b"PK\x03\x04\x14\x00\x08\x08\x08\x00\xff\xfe"), "areas", ["zip archive"],
                 id="a workbook named .csv"),
    pytest.param(lambda f: edit(f / "areas.csv", "North,2\n", "North,2,extra\n"), "areas",
                 ["cannot be read as CSV", "line 3"], id="a row too long"),
    pytest.param(lambda f: edit(f / "areas.csv", "A2,Easton,2000,300,25.0,0.20,79.0,North,2", "A2,Easton"),
                 "areas", ["row 3 (data row 2), column 'population'"], id="a row too short"),
    pytest.param(lambda f: edit(f / "areas.csv", "A1,Northtown", '"A1,Northtown'), "areas",
                 ["cannot be read as CSV"], id="unclosed quote"),
    pytest.param(_lines("areas", 'area_id,area_name,population,pop_0_15,imd_score,deprivation_rate,'
                        'life_expectancy,region,quintile\nA1,"North\ntown",1000,200,40,0.3,76,North,1\n\n'
                        "A2,Easton,2000,300,25,0.2,79,North,2\n,,,,,,,,\nA3,Southby,many,250,15,0.1,81,South,4\n"
                        "A4,Westfield,500,100,8,0.05,83,South,5\n"), "areas",
                 ["row 6 (data row 5), column 'population'"], id="row numbers after blank rows"),
    pytest.param(lambda f: edit(f / "services.csv", "checks,Health checks", "visits,Health checks"), "services",
                 ["row 3 (data row 2), column 'service_id'", "duplicate of row 2"], id="duplicate service id"),
    pytest.param(lambda f: edit(f / "areas.csv", "A3,Southby", " ,Southby"), "areas",
                 ["row 4 (data row 3), column 'area_id'", "expected an identifier"], id="blank id"),
    pytest.param(lambda f: edit(f / "baseline.csv", "A1,checks", "A1,visits"), "baseline",
                 ["the same area and service appear twice"], id="baseline line twice"),
    pytest.param(lambda f: edit(f / "baseline.csv", "A4,visits", "A9,visits"), "baseline",
                 ["column 'area_id'", "unknown id"], id="baseline unknown area"),
    pytest.param(lambda f: edit(f / "areas.csv", "North,2\n", "North,6\n"), "areas",
                 ["row 3 (data row 2), column 'quintile'", "value not listed"], id="lookup value unlisted"),
])
def test_a_malformed_table_is_named(folder, change, name, fragments):
    change(folder)
    validate(folder, f"{folder}/{name}.csv", *fragments)


def _locked(text: str):
    def change(folder):
        (folder / "locked.csv").write_text("area_id,service_id,spend_gbp\n" + text)
        edit(folder / "scenario.toml", 'baseline = "baseline.csv"', 'baseline = "baseline.csv"\nlocked = "locked.csv"')
    return change


@pytest.mark.parametrize(("change", "fragments"), [
    pytest.param(_locked("*,checks,100\n"), ["row 2 (data row 1), column 'spend_gbp'", "must be blank"],
                 id="wildcard with an amount"),
    pytest.param(_locked("A1,visits,5000\n*,visits,\n"), ["row 3 (data row 2)", "locked twice"],
                 id="locked twice"),
    pytest.param(_locked("A1,visits,nan\n"), ["row 2 (data row 1), column 'spend_gbp'"], id="nan"),
    pytest.param(_locked("A1,nowhere,1\n"), ["column 'service_id'", "unknown id"], id="unknown service"),
])
def test_a_bad_locked_table_is_named(folder, change, fragments):
    change(folder)
    validate(folder, f"{folder}/locked.csv", *fragments)


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 1 << 24])
def test_utf8_is_checked_in_chunks_with_the_bad_byte_placed(chunk):
    from allocator.scenario.files import check_utf8

    check_utf8("a,é\n☃,🏥\n".encode(), "t.csv", chunk=chunk)  # letters cut by chunk ends are fine
    for data, place in [(b"a,\xc3\xa9\nb,\xff\n", "line 2, column 3"), (b"ab\n\xe2\x98", "line 2, column 1")]:
        with pytest.raises(ScenarioError, match=place):
            check_utf8(data, "t.csv", chunk=chunk)


def test_odd_but_valid_csv_loads(folder):
    """A byte-order mark, CRLF line ends, blank lines, quoted ids with commas, padded cells."""
    text = (folder / "areas.csv").read_text().replace("A1,Northtown", '"A1","Northtown, ""old"" town"')
    (folder / "areas.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n\r\n").encode())
    edit(folder / "services.csv", "visits,Health visiting,20", " visits , Health visiting , 20 ")
    validate(folder, "OK: Tiny test scenario", "4 areas, 2 services", code=0)


def test_forty_thousand_duplicate_ids_are_counted_in_linear_time(folder):
    extra = "A1,Northtown,1000,200,40.0,0.30,76.0,North,1\n" * 40_000
    (folder / "areas.csv").write_text((folder / "areas.csv").read_text() + extra)
    start = time.perf_counter()
    out = validate(folder, f"{folder}/areas.csv, row 6 (data row 5), column 'area_id'", "duplicate of row 2",
                   f"column 'area_id': 40,000 rows with a problem in this column: the first "
                   f"{limits.MAX_PROBLEMS_PER_COLUMN} are listed, +{40_000 - limits.MAX_PROBLEMS_PER_COLUMN:,} more")
    assert time.perf_counter() - start < 10, "duplicate detection is not linear"
    assert "Traceback" not in out.output


def test_a_million_wildcard_locks_cost_one(folder):
    _locked("*,*,\n" * 1_000_000)(folder)
    set_key(folder, "budget", "mode", '"at-most"')  # every line is locked at its baseline, £78,500
    start = time.perf_counter()
    validate(folder, "OK: Tiny test scenario", "locked lines £78,500", code=0)
    assert time.perf_counter() - start < 10


# ============================================================== XLSX workbooks


@pytest.mark.parametrize(("change", "fragments"), [
    pytest.param(lambda f: to_workbook(f, {**{n: sheet(rows_of(f, n)) for n in ("areas", "services")},
                                           "areas ": sheet(rows_of(f, "areas"))}),
                 ["sheets 'areas', 'areas ' are all read as the 'areas' table"], id="areas and 'areas '"),
    pytest.param(lambda f: to_workbook(f, {"areas": sheet(rows_of(f, "areas"))}), ["missing sheet 'services'"],
                 id="no services sheet"),
    pytest.param(lambda f: to_workbook(f, {"areas": sheet([rows_of(f, "areas")[0][:-1] + ["population"],
                                                           *rows_of(f, "areas")[1:]]),
                                           "services": sheet(rows_of(f, "services"))}),
                 ["sheet areas, column 'population'", "appears twice"], id="header twice"),
    pytest.param(lambda f: to_workbook(f, {"areas": sheet(rows_of(f, "areas")[:1]),
                                           "services": sheet(rows_of(f, "services"))}),
                 ["sheet areas", "this table has no rows"], id="header only"),
    pytest.param(lambda f: to_workbook(f, {"areas": sheet([]), "services": sheet(rows_of(f, "services"))}),
                 ["sheet areas", "the sheet is empty"], id="empty sheet"),
    pytest.param(lambda f: to_workbook(f, {"areas": sheet(rows_of(f, "areas")).replace(
        "<v>1000</v>", "<v>1e308</v>"), "services": sheet(rows_of(f, "services"))}),
                 ["sheet areas, row 2 (data row 1), column 'population'"], id="1e308 cell"),
    pytest.param(lambda f: to_workbook(f, {"areas": sheet(rows_of(f, "areas")).replace(
        "<v>1000</v>", "<v>NaN</v>"), "services": sheet(rows_of(f, "services"))}),
                 ["sheet areas", "cannot be read"], id="NaN cell"),
    pytest.param(lambda f: (to_workbook(f), (f / "book.xlsx").write_text("area_id,area_name\n")),
                 ["not a zip archive"], id="text named .xlsx"),
    pytest.param(lambda f: (to_workbook(f), (f / "book.xlsx").write_bytes((f / "book.xlsx").read_bytes()[:300])),
                 ["cannot be read as an XLSX workbook"], id="truncated"),
    pytest.param(lambda f: (to_workbook(f), (f / "book.xlsx").unlink(), (f / "book.xlsx").mkdir()),
                 ["is a folder"], id="a folder"),
    pytest.param(lambda f: (to_workbook(f), (f / "book.xlsx").unlink(), os.mkfifo(f / "book.xlsx")),
                 ["named pipe"], id="a FIFO"),
    pytest.param(lambda f: to_workbook(f, {"areas": sheet([["area_id", "area_name", "population"]]).replace(
        "</sheetData>", '<row><c t="inlineStr"><is><t>B</t></is></c><c t="n"><v>1</v></c><c t="n"><v>1</v></c>'
        "</row>" * 1_000_000 + "</sheetData>"), "services": sheet(rows_of(f, "services"))}),
                 ["too large", "cells", "MAX_WORKBOOK_CELLS"], id="a million rows in a small file"),
])
def test_a_bad_workbook_is_named(folder, change, fragments):
    change(folder)
    start = time.perf_counter()
    validate(folder, f"{folder}/book.xlsx", *fragments)
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize("change", [
    pytest.param(lambda f: to_workbook(f), id="plain"),
    pytest.param(lambda f: to_workbook(f, {"Areas": sheet(rows_of(f, "areas")),
                                           "SERVICES ": sheet(rows_of(f, "services")),
                                           "notes": sheet([["anything"]] * 50)}), id="case and spaces"),
    pytest.param(lambda f: to_workbook(f, {n: sheet(rows_of(f, n), "A1:XFD1048576")
                                           for n in ("areas", "services")}), id="a sheet's size overstated"),
    pytest.param(lambda f: to_workbook(f, {"areas": sheet(rows_of(f, "areas")).replace(
        "</sheetData>", '<row r="1048576"><c r="A1048576" s="1"/></row></sheetData>'),
        "services": sheet(rows_of(f, "services"))}), id="formatting down to the last row"),
])
def test_odd_but_valid_workbooks_load(folder, change):
    change(folder)
    validate(folder, "OK: Tiny test scenario", "4 areas, 2 services", code=0)


# ============================================================== models

NEED = "models/need/deprivation.toml"
RESPONSE = "models/response/checks-curve.toml"
CURVE = "models/response/visits-curve.toml"


@pytest.mark.parametrize(("model", "old", "new", "fragments"), [
    *[pytest.param(NEED, "weight = 10.0", f"weight = {v}", ["[formula] 'terms[0].weight'"], id=f"weight {v}")
      for v in ("nan", "inf", "-inf", "1e400", "12345678901234567890")],
    pytest.param(NEED, "weight = 10.0", 'weight = "10"', ["[formula] terms[0]"], id="weight text"),
    pytest.param(NEED, "weight = 10.0", "weight = true", ["[formula] terms[0]"], id="weight bool"),
    *[pytest.param(NEED, "constant = 0.5", f"constant = {v}", ["[formula] 'constant'"], id=f"constant {v}")
      for v in ("nan", "inf", '"0.5"', "[1]")],
    pytest.param(NEED, 'terms = [ { column = "deprivation_rate", weight = 10.0 } ]', "terms = 5",
                 ["[formula] 'terms': expected a list"], id="terms = 5"),
    pytest.param(NEED, 'terms = [ { column = "deprivation_rate", weight = 10.0 } ]', "terms = [5]",
                 ["[formula] terms[0]"], id="terms = [5]"),
    pytest.param(NEED, 'assumptions = ["none"]', "assumptions = 5", ["'assumptions'"], id="assumptions = 5"),
    pytest.param(NEED, "[formula]", "formula = 3\n[other]", ["missing [formula] table"], id="formula = 3"),
    pytest.param(NEED, "constant = 0.5", 'constant = 0.5\n[formula.lookup]\ncolumn = "quintile"\n'
                 'values = { "1" = nan }', ["'lookup.values.1'"], id="lookup nan"),
    pytest.param(NEED, "constant = 0.5", 'constant = 0.5\n[formula.lookup]\ncolumn = "quintile"\n'
                 'values = { "1" = -2 }', ["expected a number >= 0"], id="lookup negative"),
    *[pytest.param(RESPONSE, '"2" = 1.0', f'"2" = {v}', ["[modifier] 'values.2'"], id=f"modifier {v}")
      for v in ("nan", "inf", "1e400")],
    pytest.param(RESPONSE, '"2" = 1.0', '"2" = "1.0"', ["[modifier] value for '2'"], id="modifier text"),
    pytest.param(RESPONSE, '"2" = 1.0', '"2" = -1.0', ["[modifier] value for '2'"], id="modifier negative"),
    pytest.param(RESPONSE, 'column = "quintile"', "column = 5", ["[modifier] needs 'column'"],
                 id="modifier column number"),
    *[pytest.param(CURVE, "gain_per_head = [0.0, 0.02", f"gain_per_head = [0.0, {v}", ["[curve] 'gain_per_head"],
                   id=f"gain {v}") for v in ("nan", "inf")],
    pytest.param(CURVE, "units_per_head = [0.0, 2.0", 'units_per_head = [0.0, "2"', ["must be lists of numbers"],
                 id="units text"),
    pytest.param(CURVE, "units_per_head = [0.0, 2.0", "units_per_head = [0.0, true", ["must be lists of numbers"],
                 id="units bool"),
    pytest.param(CURVE, "units_per_head = [0.0, 2.0, 4.0, 8.0]", "units_per_head = 8.0",
                 ["must be lists of numbers"], id="units a number"),
    pytest.param(CURVE, "units_per_head = [0.0, 2.0, 4.0, 8.0]", "units_per_head = [0.0, 4.0, 2.0, 8.0]",
                 ["strictly increasing"], id="units not increasing"),
    pytest.param(CURVE, "units_per_head = [0.0, 2.0, 4.0, 8.0]", "units_per_head = [0.0, 5e-324, 4.0, 8.0]",
                 ["too steep to compute"], id="an infinite slope"),
    pytest.param(CURVE, 'outcome_units = "years"', "outcome_units = 1", ["key 'outcome_units'"],
                 id="outcome units a number"),
    pytest.param(CURVE, "[curve]", "[uncertainty]\n[curve]", ["[uncertainty] takes one key"],
                 id="uncertainty empty"),
    pytest.param(CURVE, "[curve]", "[uncertainty]\nscale = 5\n[curve]", ["uncertainty of 'scale'"],
                 id="uncertainty scale = 5"),
    pytest.param(CURVE, "[curve]", '[uncertainty]\nscale = { distribution = "normal", mean = 1, sd = nan }\n'
                 "[curve]", ["[uncertainty] 'scale.sd'"], id="uncertainty nan"),
])
def test_a_bad_number_in_a_model_is_named(folder, model, old, new, fragments):
    edit(folder / model, old, new)
    validate(folder, f"{folder}/{model}", *fragments)


@pytest.mark.parametrize(("change", "fragments"), [
    pytest.param(lambda p: p.write_bytes(b'name = "d\xe9p"\n'), ["not UTF-8", "line 1, column 10"], id="Latin-1"),
    pytest.param(lambda p: p.write_text("[formula\n"), ["not valid TOML"], id="not TOML"),
    pytest.param(lambda p: (p.unlink(), p.mkdir()), ["is a folder"], id="a folder"),
    pytest.param(lambda p: (p.unlink(), os.mkfifo(p)), ["named pipe"], id="a FIFO"),
    pytest.param(lambda p: (p.unlink(), p.symlink_to(p)), ["symbolic link loop"], id="a symlink loop"),
    pytest.param(lambda p: (p.unlink(), p.symlink_to("/dev/zero")), ["a device"], id="/dev/zero"),
    pytest.param(lambda p: p.write_text('description = "' + "x" * limits.MAX_TOML_BYTES + '"\n'),
                 ["too large", "MAX_TOML_BYTES"], id="over 1 MB"),
])
def test_a_model_file_that_cannot_be_read_is_named(folder, change, fragments):
    change(folder / NEED)
    validate(folder, f"{folder}/{NEED}", *fragments)


def test_a_nan_modifier_is_refused_before_the_solver_sees_it(folder, tmp_path):
    """HiGHS spun for ever on a NaN coefficient; now `run` stops at the model file."""
    edit(folder / RESPONSE, '"2" = 1.0', '"2" = nan')
    expect(2, ["run", folder, "--out", tmp_path / "out"], f"{folder}/{RESPONSE}", seconds=20, unchanged=[folder])
    assert not (tmp_path / "out").exists()


# ============================================================== names and special files


def _special(kind: str):
    def make(path: Path):
        if path.exists() or path.is_symlink():
            path.unlink() if not path.is_dir() else None
        if kind == "dir":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "loop":
            path.symlink_to(path.name)
        elif kind == "dangling":
            path.symlink_to("nowhere.csv")
        else:
            path.symlink_to("/dev/zero")
    return make


SPECIAL = {"dir": "is a folder", "fifo": "is a named pipe", "loop": "is a symbolic link loop",
           "dangling": "file not found (a symbolic link to 'nowhere.csv'", "devzero": "is a device"}


@pytest.mark.parametrize(("table", "kind"), [(t, k) for t in ("areas.csv", "services.csv", "baseline.csv")
                                              for k in SPECIAL])
def test_a_table_that_is_not_a_regular_file_is_never_read(folder, table, kind):
    _special(kind)(folder / table)
    validate(folder, f"{folder}/{table}: {SPECIAL[kind]}")


@pytest.mark.parametrize("kind", ["fifo", "loop", "devzero", "dir"])
def test_a_manifest_that_is_not_a_regular_file_is_never_read(folder, kind):
    _special(kind)(folder / "scenario.toml")
    validate(folder, f"{folder}/scenario.toml: {SPECIAL[kind]}")


@pytest.mark.parametrize(("target", "fragment"), [
    ("/dev/zero", "is a device (like /dev/zero), not a regular file: it is not read: a scenario is a folder"),
    ("fifo", "named pipe"), ("loop", "symbolic link loop"), ("empty", "scenario.toml: file not found"),
    ("areas.csv", "not valid TOML"),
])
def test_a_scenario_path_that_is_not_a_scenario_is_named(tmp_path, target, fragment):
    path = Path(target)
    if target == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    elif target == "loop":
        path = tmp_path / "loop"
        path.symlink_to(path)
    elif target == "empty":
        path = tmp_path / "empty"
        path.mkdir()
    elif target == "areas.csv":
        path = tiny_copy(tmp_path / "s") / "areas.csv"
    expect(2, ["validate", path], str(path), fragment)


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("areas", '""', "is a folder"),
    ("areas", '"nul\\u0000.csv"', "NUL character"),
    ("areas", '"' + "x" * 300 + '.csv"', "file name is too long"),
    ("areas", '"areas.csv/inner.csv"', "file not found (a part of the path is a file"),
    ("workbook", '"no-such.xlsx"', "no-such.xlsx: file not found"),
])
def test_a_table_path_that_cannot_be_a_table_is_named(folder, key, value, fragment):
    set_key(folder, "tables", key, value)
    validate(folder, fragment)


@pytest.mark.parametrize(("cell", "fragment"), [
    ("../need/deprivation", "unknown model"), ("", "unknown model"), ("nul\x00name", "NUL character"),
    ("x" * 300, "file name is too long"), (".hidden", "unknown model"),
])
def test_a_hostile_model_name_is_refused(folder, cell, fragment):
    set_cell(folder / "services.csv", 2, "need_model", cell)
    validate(folder, fragment)


def rename_area(folder: Path, old: str, new: str) -> None:
    """Area ``old`` called ``new`` in the areas and baseline tables."""
    for name, column in (("areas", "area_id"), ("baseline", "area_id")):
        with open(folder / f"{name}.csv", newline="") as handle:
            rows = list(csv.reader(handle))
        k = rows[0].index(column)
        write_rows(folder / f"{name}.csv", [[new if (i and j == k and v == old) else v for j, v in enumerate(r)]
                                            for i, r in enumerate(rows)])


@pytest.mark.parametrize("name", ["Ünïcödé ☃ 🏥", '=HYPERLINK("http://x")', 'a,b "quoted"', "+1-1", "@SUM(A1)",
                                  "\u202eright-to-left", "x" * 2000, "<script>alert(1)</script>", "1e308", "nan"])
def test_hostile_ids_and_names_are_only_text(folder, name):
    set_cell(folder / "areas.csv", 2, "area_name", name)
    rename_area(folder, "A2", name)
    validate(folder, "OK: Tiny test scenario", "4 areas", code=0)


# ============================================================== limits


@pytest.mark.parametrize(("limit", "value", "change", "fragments"), [
    ("MAX_TABLE_BYTES", 100, None, ["areas.csv: too large", "MAX_TABLE_BYTES"]),
    ("MAX_ROWS", 3, None, ["areas.csv: too large: more than 3 rows", "MAX_ROWS"]),
    ("MAX_TABLE_CELLS", 20, None, ["areas.csv: too large", "MAX_TABLE_CELLS"]),
    ("MAX_TOML_BYTES", 100, None, ["scenario.toml: too large", "MAX_TOML_BYTES"]),
    ("MAX_WORKBOOK_UNZIPPED_BYTES", 2000, to_workbook, ["book.xlsx: too large", "when unzipped"]),
    ("MAX_WORKBOOK_CELLS", 30, to_workbook, ["book.xlsx: too large", "MAX_WORKBOOK_CELLS"]),
    ("MAX_WORKBOOK_PARTS", 5, to_workbook, ["book.xlsx: too large", "parts in the archive"]),
    ("MAX_TABLE_BYTES", 1000, to_workbook, ["book.xlsx: too large", "MAX_TABLE_BYTES"]),
    ("MAX_NUMBER", 10_000, None, ["[budget] 'total_gbp'", "at most 10,000 in size"]),
])
def test_every_limit_is_named_with_its_value(folder, monkeypatch, limit, value, change, fragments):
    if change is not None:
        change(folder)
    monkeypatch.setattr(limits, limit, value)
    validate(folder, *fragments)


def test_a_number_too_large_for_products_is_refused_where_it_is(folder):
    set_cell(folder / "areas.csv", 2, "population", "2e15")
    validate(folder, f"{folder}/areas.csv, row 2 (data row 1), column 'population'",
             "at most 1,000,000,000,000,000 in size")


def test_a_real_zip_bomb_is_refused_before_it_is_unzipped(folder, monkeypatch):
    monkeypatch.setattr(limits, "MAX_WORKBOOK_UNZIPPED_BYTES", 50 * limits.MB)  # a smaller bomb, made faster
    bomb = zipfile.ZipInfo("xl/media/bomb.bin")
    bomb.compress_type = zipfile.ZIP_DEFLATED
    to_workbook(folder, extra=[(bomb, b"\0" * (limits.MAX_WORKBOOK_UNZIPPED_BYTES + 1))])
    assert (folder / "book.xlsx").stat().st_size < limits.MAX_WORKBOOK_UNZIPPED_BYTES / 500
    validate(folder, f"{folder}/book.xlsx: too large", "when unzipped", "MAX_WORKBOOK_UNZIPPED_BYTES")


def test_bad_cells_are_listed_a_few_per_column_then_counted(folder, monkeypatch):
    monkeypatch.setattr(limits, "MAX_PROBLEMS_PER_COLUMN", 3)
    rows = "\n".join(f"B{i},Area {i},x,1,1,0.1,80,North,1" for i in range(8))
    (folder / "areas.csv").write_text((folder / "areas.csv").read_text() + rows + "\n")
    out = validate(folder, "row 6 (data row 5), column 'population'", "row 8 (data row 7), column 'population'",
                   "column 'population': 8 rows with a problem in this column: the first 3 are listed, +5 more")
    assert "row 9 (data row 8), column 'population'" not in out.output


def test_the_limits_are_in_one_place():
    assert limits.LIMITS == {name: getattr(limits, name) for name in limits.LIMITS}
    assert limits.MAX_TOML_BYTES < limits.MAX_TABLE_BYTES and limits.MAX_ROWS >= 1_000_000


# ============================================================== sweep files


@pytest.mark.parametrize(("data", "fragment"), [
    (b"[vary]\nbudget = [1e5, nan]\n", "[vary] 'budget[1]'"),
    (b"[vary]\nbudget = [123456789012345678901234567890]\n", "at most"),
    (b"[sweep]\nseed = 1\n[vary]\nbudget = \"1:2:\xff\"\n", "not UTF-8"),
    (b"[sweep\n", "not valid TOML"),
    (b"\xef\xbb\xbf[sweep]\nsamples = 1e400\n", "[sweep] 'samples'"),
    (b"[[uncertain]]\nparameter = \"budget\"\ndistribution = \"uniform\"\nlow = -inf\nhigh = 1\n",
     "[[uncertain]] number 1 'low'"),
])
def test_a_bad_sweep_file_is_named(folder, tmp_path, data, fragment):
    path = tmp_path / "sweep.toml"
    path.write_bytes(data)
    expect(2, ["sweep", folder, "--sweep-file", path, "--out", tmp_path / "out", "-q"], str(path), fragment,
           "the sweep's settings", unchanged=[folder, path])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["fifo", "devzero", "dir", "loop"])
def test_a_sweep_file_that_is_not_a_regular_file_is_never_read(tmp_path, kind):
    path = tmp_path / "sweep.toml"
    _special(kind)(path)
    with pytest.raises(SweepError, match=SPECIAL[kind].split(" (")[0]):
        read_sweep_file(path)


def test_a_sweep_file_may_lift_a_cap_with_inf(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('[vary]\n"cap.visits" = [1.0, inf]\n')
    assert read_sweep_file(path)["vary"]["cap.visits"] == [1.0, float("inf")]


# ============================================================== the Python API


@pytest.mark.parametrize("path", ["/dev/zero", "/nonexistent/scenario", "nul\x00byte", 5, None])
def test_load_raises_scenario_error_for_any_path(path):
    with pytest.raises(ScenarioError):
        allocator.load(path)


@pytest.mark.parametrize("change", [
    {"objective": "bogus"}, {"objective": 5}, {"proportionality": "steep"}, {"budget_mode": "roughly"},
    {"budget_gbp": float("nan")}, {"budget_gbp": "5"}, {"budget_gbp": -1.0}, {"budget_gbp": 1e308},
    {"budget": 10 ** 400}, {"budget": True}, {"budget": "lots"}, {"tolerance": 1.0}, {"tolerance": float("inf")},
    {"epsilon": -1}, {"sii_reduction": float("nan")}, {"floor": [1.0]}, {"floor": [float("nan"), 1.0]},
    {"cap": [0.1, 0.1]}, {"unit_cost": [0.0, 1.0]}, {"population": np.full(4, 1e308)},
    {"pace": (0.1,)}, {"pace": (2.0, 0.1)}, {"name": 5}, {"no_such_setting": 1}, {"floor.nowhere": 1.0},
    {"floor.visits": "abc"}, {"need.deprivation.constant": float("nan")},
])
def test_with_refuses_a_value_outside_its_field(change):
    s = allocator.load(Path(__file__).parent / "data" / "tiny")
    with pytest.raises(ScenarioError) as info:
        s.with_(**change)
    assert "Scenario.with_" in str(info.value)


@pytest.mark.parametrize("quantiles", [1, 5, 1_000_000, 2.5, True])
def test_with_refuses_quantiles_outside_two_to_the_areas(quantiles):
    s = allocator.load(Path(__file__).parent / "data" / "tiny")
    with pytest.raises(ScenarioError, match="quantiles"):
        s.with_(gradient=dataclasses.replace(s.gradient, quantiles=quantiles))


def test_with_accepts_what_the_manifest_accepts():
    s = allocator.load(Path(__file__).parent / "data" / "tiny")
    t = s.with_(objective="fair-share", proportionality="none", budget_mode="at-most", budget_gbp=90_000,
                pace=None, sii_reduction=None, worst_off_at_least=-3.0, cap=np.array([np.inf, np.inf]),
                gradient=dataclasses.replace(s.gradient, quantiles=4), budget=95_000)
    assert (t.objective, t.budget_gbp, t.gradient.quantiles) == ("fair-share", 95_000, 4)
    assert s.objective == "health-gain"


@pytest.mark.parametrize(("file", "change"), [
    ("scenario.toml", lambda p: p.write_bytes(b"\xff")),
    ("scenario.toml", lambda p: p.write_text("budget = 5\n")),
    ("areas.csv", lambda p: p.write_bytes(b"\xff\xfe")),
    ("areas.csv", lambda p: (p.unlink(), os.mkfifo(p))),
    ("models/need/deprivation.toml", lambda p: p.write_text("[formula]\nterms = 5\n")),
])
def test_load_raises_only_scenario_errors(folder, file, change):
    change(folder / file)
    with pytest.raises(ScenarioError) as info:
        allocator.load(folder)
    assert str(folder / file) in str(info.value)
