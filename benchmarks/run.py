"""Time allocator end to end against raw HiGHS and a naive formulation; print a markdown table.

    .venv/bin/python benchmarks/run.py            # print the table
    .venv/bin/python benchmarks/run.py --write    # ... and put it into benchmarks/README.md

Cases: seeded synthetic scenarios (`allocator.build.synthetic`, monotone, health-gain,
8 services) at 300, 7,000 and 32,844 areas, generated into a temporary folder,
and the real ``scenarios/england-la`` and ``scenarios/england-lsoa``.  Each case
runs in a fresh Python process so that its peak memory (``ru_maxrss``) is its
own.  In that process, after `allocator.run` and its peak memory are recorded,
the same LP (``result.lp``'s arrays) is passed to raw highspy in one
``passModel`` call and solved with the method allocator chose: the baseline.
For the smaller synthetic sizes a second process builds the naive textbook
formulation of DESIGN.md with scipy (segment variables per area x service, one
ordering row per consecutive pair in need order) and solves it with HiGHS dual
simplex, capped at 120 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from allocator.model.solver import _configure, choose_method, highs_model, new_highs

ROOT = Path(__file__).resolve().parent.parent
README = Path(__file__).resolve().parent / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
SIZES = (300, 7_000, 32_844)
NAIVE_SIZES = (300, 7_000)
NAIVE_TIME_LIMIT = 120.0
SEED = 0


# --------------------------------------------------------------------------- children

def _peak_mb() -> float:
    """This process's peak resident memory in MB.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` across ``execve``,
    so a child spawned by a big parent would report the parent's peak as its own.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def child_allocator(path: str) -> dict:
    import allocator

    rss_imports = _peak_mb()
    result = allocator.run(path)
    peak = _peak_mb()
    lp, solution = result.lp, result.solution
    method = re.search(r"\((\w+)", solution.solver).group(1)
    # the baseline: the same arrays straight into highspy, same method and options; for a model
    # allocator sifted, the whole LP as allocator would solve it without sifting (`choose_method`)
    h = new_highs()
    if "sifting" in solution.solver:
        _configure(h, lp, choose_method(lp), None)
        method = "sifting"
    else:
        h.setOptionValue("random_seed", 0)
        h.setOptionValue("solver", method)
        if method == "ipm":
            h.setOptionValue("run_crossover", "on")
    start = time.perf_counter()
    h.passModel(highs_model(lp))
    h.run()
    raw_seconds = time.perf_counter() - start
    raw_status = h.modelStatusToString(h.getModelStatus())
    raw_objective = -h.getInfo().objective_function_value / lp.objective_scale
    formulations = sorted(set(lp.formulation.values()))
    return {"areas": result.scenario.n_areas, "services": result.scenario.n_services,
            "rows": lp.n_rows, "cols": lp.n_cols, "groups": len(lp.groups.service),
            "formulation": "+".join(formulations), "method": method,
            "seconds": result.seconds, "peak_mb": peak, "imports_mb": rss_imports,
            "objective": solution.objective, "raw_seconds": raw_seconds,
            "raw_status": raw_status, "raw_objective": raw_objective}


def naive_lp(scenario):
    """DESIGN.md's textbook LP: segment columns per line, one ordering row per consecutive pair.

    Health-gain, monotone, no pace of change or locked lines (the synthetic benchmark cases).
    Every area x service line has its own columns ``seg[a,s,k]`` (``0 <= seg <= length_k``,
    intensity ``floor + sum_k seg``); the budget row holds them all; per service, lines
    sorted by need (then value per GBP) get a row ``sum_k seg[hi,k] - sum_k seg[lo,k] >= 0``
    for each consecutive pair.  Scaled like allocator's LP (budget row / B, costs / max).
    """
    import numpy as np
    import scipy.sparse as sp
    from allocator.model.lp import pieces

    A, S = scenario.n_areas, scenario.n_services
    unit, weight = scenario.unit_spend, scenario.gain_weight
    budget = scenario.budget_gbp
    cost, upper, col_line, budget_coef = [], [], [], []
    for s, model in enumerate(scenario.response_models):
        p = pieces(model.units_per_head, model.gain_per_head, scenario.floor[s], scenario.cap[s])
        for length, slope in zip(p.lengths, p.slopes):
            cost.append(-slope * weight[:, s])
            upper.append(np.full(A, length))
            col_line.append(np.arange(A) * S + s)
            budget_coef.append(unit[:, s] / budget)
    cost, upper = np.concatenate(cost), np.concatenate(upper)
    col_line, budget_coef = np.concatenate(col_line), np.concatenate(budget_coef)
    n_cols = len(cost)
    cols_of_line = [[] for _ in range(A * S)]
    for j, line in enumerate(col_line.tolist()):
        cols_of_line[line].append(j)
    rows, cols, vals = [np.zeros(n_cols, np.int64)], [np.arange(n_cols)], [budget_coef]
    n_rows = 1
    for s in range(S):
        order = np.lexsort((weight[:, s] / unit[:, s], scenario.need[:, s]))
        lines = order * S + s
        for lo, hi in zip(lines[:-1].tolist(), lines[1:].tolist()):
            for sign, line in ((-1.0, lo), (1.0, hi)):
                c = cols_of_line[line]
                rows.append(np.full(len(c), n_rows))
                cols.append(np.array(c))
                vals.append(np.full(len(c), sign))
            n_rows += 1
    matrix = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(n_rows, n_cols))
    fixed = float((unit * scenario.floor[None, :]).sum())
    rhs = (budget - fixed) / budget
    row_lower = np.concatenate([[rhs], np.zeros(n_rows - 1)])
    row_upper = np.concatenate([[rhs], np.full(n_rows - 1, np.inf)])
    scale = 1.0 / np.abs(cost).max()
    return SimpleNamespace(n_cols=n_cols, n_rows=n_rows, cost=cost * scale, col_lower=np.zeros(n_cols),
                           col_upper=upper, matrix=matrix, row_lower=row_lower, row_upper=row_upper,
                           objective_scale=scale)


def child_naive(path: str) -> dict:
    import highspy

    import allocator

    start = time.perf_counter()
    scenario = allocator.load(path)
    load_seconds = time.perf_counter() - start
    mark = time.perf_counter()
    lp = naive_lp(scenario)
    build_seconds = time.perf_counter() - mark
    h = new_highs()
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("simplex_strategy", 1)  # dual
    h.setOptionValue("time_limit", NAIVE_TIME_LIMIT)
    mark = time.perf_counter()
    h.passModel(highs_model(lp))
    h.run()
    solve_seconds = time.perf_counter() - mark
    status = h.modelStatusToString(h.getModelStatus())
    objective = -h.getInfo().objective_function_value / lp.objective_scale
    return {"areas": scenario.n_areas, "services": scenario.n_services, "rows": lp.n_rows,
            "cols": lp.n_cols, "load": load_seconds, "build": build_seconds,
            "solve": solve_seconds, "status": status, "objective": objective,
            "peak_mb": _peak_mb(), "time_limit": h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit}


# --------------------------------------------------------------------------- parent

def machine() -> list[str]:
    import numpy
    import pulp
    import scipy

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    h = new_highs()
    return [
        f"- Machine: {nproc} CPUs (`nproc`), {cpu}, {mem_kb / 1024 ** 2:.1f} GB RAM, "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, HiGHS {h.version()} (highspy), PuLP {pulp.__version__}, "
        f"numpy {numpy.__version__}, scipy {scipy.__version__}",
        f"- Run on {time.strftime('%Y-%m-%d %H:%M %Z')}",
    ]


def run_child(kind: str, path: Path) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        target = Path(out.name)
    try:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", kind,
                               str(path), str(target)], cwd=ROOT, capture_output=True, text=True,
                              timeout=1200)
        if proc.returncode != 0:
            raise RuntimeError(f"{kind} child for {path} failed:\n{proc.stderr[-3000:]}")
        return json.loads(target.read_text())
    finally:
        target.unlink(missing_ok=True)


def _s(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def table(results: list[tuple[str, dict, dict | None]]) -> list[str]:
    head = ("| case | areas | services | rows | cols | formulation | load s | build s | solve s "
            "(solver's own) | evaluate s | total s | peak memory MB | outside-solver / solver "
            "| raw highspy solve s | total / raw highspy |")
    align = ["---"] + ["---:"] * 4 + ["---"] + ["---:"] * 9
    lines = [head, "|" + "|".join(align) + "|"]
    for case, r, naive in results:
        sec = r["seconds"]
        evaluate = sec["evaluate"] + sec["gradient"]
        outside = sec["total"] - sec["solver"]
        method = {"ipm": "IPM", "simplex": "dual simplex", "pdlp": "PDLP",
                  "sifting": "sifting (baseline: IPM on the whole LP)"}.get(r["method"], r["method"])
        lines.append(
            f"| {case} | {r['areas']:,} | {r['services']} | {r['rows']:,} | {r['cols']:,} | "
            f"allocator: {r['formulation']}, {method} | {_s(sec['load'])} | {_s(sec['build'])} | "
            f"{_s(sec['solver'])} | {_s(evaluate)} | **{_s(sec['total'])}** | {r['peak_mb']:.0f} | "
            f"{outside / sec['solver']:.2f}x | {_s(r['raw_seconds'])} | "
            f"{sec['total'] / r['raw_seconds']:.2f}x |")
        if naive is not None:
            solve = f">{NAIVE_TIME_LIMIT:.0f}" if naive["time_limit"] else _s(naive["solve"])
            total = (f">{NAIVE_TIME_LIMIT:.0f}" if naive["time_limit"]
                     else _s(naive["load"] + naive["build"] + naive["solve"]))
            lines.append(
                f"| ↳ naive reference | {naive['areas']:,} | {naive['services']} | {naive['rows']:,} | "
                f"{naive['cols']:,} | naive: segments + ordering rows, dual simplex | "
                f"{_s(naive['load'])} | {_s(naive['build'])} | {solve} | — | {total} | "
                f"{naive['peak_mb']:.0f} | — | — | — |")
    return lines


def notes(results: list[tuple[str, dict, dict | None]], generated: dict[int, float]) -> list[str]:
    out = []
    for case, r, naive in results:
        gap = abs(r["raw_objective"] - r["objective"]) / max(abs(r["objective"]), 1e-12)
        line = (f"- {case}: {r['groups']:,} line groups for {r['areas'] * r['services']:,} lines; "
                f"peak memory after imports {r['imports_mb']:.0f} MB; raw highspy {r['raw_status']}, "
                f"objective within {gap:.1e} of allocator's")
        if naive is not None:
            if naive["time_limit"]:
                line += (f"; naive formulation hit the {NAIVE_TIME_LIMIT:.0f} s limit "
                         f"(allocator's solver: {_s(r['seconds']['solver'])} s)")
            else:
                ngap = (r["objective"] - naive["objective"]) / max(abs(r["objective"]), 1e-12)
                line += (f"; naive solve {_s(naive['solve'])} s vs allocator's solver "
                         f"{_s(r['seconds']['solver'])} s ({naive['solve'] / r['seconds']['solver']:.0f}x), "
                         f"naive objective {naive['status']}, {ngap:+.1e} relative below allocator's")
        out.append(line + ".")
    if generated:
        out.append("- Generating the synthetic scenarios (not timed above): "
                   + ", ".join(f"{n:,} areas {s:.1f} s" for n, s in generated.items()) + ".")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write the table into benchmarks/README.md")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="synthetic sizes, comma-separated (default: %(default)s)")
    parser.add_argument("--no-real", action="store_true", help="skip the real England scenarios")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive reference rows")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, path, out = args.child
        result = child_allocator(path) if kind == "allocator" else child_naive(path)
        Path(out).write_text(json.dumps(result))
        return 0

    sys.path.insert(0, str(ROOT))
    from allocator.build.synthetic import write_scenario

    started = time.perf_counter()
    header = machine()
    results, generated = [], {}
    with tempfile.TemporaryDirectory(prefix="allocator-bench-") as tmp:
        cases = []
        for n in (int(x) for x in args.sizes.split(",") if x):
            mark = time.perf_counter()
            folder = write_scenario(Path(tmp) / f"synthetic-{n}", n, 8, seed=SEED)
            generated[n] = time.perf_counter() - mark
            cases.append((f"synthetic {n:,} (seed {SEED})", folder,
                          n in NAIVE_SIZES and not args.no_naive))
        if not args.no_real:
            cases += [("scenarios/england-la", ROOT / "scenarios" / "england-la", False),
                      ("scenarios/england-lsoa", ROOT / "scenarios" / "england-lsoa", False)]
        for case, folder, with_naive in cases:
            print(f"running {case} ...", file=sys.stderr, flush=True)
            r = run_child("allocator", folder)
            naive = run_child("naive", folder) if with_naive else None
            results.append((case, r, naive))
    elapsed = time.perf_counter() - started
    lines = header + [f"- Whole benchmark (`benchmarks/run.py`): {elapsed:.0f} s", ""]
    lines += table(results) + [""] + notes(results, generated)
    text = "\n".join(lines)
    print(text)
    if args.write:
        readme = README.read_text()
        if START not in readme or END not in readme:
            raise SystemExit(f"{README}: markers {START} and {END} not found")
        before, rest = readme.split(START, 1)
        _, after = rest.split(END, 1)
        README.write_text(before + START + "\n" + text + "\n" + END + after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
