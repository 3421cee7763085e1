#!/usr/bin/env python
"""How long `allocator new` takes to write a scenario for a place, end to end from the command line.

    .venv/bin/python benchmarks/new.py            # prints the table
    .venv/bin/python benchmarks/new.py --write    # ... and puts it into benchmarks/README.md

Each case runs `allocator new` in a fresh process (imports, reading the packaged national
table, building the areas, writing the folder, the budget check) three times and keeps
the fastest. The baseline, timed in the same run, is the floor no builder can beat: a
fresh process that imports pandas, reads the national table and writes the same number
of rows as CSV. Targets (issue 11): England at LSOA level < 10 s, any district < 2 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = Path(__file__).resolve().parent / "README.md"
START, END = "<!-- new:start -->", "<!-- new:end -->"
CASES = [
    ("England, LSOAs", ["--england", "--level", "lsoa"], 33_755),
    ("England, districts", ["--england", "--level", "district"], 296),
    ("an ICB (Cheshire and Merseyside), LSOAs", ["--icb", "QYG", "--level", "lsoa"], None),
    ("a district (Blackpool), LSOAs", ["--district", "Blackpool", "--level", "lsoa"], 94),
    ("a district (Birmingham), wards", ["--district", "Birmingham", "--level", "ward"], None),
    ("a district (Cornwall), LSOAs, a budget near the caps (a warning: the check solves 10 times)",
     ["--district", "Cornwall", "--level", "lsoa", "--budget", "85e6"], 336),
]
BASELINE = """
import sys, pandas as pd
from importlib.resources import files
table = pd.read_parquet(files("allocator.build") / "data" / "lsoa21.parquet")
table.head(int(sys.argv[1])).to_csv(sys.argv[2], index=False)
"""


def fastest(command: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        folder = Path(tempfile.mkdtemp(prefix="allocator-bench-new-"))
        start = time.perf_counter()
        subprocess.run([*command, str(folder / "out")], check=True, capture_output=True, cwd=folder)
        best = min(best, time.perf_counter() - start)
        shutil.rmtree(folder, ignore_errors=True)
    return best


def rows_written(args: list[str]) -> int:
    folder = Path(tempfile.mkdtemp(prefix="allocator-bench-new-"))
    try:
        subprocess.run([sys.executable, "-m", "allocator.cli", "new", *args, "--out", str(folder / "s")],
                       check=True, capture_output=True)
        return sum(1 for _ in (folder / "s" / "areas.csv").open()) - 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def table() -> str:
    load = os.getloadavg()[0]
    lines = [f"- Machine: {os.cpu_count()} CPUs, {platform.platform()}, load average {load:.2f} at the start",
             f"- Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; fastest of 3 fresh processes",
             "",
             "| place | areas | `allocator new` s | baseline s (import, read, write the rows) | ratio |",
             "|---|---:|---:|---:|---:|"]
    for label, args, expected in CASES:
        rows = rows_written(args)
        if expected is not None and rows != expected:
            raise SystemExit(f"{label}: {rows} areas written, expected {expected}")
        new = fastest([sys.executable, "-m", "allocator.cli", "new", *args, "-q", "--out"])
        base = fastest([sys.executable, "-c", BASELINE, str(rows)])
        lines.append(f"| {label} | {rows:,} | {new:.2f} | {base:.2f} | {new / base:.1f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the table into benchmarks/README.md")
    args = parser.parse_args()
    text = table()
    print(text)
    if args.write:
        readme = README.read_text()
        block = f"{START}\n{text}\n{END}"
        readme = (re.sub(f"{re.escape(START)}.*?{re.escape(END)}", lambda _: block, readme, flags=re.S)
                  if START in readme else readme.rstrip("\n") + "\n\n## `allocator new`\n\n" + block + "\n")
        README.write_text(readme)


if __name__ == "__main__":
    main()
