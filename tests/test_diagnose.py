"""Infeasible scenarios get the right diagnosis in money, and the minimum feasible budget."""

from __future__ import annotations

import pytest

import allocator
from allocator.model import diagnose
from allocator.errors import ScenarioError
from allocator.format import gbp
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
    import numpy as np

    s = allocator.load(tiny).with_(min_slope=np.array([3.0, 3.0]))  # (`with_` skips the money checks)
    least, most = diagnose.spend_range(s)
    assert least > s.budget_gbp
    with pytest.raises(allocator.InfeasibleError) as refused:
        allocator.run(s)
    # the money check's least (floors plus the slope's climb above each service's lowest need) is
    # the LP's own least spend
    assert f"the minimum feasible budget is {gbp(least)}" in str(refused.value)
    edit(tiny / "scenario.toml", "min_slope = 0.0", "min_slope = 3.0")
    with pytest.raises(allocator.InfeasibleError, match="floors and the minimum slope alone need"):
        allocator.load(tiny)
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


def _over_the_pace(tiny, caps):
    """tiny with a pace of -50% / +20%, Northtown's baseline doubled and the caps given."""
    import numpy as np

    s = allocator.load(tiny)
    baseline = s.baseline.copy()
    baseline[0] *= 2
    return s.with_(baseline=baseline, pace=(0.5, 0.2), cap=np.array(caps, dtype=float))


def test_a_budget_no_pace_of_change_can_spend_is_said_before_any_solve(tiny):
    """`Scenario.with_` runs no money check; `allocator.run` does, before building anything (at
    national scale the LP would search for minutes before its diagnosis)."""
    from allocator.errors import InfeasibleBudgetError
    from allocator.model.lp import build
    from allocator.model.solver import solve

    s = allocator.load(tiny).with_(pace=(0.05, 0.1))  # baseline £78,500: at most £86,350, budget £100k
    with pytest.raises(InfeasibleBudgetError, match=r"lets areas grow at most 10.0%, £86,350 in all, but the "
                                                    r"budget of £100k must be spent"):
        allocator.run(s)
    with pytest.raises(allocator.InfeasibleError):
        solve(build(s))  # the LP agrees


def test_the_caps_and_the_pace_of_change_together_against_the_budget(tiny):
    """Each area spends at most the lesser of its pace window's top and its caps: £22,000 +
    £36,000 + £27,600 + £10,200 = £95,800, below the budget, though the caps (£101k) and the
    windows (£114,600) each allow it alone."""
    from allocator.errors import InfeasibleBudgetError
    from allocator.model.lp import build
    from allocator.model.solver import solve

    s = _over_the_pace(tiny, [3.0, 1.0])
    with pytest.raises(InfeasibleBudgetError, match=r"the pace of change \(areas grow at most 20.0%\) and the caps "
                                                    r"together let the areas spend at most £95,800, but the budget "
                                                    r"of £100k must be spent: lower the budget by £4,200"):
        allocator.run(s)
    with pytest.raises(allocator.InfeasibleError):
        solve(build(s))  # the LP agrees
    assert allocator.run(_over_the_pace(tiny, [6.0, 1.0])).allocation.spend.sum() == pytest.approx(1e5)


def test_an_area_whose_caps_cannot_reach_its_pace_window_is_named(tiny):
    """Northtown's baseline doubled to £34,000: kept within 5% of it, it needs £32,300, but
    caps of 2 visits and 1 check per head let it spend at most £18,000."""
    import numpy as np

    s = allocator.load(tiny)
    baseline = s.baseline.copy()
    baseline[0] *= 2
    s = s.with_(baseline=baseline, pace=(0.05, 0.5), cap=np.array([2.0, 1.0]))
    with pytest.raises(allocator.InfeasibleError, match=r"area 'A1': its caps and locked lines allow at most "
                                                        r"£18,000 but the pace of change needs at least £32,300 "
                                                        r"\(5.0% below its baseline £34,000\): raise the caps or "
                                                        r"allow decreases of at least 47.1%"):
        allocator.run(s)


def test_a_minimum_slope_past_the_room_between_floor_and_cap_is_named(tiny):
    """Visits: floor 1, cap 8 (room 7); need runs from 0.4416 (A4) to 1.5455 (A1), so a slope
    above 7 / 1.1039 = 6.341 lifts A1 past its cap whatever else happens."""
    import numpy as np

    from allocator.model.lp import build
    from allocator.model.solver import solve

    s = allocator.load(tiny)
    steep = s.with_(min_slope=np.array([7.0, 0.0]))
    with pytest.raises(allocator.InfeasibleError, match=r"service 'visits': its minimum slope \(7 per unit of need\) "
                                                        r"lifts area 'A1' 7.72727 units per head above area 'A4', "
                                                        r"more than the 7 between the floor and the cap: lower the "
                                                        r"slope to at most 6.34117 or raise the cap"):
        allocator.run(steep)
    with pytest.raises(allocator.InfeasibleError):
        solve(build(steep))  # the LP agrees
    allocator.run(s.with_(min_slope=np.array([5.0, 0.0])))  # within the room (and the budget): solved


def test_a_minimum_slopes_climb_counts_against_the_budget(tiny):
    """Checks (floor 0.5 per head, no cap) at a slope of 3: each area climbs 3 x its need above
    A4's, £83,333 over the four areas on top of £42,000 of floors, past the £100k budget."""
    import numpy as np

    from allocator.model.lp import build
    from allocator.model.solver import solve

    s = allocator.load(tiny)
    steep = s.with_(min_slope=np.array([0.0, 3.0]))
    with pytest.raises(allocator.InfeasibleError, match=r"floors and the minimum slope alone need £125k but the "
                                                        r"budget is £100k: the minimum feasible budget is £125k; "
                                                        r"raise the budget by £25,333"):
        allocator.run(steep)
    with pytest.raises(allocator.InfeasibleError):
        solve(build(steep))  # the LP agrees
    assert allocator.run(s.with_(min_slope=np.array([0.0, 2.0]))).allocation.spend.sum() == pytest.approx(1e5)
