"""The limit of an SII or gap reduction where allocations turn the gradient round.

A reduction is ``|after| <= before - asked``: a measure pushed past zero is a gradient the other
way, and its size is what counts.  The most a reduction can ask is therefore not always the most
the measure can move: when every allocation moves it more than twice its size before (an exact
budget that must be spent where the gradient is nearly flat), no allocation narrows it at all.
Checked against HiGHS's branch and bound on every fill binary, with each reduction's mirror row.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import allocator
from allocator.analysis.frontier import frontier
from allocator.cli import main
from allocator.errors import InfeasibleError, ScenarioError, SolverError
from allocator.format import plain
from allocator.model import diagnose, equity
from allocator.model.lp import build
from allocator.model.solver import solve
from tests import strategies as gen
from tests.test_thresholds import _brute_force

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _flat_gradient() -> gen.Spec:
    """Five areas whose SII is small (0.0064 years) and a budget that must all be spent: every
    allocation moves the SII by at least 0.015 (found by Hypothesis)."""
    need = gen.NeedSpec(constant=0.0, terms=(("dep", 0.5),), lookup=("decile", {"1": 1.0, "2": 0.5, "3": 2.0}))
    service = dict(unit_cost=100.0, target="population", need_model="need0", min_slope=0.0)
    return gen.Spec(
        area_ids=("A00", "A01", "A02", "A03", "A04"),
        columns={"population": [6778, 5047, 12654, 7674, 1000], "pop_young": [0] * 5,
                 "pop_old": [678, 505, 1265, 767, 100], "dep": [1.0] * 5, "dep2": [0.5] * 5,
                 "decile": [1, 1, 3, 2, 1], "quintile": [1] * 5, "imd": [1, 1, 32, 1, 56],
                 "le": [70.0, 70.5, 71.0, 71.5, 72.0], "region": ["north", "south", "west", "north", "south"]},
        services=(gen.ServiceSpec(service_id="early_years", floor=0.0, cap=np.inf, response_model="resp0",
                                  budget_share=1.0, **service),
                  gen.ServiceSpec(service_id="stop-smoking", floor=1.0, cap=1.0, response_model="resp1",
                                  budget_share=1.0, **service),
                  gen.ServiceSpec(service_id="falls.prevention", floor=0.0, cap=np.inf, response_model="resp2",
                                  budget_share=2.0, **service)),
        need_models={"need0": need},
        response_models={
            "resp0": gen.ResponseSpec(units=(0.0, 0.25), gains=(0.0, 0.015625), modifier=None),
            "resp1": gen.ResponseSpec(units=(0.0, 0.25, 0.5, 0.75, 1.0), gains=(0.0, 0.015625, 0.03125, 0.046875, 0.0625),
                                      modifier=("quintile", {"1": 1.5, "2": 0.0, "3": 0.0})),
            "resp2": gen.ResponseSpec(units=(0.0, 0.25), gains=(0.0, 0.015625), modifier=None)},
        budget=4972950.0, mode="exact", objective="health-gain", proportionality="monotone", min_slope=0.0,
        slope_column=False, tolerance=0.0, pace=None, baseline=None, locked_rows=(), share_column=True,
        quantiles=3, most_deprived="high", group_columns=(),
        witness=np.array([[169450.0, 677800.0, 169450.0], [126175.0, 504700.0, 126175.0],
                          [316350.0, 1265400.0, 316350.0], [191850.0, 767400.0, 191850.0],
                          [25000.0, 100000.0, 25000.0]]))


def _least_movement(scenario, rule: str) -> float:
    """The least any allocation moves the measure in the baseline's direction (brute force)."""
    free, coef, bound = diagnose._minimising(build(scenario), rule)
    status, most = _brute_force(dataclasses.replace(free, cost=-coef, maximize=True))  # cost: minimised
    assert status == "Optimal"
    return float(getattr(scenario, rule)) + bound - most


def _mirrored_status(scenario, rule: str, asked: float) -> str:
    with equity.mirrored():
        lp = build(scenario.with_(**{rule: asked}))
    if lp.integrality is not None:
        return _brute_force(lp)[0]
    try:  # one segment a line: nothing to fill out of order
        solve(lp)
    except InfeasibleError:
        return "Infeasible"
    return "Optimal"


def test_no_allocation_narrows_a_gradient_it_must_turn_round():
    scenario = allocator.load(gen.write(_flat_gradient(), gen.fresh_folder())).with_(sii_reduction=0.0)
    before = equity.size_before(scenario, "sii_reduction")
    least = _least_movement(scenario, "sii_reduction")
    assert least > before  # the premise: every allocation turns the SII round ...
    limit = diagnose.reduction_limit(scenario, "sii_reduction")
    assert limit == pytest.approx(2 * before - least, abs=1e-9)  # ... and leaves it larger than it was
    assert limit < 0
    assert _mirrored_status(scenario, "sii_reduction", 0.0) == "Infeasible"  # not even kept as it is
    with pytest.raises(InfeasibleError) as info:  # the run re-solves with the mirror row, then explains
        allocator.run(scenario.with_(sii_reduction=before / 2))
    assert f"cannot fall at all (it grows by at least {plain(-limit, 4)} years)" in str(info.value)
    assert "within the solver's tolerance" not in str(info.value)


def test_a_frontier_by_a_measure_that_cannot_fall_says_so_before_any_point(tmp_path):
    folder = gen.write(_flat_gradient(), gen.fresh_folder())
    scenario = allocator.load(folder)
    limit = diagnose.reduction_limit(scenario.with_(sii_reduction=0.0), "sii_reduction")
    with pytest.raises(InfeasibleError) as info:
        frontier(scenario, 5, measure="sii")
    said = str(info.value)
    assert "cannot fall at all with this budget and these rules" in said
    assert f"at least {plain(-limit, 4)} years larger than before" in said
    assert "point 1" not in said  # said up front, not as the first point's failure
    assert list(info.value.done["point"]) == ["health-gain", "maximin", "level-up"]
    result = CliRunner().invoke(main, ["frontier", str(folder), "--measure", "sii", "--points", "5", "--no-options"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "cannot fall at all" in result.output
    assert "has no point (outcome in years); its end points:" in result.output and "level-up" in result.output


@settings(max_examples=gen.examples(30), **SETTINGS)
@given(gen.scenario_specs(max_areas=8, max_services=3, objective="health-gain", proportionality="monotone",
                          sloped=False),
       st.sampled_from(("sii_reduction", "gap_reduction")))
def test_the_limit_is_the_most_a_reduction_with_its_mirror_allows(spec, rule):
    """Asked a little below the limit, the brute force with the mirror row finds an allocation; a
    little above, none."""
    scenario = allocator.load(gen.write(spec, gen.fresh_folder())).with_(**{rule: 0.0})
    try:
        limit = diagnose.reduction_limit(scenario, rule)
    except (InfeasibleError, SolverError):
        event("no limit")
        return
    before = equity.size_before(scenario, rule)
    event("turned round" if limit < before - 1e-9 * max(1.0, before) and
          diagnose._reduction_limit(scenario, rule) > before else "not turned round")
    step = 1e-3 * max(abs(limit), 1e-3) + 1e-6  # HiGHS's row tolerances decide below this
    try:
        if limit - step > 0:
            assert _mirrored_status(scenario, rule, limit - step) == "Optimal"
        assert _mirrored_status(scenario, rule, max(limit + step, 0.0)) == "Infeasible"
    except ScenarioError:  # a reduction the scenario refuses to ask (beyond any size it could have)
        event("refused")
