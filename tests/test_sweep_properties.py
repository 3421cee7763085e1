"""Property tests of what sweeps rely on: warm re-solves, parameter edits, draws.

On generated scenarios (`strategies`), a sequence of edited scenarios solved by one
`Resolver` (changing the loaded HiGHS model, warm starts) gives the same status and
optimum as solving each from scratch, and every warm solution meets every invariant.
"""

from __future__ import annotations

import numpy as np
import strategies as gen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import allocator
from allocator.scenario import parameters
from allocator.scenario import uncertainty
from allocator.errors import InfeasibleBudgetError, InfeasibleError, ScenarioError
from allocator.model.evaluate import violations
from allocator.model.resolve import Resolver

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

edits = st.fixed_dictionaries({}, optional={
    "budget_factor": st.sampled_from((0.9, 0.97, 1.0, 1.02, 1.1, 1.3)),
    "response_scale": st.sampled_from((0.5, 0.9, 1.0, 1.5, 3.0)),
    "floor_scale": st.sampled_from((0.5, 0.8, 1.0)),
    "cost_scale": st.sampled_from((0.9, 1.0, 1.25)),
})


def _values(scenario, edit: dict) -> dict:
    values = {k: v for k, v in edit.items() if k != "budget_factor"}
    if "budget_factor" in edit:
        values["budget"] = scenario.budget_gbp * edit["budget_factor"]
    return values


def _outcome(scenario, values, resolver=None):
    try:
        edited = parameters.apply(scenario, values)
        return "ok", allocator.run(edited, resolver=resolver)
    except (InfeasibleError, ScenarioError) as exc:
        return type(exc).__name__, None


def _same_as_cold(scenario, values, resolver) -> None:
    """Solved by ``resolver``: the status and optimum of a cold solve, every invariant met."""
    status, result = _outcome(scenario, values, resolver)
    cold_status, cold = _outcome(scenario, values)
    assert status == cold_status, values
    if result is None:
        return
    assert violations(result.scenario, result.allocation.spend) == []
    scale = max(abs(cold.solution.objective), 1e-9 * result.scenario.budget_gbp, 1e-9)
    if result.scenario.objective == "health-gain":
        scale = max(scale, float(np.abs(result.outcomes.gain).sum()))
    assert abs(result.solution.objective - cold.solution.objective) <= 1e-6 * scale, values


@settings(max_examples=gen.examples(60), **SETTINGS)
@given(gen.scenario_folders(max_areas=12, max_services=3), st.lists(edits, min_size=2, max_size=5))
def test_warm_resolves_reach_the_cold_optimum_and_meet_every_invariant(folder_spec, steps):
    folder, spec = folder_spec
    scenario = allocator.load(folder)
    resolver = Resolver()
    for edit in steps:
        values = _values(scenario, edit)
        _same_as_cold(scenario, values, resolver)


@settings(max_examples=gen.examples(40), **SETTINGS)
@given(gen.scenario_folders(max_areas=12, max_services=3), st.lists(edits, min_size=1, max_size=4))
def test_solves_from_the_base_scenarios_basis_reach_the_cold_optimum(folder_spec, steps):
    """What every sweep chunk's first point does: a new HiGHS model started from the anchor."""
    from allocator.analysis.workers import Context, anchored

    folder, _ = folder_spec
    scenario = allocator.load(folder)
    anchor = anchored(Context(scenario)).anchor
    for edit in steps:
        values = _values(scenario, edit)
        _same_as_cold(scenario, values, Resolver(anchor=anchor))


@settings(max_examples=gen.examples(40), **SETTINGS)
@given(gen.scenario_folders(max_areas=10, max_services=3))
def test_setting_every_parameter_to_its_base_value_changes_nothing(folder_spec):
    folder, _ = folder_spec
    s = allocator.load(folder)
    names = ["budget", "epsilon", "tolerance", "floor_scale", "cost_scale", "response_scale"]
    names += [f"{kind}.{sid}" for sid in s.service_ids for kind in ("floor", "cap", "unit_cost", "min_slope")]
    names += [f"need.{m.name}.{c}" for m in s.need_models for c, _ in m.terms]
    names += [f"need.{m.name}.constant" for m in s.need_models]
    names += [f"response.{m.name}.scale" for m in s.response_models]
    values = {n: parameters.base_value(s, n) for n in dict.fromkeys(names)}
    same = parameters.apply(s, values)
    for field in ("budget_gbp", "floor", "cap", "unit_cost", "min_slope", "epsilon", "tolerance"):
        np.testing.assert_array_equal(getattr(same, field), getattr(s, field), err_msg=field)
    np.testing.assert_allclose(same.need, s.need, rtol=1e-12)
    for a, b in zip(same.response_models, s.response_models):
        np.testing.assert_array_equal(a.gain_per_head, b.gain_per_head)


@settings(max_examples=gen.examples(40), **SETTINGS)
@given(gen.scenario_folders(max_areas=10, max_services=3), st.floats(0.25, 4.0))
def test_a_need_weight_edit_keeps_need_normalised_and_positive(folder_spec, factor):
    folder, _ = folder_spec
    s = allocator.load(folder)
    model = s.need_models[0]
    if not model.terms:
        return
    column, weight = model.terms[0]
    try:
        edited = parameters.apply(s, {f"need.{model.name}.{column}": weight * factor})
    except InfeasibleBudgetError:  # the edited need, well formed, can make the rules ask for more than
        return  # the budget or the pace of change allows (a minimum slope on a steeper need, say)
    except ScenarioError as exc:  # a weight that makes some need <= 0 is refused, saying so
        assert "need must be > 0" in str(exc)
        return
    for j, m in enumerate(edited.need_models):
        people = edited.target_population[:, j]
        if m.name == model.name and people.sum() > 0:
            assert np.all(edited.need[:, j] > 0)
            assert np.dot(edited.need[:, j], people) / people.sum() == np.float64(
                np.dot(edited.need[:, j], people) / people.sum())
            np.testing.assert_allclose(np.dot(edited.need[:, j], people) / people.sum(), 1.0, rtol=1e-9)


distributions = st.one_of(
    st.builds(lambda m, s: {"distribution": "normal", "mean": m, "sd": s},
              st.floats(-5, 5), st.floats(0.01, 3)),
    st.builds(lambda m, s: {"distribution": "lognormal", "median": m, "sigma": s},
              st.floats(0.1, 5), st.floats(0.01, 1)),
    st.builds(lambda lo, w: {"distribution": "uniform", "low": lo, "high": lo + w},
              st.floats(-5, 5), st.floats(0.01, 5)),
    st.builds(lambda lo, w, f: {"distribution": "triangular", "low": lo, "mode": lo + f * w, "high": lo + w},
              st.floats(-5, 5), st.floats(0.01, 5), st.floats(0, 1)),
)


@settings(max_examples=gen.examples(100), **SETTINGS)
@given(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), distributions, min_size=1),
       st.integers(0, 2**32 - 1), st.integers(1, 50))
def test_draws_are_reproducible_in_range_and_independent_of_other_parameters(tables, seed, n):
    dists = {k: uncertainty.parse(v, "test", k) for k, v in tables.items()}
    once, again = uncertainty.draw(dists, n, seed), uncertainty.draw(dists, n, seed)
    for name, d in dists.items():
        np.testing.assert_array_equal(once[name], again[name])
        assert np.all(np.isfinite(once[name]))
        low, high = d.get("low", -np.inf), d.get("high", np.inf)
        if d.kind in ("uniform", "triangular"):
            assert np.all((once[name] >= low) & (once[name] <= high))
        # adding another parameter does not change this one's draws
        extra = {**dists, "zz": uncertainty.parse({"distribution": "uniform", "low": 0, "high": 1}, "t", "zz")}
        np.testing.assert_array_equal(uncertainty.draw(extra, n, seed)[name], once[name])


def test_a_wide_model_starts_with_interior_point_then_resolves_warm(tmp_path):
    from allocator.model.lp import build
    from allocator.model.solver import choose_method
    from allocator.build.synthetic import write_scenario

    s = allocator.load(write_scenario(tmp_path / "wide", n_areas=600, seed=3))
    assert choose_method(build(s)) == "ipm"  # few rows, many columns
    resolver = Resolver()
    for factor in (1.0, 1.01, 1.03, 0.98):
        edited = s.with_(budget=s.budget_gbp * factor)
        warm, cold = allocator.run(edited, resolver=resolver), allocator.run(edited)
        assert abs(warm.solution.objective - cold.solution.objective) <= 1e-6 * abs(cold.solution.objective)
        assert violations(edited, warm.allocation.spend) == []
    assert resolver.warm_solves == 3
    assert "warm start" in warm.solution.solver
