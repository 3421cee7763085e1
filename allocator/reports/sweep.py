"""What a finished sweep leaves in its folder (the tidy table, summaries, plots, sweep.json) and says."""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

import pandas as pd

from allocator.analysis.store import read
from allocator.analysis.sweep_plan import Plan
from allocator.analysis.sweeps import OUTPUTS, probabilities, summary
from allocator.format import compact, plain
from allocator.reports.files import output
from allocator.reports.outputs import atomic_write, csv_bytes, text_table
from allocator.reports.sweep_plots import plot_sweep
from allocator.scenario import Scenario, parameters


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
            base = None
            if plan.design == "one-at-a-time":
                base = {k: parameters.base_value(scenario, k) for k in plan.grid}
            written += plot_sweep(table, list(plan.grid), out / "plots", base=base)
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
    key = ["sii_outcome", "gap_absolute_outcome", "mean_outcome", "total_gain"]
    summ = summary(table)
    summ = summ[summ["measure"].isin(key)]
    if len(summ):
        grid = table.attrs.get("grid", [])
        drawn = table["draw"].notna().any()
        cells = summ["mean"].map(lambda v: plain(v, 4))
        if drawn:
            cells = cells + " [" + summ["p05"].map(lambda v: plain(v, 4)) + ", " + summ["p95"].map(
                lambda v: plain(v, 4)) + "]"
        wide = (summ.assign(cell=cells).pivot_table(index=["option", *grid], columns="measure",
                                                    values="cell", aggfunc="first", sort=False)
                .reindex(columns=[k for k in key if k in set(summ["measure"])]).reset_index())
        wide.columns.name = None
        if drawn:
            lines += ["", "mean [90% interval] over the draws:"]
        lines += ["", text_table(wide.head(30))]
        if len(wide) > 30:
            lines.append(f"... {len(wide) - 30} more rows in {out / 'summary.csv'}")
    probs = probabilities(table)
    if len(probs):
        order = {name: k for k, name in enumerate(dict.fromkeys(table["option"]))}
        sii = probs[(probs["measure"] == "sii_outcome")
                    & (probs["option_a"].map(order) < probs["option_b"].map(order))]
        lines.append("")
        grid = table.attrs.get("grid", [])
        for row in sii.head(15).to_dict(orient="records"):
            at = ", ".join(f"{k} = {compact(row[k])}" for k in grid)
            closer, further = row["p_a_closer_to_zero"], row["p_a_further_from_zero"]
            lines.append(f"P({row['option_a']} leaves a narrower gradient (smaller |SII|) than "
                         f"{row['option_b']}" + (f" at {at}" if at else "")
                         + f") = {closer:.3f}; wider {further:.3f}, the same "
                         f"{1 - closer - further:.3f} ({row['draws']} draws)")
        if len(sii) > 15:
            lines.append(f"... {len(sii) - 15} more in {out / 'probabilities.csv'}")
    written = [name + ("/" if name == "plots" else "") for name in OUTPUTS
               if name != "sweep.sqlite" and (out / name).exists()]
    lines += ["", f"Wrote in {out}: {', '.join(written)} (and sweep.sqlite, every point as it finished)"]
    return "\n".join(lines)
