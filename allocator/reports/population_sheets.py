"""The workbook's sheets of population groups: one per dimension (ethnic group, disability, age band).

Each row is a group (and, in a comparison, an option): its people, before, fair share and allocation
in pounds and per head, the allocation per head against the average, and the outcome and health
gain reaching it (`allocator.analysis.disaggregate`: an area-level estimate). The totals row adds
up the groups: in a dimension they hold everyone once, so the allocation's total is the budget
allocated (filter on an option to see its own). Nothing here writes a file.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"option": ["A", "A"], "dimension": ["Age"] * 2, "group": ["0-15", "16+"],
...                       "population": [20.0, 80.0], "spend_gbp": [300.0, 700.0]})
>>> sheet = population_sheets(ReportData(meta={"kind": "run"}, tables={TABLE: frame}))[0]
>>> sheet.name, [(c.header, c.total) for c in sheet.columns]  # doctest: +NORMALIZE_WHITESPACE
('By age', [('Age', None), ('People (estimated)', 'sum'), ('Allocation (£)', 'sum')])
"""

from __future__ import annotations

import pandas as pd

from allocator.reports.population_section import TABLE
from allocator.reports.results import ReportData
from allocator.reports.workbook_sheets import (
    COUNT,
    INDEX,
    MONEY,
    NUMBER,
    PERCENT,
    RATE,
    SUM,
    TEXT,
    Column,
    Labels,
    Sheet,
    values_of,
)

PEOPLE = "People (estimated)"


def population_sheets(data: ReportData) -> list[Sheet]:
    """One sheet per dimension of the result's population groups (none without ``[disaggregation]``)."""
    frame = data.tables.get(TABLE)
    if frame is None or frame.empty or "dimension" not in frame:
        return []
    labels = Labels.of(data.meta)
    sheets = []
    for dimension in dict.fromkeys(frame["dimension"].astype(str)):
        rows = frame[frame["dimension"].astype(str) == dimension]
        sheets.append(dimension_sheet(dimension, rows, labels))
    return [s for s in sheets if s.rows and s.columns]


def _specs(dimension: str, labels: Labels) -> list[tuple]:
    before = f"{labels.before} (£)"
    return [
        ("option", "Option", TEXT), ("group", dimension or "Group", TEXT), ("column", "Areas column", TEXT),
        ("population", PEOPLE, COUNT, SUM), ("share_of_population", "Share of people (%)", PERCENT, SUM),
        (f"{labels.comparator}_spend_gbp", before, MONEY, SUM),
        ("fair_share_gbp", "Fair share, the target (£)", MONEY, SUM),
        ("spend_gbp", "Allocation (£)", MONEY, SUM), ("share_of_spend", "Share of the allocation (%)", PERCENT, SUM),
        (f"{labels.comparator}_spend_per_head_gbp", f"{labels.before} per head (£)", MONEY, (before, PEOPLE)),
        ("fair_share_per_head_gbp", "Fair share per head (£)", MONEY, ("Fair share, the target (£)", PEOPLE)),
        ("spend_per_head_gbp", "Allocation per head (£)", MONEY, ("Allocation (£)", PEOPLE)),
        ("change_per_head_gbp", "Change per head (£)", MONEY),
        ("spend_per_head_relative_to_average", "Allocation per head against the average (ratio)", INDEX),
        ("outcome_baseline", f"Outcome before ({labels.units})", RATE),
        ("outcome_projected", f"Outcome after ({labels.units})", RATE),
        ("outcome_change", f"Outcome change ({labels.units})", RATE),
        ("health_gain", f"Health gain against before ({labels.units} × people)", NUMBER, SUM),
    ]


def dimension_sheet(dimension: str, frame: pd.DataFrame, labels: Labels) -> Sheet:
    """The groups of one dimension (each option's, in a comparison)."""
    columns = []
    for name, header, kind, *total in _specs(dimension, labels):
        if name not in frame or (name == "option" and not labels.compare):
            continue
        values = values_of(frame[name], kind if kind == TEXT else NUMBER)
        columns.append(Column(header, values, kind, total[0] if total else None))
    frozen = 2 if labels.compare else 1
    return Sheet(f"By {dimension.lower()}" if dimension else "By population group",
                 f"Spend and health by {dimension.lower() or 'population group'}: an area-level estimate "
                 "(everyone in an area receives the area's spend per head). The groups hold everyone once: "
                 "the allocation adds up to the total allocated.", tuple(columns), frozen)
