"""Hostile solving (issue #10): a scenario that cannot be solved says why, with the right exit code.

Exit codes: 0 success; 1 could not solve (infeasible, solver failure, time limit), with the
reason in money and rules; 2 bad input.  Five classes of cases: infeasibility (the money
checks and the solver's, exit 1, naming only rules the scenario has), equity (gradient
constraints beyond reach name the constraint and the most it can ask for), time limits
(refused unless a finite number of seconds > 0; one that expires is exit 1 with the reason,
HiGHS and CBC), exit codes (every error class carries its own), and the API (non-finite
numbers never reach a solver; compare and frontier name what failed).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATA, edit
from hostile import expect, tiny_copy

import allocator
import allocator.analysis.frontier as frontier_module
import allocator.analysis.pipeline as pipeline
import allocator.model.solver as solver_module
from allocator import errors
from allocator.analysis.compare import compare, options_from
from allocator.cli import main
from allocator.model import diagnose
from allocator.model.lp import build, check_finite
from allocator.model.resolve import Resolver

QUICKSTART = Path(__file__).parent.parent / "scenarios" / "quickstart"
PACE = "\n[pace_of_change]\nmax_decrease = {down}\nmax_increase = {up}\n"
LOCKED = 'baseline = "baseline.csv"\nlocked = "locked.csv"'


@pytest.fixture(scope="module")
def tiny_s():
    return allocator.load(DATA / "tiny")


@pytest.fixture(scope="module")
def quick_s():
    return allocator.load(QUICKSTART)


def _append(folder: Path, text: str) -> None:
    (folder / "scenario.toml").write_text((folder / "scenario.toml").read_text() + text)


def _objective(folder: Path, lines: str) -> None:
    edit(folder / "scenario.toml", 'name = "health-gain"', f'name = "health-gain"\n{lines}')


# ============================================================== infeasibility
def _floors(f: Path) -> None:
    edit(f / "scenario.toml", "total_gbp = 100000", "total_gbp = 20000")


def _caps(f: Path) -> None:  # visits at most 8 x 20 x 850 = £136,000; checks at most 1 x 10 x 5,000
    edit(f / "services.csv", "0.5,,deprivation", "0.5,1.0,deprivation")
    edit(f / "scenario.toml", "total_gbp = 100000", "total_gbp = 500000")


def _pace(f: Path) -> None:  # baseline £78,500: 5% down at most needs £74,575
    _append(f, PACE.format(down=0.05, up=0.5))
    edit(f / "scenario.toml", "total_gbp = 100000", "total_gbp = 70000")


def _locked(f: Path) -> None:
    (f / "locked.csv").write_text("area_id,service_id,spend_gbp\nA2,checks,90000\n")
    edit(f / "scenario.toml", 'baseline = "baseline.csv"', LOCKED)


MONEY = {"floors above the budget": (_floors, ("floors alone need £42,000 but the budget is £20,000",
                                               "the minimum feasible budget is £42,000")),
         "caps below an exact budget": (_caps, ("caps and locked lines allow at most £186k",
                                                "mode = \"at-most\"")),
         "pace against a budget cut": (_pace, ("the minimum feasible budget is £74,575",
                                               "allow decreases of at least 10.8%")),
         "locked lines over the budget": (_locked, ("floors need £32,000 and locked lines £90,000",))}


@pytest.mark.parametrize("command", ["run", "validate", "compare"])
@pytest.mark.parametrize("case", sorted(MONEY))
def test_the_money_checks_are_infeasible_exit_1(tmp_path, command, case):
    """Well formed but no allocation: exit 1 like any infeasible scenario (it was 2), same message."""
    folder = tiny_copy(tmp_path / "s")
    breaks, fragments = MONEY[case]
    breaks(folder)
    expect(1, [command, folder], "the scenario is well formed, but no allocation meets its rules",
           "scenario.toml", *fragments, unchanged=[folder])


def test_a_minimum_slope_beyond_the_budget_says_the_budget_it_needs(tmp_path):
    folder = tiny_copy(tmp_path / "s")
    edit(folder / "scenario.toml", "min_slope = 0.0", "min_slope = 3.0")
    expect(1, ["run", folder], "floors and the minimum slope alone need £", "raise the budget by £",
           unchanged=[folder])


def _conflict(folder: Path) -> None:
    _append(folder, PACE.format(down=0.0, up=0.0))
    edit(folder / "scenario.toml", "total_gbp = 100000", "total_gbp = 75500")
    edit(folder / "baseline.csv", "A1,visits,8000\nA1,checks,9000", "A1,visits,6000\nA1,checks,8000")


def test_a_conflict_never_blames_locked_lines_a_scenario_does_not_have(tmp_path):
    folder = tiny_copy(tmp_path / "s")
    _conflict(folder)
    out = expect(1, ["run", folder], "which conflict with the floors and caps: loosen one of them",
                 unchanged=[folder])
    assert "locked" not in out.output


def test_a_conflict_names_locked_lines_a_scenario_has(tmp_path):
    folder = tiny_copy(tmp_path / "s")
    _conflict(folder)
    (folder / "locked.csv").write_text("area_id,service_id,spend_gbp\nA4,checks,\n")  # at its baseline
    edit(folder / "scenario.toml", 'baseline = "baseline.csv"', LOCKED)
    expect(1, ["run", folder], "the floors, caps and locked lines", "review the locked lines", unchanged=[folder])


def test_the_money_error_is_both_infeasible_and_bad_input_for_the_api(tmp_path):
    folder = tiny_copy(tmp_path / "s")
    _floors(folder)
    with pytest.raises(errors.InfeasibleBudgetError) as info:
        allocator.load(folder)
    assert isinstance(info.value, errors.InfeasibleError) and isinstance(info.value, errors.ScenarioError)
    assert info.value.exit_code == 1 and "floors alone need" in info.value.problems[0].message


# ============================================================== equity
ASKED = {"sii_reduction": 50.0, "gap_reduction": 50.0, "worst_off_at_least": 150.0}
LIMIT = re.compile(r"(?:can fall by at most|can reach at most|can fall to) ([\d,.]+) years")


@pytest.mark.parametrize("name", sorted(ASKED))
@pytest.mark.parametrize("which", ["tiny", "quickstart"])
def test_an_equity_constraint_beyond_reach_says_the_most_it_can_ask(request, which, name):
    s = request.getfixturevalue("tiny_s" if which == "tiny" else "quick_s")
    with pytest.raises(errors.InfeasibleError) as info:
        allocator.run(s.with_(**{name: ASKED[name]}))
    text = str(info.value)
    assert f"[objective] {name} asks for" in text and "with this budget and these rules" in text
    assert f"lower {name} or raise the budget" in text
    assert "locked" not in text and "floors" not in text  # rules that are not the conflict
    limit = float(LIMIT.search(text).group(1).replace(",", ""))
    assert allocator.run(s.with_(**{name: limit})).allocation.spend.sum() > 0  # the limit is attainable


def test_a_worst_off_level_of_a_bad_outcome_says_how_far_it_can_fall(tiny_s):
    bad = tiny_s.with_(gradient=dataclasses.replace(tiny_s.gradient, higher_is_better=False))
    with pytest.raises(errors.InfeasibleError) as info:
        allocator.run(bad.with_(worst_off_at_least=70.0))
    text = str(info.value)
    assert "can fall to" in text and "raise worst_off_at_least" in text
    limit = float(LIMIT.search(text).group(1))
    allocator.run(bad.with_(worst_off_at_least=limit))
    with pytest.raises(errors.InfeasibleError):
        allocator.run(bad.with_(worst_off_at_least=limit - 1e-3))


def test_equity_constraints_each_within_reach_but_not_together(quick_s):
    sii = diagnose.reduction_limit(quick_s.with_(sii_reduction=0.0), "sii_reduction")
    gap = diagnose.reduction_limit(quick_s.with_(gap_reduction=0.0), "gap_reduction")
    with pytest.raises(errors.InfeasibleError, match="can each be met alone .* but not together"):
        allocator.run(quick_s.with_(sii_reduction=0.99 * sii, gap_reduction=0.99 * gap))


@pytest.mark.parametrize("incumbent", [True, False])
def test_a_limit_search_stopped_by_the_clock_brackets_the_attainable_reduction(quick_s, monkeypatch, incumbent):
    exact = diagnose.reduction_limit(quick_s.with_(sii_reduction=0.0), "sii_reduction")
    real = diagnose.solve

    def stopped(lp, **kwargs):  # the limit's MILP stopped at the clock: its incumbent and bound
        x = real(lp, **kwargs).x
        error = errors.SolverError("HiGHS (branch and bound) stopped at the time limit of 1 s")
        best = float(lp.cost @ x)
        error.incumbent, error.bound = (best + 0.25 * abs(exact), best - 0.5 * abs(exact))
        if not incumbent:
            error.incumbent = None
        raise error

    monkeypatch.setattr(diagnose, "solve", stopped)
    # the MILP's search (quickstart has no pace of change, so its limit is otherwise proven at once
    # in suffix form by `gradient_bound`, with no clock to stop)
    monkeypatch.setattr(diagnose.gradient_bound, "applies", lambda scenario: False)
    with pytest.raises(diagnose.Bracket) as info:
        diagnose.reduction_limit(quick_s.with_(sii_reduction=0.0), "sii_reduction")
    assert info.value.high == pytest.approx(1.5 * exact, rel=1e-9)
    assert (info.value.low == pytest.approx(0.75 * exact, rel=1e-9)) if incumbent else info.value.low is None
    over = quick_s.with_(sii_reduction=2 * exact)  # beyond the bound: certainly out of reach
    text = diagnose.equity_reason(over)
    assert "can fall by at most" in text and "stopped at the time limit" in text and "asks for" in text
    assert ("at least" in text) == incumbent
    # inside the bracket: the scenario was proven infeasible with this one gradient constraint,
    # so the limit lies below what it asks, whatever the search found
    inside = diagnose.equity_reason(quick_s.with_(sii_reduction=1.2 * exact))
    assert "can fall by less than" in inside and "no allocation reaches it" in inside
    assert "may be attainable" not in inside and ("at least" in inside) == incumbent


def test_equity_on_top_of_a_money_conflict_says_the_money(tiny_s):
    s = tiny_s.with_(min_slope=np.array([3.0, 3.0]), sii_reduction=0.001)
    with pytest.raises(errors.InfeasibleError, match="floors and the minimum slope alone need £154k but the budget "
                                                     "is £100k: the minimum feasible budget is £154k"):
        allocator.run(s)


def test_maximin_reaches_the_worst_off_limit(tiny_s):
    """Regression: in suffix form total gain weighed as much as the worst-off level (not a tie-break)."""
    result = allocator.run(tiny_s.with_(objective="maximin"))
    worst = float(result.by_decile["outcome_projected"].min())
    assert worst == pytest.approx(diagnose.worst_off_limit(tiny_s), rel=2e-7)  # less a hair: two stages
    assert worst > float(allocator.run(tiny_s).by_decile["outcome_projected"].min()) + 1e-3


def test_an_impossible_equity_constraint_in_a_manifest_is_exit_1(tmp_path):
    folder = tiny_copy(tmp_path / "s")
    _objective(folder, "sii_reduction = 50")
    out = expect(1, ["run", folder], "[objective] sii_reduction asks for 50 years", "can fall by at most",
                 unchanged=[folder])
    assert "locked" not in out.output


@pytest.mark.parametrize("args", [["run", "--explain"], ["compare"]])
def test_a_reachable_equity_constraint_is_explained_and_compared(tmp_path, args):
    """Regression: the waterfall's fair-share steps kept the SII constraint: 'infeasible'."""
    folder = tiny_copy(tmp_path / "s")
    _objective(folder, "sii_reduction = 0.001")
    expect(0, [args[0], folder, *args[1:]], unchanged=[folder])


def test_fair_share_under_a_gradient_constraint_is_refused(tmp_path):
    folder = tiny_copy(tmp_path / "s")
    edit(folder / "scenario.toml", 'name = "health-gain"', 'name = "fair-share"\nsii_reduction = 0.001')
    expect(2, ["run", folder], "the fair-share objective cannot meet sii_reduction", unchanged=[folder])


# ============================================================== time limits
@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "-inf"])
def test_a_time_limit_that_is_no_limit_is_bad_input(value):
    expect(2, ["run", DATA / "tiny", "--time-limit", value], "--time-limit",
           "expected a finite number of seconds > 0", unchanged=[DATA / "tiny"])


@pytest.mark.parametrize("value", ["10", True, float("nan"), -0.5, 0])
def test_the_api_refuses_a_time_limit_that_is_no_limit(tiny_s, value):
    with pytest.raises(errors.SettingsError, match="--time-limit") as info:
        allocator.run(tiny_s, time_limit=value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_time_limit_that_expires_is_exit_1_with_the_reason(solver):
    expect(1, ["run", DATA / "tiny", "--solver", solver, "--time-limit", "1e-9"], "time limit",
           "before proving optimality", "raise --time-limit")


def test_a_time_limit_bounds_every_round_of_a_milp(tiny_s):
    with pytest.raises(errors.SolverError, match="time limit"):
        allocator.run(tiny_s.with_(sii_reduction=0.001), time_limit=1e-9)


def test_a_time_limit_long_enough_solves(tmp_path):
    expect(0, ["run", DATA / "tiny", "--time-limit", "60", "-q"], unchanged=[DATA / "tiny"])


@pytest.mark.parametrize("setting", [{"solver": "gurobi"}, {"method": "barrier"}])
def test_an_unknown_solver_or_method_is_bad_input(tiny_s, setting):
    with pytest.raises(errors.SettingsError) as info:
        allocator.run(tiny_s, **setting)
    assert info.value.exit_code == 2 and repr(next(iter(setting.values()))) in str(info.value)


# ============================================================== exit codes
def _subclasses(cls) -> list[type]:
    import allocator.analysis.store  # noqa: F401  (each module that defines an error)
    import allocator.analysis.sweep_plan  # noqa: F401
    import allocator.analysis.workers  # noqa: F401
    import allocator.build.checks  # noqa: F401

    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return sorted(set(found), key=lambda c: c.__qualname__)


ALL_ERRORS = _subclasses(errors.AllocatorError)


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_every_error_has_an_exit_code_of_1_or_2(cls):
    allowed = {1, 2, 130} if cls.__name__ == "SweepInterrupted" else {1, 2}  # Ctrl-C: 130 by convention
    assert cls.exit_code in allowed
    assert "exit code" in (cls.__doc__ or "") or cls.__module__ != "allocator.errors"


EXPECTED = {"AllocatorError": 2, "ScenarioError": 2, "SettingsError": 2, "InfeasibleError": 1,
            "InfeasibleBudgetError": 1, "SolverError": 1, "InvariantError": 1, "WorkerError": 1}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_error_class_has_its_documented_exit_code(name):
    from allocator.analysis.workers import WorkerError

    cls = getattr(errors, name, None) or WorkerError
    assert cls.exit_code == EXPECTED[name]
    assert f"exit code {EXPECTED[name]}" in cls.__doc__ or name == "AllocatorError"


def test_a_solvable_scenario_is_exit_0(tmp_path):
    expect(0, ["run", DATA / "tiny", "-q"], unchanged=[DATA / "tiny"])


# ============================================================== API and defence in depth
NON_FINITE = {"budget_gbp": float("nan"), "unit_cost": np.array([np.nan, 10.0]),
              "cost_index": np.array([np.inf, 1, 1, 1]), "floor": np.array([np.nan, 0.5]),
              "cap": np.array([np.nan, np.inf]), "population": np.array([np.inf, 2000, 1500, 500]),
              "min_slope": np.array([np.nan, 0.0]), "sii_reduction": float("inf"),
              "worst_off_at_least": float("nan"), "pace": (float("nan"), 0.1),
              "locked": np.full((4, 2), np.inf)}


@pytest.mark.parametrize("field", sorted(NON_FINITE))
def test_a_non_finite_number_never_reaches_a_solver(monkeypatch, tiny_s, field):
    """dataclasses.replace skips the scenario's checks: the model refuses the number by name."""
    def never(*args, **kwargs):
        raise AssertionError("a solver was called")

    monkeypatch.setattr(solver_module, "_solve_highs", never)
    monkeypatch.setattr(solver_module, "_solve_cbc", never)
    with pytest.raises(errors.ScenarioError, match=f"{field}: expected finite numbers") as info:
        allocator.run(dataclasses.replace(tiny_s, **{field: NON_FINITE[field]}))
    assert info.value.exit_code == 2


CORRUPT = {"cost": ("cost", 0, np.nan, "the objective coefficient of column raise(visits,1,from_A4) is nan"),
           "col_upper": ("col_upper", 1, np.nan, "the upper bound of column raise(visits,1,from_A3) is nan"),
           "col_lower": ("col_lower", 0, np.inf, "the lower bound of column raise(visits,1,from_A4) is inf"),
           "row_upper": ("row_upper", 0, -np.inf, "the upper bound of row budget is -inf"),
           "matrix": ("matrix", 0, np.inf, "the coefficient of raise(visits,1,from_A4) in row budget is inf")}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_a_model_holding_a_non_finite_number_is_refused_before_solving(monkeypatch, tiny_s, case):
    field, index, value, message = CORRUPT[case]
    lp = build(tiny_s)
    if field == "matrix":
        matrix = lp.matrix.copy()
        matrix.data[index] = value
        lp = dataclasses.replace(lp, matrix=matrix)
    else:
        array = getattr(lp, field).copy()
        array[index] = value
        lp = dataclasses.replace(lp, **{field: array})
    with pytest.raises(errors.ScenarioError, match=re.escape(message)):
        check_finite(lp)
    monkeypatch.setattr(solver_module, "_solve_highs", lambda *a, **k: pytest.fail("HiGHS was called"))
    with pytest.raises(errors.ScenarioError):
        solver_module.solve(lp)
    with pytest.raises(errors.ScenarioError):
        Resolver().solve(lp)


def test_a_pace_of_change_without_a_baseline_is_refused(tmp_path):
    folder = tiny_copy(tmp_path / "s")
    edit(folder / "scenario.toml", 'baseline = "baseline.csv"\n', "")
    s = allocator.load(folder)
    with pytest.raises(errors.ScenarioError, match="a pace of change needs a baseline"):
        allocator.run(dataclasses.replace(s, pace=(0.1, 0.1)))


OPTIONS = ('\n[[option]]\nname = "Plain"\n\n[[option]]\nname = "Too equal"\nsii_reduction = 50\n'
           '\n[[option]]\nname = "Poorer"\ntotal_gbp = {budget}\n')


@pytest.mark.parametrize("budget, option, fragment", [
    (90000, "Too equal", "[objective] sii_reduction asks for 50 years"),
    (1000, "Poorer", "floors alone need £42,000 but the budget is £1,000")])
def test_compare_names_the_option_that_cannot_be_solved(tmp_path, budget, option, fragment):
    folder = tiny_copy(tmp_path / "s")
    _append(folder, OPTIONS.format(budget=budget))
    expect(1, ["compare", folder], f"option '{option}'", fragment, unchanged=[folder])
    with pytest.raises(errors.InfeasibleError, match=f"option '{option}'"):
        compare(options_from([allocator.load(folder)]), waterfall=False, prices=False)


def test_the_frontier_names_the_point_that_failed(monkeypatch, tiny_s):
    real = frontier_module.run

    def failing(scenario, **kwargs):
        if scenario.worst_off_at_least is not None:
            raise errors.SolverError("HiGHS stopped at the time limit")
        return real(scenario, **kwargs)

    monkeypatch.setattr(frontier_module, "run", failing)
    with pytest.raises(errors.SolverError, match=r"the frontier's point 1 \(worst-off group at least"):
        frontier_module.frontier(tiny_s, points=3)


def test_a_failed_diagnosis_keeps_the_solvers_word(monkeypatch, tiny_s):
    def broken(*args, **kwargs):
        raise errors.SolverError("diagnosis failed")

    monkeypatch.setattr(pipeline, "explain_infeasible", broken)
    with pytest.raises(errors.InfeasibleError, match="the solver proved that no allocation meets every"):
        allocator.run(tiny_s.with_(sii_reduction=50.0))
    monkeypatch.undo()
    with pytest.raises(errors.InfeasibleError, match="the solver proved"):
        allocator.run(tiny_s.with_(sii_reduction=50.0), diagnose=False)


def test_the_time_limit_bounds_the_whole_command_not_each_solve(monkeypatch, tmp_path):
    """--explain re-solves once per rule: with every solve slowed to 0.4 s, a limit of 1 s stops the
    command after about 1 s (exit 1, saying so), never after each solve's own second."""
    import time as clock

    import allocator.model.solver as solver_module

    real = solver_module._solve_highs

    def slow(lp, method, time_limit):
        clock.sleep(0.4)
        return real(lp, method, solver_module.limited(time_limit))

    monkeypatch.setattr(solver_module, "_solve_highs", slow)
    start = clock.perf_counter()
    result = CliRunner().invoke(main, ["run", str(DATA / "tiny"), "--explain", "--time-limit", "1"])
    elapsed = clock.perf_counter() - start
    assert result.exit_code == 1, result.output
    assert "time limit of 1 s" in result.output and "raise --time-limit" in result.output
    assert elapsed < 4.0  # without the one clock: a dozen solves of 0.4 s, and exit 0


def test_a_milp_stopped_by_its_limit_says_what_it_found_and_the_bound_in_the_objectives_units():
    from types import SimpleNamespace

    from allocator.model.solver import _stopped

    lp = SimpleNamespace(integrality=np.array([1]), maximize=True, objective_scale=1e-6)
    found = SimpleNamespace(mip_dual_bound=-2.5e-6 * 1.01, objective_function_value=-2.5e-6, primal_solution_status=2)
    error = _stopped(SimpleNamespace(getInfo=lambda: found), lp, "HiGHS (branch and bound)", 60.0)
    text = str(error)
    assert error.incumbent == pytest.approx(2.5) and error.bound == pytest.approx(2.525)
    assert "the best allocation found reaches an objective of 2.5 and none can reach more than 2.525" in text
    assert "(a gap of 1%)" in text and text.endswith("raise --time-limit")
    nothing = SimpleNamespace(mip_dual_bound=-3e-6, objective_function_value=np.inf, primal_solution_status=0)
    error = _stopped(SimpleNamespace(getInfo=lambda: nothing), lp, "HiGHS (branch and bound)", 60.0)
    text = str(error)
    assert error.incumbent is None and error.bound == pytest.approx(3)
    assert "no allocation meeting every rule was found yet, and none can reach more than an objective of 3" in text
