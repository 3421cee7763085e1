"""Analysis: what is done with solved models. A run (`pipeline.run` -> `Result`), the
comparison of options (`compare`), waterfalls and the price of each rule (`explain`),
the equity-efficiency frontier (`frontier`), the gradient tables (`gradient`), spend and
health by population group (`disaggregate`: ethnic group, disability, age band), and
sensitivity sweeps with their plan, workers and resumable store (`sweep_plan`,
`sweeps`, `workers`, `store`).
"""

from allocator.analysis.pipeline import Result, run
from allocator.analysis.sweeps import probabilities, summary

__all__ = ["Result", "probabilities", "run", "summary"]
