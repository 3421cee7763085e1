"""Population groups beyond deprivation: ``[disaggregation]``, who lives in each area.

Each dimension (ethnic group, disability, age band, sex where the data has it) names, for each
of its groups, the column of the areas table holding the number of people in that group:

.. code-block:: toml

    [disaggregation]
    "Ethnic group" = { "Asian" = "ethnic_asian", "Black" = "ethnic_black", "White" = "ethnic_white" }
    "Disability" = { "Disabled" = "disabled", "Not disabled" = "not_disabled" }
    "Age" = { "0-15" = "pop_0_15", "16-64" = "pop_16_64", "65 and over" = "pop_65_plus" }

The block is data, never evaluated. Counts are checked cell by cell (numbers >= 0), and each
area's counts in a dimension must add up to its population within `TOLERANCE_SHARE` (or
`TOLERANCE_PEOPLE` people): Census tables differ by a person or two (disclosure control), a
missing group or a wrong column by far more. Each area's counts are then held as shares of its
people (`Dimension.shares`), so that every group estimate adds up to the area's population.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from allocator.errors import Problem, ScenarioError
from allocator.scenario.tables import Checker, Table

SECTION = "disaggregation"
TOLERANCE_SHARE = 0.05  # a dimension's counts may differ from the area's population by this share ...
TOLERANCE_PEOPLE = 10.0  # ... or by this many people, whichever is more
EXAMPLE = '"Disability" = { "Disabled" = "disabled", "Not disabled" = "not_disabled" }'


@dataclass(frozen=True)
class Dimension:
    """One way of dividing the people of every area into groups (ethnic group, disability, age band).

    ``shares[a, g]`` is the share of area ``a``'s people in group ``g``; each row sums to 1.

    Examples
    --------
    >>> d = Dimension.from_counts("Disability", ["Disabled", "Not disabled"], [[20, 80], [30, 70.5]])
    >>> d.shares.round(3).tolist()
    [[0.2, 0.8], [0.299, 0.701]]
    """

    name: str
    groups: tuple[str, ...]
    columns: tuple[str, ...]  # the areas columns holding each group's people ('' if given as numbers)
    shares: np.ndarray = field(repr=False)  # (A, G), rows summing to 1

    @classmethod
    def from_counts(cls, name: str, groups, counts, columns=None) -> Dimension:
        """A dimension from people per area (rows) and group (columns); raises `ScenarioError` for
        fewer than two groups, a shape that does not match, or counts that are not finite and >= 0,
        or an area with nobody in any group."""
        groups = tuple(str(g) for g in groups)
        where = f"population groups '{name}'"
        try:
            counts = np.array(counts, dtype=float)
        except (TypeError, ValueError):
            raise ScenarioError([Problem(where, "expected a table of numbers, one row per area and one "
                                         "column per group")]) from None
        problem = None
        if len(groups) < 2:
            problem = f"expected at least two groups, got {len(groups)}"
        elif counts.ndim != 2 or counts.shape[1] != len(groups):
            problem = f"expected counts of shape (areas, {len(groups)}), got shape {counts.shape}"
        elif not np.all(np.isfinite(counts)) or np.any(counts < 0):
            problem = "expected numbers of people, finite and >= 0"
        elif np.any(counts.sum(axis=1) <= 0):
            problem = f"area number {int(np.flatnonzero(counts.sum(axis=1) <= 0)[0]) + 1} has nobody in any group"
        if problem:
            raise ScenarioError([Problem(where, problem)])
        columns = tuple(columns) if columns is not None else ("",) * len(groups)
        return cls(name, groups, columns, counts / counts.sum(axis=1, keepdims=True))

    def people(self, population: np.ndarray) -> np.ndarray:
        """(A, G) people of each group in each area: the area's ``population`` split by its shares."""
        return self.shares * np.asarray(population, dtype=float)[:, None]


def parse(block: object, shown: str, areas: Table, population: np.ndarray, check: Checker
          ) -> tuple[Dimension, ...]:
    """The ``[disaggregation]`` block of manifest ``shown``, checked against the areas table;
    every problem goes into ``check`` (file, row, column, expected, found)."""
    if block is None:
        return ()
    if not isinstance(block, dict):
        check.add(shown, f"[{SECTION}] must be a table, one line per dimension such as {EXAMPLE}; "
                  f"got {block!r}")
        return ()
    dimensions, numbers = [], {}

    def number(column: str) -> np.ndarray:  # each column checked once, though dimensions share it
        if column not in numbers:
            numbers[column] = check.number(areas, column, minimum=0)
        return numbers[column]

    for name, groups in block.items():
        columns, ok = _groups(name, groups, shown, areas, check)
        counts = np.column_stack([number(c) for c in columns.values()]
                                 or [np.zeros(len(areas.frame))])  # every bad cell reported, even if not ok
        if ok and _adds_up(name, list(columns.values()), counts, population, areas, check):
            dimensions.append(Dimension(str(name), tuple(columns), tuple(columns.values()),
                                        counts / counts.sum(axis=1, keepdims=True)))
    return tuple(dimensions)


def _groups(name: str, groups: object, shown: str, areas: Table, check: Checker) -> tuple[dict[str, str], bool]:
    """``{group: column}`` of one dimension's groups whose columns exist, and whether all is well (if
    not, what is wrong is said in ``check``)."""
    where = f"[{SECTION}] {name!r}"
    if not str(name).strip():
        check.add(shown, f"[{SECTION}]: a dimension needs a name (such as \"Ethnic group\"), got {name!r}")
        return {}, False
    if not isinstance(groups, dict):
        check.add(shown, f"{where}: expected a table of groups, each naming the areas column that holds its "
                  f"people, such as {EXAMPLE.split(' = ', 1)[1]}; got {groups!r}")
        return {}, False
    if len(groups) < 2:
        check.add(shown, f"{where}: expected at least two groups (one group is everyone: there is nothing to "
                  f"compare), got {len(groups)}")
        return {}, False
    ok, seen = True, {}
    for group, column in groups.items():
        if not str(group).strip():
            check.add(shown, f"{where}: a group needs a name, got {group!r}")
            ok = False
        elif not isinstance(column, str) or not column.strip():
            check.add(shown, f"{where} group {group!r}: expected the name of an areas column holding the "
                      f"group's people, got {column!r}")
            ok = False
        elif column in seen:
            check.add(shown, f"{where}: groups {seen[column]!r} and {group!r} both name the column {column!r}: "
                      "each group needs a column of its own")
            ok = False
        elif column not in areas.frame.columns:
            check.add(areas.name, f"missing column '{column}' (named by {where} group {group!r} in {shown}: "
                      "a column of the number of people in the group in each area)")
            ok = False
        else:
            seen[column] = group
    return {str(g): c for c, g in seen.items()}, ok


def _adds_up(name: str, columns: list[str], counts: np.ndarray, population: np.ndarray, areas: Table,
             check: Checker) -> bool:
    """Whether every area's counts add up to its population (bad cells are already reported)."""
    known = np.all(np.isfinite(counts), axis=1) & np.isfinite(population)
    if not known.all():
        return False
    total = counts.sum(axis=1)
    allowed = np.maximum(TOLERANCE_SHARE * population, TOLERANCE_PEOPLE)
    far = np.flatnonzero((np.abs(total - population) > allowed) | (total <= 0))
    column = " + ".join(columns)
    check.cells(areas, column, far, lambda pos: dict(
        message=f"the groups of {name!r} should hold all the area's people: a person or two apart is fine, a "
                "missing group or a wrong column is not",
        expected=f"people adding up to the area's population {population[pos]:,.0f} (within "
                 f"{TOLERANCE_SHARE:.0%} or {TOLERANCE_PEOPLE:,.0f} people)",
        found=float(round(total[pos], 2))))
    return far.size == 0
