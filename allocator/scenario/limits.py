"""The limits every input is held to, in one place (the README lists them).

Each is checked before the work it bounds: a file's size before it is read, a
workbook's unzipped size and cell count before a sheet is parsed, a table's rows
while it is parsed. A file over a limit is refused with its name, its size and
the limit, never half read.
"""

from allocator.format import plain

MB = 1_000_000

MAX_TABLE_BYTES = 200 * MB  # a CSV table or an XLSX workbook file, as stored
MAX_TOML_BYTES = 1 * MB  # scenario.toml, a need or response model, a sweep file
MAX_ROWS = 2_000_000  # data rows in one table (CSV file or sheet)
MAX_TABLE_CELLS = 20_000_000  # rows x columns of one CSV table (as text in memory: ~1 GB)
MAX_WORKBOOK_UNZIPPED_BYTES = 250 * MB  # every part of an XLSX workbook, unzipped
MAX_WORKBOOK_CELLS = 2_000_000  # cells in a workbook's sheets (openpyxl reads ~100,000 a second);
#                                 England's 32,844 LSOAs x 20 columns are 660,000. Larger: use CSV
MAX_WORKBOOK_PARTS = 10_000  # files inside an XLSX workbook (a zip archive)
MAX_NUMBER = 1e15  # the largest size of any number read (a budget of £1,000 trillion)
MAX_PROBLEMS_PER_COLUMN = 20  # bad cells listed per column; the rest are counted

LIMITS = {
    "MAX_TABLE_BYTES": MAX_TABLE_BYTES, "MAX_TOML_BYTES": MAX_TOML_BYTES, "MAX_ROWS": MAX_ROWS,
    "MAX_TABLE_CELLS": MAX_TABLE_CELLS, "MAX_WORKBOOK_UNZIPPED_BYTES": MAX_WORKBOOK_UNZIPPED_BYTES,
    "MAX_WORKBOOK_CELLS": MAX_WORKBOOK_CELLS, "MAX_WORKBOOK_PARTS": MAX_WORKBOOK_PARTS,
    "MAX_NUMBER": MAX_NUMBER, "MAX_PROBLEMS_PER_COLUMN": MAX_PROBLEMS_PER_COLUMN,
}


def size(n_bytes: float) -> str:
    """``'3.4 MB'``, ``'812 bytes'``: a file size as a person reads it."""
    if n_bytes < 10_000:
        return f"{plain(n_bytes)} bytes"
    return f"{plain(n_bytes / MB, 3)} MB"
