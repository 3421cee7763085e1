"""Compare allocation options side by side: one table per measure, winners and losers.

Options come from ``[[option]]`` blocks of one manifest, or from several
scenarios (each its own option, or each of its declared options).  Every option
is solved and checked like a single run; the comparison then lines up the
measures, says which option is best on each (where "best" has a meaning), and
lists the areas that gain and lose.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.analysis import explain
from allocator.analysis.disaggregate import TABLE as POPULATION_TABLE
from allocator.analysis.pipeline import Result, run
from allocator.errors import AllocatorError, InfeasibleError, ScenarioError, SolverError
from allocator.model.highs import deadline
from allocator.progress import stages
from allocator.scenario import Scenario
from allocator.scenario.options import apply

# how to pick the best option on a measure: 'max', 'min', 'abs' (closest to 0), 'one' (closest to 1)
BEST = {"sii_outcome": "abs", "rii_outcome": "one", "rii_alternative_outcome": "abs",
        "gap_absolute_outcome": "abs", "gap_relative_outcome": "one",
        "concentration_index_outcome": "abs", "concentration_index_spend": "min",
        "share_of_spend_most_deprived_fifth": "max", "total_gain": "max",
        "distance_from_target_gbp": "min", "total_spend": "min"}
WINNER_TOLERANCE_GBP = 0.5  # changes smaller than this count as unchanged


@dataclass(frozen=True)
class Comparison:
    """Solved options and the side-by-side tables."""

    names: tuple[str, ...]
    results: tuple[Result, ...]
    tables: dict[str, pd.DataFrame]
    not_solved: tuple[tuple[str, AllocatorError], ...] = ()  # (option, why), with ``keep_going``

    def raise_not_solved(self) -> None:
        """Raise the first option's error (same class and exit code), naming every option left out."""
        if not self.not_solved:
            return
        first = self.not_solved[0][1]
        others = [name for name, _ in self.not_solved[1:]]
        more = f" (also not solved: {', '.join(repr(n) for n in others)})" if others else ""
        raise type(first)(f"{first}{more}") from None


def named(exc: AllocatorError, option: str, scenario: Scenario) -> AllocatorError:
    """``exc`` (same class, same exit code) with the option and scenario it concerns in front."""
    if isinstance(exc, ScenarioError):  # each problem already names its file (and the option, if its own)
        problems = [p if f"[[option]] '{option}'" in p.file else
                    dataclasses.replace(p, message=f"option '{option}': {p.message}") for p in exc.problems]
        try:
            return type(exc)(problems)
        except TypeError:
            return ScenarioError(problems)
    try:
        return type(exc)(f"option '{option}' of scenario {scenario.path}: {exc}")
    except TypeError:  # a class with its own constructor: keep it as it is
        return exc


def options_of(scenario: Scenario) -> list[tuple[str, Scenario]]:
    """The scenario's declared options, or the scenario itself when it declares none.

    An option that cannot be applied (its budget below its floors, say) raises with the
    option and the scenario named.
    """
    if not scenario.options:
        return [(scenario.name, scenario)]
    options = []
    for spec in scenario.options:
        try:
            options.append((spec.name, apply(scenario, spec)))
        except AllocatorError as exc:
            raise named(exc, spec.name, scenario) from None
    return options


def options_from(scenarios: list[Scenario]) -> list[tuple[str, Scenario]]:
    """The options of one or more scenarios, named uniquely.

    One scenario gives its ``[[option]]`` blocks (or itself); several give each
    scenario's options prefixed by its name; names that still repeat are numbered.
    """
    options = []
    for s in scenarios:
        variants = options_of(s)
        many = len(scenarios) > 1 and len(variants) > 1
        options += [(f"{s.name}: {name}" if many else name, v) for name, v in variants]
    names = [n for n, _ in options]
    if len(set(names)) != len(names):
        options = [(f"{k + 1}. {n}", v) for k, (n, v) in enumerate(options)]
    return options


def compare(options: list[tuple[str, Scenario]], *, solver: str = "highs", method: str = "auto",
            waterfall: bool = True, prices: bool = True, time_limit: float | None = None,
            keep_going: bool = False) -> Comparison:
    """Solve every option and build the comparison tables.

    ``time_limit``: seconds for each option's solving, and again for its waterfall and prices
    (as a sweep's points, not the whole command).  An option that cannot be solved (infeasible,
    stopped by the time limit) or explained raises the same error with the option and its
    scenario named in front; with ``keep_going`` it is left out and listed in ``not_solved``
    instead, and the others are compared (the error is raised if no option is solved).
    """
    results, kept, not_solved = [], [], []
    for k, (name, s) in enumerate(options):
        try:
            with stages(f"Option {k + 1}/{len(options)} ({name})"), deadline(time_limit):
                results.append(run(s, solver=solver, method=method))
            kept.append(name)
        except (InfeasibleError, SolverError) as exc:
            if not keep_going:
                raise named(exc, name, s) from None
            not_solved.append((name, named(exc, name, s)))
        except AllocatorError as exc:
            raise named(exc, name, s) from None
    if not results:
        raise not_solved[0][1]
    return comparison_of(tuple(kept), tuple(results), waterfall=waterfall, prices=prices,
                         time_limit=time_limit, not_solved=not_solved if keep_going else None)


def comparison_of(names, results, *, waterfall: bool = True, prices: bool = True, time_limit: float | None = None,
                  not_solved: list | None = None) -> Comparison:
    """The comparison tables of options already solved (with ``options_spend_by_population_group``
    when the scenarios have ``[disaggregation]``).  ``time_limit`` and ``not_solved`` as in
    `compare`: an option whose waterfall or prices cannot be found is listed there (None: raise)."""
    tables = {"options_summary": _summary(names, results),
              "options_metrics": _metrics(names, results),
              "spend_by_group": _by_group(names, results, "spend_per_head_gbp"),
              "outcome_by_group": _by_group(names, results, "outcome_projected")}
    tables["winners_losers"] = _winners(names, results)
    tables["winners_losers_by_group"] = _winner_counts(tables["winners_losers"])
    groups = _population_groups(names, results)
    if groups is not None:
        tables[f"options_{POPULATION_TABLE}"] = groups
    if waterfall:
        with explain.shared_steps():  # options that relax to the same scenario solve it once
            tables["waterfall"] = _each(names, results, explain.waterfall, "The waterfall", time_limit, not_solved)
    if prices:
        tables["prices"] = _each(names, results, explain.prices, "Prices", time_limit, not_solved)
    return Comparison(names=names, results=results, tables=tables, not_solved=tuple(not_solved or ()))


def _each(names, results, table, what: str, time_limit: float | None = None,
          not_solved: list | None = None) -> pd.DataFrame:
    """``table(result)`` of every option, one below the other with an ``option`` column; an option
    that fails is listed in ``not_solved`` (as "its <what>: ...") where that is a list."""
    frames = []
    for k, (name, r) in enumerate(zip(names, results)):
        try:
            with stages(f"{what}, option {k + 1}/{len(names)}" if len(names) > 1 else what), deadline(time_limit):
                frames.append(table(r).assign(option=name))
        except (InfeasibleError, SolverError) as exc:
            if not_solved is None:
                raise named(exc, name, r.scenario) from None
            why = type(exc)(f"{what.lower()} could not be found: {exc}")
            not_solved.append((name, named(why, name, r.scenario)))
        except AllocatorError as exc:
            raise named(exc, name, r.scenario) from None
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"option": []})


def _metrics(names, results) -> pd.DataFrame:
    rows = []
    for name, r in zip(names, results):
        m = r.gradient.metrics
        extra = pd.DataFrame([{"measure": "distance_from_target_gbp", "units": "GBP",
                               "before": np.abs(r.gradient.by_area["distance_from_target_before_gbp"]).sum(),
                               "after": np.abs(r.gradient.by_area["distance_from_target_gbp"]).sum()}])
        extra["change"] = extra["after"] - extra["before"]
        rows.append(pd.concat([m, extra], ignore_index=True).assign(option=name))
    long = pd.concat(rows, ignore_index=True)
    first = long[long["option"] == names[0]].set_index("measure")["after"]
    long["change_vs_first_option"] = long["after"] - long["measure"].map(first)
    long["best"] = False
    higher = results[0].scenario.gradient.higher_is_better
    for measure, group in long.groupby("measure", sort=False):
        rule = BEST.get(measure)
        if measure in ("mean_outcome",) or measure.startswith("ede_outcome"):
            rule = "max" if higher else "min"
        if rule is None or len(group) < 2 or group["after"].isna().all():
            continue
        values = group["after"].to_numpy()
        key = {"max": -values, "min": values, "abs": np.abs(values), "one": np.abs(values - 1)}[rule]
        best = np.nanmin(key)
        ties = np.isclose(key, best, rtol=1e-9, atol=1e-12)
        if not ties.all():
            long.loc[group.index[ties], "best"] = True
    return long[["measure", "units", "option", "before", "after", "change", "change_vs_first_option", "best"]]


def wide_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """Measures down, options across (after), with the first option's 'before' and the best."""
    names = list(dict.fromkeys(metrics["option"]))
    wide = metrics.pivot(index="measure", columns="option", values="after")[names]
    order = list(dict.fromkeys(metrics["measure"]))
    wide = wide.loc[order]
    first = metrics[metrics["option"] == names[0]].set_index("measure")
    wide.insert(0, "before", first["before"].reindex(order))
    wide.insert(0, "units", first["units"].reindex(order))
    best = metrics[metrics["best"]].groupby("measure")["option"].agg(lambda s: ", ".join(s))
    wide["best"] = best.reindex(order).fillna("")
    return wide.reset_index()


def _by_group(names, results, column: str) -> pd.DataFrame:
    first = results[0].gradient.by_group
    label = first.columns[0]
    before_col = ("outcome_baseline" if column == "outcome_projected"
                  else f"{results[0].outcomes.before_label}_spend_per_head_gbp")
    out = pd.DataFrame({label: first[label], "population": first["population"], "before": first[before_col]})
    for name, r in zip(names, results):
        out[name] = r.gradient.by_group[column].to_numpy()
    return out


def _population_groups(names, results) -> pd.DataFrame | None:
    """Each option's spend and health by population group (`allocator.analysis.disaggregate`), one
    below the other with an ``option`` column first; None when no option's scenario has
    ``[disaggregation]``."""
    frames = [r.gradient.by_population_group.assign(option=name) for name, r in zip(names, results)
              if r.gradient.by_population_group is not None]
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)
    return table[["option", *[c for c in table.columns if c != "option"]]]


def _summary(names, results) -> pd.DataFrame:
    rows = []
    for name, r in zip(names, results):
        s, m = r.scenario, r.gradient.metrics.set_index("measure")
        rows.append({"option": name, "objective": s.objective, "proportionality": s.proportionality,
                     "budget_gbp": s.budget_gbp, "allocated_gbp": float(r.allocation.spend.sum()),
                     "objective_value": explain.objective_total(r),
                     "health_gain": m.at["total_gain", "change"],
                     "sii_outcome_before": m.at["sii_outcome", "before"],
                     "sii_outcome_after": m.at["sii_outcome", "after"],
                     "share_most_deprived_fifth": m.at["share_of_spend_most_deprived_fifth", "after"],
                     "solver": r.solution.solver})
    return pd.DataFrame(rows)


def _winners(names, results) -> pd.DataFrame:
    frames = []
    for name, r in zip(names, results):
        a = r.gradient.by_area
        before = a.filter(like="_spend_gbp").columns[0]
        frame = pd.DataFrame({
            "option": name, "area_id": a["area_id"], "area_name": a["area_name"],
            "deprivation_group": a["deprivation_group"], "before_gbp": a[before],
            "fair_share_gbp": a["fair_share_gbp"], "spend_gbp": a["spend_gbp"],
            "change_gbp": a["change_gbp"], "change_pct": a["change_pct"],
            "distance_from_target_before_gbp": a["distance_from_target_before_gbp"],
            "distance_from_target_gbp": a["distance_from_target_gbp"]})
        frames.append(frame.sort_values(["change_gbp", "area_id"], ascending=[False, True], kind="stable"))
    return pd.concat(frames, ignore_index=True)


def _winner_counts(winners: pd.DataFrame) -> pd.DataFrame:
    change = winners["change_gbp"]
    status = np.where(change > WINNER_TOLERANCE_GBP, "gain",
                      np.where(change < -WINNER_TOLERANCE_GBP, "lose", "unchanged"))
    counts = (winners.assign(status=status)
              .groupby(["option", "deprivation_group", "status"], sort=False).size()
              .unstack("status", fill_value=0))
    for column in ("gain", "lose", "unchanged"):
        if column not in counts:
            counts[column] = 0
    counts = counts[["gain", "lose", "unchanged"]].reset_index()
    counts.columns.name = None
    return counts.sort_values(["option", "deprivation_group"], kind="stable").reset_index(drop=True)
