"""Proportional mode by cutting planes (`allocator.model.proportional`) against the LP.

The certified algorithm must reach the optimum HiGHS finds for the same LP (the LP solved
by an explicit ``method``, which bypasses the algorithm), give an allocation meeting every
invariant, and hand over to the LP whenever it does not apply.  test_differential also
checks proportional optima (through the algorithm) against an independent linprog model.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import allocator
from allocator.model import proportional
from allocator.model.evaluate import violations
from allocator.model.lp import build
from tests import strategies as gen

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _scale(result) -> float:
    return max(abs(result.solution.objective), float(np.abs(result.outcomes.gain).sum()), 1e-9)


@settings(max_examples=gen.examples(60), **SETTINGS)
@given(gen.scenario_specs(max_areas=25, max_services=3, objective="health-gain", proportionality="proportional",
                          pace=False))
def test_cutting_planes_reach_the_lps_optimum(spec):
    _same_as_the_lp(spec, "health-gain")


@settings(max_examples=gen.examples(30), **SETTINGS)
@given(gen.scenario_specs(max_areas=25, max_services=3, objective="health-gain", proportionality="proportional",
                          pace=False))
def test_cutting_planes_reach_the_lps_optimum_with_equity_weights(spec):
    _same_as_the_lp(spec, "equity-weighted")


def _same_as_the_lp(spec, objective: str) -> None:
    folder = allocator.load(gen.write(spec, gen.fresh_folder())).with_(objective=objective)
    try:
        lp_result = allocator.run(folder, method="simplex")  # the LP itself
    except allocator.InfeasibleError:
        with pytest.raises(allocator.InfeasibleError):  # the algorithm finds nothing either: the LP says why
            allocator.run(folder)
        return
    fast = allocator.run(folder)
    assert violations(fast.scenario, fast.allocation.spend) == []
    assert abs(fast.solution.objective - lp_result.solution.objective) <= 1e-7 * _scale(lp_result), (
        fast.solution.solver, fast.solution.objective, lp_result.solution.objective)


def test_a_proportional_scenario_is_solved_by_the_algorithm_with_its_certificate(tmp_path):
    from allocator.build.synthetic import write_scenario

    s = allocator.load(write_scenario(tmp_path / "s", 400, 5, seed=3, proportionality="proportional"))
    lp = build(s)
    assert proportional.applies(s, lp)
    solution = proportional.solve(s, lp)
    assert solution is not None and "cutting planes" in solution.solver and "certified" in solution.solver
    reference = allocator.run(s, method="ipm").solution
    assert solution.objective == pytest.approx(reference.objective, rel=1e-8)
    # the budget row's price is the marginal piece's: the LP's (both optimal duals of a nondegenerate row)
    assert solution.budget_price(lp) == pytest.approx(reference.budget_price(lp), rel=1e-3)
    result = allocator.run(s)
    assert result.solution.solver == solution.solver


@pytest.mark.parametrize("change", [dict(proportionality="monotone"), dict(objective="fair-share"),
                                    dict(objective="maximin"), dict(pace=(0.1, 0.1))])
def test_other_rules_go_to_the_lp(tmp_path, change):
    from allocator.build.synthetic import write_scenario

    s = allocator.load(write_scenario(tmp_path / "s", 60, 3, seed=1, baseline=True,
                                      proportionality="proportional")).with_(**change)
    assert not proportional.applies(s, build(s))
