"""One hierarchy of errors, each a message a person can act on.

Every error carries the exit code the command line ends with, in one place: its
``exit_code`` class attribute.  1: the scenario could not be solved (`InfeasibleError`:
no allocation meets its rules; `SolverError`: the solver failed or hit its time limit;
`InvariantError`: a solution broke an invariant, a bug in allocator).  2: bad input
(`ScenarioError` and the rest).  The CLI prints ``str(exc)`` and exits with
``exc.exit_code``, never with a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SHOWN = 10


class AllocatorError(Exception):
    """Base class of every error allocator raises on purpose (exit code 2 unless a subclass says 1)."""

    exit_code = 2


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

    exit_code = 2
    subject = "the scenario"

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(file="scenario", message=problems)]
        self.problems = list(problems)
        super().__init__(self._text())

    def _head(self) -> str:
        count = len(self.problems)
        return f"{count} problem{'s' if count != 1 else ''} in {self.subject}:"

    def _text(self) -> str:
        shown = [f"- {p}" for p in self.problems[:MAX_SHOWN]]
        more = len(self.problems) - MAX_SHOWN
        if more > 0:
            shown.append(f"+{more} more")
        return "\n".join([self._head(), *shown])


class OutturnError(ScenarioError):
    """A file of actual spend or observed outcomes (``--actual``) is missing, malformed or does not fit the
    scenario and its plan (exit code 2)."""

    subject = "the outturn"


class SettingsError(ScenarioError):
    """A setting given beside the scenario is wrong: ``--time-limit``, a solver or method (exit code 2)."""

    subject = "the settings"


class InfeasibleError(AllocatorError):
    """No allocation satisfies every constraint; the message says which conflict (exit code 1)."""

    exit_code = 1


class InfeasibleBudgetError(InfeasibleError, ScenarioError):
    """The money checks prove, before any solve, that no allocation meets the rules (exit code 1).

    Floors and locked lines above the budget, caps below a budget that must be spent, a
    pace of change the budget cannot meet: the files are well formed but the scenario has
    no allocation.  Also a `ScenarioError` (it carries ``problems``, each naming the file),
    so code that catches bad input sees it too; its exit code is `InfeasibleError`'s.
    """

    def _head(self) -> str:
        count = len(self.problems)
        return (f"the scenario is well formed, but no allocation meets its rules "
                f"({count} problem{'s' if count != 1 else ''}):")


class SolverError(AllocatorError):
    """The solver failed, or stopped (time limit) before proving optimality (exit code 1).

    A MILP stopped by its time limit sets ``incumbent`` (the best objective found) and
    ``bound`` (the best objective any allocation can reach), in the objective's units.
    """

    exit_code = 1
    incumbent: float | None = None
    bound: float | None = None


class InvariantError(AllocatorError):
    """A solution broke an invariant of DESIGN.md: a bug in allocator, reported loudly (exit code 1)."""

    exit_code = 1
