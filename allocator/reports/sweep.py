"""What a finished sweep leaves in its folder (the tidy table, summaries, plots, sweep.json) and says.

`findings` are the plain-English sentences of what a sweep found (which option is best
how often, how far the key measures move, what moves them most, whether the uncertain
inputs move together); the terminal summary and the HTML report (`sweep_report`) both
say them.  Every number goes through `allocator.format`.
"""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

import pandas as pd

from allocator.analysis.store import read
from allocator.analysis.sweep_plan import Plan
from allocator.analysis.sweeps import (
    KEY_MEASURES,
    OUTPUTS,
    best_shares,
    common_factor,
    drawn_columns,
    facts,
    grid_columns,
    paired_differences,
    probabilities,
    summary,
)
from allocator.format import gbp, number, percent, plain
from allocator.reports.files import output
from allocator.reports.markdown import measure_name
from allocator.reports.outputs import atomic_write, csv_bytes, text_table
from allocator.reports.sweep_plots import plot_sweep, tornado_table
from allocator.scenario import Scenario


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
    import pyarrow as pa
    import pyarrow.parquet as pq

    written = []
    protected = {Path(p).resolve() for p in scenario.inputs}
    with output(out, protected):  # every file at once, or none; locked against another command
        def put(name: str, data: bytes) -> None:
            atomic_write(out / name, data, protected)
            written.append(out / name)

        put("sweep.csv", csv_bytes(table))
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), sink)
        put("sweep.parquet", sink.getvalue())
        put("summary.csv", csv_bytes(summary(table)))
        known = facts(plan, scenario)
        table.attrs.update(known)
        for name, frame in (("probabilities.csv", probabilities(table)), ("differences.csv", paired_differences(
                table)), ("best.csv", best_shares(table))):
            if not frame.empty:
                put(name, csv_bytes(frame))
        stored = read(out)[1] if (out / "sweep.sqlite").exists() else []
        status = table.drop_duplicates("point")["status"].value_counts().to_dict()
        info = {"scenario": scenario.name, "scenario_path": scenario.path, "plan": {
            k: v for k, v in plan.to_json().items() if k != "points"}, "points": len(plan.points),
            "status": status, "parameters": plan.parameters, **known,
            "inputs": sorted(str(Path(i).resolve()) for i in scenario.inputs),  # never written over by a report
            "runs": sorted({r["run"] for r in stored}), "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if plots:
            base = known["base_values"] if plan.design == "one-at-a-time" else None
            written += plot_sweep(table, list(plan.grid), out / "plots", base=base, current=known["base_values"])
        put("sweep.json", (json.dumps(_finite(info), indent=2, sort_keys=True) + "\n").encode())
    return written


def summary_text(table: pd.DataFrame, out: Path) -> str:
    """What a sweep found, in a few lines: points, failures, key measures, probabilities."""
    points = table.drop_duplicates("point")
    counts = points["status"].value_counts()
    lines = [f"{len(points)} point{'s' if len(points) != 1 else ''}: "
             + ", ".join(f"{n} {k}" for k, n in counts.items())]
    failed = points[points["status"] != "ok"]
    if len(failed):
        first = failed.iloc[0]
        lines.append(f"first failure (point {first['point']}): {first['reason']}")
    summ = summary(table)
    # with a transfer between service groups, the GBP actually moved is shown first
    moved = sorted(m for m in summ["measure"].unique() if str(m).startswith("moved_"))
    shown = [*moved, *KEY_MEASURES]
    summ = summ[summ["measure"].isin(shown)]
    if len(summ):
        grid = grid_columns(table)
        drawn = table["draw"].notna().any()
        cells = pd.Series([gbp(v) if m in moved else plain(v, 4) for m, v in zip(summ["measure"], summ["mean"])],
                          index=summ.index)
        if drawn:
            cells = cells + " [" + summ["p05"].map(lambda v: plain(v, 4)) + ", " + summ["p95"].map(
                lambda v: plain(v, 4)) + "]"
        wide = (summ.assign(cell=cells).pivot_table(index=["option", *grid], columns="measure",
                                                    values="cell", aggfunc="first", sort=False)
                .reindex(columns=[k for k in shown if k in set(summ["measure"])]).reset_index())
        wide.columns.name = None
        wide = wide.rename(columns={m: "£ moved" if len(moved) == 1 else m for m in moved})
        for g in grid:
            wide[g] = wide[g].map(lambda v, g=g: parameter_text(g, v))
        if drawn:
            lines += ["", "mean [90% interval] over the draws:"]
        lines += ["", text_table(wide.head(30))]
        if len(wide) > 30:
            lines.append(f"... {len(wide) - 30} more rows in {out / 'summary.csv'}")
    lines += _probability_lines(table, out)
    said = notes(table) + best_sentences(table)
    if said:
        lines += ["", *said]
    written = [name + ("/" if name == "plots" else "") for name in OUTPUTS
               if name != "sweep.sqlite" and (out / name).exists()]
    lines += ["", f"Wrote in {out}: {', '.join(written)} (and sweep.sqlite, every point as it finished)",
              f"For one page of the plots and tables: allocator report {out}"]
    return "\n".join(lines)


def _probability_lines(table: pd.DataFrame, out: Path) -> list[str]:
    probs = probabilities(table)
    if not len(probs):
        return []
    order = {name: k for k, name in enumerate(dict.fromkeys(table["option"]))}
    sii = probs[(probs["measure"] == "sii_outcome")
                & (probs["option_a"].map(order) < probs["option_b"].map(order))]
    lines = [""]
    grid = grid_columns(table)
    for row in sii.head(15).to_dict(orient="records"):
        at = ", ".join(f"{k} = {parameter_text(k, row[k])}" for k in grid)
        closer, further = row["p_a_closer_to_zero"], row["p_a_further_from_zero"]
        lines.append(f"P({row['option_a']} leaves a narrower gradient (smaller |SII|) than "
                     f"{row['option_b']}" + (f" at {at}" if at else "")
                     + f") = {closer:.3f}; wider {further:.3f}, the same "
                     f"{1 - closer - further:.3f} ({row['draws']} draws)")
    if len(sii) > 15:
        lines.append(f"... {len(sii) - 15} more in {out / 'probabilities.csv'}")
    return lines


def parameter_text(name: str, value: float) -> str:
    """A parameter's value in a sentence or a table: £3.60bn for money, else plain decimals."""
    return number(value, "GBP") if name == "budget" or str(name).startswith("unit_cost.") else plain(value, 5)


# ------------------------------------------------------------------ what the sweep found

BEST = {"sii_outcome": "Narrowest social gradient (SII closest to zero)",
        "gap_absolute_outcome": "Narrowest gap between the least and most deprived groups",
        "mean_outcome": "Best mean outcome", "total_gain": "Largest health gain"}


def _over(table: pd.DataFrame, n: int) -> str:
    """What ``n`` comparisons run over: 'every draw at every budget value'."""
    grid = [g for g in grid_columns(table) if table[g].nunique() > 1]
    draws = table["draw"].notna().any()
    at = " and ".join(grid)
    if draws:
        return f"the {n:,} draws" + (f" (at every {at} value)" if grid else "")
    if len(grid) == 1:
        return f"the {n:,} {at} values"
    return f"the {n:,} settings of {', '.join(grid)}" if grid else f"the {n:,} solves"


def best_sentences(table: pd.DataFrame) -> list[str]:
    """Which option is best how often, on each key measure with a better way."""
    shares = best_shares(table, by=[])
    out = []
    for measure, part in shares.groupby("measure", sort=False):
        part = part[part["p_best"] > 0].sort_values("p_best", ascending=False, kind="mergesort")
        if part.empty:
            continue
        n = int(part["draws"].iloc[0])
        rows = list(part.itertuples())
        said = f"{rows[0].option} in {percent(rows[0].p_best)} of {_over(table, n)}" + "".join(
            f", {row.option} in {percent(row.p_best)}" for row in rows[1:])
        ties = " (an option tied for best counts as best)" if part["p_best"].sum() > 1 + 1e-9 else ""
        out.append(f"{BEST.get(measure, measure_name(measure))}: {said}{ties}.")
    return out


def range_sentences(table: pd.DataFrame) -> list[str]:
    """How far each key measure moves over the options and swept values (means over the draws)."""
    grid = grid_columns(table)
    summ = summary(table)
    summ = summ[summ["measure"].isin(KEY_MEASURES) & summ["mean"].notna()]
    out = []
    drawn = " (means over the draws)" if table["draw"].notna().any() else ""
    for measure, part in summ.groupby("measure", sort=False):
        if len(part) < 2:
            continue
        units = str(part["units"].iloc[0])
        varied = [g for g in grid if part[g].nunique() > 1]
        ends = [part.loc[part["mean"].idxmin()], part.loc[part["mean"].idxmax()]]
        at = [", ".join([str(row["option"]), *(f"{g} {parameter_text(g, row[g])}" for g in varied)])
              for row in ends]
        low, high = (number(row["mean"], units) for row in ends)
        out.append(f"{measure_name(measure)}: {low} throughout{drawn}." if low == high else
                   f"{measure_name(measure)}: from {low} ({at[0]}) to {high} ({at[1]}){drawn}.")
    return out


def mover_sentences(table: pd.DataFrame) -> list[str]:
    """What moves the SII and the health gain most, for the first option: each swept parameter
    (one at a time: the tornado; on a grid: the range of the means over its values) and the draws."""
    grid = [g for g in grid_columns(table) if table[g].nunique() > 1]
    ok = table[table["status"] == "ok"]
    if ok.empty:
        return []
    option = ok["option"].iloc[0]
    base = table.attrs.get("base_values") or {}
    out = []
    for measure in ("sii_outcome", "total_gain"):
        rows = ok[(ok["option"] == option) & (ok["measure"] == measure)]
        if rows.empty:
            continue
        units = str(rows["units"].iloc[0])
        swings = []
        if table.attrs.get("design") == "one-at-a-time" and all(g in base for g in grid):
            for r in tornado_table(table, grid, base, measure, option=option).itertuples():
                ends = [f"{number(y, units)} at {parameter_text(r.parameter, x)}"
                        for x, y in ((r.low_value, r.at_low), (r.high_value, r.at_high))]
                swings.append((r.swing, f"{r.parameter} ({', '.join(ends)})"))
        else:
            for g in [g for g in grid if rows[g].nunique() > 1]:  # values where the option solved
                means = rows.groupby(g)["after"].mean()
                swing = means.max() - means.min()
                over = f"{parameter_text(g, means.index.min())} to {parameter_text(g, means.index.max())}"
                swings.append((swing, f"{g} (by {number(swing, units)} over {over})"))
        if rows["draw"].notna().any():
            groups = [rows] if not grid else [g for _, g in rows.groupby(grid)]
            spread = max(float(g["after"].quantile(0.95) - g["after"].quantile(0.05)) for g in groups)
            text = f"the uncertain inputs (by up to {number(spread, units)}: the 90% range of the draws)"
            swings.append((spread, text))
        if swings:
            swings.sort(key=lambda x: -x[0])
            out.append(f"What moves the {measure_name(measure)[0].lower()}{measure_name(measure)[1:]} most"
                       f" ({option}): " + "; then ".join(text for _, text in swings) + ".")
    return out


def notes(table: pd.DataFrame) -> list[str]:
    """What a reader must know to read the comparisons: base solved once, inputs moving together."""
    out = []
    twin = table.attrs.get("same_as_base")
    if twin:
        out.append(f"The scenario as loaded ('base') has the same settings as the option '{twin}': it was "
                   f"solved once, as '{twin}'.")
    kind = common_factor(table)
    if kind == "scale":
        out.append("Every uncertain input moves together: in each draw one common factor scales every response "
                   "curve's gains (the response models share one draw group). That cannot change which "
                   "allocation an option chooses, so it cannot change how the options rank: the draws show how "
                   "uncertain the size of the gains is, not which option is better. To let a ranking change, "
                   "draw each service's effect size on its own: model_uncertainty = \"per-service\" under "
                   "[sweep] in a sweep file.")
        shares = best_shares(table)
        if ((shares["p_best"] > 0) & (shares["p_best"] < 1)).any():
            out.append("Where the best option still differs between draws here, an option has more than one "
                       "equally good allocation (or two options are within the solver's tolerance) and the "
                       "solver picked another: not an effect of the uncertainty.")
    elif kind == "together":
        out.append("Every uncertain input moves together (the same quantile of each in every draw): the draws "
                   "explore one source of uncertainty, not the inputs' separate ones.")
    elif len(scales := [c for c in drawn_columns(table) if c.startswith("response.") and c.endswith(".scale")]) > 1:
        out.append(f"The {len(scales)} response curves' effect sizes are drawn each on its own (per service), so "
                   "they move apart and a ranking of the options can change from draw to draw.")
    return out


def failures(table: pd.DataFrame) -> list[str]:
    """How many points failed, and the first reason."""
    points = table.drop_duplicates("point")
    failed = points[points["status"] != "ok"]
    if failed.empty:
        return []
    kinds = ", ".join(f"{n:,} {kind}" for kind, n in failed["status"].value_counts().items())
    first = failed.iloc[0]
    at = ", ".join(f"{g} {parameter_text(g, first[g])}" for g in grid_columns(table))
    return [f"{len(failed):,} of the {len(points):,} points failed ({kinds}); the first ({first['option']}"
            + (f", {at}" if at else "") + f"): {first['reason']}"]


def findings(table: pd.DataFrame) -> list[str]:
    """Everything the sweep found, as sentences: failures, notes, best how often, ranges, movers."""
    return failures(table) + notes(table) + best_sentences(table) + range_sentences(table) + mover_sentences(table)
