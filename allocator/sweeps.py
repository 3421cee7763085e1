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

import dataclasses
import hashlib
import itertools
import json
import math
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
SWEEP_KEYS = {"design", "samples", "seed", "options", "chunk_size", "model_uncertainty"}
MAX_POINTS = 2_000_000  # a plan is listed in memory and saved with the results


class SweepError(ScenarioError):
    """The sweep's own settings (--vary, a sweep file, options, seed) are wrong (exit code 2)."""

    subject = "the sweep's settings"


def _bad(where: str, text: str) -> SweepError:
    return SweepError([Problem(where, text)])


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
    >>> parse_values("0.03, none", "cap.x")  # a cap of 'none': no cap
    [0.03, inf]
    """
    text = str(text).strip()
    uncapped = parameters.split(name)[0] == "cap"

    def number(part: str, listed: bool = False) -> float:
        if listed and uncapped and part.strip().lower() in ("none", "inf"):
            return float("inf")
        try:
            value = float(part.replace("_", ""))
        except ValueError:
            raise _bad(where, f"{name!r}: expected a number, got {part.strip()!r}") from None
        if not np.isfinite(value):
            raise _bad(where, f"{name!r}: expected a finite number, got {part!r}"
                       + (" (a cap of 'none' is no cap)" if uncapped else ""))
        return value

    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise _bad(where, f"{name!r}: expected start:stop:count, got {text!r}")
        start, stop = number(parts[0]), number(parts[1])
        count = number(parts[2])
        if count != int(count) or not 1 <= count <= MAX_POINTS:
            raise _bad(where, f"{name!r}: the count in start:stop:count must be a whole number from 1 "
                       f"to {MAX_POINTS:,}, got {parts[2]!r}")
        return [float(v) for v in np.linspace(start, stop, int(count))]
    return [number(p, listed=True) for p in text.split(",") if p.strip()]


def parse_vary(items) -> dict[str, list[float]]:
    """``['budget=30e6:50e6:21', 'floor.x=0.1,0.2']`` -> ``{name: values}``."""
    out = {}
    for item in items:
        name, sep, spec = str(item).partition("=")
        if not sep or not name.strip():
            raise _bad("--vary", f"expected NAME=VALUES (e.g. budget=30e6:50e6:21), got {item!r}")
        if name.strip() in out:
            raise _bad("--vary", f"{name.strip()!r} is given twice: give all its values at once "
                       "(a,b,c or start:stop:count)")
        out[name.strip()] = parse_values(spec, name.strip())
    return out


def read_sweep_file(path: Path) -> dict:
    """A sweep file (TOML): ``[sweep]`` settings, ``[vary]`` values, ``[[uncertain]]`` blocks."""
    import tomllib

    shown = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise _bad(shown, f"cannot read the sweep file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise _bad(shown, f"not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"sweep", "vary", "uncertain"})
    if unknown:
        raise _bad(shown, f"unknown section [{unknown[0]}] (known: sweep, vary, uncertain)")
    for section in ("sweep", "vary"):
        if not isinstance(data.get(section, {}), dict):
            raise _bad(shown, f"'{section}' must be a table: write [{section}]")
    settings = data.get("sweep", {})
    bad = sorted(set(settings) - SWEEP_KEYS)
    if bad:
        raise _bad(shown, f"[sweep] unknown key '{bad[0]}' (known: {', '.join(sorted(SWEEP_KEYS))})")
    checks = {"design": (lambda v: v in DESIGNS, f"one of {', '.join(DESIGNS)}"),
              "samples": (lambda v: _whole(v, 0), "a whole number >= 0"),
              "seed": (lambda v: _whole(v, 0), "a whole number >= 0"),
              "chunk_size": (lambda v: _whole(v, 1), "a whole number >= 1"),
              "model_uncertainty": (lambda v: isinstance(v, bool), "true or false"),
              "options": (lambda v: isinstance(v, bool) or isinstance(v, str) or (
                  isinstance(v, list) and all(isinstance(x, str) for x in v)),
                  "true, or a list of option names")}
    for key, value in settings.items():
        ok, expected = checks[key]
        if not ok(value):
            raise _bad(shown, f"[sweep] '{key}': expected {expected}, got {value!r}")
    vary = {}
    for name, spec in data.get("vary", {}).items():
        if isinstance(spec, dict):
            if set(spec) != {"from", "to", "points"}:
                raise _bad(shown, f"[vary] '{name}': expected {{ from = .., to = .., points = .. }}, got {spec!r}")
            spec = f"{spec['from']}:{spec['to']}:{spec['points']}"
        elif isinstance(spec, list):
            spec = ",".join(str(v) for v in spec)
        elif isinstance(spec, bool) or not isinstance(spec, (str, int, float)):
            raise _bad(shown, f"[vary] '{name}': expected a list, \"start:stop:count\" or "
                       f"{{ from, to, points }}, got {spec!r}")
        vary[name] = parse_values(str(spec), name, where=shown)
    try:
        uncertain = uncertainty.blocks(data.get("uncertain"), shown)
    except ScenarioError as exc:
        raise SweepError(exc.problems) from None
    return {"settings": settings, "vary": vary, "uncertain": uncertain, "path": shown}


def _whole(value, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def declared_uncertainty(scenario: Scenario, models: bool = True) -> dict[str, uncertainty.Distribution]:
    """Distributions declared by the scenario (and its response models, unless ``models`` is False)."""
    out = {}
    for model in scenario.response_models if models else ():
        for key, dist in model.uncertainty:
            out[f"response.{model.name}.{key}"] = dist
    out.update(dict(scenario.uncertain))
    return out


def fingerprint(scenario: Scenario) -> str:
    """SHA-256 of the scenario as solved: every input file's contents and every setting in memory.

    A scenario changed in Python (``scenario.with_(...)``) has another fingerprint than
    the files it was read from, so a sweep of it cannot be resumed as the other.
    """
    digest = hashlib.sha256()
    files = []
    for name in scenario.inputs:
        try:
            files.append(hashlib.sha256(Path(name).read_bytes()).hexdigest())
        except OSError:
            files.append(f"unreadable:{Path(name).name}")
    digest.update("\n".join(sorted(files)).encode())
    _digest(digest, {f.name: getattr(scenario, f.name) for f in dataclasses.fields(scenario)
                     if f.name not in ("path", "inputs")})
    return digest.hexdigest()


def _digest(h, value) -> None:
    """Feed a value's content into hash ``h``: arrays by bytes, frames by pandas' row hashes."""
    if isinstance(value, np.ndarray):
        h.update(str(value.dtype).encode() + str(value.shape).encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, pd.DataFrame):
        h.update(",".join(map(str, value.columns)).encode())
        h.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(type(value).__name__.encode())  # a model's path depends on how the folder was named:
        _digest(h, {f.name: getattr(value, f.name) for f in dataclasses.fields(value)  # its file's
                    if f.name != "path"})  # contents are hashed above
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            h.update(repr(key).encode())
            _digest(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(f"[{len(value)}".encode())
        for item in value:
            _digest(h, item)
    else:
        h.update(repr(value).encode())


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
    solver: dict = dataclasses.field(default_factory=dict)  # solver, method, time limit

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
                "chunk_size": self.chunk_size, "scenario": self.fingerprint, "solver": self.solver,
                "points": [[p["option"], p["draw"], [p["values"][k] for k in self.parameters]]
                           for p in self.points]}


def make_plan(scenario: Scenario, vary: dict | None = None, *, design: str = "grid", samples: int = 0,
              seed: int | None = None, uncertain: dict | None = None, options=None,
              chunk_size: int | None = None, model_uncertainty: bool = True,
              solver: dict | None = None) -> Plan:
    """Check the sweep's settings against ``scenario`` and list its points.

    Points run option by option, grid point by grid point, draw by draw (the draws
    innermost: consecutive points differ only in drawn inputs, the cheapest change
    for a warm start).
    """
    where = "sweep"
    grid = {}
    for name, values in (vary or {}).items():
        try:
            param = parameters.resolve(scenario, name, where="--vary")
            if isinstance(values, str):
                values = parse_values(values, name)
            values = tuple(float(v) for v in np.atleast_1d(np.asarray(values, dtype=float)))
            for v in values:  # a value no point could use is the sweep's mistake: say so now
                parameters.check_value(param, v, "--vary")
        except ScenarioError as exc:
            raise SweepError(exc.problems) from None
        if not values:
            raise _bad("--vary", f"{name!r}: no values")
        grid[name] = values
    if design not in DESIGNS:
        raise _bad(where, f"design: expected one of {', '.join(DESIGNS)}, got {design!r}")
    if not _whole(samples, 0) and not (isinstance(samples, np.integer) and samples >= 0):
        raise _bad(where, f"samples: expected a whole number >= 0, got {samples!r}")
    if seed is not None and not _whole(seed, 0) and not (isinstance(seed, np.integer) and seed >= 0):
        raise _bad(where, f"seed: expected a whole number >= 0, got {seed!r}")
    if chunk_size is not None and not _whole(chunk_size, 1):
        raise _bad(where, f"chunk_size: expected a whole number >= 1, got {chunk_size!r}")
    samples = int(samples)
    distributions = {}
    if samples:
        distributions = declared_uncertainty(scenario, model_uncertainty)
        for name, d in (uncertain or {}).items():
            distributions[name] = d if isinstance(d, uncertainty.Distribution) else uncertainty.parse(d, where, name)
        if not distributions:
            raise _bad(where, "Monte Carlo needs uncertain inputs: declare [[uncertain]] blocks "
                       "(parameter = \"...\", distribution = ...) in the scenario or a sweep file"
                       + (", or [uncertainty] in a response model" if model_uncertainty else
                          " (the response models' [uncertainty] is switched off)"))
        try:
            for name in distributions:
                parameters.resolve(scenario, name, where="[[uncertain]]")
        except ScenarioError as exc:
            raise SweepError(exc.problems) from None
        both = sorted(set(distributions) & set(grid))
        if both:
            raise _bad(where, f"'{both[0]}' is both varied on a grid and drawn at random: drop one of the two")
        seed = DEFAULT_SEED if seed is None else int(seed)
    elif uncertain:
        raise _bad(where, "[[uncertain]] inputs are only drawn with samples > 0 (--samples N)")
    names = _options(scenario, options)
    if design == "grid":
        per_option = math.prod(len(v) for v in grid.values())  # Python integers: no overflow
    else:
        per_option = 1 + sum(len(v) for v in grid.values())
    size = len(names) * max(samples, 1) * per_option
    if size > MAX_POINTS:
        raise _bad(where, f"the sweep has {size:,} points, more than {MAX_POINTS:,}: use fewer values, "
                   "draws or options (or several sweeps)")
    grid_points = _grid_points(scenario, grid, design)
    draws = uncertainty.draw(distributions, samples, seed) if samples else {}
    points = []
    for option in names:
        for g in grid_points:
            for d in range(max(samples, 1)):
                drawn = {k: float(v[d]) for k, v in draws.items()}
                points.append({"point": len(points), "option": option, "draw": d if samples else None,
                               "values": {**g, **drawn}})
    chunk = executors.chunk_plan(len(points), chunk_size)
    return Plan(grid=grid, design=design, distributions=distributions, samples=samples,
                seed=seed if samples else None, options=names, chunk_size=chunk, points=tuple(points),
                fingerprint=fingerprint(scenario), solver=dict(solver or {}))


def _options(scenario: Scenario, options) -> tuple[str, ...]:
    known = [o.name for o in scenario.options]
    if options is None or options is False:
        return (BASE,)
    if BASE in known:
        raise _bad("--option", f"the scenario has an [[option]] named '{BASE}', the name sweeps give the "
                   "scenario as loaded: rename the option")
    if options is True or options == "all":
        return (BASE, *known)
    names = [options] if isinstance(options, str) else list(options)
    if not names:
        raise _bad("--option", "no options to solve: name at least one (or leave options out to solve the "
                   "scenario as loaded)")
    for name in names:
        if name != BASE and name not in known:
            raise _bad("--option", f"unknown option {name!r} (the scenario's options: "
                       f"{', '.join([BASE, *known])}; '{BASE}' is the scenario as loaded)")
    if len(set(names)) != len(names):
        raise _bad("--option", "an option is named twice")
    return tuple(names)


def _grid_points(scenario: Scenario, grid: dict, design: str) -> list[dict]:
    if not grid:
        return [{}]
    if design == "grid":
        return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    base = {}
    for name in grid:
        value = parameters.base_value(scenario, name)
        if np.isnan(value):
            raise _bad("--vary", f"{name!r} has no single base value in the scenario, so it cannot be "
                       "varied one at a time: use a grid")
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
          plots: bool = True, model_uncertainty: bool = True) -> pd.DataFrame:
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
    if out is not None:
        write_outputs(Path(out), plan, scenario, table, plots=plots)
    return table


OUTPUTS = ("sweep.sqlite", "sweep.csv", "sweep.parquet", "summary.csv", "probabilities.csv", "sweep.json",
           "plots")


def _check_out(out: Path, scenario: Scenario) -> None:
    """Refuse, before any solve, an output folder whose outputs would overwrite an input."""
    from .store import StoreError

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
    """Run the points of ``plan`` not yet saved; return every point's result."""
    from .store import Store

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


def _finite(value):
    """JSON has no Infinity or NaN: a cap of 'none' is written "inf", a missing value null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


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
    put("sweep.json", (json.dumps(_finite(info), indent=2, sort_keys=True) + "\n").encode())
    return written
