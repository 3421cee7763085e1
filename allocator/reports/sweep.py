"""What a finished sweep leaves in its folder: the tidy table, summaries, plots, sweep.json."""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

import pandas as pd

from allocator.analysis.store import read
from allocator.analysis.sweep_plan import Plan
from allocator.analysis.sweeps import probabilities, summary
from allocator.reports.outputs import atomic_write, csv_bytes
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
