#!/usr/bin/env python
"""How long writing the Excel workbook (report.xlsx) takes, for England's districts and LSOAs.

    .venv/bin/python benchmarks/workbook.py                  # solve both, then time the workbook
    .venv/bin/python benchmarks/workbook.py /tmp/wb/lsoa     # ... or time saved result folders

Each case is solved first (not timed), as `allocator compare` and `allocator run --out` do,
then `allocator.reports.workbook.workbook_bytes` is timed once: every sheet, the live totals
and checks, the zip. A saved folder is read back with `allocator.reports.results.load` (not
timed either). Target (issue 12): under 15 s for England's 33,755 LSOAs x 8 services, a
1-option run (270,040 allocation lines).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = [
    ("England districts (296 x 8), 3 options compared", "scenarios/england-la", "compare"),
    ("England LSOAs (33,755 x 8), one run", "scenarios/england-lsoa", "run"),
]


def solved(folder: str, kind: str):
    """The report data and run manifest of a scenario, as the command line builds them."""
    import allocator
    from allocator.analysis.compare import comparison_of
    from allocator.reports.outputs import manifest
    from allocator.reports.results import report_data

    if kind == "compare":
        comparison = allocator.compare(ROOT / folder)
        runs = {n: manifest(r, {"solver": "highs"}) for n, r in zip(comparison.names, comparison.results)}
        return report_data(comparison, "compare"), {"options": runs}
    s = allocator.load(ROOT / folder)
    result = allocator.run(s)
    comparison = comparison_of((s.name,), (result,), waterfall=False, prices=False)
    return report_data(comparison, "run"), manifest(result, {"objective": s.objective, "solver": "highs"})


def saved(folder: str):
    from allocator.reports.results import load, load_manifest

    return load(folder), load_manifest(folder)


def timed(name: str, data, run_manifest) -> list[str]:
    from allocator.reports.workbook import workbook_bytes

    lines = len(data.tables.get("options_allocation", ()))
    start = time.perf_counter()
    body = workbook_bytes(data, run_manifest)
    seconds = time.perf_counter() - start
    return [name, f"{lines:,}", f"{seconds:.1f}", f"{len(body) / 1e6:.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", help="saved result folders to time instead of solving the cases")
    args = parser.parse_args()
    rows = ([timed(folder, *saved(folder)) for folder in args.folders] if args.folders
            else [timed(name, *solved(folder, kind)) for name, folder, kind in CASES])
    header = ["case", "allocation lines", "seconds", "MB"]
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    print(f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}")
    for row in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(row, widths))))


if __name__ == "__main__":
    main()
