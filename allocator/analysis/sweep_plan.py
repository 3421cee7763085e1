"""The plan of a sweep: which points to solve, in which order, in which chunks.

A sweep is a *plan* of points, each a scenario with some parameters set
(`allocator.scenario.parameters`) and optionally one of its ``[[option]]`` blocks:

- a **grid** over named parameters (every combination), or **one at a time**
  (each parameter over its values, the others at their base values: the
  tornado chart);
- **Monte Carlo**: ``samples`` draws of the uncertain inputs (distributions in
  the scenario's ``[[uncertain]]`` blocks, in response models' ``[uncertainty]``
  tables, or given here), with a seed, crossed with the grid and the options.
  Every option is solved on the same draws, so "option A reduces the SII more
  than option B" is a paired comparison.  The response models' effect sizes are
  drawn as their models declare (the bundled ones share one ``draw_group``: a
  common factor, which cannot change a ranking) or, with ``model_uncertainty =
  "per-service"``, each service's on its own stream.

When an ``[[option]]`` has the same settings as the scenario as loaded, ``base`` is
not solved again: the option stands for it (`Plan.same_as_base`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.analysis.workers import chunk_plan
from allocator.errors import AllocatorError, Problem, ScenarioError
from allocator.scenario import Scenario, parameters, uncertainty
from allocator.scenario.files import read_toml

DESIGNS = ("grid", "one-at-a-time")
BASE = "base"  # the scenario as loaded, next to its [[option]] blocks
DEFAULT_SEED = 1
SWEEP_KEYS = {"design", "samples", "seed", "options", "chunk_size", "model_uncertainty"}
PER_SERVICE = "per-service"  # model_uncertainty: each response model's effect size on its own stream
EACH_RESPONSE = "response.*.scale"  # how a sweep file's per-service setting travels with its [[uncertain]]
MAX_POINTS = 2_000_000  # a plan is listed in memory and saved with the results


class SweepError(ScenarioError):
    """The sweep's own settings (--vary, a sweep file, options, seed) are wrong (exit code 2)."""

    subject = "the sweep's settings"


def _bad(where: str, text: str) -> SweepError:
    return SweepError([Problem(where, text)])


class SweepInterrupted(AllocatorError):
    """Ctrl-C (or a signal) stopped the sweep; every finished point is saved (exit code 130, as for SIGINT)."""

    exit_code = 130

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
    """A sweep file (TOML): ``[sweep]`` settings, ``[vary]`` values, ``[[uncertain]]`` blocks.

    ``model_uncertainty = "per-service"`` is also returned among the uncertain inputs, as
    ``{EACH_RESPONSE: PER_SERVICE}``, so that a caller passing on only the file's ``vary``
    and ``uncertain`` (with ``model_uncertainty=True``) still draws as the file says.
    """
    shown = str(path)
    try:
        data = read_toml(Path(path), shown, missing="", allow=_uncapped)
    except ScenarioError as exc:  # not a file, not UTF-8, not TOML, a number not finite
        raise SweepError(exc.problems) from None
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
              "model_uncertainty": (lambda v: isinstance(v, bool) or v == PER_SERVICE,
                                    f'true, false or "{PER_SERVICE}"'),
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
    if settings.get("model_uncertainty") == PER_SERVICE:
        uncertain[EACH_RESPONSE] = PER_SERVICE
    return {"settings": settings, "vary": vary, "uncertain": uncertain, "path": shown}


def _uncapped(path: tuple, value: float) -> bool:
    """A cap's value in [vary] may be inf (no cap)."""
    return (len(path) >= 2 and path[0] == "vary" and isinstance(path[1], str)
            and parameters.split(path[1])[0] == "cap" and value == float("inf"))


def _whole(value, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def declared_uncertainty(scenario: Scenario, models: bool | str = True) -> dict[str, uncertainty.Distribution]:
    """Distributions declared by the scenario and its response models.

    ``models``: True, the response models' ``[uncertainty]`` as declared (with their
    ``draw_group``); ``"per-service"``, the same distributions each drawn on its own
    stream; False, none of them.
    """
    out = {}
    for model in scenario.response_models if models else ():
        for key, dist in model.uncertainty:
            out[f"response.{model.name}.{key}"] = dist
    if models == PER_SERVICE:
        out = uncertainty.independent(out)
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


def solved_digest(scenario: Scenario) -> bytes:
    """A key for what the optimum of ``scenario`` depends on, in memory (not its files, names,
    description or options), for scenarios alive at once: equal keys, the same optimum.  The tables
    as read count by identity (hashing them costs a third of a second at LSOA scale; the arrays the
    solve reads from them are hashed, and a table of another identity only makes another key)."""
    def cheap(value):
        if isinstance(value, pd.DataFrame):
            return id(value)
        if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
            return "\x1f".join(value)  # area ids and names: one string, not 33,755 items
        return value

    digest = hashlib.blake2b(digest_size=16)
    _digest(digest, {f.name: cheap(getattr(scenario, f.name)) for f in dataclasses.fields(scenario)
                     if f.name not in ("name", "path", "description", "attribution", "inputs", "options")})
    return digest.digest()


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
    same_as_base: str = ""  # the option with the settings of the scenario as loaded: base is not solved

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
                **({"same_as_base": self.same_as_base} if self.same_as_base else {}),
                "points": [[p["option"], p["draw"], [p["values"][k] for k in self.parameters]]
                           for p in self.points]}


def make_plan(scenario: Scenario, vary: dict | None = None, *, design: str = "grid", samples: int = 0,
              seed: int | None = None, uncertain: dict | None = None, options=None,
              chunk_size: int | None = None, model_uncertainty: bool | str = True,
              solver: dict | None = None) -> Plan:
    """Check the sweep's settings against ``scenario`` and list its points.

    ``model_uncertainty``: True draws the response models' ``[uncertainty]`` as
    declared, ``"per-service"`` each model's on its own stream, False none of them.

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
    distributions, seed = _distributions(scenario, grid, samples, seed, uncertain, model_uncertainty)
    names, same_as_base = _options(scenario, options)
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
    chunk = chunk_plan(len(points), chunk_size)
    return Plan(grid=grid, design=design, distributions=distributions, samples=samples,
                seed=seed if samples else None, options=names, chunk_size=chunk, points=tuple(points),
                fingerprint=fingerprint(scenario), solver=dict(solver or {}), same_as_base=same_as_base)


def _distributions(scenario: Scenario, grid: dict, samples: int, seed, uncertain: dict | None,
                   model_uncertainty) -> tuple[dict[str, uncertainty.Distribution], int | None]:
    """The checked distributions to draw, and the seed (default `DEFAULT_SEED`) if any are drawn."""
    where = "sweep"
    uncertain = dict(uncertain or {})
    if uncertain.pop(EACH_RESPONSE, None) == PER_SERVICE and model_uncertainty:
        model_uncertainty = PER_SERVICE  # from a sweep file: model_uncertainty = "per-service"
    if model_uncertainty not in (True, False, PER_SERVICE):
        raise _bad(where, f'model_uncertainty: expected true, false or "{PER_SERVICE}", got {model_uncertainty!r}')
    if not samples:
        if uncertain:
            raise _bad(where, "[[uncertain]] inputs are only drawn with samples > 0 (--samples N)")
        return {}, seed
    distributions = declared_uncertainty(scenario, model_uncertainty)
    for name, d in uncertain.items():
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
    return distributions, DEFAULT_SEED if seed is None else int(seed)


def _options(scenario: Scenario, options) -> tuple[tuple[str, ...], str]:
    """The options to solve, and the one that stands for ``base`` (the same settings), if any."""
    names = _option_names(scenario, options)
    if BASE not in names:
        return names, ""
    twin = _same_as_base(scenario, [n for n in names if n != BASE])
    return (tuple(n for n in names if n != BASE), twin) if twin else (names, "")


def _same_as_base(scenario: Scenario, names: list[str]) -> str:
    """The first of ``names`` whose option leaves every setting of the scenario as it is."""
    from allocator.scenario.options import apply

    specs = {o.name: o for o in scenario.options}
    base = None
    for name in names:
        if not specs[name].overrides:
            return name
        try:
            varied = dataclasses.replace(apply(scenario, specs[name]), name=scenario.name)
        except ScenarioError:
            continue
        base = base or _settings(scenario)
        if _settings(varied) == base:
            return name
    return ""


def _settings(scenario: Scenario) -> str:
    """A digest of every setting of a scenario in memory (not its files: an option changes none)."""
    digest = hashlib.sha256()
    _digest(digest, {f.name: getattr(scenario, f.name) for f in dataclasses.fields(scenario)
                     if f.name not in ("path", "inputs")})
    return digest.hexdigest()


def _option_names(scenario: Scenario, options) -> tuple[str, ...]:
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


