"""Write a run or comparison as one Excel workbook that a finance business partner takes into a
budget meeting.

'About' comes first: the scenario, when it was solved, what each option does, the budget and a
check that the live ``SUM`` of the allocation lines equals it to the penny ("Reconciles: yes"),
the input files' sha256 and the allocator version.  Then the data sheets of
`allocator.reports.workbook_sheets` (the allocation, by area, by service, by deprivation group,
by each grouping column, options, measures, winners and losers, rule costs, the inputs and the
run manifest), each an Excel Table with filters, a totals row of SUBTOTAL formulas, frozen
headers, plain-English headers with units, number formats (never scientific notation), set
column widths and print setup (landscape, one page wide, header row repeated, page numbers).

Every text cell is neutralised (`allocator.reports.outputs.neutralise`) and written as a string,
never as a formula; the only formulas are the totals and checks written here.  XlsxWriter writes
the workbook's frame (About, each sheet's header and totals rows, tables, formats, print setup,
document properties); the data cells, almost all of the file, go in as XML written straight from
the columns (`allocator.reports.workbook_xml`), many times faster than cell by cell.  The same
saved folder gives the same bytes: the document's date is the run's, and every zip entry
carries a fixed time.
"""

from __future__ import annotations

import datetime
import io
import math
import posixpath
import re
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from allocator.errors import AllocatorError
from allocator.format import gbp
from allocator.reports.brief import brief, runs_of, solved_on
from allocator.reports.outputs import atomic_write, significant
from allocator.reports.plan_sheets import BY_AREA, SPEND, YEAR, plan_sheets
from allocator.reports.population_sheets import TABLE as POPULATION
from allocator.reports.population_sheets import population_sheets
from allocator.reports.results import ReportData
from allocator.reports.workbook_sheets import (
    FORMATS,
    MONEY,
    OBJECTIVES,
    SUM,
    Column,
    Sheet,
    data_sheets,
)
from allocator.reports.workbook_xml import FIXED_TIME, ILLEGAL, package
from allocator.reports.workbook_xml import cell_text as _text
from allocator.version import __version__

MAX_ROWS = 1_048_576  # Excel's rows per sheet: a longer table continues on more sheets
OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
FORBIDDEN = re.compile(r"[\[\]:*?/\\]")  # not allowed in a sheet name
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
CELL_LIKE = re.compile(r"[A-Za-z]{1,3}[0-9]+|[RrCc]")  # a table may not be named like a cell
ABOUT_WIDTHS = (30, 20, 26, 18, 12, 70)  # columns A-F of the About sheet
STYLE = "Table Style Medium 2"
RAG = "RAG"  # a column with this header holds 'green', 'amber' or 'red': each cell is filled in its colour too
RAG_FILLS = {"green": "#D5ECD4", "amber": "#FDE8B0", "red": "#F8D3CF"}


def write_workbook(data: ReportData, path: str | Path, manifest: dict | None = None,
                   protected: set[Path] = frozenset()) -> None:
    """Write ``data`` as an ``.xlsx`` workbook, atomically and never over an input.

    Parameters
    ----------
    data : ReportData
        What `allocator.reports.results.report_data` builds or `allocator.reports.results.load` reads.
    path : str or Path
        The workbook to write; must end in ``.xlsx``.
    manifest : dict, optional
        The run manifest (``run.json``): its date, input hashes and versions.
    protected : set of Path
        Input files: writing over one of them raises `AllocatorError`.

    Examples
    --------
    >>> import tempfile, openpyxl, pandas as pd
    >>> data = ReportData(meta={"title": "Example"},
    ...                   tables={"by_group": pd.DataFrame({"group": [1, 2], "spend_gbp": [10.5, 20.0]})})
    >>> path = Path(tempfile.mkdtemp()) / "example.xlsx"
    >>> write_workbook(data, path, {"written": "2025-04-01", "inputs": {"areas.csv": "ab12"}})
    >>> book = openpyxl.load_workbook(path)
    >>> book.sheetnames, book.properties.created
    (['About', 'By group', 'Run manifest'], datetime.datetime(2025, 4, 1, 0, 0))
    >>> cell = book["By group"]["B2"]
    >>> book["By group"]["B1"].value, cell.value, cell.number_format
    ('Spend (£)', 10.5, '£#,##0.00')
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise AllocatorError(f"{path}: expected a file name ending in .xlsx, got '{path.suffix}'; "
                             "Excel will not open a workbook under another name")
    guarded = {Path(p).resolve() for p in protected}
    if path.resolve() in guarded:
        raise AllocatorError(f"refusing to overwrite the input file {path}: choose another workbook path")
    atomic_write(path, workbook_bytes(data, manifest), guarded)


def workbook_bytes(data: ReportData, manifest: dict | None = None) -> bytes:
    """The workbook's bytes: the same data and manifest give the same bytes."""
    title = _title(data)
    n = len(data.meta.get("options") or [])
    properties = {
        "title": ILLEGAL.sub("", title), "author": "allocator", "company": "",
        "subject": "Budget allocation: " + ("one run" if data.meta.get("kind") == "run" else f"{n} options compared"),
        "keywords": "budget allocation, proportionate universalism, fair shares",
        "comments": f"Written by allocator {__version__}.", "created": _created(manifest)}
    sheets = [*plan_sheets(data), *data_sheets(data, manifest, {POPULATION: population_sheets(data)})]
    return book_bytes(sheets, title, properties, lambda ws, styles, named: About(ws, styles).write(data, manifest,
                                                                                                  named))


def book_bytes(sheets: list[Sheet], title: str, properties: dict, about) -> bytes:
    """A workbook of an About sheet and ``sheets`` (split where longer than Excel allows, named legally),
    each an Excel Table: ``about(worksheet, styles, sheets)`` writes the About sheet, the sheets as named.
    ``properties``: the document's (XlsxWriter's ``set_properties``); ``title`` goes in each page's footer."""
    taken = {"about"}
    sheets = [replace(part, name=_sheet_name(part.name, taken), columns=tuple(_rounded(c) for c in part.columns))
              for sheet in sheets for part in split(sheet, MAX_ROWS - 2)]
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, OPTIONS)
    styles = Styles(book)
    book.set_properties(properties)
    about(book.add_worksheet("About"), styles, sheets)
    tables: set[str] = set()
    footer = "&L&A&CPage &P of &N&R" + ILLEGAL.sub("", title)[:60].replace("&", "&&")
    for sheet in sheets:
        _table_sheet(book.add_worksheet(sheet.name), sheet, styles, _table_name(sheet.name, tables), footer)
    book.close()
    return package(buffer.getvalue(), sheets, {kind: style.xf_index for kind, style in styles.cell.items()})


def _rounded(column: Column) -> Column:
    """Money to the penny, other numbers to the 10 significant figures of the saved tables: no float
    noise in the file, and the same cells from a saved folder as from memory."""
    if column.values.dtype.kind != "f":
        return column
    money = isinstance(column.kind, str) and column.kind == MONEY
    return replace(column, values=np.round(column.values, 2) if money else significant(column.values))


# -- text and names ------------------------------------------------------------------------------
def _sheet_name(name: str, taken: set[str]) -> str:
    """A legal, unique sheet name: at most 31 characters, none of []:*?/\\, not quoted."""
    base = FORBIDDEN.sub("-", ILLEGAL.sub("", name)).strip("'").strip() or "Sheet"
    if base.lower() == "history":  # reserved by Excel
        base = "history table"
    candidate, number = base[:31], 1
    while candidate.lower() in taken:
        number += 1
        suffix = f" ({number})"
        candidate = base[:31 - len(suffix)] + suffix
    taken.add(candidate.lower())
    return candidate


def _table_name(sheet: str, taken: set[str]) -> str:
    """A legal, unique Excel Table name from the sheet's ('By area' -> 'By_area')."""
    base = re.sub(r"\W+", "_", sheet, flags=re.ASCII).strip("_")
    if not TABLE_NAME.fullmatch(base) or CELL_LIKE.fullmatch(base):
        base = f"Table_{base}"
    candidate, number = base[:250], 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{base[:240]}_{number}"
    taken.add(candidate.lower())
    return candidate


def _headers(sheet: Sheet) -> list[str]:
    """Each column's header as written: on one line, neutralised, unique ignoring case (as a table needs)."""
    out, seen = [], set()
    for column in sheet.columns:
        base = _text(" ".join(str(column.header).split()) or "Column")[:255]
        header, number = base, 1
        while header.lower() in seen:
            number += 1
            header = f"{base} ({number})"
        seen.add(header.lower())
        out.append(header)
    return out


def _ref(header: str) -> str:
    """A header inside a structured reference (``[Change (£)]``): ' [ ] # escaped with '."""
    return re.sub(r"(['\[\]#])", r"'\1", header)


def _quote(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


# -- sheets that do not fit --------------------------------------------------------------------
def split(sheet: Sheet, limit: int) -> list[Sheet]:
    """The sheet as parts of at most ``limit`` rows, an option's rows never sharing a part with another's."""
    if sheet.rows <= limit:
        return [sheet]
    option = sheet.column("Option")
    starts = [0]
    if option is not None:
        values = option.values
        starts += [i for i in range(1, len(values)) if values[i] != values[i - 1]]
    bounds = [(a, min(a + limit, b)) for a, b in zip(starts, starts[1:] + [sheet.rows]) for a in range(a, b, limit)]
    return [replace(sheet, columns=tuple(replace(c, values=c.values[a:b],
                                                 kind=c.kind if isinstance(c.kind, str) else c.kind[a:b])
                                         for c in sheet.columns)) for a, b in bounds]


# -- the frame: XlsxWriter ------------------------------------------------------------------------
class Styles:
    """The workbook's cell formats: one per kind of number, and those of the About sheet."""

    def __init__(self, book: xlsxwriter.Workbook):
        self.cell = {kind: book.add_format({"num_format": code}) for kind, code in FORMATS.items()}
        for style in self.cell.values():  # numbered now, so that cells written outside XlsxWriter can name them
            style._get_xf_index()
        self.header = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        self.title = book.add_format({"bold": True, "font_size": 16})
        self.bold = book.add_format({"bold": True, "valign": "top"})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})
        self.money = book.add_format({"num_format": FORMATS[MONEY], "valign": "top"})
        self.check = book.add_format({"bold": True, "align": "center"})
        self.book, self._rag = book, {}

    def rag(self, word: str):
        """The fill of a red/amber/green cell (made when first asked for: a workbook without one is unchanged)."""
        if word not in self._rag:
            self._rag[word] = self.book.add_format({"bg_color": RAG_FILLS[word], "font_color": "#1A1A1A"})
        return self._rag[word]


def _created(manifest: dict | None) -> datetime.datetime:
    try:
        return datetime.datetime.strptime(solved_on(manifest) or "", "%Y-%m-%d")
    except ValueError:
        return FIXED_TIME


def _title(data: ReportData) -> str:
    return str((data.meta.get("scenario") or {}).get("name") or data.meta.get("title") or "allocator")


def _total(sheet: Sheet, j: int, headers: list[str], table: str) -> dict:
    """The totals-row cell of column ``j``: 'Total', or a live SUBTOTAL (a sum, or a ratio of two sums),
    its references qualified with the table's name (as Excel writes them, and LibreOffice needs)."""
    column = sheet.columns[j]
    position = {c.header: k for k, c in enumerate(sheet.columns)}

    def subtotal(k: int) -> str:
        return f"SUBTOTAL(109,{table}[{_ref(headers[k])}])"

    if column.total == SUM:  # money to the penny: the sum of pennies, without the float noise of adding
        total = _fsum(column.values)
        return {"total_function": subtotal(j), "total_value": round(total, 2) if column.kind == MONEY else total}
    if isinstance(column.total, tuple) and all(h in position for h in column.total):
        top, bottom = (position[h] for h in column.total)
        a, b = _fsum(sheet.columns[top].values), _fsum(sheet.columns[bottom].values)
        return {"total_function": f'IFERROR({subtotal(top)}/{subtotal(bottom)},"")', "total_value": a / b if b else ""}
    return {"total_string": "Total"} if j == 0 and sheet.totals else {}


def _fsum(values: np.ndarray) -> float:
    numbers = np.asarray(values, dtype=float)
    return math.fsum(numbers[np.isfinite(numbers)].tolist())


def _width(header: str, values: np.ndarray) -> float:
    """A column width that shows typical values and the header (wrapped over up to three lines)."""
    longest = 6
    if values.dtype.kind in "iuf":
        finite = np.abs(values[np.isfinite(values)]) if values.dtype.kind == "f" else np.abs(values)
        if finite.size:
            longest = len(f"{finite.max():,.2f}") + 2
    else:
        texts = [len(v) for v in set(values.tolist()) if isinstance(v, str)]
        longest = max(texts, default=6) + 1
    return float(min(max(longest, min(len(header) + 3, 24), len(header) / 3 + 3, 8), 50))


def _table_sheet(ws, sheet: Sheet, styles: Styles, name: str, footer: str) -> None:
    """A data sheet's frame: the table (header, filters, totals), formats, widths, panes, print setup."""
    headers = _headers(sheet)
    columns = []
    for j, (header, column) in enumerate(zip(headers, sheet.columns)):
        style = styles.cell.get(column.kind) if isinstance(column.kind, str) else None
        columns.append({"header": header, "header_format": styles.header, **_total(sheet, j, headers, name),
                        **({"format": style} if style is not None else {})})
    # One data row stands in for them all: XlsxWriter checks each cell of a table's range for overlaps
    # (seconds, and a dict entry a cell, at 270,040 rows); `_sheet_xml` and `_table_xml` widen it.
    if ws.add_table(0, 0, 2 if sheet.totals else 1, len(columns) - 1,
                    {"name": name, "columns": columns, "style": STYLE, "total_row": sheet.totals}) != 0:
        raise AllocatorError(f"the workbook's sheet '{sheet.name}' could not hold its table")
    widths = [_width(h, c.values) for h, c in zip(headers, sheet.columns)]
    for j, (width, column) in enumerate(zip(widths, sheet.columns)):
        ws.set_column(j, j, width, styles.cell.get(column.kind) if isinstance(column.kind, str) else None)
    for j in [j for j, h in enumerate(headers) if h == RAG and sheet.rows]:  # the word stays: colour is not alone
        for word in RAG_FILLS:
            ws.conditional_format(1, j, sheet.rows, j, {"type": "cell", "criteria": "equal to", "value": f'"{word}"',
                                                        "format": styles.rag(word)})
    lines = max(len(textwrap.wrap(h, max(int(w) - 3, 4))) for h, w in zip(headers, widths))
    ws.set_row(0, 15 * max(lines, 1))
    ws.freeze_panes(1, sheet.frozen)
    print_setup(ws, footer)
    ws.repeat_rows(0)


def print_setup(ws, footer: str) -> None:
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)  # one page wide, as many long as it takes
    ws.set_footer(footer)


# -- the About sheet -----------------------------------------------------------------------------
class About:
    """The About sheet, written down the page: the facts, the check, the options, the sheets, the inputs."""

    def __init__(self, ws, styles: Styles):
        self.ws, self.styles, self.row = ws, styles, 0
        for j, width in enumerate(ABOUT_WIDTHS):
            ws.set_column(j, j, width)

    def write(self, data: ReportData, manifest: dict | None, sheets: list[Sheet]) -> None:
        self.ws.write_string(0, 0, _text(_title(data)), self.styles.title)
        self.ws.write_string(1, 0, _text("Budget allocation workbook, written by allocator from a saved run: "
                                         "every sheet is a table with filters and a live totals row."))
        self.row = 3
        self._facts(data, manifest)
        self._reconciliation(data, sheets)
        self._plan_reconciliation(data, sheets)
        self._list("Option", "What it does", _option_lines(data))
        self._list("Sheet", "What it holds", [(s.name, s.about) for s in sheets])
        self._list("Input file", "sha256", _inputs(manifest))
        print_setup(self.ws, "&L&A&CPage &P of &N")

    def _long(self, text: str, style) -> None:
        """Text across columns B-F, wrapped, on a row tall enough to show it."""
        self.ws.merge_range(self.row, 1, self.row, len(ABOUT_WIDTHS) - 1, "", style)
        self.ws.write_string(self.row, 1, _text(text), style)
        lines = sum(max(1, math.ceil(len(p) / (sum(ABOUT_WIDTHS[1:]) * 0.95))) for p in str(text).split("\n"))
        if lines > 1:
            self.ws.set_row(self.row, 15 * lines)

    def _heading(self, *texts: str) -> None:
        self.row += 1
        for j, text in enumerate(texts):
            self.ws.write_string(self.row, j, text, self.styles.header)
        self.row += 1

    def _facts(self, data: ReportData, manifest: dict | None) -> None:
        s, kind = data.meta.get("scenario") or {}, data.meta.get("kind")
        n = len(data.meta.get("options") or [])
        better = "higher" if s.get("higher_is_better", True) else "lower"
        comparator = s.get("comparator") or "baseline"
        facts = [("Scenario", s.get("name") or data.meta.get("title")),
                 ("Report", "one run of the scenario" if kind == "run" else f"{n} options compared"),
                 ("Solved on", solved_on(manifest) or "not recorded (the saved folder has no run manifest)"),
                 ("allocator version", data.meta.get("allocator") or __version__),
                 ("Budget (£)", s.get("budget_gbp")), ("Plan", _plan_fact(data)), ("Areas", s.get("areas")),
                 ("Services", s.get("services")),
                 ("Outcome", f"{s['outcome_label']} ({s.get('outcome_units', '')}; {better} is better)"
                  if s.get("outcome_label") else None),
                 ("Deprivation groups", f"{s['groups']}s of deprivation, 1 = most deprived" if s.get("groups") else None),
                 ("Compared with", "this year's spend (the baseline table)" if comparator == "baseline"
                  else f"{comparator}: the same budget spread flat, in equal units per head"),
                 ("Description", s.get("description")), ("Data sources", s.get("attribution"))]
        for label, value in facts:
            if value is None or value == "":
                continue
            self.ws.write_string(self.row, 0, label, self.styles.bold)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                style = self.styles.money if label.endswith("(£)") else self.styles.cell["count"]
                self.ws.write_number(self.row, 1, value, style)
            else:
                self._long(str(value), self.styles.wrap)
            self.row += 1

    def _reconciliation(self, data: ReportData, sheets: list[Sheet]) -> None:
        """Each option's budget, the live SUM of its allocation lines, the difference and 'Reconciles'."""
        parts = [s for s in sheets if s.reconcile and s.column(s.reconcile) is not None]
        if not parts:
            self._heading("Reconciliation")
            self.ws.write_string(self.row, 0, "No allocation table in this result: nothing to reconcile.")
            self.row += 1
            return
        self._heading("Option", "Budget (£)", "Allocated: live sum of the allocation lines (£)", "Difference (£)",
                      "Reconciles")
        budgets = _budgets(data)
        for option in _options(data, parts):
            self._check(option, budgets.get(option), *live_sum(parts, option, f"$A${self.row + 1}"))
        self.ws.write_string(self.row, 0, "Every allocation line is in whole pennies, and the sum is a formula over "
                             "all of them: it follows any edit. A budget that is a maximum ('at most') may leave "
                             "money unallocated: the difference is what is left.")
        self.row += 1

    def _check(self, name: str, budget: float | None, formula: str, total: float) -> None:
        """A row of a check: the name, the budget, the live sum, the difference and whether it reconciles."""
        r, money = self.row + 1, self.styles.money  # as Excel numbers rows
        self.ws.write_string(self.row, 0, _text(name))
        self.ws.write_formula(self.row, 2, "=" + formula, money, total)
        if budget is not None:
            difference = round(total - budget, 2)
            self.ws.write_number(self.row, 1, budget, money)
            self.ws.write_formula(self.row, 3, f"=ROUND(C{r}-B{r},2)", money, difference)
            self.ws.write_formula(self.row, 4, f'=IF(ABS(D{r})<0.005,"yes","no")', self.styles.check,
                                  "yes" if abs(difference) < 0.005 else "no")
        self.row += 1

    def _plan_reconciliation(self, data: ReportData, sheets: list[Sheet]) -> None:
        """Each year of a plan: its budget and the live SUM of its spend on the plan's by-area sheet."""
        parts = [s for s in sheets if s.name == BY_AREA or s.name.startswith(f"{BY_AREA} (")]
        years = data.tables.get("plan_years")
        if not parts or years is None:
            return
        self._heading("Plan year", "Budget (£)", f"Spent: live sum of '{BY_AREA}' (£)", "Difference (£)",
                      "Reconciles")
        for year, budget in zip(years["year"].astype(str), years["budget_gbp"].to_numpy(float)):
            if year != "Before":
                self._check(year, budget, *live_sum(parts, year, f"$A${self.row + 1}", YEAR, SPEND))

    def _list(self, label: str, what: str, rows: list[tuple[str, str]]) -> None:
        if not rows:
            return
        self._heading(label, what)
        for name, text in rows:
            self.ws.write_string(self.row, 0, _text(name), self.styles.wrap)
            self._long(text, self.styles.wrap)
            self.row += 1


def _options(data: ReportData, parts: list[Sheet]) -> list[str]:
    """The options, in order: as the result names them, else as the allocation lines do."""
    named = [str(o) for o in data.meta.get("options") or []]
    if named:
        return named
    found = [v for s in parts if s.column("Option") is not None for v in s.column("Option").values]
    return list(dict.fromkeys(found)) or [_title(data)]


def _budgets(data: ReportData) -> dict[str, float]:
    """Each option's budget (an option may change it), else the scenario's."""
    budget = (data.meta.get("scenario") or {}).get("budget_gbp")
    out = {o: float(budget) for o in _options(data, []) if isinstance(budget, (int, float))}
    summary = data.tables.get("options_summary")
    if summary is not None and {"option", "budget_gbp"} <= set(summary.columns):
        out |= {str(o): float(b) for o, b in zip(summary["option"], summary["budget_gbp"]) if np.isfinite(b)}
    return out


def _range(sheet: Sheet, header: str) -> str:
    """A column's data cells, as an absolute reference: 'Allocation'!$M$2:$M$270041."""
    letter = xl_col_to_name([c.header for c in sheet.columns].index(header))
    return f"{_quote(sheet.name)}!${letter}$2:${letter}${sheet.rows + 1}"


def live_sum(parts: list[Sheet], option: str, cell: str, key: str = "Option",
              column: str | None = None) -> tuple[str, float]:
    """A formula summing ``option``'s allocation lines on the allocation sheets (``cell`` holds its name:
    EXACT, as Excel's = and SUMIF ignore case and read * and ? as wildcards), and its value; ``key``
    and ``column``: the column naming the rows' option (or year) and the column summed."""
    terms, values = [], []
    for sheet in parts:
        names, summed = sheet.column(key), column or sheet.reconcile
        mine = np.ones(sheet.rows, bool) if names is None else names.values == option
        if mine.all():
            terms.append(f"SUM({_range(sheet, summed)})")
        elif mine.any():
            terms.append(f"SUMPRODUCT(--EXACT({_range(sheet, key)},{cell}),{_range(sheet, summed)})")
        values.append(np.asarray(sheet.column(summed).values, dtype=float)[mine])
    return "+".join(terms) or "0", round(_fsum(np.concatenate(values)), 2) if values else 0.0


def _option_lines(data: ReportData) -> list[tuple[str, str]]:
    """What each option does, in a line: its objective, rules and budget, then what it changes (the brief's)."""
    summary = data.tables.get("options_summary", pd.DataFrame())
    rows = {str(r["option"]): r for r in summary.to_dict("records")} if "option" in summary else {}
    effects = dict(brief(data).options) if "options_metrics" in data.tables else {}
    out = []
    for option in _options(data, []):
        row = rows.get(option, {})
        setting = OBJECTIVES.get(str(row.get("objective")), "")
        if row.get("proportionality"):
            setting += f" ({row['proportionality']} proportionality)"
        if isinstance(row.get("budget_gbp"), (int, float)):
            setting += f", on a budget of {gbp(row['budget_gbp'])}"
        text = " ".join(t for t in ((setting[:1].upper() + setting[1:] + ".") if setting else "",
                                    effects.get(option, "")) if t)
        out.append((option, text or "(no summary saved)"))
    return out


def _plan_fact(data: ReportData) -> str | None:
    """The plan in a line: its years and discount rate, and which sheets show which year."""
    plan = data.meta.get("plan") or {}
    years = [str(y) for y in plan.get("years") or []]
    if not years:
        return None
    rate = plan.get("discount_rate")
    discount = f", health discounted at {rate:.1%} a year" if isinstance(rate, (int, float)) and rate else ""
    return (f"{len(years)} year{'s' if len(years) != 1 else ''}, {years[0]} to {years[-1]}{discount}. The 'Plan' "
            f"sheets show every year; the other sheets, and the budget above, the first year ({years[0]}).")


def _inputs(manifest: dict | None) -> list[tuple[str, str]]:
    """Each input file (its path tidied) and its sha256, from the run manifest(s)."""
    named = {}
    for run in runs_of(manifest):
        for path, digest in (run.get("inputs") or {}).items():
            named[posixpath.normpath(str(path).replace("\\", "/"))] = str(digest)
    return sorted(named.items())
