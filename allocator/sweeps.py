"""Sensitivity sweeps and Monte Carlo: many solves of one scenario, one tidy table.

A sweep is a *plan* of points, each a scenario with some parameters set
(`allocator.parameters`) and optionally one of its ``[[option]]`` blocks:

- a **grid** over named parameters (every combination), or **one at a time**
  (each parameter over its values, the others at their base values: the
  tornado chart);
- **Monte Carlo**: ``samples`` draws of the uncertain inputs (distributions in
  the scenario's ``[[uncertain]]`` blocks, in response models' ``[uncertainty]``
  tables, or given here), with a seed, crossed with the grid and the options.
  Every option is solved on the same draws, so "option A reduces the SII more
  than option B" is a paired comparison.

Points run in chunks of consecutive points that warm-start one another
(`allocator.workers`), in this process, in local worker processes or on Dask.
With an output folder each finished point is saved as it arrives
(`allocator.store`), an interrupted sweep resumes where it stopped, and the
tidy table, summaries and plots are written at the end.

Examples
--------
>>> import allocator
>>> s = allocator.load("scenarios/quickstart")
>>> table = allocator.sweep(s, {"budget": [100e6, 110e6, 120e6]}, workers=1)
>>> table[table.measure == "total_spend"][["budget", "after"]].to_string(index=False)
'   budget       after\\n100000000.0 100000000.0\\n110000000.0 110000000.0\\n120000000.0 120000000.0'
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import parameters, uncertainty, workers as executors
from .errors import AllocatorError, Problem, ScenarioError
from .scenario import Scenario, load

DESIGNS = ("grid", "one-at-a-time")
BASE = "base"  # the scenario as loaded, next to its [[option]] blocks
DEFAULT_SEED = 1
SWEEP_KEYS = {"design", "samples", "seed", "options", "chunk_size"}


class SweepInterrupted(AllocatorError):
    """Ctrl-C (or a signal) stopped the sweep; every finished point is saved."""

    def __init__(self, done: int, total: int, out: Path | None):
        self.done, self.total, self.out = done, total, out
        where = f"; saved in {out}: add --resume to run the other {total - done}" if out else ""
        super().__init__(f"interrupted after {done} of {total} points{where}")


# ------------------------------------------------------------------ the plan


def parse_values(text: str, name: str, where: str = "--vary") -> list[float]:
    """``'30e6:50e6:21'`` (start:stop:count, both ends included), ``'1,2,5'`` or ``'7'``.

    Examples
    --------
    >>> parse_values("1:2:3", "x")
    [1.0, 1.5, 2.0]
    >>> parse_values("0.8, 1, 1.25", "x")
    [0.8, 1.0, 1.25]
    """
    text = str(text).strip()

    def number(part: str) -> float:
        try:
            value = float(part.replace("_", ""))
        except ValueError:
            raise ScenarioError([Problem(where, f"{name!r}: expected a number, got {part.strip()!r}")]) from None
        if not np.isfinite(value):
            raise ScenarioError([Problem(where, f"{name!r}: expected a finite number, got {part!r}")])
        return value

    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise ScenarioError([Problem(where, f"{name!r}: expected start:stop:count, got {text!r}")])
        start, stop = number(parts[0]), number(parts[1])
        count = number(parts[2])
        if count != int(count) or count < 1:
            raise ScenarioError([Problem(where, f"{name!r}: the count in start:stop:count must be a "
                                         f"whole number >= 1, got {parts[2]!r}")])
        return [float(v) for v in np.linspace(start, stop, int(count))]
    return [number(p) for p in text.split(",") if p.strip()]


def parse_vary(items) -> dict[str, list[float]]:
    """``['budget=30e6:50e6:21', 'floor.x=0.1,0.2']`` -> ``{name: values}``."""
    out = {}
    for item in items:
        name, sep, spec = str(item).partition("=")
        if not sep or not name.strip():
            raise ScenarioError([Problem("--vary", f"expected NAME=VALUES (e.g. budget=30e6:50e6:21), "
                                         f"got {item!r}")])
        out[name.strip()] = parse_values(spec, name.strip())
    return out


def read_sweep_file(path: Path) -> dict:
    """A sweep file (TOML): ``[sweep]`` settings, ``[vary]`` values, ``[[uncertain]]`` blocks."""
    import tomllib

    shown = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError([Problem(shown, f"cannot read the sweep file: {exc.strerror}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Problem(shown, f"not valid TOML: {exc}")]) from None
    unknown = sorted(set(data) - {"sweep", "vary", "uncertain"})
    if unknown:
        raise ScenarioError([Problem(shown, f"unknown section [{unknown[0]}] (known: sweep, vary, uncertain)")])
    settings = data.get("sweep", {})
    bad = sorted(set(settings) - SWEEP_KEYS)
    if bad:
        raise ScenarioError([Problem(shown, f"[sweep] unknown key '{bad[0]}' (known: {', '.join(sorted(SWEEP_KEYS))})")])
    vary = {}
    for name, spec in data.get("vary", {}).items():
        if isinstance(spec, dict):
            keys = {"from", "to", "points"}
            if set(spec) != keys:
                raise ScenarioError([Problem(shown, f"[vary] '{name}': expected {{ from = .., to = .., "
                                             f"points = .. }}, got {spec!r}")])
            spec = f"{spec['from']}:{spec['to']}:{spec['points']}"
        elif isinstance(spec, list):
            spec = ",".join(str(v) for v in spec)
        vary[name] = parse_values(str(spec), name, where=shown)
    return {"settings": settings, "vary": vary,
            "uncertain": uncertainty.blocks(data.get("uncertain"), shown), "path": shown}


def model_uncertainty(scenario: Scenario) -> dict[str, uncertainty.Distribution]:
    """Distributions declared by the scenario and its response models, by parameter."""
    out = {}
    for model in scenario.response_models:
        for key, dist in model.uncertainty:
            out[f"response.{model.name}.{key}"] = dist
    out.update(dict(scenario.uncertain))
    return out


def fingerprint(scenario: Scenario) -> str:
    """SHA-256 over the contents of every file the scenario was read from."""
    digests = []
    for name in scenario.inputs:
        try:
            digests.append(hashlib.sha256(Path(name).read_bytes()).hexdigest())
        except OSError:
            digests.append(f"unreadable:{Path(name).name}")
    return hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()


@dataclass(frozen=True)
class Plan:
    """Every point of a sweep, fixed before anything runs (and saved with the results)."""

    grid: dict[str, tuple[float, ...]]
    design: str
    distributions: dict[str, uncertainty.Distribution]
    samples: int
    seed: int | None
    options: tuple[str, ...]
    chunk_size: int
    points: tuple[dict, ...]
    fingerprint: str

    @property
    def parameters(self) -> list[str]:
        """Every varied or drawn parameter: a column of the tidy table."""
        return list(self.grid) + sorted(self.distributions)

    def chunks(self, todo: set[int] | None = None) -> list[list[dict]]:
        """The plan's chunks, keeping only points in ``todo`` (a chunk's gaps split it)."""
        out = []
        for start in range(0, len(self.points), self.chunk_size):
            run: list[dict] = []
            for p in self.points[start:start + self.chunk_size]:
                if todo is None or p["point"] in todo:
                    run.append(p)
                elif run:
                    out.append(run)
                    run = []
            if run:
                out.append(run)
        return out

    def to_json(self) -> dict:
        return {"design": self.design, "grid": {k: list(v) for k, v in self.grid.items()},
                "uncertain": {k: d.describe() for k, d in sorted(self.distributions.items())},
                "samples": self.samples, "seed": self.seed, "options": list(self.options),
                "chunk_size": self.chunk_size, "fingerprint": self.fingerprint,
                "points": [[p["option"], p["draw"], [p["values"][k] for k in self.parameters]]
                           for p in self.points]}


def make_plan(scenario: Scenario, vary: dict | None = None, *, design: str = "grid", samples: int = 0,
              seed: int | None = None, uncertain: dict | None = None, options=None,
              chunk_size: int | None = None) -> Plan:
    """Check the sweep's settings against ``scenario`` and list its points."""
    where = "sweep"
    grid = {}
    for name, values in (vary or {}).items():
        parameters.resolve(scenario, name, where="--vary")
        if isinstance(values, str):
            values = parse_values(values, name)
        values = tuple(float(v) for v in np.atleast_1d(np.asarray(values, dtype=float)))
        if not values:
            raise ScenarioError([Problem("--vary", f"{name!r}: no values")])
        grid[name] = values
    if design not in DESIGNS:
        raise ScenarioError([Problem(where, f"design: expected one of {', '.join(DESIGNS)}, got {design!r}")])
    if not isinstance(samples, (int, np.integer)) or samples < 0:
        raise ScenarioError([Problem(where, f"samples: expected a whole number >= 0, got {samples!r}")])
    distributions = {}
    if samples:
        distributions = model_uncertainty(scenario)
        for name, d in (uncertain or {}).items():
            distributions[name] = d if isinstance(d, uncertainty.Distribution) else uncertainty.parse(d, where, name)
        if not distributions:
            raise ScenarioError([Problem(where, "Monte Carlo needs uncertain inputs: declare [[uncertain]] "
                                         "blocks (parameter = \"...\", distribution = ...) in the scenario "
                                         "or a sweep file, or [uncertainty] in a response model")])
        for name in distributions:
            parameters.resolve(scenario, name, where="[[uncertain]]")
        both = sorted(set(distributions) & set(grid))
        if both:
            raise ScenarioError([Problem(where, f"'{both[0]}' is both varied on a grid and drawn at "
                                         "random: drop one of the two")])
        seed = DEFAULT_SEED if seed is None else int(seed)
    elif uncertain:
        raise ScenarioError([Problem(where, "[[uncertain]] inputs are only drawn with samples > 0 "
                                     "(--samples N)")])
    names = _options(scenario, options)
    grid_points = _grid_points(scenario, grid, design)
    draws = uncertainty.draw(distributions, samples, seed) if samples else {}
    points = []
    for option in names:
        for d in range(max(samples, 1)):
            drawn = {k: float(v[d]) for k, v in draws.items()}
            for g in grid_points:
                points.append({"point": len(points), "option": option, "draw": d if samples else None,
                               "values": {**g, **drawn}})
    size = executors.chunk_plan(len(points), chunk_size)
    return Plan(grid=grid, design=design, distributions=distributions, samples=int(samples),
                seed=seed if samples else None, options=names, chunk_size=size, points=tuple(points),
                fingerprint=fingerprint(scenario))


def _options(scenario: Scenario, options) -> tuple[str, ...]:
    known = [o.name for o in scenario.options]
    if options is None or options is False:
        return (BASE,)
    if options is True or options == "all":
        return (BASE, *known)
    names = [options] if isinstance(options, str) else list(options)
    for name in names:
        if name != BASE and name not in known:
            raise ScenarioError([Problem("--option", f"unknown option {name!r} (the scenario's options: "
                                         f"{', '.join([BASE, *known])})")])
    if len(set(names)) != len(names):
        raise ScenarioError([Problem("--option", "an option is named twice")])
    return tuple(names)


def _grid_points(scenario: Scenario, grid: dict, design: str) -> list[dict]:
    if not grid:
        return [{}]
    if design == "grid":
        return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    base = {}
    for name in grid:
        value = parameters.base_value(scenario, name)
        if not np.isfinite(value):
            raise ScenarioError([Problem("--vary", f"{name!r} has no single base value in the scenario, "
                                         "so it cannot be varied one at a time: use a grid")])
        base[name] = value
    points = [dict(base)]
    for name, values in grid.items():
        for v in values:
            if v != base[name]:
                points.append({**base, name: v})
    return points


# ------------------------------------------------------------------ running


def sweep(scenario: Scenario | str | Path, vary: dict | None = None, *, design: str = "grid",
          samples: int = 0, seed: int | None = None, uncertain: dict | None = None, options=None,
          out: str | Path | None = None, resume: bool = False, workers: int | None = None,
          scheduler=None, progress: bool = False, chunk_size: int | None = None,
          solver: str = "highs", method: str = "auto", time_limit: float | None = None,
          plots: bool = True) -> pd.DataFrame:
    """Solve a scenario at every point of a grid and/or Monte Carlo draw; return a tidy table.

    Parameters
    ----------
    scenario : Scenario or path
    vary : dict, optional
        ``{parameter: values}``, values a list or ``"start:stop:count"``; names as in
        `allocator.parameters` (``budget``, ``floor.<service>``, ``response_scale``, ...).
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
    plan = make_plan(scenario, vary, design=design, samples=samples, seed=seed, uncertain=uncertain,
                     options=options, chunk_size=chunk_size)
    context = executors.Context(scenario=scenario, options={o.name: o for o in scenario.options},
                                solver=solver, method=method, time_limit=time_limit)
    results = run_plan(plan, context, out=out, resume=resume, workers=workers, scheduler=scheduler,
                       progress=progress)
    table = tidy(plan, results)
    if out is not None:
        write_outputs(Path(out), plan, scenario, table, plots=plots)
    return table


def run_plan(plan: Plan, context, *, out=None, resume=False, workers=None, scheduler=None,
             progress=False) -> list[dict]:
    """Run the points of ``plan`` not yet saved; return every point's result."""
    from .store import Store

    workers = executors.default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ScenarioError([Problem("--workers", f"expected a whole number >= 1, got {workers}")])
    executor = ("dask" if scheduler is not None else f"{workers} local processes" if workers > 1
                else "this process")
    store = Store.open(Path(out), plan.to_json(), resume=resume, executor=executor) if out is not None else None
    collected: list[dict] = []
    try:
        done = store.done() if store is not None else set()
        todo = {p["point"] for p in plan.points} - done
        chunks = plan.chunks(todo)
        bar = _progress(len(todo), len(done), progress)
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

        try:
            if not chunks:  # everything was done before: only the tables are (re)written
                pass
            elif scheduler is not None:
                executors.run_dask(context, chunks, on_result, scheduler)
            elif workers > 1 and len(chunks) > 1:
                executors.run_local(context, chunks, on_result, workers)
            else:
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


def _progress(total: int, already: int, show: bool):
    """A callable: bar(n) advances by n points, bar(None) closes."""
    if not show or total == 0:
        return lambda n: None
    import click

    label = f"{total} points" + (f" ({already} already done)" if already else "")
    bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True, show_eta=True)
    bar.__enter__()

    def advance(n):
        if n is None:
            bar.__exit__(None, None, None)
        else:
            bar.update(n)

    return advance


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


def summary(table: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Mean, spread and 90% interval of each measure per option (and grid value).

    ``by`` defaults to the grid parameters (the varied columns that are not drawn).
    """
    ok = table[table["status"] == "ok"]
    if by is None:
        by = [c for c in table.attrs.get("grid", []) if c in table.columns]
    keys = ["option", *by, "measure", "units"]
    groups = ok.groupby(keys, sort=False, dropna=False)
    after = groups["after"]
    out = pd.DataFrame({
        "n": after.count(),
        "mean": after.mean(), "sd": after.std(ddof=1),
        "p05": after.quantile(0.05), "p50": after.median(), "p95": after.quantile(0.95),
        "before": groups["before"].first(), "change_mean": groups["change"].mean(),
    }).reset_index()
    points = table.groupby(["option", *by], sort=False, dropna=False)["point"].nunique().rename("points")
    failed = (table[table["status"] != "ok"].groupby(["option", *by], sort=False, dropna=False)["point"]
              .nunique().rename("failed"))
    out = out.merge(points.reset_index(), on=["option", *by], how="left")
    out = out.merge(failed.reset_index(), on=["option", *by], how="left")
    out["failed"] = out["failed"].fillna(0).astype(int)
    return out


def probabilities(table: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """For every pair of options and measure: how often A's value is below / above B's.

    Pairs are matched on the Monte Carlo draw (the same inputs), so ``p_a_lower`` of
    ``sii_outcome`` is the probability that option A leaves a smaller SII than option B:
    A narrows the gradient more.
    """
    ok = table[(table["status"] == "ok") & table["draw"].notna()]
    if ok.empty or ok["option"].nunique() < 2:
        return pd.DataFrame(columns=["measure", "option_a", "option_b", "draws", "p_a_lower",
                                     "p_a_higher", "p_tied"])
    if by is None:
        by = [c for c in table.attrs.get("grid", []) if c in table.columns]
    wide = ok.pivot_table(index=["measure", *by, "draw"], columns="option", values="after",
                          aggfunc="first", dropna=False)
    rows = []
    names = list(dict.fromkeys(ok["option"]))
    for a, b in itertools.permutations(names, 2):
        both = wide[[a, b]].dropna()
        if both.empty:
            continue
        lower = (both[a] < both[b]).groupby(level=["measure", *by], dropna=False)
        higher = (both[a] > both[b]).groupby(level=["measure", *by], dropna=False)
        frame = pd.DataFrame({"draws": lower.size(), "p_a_lower": lower.mean(), "p_a_higher": higher.mean()})
        frame["p_tied"] = 1.0 - frame["p_a_lower"] - frame["p_a_higher"]
        frame = frame.reset_index()
        frame.insert(1, "option_a", a)
        frame.insert(2, "option_b", b)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def write_outputs(out: Path, plan: Plan, scenario: Scenario, table: pd.DataFrame, *,
                  plots: bool = True) -> list[Path]:
    """sweep.csv / sweep.parquet (tidy), summary.csv, probabilities.csv, plots, sweep.json."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from .report import atomic_write, csv_bytes
    from .store import read

    written = []
    protected = {Path(p).resolve() for p in scenario.inputs}

    def put(name: str, data: bytes) -> None:
        atomic_write(out / name, data, protected)
        written.append(out / name)

    put("sweep.csv", csv_bytes(table))
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), sink)
    put("sweep.parquet", sink.getvalue())
    put("summary.csv", csv_bytes(summary(table)))
    probs = probabilities(table)
    if not probs.empty:
        put("probabilities.csv", csv_bytes(probs))
    stored = read(out)[1] if (out / "sweep.sqlite").exists() else []
    status = table.drop_duplicates("point")["status"].value_counts().to_dict()
    info = {"scenario": scenario.name, "scenario_path": scenario.path, "plan": {
        k: v for k, v in plan.to_json().items() if k != "points"}, "points": len(plan.points),
        "status": status, "parameters": plan.parameters,
        "runs": sorted({r["run"] for r in stored}), "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if plots:
        from .sweep_plots import plot_sweep

        base = None
        if plan.design == "one-at-a-time":
            base = {k: parameters.base_value(scenario, k) for k in plan.grid}
        written += plot_sweep(table, list(plan.grid), out / "plots", base=base)
    put("sweep.json", (json.dumps(info, indent=2, sort_keys=True) + "\n").encode())
    return written
