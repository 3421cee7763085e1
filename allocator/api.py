"""The Python API: the few calls an analyst scripts, each composing the stages below.

``allocator.load`` reads a scenario, ``allocator.solve`` (or ``run``) solves it,
``allocator.compare`` solves its options side by side and ``allocator.sweep`` solves
it at many points; each returns pandas DataFrames (through `Result` and
`Comparison`). These are re-exported by ``allocator`` itself, lazily, so that
``import allocator`` stays cheap.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd  # noqa: F401  (the return type of sweep)

from allocator.analysis.compare import Comparison, options_from
from allocator.analysis.compare import compare as compare_options
from allocator.analysis.pipeline import Result, run
from allocator.analysis.sweeps import run_sweep
from allocator.model.solver import check_settings
from allocator.scenario import Scenario, load

solve = run  # the name analysts reach for: allocator.solve(scenario) -> Result

__all__ = ["Comparison", "Result", "Scenario", "compare", "load", "monitor", "run", "solve", "sweep"]


def compare(*scenarios: Scenario | str | Path, solver: str = "highs", method: str = "auto",
            explain: bool = True, time_limit: float | None = None, keep_going: bool = False) -> Comparison:
    """Solve the options of one or more scenarios and compare them side by side.

    One scenario: its ``[[option]]`` blocks (or the scenario itself if it has none);
    several: the options of each.  ``explain`` adds the waterfall of each option and
    the price of each rule (one more solve per rule).  ``time_limit``: seconds for each
    option's solving, and again for its waterfall and prices.  An option that cannot be
    solved raises `InfeasibleError` or `SolverError` naming it; with ``keep_going`` it is
    left out and listed in ``not_solved`` (option, error) instead.

    Returns
    -------
    Comparison
        ``names``, ``results`` (one `Result` per option) and ``tables`` (DataFrames:
        ``options_metrics``, ``spend_by_group``, ``winners_losers``, ... and, for a scenario
        with ``[disaggregation]``, ``options_spend_by_population_group``).

    Examples
    --------
    >>> import allocator
    >>> c = allocator.compare("scenarios/quickstart", explain=False)
    >>> c.names
    ('Health gain', 'Fair share', 'Health gain, steeper need slope')
    >>> c.tables["options_metrics"].columns[:3].tolist()
    ['measure', 'units', 'option']
    """
    if not scenarios:
        raise TypeError("compare() needs at least one scenario (a Scenario or a folder)")
    loaded = [s if isinstance(s, Scenario) else load(s) for s in scenarios]
    return compare_options(options_from(loaded), solver=solver, method=method, waterfall=explain,
                           prices=explain, time_limit=check_settings(time_limit=time_limit), keep_going=keep_going)


def sweep(scenario: Scenario | str | Path, vary: dict | None = None, *, design: str = "grid",
          samples: int = 0, seed: int | None = None, uncertain: dict | None = None, options=None,
          out: str | Path | None = None, resume: bool = False, workers: int | None = None,
          scheduler=None, progress: bool = False, chunk_size: int | None = None,
          solver: str = "highs", method: str = "auto", time_limit: float | None = None,
          plots: bool = True, model_uncertainty: bool = True) -> pd.DataFrame:
    """Solve a scenario at every point of a grid and/or Monte Carlo draw; return a tidy table.

    Parameters
    ----------
    scenario : Scenario or path
    vary : dict, optional
        ``{parameter: values}``, values a list or ``"start:stop:count"``; names as in
        `allocator.scenario.parameters` (``budget``, ``floor.<service>``, ``response_scale``, ...).
    design : {"grid", "one-at-a-time"}
        Every combination, or each parameter alone with the others at base values.
    samples : int
        Monte Carlo draws of the uncertain inputs (0: none).
    seed : int, optional
        Seed of the draws (default 1): the same seed gives the same draws anywhere.
    uncertain : dict, optional
        Extra ``{parameter: distribution table or Distribution}`` for the draws.
    options : None, True, str or list of str
        Also solve the scenario's ``[[option]]`` blocks: True for all of them
        (plus ``"base"``, the scenario as loaded), or their names.
    out : path, optional
        Folder to save points as they finish and write the tables and plots into.
    resume : bool
        Continue the sweep saved in ``out``, running only the missing points.
    workers : int, optional
        Local worker processes (default: the machine's cores; 1 runs in this process).
        They are new Python processes: in a script, call `sweep` under
        ``if __name__ == "__main__":``.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``tcp://host:8786``) or client: run the chunks there.
    progress : bool
        Show a progress bar on stderr.
    model_uncertainty : bool
        Draw the effect sizes declared in the response models' ``[uncertainty]``
        tables (default); False draws only the scenario's and ``uncertain``'s inputs.

    Returns
    -------
    pandas.DataFrame
        One row per point x measure: ``point``, ``option``, ``draw``, one column per
        varied parameter, ``status``, ``reason``, ``measure``, ``units``, ``before``,
        ``after``, ``change``, ``seconds``.  A failed point (infeasible, invalid,
        solver error) has one row with its reason and no measure.

    Examples
    --------
    >>> import allocator
    >>> s = allocator.load("scenarios/quickstart")
    >>> t = allocator.sweep(s, {"budget": "90e6:110e6:3"}, workers=1)
    >>> t.budget.unique().tolist()
    [90000000.0, 100000000.0, 110000000.0]
    >>> bool((t.status == "ok").all())
    True
    """
    if not isinstance(scenario, Scenario):
        scenario = load(scenario)
    from allocator.analysis.pipeline import one_year

    one_year(scenario)  # a plan of several years: refused before any point is solved
    plan, table = run_sweep(scenario, vary, design=design, samples=samples, seed=seed, uncertain=uncertain,
                            options=options, out=out, resume=resume, workers=workers, scheduler=scheduler,
                            progress=_stderr_bar if progress else None, chunk_size=chunk_size, solver=solver,
                            method=method, time_limit=time_limit, model_uncertainty=model_uncertainty)
    if out is not None:
        from allocator.reports.sweep import (
            write_outputs,  # matplotlib only when there is a folder to fill
        )

        write_outputs(Path(out), plan, scenario, table, plots=plots)
    return table


def monitor(plan, actual, **thresholds):
    """Set what was actually spent (and the outcomes observed) against a plan.

    Parameters
    ----------
    plan : Scenario, path, Result or PlanResult
        A scenario (solved here as `allocator run` solves it: a plan or funding streams as one
        LP), or an allocation already solved.
    actual : path or list of paths
        Files of actual spend and/or observed outcomes, CSV or XLSX
        (`allocator.scenario.outturn`).
    **thresholds
        Keys of the scenario's ``[monitor]`` block to override (``variance_red=0.15``,
        ``missing="zero"``, ...: `allocator.scenario.monitor_settings.THRESHOLDS`).

    Returns
    -------
    allocator.analysis.monitor.Monitoring
        Tidy tables: ``totals``, ``lines``, ``by_area``, ``by_service``, ``by_group``,
        ``by_stream``, ``rules``, ``breaches``, ``measures``, ``trend``, ``trend_by_group`` and,
        with ``[disaggregation]``, ``by_population_group``. Its report:
        `allocator.reports.monitor_html.render_monitor_html` and
        `allocator.reports.monitor_workbook.monitor_workbook_bytes`.

    Examples
    --------
    >>> import allocator
    >>> m = allocator.monitor("scenarios/england-la", "scenarios/england-la/outturn.csv")
    >>> m.by_service.loc[m.by_service["rag"] == "red", "service_id"].tolist()
    ['school_nursing']
    """
    from allocator.analysis.monitor import monitor as monitor_plan
    from allocator.scenario import monitor_settings, outturn

    if isinstance(plan, (str, Path, Scenario)):
        scenario = plan if isinstance(plan, Scenario) else load(plan)
        if scenario.plan is not None or scenario.streams:
            from allocator.analysis.plan import run_plan

            plan = run_plan(scenario)
        else:
            plan = run(scenario)
    settings = monitor_settings.settings(plan.scenario, thresholds, where="allocator.monitor")
    files = [actual] if isinstance(actual, (str, Path)) else list(actual)
    return monitor_plan(plan, outturn.read(files, plan.scenario, settings), settings)


def _stderr_bar(total: int, already: int):
    """A plain progress line on stderr (for notebooks and scripts; the CLI draws its own)."""
    started, done = time.monotonic(), [0]
    label = f"{total} points" + (f" ({already} already done)" if already else "")

    def bar(n: int | None) -> None:
        if n is None:
            sys.stderr.write("\n")
            return
        done[0] += n
        rate = done[0] / max(time.monotonic() - started, 1e-9)
        eta = (total - done[0]) / rate if rate > 0 else 0.0
        sys.stderr.write(f"\r{label}: {done[0]}/{total} ({done[0] / total:.0%}), about {eta:.0f} s left ")
        sys.stderr.flush()

    return bar
