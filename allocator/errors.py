"""One hierarchy of errors, each a message a person can act on.

The CLI turns `ScenarioError` into exit code 2 and `InfeasibleError` /
`SolverError` into exit code 1, without a traceback.  A violated invariant is
an `InvariantError`: that is a bug in allocator, never the user's fault.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SHOWN = 10


class AllocatorError(Exception):
    """Base class of every error allocator raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what was expected, what was found."""

    file: str
    message: str
    row: int | None = None  # 1-based line in the file (header = 1), or sheet row
    column: str | None = None
    expected: str | None = None
    found: object = None

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row} (data row {self.row - 1})")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = ", ".join(where) + ": "
        if self.expected is not None:
            text += f"expected {self.expected}, got {_show(self.found)}"
            if self.message:
                text += f" ({self.message})"
        else:
            text += self.message
        return text


def _show(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return repr(value) if value != "" else "a blank cell"
    return str(value)


class ScenarioError(AllocatorError):
    """The scenario files are missing, malformed or contradictory (exit code 2)."""

    subject = "the scenario"

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(file="scenario", message=problems)]
        self.problems = list(problems)
        super().__init__(self._text())

    def _text(self) -> str:
        shown = [f"- {p}" for p in self.problems[:MAX_SHOWN]]
        more = len(self.problems) - MAX_SHOWN
        if more > 0:
            shown.append(f"+{more} more")
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in {self.subject}:"
        return "\n".join([head, *shown])


class InfeasibleError(AllocatorError):
    """No allocation satisfies every constraint; the message says which conflict (exit code 1)."""


class SolverError(AllocatorError):
    """The solver failed or stopped before proving optimality (exit code 1)."""


class InvariantError(AllocatorError):
    """A solution broke an invariant of DESIGN.md: a bug in allocator, reported loudly."""
