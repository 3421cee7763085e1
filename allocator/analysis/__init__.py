"""Analysis: what is done with solved models. A run (`pipeline.run` -> `Result`), the
comparison of options (`compare`), waterfalls and the price of each rule (`explain`),
the equity-efficiency frontier (`frontier`), the gradient tables (`gradient`), spend and
health by population group (`disaggregate`: ethnic group, disability, age band), and
sensitivity sweeps with their plan, workers and resumable store (`sweep_plan`,
`sweeps`, `workers`, `store`).
"""

from allocator.analysis.pipeline import Result, run

__all__ = ["Result", "probabilities", "run", "summary"]


def __getattr__(name: str):
    """The sweep's names on first use: a run does not load the sweep machinery (multiprocessing)."""
    if name in ("probabilities", "summary"):
        from allocator.analysis import sweeps

        return getattr(sweeps, name)
    raise AttributeError(f"module 'allocator.analysis' has no attribute {name!r}")
