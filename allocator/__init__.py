"""allocator: split a fixed budget across areas and services, proportionate to need.

The pipeline, one step per module, each returning a frozen object::

    load (scenario) -> build (lp) -> solve (solve) -> allocate/evaluate (evaluate)
        -> gradient (gradient) -> report (report)

`run` does all of it and returns a `Result` whose tables are pandas DataFrames.
"""

from .errors import AllocatorError, InfeasibleError, InvariantError, ScenarioError, SolverError
from .scenario import Scenario, load

__version__ = "0.1.0"

__all__ = ["AllocatorError", "InfeasibleError", "InvariantError", "ScenarioError", "SolverError",
           "Scenario", "load", "__version__"]

from .pipeline import Result, run  # noqa: E402

solve = run  # the API name analysts reach for: allocator.solve(scenario) -> Result
__all__ += ["Result", "run", "solve"]

from .sweeps import sweep  # noqa: E402

__all__ += ["sweep"]
