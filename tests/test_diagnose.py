"""Infeasible scenarios get the right diagnosis in money, and the minimum feasible budget."""

from __future__ import annotations

import pytest

import allocator
from allocator.model import diagnose
from allocator.errors import ScenarioError
from conftest import edit


def message(tiny) -> str:
    with pytest.raises(ScenarioError) as info:
        allocator.load(tiny)
    return str(info.value)


def test_floors_over_budget(tiny):
    edit(tiny / "scenario.toml", "total_gbp = 100000", "total_gbp = 40000")
    text = message(tiny)
    assert "floors alone need £42,000 but the budget is £40,000" in text
    assert "the minimum feasible budget is £42,000" in text


def test_pace_of_change_against_a_budget_cut(tiny):
    # baseline totals £78,500; keeping every area within 5% needs at least 95% of it
    (tiny / "scenario.toml").write_text((tiny / "scenario.toml").read_text() +
                                        "\n[pace_of_change]\nmax_decrease = 0.05\nmax_increase = 0.5\n")
    edit(tiny / "scenario.toml", "total_gbp = 100000", "total_gbp = 70000")
    text = message(tiny)
    assert "the minimum feasible budget is £74,575" in text  # 0.95 x 78,500
    assert "raise the budget by £4,575 or allow decreases of at least 10.8%" in text


def test_contradictory_locked_lines(tiny):
    (tiny / "locked.csv").write_text("area_id,service_id,spend_gbp\nA1,visits,5000\n*,visits,\n")
    edit(tiny / "scenario.toml", 'baseline = "baseline.csv"', 'baseline = "baseline.csv"\nlocked = "locked.csv"')
    text = message(tiny)
    assert "line A1 x visits is locked twice: at £5,000.00 by an earlier row and at £8,000.00 here" in text


def test_locked_lines_over_the_budget(tiny):
    (tiny / "locked.csv").write_text("area_id,service_id,spend_gbp\nA2,checks,90000\n")
    edit(tiny / "scenario.toml", 'baseline = "baseline.csv"', 'baseline = "baseline.csv"\nlocked = "locked.csv"')
    text = message(tiny)
    # floors of the other lines: 42,000 - A2's checks floor 10,000 = 32,000
    assert "floors need £32,000 and locked lines £90,000 but the budget is £100k" in text
    assert "the minimum feasible budget is £122k" in text


def test_a_minimum_slope_beyond_the_budget_gets_the_minimum_budget(tiny):
    # a steep need slope forces high-need areas far above their floors
    edit(tiny / "scenario.toml", "min_slope = 0.0", "min_slope = 3.0")
    s = allocator.load(tiny)
    least, most = diagnose.spend_range(s)
    assert least > s.budget_gbp
    with pytest.raises(allocator.InfeasibleError):
        allocator.run(s)
    text = diagnose.explain(s)
    assert text.startswith("the rules need at least £")
    # the minimum is right: a budget of exactly that is feasible, a little less is not
    assert allocator.run(s.with_(budget_gbp=least * (1 + 1e-9))).allocation.spend.sum() > 0
    with pytest.raises(allocator.InfeasibleError):
        allocator.run(s.with_(budget_gbp=least * 0.999))


def test_rules_that_conflict_whatever_the_budget(tiny):
    (tiny / "scenario.toml").write_text((tiny / "scenario.toml").read_text() +
                                        "\n[pace_of_change]\nmax_decrease = 0.0\nmax_increase = 0.0\n")
    edit(tiny / "scenario.toml", "total_gbp = 100000", "total_gbp = 75500")
    edit(tiny / "baseline.csv", "A1,visits,8000\nA1,checks,9000", "A1,visits,6000\nA1,checks,8000")
    s = allocator.load(tiny)
    assert diagnose.spend_range(s) is None
    assert "it becomes feasible without the monotone proportionality rule or the pace-of-change" \
        in diagnose.explain(s)
