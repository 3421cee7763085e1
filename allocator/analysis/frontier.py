"""The equity-efficiency frontier: how much total health each step towards equity costs.

Each point maximises total health gain subject to at least a given level of equity, in
one of three measures (``measure``):

* ``worst-off``: a rising floor under the worst-off deprivation group's mean outcome,
  from the health-gain optimum's worst-off level to the maximin optimum's.  Each point is
  an exact LP (the gains enter with the sign an LP never exploits).
* ``sii``: a rising required reduction of the slope index of inequality, from the
  health-gain optimum's own reduction up to ``upto``: by default the attainable limit itself
  (`allocator.model.diagnose.reduction_limit`: proven by the Lagrangian bound, else by the MILP
  over the relaxation searched for `LIMIT_SECONDS`), where that stops the most equal allocation it
  found, and never short of the largest reduction any reference run reaches.  The table's
  ``attrs["reach"]`` says what was found (`Reach` as a dict).  These are the points a chart of health against the SII should show: a
  floor under the worst-off group is one way to lower the SII, not the cheapest, so the
  worst-off frontier overstates the price of an SII reduction (england-la at 0.382: a health
  cost of 349,011 against maximin's 647,688).
* ``gap``: the same for the gap between the most and least deprived groups.

Each ``sii`` or ``gap`` point is the optimum of "most health with the measure down by at least
this much", a MILP (segments must fill in order).  Where `allocator.model.gradient_bound` applies
(no minimum slope; a pace of change only at district scale) its relaxation in suffix form is
solved and proven by a Lagrangian bound, in about a second even at national scale (england-lsoa,
an 11-point SII frontier to the exact limit: see benchmarks/README.md); elsewhere, or where that
proves nothing (england-la with its pace of change: SII reductions above about 0.42, gap
reductions above 0.38), by the MILP over that relaxation (`allocator.model.suffix_milp`: strong
branching by hand, then HiGHS's branch and bound for what that leaves), to the MIP gap (1e-4 of the
objective): a few seconds a point at england-la, and with ``--time-limit`` such a point stops with
its incumbent and bound (exit 1).

The feasible sets are nested, so total health never rises along the frontier (to the MIP gap
where points are MILPs).  For each
point the SII, RII and gap are measured from the independently evaluated allocation.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from allocator.analysis.pipeline import Result, run
from allocator.errors import (
    AllocatorError,
    InfeasibleError,
    Problem,
    ScenarioError,
    SettingsError,
)
from allocator.format import plain
from allocator.model.diagnose import Bracket, reduction_limit
from allocator.model.highs import limited, warm_starts
from allocator.progress import stages
from allocator.scenario import Scenario

MEASURES = ("worst-off", "sii", "gap")
# each measure's level in the table, and the scenario setting a point constrains
LEVELS = {"worst-off": "worst_off_at_least", "sii": "sii_reduction_at_least", "gap": "gap_reduction_at_least"}
SETTINGS = {"worst-off": "worst_off_at_least", "sii": "sii_reduction", "gap": "gap_reduction"}
LIMIT_SECONDS = 45.0  # the attainable limit's MILP searched this long at most (england-la: SII 5 s, gap 15 s)
SAID = {"worst-off": "worst-off group at least", "sii": "SII down by at least", "gap": "gap down by at least"}


def _row(label: str, result: Result, measure: str = "worst-off", level: float = np.nan) -> dict:
    m = result.gradient.metrics.set_index("measure")
    levels = {column: (level if name == measure else np.nan) for name, column in LEVELS.items()}
    return {"point": label, **levels, "worst_off_outcome": worst_off(result),
            "total_gain": m.at["total_gain", "after"], "health_gain": m.at["total_gain", "change"],
            "sii_before": m.at["sii_outcome", "before"], "sii": m.at["sii_outcome", "after"],
            "sii_reduction": reduction(result, "sii"),
            "rii": m.at["rii_outcome", "after"], "gap": m.at["gap_absolute_outcome", "after"],
            "gap_reduction": reduction(result, "gap"), "mean_outcome": m.at["mean_outcome", "after"]}


def reduction(result: Result, measure: str) -> float:
    """How far the allocation brings the SII (``sii``) or the gap (``gap``) towards zero, in the
    outcome's units (as ``sii_reduction`` and ``gap_reduction`` count it)."""
    m = result.gradient.metrics.set_index("measure")
    key = {"sii": "sii_outcome", "gap": "gap_absolute_outcome"}[measure]
    return float(abs(m.at[key, "before"]) - abs(m.at[key, "after"]))


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
        for known in ("incumbent", "bound"):  # a point stopped by a time limit: what it had found, and the bound
            if getattr(exc, known, None) is not None:
                setattr(failed, known, getattr(exc, known))
        raise failed from None


def frontier(scenario: Scenario, points: int = 21, options: bool = True, measure: str = "worst-off",
             upto: float | None = None, **solve) -> tuple[pd.DataFrame, dict[str, Result]]:
    """The frontier as a table (one row per point) and the end-point and reference runs; with
    ``options``, a row for each ``[[option]]`` of the scenario (point ``option: NAME``), to place
    the options a board is choosing between on the frontier.

    ``measure``: ``worst-off``, ``sii`` or ``gap`` (module docstring); ``upto``: the last point's
    required reduction for ``sii`` or ``gap`` (by default the proven limit, else the largest a
    reference run reaches).  A point that
    cannot be solved (a time limit, say) raises its error with ``done``: the points before it and
    the end points (an empty table when it is the first).
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")
    if upto is not None and measure == "worst-off":
        raise ValueError("upto goes with measure='sii' or 'gap'")
    with warm_starts():  # each point re-solved from the basis of the one before
        return _frontier(scenario, points, options, measure, upto, solve)


def _frontier(scenario: Scenario, points: int, options: bool, measure: str, upto: float | None,
              solve: dict) -> tuple[pd.DataFrame, dict[str, Result]]:
    base = scenario.with_(objective="health-gain", sii_reduction=None, gap_reduction=None,
                          worst_off_at_least=None)
    ends = {}
    for k, name in enumerate(("health-gain", "maximin", "level-up")):
        with stages(f"End point {k + 1}/3 ({name})"):
            ends[name] = _solved(f"the {name} end point", base.with_(objective=name), solve)
    rows = []
    levels, reach = _levels(scenario, ends, points, measure, upto)
    for k, level in enumerate(levels):
        with stages(f"Point {k + 1}/{points}"):
            try:
                result = _solved(f"point {k + 1} ({SAID[measure]} {level:.6g})",
                                 base.with_(**{SETTINGS[measure]: float(level)}), solve)
            except AllocatorError as exc:  # the points solved before it, and the end points, for the reader
                exc.done = _with_ends(rows, ends) if rows else pd.DataFrame(rows)
                raise
        rows.append(_row(f"{k + 1}", result, measure, float(level)))
    table = _with_ends(rows, ends)
    if options and scenario.options:
        table = pd.concat([table, _options(scenario, solve)], ignore_index=True)
    if reach is not None:  # the attainable limit, for the reader (plain values: the attrs go into the files)
        table.attrs["reach"] = {"measure": reach.measure, "low": reach.low, "high": reach.high,
                                "proven": reach.proven}
    return table, ends


def _with_ends(rows: list[dict], ends: dict[str, Result]) -> pd.DataFrame:
    """The points' rows, then a row for each end point."""
    return pd.DataFrame(rows + [_row(name, result) for name, result in ends.items()])


@dataclasses.dataclass(frozen=True)
class Reach:
    """How far the measure can move at all (the attainable limit): ``low``, an allocation reaches it
    (None if none was found beyond the references); ``high``, none reaches past it; equal when proven
    (to the MIP gap where the limit is a MILP's)."""

    measure: str
    low: float | None
    high: float

    @property
    def proven(self) -> bool:
        return self.low is not None and self.low >= self.high


def _levels(scenario: Scenario, ends: dict[str, Result], points: int, measure: str,
            upto: float | None) -> tuple[np.ndarray, Reach | None]:
    """Each point's required level, evenly spaced from the health-gain optimum's own, and (for
    ``sii`` and ``gap`` without ``upto``) the limit found."""
    hair = 1e-9  # the last reference level less a hair of solver tolerance: the run reaches it exactly
    if measure == "worst-off":
        low, high = worst_off(ends["health-gain"]), worst_off(ends["maximin"])
        levels = np.linspace(low, high, points)
        levels[-1] = high - hair * max(1.0, abs(high)) * (1 if scenario.gradient.higher_is_better else -1)
        return levels, None
    low = max(0.0, reduction(ends["health-gain"], measure))
    if upto is not None:
        if not np.isfinite(upto) or upto <= low:
            raise SettingsError([Problem("--upto", f"expected a reduction above {plain(low, 4)}, the health-gain "
                                         f"optimum's own (no constraint binds below it), got {upto!r}")])
        return np.linspace(low, float(upto), points), None
    high = max(low, *(reduction(result, measure) for result in ends.values()))
    reach = _reach(scenario, measure)
    if reach is not None and reach.high < 0:
        raise _cannot_fall(scenario, measure, reach, ends)
    if reach is not None and reach.low is not None:  # the frontier runs to the most equal allocation found
        if reach.low < high and not reach.proven:  # found less than a reference run reaches: shown as none
            reach = dataclasses.replace(reach, low=None)
        high = max(high, reach.low if reach.low is not None else high)
    levels = np.linspace(low, high, points)
    if high > low:
        levels[-1] = high - hair * max(1.0, abs(high))
    return levels, reach


def _cannot_fall(scenario: Scenario, measure: str, reach: Reach, ends: dict[str, Result]) -> InfeasibleError:
    """No allocation narrows the measure at all (every one turns the gradient round further than it
    was, `allocator.model.diagnose.reduction_limit`): a frontier by it has no point; said before any
    is solved, with the end points as what was done."""
    what = {"sii": "SII (slope index of inequality)", "gap": "gap between the most and least deprived groups"}
    units = scenario.gradient.outcome_units
    grows = f"{'at least' if reach.proven else 'more than'} {plain(-reach.high, 4)} {units}"
    failed = InfeasibleError(
        f"the {what[measure]} cannot fall at all with this budget and these rules: every allocation turns "
        f"the gradient round and leaves it {grows} larger than before, so no point of a frontier by the "
        f"{measure.upper() if measure == 'sii' else measure} can be solved (a frontier by the worst-off "
        "group, --measure worst-off, still can)")
    failed.done = _with_ends([], ends)
    return failed


def _reach(scenario: Scenario, measure: str) -> Reach | None:
    """The measure's attainable limit: proven by the Lagrangian bound, else by the MILP over the
    relaxation searched for `LIMIT_SECONDS` at most (and a third of the command's time left, so that
    a time limit leaves the points theirs); a bracket where that stops; None where nothing is known."""
    alone = {"worst_off_at_least": None, "sii_reduction": None, "gap_reduction": None, SETTINGS[measure]: 0.0}
    left = limited(None)  # the command's time left (None: no limit): a third of it at most, for the points
    with stages("The attainable limit"):
        try:
            found = reduction_limit(scenario.with_(objective="health-gain", **alone), SETTINGS[measure],
                                    time_limit=LIMIT_SECONDS if left is None else min(LIMIT_SECONDS, left / 3))
        except Bracket as bracket:
            return Reach(measure, bracket.low, bracket.high)
    return None if found is None else Reach(measure, found, found)


def _options(scenario: Scenario, solve: dict) -> pd.DataFrame:
    """A row for each option of the scenario, named ``option: NAME``."""
    from allocator.analysis.compare import options_of

    variants = options_of(scenario)
    rows = []
    for k, (name, variant) in enumerate(variants):
        with stages(f"Option {k + 1}/{len(variants)} ({name})"):
            rows.append(_row(f"option: {name}", _solved(f"option '{name}'", variant, solve)))
    return pd.DataFrame(rows)
