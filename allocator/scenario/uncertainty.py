"""Distributions of uncertain inputs, as data, and reproducible draws from them.

A distribution is a small TOML table, never code::

    { distribution = "normal", mean = 250, sd = 30 }           # optional low / high truncate
    { distribution = "lognormal", median = 1.0, sigma = 0.25 }  # sigma: sd of the log
    { distribution = "uniform", low = 0.8, high = 1.2 }
    { distribution = "triangular", low = 0.8, mode = 1.0, high = 1.1 }

Add ``draw_group = "name"`` to draw several parameters together (perfectly
correlated: the same quantile of each), for inputs with one common source of
uncertainty.  A common factor that scales every response curve cannot change which
allocation is best, so it cannot change how options rank; `independent` drops the
groups, so that each input (each service's effect size) is drawn on its own stream
and a ranking can change (a sweep's ``model_uncertainty = "per-service"``).  They are declared for a named parameter (`allocator.scenario.parameters`) in a sweep file
or the scenario's manifest (``[[uncertain]]`` blocks with ``parameter = "..."``),
or for a response curve's effect size in its model file (``[uncertainty]`` with
``scale = {...}``).  Draws use one random stream per parameter, seeded from the
sweep's seed and the parameter's name, so a parameter's draws do not change when
another parameter is added, and the same seed gives the same draws anywhere.

Examples
--------
>>> d = parse({"distribution": "uniform", "low": 1, "high": 2}, "sweep.toml", "budget")
>>> x = draw({"budget": d}, samples=3, seed=7)["budget"]
>>> bool(((x >= 1) & (x <= 2)).all()), len(x)
(True, 3)
>>> bool((draw({"budget": d}, 3, seed=7)["budget"] == x).all())
True
>>> g = parse({"distribution": "uniform", "low": 1, "high": 2, "draw_group": "g"}, "m.toml", "scale")
>>> together = draw({"a": g, "b": g}, samples=3, seed=7)
>>> bool((together["a"] == together["b"]).all())
True
>>> apart = draw(independent({"a": g, "b": g}), samples=3, seed=7)
>>> bool((apart["a"] != apart["b"]).all())
True
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass

import numpy as np

from allocator.errors import Problem, ScenarioError
from allocator.scenario.files import number_problem

KINDS = {"normal": ("mean", "sd"), "lognormal": ("median", "sigma"), "uniform": ("low", "high"),
         "triangular": ("low", "mode", "high")}
OPTIONAL = {"normal": ("low", "high")}


@dataclass(frozen=True)
class Distribution:
    """One distribution: its kind and its numbers."""

    kind: str
    values: tuple[tuple[str, float], ...]
    group: str = ""  # parameters of one group are drawn together (the same quantile of each)

    def get(self, key: str, default: float | None = None) -> float | None:
        return dict(self.values).get(key, default)

    def describe(self) -> str:
        """E.g. ``'triangular(low=0.8, mode=1, high=1.1)'``."""
        text = f"{self.kind}(" + ", ".join(f"{k}={v:g}" for k, v in self.values) + ")"
        return text + (f" [draw_group {self.group}]" if self.group else "")

    def quantiles(self, q) -> np.ndarray:
        """The distribution's quantiles at ``q`` (in [0, 1]): how every draw is made."""
        # only Monte Carlo draws need scipy.stats, and it takes a second to import
        from scipy import stats

        v = dict(self.values)
        q = np.asarray(q, dtype=float)
        if self.kind == "normal":
            low, high = v.get("low", -np.inf), v.get("high", np.inf)
            a, b = (low - v["mean"]) / v["sd"], (high - v["mean"]) / v["sd"]
            return stats.truncnorm.ppf(q, a, b, loc=v["mean"], scale=v["sd"])
        if self.kind == "lognormal":
            return v["median"] * np.exp(stats.norm.ppf(q) * v["sigma"])
        if self.kind == "uniform":
            return v["low"] + q * (v["high"] - v["low"])
        c = (v["mode"] - v["low"]) / (v["high"] - v["low"])
        return stats.triang.ppf(q, c, loc=v["low"], scale=v["high"] - v["low"])


def parse(table: object, shown: str, name: str) -> Distribution:
    """Validate a distribution table; raises `ScenarioError` naming the file and parameter."""

    def bad(text: str) -> ScenarioError:
        return ScenarioError([Problem(shown, f"uncertainty of '{name}': {text}")])

    if not isinstance(table, dict):
        raise bad(f"expected a table like {{ distribution = \"normal\", mean = 1, sd = 0.1 }}, got {table!r}")
    kind = table.get("distribution")
    if not isinstance(kind, str) or kind not in KINDS:
        raise bad(f"'distribution': expected one of {', '.join(KINDS)}, got {kind!r}")
    allowed = KINDS[kind] + OPTIONAL.get(kind, ())
    extra = sorted(set(table) - set(allowed) - {"distribution", "parameter", "draw_group"})
    if extra:
        raise bad(f"unknown key '{extra[0]}' for a {kind} distribution (its keys: {', '.join(allowed)})")
    group = table.get("draw_group", "")
    if not isinstance(group, str):
        raise bad(f"'draw_group': expected text, got {group!r}")
    values = []
    for key in allowed:
        if key not in table:
            if key in KINDS[kind]:
                raise bad(f"a {kind} distribution needs '{key}'")
            continue
        value = table[key]
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise bad(f"'{key}': expected a number, got {value!r}")
        if number_problem(value):
            raise bad(f"'{key}': {number_problem(value)}")
        values.append((key, float(value)))
    v = dict(values)
    if kind == "normal" and v["sd"] <= 0:
        raise bad(f"'sd' must be > 0, got {v['sd']:g}")
    if kind == "normal" and v.get("low", -np.inf) >= v.get("high", np.inf):
        raise bad(f"'low' ({v['low']:g}) must be below 'high' ({v['high']:g})")
    if kind == "lognormal" and (v["median"] <= 0 or v["sigma"] <= 0):
        raise bad("'median' and 'sigma' must be > 0")
    if kind in ("uniform", "triangular") and not v["low"] < v["high"]:
        raise bad(f"'low' ({v['low']:g}) must be below 'high' ({v['high']:g})")
    if kind == "triangular" and not v["low"] <= v["mode"] <= v["high"]:
        raise bad(f"'mode' ({v['mode']:g}) must lie between 'low' and 'high'")
    return Distribution(kind, tuple(values), group.strip())


def blocks(items: object, shown: str) -> dict[str, Distribution]:
    """``[[uncertain]]`` blocks (each with ``parameter = "..."``) -> {parameter: Distribution}."""
    if items is None:
        return {}
    if not isinstance(items, list):
        raise ScenarioError([Problem(shown, "'uncertain' must be an array of tables: write [[uncertain]] "
                                     "blocks")])
    out = {}
    for k, item in enumerate(items, start=1):
        name = item.get("parameter") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise ScenarioError([Problem(shown, f"[[uncertain]] number {k}: 'parameter': expected the "
                                         f"name of a parameter, got {name!r}")])
        if name in out:
            raise ScenarioError([Problem(shown, f"[[uncertain]] '{name}' is declared twice")])
        out[name] = parse(item, shown, name)
    return out


def stream(seed: int, name: str) -> np.random.Generator:
    """The random stream of parameter ``name`` under ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode("utf-8"))]))


def draw(distributions: dict[str, Distribution], samples: int, seed: int) -> dict[str, np.ndarray]:
    """``samples`` draws of every parameter, by inverse CDF from seeded uniform streams.

    Each parameter has its own stream, or its ``draw_group``'s: parameters of one
    group (one source of uncertainty behind several inputs) move together.
    """
    out = {}
    for name, d in sorted(distributions.items()):
        key = f"draw_group:{d.group}" if d.group else name
        u = np.clip(stream(seed, key).random(samples), 1e-15, 1 - 1e-15)  # finite at the tails
        out[name] = np.asarray(d.quantiles(u), dtype=float)
    return out


def independent(distributions: dict[str, Distribution]) -> dict[str, Distribution]:
    """The same distributions with no ``draw_group``: each parameter drawn from its own stream.

    The stream of a parameter is seeded from the sweep's seed and the parameter's name
    (`stream`), so the draws stay reproducible, and one parameter's draws do not depend on
    which others are drawn.
    """
    return {name: dataclasses.replace(d, group="") for name, d in distributions.items()}
