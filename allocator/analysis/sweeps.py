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
    EACH_RESPONSE,
    MAX_POINTS,
    PER_SERVICE,
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
from allocator.scenario import Scenario, load, parameters

# ------------------------------------------------------------------ running


def run_sweep(scenario: Scenario | str | Path, vary: dict | None = None, *, design: str = "grid",
              samples: int = 0, seed: int | None = None, uncertain: dict | None = None, options=None,
              out: str | Path | None = None, resume: bool = False, workers: int | None = None,
              scheduler=None, progress=None, chunk_size: int | None = None,
              solver: str = "highs", method: str = "auto", time_limit: float | None = None,
              model_uncertainty: bool | str = True) -> tuple[Plan, pd.DataFrame]:
    """Solve every point of the sweep; return its plan and tidy table (see `allocator.sweep`).

    ``progress`` is None or a progress-bar factory, as in `run_plan`.  ``model_uncertainty``:
    True, False or ``"per-service"`` (see `make_plan`).  The table's ``attrs`` say what the
    comparisons need: the scenario's response models, whether a higher outcome is better,
    and the option that stands for ``base`` (`Plan.same_as_base`).
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
    table = tidy(plan, results)
    table.attrs.update(facts(plan, scenario))
    return plan, table


def facts(plan: Plan, scenario: Scenario) -> dict:
    """What a sweep's comparisons need to know of its scenario (kept in ``sweep.json`` too)."""
    return {"design": plan.design, "response_models": sorted({m.name for m in scenario.response_models}),
            "higher_is_better": bool(scenario.gradient.higher_is_better),
            "same_as_base": plan.same_as_base,
            "base_values": {k: float(parameters.base_value(scenario, k)) for k in plan.grid}}


OUTPUTS = ("sweep.sqlite", "sweep.csv", "sweep.parquet", "summary.csv", "probabilities.csv", "differences.csv",
           "best.csv", "sweep.json", "plots")


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
            if len(chunks) > 1:
                context = executors.anchored(context)
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




# ------------------------------------------------------------------ paired comparisons


KEY_MEASURES = ("sii_outcome", "gap_absolute_outcome", "mean_outcome", "total_gain")
NARROWER = ("sii_outcome", "gap_absolute_outcome")  # closer to zero: a narrower social gradient


def direction(measure: str, higher_is_better: bool | None = None) -> str:
    """Which way is better for a measure: ``"zero"`` (a narrower gradient), ``"higher"``,
    ``"lower"``, or ``""`` (no better way: the spend measures, or an outcome of unknown sense).

    >>> direction("sii_outcome"), direction("total_gain"), direction("mean_outcome", False)
    ('zero', 'higher', 'lower')
    >>> direction("mean_outcome"), direction("share_of_spend_most_deprived_fifth")
    ('', '')
    """
    if measure in NARROWER:
        return "zero"
    if measure == "total_gain":
        return "higher"
    if measure == "mean_outcome" and higher_is_better is not None:
        return "higher" if higher_is_better else "lower"
    return ""


def _score(values: pd.DataFrame | pd.Series, way: str):
    """Values turned so that higher is better (NaN: no better way)."""
    if way == "zero":
        return -values.abs()
    if way == "lower":
        return -values
    return values if way == "higher" else values * np.nan


def _paired(table: pd.DataFrame, measures, units: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The ok values of ``measures`` with one column per option, matched on ``units`` and the draw.

    Only rows where every option has a value are kept: each comparison is on the same inputs.
    """
    ok = table[(table["status"] == "ok") & table["measure"].isin(list(measures))]
    names = list(dict.fromkeys(ok["option"]))
    if ok.empty or len(names) < 2:
        return pd.DataFrame(), names
    ok = ok.assign(draw=ok["draw"].astype("float").fillna(-1.0))  # a sweep without draws: one per point
    wide = ok.set_index(["measure", *units, "draw", "option"])["after"].unstack("option")
    return wide[names].dropna(), names


def paired_differences(table: pd.DataFrame, measures=KEY_MEASURES, by: list[str] | None = None,
                       higher_is_better: bool | None = None, rtol: float = TIE_RTOL) -> pd.DataFrame:
    """Option A minus option B on the same draw, for every pair of options and measure.

    Every option is solved on the same draws (and grid values), so A − B on one draw is a
    paired difference: its mean, 5th, 50th and 95th percentiles over the draws, and the
    share of draws where A is better, B is better, or the two are tied (within ``rtol``,
    relative: the solver's tolerance).  Better is `direction`: for an SII or a gap, closer
    to zero; NaN where a measure has no better way.  Pairs are in option order (A first).

    Examples
    --------
    >>> t = pd.DataFrame({"point": range(6), "option": ["A"] * 3 + ["B"] * 3,
    ...                   "draw": [0, 1, 2] * 2, "status": "ok", "measure": "total_gain",
    ...                   "after": [5.0, 7.0, 6.0, 4.0, 8.0, 3.0]})
    >>> d = paired_differences(t, by=[]).iloc[0]
    >>> float(d["mean_difference"]), float(d["p_a_better"]), float(d["p_b_better"])
    (1.0, 0.6666666666666666, 0.3333333333333333)
    """
    columns = ["measure", "option_a", "option_b", "draws", "mean_difference", "p05", "p50", "p95",
               "p_a_better", "p_b_better", "p_tied"]
    by = grid_columns(table) if by is None else list(by)
    higher_is_better = table.attrs.get("higher_is_better") if higher_is_better is None else higher_is_better
    wide, names = _paired(table, measures, list(dict.fromkeys([*grid_columns(table), *by])))
    if wide.empty:
        return pd.DataFrame(columns=["measure", *by, *columns[1:]])
    frames = []
    for measure in dict.fromkeys(wide.index.get_level_values("measure")):
        part = wide.xs(measure, level="measure", drop_level=False)
        way = direction(measure, higher_is_better)
        for a, b in itertools.combinations(names, 2):
            frames.append(_pair(part[a], part[b], way, ["measure", *by], rtol).assign(option_a=a, option_b=b))
    return pd.concat(frames, ignore_index=True)[["measure", *by, *columns[1:]]]


def _pair(x: pd.Series, y: pd.Series, way: str, levels: list[str], rtol: float) -> pd.DataFrame:
    """`paired_differences` of two options' values on one measure."""
    sa, sb = _score(x, way), _score(y, way)
    tied = (sa - sb).abs() <= rtol * np.maximum(x.abs(), y.abs())
    flags = pd.DataFrame({"difference": x - y, "a": (sa > sb) & ~tied, "b": (sb > sa) & ~tied, "tied": tied})
    groups = flags.groupby(level=levels, sort=False, dropna=False)
    difference = groups["difference"]
    frame = pd.DataFrame({
        "draws": groups.size(), "mean_difference": difference.mean(), "p05": difference.quantile(0.05),
        "p50": difference.median(), "p95": difference.quantile(0.95), "p_a_better": groups["a"].mean(),
        "p_b_better": groups["b"].mean(), "p_tied": groups["tied"].mean()})
    if not way:
        frame[["p_a_better", "p_b_better", "p_tied"]] = np.nan
    return frame.reset_index()


def best_shares(table: pd.DataFrame, measures=KEY_MEASURES, by: list[str] | None = None,
                higher_is_better: bool | None = None, rtol: float = TIE_RTOL) -> pd.DataFrame:
    """How often each option is the best on each measure: P(option ranks best).

    Counted over the draws (and over the grid values not in ``by``), on the draws where
    every option solved.  An option tied with the best (within ``rtol``) counts as best, so
    with ties the shares of one measure add up to more than 1.  Measures with no better way
    (`direction`) are left out.

    Examples
    --------
    >>> t = pd.DataFrame({"point": range(6), "option": ["A"] * 3 + ["B"] * 3,
    ...                   "draw": [0, 1, 2] * 2, "status": "ok", "measure": "sii_outcome",
    ...                   "after": [-1.0, -3.0, -2.0, -2.0, -2.0, -2.0]})
    >>> best_shares(t, by=[])[["option", "draws", "p_best"]].to_string(index=False)
    'option  draws   p_best\\n     A      3 0.666667\\n     B      3 0.666667'
    """
    by = grid_columns(table) if by is None else list(by)
    higher_is_better = table.attrs.get("higher_is_better") if higher_is_better is None else higher_is_better
    measures = [m for m in measures if direction(m, higher_is_better)]
    wide, _ = _paired(table, measures, list(dict.fromkeys([*grid_columns(table), *by])))
    columns = ["measure", *by, "option", "draws", "p_best"]
    if wide.empty:
        return pd.DataFrame(columns=columns)
    frames = []
    for measure in measures:
        if measure not in wide.index.get_level_values("measure"):
            continue
        part = wide.xs(measure, level="measure", drop_level=False)
        score = _score(part, direction(measure, higher_is_better))
        tolerance = rtol * part.abs().max(axis=1)
        best = score.ge(score.max(axis=1) - tolerance, axis=0)
        groups = best.groupby(level=["measure", *by], sort=False, dropna=False)
        shares = groups.mean().reset_index().melt(id_vars=["measure", *by], var_name="option",
                                                  value_name="p_best")
        frames.append(shares.merge(groups.size().rename("draws").reset_index(), on=["measure", *by]))
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def drawn_columns(table: pd.DataFrame) -> list[str]:
    """The drawn (Monte Carlo) parameters of a sweep table: from its attrs, or inferred."""
    if "drawn" in table.attrs:
        return [c for c in table.attrs["drawn"] if c in table.columns]
    columns = list(table.columns)
    if "draw" not in columns or "status" not in columns or not table["draw"].notna().any():
        return []
    grid = set(grid_columns(table))
    return [c for c in columns[columns.index("draw") + 1:columns.index("status")] if c not in grid]


def common_factor(table: pd.DataFrame, response_models=None) -> str:
    """Whether every uncertain input of a Monte Carlo sweep moves together.

    ``"scale"``: one common factor scales every response curve in each draw (the inputs
    are response-curve scales, equal in every draw, and cover all of ``response_models``,
    or ``response_scale`` is drawn).  It cannot change which allocation an option chooses,
    so it cannot change how the options rank.  ``"together"``: several inputs rise and fall
    together (the same order over the draws), one source of uncertainty.  ``""`` otherwise.
    """
    drawn = drawn_columns(table)
    if response_models is None:
        response_models = table.attrs.get("response_models")
    points = table.drop_duplicates("point")
    values = points.loc[points["draw"].notna(), drawn].astype(float).dropna()
    if not drawn or len(values) < 2:
        return ""
    scales = all(c == "response_scale" or (c.startswith("response.") and c.endswith(".scale")) for c in drawn)
    covered = "response_scale" in drawn or (response_models is not None and {
        f"response.{m}.scale" for m in response_models} <= set(drawn))
    equal = np.allclose(values.max(axis=1), values.min(axis=1), rtol=1e-12, atol=0)
    if scales and covered and equal:
        return "scale"
    ranks = values.rank(method="average")
    if len(drawn) > 1 and ranks.eq(ranks.iloc[:, 0], axis=0).all().all():
        return "together"
    return ""
