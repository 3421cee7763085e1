"""Input: everything that is read and checked before anything is solved.

A scenario folder (a TOML manifest and CSV tables, or one XLSX workbook) becomes a
frozen `Scenario` of plain arrays; need and response models are data from `models/`;
`[[option]]` blocks, named parameters and `[[uncertain]]` distributions are parsed
and checked here too, so that every later stage receives only valid settings.
"""

from allocator.scenario.checks import check_budget
from allocator.scenario.loader import load
from allocator.scenario.spec import (
           BUDGET_MODES,
           MANIFEST,
           OBJECTIVES,
           PROPORTIONALITY,
           Gradient,
           Scenario,
)

__all__ = ["BUDGET_MODES", "MANIFEST", "OBJECTIVES", "PROPORTIONALITY", "Gradient", "Scenario", "check_budget",
           "load"]
