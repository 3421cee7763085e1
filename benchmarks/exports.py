#!/usr/bin/env python
"""How long the LP file export and the CBC fallback take, against CBC's own time on the same model.

    .venv/bin/python benchmarks/exports.py                 # england-la and england-lsoa
    .venv/bin/python benchmarks/exports.py --only england-la

For each scenario, in this process: `allocator.model.lp.build`, then

- ``write_lp``: the LP file a person reads (every name), written by HiGHS from the arrays;
- ``cbc``: `allocator.model.solver.solve(lp, solver="cbc")`, end to end (MPS written by HiGHS,
  CBC run, its solution read back);
- the baseline, measured in the same run: CBC's own command line on the same MPS file
  (``cbc model.mps solve solu answer``), the time the process takes;
- ``highs``: the default solve, for reference.

Targets (issue 16): the LP file at LSOA scale < 3 s; the CBC fallback within 1.5x of CBC's own time.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCENARIOS = ("england-la", "england-lsoa")


def _timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    value = work()
    return time.perf_counter() - start, value


def measure(name: str) -> dict:
    import allocator
    from allocator.model.lp import build
    from allocator.model.solver import _cbc_path, _highs_holding, solve, write_lp

    lp = build(allocator.load(ROOT / "scenarios" / name))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        lp_seconds, _ = _timed(lambda: write_lp(lp, folder / "model.lp"))
        size = (folder / "model.lp").stat().st_size
        _highs_holding(lp, named=False).writeModel(str(folder / "model.mps"))
        command = [_cbc_path(), str(folder / "model.mps"), "solve", "solu", str(folder / "answer.txt")]
        own, _ = _timed(lambda: subprocess.run(command, capture_output=True, check=True))
    cbc_seconds, cbc = _timed(lambda: solve(lp, solver="cbc"))
    highs_seconds, highs = _timed(lambda: solve(lp))
    return {"scenario": name, "size": f"{lp.n_rows:,} x {lp.n_cols:,}", "write_lp": lp_seconds,
            "lp_mb": size / 1e6, "cbc": cbc_seconds, "cbc_own": own, "highs": highs_seconds,
            "objectives": abs(cbc.objective - highs.objective) / max(1.0, abs(highs.objective))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=SCENARIOS)
    args = parser.parse_args()
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print()
    print("| scenario | LP rows x columns | write_lp s | LP file MB | cbc s (allocator) | cbc s (its own command "
          "line, baseline) | x baseline | highs s | objectives differ by (relative) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in [args.only] if args.only else SCENARIOS:
        r = measure(name)
        print(f"| {r['scenario']} | {r['size']} | {r['write_lp']:.2f} | {r['lp_mb']:.1f} | {r['cbc']:.2f} | "
              f"{r['cbc_own']:.2f} | {r['cbc'] / r['cbc_own']:.2f} | {r['highs']:.2f} | {r['objectives']:.1e} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
