"""The data rows of the workbook's sheets as XML, and the finished file.

XlsxWriter writes the workbook's frame (`allocator.reports.workbook`); writing almost every cell
of it (270,040 allocation lines for England's LSOAs) through XlsxWriter, a call and an object
per cell, would take most of a minute.  Here each column's cells become XML in one list
comprehension, rows are joined in chunks and streamed into the zip, into each sheet between
its header row and its totals row; each table's range is then widened to hold them.  Text is
neutralised and escaped as Excel escapes it; every zip entry carries a fixed time, so the same
cells give the same bytes.
"""

from __future__ import annotations

import datetime
import io
import math
import re
import zipfile

import numpy as np
from xlsxwriter.utility import xl_col_to_name

from allocator.errors import AllocatorError
from allocator.reports.outputs import neutralise
from allocator.reports.workbook_sheets import BOOL, TEXT, Column, Sheet

MAX_TEXT = 32_767  # Excel's characters per cell
FIXED_TIME = datetime.datetime(2000, 1, 1)  # zip entries' time, and the document's when the run has no date
CHUNK_ROWS = 20_000  # data rows turned into XML at a time
COMPRESSION = 3  # zlib level; England's LSOAs: 1 is 51 MB in 5.8 s, 3 is 47 MB in 5.9 s, 6 is 42 MB in 8.1 s
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # not allowed in XML
ESCAPE = re.compile(r"(_x[0-9A-Fa-f]{4}_)")  # text Excel would read as an escaped character


def cell_text(value: object) -> str:
    """Text a spreadsheet shows as it is: no characters XML forbids, never run as a formula."""
    text = neutralise(ILLEGAL.sub("\ufffd", str(value)))
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def package(frame: bytes, sheets: list[Sheet], styles: dict[str, int]) -> bytes:
    """XlsxWriter's zip with each data sheet's rows put in and its table widened to hold them, every
    entry at a fixed time."""
    rows = {f"xl/worksheets/sheet{k}.xml": sheet for k, sheet in enumerate(sheets, start=2)}
    tables = {f"xl/tables/table{k}.xml": sheet for k, sheet in enumerate(sheets, start=1)}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(frame)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            # ZipFile.open(..., "w") takes no level; Python 3.13 keeps this name for compress_level
            entry._compresslevel = COMPRESSION
            name = info.filename
            if name in tables:
                dst.writestr(entry, _table_xml(src.read(info).decode("utf-8"), tables[name]).encode("utf-8"))
            elif name in rows:
                with dst.open(entry, "w") as stream:
                    for chunk in _sheet_xml(src.read(info).decode("utf-8"), rows[name], styles):
                        stream.write(chunk.encode("utf-8"))
            else:
                dst.writestr(entry, src.read(info))
    return out.getvalue()


def _last(sheet: Sheet, row: int) -> str:
    return f"{xl_col_to_name(len(sheet.columns) - 1)}{row}"


def _once(text: str, old: str, new: str) -> str:
    """``text`` with the first ``old`` replaced; an error if XlsxWriter no longer writes ``old``."""
    if old not in text:
        raise AllocatorError(f"the workbook could not be finished: XlsxWriter wrote no {old!r}")
    return text.replace(old, new, 1)


def _table_xml(frame: str, sheet: Sheet) -> str:
    """The table's XML, its range (and its filter's) widened from the one stand-in row to every row."""
    end = sheet.rows + (2 if sheet.totals else 1)
    frame = _once(frame, f'ref="A1:{_last(sheet, 3 if sheet.totals else 2)}"', f'ref="A1:{_last(sheet, end)}"')
    return _once(frame, f'<autoFilter ref="A1:{_last(sheet, 2)}"', f'<autoFilter ref="A1:{_last(sheet, sheet.rows + 1)}"')


def _sheet_xml(frame: str, sheet: Sheet, styles: dict[str, int]):
    """The sheet's XML in pieces: XlsxWriter's up to its header row, the data rows, then the rest, the
    totals row moved from below the stand-in data row to below the last."""
    cut = frame.index("</row>", frame.index("<sheetData")) + len("</row>")
    yield re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{_last(sheet, sheet.rows + 1 + sheet.totals)}"/>',
                 frame[:cut], count=1)
    letters = [xl_col_to_name(j) for j in range(len(sheet.columns))]
    for a in range(0, sheet.rows, CHUNK_ROWS):
        b = min(a + CHUNK_ROWS, sheet.rows)
        rows = [str(r) for r in range(a + 2, b + 2)]
        cells = [_cells(c, letter, rows, a, b, styles) for c, letter in zip(sheet.columns, letters)]
        yield "".join([f'<row r="{r}">{"".join(row)}</row>' for r, row in zip(rows, zip(*cells))])
    rest = frame[cut:]
    if sheet.totals:
        end = rest.index("</row>") + len("</row>")
        totals = re.sub(r'r="([A-Z]{1,3})3"', rf'r="\g<1>{sheet.rows + 2}"', rest[:end])
        rest = _once(totals, '<row r="3"', f'<row r="{sheet.rows + 2}"') + rest[end:]
    yield rest


def _cells(column: Column, letter: str, rows: list[str], a: int, b: int, styles: dict[str, int]) -> list[str]:
    """The XML of rows ``a:b`` of a column (an empty string for an empty cell), by the fastest path."""
    values, kind = column.values[a:b], column.kind
    if isinstance(kind, str) and values.dtype.kind in "iuf":
        style = styles.get(kind)
        head, tail = f'<c r="{letter}', (f'" s="{style}"><v>' if style is not None else '"><v>')
        if values.dtype.kind != "f":
            return [f"{head}{r}{tail}{v}</v></c>" for r, v in zip(rows, values.tolist())]
        present = np.isfinite(values).tolist()
        return [f"{head}{r}{tail}{v!r}</v></c>" if p else "" for r, v, p in zip(rows, values.tolist(), present)]
    if isinstance(kind, str) and kind == TEXT:
        texts = values.tolist()
        inline = {v: _inline(v) for v in set(texts) if v is not None}
        return [f'<c r="{letter}{r}" t="inlineStr">{inline[v]}</c>' if v is not None else ""
                for r, v in zip(rows, texts)]
    kinds = [kind] * (b - a) if isinstance(kind, str) else kind[a:b].tolist()
    return [_cell(f"{letter}{r}", v, k, styles) for r, v, k in zip(rows, values.tolist(), kinds)]


def _cell(ref: str, value, kind: str, styles: dict[str, int]) -> str:
    """One cell's XML, whatever it holds (columns of mixed values: the manifest, measures)."""
    if value is None or isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, bool) or kind == BOOL:
        return f'<c r="{ref}" t="b"><v>{int(bool(value))}</v></c>'
    if isinstance(value, (int, float)):
        style = styles.get(kind)
        styled = f' s="{style}"' if style is not None else ""
        return f'<c r="{ref}"{styled}><v>{value!r}</v></c>'
    return f'<c r="{ref}" t="inlineStr">{_inline(value)}</c>'


def _inline(value: object) -> str:
    """A text cell's content: neutralised, its _xHHHH_ sequences and carriage returns escaped as Excel does."""
    text = ESCAPE.sub(r"_x005F\1", cell_text(value)).replace("\r", "_x000D_")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<is><t xml:space="preserve">{text}</t></is>'
