"""Time a budget sweep of england-la: local workers, cold solves, the CLI, Dask; print a markdown table.

    .venv/bin/python benchmarks/sweep.py              # print the table (a few minutes on 2 cores)
    .venv/bin/python benchmarks/sweep.py --write      # ... and put it into benchmarks/README.md

Cases, run one after another in this order, each sweep into its own fresh temporary
output folder (so the SQLite store, tidy CSV/Parquet and summary are written and
timed; plots are off):

- **local**: ``allocator.sweep(path, {"budget": "3.45e9:4.1e9:N"}, workers=2)``,
  chunks of consecutive points that warm-start HiGHS from the point before;
- **dask**: the same sweep with ``scheduler=`` a client of
  ``distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``;
  the cluster's start-up is timed separately and left out of the sweep's time;
- **cold**: the same sweep with ``chunk_size=1``: every point its own chunk, so every
  solve is cold (the same machinery without model reuse);
- **CLI**: ``allocator run scenarios/england-la -q`` run ``--cli-runs`` times in a row
  (a fresh process each: imports, load, build, solve, report); the mean per run is
  extrapolated to N runs, one after another and spread over 2 cores (mean x N / 2).

Every sweep is checked: each point's status is "ok" and its ``total_spend`` is its
budget within 1 GBP; Dask's ``after`` values are compared with the local run's,
point by point and measure by measure.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

import allocator
from allocator.analysis.workers import chunk_plan
from allocator.scenario import parameters

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "england-la"
README = Path(__file__).resolve().parent / "README.md"
START, END = "<!-- sweep:start -->", "<!-- sweep:end -->"
BUDGETS = (3.45e9, 4.1e9)
POINTS = 1_000
CLI_RUNS = 20
WORKERS = 2
# the targets
SECONDS_PER_1000 = 60.0  # the local sweep, 1,000 points on 2 cores
MIN_SPEEDUP = 3.0  # the sweep's time per point against the CLI's
MAX_DASK_RATIO = 1.3  # dask / local
SPEND_TOLERANCE_GBP = 1.0
BUSY_SHARE = 0.05  # other processes using more of the cores than this during a case: say so


@dataclass
class Case:
    name: str
    points: int
    seconds: float
    target: str = "—"
    met: bool | None = None


# --------------------------------------------------------------------------- measuring

def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds the whole machine has been busy, CPU seconds of this process and its reaped children).

    The difference over a window is what other processes used meanwhile: the machine
    is shared, and a busy neighbour slows every case down.
    """
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # user .. steal, no guest (in user)
    ours = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))
    return busy, ours


def others(since: tuple[float, float]) -> float:
    """CPU seconds other processes used since ``since`` (a `cpu_seconds` reading)."""
    busy, ours = cpu_seconds()
    return max(0.0, (busy - since[0]) - (ours - since[1]))


def timed_sweep(points: int, **kwargs):
    """Run the budget sweep into a fresh temporary folder; return (seconds, tidy table)."""
    spec = f"{BUDGETS[0]}:{BUDGETS[1]}:{points}"
    with tempfile.TemporaryDirectory(prefix="allocator-sweep-bench-") as out:
        start = time.perf_counter()
        table = allocator.sweep(SCENARIO, {"budget": spec}, out=out, plots=False, **kwargs)
        seconds = time.perf_counter() - start
    return seconds, table


def check(table, points: int) -> tuple[bool, str]:
    """Every point ok, every ``total_spend`` its budget within 1 GBP: (passed, what was found)."""
    by_point = table.drop_duplicates("point")
    bad = by_point[by_point["status"] != "ok"]
    if len(by_point) != points or len(bad):
        first = "" if bad.empty else (f"; first: point {bad.iloc[0]['point']} {bad.iloc[0]['status']}: "
                                      f"{bad.iloc[0]['reason']}")
        return False, f"{len(by_point):,} points in the table, {len(bad):,} not ok{first}"
    spend = table[table["measure"] == "total_spend"]
    if len(spend) != points or set(spend["units"]) != {"GBP"}:
        return False, (f"expected {points:,} total_spend rows in GBP, got {len(spend):,} "
                       f"({', '.join(sorted(set(spend['units'])))})")
    off = spend["after"] - spend["budget"]
    gap = off.abs()
    if not (gap <= SPEND_TOLERANCE_GBP).all():
        worst = spend.loc[gap.idxmax()]
        over, under = int((off > SPEND_TOLERANCE_GBP).sum()), int((off < -SPEND_TOLERANCE_GBP).sum())
        return False, (f"{over + under:,} of {points:,} points spend more than {SPEND_TOLERANCE_GBP:.0f} GBP "
                       f"off their budget ({over:,} over, {under:,} under); worst: point {worst['point']}, "
                       f"{worst['after'] - worst['budget']:+,.2f} GBP on {worst['budget']:,.2f} GBP "
                       f"({gap.max() / worst['budget']:.1e} of it)")
    return True, f"{points:,}/{points:,} points ok, total_spend within {gap.max():.2g} GBP of the budget"


def worst_spend(table) -> tuple[float, float] | None:
    """The budget whose ``total_spend`` is furthest from it, and its gap solved alone (``allocator.run``).

    None if every point is within 1 GBP: the check passed.
    """
    spend = table[table["measure"] == "total_spend"]
    gap = (spend["after"] - spend["budget"]).abs()
    if spend.empty or gap.max() <= SPEND_TOLERANCE_GBP:
        return None
    budget = float(spend.loc[gap.idxmax(), "budget"])
    result = allocator.run(parameters.apply(allocator.load(SCENARIO), {"budget": budget}))
    return budget, float(result.allocation.spend.sum() - budget)


def compare_after(a, b) -> tuple[bool, str]:
    """Are ``after`` values the same in two tidy tables, point by point, measure by measure?"""
    keys = ["point", "measure"]
    left = a[keys + ["after"]].set_index(keys)["after"].sort_index()
    right = b[keys + ["after"]].set_index(keys)["after"].sort_index()
    if not left.index.equals(right.index):
        return False, f"different (point, measure) pairs: {len(left):,} against {len(right):,}"
    x, y = left.to_numpy(float), right.to_numpy(float)
    same = (x == y) | (np.isnan(x) & np.isnan(y))
    if same.all():
        return True, f"all {len(x):,} (point, measure) values equal"
    diff = np.abs(x - y)[~same]
    return False, (f"{(~same).sum():,} of {len(x):,} (point, measure) values differ "
                   f"(largest difference {np.nanmax(diff):.3g})")


def objective_gap(a, b) -> float:
    """Largest relative difference of the objective between two tables, over the points."""
    oa = a[a["measure"] == "objective"].set_index("point")["after"].sort_index()
    ob = b[b["measure"] == "objective"].set_index("point")["after"].sort_index()
    return float((np.abs(oa - ob) / np.maximum(np.abs(oa), 1e-12)).max())


def in_worker(table) -> float:
    """Mean seconds per point inside the workers (``run_point``'s own clock)."""
    return float(table.drop_duplicates("point")["seconds"].mean())


def busy_share(table, seconds: float) -> float:
    """Share of the workers' wall time (``WORKERS`` x ``seconds``) spent inside ``run_point``."""
    return float(table.drop_duplicates("point")["seconds"].sum()) / (WORKERS * seconds)


def revision() -> str:
    """The commit allocator is at, and a digest of allocator/'s uncommitted changes if any.

    Read at the start and the end: someone committing or editing meanwhile shows.
    """
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changes = git("status", "--porcelain", "allocator") + git("diff", "HEAD", "--", "allocator")
    if not changes:
        return f"commit {head}"
    digest = hashlib.sha256(changes.encode()).hexdigest()[:8]
    return f"commit {head} + uncommitted changes in allocator/ (digest {digest})"


def time_cli(runs: int) -> list[float]:
    """Seconds of each of ``runs`` sequential ``allocator run scenarios/england-la -q``."""
    exe = Path(sys.executable).parent / "allocator"
    command = [str(exe), "run", str(SCENARIO.relative_to(ROOT)), "-q"]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return times


def start_dask():
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True)
    client = Client(cluster)
    return cluster, client, time.perf_counter() - start


# --------------------------------------------------------------------------- reporting

def machine() -> str:
    cores = len(os.sched_getaffinity(0))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"- Machine: {cores} cores (`os.sched_getaffinity`), {cpu}; Python {platform.python_version()}, "
            f"highspy {version('highspy')}, dask {version('dask')} (distributed {version('distributed')}); "
            f"run on {time.strftime('%Y-%m-%d %H:%M %Z')}, load average {load} at the start")


def _s(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def table(cases: list[Case], local: float) -> list[str]:
    lines = ["| case | points | seconds | s/point | ratio vs local | target | met? |",
             "|---|---:|---:|---:|---:|---|---|"]
    for c in cases:
        met = "—" if c.met is None else ("yes" if c.met else "**no**")
        lines.append(f"| {c.name} | {c.points:,} | {_s(c.seconds)} | {c.seconds / c.points:.4f} | "
                     f"{c.seconds / local:.2f}x | {c.target} | {met} |")
    return lines


def explanation(points: int, cli_runs: int, missed: list[str], busy: list[str]) -> list[str]:
    text = (
        f"`benchmarks/sweep.py` times a {points:,}-point budget sweep of `scenarios/england-la` "
        f"(296 districts x 8 services, budget {BUDGETS[0] / 1e9:.2f}–{BUDGETS[1] / 1e9:.2f} bn GBP), "
        f"each run into a fresh temporary output folder (SQLite store, tidy tables; no plots), "
        f"from `allocator.sweep` being called (with the scenario's path) to its table coming back. "
        f"*local* runs it on {WORKERS} worker processes in chunks of {chunk_plan(points)} consecutive "
        f"points, each point warm-starting HiGHS from the one before; *cold* is the same machinery "
        f"with `chunk_size=1`, so every point's LP goes into a new HiGHS model, solved from scratch "
        f"(every point builds its LP in both); *dask* sends the same chunks to a "
        f"`distributed.LocalCluster({WORKERS} worker processes, 1 thread each)`, whose start-up is "
        f"timed but not counted. "
        f"The CLI baseline runs `allocator run scenarios/england-la -q` (a fresh process: imports, "
        f"load, build, solve, report) {cli_runs} times in a row and extrapolates the mean run to "
        f"{points:,} runs, one after another (mean x {points:,}) and spread over {WORKERS} cores "
        f"(mean x {points:,} / {WORKERS}); those rows are extrapolated, not measured. "
        f"Every sweep is checked (every point ok, `total_spend` equal to the budget within "
        f"{SPEND_TOLERANCE_GBP:.0f} GBP), and Dask's values are compared with the local run's, "
        f"point by point. "
        f"*ratio vs local* is the case's time over the local sweep's, so for the CLI rows it is the "
        f"sweep's speed-up per point.")
    out = [text, ""]
    if missed:
        out.append("**Not met:** " + "; ".join(missed) + ".")
    else:
        out.append("Every target was met in this run.")
    if busy:
        out[-1] += (" Other processes were busy during " + ", ".join(busy)
                    + " (last line below): those times are likely inflated.")
    return out


@dataclass
class Runs:
    """What `measure` found: each sweep's seconds and tidy table, the CLI's times, the checks."""

    local_s: float
    local_t: object
    dask_s: float
    dask_t: object
    dask_startup: float
    cold_s: float
    cold_t: object
    cli: list[float]
    checks: dict  # sweep -> (passed, what was found)
    identical: bool  # Dask's values are the local run's
    same_text: str
    other: dict  # case -> (CPU seconds used by other processes, wall seconds of the window)


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=POINTS, help="sweep points (default: %(default)s)")
    parser.add_argument("--cli-runs", type=int, default=CLI_RUNS,
                        help="sequential `allocator run` calls to time (default: %(default)s)")
    parser.add_argument("--write", action="store_true", help="write the section into benchmarks/README.md")
    args = parser.parse_args(argv)
    if args.points < 2 or args.cli_runs < 1:
        parser.error("--points must be >= 2 and --cli-runs >= 1")
    return args


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def watched(other: dict, key: str, run):
    """``run()``, noting in ``other[key]`` what other processes used meanwhile (CPU s, wall s)."""
    mark, wall = cpu_seconds(), time.perf_counter()
    result = run()
    other[key] = (others(mark), time.perf_counter() - wall)
    return result


def dask_sweep(n: int):
    """(seconds, table, cluster start-up seconds) of the sweep on a fresh LocalCluster."""
    cluster, client, dask_startup = start_dask()
    try:
        say(f"dask: {n:,} points ...")
        dask_s, dask_t = timed_sweep(n, scheduler=client)
    finally:
        client.close()
        cluster.close()
    return dask_s, dask_t, dask_startup


def measure(n: int, cli_runs: int) -> Runs:
    """Run the cases one after another: local, dask, cold, CLI; check each sweep."""
    other = {}
    say(f"local: {n:,} points on {WORKERS} workers ...")
    local_s, local_t = watched(other, "local", lambda: timed_sweep(n, workers=WORKERS))
    checks = {"local": check(local_t, n)}

    say("dask: starting a LocalCluster ...")
    dask_s, dask_t, dask_startup = watched(other, "dask", lambda: dask_sweep(n))
    checks["dask"] = check(dask_t, n)
    identical, same_text = compare_after(local_t, dask_t)

    say(f"cold: {n:,} points, chunk_size=1 ...")
    cold_s, cold_t = watched(other, "cold", lambda: timed_sweep(n, workers=WORKERS, chunk_size=1))
    checks["cold"] = check(cold_t, n)

    say(f"CLI: {cli_runs} runs ...")
    cli = watched(other, "CLI", lambda: time_cli(cli_runs))
    return Runs(local_s=local_s, local_t=local_t, dask_s=dask_s, dask_t=dask_t, dask_startup=dask_startup,
                cold_s=cold_s, cold_t=cold_t, cli=cli, checks=checks, identical=identical,
                same_text=same_text, other=other)


def make_cases(runs: Runs, n: int, cli_runs: int) -> dict[str, Case]:
    """The table's rows, each with its target and whether it was met."""
    local_s, dask_s = runs.local_s, runs.dask_s
    cli_mean = statistics.fmean(runs.cli)
    target_s = SECONDS_PER_1000 * n / 1000
    target_text = f"< {target_s:.0f} s" + ("" if n == 1000 else f" ({SECONDS_PER_1000:.0f} s per 1,000)")
    return {
        "local": Case(f"local: `workers={WORKERS}`, warm starts within chunks", n, local_s, target_text,
                      local_s < target_s),
        "cold": Case(f"cold: `workers={WORKERS}, chunk_size=1` (every solve cold)", n, runs.cold_s,
                     "— (model-reuse baseline)"),
        "cli": Case(f"CLI one after another: mean of {cli_runs} runs x {n:,} (extrapolated)", n,
                    cli_mean * n, f"sweep ≥ {MIN_SPEEDUP:.0f}x faster per point",
                    cli_mean * n / local_s >= MIN_SPEEDUP),
        "cli2": Case(f"CLI on {WORKERS} cores: mean x {n:,} / {WORKERS} (extrapolated)", n,
                     cli_mean * n / WORKERS, f"sweep ≥ {MIN_SPEEDUP:.0f}x faster per point",
                     cli_mean * n / WORKERS / local_s >= MIN_SPEEDUP),
        "dask": Case(f"dask: LocalCluster, {WORKERS} processes x 1 thread (start-up excluded)", n, dask_s,
                     f"≤ {MAX_DASK_RATIO}x local", dask_s / local_s <= MAX_DASK_RATIO),
    }


def shortfalls(cases: dict[str, Case], runs: Runs, n: int, alone) -> list[str]:
    """Each target not met and each failed check, in words."""
    local_s, dask_s = runs.local_s, runs.dask_s
    target_s = SECONDS_PER_1000 * n / 1000
    missed = []
    if not cases["local"].met:
        missed.append(f"the local sweep took {local_s:.1f} s for {n:,} points, over the {target_s:.0f} s "
                      f"target ({local_s / n * 1000:.1f} ms per point; in the workers "
                      f"{in_worker(runs.local_t) * 1000:.1f} ms per point)")
    for key in ("cli", "cli2"):
        if not cases[key].met:
            missed.append(f"against {cases[key].name}, the sweep is {cases[key].seconds / local_s:.2f}x "
                          f"faster per point, under the {MIN_SPEEDUP:.0f}x target")
    if not cases["dask"].met:
        missed.append(f"Dask took {dask_s / local_s:.2f}x the local time ({dask_s:.1f} s against "
                      f"{local_s:.1f} s), over the {MAX_DASK_RATIO}x target")
    failed = [key for key, (passed, _) in runs.checks.items() if not passed]
    if failed:
        also = "" if alone is None else (f"; the local sweep's worst point, solved alone with "
                                         f"`allocator.run`, is {alone[1]:+,.2f} GBP off its budget too")
        missed.append(f"the checks failed for the {', '.join(failed)} sweep{'s' if len(failed) > 1 else ''} "
                      f"(see *Checks* below{also})")
    if not runs.identical:
        missed.append(f"Dask's values are not the local run's: {runs.same_text}")
    return missed


def make_notes(runs: Runs, n: int, cli_runs: int, alone, elapsed: float, code: str,
               code_end: str) -> list[str]:
    """The bullet points under the table: checks, Dask against local, time inside the workers ..."""
    local_t, dask_t, cold_t, cli = runs.local_t, runs.dask_t, runs.cold_t, runs.cli
    cli_mean = statistics.fmean(cli)
    notes = [
        "- Checks: " + "; ".join(f"{key} {'passed' if passed else '**FAILED**'}: {found}"
                                 for key, (passed, found) in runs.checks.items()) + ".",
        f"- Dask against local, `after` point by point and measure by measure: "
        f"{'**identical**' if runs.identical else '**not identical**'} ({runs.same_text}). "
        f"LocalCluster start-up (not in the dask row): {runs.dask_startup:.1f} s.",
        f"- Time per point inside the workers (`run_point`'s own clock, mean): local "
        f"{in_worker(local_t) * 1000:.1f} ms, dask {in_worker(dask_t) * 1000:.1f} ms, cold "
        f"{in_worker(cold_t) * 1000:.1f} ms; that is {busy_share(local_t, runs.local_s):.0%}, "
        f"{busy_share(dask_t, runs.dask_s):.0%} and {busy_share(cold_t, runs.cold_s):.0%} of {WORKERS} x the wall "
        f"time, the rest being loading the scenario, starting workers, passing points and saving them. "
        f"Cold against warm objective: largest relative difference {objective_gap(local_t, cold_t):.1e}.",
        f"- CLI: {cli_runs} runs of `allocator run scenarios/england-la -q`, mean {cli_mean:.2f} s "
        f"(sd {statistics.stdev(cli) if len(cli) > 1 else 0.0:.2f} s, min {min(cli):.2f} s, "
        f"max {max(cli):.2f} s); the CLI rows multiply that mean, they were not run {n:,} times.",
        f"- Whole benchmark (`benchmarks/sweep.py --points {n} --cli-runs {cli_runs}`): "
        f"{elapsed:.0f} s; allocator at {code}"
        + ("" if code_end == code
           else f" at the start and at {code_end} at the end (**changed during the run**)")
        + f"; load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())} at the end.",
    ]
    cores = len(os.sched_getaffinity(0))
    notes.append("- Other processes on the machine meanwhile (busy CPU from `/proc/stat` minus this "
                 "benchmark's own): " + ", ".join(f"{key} {used:.1f} CPU s ({used / (span * cores):.0%} of "
                                                  f"{cores} cores over {span:.0f} s)"
                                                  for key, (used, span) in runs.other.items()) + ".")
    if alone is not None:
        notes.insert(1, f"- The local sweep's worst total_spend, solved alone (`allocator.run` at "
                        f"{alone[0]:,.2f} GBP, a cold solve outside any sweep): {alone[1]:+,.2f} GBP off "
                        f"the budget, so the gap is not the sweep's doing.")
    return notes


def busy_cases(other: dict) -> list[str]:
    """The cases during which other processes used more than ``BUSY_SHARE`` of the cores."""
    cores = len(os.sched_getaffinity(0))
    return [f"the {key} case ({used / (span * cores):.0%} of the cores)"
            for key, (used, span) in other.items() if used > BUSY_SHARE * span * cores]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    n = args.points
    started = time.perf_counter()
    header = machine()
    code = revision()
    runs = measure(n, args.cli_runs)
    cases = make_cases(runs, n, args.cli_runs)
    alone = worst_spend(runs.local_t)
    missed = shortfalls(cases, runs, n, alone)
    elapsed = time.perf_counter() - started
    code_end = revision()
    notes = make_notes(runs, n, args.cli_runs, alone, elapsed, code, code_end)
    busy = busy_cases(runs.other)
    lines = [header, "", *table(list(cases.values()), runs.local_s), "", *notes]
    print("\n".join(lines))
    if missed:
        print("\nNot met: " + "; ".join(missed) + ".")
    if args.write:
        prose = [textwrap.fill(p, 88) if p else p for p in explanation(n, args.cli_runs, missed, busy)]
        section = ["## Sweeps", "", *prose, "", *lines]
        write_section("\n".join(section))
    return 0


def write_section(text: str) -> None:
    """Replace the text between the sweep markers, adding them after the existing content."""
    readme = README.read_text()
    if START not in readme or END not in readme:
        readme = readme.rstrip("\n") + f"\n\n{START}\n{END}\n"
    before, rest = readme.split(START, 1)
    _, after = rest.split(END, 1)
    README.write_text(before + START + "\n" + text + "\n" + END + after)


if __name__ == "__main__":
    sys.exit(main())
