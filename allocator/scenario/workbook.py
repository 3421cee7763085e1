"""Read the tables of an XLSX workbook, within limits checked before any sheet is parsed.

An XLSX file is a zip archive of XML parts. Before openpyxl parses anything, the
archive's listing is checked (number of parts, their unzipped size: a zip bomb
stops here) and the XML is scanned, unzipped as a stream, for the number of cells
it holds: a 3 MB file can hold a million rows, which openpyxl would take minutes
to read. Only the sheets named areas, services, baseline and locked are read, each
as text, row by row, never wider than its header.
"""

from __future__ import annotations

import datetime
import re
import warnings
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from allocator.errors import Problem, ScenarioError
from allocator.scenario import files, limits
from allocator.scenario.limits import size
from allocator.scenario.tables import SHEETS, Table, table_of

_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?c[\s>/]")  # <c ...>, <x:c ...>: one cell
EXCEL_ROWS = 1_048_576  # the most rows a sheet can have
_OVERLAP = 40  # longer than any match, so that a match cut by a chunk boundary is found once


def read_workbook(path: Path, display: str, checker) -> dict[str, Table]:
    """Every known sheet of an XLSX workbook, as tables of text; problems go to ``checker``."""
    try:
        with files.open_regular(path, display, limits.MAX_TABLE_BYTES, "MAX_TABLE_BYTES") as handle:
            _check_archive(handle, display)
            return _read_sheets(handle, display, checker)
    except ScenarioError as exc:
        checker.extend(exc)
        return {}


def read_every_sheet(path: Path, display: str, checker) -> dict[str, Table]:
    """Every sheet of an XLSX workbook, by its name, as tables of text (an empty sheet is left
    out); problems go to ``checker``. For files whose sheets are not a scenario's (an outturn)."""
    try:
        with files.open_regular(path, display, limits.MAX_TABLE_BYTES, "MAX_TABLE_BYTES") as handle:
            _check_archive(handle, display)
            book = _open_book(handle, display)
            try:
                return _sheets(book, {name: name for name in book.sheetnames}, display, checker, skip_empty=True)
            finally:
                book.close()
    except ScenarioError as exc:
        checker.extend(exc)
        return {}


SETTINGS_SHEET = "scenario"
#: Settings given in a workbook as text that the manifest holds as lists.
LIST_SETTINGS = {("gradient", "group_columns")}


def read_settings(path: Path, display: str) -> dict:
    """The manifest held in a workbook's ``scenario`` sheet: rows of section, key, value (a header
    row and blank rows skipped), as the dict a scenario.toml would give; `ScenarioError` if absent."""
    with files.open_regular(path, display, limits.MAX_TABLE_BYTES, "MAX_TABLE_BYTES") as handle:
        _check_archive(handle, display)
        book = _open_book(handle, display)
        try:
            names = {str(n).strip().lower(): n for n in book.sheetnames}
            if SETTINGS_SHEET not in names:
                raise _bad(display, "has no sheet named 'scenario' (rows of section, key, value: the settings "
                           "of scenario.toml); `allocator template --xlsx FILE` writes one to fill in")
            rows = list(book[names[SETTINGS_SHEET]].iter_rows(min_col=1, max_col=3, values_only=True))
        finally:
            book.close()
    return _settings(rows, f"{display}, sheet scenario")


def _settings(rows: list[tuple], shown: str) -> dict:
    data: dict = {}
    problems = []
    for number, (section, key, value) in enumerate(rows, start=1):
        if section is None and key is None or (number == 1 and str(section).strip().lower() == "section"):
            continue
        section, key = str(section or "").strip(), str(key or "").strip()
        if not section or not key:
            problems.append(Problem(shown, "a setting needs a section and a key", row=number))
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # a blank value: the setting is not given
        if (section, key) in LIST_SETTINGS and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, str):
            value = value.strip()
        data.setdefault(section, {})[key] = value
    if problems:
        raise ScenarioError(problems)
    return data


def _bad(display: str, message: str) -> ScenarioError:
    return ScenarioError([Problem(display, message)])


def _check_archive(handle: BinaryIO, display: str) -> None:
    """The zip listing and a count of the cells, within the limits; else `ScenarioError`."""
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise _bad(display, f"cannot be read as an XLSX workbook: it is not a zip archive ({exc}); "
                   "save it from a spreadsheet as .xlsx") from None
    with archive:  # closing it leaves ``handle`` open
        _check_parts(archive, display)
    handle.seek(0)


def _check_parts(archive: zipfile.ZipFile, display: str) -> None:
    parts = archive.infolist()
    if len(parts) > limits.MAX_WORKBOOK_PARTS:
        raise files.too_large(display, f"{len(parts):,} parts in the archive",
                              f"{limits.MAX_WORKBOOK_PARTS:,}", "MAX_WORKBOOK_PARTS")
    unzipped = sum(p.file_size for p in parts)
    if unzipped > limits.MAX_WORKBOOK_UNZIPPED_BYTES:
        raise files.too_large(display, f"{size(unzipped)} when unzipped",
                              size(limits.MAX_WORKBOOK_UNZIPPED_BYTES), "MAX_WORKBOOK_UNZIPPED_BYTES")
    cells = 0
    for part in parts:
        if part.filename.lower().endswith(".xml"):
            cells += _count_cells(archive, part, display, limits.MAX_WORKBOOK_CELLS - cells)


def _count_cells(archive: zipfile.ZipFile, part: zipfile.ZipInfo, display: str, room: int) -> int:
    """Cells in one XML part, unzipped as a stream; more than ``room`` is refused."""
    count, tail = 0, b""
    try:
        with archive.open(part) as stream:
            while True:
                chunk = stream.read(1 << 20)
                buffer = tail + chunk
                cut = len(buffer) - _OVERLAP if chunk else len(buffer)
                count += sum(1 for m in _CELL.finditer(buffer) if m.start() < cut)
                if count > room:
                    raise files.too_large(display, f"more than {limits.MAX_WORKBOOK_CELLS:,} cells in its "
                                          "sheets", f"{limits.MAX_WORKBOOK_CELLS:,} cells: put large tables "
                                          "in CSV files", "MAX_WORKBOOK_CELLS")
                if not chunk:
                    return count
                tail = buffer[max(cut, 0):]
    # zipfile raises NotImplementedError for a compression method it lacks, RuntimeError for encryption
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise _bad(display, f"cannot be read as an XLSX workbook: part {part.filename}: {exc}") from None


def _open_book(handle: BinaryIO, display: str):
    """The workbook, read-only, values not formulas, no external links; `ScenarioError` if broken."""
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return openpyxl.load_workbook(handle, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for a bad workbook
        raise _bad(display, f"cannot be read as an XLSX workbook: {exc}") from None


def _read_sheets(handle: BinaryIO, display: str, checker) -> dict[str, Table]:
    book = _open_book(handle, display)
    try:
        return _sheets(book, _choose_sheets(book.sheetnames, display), display, checker)
    finally:
        book.close()


def _sheets(book, chosen: dict[str, str], display: str, checker, skip_empty: bool = False) -> dict[str, Table]:
    """{key: table} of the sheets ``chosen`` ({key: sheet name}); problems go to ``checker`` (an empty
    sheet left out quietly with ``skip_empty``)."""
    tables = {}
    for key, name in chosen.items():
        shown = f"{display}, sheet {name}"
        try:
            tables[key] = _read_sheet(book[name], shown)
        except ScenarioError as exc:
            if not (skip_empty and any("the sheet is empty" in p.message for p in exc.problems)):
                checker.extend(exc)
        except Exception as exc:  # a broken sheet part
            checker.add(shown, f"cannot be read as an XLSX sheet: {exc}")
    return tables


def _choose_sheets(names: list[str], display: str) -> dict[str, str]:
    """{table: sheet name}: a sheet is a table's if its name, trimmed, in any case, is the table's;
    two sheets claiming one table are refused (neither would silently replace the other)."""
    chosen: dict[str, list[str]] = {}
    for name in names:
        key = str(name).strip().lower()
        if key in SHEETS:
            chosen.setdefault(key, []).append(name)
    problems = [Problem(display, f"sheets {', '.join(repr(n) for n in found)} are all read as the "
                        f"'{key}' table (names are compared without case or surrounding spaces): "
                        "rename or delete all but one")
                for key, found in chosen.items() if len(found) > 1]
    if problems:
        raise ScenarioError(problems)
    return {key: found[0] for key, found in chosen.items()}


def _read_sheet(sheet, shown: str) -> Table:
    """One sheet as text: the first non-blank row is the header; rows never wider than it.

    Blank rows are skipped as they come (formatting can reach row 1,048,576); rows with
    a value count towards the limits.
    """
    sheet.reset_dimensions()  # a sheet's stated size may be wrong (or huge): never pad to it
    header_row, header = 0, []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > EXCEL_ROWS:
            break
        if any(_cell(v).strip() for v in values):
            header_row, header = number, [_cell(v) for v in values]
            break
    while header and not header[-1].strip():
        header.pop()
    if not header:
        raise _bad(shown, "the sheet is empty: expected a header row of column names, then one row per row")
    width = len(header)
    rows, body = [], []
    for number, values in enumerate(sheet.iter_rows(min_row=header_row + 1, max_col=width,
                                                    values_only=True), start=header_row + 1):
        if number > EXCEL_ROWS:
            raise _bad(shown, f"holds a row numbered beyond {EXCEL_ROWS:,}, the most a sheet can have")
        if all(v is None for v in values):
            continue
        cells = [_cell(v) for v in values]
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= limits.MAX_ROWS or (len(rows) + 1) * width > limits.MAX_WORKBOOK_CELLS:
            limit = (f"{limits.MAX_ROWS:,} rows (allocator.scenario.limits.MAX_ROWS)"
                     if len(rows) >= limits.MAX_ROWS else f"{limits.MAX_WORKBOOK_CELLS:,} cells "
                     "(allocator.scenario.limits.MAX_WORKBOOK_CELLS)")
            raise _bad(shown, f"too large: more than {len(rows):,} rows of {width} columns; the limit "
                       f"is {limit}: put large tables in CSV files")
        rows.append(number)
        body.append(cells + [""] * (width - len(cells)))
    frame = pd.DataFrame(body, columns=range(width), dtype=object) if body else pd.DataFrame(
        columns=range(width), dtype=object)
    return table_of(shown, header, frame, np.asarray(rows, dtype=int))


def _cell(value: object) -> str:
    """A cell's value as the text a CSV export would hold (1000.0 -> '1000')."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    return str(value)
