"""Solve a `LinearProgram` with HiGHS (through highspy, the default) or CBC (through PuLP).

Every solve ends in a typed `Solution` whose status has been checked in full:
a time limit, an iteration limit or an unproven optimum is never passed off as
an answer (`SolverError`), and an infeasible model raises `InfeasibleError`.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from allocator.choices import METHODS, SOLVERS  # noqa: F401  (re-exported)
from allocator.errors import InfeasibleError, Problem, SettingsError, SolverError
from allocator.model.highs import (  # noqa: F401  (re-exported: the solver's names since before the split)
    _DEADLINE,
    MIP_REL_GAP,
    Solution,
    Status,
    _clip,
    _objective,
    _shown_limit,
    choose_method,
    deadline,
    highs_model,
    keep_basis,
    limited,
    new_highs,
    pass_model,
    stopped_error,
    warm_basis,
    warm_key,
)
from allocator.model.lp import LinearProgram, check_finite


def check_settings(solver: str = "highs", method: str = "auto",
                   time_limit: float | None = None) -> float | None:
    """The time limit as seconds (or None); `SettingsError` (exit code 2) for a setting no solve can use.

    A time limit must be a finite number of seconds > 0: 0 or less would stop every solve
    at once, and NaN or infinity is no limit a person meant.
    """
    problems = []
    if solver not in SOLVERS:
        problems.append(Problem("--solver", f"expected one of {', '.join(SOLVERS)}, got {solver!r}"))
    if method not in METHODS:
        problems.append(Problem("--method", f"expected one of {', '.join(METHODS)}, got {method!r}"))
    seconds = None
    if time_limit is not None:
        try:
            seconds = float(time_limit) if not isinstance(time_limit, (bool, np.bool_, str)) else None
        except (TypeError, ValueError, OverflowError):
            seconds = None
        if seconds is None or not np.isfinite(seconds) or seconds <= 0:
            problems.append(Problem("--time-limit",
                                    f"expected a finite number of seconds > 0, got {time_limit!r}"))
    if problems:
        raise SettingsError(problems)
    return seconds


def solve(lp: LinearProgram, solver: str = "highs", method: str = "auto",
          time_limit: float | None = None) -> Solution:
    """Solve ``lp``; raise `InfeasibleError` or `SolverError` unless it is proven optimal.

    Bad settings (an unknown solver or method, a time limit that is not a finite number of
    seconds > 0) and a model holding a non-finite number raise `ScenarioError` (exit code 2)
    before any solver runs.
    """
    time_limit = limited(check_settings(solver, method, time_limit))
    check_finite(lp)
    if lp.n_cols == 0:
        return _solve_empty(lp)
    if solver == "cbc":
        return _solve_cbc(lp, time_limit)
    if lp.integrality is not None:
        return _solve_lazily(lp, method, time_limit)
    if method == "auto":
        from allocator.model import knapsack, pools, sifting, slope_pools, slopes

        # one row: a fractional knapsack (knapsack's docstring); far more columns than rows: a
        # working set of them (sifting's docstring), with a minimum slope's rows as bounds where
        # there are any (slopes' docstring); a pace of change at scale over pools of lines (pools'
        # docstring), and with a minimum slope over pools of lifts (slope_pools' docstring)
        way = (knapsack if knapsack.applies(lp) else slopes if slopes.applies(lp)
               else sifting if sifting.applies(lp) else slope_pools if slope_pools.applies(lp)
               else pools if pools.applies(lp) else None)
        if way is not None:
            start = time.perf_counter()
            solution = way.solve(lp, time_limit)
            if solution is not None:
                return solution
            if time_limit is not None:
                time_limit = max(time_limit - (time.perf_counter() - start), 1e-3)
    return _solve_highs(lp, choose_method(lp) if method == "auto" else method, time_limit)


def _solve_empty(lp: LinearProgram) -> Solution:
    """Nothing to decide (every line locked or nobody to serve): feasible iff 0 meets every row."""
    tol = 1e-9
    if np.any(lp.row_lower > tol) or np.any(lp.row_upper < -tol):
        raise InfeasibleError("every line is fixed (locked, or nobody to serve), and the fixed "
                              "spend does not meet the budget and the other rules")
    return Solution(x=np.zeros(0), objective=0.0, status=Status.OPTIMAL, solver="none (nothing to decide)",
                    seconds=0.0, row_dual=None, col_dual=None)


def _solve_lazily(lp: LinearProgram, method: str, time_limit: float | None) -> Solution:
    """A MILP whose binaries only force segments to fill in order: add them where needed.

    Solve with every binary relaxed; wherever segments fill out of order, make those
    binaries integral and solve again.  Each model is a relaxation of the full MILP,
    so the first solution that fills every segment in order is the MILP's optimum.
    The first relaxation is `thresholds.start`'s, which also rounds it to an allocation in
    order: reported with the bound if the time limit stops the branch and bound first.
    """
    end = None if time_limit is None else time.perf_counter() + time_limit
    integral = np.zeros(lp.n_cols, np.int8)
    binary_of_pair = lp.fill_pairs[:, 3].astype(np.int64)
    known, rounds, first = (None, None), 0, None
    if method == "auto":
        from allocator.model import thresholds

        first = thresholds.start(lp, time_limit)
        if first.optimum is not None:
            return first.optimum
        if first.out_of_order is not None:
            integral[binary_of_pair[first.out_of_order]] = 1
            rounds = 1
        known = (None if first.found is None else _objective(lp, first.found), first.bound)
    bound = None if first is None else first.bound
    try:
        while rounds < 29:
            rounds += 1
            model = dataclasses.replace(lp, integrality=integral.copy() if integral.any() else None)
            chosen = choose_method(model) if method == "auto" else method
            solution = _solve_highs(model, chosen, _remaining(end, time_limit), known=known)
            bad = lp.out_of_order(solution.x)
            if bad.size == 0:
                note = f", {int(integral.sum())} of {len(binary_of_pair)} binaries needed ({rounds} rounds)"
                return dataclasses.replace(solution, solver=solution.solver + note)
            integral[binary_of_pair[bad]] = 1
        return _solve_highs(lp, "simplex", _remaining(end, time_limit), known=known)
    except SolverError as error:  # stopped between rounds: what the first relaxation and its rounding know
        if bound is None or getattr(error, "bound", None) is not None:
            raise
        raise stopped_error("HiGHS (adding binaries round by round)", time_limit, lp, known[0], bound) from None


def _remaining(end: float | None, time_limit: float | None) -> float | None:
    """Seconds left before ``end`` (None: no limit); `SolverError` once it has passed."""
    if end is None:
        return None
    left = end - time.perf_counter()
    if left <= 0:
        raise SolverError(f"HiGHS stopped at the time limit of {_shown_limit(time_limit):g} s before proving "
                          "optimality (adding binaries round by round): raise --time-limit")
    return left


ROOT_BY_IPM = "branch and bound, the root LP by interior point"


def _configure(h, lp: LinearProgram, method: str, time_limit: float | None) -> str:
    """Set HiGHS's options for ``lp``; returns the method name shown to people."""
    h.setOptionValue("random_seed", 0)
    if lp.integrality is not None:
        if method == ROOT_BY_IPM:  # sparse models whose root LP simplex takes long (`suffix_milp`):
            h.setOptionValue("mip_lp_solver", "ipm")  # england-la at an SII reduction of 0.48: 18 -> 7 s
            h.setOptionValue("mip_heuristic_run_rins", False)  # with these two off
            h.setOptionValue("mip_heuristic_run_rens", False)
        method = "branch and bound"
        h.setOptionValue("mip_rel_gap", MIP_REL_GAP)
    else:
        h.setOptionValue("solver", method)
    if method == "ipm":
        h.setOptionValue("run_crossover", "on")
    streams = lp.money is not None and len(lp.money.stream_rows) > 0
    if lp.n_cols > 2_000 and (lp.n_rows < 100 or lp.n_rows * 50 < lp.n_cols) and not streams:
        # HiGHS presolve is pathological on few-row, many-column models (DESIGN.md;
        # measured: the one-row model at 32,844 areas x 8 takes 99 s with it, 5 s without);
        # with funding streams it helps (an LSOA year with three streams: 7.4 s with, 11.7 without)
        h.setOptionValue("presolve", "off")
    if lp.feasibility_tolerance is not None:
        h.setOptionValue("primal_feasibility_tolerance", lp.feasibility_tolerance)
    time_limit = limited(time_limit)
    h.setOptionValue("time_limit", float(time_limit) if time_limit is not None else float("inf"))
    return method


def _solve_highs(lp: LinearProgram, method: str, time_limit: float | None,
                 known: tuple[float | None, float | None] = (None, None)) -> Solution:
    """``known``: the objective of an allocation meeting every rule found before and a bound from a
    relaxation (or None), reported if a time limit stops a MILP where HiGHS has nothing better."""
    start = time.perf_counter()
    h = new_highs()
    method = _configure(h, lp, method, time_limit)
    pass_model(h, lp, lp.integrality)
    key = warm_key(lp) if method == "simplex" else None  # inside `warm_starts` only
    basis = warm_basis(key)
    if basis is not None:
        h.setBasis(basis)
    h.run()
    solution = _read(h, lp, f"HiGHS {h.version()} ({method})", start, time_limit, known)
    keep_basis(key, h.getBasis())
    return solution


def _read(h, lp: LinearProgram, name: str, start: float, time_limit: float | None,
          known: tuple[float | None, float | None] = (None, None)) -> Solution:
    """The solution HiGHS holds after ``run``, its status checked in full."""
    import highspy

    seconds = time.perf_counter() - start
    status = h.getModelStatus()
    ms = highspy.HighsModelStatus
    info = h.getInfo()
    if status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
        raise InfeasibleError("the solver proved that no allocation meets every constraint")
    if status == ms.kUnbounded:
        raise SolverError("the model is unbounded: a bug in allocator's formulation")
    if status == ms.kTimeLimit:
        raise _stopped(h, lp, name, time_limit, known)
    if status == ms.kIterationLimit:
        raise SolverError(f"{name} stopped at its iteration limit before proving optimality")
    if status != ms.kOptimal:
        raise SolverError(f"{name} ended with status '{h.modelStatusToString(status)}', not optimal")
    if info.primal_solution_status != 2:  # kSolutionStatusFeasible
        raise SolverError(f"{name} reported optimal but its primal solution is not feasible")
    sol = h.getSolution()
    x = np.asarray(sol.col_value, dtype=float)
    row_dual = np.asarray(sol.row_dual, dtype=float) if sol.dual_valid else None
    col_dual = np.asarray(sol.col_dual, dtype=float) if sol.dual_valid else None
    iterations = int(max(info.simplex_iteration_count, 0) + max(info.ipm_iteration_count, 0)
                     + max(info.pdlp_iteration_count, 0))
    bound = None
    if lp.integrality is not None:
        x = np.where(lp.integrality == 1, np.round(x), x)
        bound = float(info.mip_dual_bound) / lp.objective_scale * (-1.0 if lp.maximize else 1.0)
    x = _clip(lp, x)
    return Solution(x=x, objective=_objective(lp, x), status=Status.OPTIMAL,
                    solver=name, seconds=seconds, row_dual=row_dual, col_dual=col_dual,
                    iterations=iterations, bound=bound)


def _stopped(h, lp: LinearProgram, name: str, time_limit: float | None,
             known: tuple[float | None, float | None] = (None, None)) -> SolverError:
    """What a solve stopped by its time limit knows: for a MILP, the best allocation found and the
    bound no allocation can pass, in the objective's own units, and the gap between them.

    The error carries them as numbers too: ``incumbent`` (the best objective found, or None) and
    ``bound`` (the best any allocation can reach, or None), for callers that bracket a limit.
    """
    found = bound = None
    if lp.integrality is not None:
        info = h.getInfo()
        sign = -1.0 if lp.maximize else 1.0
        bound = sign * float(info.mip_dual_bound) / lp.objective_scale
        if info.primal_solution_status == 2:
            found = sign * float(info.objective_function_value) / lp.objective_scale
        better = (lambda a, b: a > b) if lp.maximize else (lambda a, b: a < b)
        if known[0] is not None and (found is None or better(known[0], found)):
            found = known[0]  # found before (by `thresholds.start`), and better
        if known[1] is not None and (not np.isfinite(bound) or better(bound, known[1])):
            bound = known[1]  # the first relaxation's bound, tighter than HiGHS's so far
    return stopped_error(name, time_limit, lp, found, bound)


def to_pulp(lp: LinearProgram, name: str = "allocation"):
    """The same LP as a PuLP problem with readable names, and its variables: for an analyst who wants
    to add to the model in PuLP (an object per variable: slow at national scale, where the solvers
    take the arrays)."""
    import pulp

    prob = pulp.LpProblem(name, pulp.LpMaximize if lp.maximize else pulp.LpMinimize)
    names = lp.col_names()
    sign = -1.0 if lp.maximize else 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        integer = lp.integrality if lp.integrality is not None else np.zeros(lp.n_cols, np.int8)
        variables = [pulp.LpVariable(n, lowBound=None if not np.isfinite(lo) else float(lo),
                                     upBound=None if not np.isfinite(up) else float(up),
                                     cat=pulp.LpInteger if k else pulp.LpContinuous)
                     for n, lo, up, k in zip(names, lp.col_lower, lp.col_upper, integer)]
        prob.setObjective(pulp.LpAffineExpression(
            [(variables[j], sign * float(lp.cost[j]) / lp.objective_scale)
             for j in np.flatnonzero(lp.cost)]))
        csr = lp.matrix.tocsr()
        constraints = {}
        for i, row_name in enumerate(lp.row_names()):
            lo_i, hi_i = csr.indptr[i], csr.indptr[i + 1]
            expr = pulp.LpAffineExpression(
                [(variables[j], float(v)) for j, v in zip(csr.indices[lo_i:hi_i], csr.data[lo_i:hi_i])])
            lo, up = lp.row_lower[i], lp.row_upper[i]
            if lo == up:
                constraints[row_name] = pulp.LpConstraint(expr, pulp.LpConstraintEQ, row_name, float(lo))
                continue
            if np.isfinite(lo):
                key = row_name if not np.isfinite(up) else f"{row_name}_lo"
                constraints[key] = pulp.LpConstraint(expr, pulp.LpConstraintGE, key, float(lo))
            if np.isfinite(up):
                key = row_name if not np.isfinite(lo) else f"{row_name}_up"
                constraints[key] = pulp.LpConstraint(expr, pulp.LpConstraintLE, key, float(up))
        prob.extend(constraints)
    return prob, variables


def _highs_holding(lp: LinearProgram, named: bool):
    """A Highs instance holding ``lp``; ``named``: as a person reads it, with its true objective and
    sense and each column's and row's name."""
    import highspy

    h = new_highs()
    if not named:
        pass_model(h, lp, lp.integrality)
        return h
    model = highs_model(lp)
    model.col_names_, model.row_names_ = list(lp.col_names()), list(lp.row_names())
    model.sense_ = highspy.ObjSense.kMaximize if lp.maximize else highspy.ObjSense.kMinimize
    model.col_cost_ = (-1.0 if lp.maximize else 1.0) * lp.cost / lp.objective_scale
    if lp.integrality is not None:
        model.integrality_ = [highspy.HighsVarType.kInteger if k else highspy.HighsVarType.kContinuous
                              for k in lp.integrality]
    h.passModel(model)
    return h


def write_lp(lp: LinearProgram, path: str | Path) -> None:
    """Write the model as a CPLEX LP file a person can read (every column and row by its name), from
    the arrays: HiGHS writes the model it holds (32,844 LSOAs x 8 services in about 3 s)."""
    path = Path(path)
    if path.suffix.lower() != ".lp":  # HiGHS picks the format by the suffix: write .lp, then copy it
        with tempfile.TemporaryDirectory(prefix="allocator-lp-") as folder:
            temp = Path(folder) / "model.lp"
            write_lp(lp, temp)
            shutil.copyfile(temp, path)
        return
    status = _highs_holding(lp, named=True).writeModel(str(path))
    if status.name == "kError":
        raise SolverError(f"HiGHS could not write the LP file {path}")


def _cbc_path() -> str:
    """The CBC binary PuLP ships (or finds)."""
    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PuLP 3.x deprecation notices about its bundled CBC
        return pulp.PULP_CBC_CMD().path


def _solve_cbc(lp: LinearProgram, time_limit: float | None) -> Solution:
    """CBC on the model as HiGHS writes it from the arrays (MPS), its solution read back by column."""
    import pulp

    start = time.perf_counter()
    name = f"CBC (PuLP {pulp.__version__})"
    with tempfile.TemporaryDirectory(prefix="allocator-cbc-") as folder:
        model, answer = Path(folder) / "model.mps", Path(folder) / "solution.txt"
        _highs_holding(lp, named=False).writeModel(str(model))
        command = [_cbc_path(), str(model)]
        if time_limit is not None:
            command += ["sec", f"{time_limit:g}"]
        done = subprocess.run([*command, "solve", "solu", str(answer)], capture_output=True, text=True)
        if not answer.is_file():
            raise SolverError(f"{name} ended without a solution (exit code {done.returncode}): "
                              f"{(done.stdout or done.stderr).strip()[-300:]}")
        lines = answer.read_text().splitlines()
    seconds = time.perf_counter() - start
    return _read_cbc(lp, lines, name, seconds, time_limit)


def _read_cbc(lp: LinearProgram, lines: list[str], name: str, seconds: float, time_limit: float | None) -> Solution:
    """CBC's solution file: its status line, then one line per column (index, name, value, reduced cost)."""
    head = lines[0] if lines else ""
    if head.startswith(("Infeasible", "Integer infeasible")):
        raise InfeasibleError("the solver proved that no allocation meets every constraint")
    if head.startswith("Unbounded"):
        raise SolverError("the model is unbounded: a bug in allocator's formulation")
    if head.startswith("Stopped") or (time_limit is not None and seconds > time_limit):
        raise SolverError(f"{name} stopped at the time limit of {time_limit:g} s before proving optimality: "
                          "raise --time-limit")
    if not head.startswith("Optimal"):
        raise SolverError(f"{name} ended with '{head}': not a proven optimum")
    x = np.zeros(lp.n_cols)
    fields = " ".join(lines[1:]).replace("**", " ").split()  # '**' marks a value CBC thinks infeasible
    if len(fields) % 4:
        raise SolverError(f"{name} wrote a solution file allocator cannot read (index, name, value, reduced cost)")
    x[np.asarray(fields[0::4], dtype=np.int64)] = np.asarray(fields[2::4], dtype=float)
    if lp.integrality is not None:
        x = np.where(lp.integrality == 1, np.round(x), x)
    x = _clip(lp, x)
    return Solution(x=x, objective=_objective(lp, x), status=Status.OPTIMAL, solver=name, seconds=seconds)
