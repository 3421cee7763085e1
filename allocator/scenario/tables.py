"""Read scenario tables (CSV files or XLSX sheets) as text, and check them cell by cell.

Every cell is read as text and converted here, so that a bad cell is reported
with its file, row and column instead of turning silently into NaN.  Problems are
collected, not raised one at a time: the user sees every problem in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import Problem

SHEETS = ("areas", "services", "baseline", "locked")


@dataclass
class Table:
    """A table read as text, with the name to report problems under."""

    name: str  # e.g. 'scenarios/x/areas.csv' or 'scenarios/x/book.xlsx, sheet areas'
    frame: pd.DataFrame

    def file_row(self, positions: np.ndarray | list[int]) -> list[int]:
        """Row numbers as a spreadsheet shows them: the header is row 1."""
        return [int(p) + 2 for p in positions]


@dataclass
class Checker:
    """Collects problems across files before anything is raised."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, file: str, message: str, **where) -> None:
        self.problems.append(Problem(file=file, message=message, **where))

    def columns(self, table: Table, required: list[str]) -> bool:
        missing = [c for c in required if c not in table.frame.columns]
        for c in missing:
            have = ", ".join(map(str, table.frame.columns)) or "no columns"
            self.add(table.name, f"missing column '{c}' (the file has: {have})")
        return not missing

    def number(
        self,
        table: Table,
        column: str,
        *,
        minimum: float | None = None,
        strict: bool = False,
        blank: float | None = None,
        integer: bool = False,
    ) -> np.ndarray:
        """The column as floats; bad cells are reported and come back as NaN.

        ``blank`` is the value of an empty cell; ``None`` means an empty cell is a problem.
        """
        text = table.frame[column].astype(str).str.strip()
        values = np.array(pd.to_numeric(text.where(text != ""), errors="coerce"), dtype=float)
        is_blank = (text == "").to_numpy()
        if blank is not None:
            values[is_blank] = blank
        bound = ""
        if minimum is not None:
            bound = f" {'>' if strict else '>='} {minimum:g}"
        kind = "a whole number" if integer else "a number"
        expected = kind + bound
        bad = ~np.isfinite(values)
        if minimum is not None:
            with np.errstate(invalid="ignore"):
                bad |= (values <= minimum) if strict else (values < minimum)
        if integer:
            with np.errstate(invalid="ignore"):
                bad |= np.isfinite(values) & (values != np.round(values))
        if blank is not None:
            bad &= ~is_blank
        for pos in np.flatnonzero(bad):
            self.add(table.name, "", row=int(pos) + 2, column=column,
                     expected=expected, found=str(table.frame[column].iloc[pos]))
        values[bad] = np.nan
        return values

    def unique(self, table: Table, column: str) -> None:
        text = table.frame[column].astype(str).str.strip()
        for pos in np.flatnonzero(text == ""):
            self.add(table.name, "", row=int(pos) + 2, column=column,
                     expected="an identifier", found="")
        dup = text.duplicated(keep="first") & (text != "")
        for pos in np.flatnonzero(dup.to_numpy()):
            first = int(np.flatnonzero((text == text.iloc[pos]).to_numpy())[0]) + 2
            self.add(table.name, f"duplicate of row {first}", row=int(pos) + 2,
                     column=column, expected="a unique identifier", found=text.iloc[pos])

    def member(self, table: Table, column: str, allowed: set[str], what: str,
               wildcard: bool = False) -> None:
        text = table.frame[column].astype(str).str.strip()
        ok = text.isin(allowed)
        if wildcard:
            ok |= text == "*"
        for pos in np.flatnonzero(~ok.to_numpy()):
            expected = f"one of the {what}" + (" or '*'" if wildcard else "")
            self.add(table.name, "unknown id", row=int(pos) + 2, column=column,
                     expected=expected, found=text.iloc[pos])


def read_csv(path: Path, display: str, checker: Checker) -> Table | None:
    """A CSV file as a table of text; a missing or unreadable file is a problem."""
    if not path.is_file():
        checker.add(display, "file not found")
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False,
                            skipinitialspace=True, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        checker.add(display, f"cannot be read as CSV: {str(exc).strip()}")
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    return Table(display, frame)


def read_workbook(path: Path, display: str, checker: Checker) -> dict[str, Table]:
    """Every known sheet of an XLSX workbook, as tables of text."""
    if not path.is_file():
        checker.add(display, "file not found")
        return {}
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False,
                               na_filter=False, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a bad workbook
        checker.add(display, f"cannot be read as an XLSX workbook: {exc}")
        return {}
    tables = {}
    for name, frame in sheets.items():
        key = str(name).strip().lower()
        if key in SHEETS:
            frame.columns = [str(c).strip() for c in frame.columns]
            tables[key] = Table(f"{display}, sheet {name}", frame.astype(str))
    return tables
