"""Sensitivity sweeps and Monte Carlo: many solves of one scenario, one tidy table.

The points of a plan (`allocator.analysis.sweep_plan`) run in chunks of consecutive
points that warm-start one another (`allocator.analysis.workers`), in this process,
in local worker processes or on Dask. With an output folder each finished point is
saved as it arrives (`allocator.analysis.store`) and an interrupted sweep resumes
where it stopped; `allocator.sweep` then writes the tables and plots
(`allocator.reports.sweep`).

Examples
--------
>>> import allocator
>>> s = allocator.load("scenarios/quickstart")
>>> table = allocator.sweep(s, {"budget": [100e6, 110e6, 120e6]}, workers=1)
>>> table[table.measure == "total_spend"][["budget", "after"]].to_string(index=False)
'   budget       after\\n100000000.0 100000000.0\\n110000000.0 110000000.0\\n120000000.0 120000000.0'
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.analysis import workers as executors
from allocator.analysis.sweep_plan import (  # noqa: F401  (the sweep API in one place)
    BASE,
    DEFAULT_SEED,
    DESIGNS,
    MAX_POINTS,
    Plan,
    SweepError,
    SweepInterrupted,
    _bad,
    declared_uncertainty,
    fingerprint,
    make_plan,
    parse_values,
    parse_vary,
    read_sweep_file,
)
from allocator.scenario import Scenario, load

# ------------------------------------------------------------------ running


def run_sweep(scenario: Scenario | str | Path, vary: dict | None = None, *, design: str = "grid",
              samples: int = 0, seed: int | None = None, uncertain: dict | None = None, options=None,
              out: str | Path | None = None, resume: bool = False, workers: int | None = None,
              scheduler=None, progress=None, chunk_size: int | None = None,
              solver: str = "highs", method: str = "auto", time_limit: float | None = None,
              model_uncertainty: bool = True) -> tuple[Plan, pd.DataFrame]:
    """Solve every point of the sweep; return its plan and tidy table (see `allocator.sweep`).

    ``progress`` is None or a progress-bar factory, as in `run_plan`.
    """
    if not isinstance(scenario, Scenario):
        scenario = load(scenario)
    if time_limit is not None and not (np.isfinite(time_limit) and time_limit > 0):
        raise _bad("--time-limit", f"expected a number of seconds > 0, got {time_limit!r}")
    plan = make_plan(scenario, vary, design=design, samples=samples, seed=seed, uncertain=uncertain,
                     options=options, chunk_size=chunk_size, model_uncertainty=model_uncertainty,
                     solver={"solver": solver, "method": method, "time_limit": time_limit})
    if out is not None:
        _check_out(Path(out), scenario)
    context = executors.Context(scenario=scenario, options={o.name: o for o in scenario.options},
                                solver=solver, method=method, time_limit=time_limit)
    results = run_plan(plan, context, out=out, resume=resume, workers=workers, scheduler=scheduler,
                       progress=progress)
    return plan, tidy(plan, results)


OUTPUTS = ("sweep.sqlite", "sweep.csv", "sweep.parquet", "summary.csv", "probabilities.csv", "sweep.json",
           "plots")


def _check_out(out: Path, scenario: Scenario) -> None:
    """Refuse, before any solve, an output folder whose outputs would overwrite an input."""
    from allocator.analysis.store import StoreError

    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                raise StoreError(f"--out {out}: {folder} is a file: give a folder (it is created if missing)")
            break
    inputs = {Path(p).resolve() for p in scenario.inputs}
    for name in OUTPUTS:
        if (out / name).exists() and (out / name).is_dir() != (name == "plots"):
            raise StoreError(f"{out / name} is in the way of the sweep's "
                             f"{'plots folder' if name == 'plots' else 'file'}: choose another --out")
        target = (out / name).resolve()
        if target in inputs or any(target in i.parents for i in inputs):
            raise StoreError(f"{out / name} is an input of the scenario: choose another --out")


def run_plan(plan: Plan, context, *, out=None, resume=False, workers=None, scheduler=None,
             progress=False) -> list[dict]:
    """Run the points of ``plan`` not yet saved; return every point's result.

    ``progress``, if given, is called as ``progress(to_do, already_done)`` and returns a
    callable ``bar(n)`` that is told of every ``n`` points finished and ``bar(None)`` at the end.
    """
    from allocator.analysis.store import Store

    workers = executors.default_workers() if workers is None else int(workers)
    if workers < 1:
        raise _bad("--workers", f"expected a whole number >= 1, got {workers}")
    executor = ("dask" if scheduler is not None else f"{workers} local processes" if workers > 1
                else "this process")
    store = Store.open(Path(out), plan.to_json(), resume=resume, executor=executor) if out is not None else None
    collected: list[dict] = []
    try:
        done = store.done() if store is not None else set()
        todo = {p["point"] for p in plan.points} - done
        chunks = plan.chunks(todo)
        bar = (progress or _no_progress)(len(todo), len(done)) if todo else _no_progress(0, 0)
        finished = [0]

        def on_result(batch: list[dict]) -> None:
            if not batch:
                return
            if store is not None:
                store.add(batch)
            else:
                collected.extend(batch)
            finished[0] += len(batch)
            bar(len(batch))

        try:  # no chunks: everything was done before, only the tables are (re)written
            if chunks and scheduler is not None:
                executors.run_dask(context, chunks, on_result, scheduler)
            elif chunks and workers > 1 and len(chunks) > 1:
                executors.run_local(context, chunks, on_result, workers)
            elif chunks:
                executors.run_serial(context, chunks, on_result)
        except KeyboardInterrupt:
            raise SweepInterrupted(len(done) + finished[0], len(plan.points), out) from None
        finally:
            bar(None)
        if store is not None:
            store.finish()
            return store.results()
        return sorted(collected, key=lambda r: r["point"])
    finally:
        if store is not None:
            store.close()


def _no_progress(total: int, already: int):
    return lambda n: None


# ------------------------------------------------------------------ tables


COLUMNS = ["status", "reason", "measure", "units", "before", "after", "change", "seconds"]


def tidy(plan: Plan, results: list[dict]) -> pd.DataFrame:
    """One row per point x measure, every varied value as a column (point order)."""
    by_id = {p["point"]: p for p in plan.points}
    names = plan.parameters
    rows = []
    for r in results:
        p = by_id[r["point"]]
        key = [r["point"], p["option"], p["draw"]] + [p["values"].get(k, np.nan) for k in names]
        if r["status"] != "ok" or not r["measures"]:
            rows.append(key + [r["status"], r["reason"], "", "", np.nan, np.nan, np.nan, r["seconds"]])
            continue
        for measure, units, before, after, change in r["measures"]:
            rows.append(key + ["ok", "", measure, units, _num(before), _num(after), _num(change), r["seconds"]])
    frame = pd.DataFrame(rows, columns=["point", "option", "draw", *names, *COLUMNS])
    frame["point"] = frame["point"].astype("int64")
    frame["draw"] = frame["draw"].astype("Int64")
    for name in names:
        frame[name] = frame[name].astype(float)
    frame.attrs["parameters"] = names
    frame.attrs["grid"] = list(plan.grid)
    frame.attrs["drawn"] = sorted(plan.distributions)
    return frame


def _num(value) -> float:
    return float("nan") if value is None else float(value)


TIE_RTOL = 1e-6  # two options' values closer than this (relative) are tied: solver tolerance


def grid_columns(table: pd.DataFrame) -> list[str]:
    """The grid parameters of a sweep table: from its attrs, or inferred (a table read from CSV).

    Parameter columns sit between ``draw`` and ``status``; a drawn one is constant within
    each draw and varies across draws, a grid one varies within a draw (or never).
    """
    if "grid" in table.attrs:
        return [c for c in table.attrs["grid"] if c in table.columns]
    columns = list(table.columns)
    if "draw" not in columns or "status" not in columns:
        return []
    params = columns[columns.index("draw") + 1:columns.index("status")]
    draws = table["draw"].notna()
    if not draws.any():
        return params
    inside = table[draws].groupby("draw")[params].nunique().max() if params else pd.Series(dtype=int)
    return [c for c in params if inside.get(c, 1) > 1 or table[c].nunique() <= 1]


def summary(table: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Mean, spread and 90% interval of each measure per option and grid value.

    ``by`` defaults to the grid parameters (`grid_columns`).  Each row also counts the
    group's points and failed points; a group where every point failed has one row with
    an empty measure, so it is not lost from the summary.
    """
    if by is None:
        by = grid_columns(table)
    group = ["option", *by]
    ok = table[table["status"] == "ok"]
    groups = ok.groupby([*group, "measure", "units"], sort=False, dropna=False)
    after = groups["after"]
    out = pd.DataFrame({
        "n": after.count(),
        "mean": after.mean(), "sd": after.std(ddof=1),
        "p05": after.quantile(0.05), "p50": after.median(), "p95": after.quantile(0.95),
        "before": groups["before"].first(), "change_mean": groups["change"].mean(),
    }).reset_index()
    marked = table.assign(_failed=table["point"].where(table["status"] != "ok"))
    counts = marked.groupby(group, sort=False, dropna=False).agg(
        points=("point", "nunique"), failed=("_failed", "nunique")).reset_index()
    out = counts.merge(out, on=group, how="left")
    out["measure"] = out["measure"].fillna("")
    out["units"] = out["units"].fillna("")
    out["n"] = out["n"].fillna(0).astype(int)
    first = ["option", *by, "measure", "units", "n", "mean", "sd", "p05", "p50", "p95", "before",
             "change_mean", "points", "failed"]
    return out[first]


def probabilities(table: pd.DataFrame, by: list[str] | None = None, rtol: float = TIE_RTOL) -> pd.DataFrame:
    """For every pair of options and measure: how often A's value is below / above B's.

    Pairs are matched on the Monte Carlo draw (the same inputs) and the grid values.
    Values within ``rtol`` (relative) of each other are tied: two optima differ by the
    solver's tolerance, not by anything an option does.  ``p_a_lower`` / ``p_a_higher``
    compare the values; ``p_a_closer_to_zero`` compares their size, which is what
    "narrows the gradient" means for an SII, a gap or a concentration index whatever
    its sign (PHE's SII is negative where the outcome is worse in less deprived areas).
    """
    columns = ["measure", "option_a", "option_b", "draws", "p_a_lower", "p_a_higher", "p_tied",
               "p_a_closer_to_zero", "p_a_further_from_zero"]
    ok = table[(table["status"] == "ok") & table["draw"].notna()]
    if ok.empty or ok["option"].nunique() < 2:
        return pd.DataFrame(columns=columns)
    if by is None:
        by = grid_columns(table)
    # unstack refuses duplicate keys: a table whose grid columns are unknown fails loudly
    wide = ok.set_index(["measure", *by, "draw", "option"])["after"].unstack("option")
    rows = []
    names = list(dict.fromkeys(ok["option"]))
    for a, b in itertools.permutations(names, 2):
        both = wide[[a, b]].dropna()
        if both.empty:
            continue
        x, y = both[a], both[b]
        tied = (x - y).abs() <= rtol * np.maximum(x.abs(), y.abs())
        size_tied = (x.abs() - y.abs()).abs() <= rtol * np.maximum(x.abs(), y.abs())
        levels = ["measure", *by]
        frame = pd.DataFrame({
            "draws": tied.groupby(level=levels, dropna=False).size(),
            "p_a_lower": ((x < y) & ~tied).groupby(level=levels, dropna=False).mean(),
            "p_a_higher": ((x > y) & ~tied).groupby(level=levels, dropna=False).mean(),
            "p_tied": tied.groupby(level=levels, dropna=False).mean(),
            "p_a_closer_to_zero": ((x.abs() < y.abs()) & ~size_tied).groupby(level=levels, dropna=False).mean(),
            "p_a_further_from_zero": ((x.abs() > y.abs()) & ~size_tied).groupby(level=levels,
                                                                                dropna=False).mean()})
        frame = frame.reset_index()
        frame.insert(1, "option_a", a)
        frame.insert(2, "option_b", b)
        rows.append(frame)
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.concat(rows, ignore_index=True)
    return out[["measure", *by, *columns[1:]]]


