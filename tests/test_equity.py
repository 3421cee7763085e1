"""Equity objectives, the gradient as a constraint, and the frontier (issue 4)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import allocator
from allocator.model import equity
from allocator.analysis import frontier
from allocator.measures import inequality as ineq
from allocator.cli import main
from allocator.model.evaluate import violations

SCENARIOS = Path(__file__).parent.parent / "scenarios"


@pytest.fixture(scope="module")
def england_la():
    return allocator.load(SCENARIOS / "england-la")


def group_outcome(result):
    return result.gradient.by_group["outcome_projected"].to_numpy()


def test_sii_coefficients_reproduce_the_phe_slope():
    pop = np.array([5.0, 7.0, 6.0, 4.0, 8.0])
    y = np.array([76.0, 77.5, 79.0, 80.2, 81.1])
    assert np.dot(equity.sii_coefficients(pop), y) == pytest.approx(ineq.sii(y, pop).sii, rel=1e-12)


@pytest.mark.parametrize("objective", ["equity-weighted", "maximin", "level-up"])
def test_each_objective_solves_england_with_every_invariant(england_la, objective):
    result = allocator.run(england_la.with_(objective=objective, epsilon=5.0))
    assert violations(result.scenario, result.allocation.spend) == []
    assert result.allocation.spend.sum() == pytest.approx(england_la.budget_gbp, rel=1e-9)


def test_maximin_raises_the_worst_off_group_above_health_gain(england_la):
    gain = allocator.run(england_la)
    fair = allocator.run(england_la.with_(objective="maximin"))
    assert group_outcome(fair).min() > group_outcome(gain).min()
    total = lambda r: r.outcomes.gain.sum()  # noqa: E731
    assert total(fair) <= total(gain) * (1 + 1e-9)


def test_equity_weights_favour_the_worse_off(england_la):
    weights = equity.equity_weights(england_la.with_(epsilon=3.0))
    groups = equity.deprivation_groups(england_la)
    by_group = [weights[groups == q].mean() for q in range(1, 11)]
    assert by_group[0] > by_group[-1]  # life expectancy is lowest in decile 1
    pop = england_la.population
    assert np.dot(weights, pop) / pop.sum() == pytest.approx(1.0)
    flat = equity.equity_weights(england_la.with_(epsilon=0.0))
    np.testing.assert_allclose(flat, 1.0)


def test_equity_weighted_with_epsilon_zero_is_health_gain(england_la):
    a = allocator.run(england_la)
    b = allocator.run(england_la.with_(objective="equity-weighted", epsilon=0.0))
    assert b.outcomes.gain.sum() == pytest.approx(a.outcomes.gain.sum(), rel=1e-9)


def test_sii_reduction_holds_when_rechecked_from_the_allocation(england_la):
    before = allocator.run(england_la).gradient.metrics.set_index("measure")
    sii0 = before.at["sii_outcome", "before"]
    result = allocator.run(england_la.with_(sii_reduction=0.05))
    sii1 = ineq.sii(group_outcome(result), result.gradient.by_group["population"]).sii
    assert abs(sii1) <= abs(sii0) - 0.05 + 1e-7
    assert violations(result.scenario, result.allocation.spend) == []


def test_milp_gains_equal_the_response_curves(tiny):
    """A steep SII reduction under a tight pace of change makes the LP relaxation
    fill segments out of order; the binaries must stop it, so that the gains the
    model reports are the curves' gains at the allocation (run() checks to 1e-6)."""
    import dataclasses

    from allocator.model.lp import build
    from allocator.model.solver import solve

    s = allocator.load(tiny).with_(budget_gbp=80_000.0, pace=(0.02, 0.3))
    sii0 = allocator.run(s).gradient.metrics.set_index("measure").at["sii_outcome", "before"]
    lp_relaxations_out_of_order = 0
    for reduction in (0.001, 0.002, 0.004):
        constrained = s.with_(sii_reduction=reduction)
        lp = build(constrained)
        assert lp.integrality is not None and lp.fill_pairs is not None
        relaxed = solve(dataclasses.replace(lp, integrality=None))
        lp_relaxations_out_of_order += len(lp.out_of_order(relaxed.x)) > 0
        try:
            result = allocator.run(constrained)  # raises InvariantError if gains differ
        except allocator.InfeasibleError:
            continue
        sii1 = ineq.sii(group_outcome(result), result.gradient.by_group["population"]).sii
        assert abs(sii1) <= abs(sii0) - reduction + 1e-7
        assert lp.out_of_order(result.solution.x).size == 0
    assert lp_relaxations_out_of_order >= 1, "the test no longer exercises the MILP"


def test_frontier_is_monotone_and_ends_at_health_gain_and_maximin(england_la):
    table, ends = frontier.frontier(england_la, points=21)
    curve = table[table["point"].str.isdigit()]
    assert len(curve) >= 20
    gain = curve["total_gain"].to_numpy()
    assert np.all(np.diff(gain) <= 1e-9 * gain[0])  # more equity never buys more health
    reduction = curve["sii_reduction"].to_numpy()
    assert np.all(np.diff(reduction) >= -1e-9)
    assert gain[0] == pytest.approx(ends["health-gain"].outcomes.gain.sum(), rel=1e-9)
    assert gain[-1] == pytest.approx(ends["maximin"].outcomes.gain.sum(), rel=1e-6)
    outcomes = group_outcome(ends["maximin"])  # the worst-off group: lowest life expectancy, highest YPLL
    worst = outcomes.min() if england_la.gradient.higher_is_better else outcomes.max()
    assert curve["worst_off_outcome"].iloc[-1] == pytest.approx(worst, abs=1e-6)


def test_frontier_command_writes_the_plots(tmp_path):
    result = CliRunner().invoke(main, ["frontier", str(SCENARIOS / "quickstart"), "--points", "5",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ("frontier.csv", "frontier.json", "frontier.svg", "frontier.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "<svg" in (tmp_path / "frontier.svg").read_text()


def test_gradient_command_prints_the_england_sii():
    result = CliRunner().invoke(main, ["gradient", "--bundled-le", "--areas", "England"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if line.startswith("England")]
    # published by ONS for 2014-16: a male gap of about 9.3 years, a female gap of about 7.4
    assert float(rows[0][6]) == pytest.approx(9.3, abs=0.5)
    assert float(rows[1][6]) == pytest.approx(7.4, abs=0.5)


def test_a_missed_gradient_constraint_is_caught_from_the_allocation(england_la):
    result = allocator.run(england_la)  # no constraint: |SII| falls by about 0.24 YPLL points
    before, after = (result.metrics.set_index("measure").loc["sii_outcome", k] for k in ("before", "after"))
    assert 0 < abs(before) - abs(after) < 0.5
    problems = violations(england_la.with_(sii_reduction=0.5), result.allocation.spend)
    assert len(problems) == 1 and problems[0].startswith(f"the SII fell from {before:.9g} to {after:.9g}")
    assert violations(england_la.with_(sii_reduction=0.1), result.allocation.spend) == []


@pytest.mark.parametrize("objective", ["maximin", "level-up"])
def test_suffix_and_row_formulations_agree_on_group_objectives(objective):
    """Without a pace of change, group objectives use the suffix formulation; a pace too
    wide to bind forces the row formulation. Both must reach the same optimum."""
    s = allocator.load(SCENARIOS / "quickstart").with_(objective=objective)
    suffix = allocator.run(s.with_(pace=None))
    rows = allocator.run(s.with_(pace=(1.0, 100.0)))
    assert set(suffix.lp.formulation.values()) == {"suffix"}
    assert set(rows.lp.formulation.values()) == {"rows"}
    assert group_outcome(suffix).min() == pytest.approx(group_outcome(rows).min(), abs=1e-9)
    assert suffix.outcomes.gain.sum() == pytest.approx(rows.outcomes.gain.sum(), rel=1e-7)


def test_equity_weights_skip_a_deprivation_group_without_people():
    """Regression: 12 districts in deciles leave one decile empty; its 0/0 outcome made every weight NaN."""
    s = allocator.load(Path(__file__).parent.parent / "scenarios" / "quickstart")
    deciles = s.with_(gradient=dataclasses.replace(s.gradient, quantiles=10))
    with np.errstate(invalid="ignore"):
        assert (equity.group_terms(deciles).population == 0).any()
        weights = equity.equity_weights(deciles)
    assert np.isfinite(weights).all()
    assert np.dot(weights, deciles.population) / deciles.population.sum() == pytest.approx(1.0)
    assert allocator.run(deciles.with_(objective="equity-weighted")).allocation.spend.sum() == pytest.approx(
        deciles.budget_gbp, abs=0.01)


@pytest.mark.parametrize("objective", ["maximin", "level-up"])
def test_maximin_and_level_up_skip_a_deprivation_group_without_people(objective):
    """Regression: an empty decile's level row had a NaN bound, and the run exited 2 blaming the LP."""
    from allocator.analysis.gradient import group_outcomes

    s = allocator.load(Path(__file__).parent.parent / "scenarios" / "quickstart")
    deciles = s.with_(gradient=dataclasses.replace(s.gradient, quantiles=10), objective=objective)
    assert (equity.group_terms(deciles).population == 0).any()
    result, plain = allocator.run(deciles), allocator.run(deciles.with_(objective="health-gain"))
    chosen = 0 if objective == "maximin" else 1  # (lowest level, level-up measure)
    got, health_gain = (equity.levels(deciles, group_outcomes(deciles, r.outcomes.projected))[chosen]
                        for r in (result, plain))
    assert np.isfinite(got) and got >= health_gain - 1e-9  # the objective's own measure, at least as good


@pytest.mark.parametrize("rule", ["sii_reduction", "gap_reduction"])
def test_a_gradient_constraint_skips_a_deprivation_group_without_people(rule):
    """Regression: an empty decile's NaN outcome made the SII or gap row's bound NaN (exit 2 blaming the
    LP), and the re-check compared NaN, so it could never fail."""
    from allocator.model.evaluate import violations

    s = allocator.load(Path(__file__).parent.parent / "scenarios" / "quickstart")
    deciles = s.with_(gradient=dataclasses.replace(s.gradient, quantiles=10))
    terms = equity.group_terms(deciles)
    assert (terms.population == 0).any()
    measure = "sii_outcome" if rule == "sii_reduction" else "gap_absolute_outcome"
    made = allocator.run(deciles).gradient.metrics.set_index("measure").loc[measure]
    asked = 0.5 * (abs(made["before"]) - abs(made["after"])) if rule == "sii_reduction" else 1e-4
    result = allocator.run(deciles.with_(**{rule: asked}))
    assert violations(result.scenario, result.allocation.spend) == []
    # the re-check can fail: asking more than the allocation reached is caught
    reached = result.gradient.metrics.set_index("measure").loc[measure]
    too_much = abs(reached["before"]) - abs(reached["after"]) + 1.0
    problems = violations(deciles.with_(**{rule: too_much}), result.allocation.spend)
    assert any(("SII" if rule == "sii_reduction" else "gap") in p for p in problems)
