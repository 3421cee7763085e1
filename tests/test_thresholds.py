"""The relaxation of a MILP of fill binaries and its rounding on thresholds (`allocator.model.thresholds`).

Under an SII or gap reduction the least deprived groups' segments must fill in order (a MILP).
`thresholds.start` solves the relaxation, which is the MILP's optimum when it fills every
constrained line in order; otherwise it rounds where each service's intensity passes each
breakpoint into bounds, for an allocation in order.  Checked against HiGHS's branch and bound
on every fill binary with no gap allowed (a brute-force reference): the optimum must equal the
reference's, an allocation found must meet every row with its binaries set and reach no more
than the reference, and a time limit must report it with the bound.
"""

from __future__ import annotations

import highspy
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import allocator
from allocator.errors import InfeasibleError, SolverError
from allocator.model import diagnose, gradient_bound, highs, thresholds
from allocator.model.highs import MIP_REL_GAP
from allocator.model.lp import build
from allocator.model.solver import _objective, highs_model, new_highs
from tests import strategies as gen

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _brute_force(lp):
    """HiGHS's branch and bound on every fill binary, no gap: (status, objective in the LP's units).

    Tolerances at 1e-9: at HiGHS's own (1e-6), a binary of 1e-6 times a segment's room lets the
    next segment start, which finds optima above the exact one, or none at the very limit."""
    h = new_highs()
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.0)
    h.setOptionValue("mip_feasibility_tolerance", 1e-9)
    h.setOptionValue("primal_feasibility_tolerance", 1e-9)
    model = highs_model(lp)
    model.integrality_ = [highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
                          for v in lp.integrality]
    h.passModel(model)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    sign = -1.0 if lp.maximize else 1.0
    return status, sign * h.getInfo().objective_function_value / lp.objective_scale


def _limit(scenario, rule: str) -> float:
    """The most ``rule`` (sii_reduction or gap_reduction) can ask of ``scenario`` (exact)."""
    return diagnose.reduction_limit(scenario.with_(**{rule: 0.0}), rule)


def _meets_every_row(lp, x) -> bool:
    activity = lp.matrix @ x
    scale = np.maximum(1.0, np.abs(activity))
    return bool(np.all(activity >= lp.row_lower - 1e-7 * scale) and np.all(activity <= lp.row_upper + 1e-7 * scale)
                and np.all(x >= lp.col_lower) and np.all(x <= lp.col_upper))


@settings(max_examples=gen.examples(40), **SETTINGS)
@given(gen.scenario_specs(max_areas=12, max_services=3, objective="health-gain", proportionality="monotone"),
       st.sampled_from(("sii_reduction", "gap_reduction")), st.sampled_from((0.3, 0.7, 0.98)))
def test_the_relaxation_and_its_rounding_against_the_brute_force_milp(spec, rule, share):
    scenario = allocator.load(gen.write(spec, gen.fresh_folder()))
    try:
        limit = _limit(scenario, rule)
    except (InfeasibleError, SolverError):
        event("no limit")
        return
    if not limit > 1e-9:
        event("the gradient cannot narrow")
        return
    lp = build(scenario.with_(**{rule: share * limit}))
    if lp.integrality is None:
        event("no binaries")
        return
    status, objective = _brute_force(lp)
    first = thresholds.start(lp)
    if first.optimum is not None and first.found is None:
        event("the relaxation fills in order")
        assert status == "Optimal"
        assert first.optimum.objective == pytest.approx(objective, rel=1e-6, abs=1e-6)
        assert lp.out_of_order(first.optimum.x).size == 0
        return
    if first.optimum is not None:
        event("rounded within the MIP gap")  # as HiGHS's branch and bound would stop: no better, at most the gap worse
        assert status == "Optimal"
        x = first.optimum.x
        assert lp.out_of_order(x).size == 0 and _meets_every_row(lp, x)
        assert first.optimum.objective == pytest.approx(_objective(lp, x), rel=1e-12, abs=1e-12)
        assert first.optimum.objective <= objective + 1e-6 * max(1.0, abs(objective))
        assert first.optimum.objective >= objective - MIP_REL_GAP * max(1.0, abs(objective)) - 1e-6
        return
    if first.found is None:
        event("out of order, no rounding")
        return
    event("out of order, rounded")
    assert status == "Optimal"
    x = first.found
    assert lp.out_of_order(x).size == 0
    assert set(np.unique(x[lp.integrality == 1])) <= {0.0, 1.0}
    assert _meets_every_row(lp, x)  # with its binaries: a point of the MILP
    assert _objective(lp, x) <= objective + 1e-6 * max(1.0, abs(objective))


@pytest.fixture(scope="module")
def out_of_order(tmp_path_factory):
    """A scenario whose relaxation fills out of order (pace of change, a deep SII reduction)."""
    from allocator.build.synthetic import write_scenario

    s = allocator.load(write_scenario(tmp_path_factory.mktemp("t") / "s", 30, 4, seed=1, pace=(0.05, 0.15),
                                      baseline=True))
    return s.with_(sii_reduction=0.95 * _limit(s, "sii_reduction"))


def test_a_relaxation_out_of_order_is_rounded_to_a_point_of_the_milp(out_of_order):
    lp = build(out_of_order)
    first = thresholds.start(lp)
    assert first.optimum is None and first.out_of_order.size > 0, "the test no longer needs the rounding"
    status, objective = _brute_force(lp)
    assert status == "Optimal"
    assert first.bound >= objective - 1e-6 * abs(objective)  # the relaxation bounds the MILP
    if first.found is not None:
        assert lp.out_of_order(first.found).size == 0 and _meets_every_row(lp, first.found)
        assert _objective(lp, first.found) <= objective + 1e-6 * abs(objective)
    result = allocator.run(out_of_order)  # the branch and bound from there: its optimum, every rule re-checked
    assert result.solution.objective == pytest.approx(objective, rel=1e-4)


@pytest.fixture
def rows_form(monkeypatch):
    """The MILP in rows form, as a scenario `gradient_bound` cannot prove takes it (england-la's
    reductions of 0.39 and 0.4 are proven in suffix form in under a second)."""
    monkeypatch.setattr(gradient_bound, "applies", lambda scenario: False)


def test_out_of_time_the_rounded_allocation_is_reported_with_the_bound(rows_form, monkeypatch):
    # england-la at an SII reduction of 0.4: HiGHS's branch and bound finds no allocation in a minute
    scenario = allocator.load("scenarios/england-la").with_(sii_reduction=0.4)
    real = thresholds.start

    def unhurried(lp, time_limit=None):  # the rounding (about 1 s alone) given the time it needs, whatever
        token = highs._DEADLINE.set(None)  # the limit: at 8 s it ran out first on a slow host with the
        try:  # suite beside it (and at 3 s with four test processes on 2 cores)
            return real(lp)
        finally:
            highs._DEADLINE.reset(token)

    monkeypatch.setattr(thresholds, "start", unhurried)
    with pytest.raises(SolverError, match="the best allocation found reaches") as caught:
        allocator.run(scenario, time_limit=8)
    error = caught.value
    assert error.incumbent is not None and error.bound is not None
    assert error.incumbent <= error.bound
    first = thresholds.start(build(scenario))
    assert error.incumbent >= _objective(build(scenario), first.found) - 1e-6 * abs(error.incumbent)


def test_a_rounding_within_the_mip_gap_of_the_bound_is_the_answer(rows_form):
    # england-la at an SII reduction of 0.39: HiGHS's branch and bound proves nothing in 20 s, the
    # rounding lands 6.5e-6 from the relaxation's bound (HiGHS itself stops at a gap of 1e-4)
    scenario = allocator.load("scenarios/england-la").with_(sii_reduction=0.39)
    lp = build(scenario)
    first = thresholds.start(lp)
    assert first.out_of_order.size > 0 and first.found is not None, "the relaxation fills in order: no test"
    assert first.optimum is not None
    assert first.optimum.objective <= first.bound
    assert first.optimum.objective >= first.bound - MIP_REL_GAP * abs(first.bound)
    result = allocator.run(scenario, time_limit=20)  # every rule re-checked from the allocation
    assert "rounded on its thresholds" in result.solution.solver
    assert result.solution.objective == pytest.approx(first.optimum.objective, rel=1e-12)
