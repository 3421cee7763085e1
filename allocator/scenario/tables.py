"""Read scenario tables (CSV files or XLSX sheets) as text, and check them cell by cell.

Every cell is read as text and converted here, so that a bad cell is reported
with its file, row and column instead of turning silently into NaN.  Problems are
collected, not raised one at a time: the user sees every problem in one pass
(the first few of each column, and how many more).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import Problem, ScenarioError
from allocator.format import plain
from allocator.scenario import files, limits

SHEETS = ("areas", "services", "baseline", "locked")


@dataclass
class Table:
    """A table read as text, with the name to report problems under."""

    name: str  # e.g. 'scenarios/x/areas.csv' or 'scenarios/x/book.xlsx, sheet areas'
    frame: pd.DataFrame
    rows: np.ndarray | None = None  # each data row's row in the file (header = 1); default: 2, 3, ...

    def row(self, position: int) -> int:
        """The row a spreadsheet shows for data row ``position`` (0-based): the header is row 1."""
        return int(position) + 2 if self.rows is None else int(self.rows[int(position)])

    def file_row(self, positions: np.ndarray | list[int]) -> list[int]:
        """Row numbers as a spreadsheet shows them: the header is row 1."""
        return [self.row(p) for p in positions]


@dataclass
class Checker:
    """Collects problems across files before anything is raised."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, file: str, message: str, **where) -> None:
        self.problems.append(Problem(file=file, message=message, **where))

    def extend(self, error: ScenarioError) -> None:
        self.problems.extend(error.problems)

    def cells(self, table: Table, column: str, positions, describe: Callable[[int], dict]) -> None:
        """A problem for each of the first few bad cells of ``column``, after one counting them all
        if there are more (so that the count is among the first problems shown).

        ``describe(position)`` gives the problem's message, expected and found.
        """
        positions = np.asarray(positions, dtype=int)
        shown = limits.MAX_PROBLEMS_PER_COLUMN
        if positions.size > shown:
            self.add(table.name, f"{positions.size:,} rows with a problem in this column: the first {shown} "
                     f"are listed, +{positions.size - shown:,} more", column=column)
        for pos in positions[:shown]:
            self.add(table.name, row=table.row(pos), column=column, **describe(int(pos)))

    def columns(self, table: Table, required: list[str]) -> bool:
        missing = [c for c in required if c not in table.frame.columns]
        for c in missing:
            have = ", ".join(map(str, table.frame.columns)) or "no columns"
            self.add(table.name, f"missing column '{c}' (the file has: {have})")
        return not missing

    def rows(self, table: Table, what: str) -> bool:
        """False (and a problem) if ``table`` has a header but no rows."""
        if len(table.frame):
            return True
        self.add(table.name, f"this table has no rows (only a header): expected {what}")
        return False

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
        Numbers larger than `limits.MAX_NUMBER` in size are bad too (products of them would overflow).
        """
        text = table.frame[column].astype(str).str.strip()
        values = np.array(pd.to_numeric(text.where(text != ""), errors="coerce"), dtype=float)
        is_blank = (text == "").to_numpy()
        if blank is not None:
            values[is_blank] = blank
        bound = ""
        if minimum is not None:
            bound = f" {'>' if strict else '>='} {minimum:g}"
        expected = ("a whole number" if integer else "a number") + bound
        with np.errstate(invalid="ignore"):
            huge = np.isfinite(values) & (np.abs(values) > limits.MAX_NUMBER)
            bad = ~np.isfinite(values) | huge
            if minimum is not None:
                bad |= (values <= minimum) if strict else (values < minimum)
            if integer:
                bad |= np.isfinite(values) & (values != np.round(values))
        if blank is not None:
            bad &= ~is_blank
            huge &= ~is_blank
        size = f", at most {plain(limits.MAX_NUMBER)} in size"
        self.cells(table, column, np.flatnonzero(bad), lambda pos: dict(
            message="", expected=expected + (size if huge[pos] else ""),
            found=str(table.frame[column].iloc[pos])))
        values[bad] = np.nan
        return values

    def unique(self, table: Table, column: str) -> None:
        """Blank and repeated identifiers, in time linear in the rows."""
        text = table.frame[column].astype(str).str.strip()
        self.cells(table, column, np.flatnonzero((text == "").to_numpy()),
                   lambda pos: dict(message="", expected="an identifier", found=""))
        repeated = (text.duplicated(keep="first") & (text != "")).to_numpy()
        if not repeated.any():
            return
        firsts = text[~text.duplicated(keep="first")]
        first = dict(zip(firsts.to_numpy(), firsts.index))
        self.cells(table, column, np.flatnonzero(repeated), lambda pos: dict(
            message=f"duplicate of row {table.row(first[text.iloc[pos]])}",
            expected="a unique identifier", found=text.iloc[pos]))

    def member(self, table: Table, column: str, allowed: set[str], what: str,
               wildcard: bool = False) -> None:
        text = table.frame[column].astype(str).str.strip()
        ok = text.isin(allowed)
        if wildcard:
            ok |= text == "*"
        expected = f"one of the {what}" + (" or '*'" if wildcard else "")
        self.cells(table, column, np.flatnonzero(~ok.to_numpy()), lambda pos: dict(
            message="unknown id", expected=expected, found=text.iloc[pos]))


def read_csv(path: Path, display: str, checker: Checker) -> Table | None:
    """A CSV file as a table of text; a missing, unreadable or oversized file is a problem."""
    try:
        data = files.read_bytes(path, display, limits.MAX_TABLE_BYTES, "MAX_TABLE_BYTES")
        files.check_utf8(data, display)
        return parse_csv(data, display)
    except ScenarioError as exc:
        checker.extend(exc)
        return None


def parse_csv(data: bytes, display: str) -> Table:
    """UTF-8 CSV bytes as a table of text; raises `ScenarioError` for what cannot be a table.

    pandas reads the bytes (a str of them would take up to 4 bytes a letter, twice over).
    """
    def bad(message: str) -> ScenarioError:
        return ScenarioError([Problem(display, message)])

    empty = "the file is empty: expected a header line of column names, then one line per row"
    if not data.removeprefix(files.BOM).strip():
        raise bad(empty)
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise bad(f"holds a NUL character at line {line}: this is not a CSV text file")
    options = dict(header=None, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=True,
                   encoding="utf-8-sig")
    try:
        width = pd.read_csv(io.BytesIO(data), nrows=1, **options).shape[1]  # the header's
        most = min(limits.MAX_ROWS, limits.MAX_TABLE_CELLS // max(width, 1))
        frame = pd.read_csv(io.BytesIO(data), nrows=most + 2, names=range(width), skip_blank_lines=False,
                            **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OverflowError) as exc:
        raise bad(f"cannot be read as CSV: {str(exc).strip()}") from None
    if len(frame) - 1 > most:
        limit = (f"{limits.MAX_ROWS:,} rows (allocator.scenario.limits.MAX_ROWS)"
                 if most == limits.MAX_ROWS else f"{limits.MAX_TABLE_CELLS:,} cells, {most:,} rows "
                 f"of {width} columns (allocator.scenario.limits.MAX_TABLE_CELLS)")
        raise bad(f"too large: more than {most:,} rows; the limit is {limit}")
    frame = frame.fillna("")
    filled = np.flatnonzero(frame.apply(lambda c: c.astype(str).str.strip() != "").any(axis=1).to_numpy())
    if not filled.size:
        raise bad(empty)
    head = int(filled[0])  # blank lines above the header are skipped
    return table_of(display, [_text(v) for v in frame.iloc[head]], frame.iloc[head + 1:],
                    np.arange(head + 1, len(frame)) + 1)


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def table_of(display: str, header: list[str], body: pd.DataFrame, rows: np.ndarray) -> Table:
    """A `Table` from a header and the rows below it: blank rows and nameless columns dropped,
    a repeated column name refused (pandas would rename one 'name.1' and it would be ignored)."""
    names = [str(h).strip() for h in header]
    if not any(names):
        raise ScenarioError([Problem(display, "the first row must be the header (the column names), "
                                     "but it is blank")])
    seen: dict[str, int] = {}
    problems = []
    for k, name in enumerate(names):
        if name and name in seen:
            problems.append(Problem(display, f"column '{name}' appears twice in the header (columns "
                                    f"{seen[name] + 1} and {k + 1}): rename or delete one",
                                    column=name))
        seen.setdefault(name, k)
    if problems:
        raise ScenarioError(problems)
    keep = [k for k, name in enumerate(names) if name]
    body = body.iloc[:, keep].astype(str)
    body.columns = [names[k] for k in keep]
    filled = np.zeros(len(body), dtype=bool)
    for column in body.columns:
        filled |= (body[column].str.strip() != "").to_numpy()
    body = body[filled].reset_index(drop=True)
    return Table(display, body, np.asarray(rows)[filled])
