"""Waterfalls add up exactly; shadow prices agree with a finite-difference re-solve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import edit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import allocator
from allocator.analysis import explain


def with_pace(tiny, down=0.3, up=0.6):
    (tiny / "scenario.toml").write_text((tiny / "scenario.toml").read_text() +
                                        f"\n[pace_of_change]\nmax_decrease = {down}\nmax_increase = {up}\n")


def test_waterfall_steps_add_up_exactly_to_each_change(tiny):
    with_pace(tiny)
    result = allocator.run(tiny)
    w = explain.waterfall(result)
    for area, rows in w.groupby("area_id"):
        start = rows.loc[rows["step"].str.startswith("start"), "amount_pennies"].item()
        end = rows.loc[rows["step"].str.startswith("end"), "amount_pennies"].item()
        steps = rows.loc[rows["step"].isin(explain.STEPS), "amount_pennies"]
        assert start + steps.sum() == end, area  # integers: exact
    final = np.round(result.allocation.spend.sum(axis=1) * 100).astype(int)
    ends = w[(w["step"] == "end: allocation") & (w["area_id"] != "ALL")]["amount_pennies"].to_numpy()
    np.testing.assert_array_equal(ends, final)


def test_waterfall_target_step_reaches_the_fair_share(tiny):
    result = allocator.run(tiny)
    w = explain.waterfall(result)
    a1 = w[w["area_id"] == "A1"].set_index("step")["amount_pennies"]
    target = round(result.scenario.fair_share[0].sum() * 100)
    assert a1["start: baseline"] + a1["need-weighted target"] == target


@pytest.mark.parametrize("pace", [False, True])
def test_budget_shadow_price_matches_a_finite_difference(tiny, pace):
    if pace:
        with_pace(tiny)
    s = allocator.load(tiny)
    base = allocator.run(s)
    bumped = allocator.run(s.with_(budget_gbp=s.budget_gbp + 1000))
    price = base.solution.budget_price(base.lp)
    difference = (explain.objective_total(bumped) - explain.objective_total(base)) / 1000
    assert price > 0
    assert price == pytest.approx(difference, rel=1e-3)


def test_price_of_a_binding_rule_is_the_loss_from_it(tiny):
    with_pace(tiny, down=0.05, up=0.05)
    edit(tiny / "scenario.toml", "total_gbp = 100000", "total_gbp = 80000")
    result = allocator.run(tiny)
    table = explain.prices(result).set_index("rule")
    relaxed = allocator.run(result.scenario.with_(pace=None))
    cost = explain.objective_total(relaxed) - explain.objective_total(result)
    assert cost > 0
    assert table.at["pace of change", "cost"] == pytest.approx(cost)
    assert table.at["pace of change", "text"].startswith("The pace of change cost ")


def test_rules_that_do_not_bind_cost_nothing(tiny):
    edit(tiny / "services.csv", "visits,Health visiting,20,pop_0_15,1.0,8.0,",
         "visits,Health visiting,20,pop_0_15,1.0,100.0,")
    table = explain.prices(allocator.run(tiny)).set_index("rule")
    assert table.at["caps", "text"] == "The caps cost nothing: the optimum already meets them."


def test_each_binding_service_floor_gets_its_own_price(tiny):
    # a high health-visiting floor binds in the least needy areas
    edit(tiny / "services.csv", "visits,Health visiting,20,pop_0_15,1.0,8.0,",
         "visits,Health visiting,20,pop_0_15,4.0,8.0,")
    result = allocator.run(tiny)
    table = explain.prices(result).set_index("rule")
    name = "visits floor (4 units per head)"
    relaxed = allocator.run(result.scenario.with_(floor=np.array([0.0, result.scenario.floor[1]])))
    cost = explain.objective_total(relaxed) - explain.objective_total(result)
    assert cost > 0
    assert table.at[name, "cost"] == pytest.approx(cost)
    assert table.at[name, "text"].startswith(f"The {name} cost ")


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick():
    return allocator.load(REPO / "scenarios" / "quickstart")


def test_service_floors_are_not_re_solved_when_every_floor_dropped_at_once_costs_nothing(quick, monkeypatch):
    solved = []
    priced = explain._priced
    monkeypatch.setattr(explain, "_priced", lambda s, name, *a: solved.append(name) or priced(s, name, *a))
    table = explain.prices(allocator.run(quick)).set_index("rule")
    assert table.at["universal floors", "text"] == "The universal floors cost nothing: the optimum already meets them."
    floors = [rule for rule in table.index if " floor (" in rule]
    assert len(floors) == quick.n_services and not set(floors) & set(solved)
    for rule in floors:
        assert table.at[rule, "cost"] == 0.0 and table.at[rule, "text"] == f"The {rule} cost nothing: the optimum already meets it."


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=hs.floats(0.4, 2.0), scale=hs.lists(hs.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0]), min_size=3, max_size=3),
       objective=hs.sampled_from(["health-gain", "fair-share", "equity-weighted"]),
       mode=hs.sampled_from(["monotone", "proportional", "none"]))
def test_each_service_floor_s_price_is_the_optimum_re_solved_without_it(quick, budget, scale, objective, mode):
    s = quick.with_(budget_gbp=quick.budget_gbp * budget, floor=quick.floor * np.array(scale),
                    objective=objective, proportionality=mode)
    try:
        result = allocator.run(s)
    except allocator.InfeasibleError:
        return
    table = explain.prices(result).set_index("rule")
    value = explain.objective_total(result)
    sign = 1.0 if objective != "fair-share" else -1.0
    if np.count_nonzero(s.floor) < 2:  # one floor: priced as the universal floors only
        return
    for j in np.flatnonzero(s.floor > 0):
        rule = next(r for r in table.index if r.startswith(f"{s.service_ids[j]} floor ("))
        floor = s.floor.copy()
        floor[j] = 0.0
        cost = sign * (explain.objective_total(allocator.run(s.with_(floor=floor))) - value)
        assert table.at[rule, "cost"] == pytest.approx(cost, rel=1e-6, abs=1e-6 * max(1.0, abs(value)))


@pytest.mark.parametrize("mode", ["monotone", "none"])
def test_closed_form_fair_share_equals_the_lp(tiny, mode):
    """Without a pace of change, fair share is solved in closed form with a certificate;
    forcing HiGHS (--method simplex) must give the same distance from the targets."""
    s = allocator.load(tiny).with_(objective="fair-share", proportionality=mode)
    for budget in (60_000.0, 100_000.0, 150_000.0):
        t = s.with_(budget_gbp=budget)
        fast = allocator.run(t)
        lp = allocator.run(t, method="simplex")
        assert fast.solution.solver.startswith("closed form")
        assert lp.solution.solver.startswith("HiGHS")
        assert fast.solution.objective == pytest.approx(lp.solution.objective, rel=1e-9, abs=1e-6)


def test_service_groups_that_only_name_services_keep_the_closed_form(tiny):
    """england-la and england-lsoa name a `universal` and a `targeted` group with no bounds: no row,
    so fair share keeps its closed form (without it, england-lsoa's waterfall took 500 s, not 1.3 s);
    a group with a bound is a row, and the LP is solved."""
    from allocator.scenario.budget import ServiceGroup

    s = allocator.load(tiny).with_(objective="fair-share")
    named = s.with_(service_groups=(ServiceGroup("all", tuple(range(s.n_services))),))
    assert allocator.run(named).solution.solver.startswith("closed form")
    bounded = s.with_(service_groups=(ServiceGroup("all", (0,), min_gbp=1.0),))
    assert not allocator.run(bounded).solution.solver.startswith("closed form")


QUICKSTART = Path(__file__).resolve().parent.parent / "scenarios" / "quickstart"


@pytest.fixture
def quickstart() -> Path:
    return QUICKSTART  # only read


@pytest.mark.parametrize(("key", "asked", "step"), [("sii_reduction", 0.08, 0.0005), ("gap_reduction", 0.08, 0.0005)])
def test_an_equity_constraints_shadow_price_is_the_health_a_step_further_costs(quickstart, key, asked, step):
    """The marginal price of equity from the row's dual equals re-solving a step further (a finite
    difference), in health per unit of the outcome; and `prices` says it."""
    s = allocator.load(quickstart)
    here, further = allocator.run(s.with_(**{key: asked})), allocator.run(s.with_(**{key: asked + step}))
    assert "0 of" in here.solution.solver or "binaries" not in here.solution.solver  # an exact LP here
    marginal = explain.marginal_price(here, key)
    difference = (here.outcomes.gain.sum() - further.outcomes.gain.sum()) / step
    assert difference > 0  # binding: asking for more costs health
    assert marginal == pytest.approx(difference, rel=0.02)
    table = explain.prices(here)
    row = table[table.rule.str.startswith("SII reduction" if key == "sii_reduction" else "gap reduction")].iloc[0]
    assert row.marginal == pytest.approx(marginal)
    assert "At the margin, each further 0.01" in row.text


def test_no_shadow_price_when_the_objective_is_not_total_health(quickstart):
    s = allocator.load(quickstart).with_(objective="equity-weighted", sii_reduction=0.01)
    assert explain.marginal_price(allocator.run(s), "sii_reduction") is None


def test_waterfalls_solve_each_relaxed_scenario_once_and_read_the_same(quick, monkeypatch):
    from allocator.analysis import pipeline

    results = [allocator.run(quick), allocator.run(quick.with_(objective="fair-share"))]
    alone = [explain.waterfall(r) for r in results]
    solved = []
    solve = pipeline.run
    monkeypatch.setattr(pipeline, "run", lambda s, *a, **k: solved.append(s.objective) or solve(s, *a, **k))
    with explain.shared_steps():
        shared = [explain.waterfall(r) for r in results]
    # no locked lines and no pace of change: four steps, two scenarios (floors; and proportionality)
    assert not quick.is_locked.any() and quick.pace is None
    assert solved == ["fair-share"] * 2  # ... and the second option (the same but its objective) solves none
    for a, b in zip(alone, shared):
        pd.testing.assert_frame_equal(a, b)
