"""The equity-efficiency frontier: how much total health each step towards equity costs.

Points maximise total health gain subject to a rising floor under the worst-off
deprivation group's mean outcome, from the health-gain optimum's worst-off level
to the maximin optimum's.  The feasible sets are nested, so total health never
rises along the frontier; each point is an exact LP (the gains enter with the sign
an LP never exploits).  For each point the SII, RII and gap are measured from the
independently evaluated allocation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.analysis.pipeline import Result, run
from allocator.errors import AllocatorError, ScenarioError
from allocator.progress import stages
from allocator.scenario import Scenario


def _row(label: str, parameter: float, result: Result) -> dict:
    m = result.gradient.metrics.set_index("measure")
    table = result.gradient.by_group
    s = result.scenario
    sign = 1.0 if s.gradient.higher_is_better else -1.0
    worst = float((sign * table["outcome_projected"]).min() * sign)
    return {"point": label, "worst_off_at_least": parameter, "worst_off_outcome": worst,
            "total_gain": m.at["total_gain", "after"], "health_gain": m.at["total_gain", "change"],
            "sii_before": m.at["sii_outcome", "before"], "sii": m.at["sii_outcome", "after"],
            "sii_reduction": abs(m.at["sii_outcome", "before"]) - abs(m.at["sii_outcome", "after"]),
            "rii": m.at["rii_outcome", "after"], "gap": m.at["gap_absolute_outcome", "after"],
            "mean_outcome": m.at["mean_outcome", "after"]}


def worst_off(result: Result) -> float:
    """The worst-off group's mean outcome after the allocation, in the outcome's units."""
    sign = 1.0 if result.scenario.gradient.higher_is_better else -1.0
    return float(sign * (sign * result.gradient.by_group["outcome_projected"]).min())


def _solved(what: str, scenario: Scenario, solve: dict) -> Result:
    """``run``, with the frontier point named in any error (same class, same exit code)."""
    try:
        return run(scenario, **solve)
    except ScenarioError:  # bad input: the message already says where
        raise
    except AllocatorError as exc:
        try:
            failed = type(exc)(f"the frontier's {what} could not be solved: {exc}")
        except TypeError:
            raise exc from None
        raise failed from None


def frontier(scenario: Scenario, points: int = 21, options: bool = True,
             **solve) -> tuple[pd.DataFrame, dict[str, Result]]:
    """The frontier as a table (one row per point) and the end-point and reference runs; with
    ``options``, a row for each ``[[option]]`` of the scenario (point ``option: NAME``), to place
    the options a board is choosing between on the frontier."""
    base = scenario.with_(objective="health-gain", sii_reduction=None, gap_reduction=None,
                          worst_off_at_least=None)
    ends = {}
    for k, name in enumerate(("health-gain", "maximin", "level-up")):
        with stages(f"End point {k + 1}/3 ({name})"):
            ends[name] = _solved(f"the {name} end point", base.with_(objective=name), solve)
    low, high = worst_off(ends["health-gain"]), worst_off(ends["maximin"])
    rows = []
    for k, level in enumerate(np.linspace(low, high, points)):
        if k == points - 1:  # the maximin level itself, less a hair of solver tolerance
            level = high - 1e-9 * max(1.0, abs(high)) * (1 if scenario.gradient.higher_is_better else -1)
        with stages(f"Point {k + 1}/{points}"):
            result = _solved(f"point {k + 1} (worst-off group at least {level:.6g})",
                             base.with_(worst_off_at_least=float(level)), solve)
        rows.append(_row(f"{k + 1}", float(level), result))
    table = pd.DataFrame(rows)
    for name, result in ends.items():
        table = pd.concat([table, pd.DataFrame([_row(name, np.nan, result)])], ignore_index=True)
    if options and scenario.options:
        table = pd.concat([table, _options(scenario, solve)], ignore_index=True)
    return table, ends


def _options(scenario: Scenario, solve: dict) -> pd.DataFrame:
    """A row for each option of the scenario, named ``option: NAME``."""
    from allocator.analysis.compare import options_of

    variants = options_of(scenario)
    rows = []
    for k, (name, variant) in enumerate(variants):
        with stages(f"Option {k + 1}/{len(variants)} ({name})"):
            rows.append(_row(f"option: {name}", np.nan, _solved(f"option '{name}'", variant, solve)))
    return pd.DataFrame(rows)
