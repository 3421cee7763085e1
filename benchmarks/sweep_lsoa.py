#!/usr/bin/env python
"""A budget sweep of england-lsoa (33,755 LSOAs x 8 services): what a point costs at national scale.

    .venv/bin/python benchmarks/sweep_lsoa.py              # 20 points (about 2 minutes)
    .venv/bin/python benchmarks/sweep_lsoa.py --points 40

Three runs of the same sweep (budget 3.4-3.8 bn GBP, 2 local worker processes, an output
folder), in this process's order:

- *anchored* (allocator's default): the scenario as loaded is solved once, before the chunks
  are handed out; every chunk's first point starts from that basis, the rest from the point
  before (`allocator.model.resolve`); each point measures only what a sweep records;
- *cold chunks*: the same, without the anchor (each chunk's first point solved from scratch);
- *every point cold* (`chunk_size=1`, no anchor): the baseline, a fresh solve for every point.

*s/point* is the sweep's wall time over its points; *warm point s* is the mean of the points'
own clocks (`run_point`, inside the workers) over the points that follow another in their chunk,
*chunk start s* over the first points of chunks.  The objectives of every point must agree
with the all-cold run to 1e-7 (relative).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import allocator  # noqa: E402
from allocator.analysis import workers  # noqa: E402

SCENARIO = ROOT / "scenarios" / "england-lsoa"


def timed(points: int, anchor: bool, chunk_size: int | None):
    spec = f"3.4e9:3.8e9:{points}"
    real = workers.anchored
    if not anchor:
        workers.anchored = lambda context: context
    try:
        with tempfile.TemporaryDirectory(prefix="allocator-lsoa-sweep-") as out:
            start = time.perf_counter()
            table = allocator.sweep(SCENARIO, {"budget": spec}, out=out, plots=False, workers=2,
                                    chunk_size=chunk_size)
            seconds = time.perf_counter() - start
    finally:
        workers.anchored = real
    return seconds, table


def point_times(table, chunk: int) -> tuple[float, float]:
    per = table.groupby("point")["seconds"].first()
    first = per[per.index % chunk == 0] if chunk > 1 else per
    rest = per[per.index % chunk != 0] if chunk > 1 else per.iloc[0:0]
    return (float(rest.mean()) if len(rest) else float("nan")), float(first.mean())


def objectives(table):
    rows = table[table["measure"] == "objective"].set_index("point")["after"]
    return rows.sort_index()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=20)
    args = parser.parse_args(argv)
    from allocator.analysis.workers import chunk_plan

    n = args.points
    chunk = chunk_plan(n)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    runs = {}
    for name, anchor, size in (("anchored (default)", True, None), ("cold chunks (no anchor)", False, None),
                               ("every point cold (baseline)", False, 1)):
        print(f"... {name}", file=sys.stderr, flush=True)
        runs[name] = (timed(n, anchor, size), size or chunk)
    base_seconds = runs["every point cold (baseline)"][0][0]
    reference = objectives(runs["every point cold (baseline)"][0][1])
    print(f"- {n} points, chunks of {chunk}, 2 worker processes; load average {load} at the start, "
          f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())} at the end; {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print()
    print("| case | points | wall s | s/point | warm point s (in worker) | chunk start s (in worker) "
          "| x baseline | largest objective difference |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, ((seconds, table), size) in runs.items():
        ok = (table.groupby("point")["status"].first() == "ok").all()
        warm, first = point_times(table, size)
        diff = float(((objectives(table) - reference).abs() / reference.abs().clip(lower=1e-12)).max())
        print(f"| {name} | {n} | {seconds:.1f} | {seconds / n:.2f} | "
              f"{'—' if warm != warm else f'{warm:.2f}'} | {first:.2f} | {seconds / base_seconds:.2f} | "
              f"{diff:.1e}{'' if ok else ' (NOT every point ok)'} |")


if __name__ == "__main__":
    main()
