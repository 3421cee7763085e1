"""allocator: split a fixed budget across areas and services, proportionate to need.

The pipeline, one subpackage per stage, each returning frozen objects::

    scenario (load, validate) -> model (LP build, solve, evaluate)
        -> analysis (run, compare, explain, frontier, sweeps) -> reports (tables, HTML, XLSX)

with `allocator.measures` (inequality measures) beneath them all and `allocator.cli`
on top. The names an analyst scripts are here: `load`, `solve` (or `run`),
`compare`, `sweep`, returning a `Result` or `Comparison` of pandas DataFrames, and `monitor` (a plan
against what was spent and observed).
They are imported on first use, so that ``import allocator`` (and the command
line's ``--help``) stays fast.
"""

from allocator.errors import (
    AllocatorError,
    InfeasibleError,
    InvariantError,
    ScenarioError,
    SolverError,
)
from allocator.version import __version__

_API = {"Comparison", "Result", "Scenario", "compare", "load", "monitor", "run", "solve", "sweep"}

__all__ = ["AllocatorError", "InfeasibleError", "InvariantError", "ScenarioError", "SolverError",
           "__version__", *sorted(_API)]


def __getattr__(name: str):
    if name in _API:
        from allocator import api

        return getattr(api, name)
    raise AttributeError(f"module 'allocator' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)
