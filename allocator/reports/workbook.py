"""Write a run or comparison as one Excel workbook, for finance teams.

A 'Summary' sheet (title, scenario, options, the best option on each measure, what
each option's rules cost), a 'Measures' sheet (measures down, options across), one
sheet per table (the scenario's inputs last) and the run manifest.  Numbers are
stored as numbers with a format chosen from the column name (``*_gbp`` in pounds,
``*_pct`` as percentages, shares as %, counts with thousands separators); text is
neutralised exactly as in the CSV files, so no cell is ever a formula.  The same
data gives the same bytes: floats carry the CSV's 10 significant figures and the
workbook's timestamps are fixed.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.xml.functions import tostring

from allocator.analysis.compare import wide_metrics
from allocator.errors import AllocatorError
from allocator.reports.outputs import atomic_write, neutralise, significant
from allocator.reports.results import ReportData
from allocator.version import __version__

GBP, GBP_WHOLE, PCT, SHARE = "£#,##0.00", "£#,##0", '0.0"%"', "0.0%"
COUNT, LABEL, INDEX, NUMBER = "#,##0", "0", "0.0000", "#,##0.00##"
WHOLE_POUNDS = {"budget_gbp", "allocated_gbp"}  # totals in the £m-£bn: pennies are noise there
COUNTS = {"population", "areas", "services", "gain", "lose", "unchanged", "amount_pennies"}
LABELS = ("_decile", "_quintile", "_group", "quintile", "decile")
INDICES = ("sii_", "rii_", "concentration_", "atkinson_")
PER_OPTION = {"spend_by_group": GBP, "outcome_by_group": INDEX}  # option columns hold £/head, outcomes
BY_UNITS = {"options_metrics": ("before", "after", "change", "change_vs_first_option")}

MAX_ROWS = 1_048_576  # Excel's rows per sheet, header included
MAX_TEXT = 32_767  # Excel's characters per cell
FIXED_TIME = datetime.datetime(2000, 1, 1)  # workbook and zip timestamps, so bytes are stable
FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
NUMERIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
INTEGER = re.compile(r"[-+]?\d+")
LEADING_ZERO = re.compile(r"[-+]?0\d")  # codes such as '007' stay text
NEUTRALISED_SIGN = re.compile(r"^'([-+])")
ORDER = ("options_summary", "options_metrics", "spend_by_group", "outcome_by_group", "winners_losers",
         "winners_losers_by_group", "waterfall", "prices")
BOLD, TITLE = Font(bold=True), Font(bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="top")


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
        The run manifest (``run.json``), flattened onto a 'Run manifest' sheet.
    protected : set of Path
        Input files: writing over one of them raises `AllocatorError`.

    Examples
    --------
    >>> import tempfile, openpyxl, pandas as pd
    >>> data = ReportData(meta={"title": "Example"},
    ...                   tables={"by_group": pd.DataFrame({"group": [1, 2], "spend_gbp": [10.5, 20.0]})})
    >>> path = Path(tempfile.mkdtemp()) / "example.xlsx"
    >>> write_workbook(data, path, {"inputs": {"areas.csv": "ab12"}})
    >>> book = openpyxl.load_workbook(path)
    >>> book.sheetnames
    ['Summary', 'by_group', 'Run manifest']
    >>> cell = book["by_group"]["B2"]
    >>> cell.value, cell.number_format
    (10.5, '£#,##0.00')
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
    book = Workbook(write_only=True)
    book.properties.creator = f"allocator {__version__}"
    book.properties.title = _text(data.meta.get("title", "allocator"))
    try:
        _sheets(book, data, manifest)
    except BaseException:
        for ws in book.worksheets:  # finish each sheet's writer now, not when it is collected
            with contextlib.suppress(Exception):
                ws.close()
        raise
    raw = io.BytesIO()
    book.save(raw)
    book.properties.created = book.properties.modified = FIXED_TIME
    return _stable_zip(raw.getvalue(), {"docProps/core.xml": tostring(book.properties.to_tree())})


def _sheets(book: Workbook, data: ReportData, manifest: dict | None) -> None:
    taken: set[str] = set()
    _summary_sheet(book, data, _sheet_name("Summary", taken))
    metrics = data.tables.get("options_metrics")
    if metrics is not None and len(metrics):
        wide = wide_metrics(metrics)
        formats = {c: [_units_format(u) for u in wide["units"]] for c in wide.columns[2:-1]}
        _table_sheets(book, "Measures", wide, taken, formats)
    options = set(data.meta.get("options", []))
    for name in sorted(data.tables, key=_sheet_order):
        frame = data.tables[name]
        _table_sheets(book, name, frame, taken, _formats(name, frame, options))
    if manifest is not None:
        rows = pd.DataFrame(list(_flatten(manifest)), columns=["key", "value"], dtype=object)
        _table_sheets(book, "Run manifest", rows, taken, {})  # General: seconds, counts, versions


# -- cells --------------------------------------------------------------------------------
def _text(value: object) -> str:
    """Text a spreadsheet shows as it is: no control characters, never run as a formula."""
    text = neutralise(ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(value)))
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _missing(value: object) -> bool:
    return (value is None or value is pd.NA or value is pd.NaT
            or isinstance(value, (float, np.floating)) and math.isnan(value))


def _value(value: object):
    """A cell's value: numbers as numbers, NaN and inf as empty, text neutralised."""
    if _missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return _text(value) if value != "" else None


def _column_values(series: pd.Series) -> list:
    """A column's cell values; text columns holding only numbers (scenario inputs) become numbers."""
    kind, values = series.dtype.kind, series.tolist()
    if kind in "biuf" and not series.isna().any() or kind == "f":
        if kind == "f":
            return [v if math.isfinite(v) else None for v in significant(series.to_numpy(float)).tolist()]
        return [bool(v) if kind == "b" else int(v) for v in values]
    # a saved folder's inputs hold '-2.5 for -2.5: neutralised like any text starting with '-'
    texts = [NEUTRALISED_SIGN.sub(r"\1", v.strip()) if isinstance(v, str) else v for v in values]
    present = [v for v in texts if not _missing(v) and v != ""]
    numeric = present and not str(series.name).endswith(("_id", "_code")) and all(
        isinstance(v, str) and NUMERIC.fullmatch(v) and not LEADING_ZERO.match(v) for v in present)
    if not numeric:
        return [_value(v) for v in values]
    cast = int if all(INTEGER.fullmatch(v) for v in present) else float
    return [cast(v) if isinstance(v, str) and v else None for v in texts]


def _sheet_order(name: str) -> tuple:
    """Comparison tables in reading order, then other tables, then the scenario's inputs."""
    known = ORDER.index(name) if name in ORDER else len(ORDER)
    return (name.startswith("input_"), known, name)


def _formats(table: str, frame: pd.DataFrame, options: set[str]) -> dict[str, str | list[str]]:
    """The number format of each column (or, for measures of mixed units, of each row)."""
    formats: dict[str, str | list[str]] = {}
    for column in frame.columns:
        if table in PER_OPTION and (column == "before" or column in options):
            formats[column] = PER_OPTION[table]
        elif column in BY_UNITS.get(table, ()) and "units" in frame:
            formats[column] = [_units_format(u) for u in frame["units"]]
        else:
            formats[column] = number_format(str(column), frame[column].dtype.kind in "iu")
    return formats


def number_format(column: str, integer: bool = False) -> str:
    """The Excel number format for a column, from its name.

    Examples
    --------
    >>> [number_format(c) for c in ("spend_gbp", "budget_gbp", "change_pct", "share_most_deprived_fifth")]
    ['£#,##0.00', '£#,##0', '0.0"%"', '0.0%']
    >>> [number_format(c) for c in ("population", "deprivation_decile", "need_index", "life_expectancy")]
    ['#,##0', '0', '0.0000', '#,##0.00##']
    """
    name = column.lower()
    if name.endswith("_gbp"):
        return GBP_WHOLE if name in WHOLE_POUNDS or name.startswith("total") else GBP
    if name.endswith("_pct"):
        return PCT
    if "share" in name:
        return SHARE
    if name in COUNTS or name.startswith(("pop_", "n_")) or name.endswith(("_count", "_rank")) or "rank_" in name:
        return COUNT
    if name.endswith(LABELS):
        return LABEL
    if "index" in name or name.startswith(INDICES):
        return INDEX
    return COUNT if integer else NUMBER


def _units_format(units: object) -> str:
    """The format of a measure from its units ('GBP', 'GBP per head', 'share', 'years', ...)."""
    text = str(units).lower()
    if text == "gbp":
        return GBP_WHOLE
    if text.startswith("gbp"):
        return GBP
    if text == "share":
        return SHARE
    return COUNT if "people" in text else INDEX


# -- sheets -------------------------------------------------------------------------------
def _sheet_name(name: str, taken: set[str]) -> str:
    """A legal, unique sheet name: at most 31 characters, none of []:*?/\\, not quoted."""
    base = FORBIDDEN.sub("-", ILLEGAL_CHARACTERS_RE.sub("", name)).strip("'").strip() or "Sheet"
    if base.lower() == "history":  # reserved by Excel
        base = "history table"
    candidate, number = base[:31], 1
    while candidate.lower() in taken:
        number += 1
        suffix = f" ({number})"
        candidate = base[:31 - len(suffix)] + suffix
    taken.add(candidate.lower())
    return candidate


def _table_sheets(book: Workbook, name: str, frame: pd.DataFrame, taken: set[str],
                  formats: dict[str, str | list[str]]) -> None:
    """One sheet per table (more when it has more rows than Excel allows on a sheet)."""
    columns = [_column_values(frame[c]) for c in frame.columns]
    headers = [_text(c) for c in frame.columns]
    per_sheet = MAX_ROWS - 1
    for start in range(0, max(len(frame), 1), per_sheet):
        stop = min(start + per_sheet, len(frame))
        ws = book.create_sheet(_sheet_name(name, taken))
        ws.freeze_panes = "A2"
        last = get_column_letter(max(len(headers), 1))
        ws.auto_filter = AutoFilter(ref=f"A1:{last}{stop - start + 1}")
        for j, (header, values) in enumerate(zip(headers, columns), start=1):
            ws.column_dimensions[get_column_letter(j)].width = _width(header, values[start:stop])
        ws.append([_styled(ws, h, font=BOLD) for h in headers])
        column_formats = [formats.get(c) for c in frame.columns]
        for i in range(start, stop):
            ws.append([_styled(ws, values[i], fmt[i] if isinstance(fmt, list) else fmt)
                       for values, fmt in zip(columns, column_formats)])


def _styled(ws, value, number_format: str | None = None, font: Font | None = None,
            alignment: Alignment | None = None):
    """A value, or a write-only cell carrying its style when it needs one."""
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (numeric and number_format or font or alignment):
        return value
    cell = WriteOnlyCell(ws, value)
    if numeric and number_format:
        cell.number_format = number_format
    if font:
        cell.font = font
    if alignment:
        cell.alignment = alignment
    return cell


def _width(header: str, values: list) -> float:
    """A column width that shows the header (and its filter button) and typical values."""
    longest = len(header) + 3
    numbers = [abs(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if numbers:
        longest = max(longest, len(f"{max(numbers):,.2f}") + 3)
    texts = [len(v) for v in values if isinstance(v, str)]
    if texts:
        longest = max(longest, max(texts) + 1)
    if any(isinstance(v, bool) for v in values):
        longest = max(longest, 6)
    return float(min(max(longest, 8), 60))


def _summary_sheet(book: Workbook, data: ReportData, title: str) -> None:
    """Title, scenario labels, options, the best option on each measure, what the rules cost."""
    meta, s = data.meta, data.meta.get("scenario", {})
    ws = book.create_sheet(title)
    for column, width in zip("ABC", (34, 90, 32)):
        ws.column_dimensions[column].width = width

    def heading(*texts: str) -> None:
        ws.append([])
        ws.append([_styled(ws, t, font=BOLD) for t in texts])

    ws.append([_styled(ws, _text(meta.get("title", "allocator")), font=TITLE)])
    ws.append([])
    labels = [("Scenario", s.get("name")), ("Description", s.get("description")),
              ("Data sources", s.get("attribution")), ("Areas", s.get("areas")),
              ("Services", s.get("services")), ("Budget", s.get("budget_gbp")),
              ("Outcome", s.get("outcome_label")), ("Outcome units", s.get("outcome_units")),
              ("Higher outcome is better", s.get("higher_is_better")),
              ("Deprivation groups", s.get("groups")), ("Compared with", s.get("comparator")),
              ("Report", meta.get("kind")), ("allocator version", meta.get("allocator"))]
    formats = {"Areas": COUNT, "Services": COUNT, "Budget": GBP_WHOLE}
    for label, value in labels:
        if value is not None:
            ws.append([_styled(ws, label, font=BOLD),
                       _styled(ws, _value(value), formats.get(label), alignment=WRAP)])
    options = meta.get("options", [])
    if options:
        heading("Option", "Name")
        for number, option in enumerate(options, start=1):
            ws.append([number, _value(option)])
    metrics = data.tables.get("options_metrics")
    if metrics is not None and len(metrics):
        heading("Measure", "Best option", "Units")
        wide = wide_metrics(metrics)
        for measure, units, best in zip(wide["measure"], wide["units"], wide["best"]):
            ws.append([_value(measure), _value(best) or "–", _value(units)])
        ws.append(["– : the options tie, or the measure has no better direction; "
                   "the 'Measures' sheet has the values."])
    explanations = meta.get("explanations") or {}
    if any(explanations.values()):
        heading("Option", "What its rules cost")
        for option, texts in explanations.items():
            for text in texts:
                ws.append([_value(option), _styled(ws, _value(text), alignment=WRAP)])


def _flatten(value, key: str = ""):
    """(dotted key, value) rows of a nested manifest; lists numbered from 0."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _flatten(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, (list, tuple)) and value:
        for i, v in enumerate(value):
            yield from _flatten(v, f"{key}[{i}]")
    else:
        yield key, "(none)" if isinstance(value, (dict, list, tuple)) else value


def _stable_zip(raw: bytes, replace: dict[str, bytes]) -> bytes:
    """The same archive with fixed entry times (and some entries replaced), so bytes repeat."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, replace.get(info.filename, src.read(info)))
    return out.getvalue()
