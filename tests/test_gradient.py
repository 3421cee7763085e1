"""The gradient tables add up, and their measures are the inequality module's on those tables."""

from __future__ import annotations

import numpy as np
import pytest

import allocator
from allocator.measures import inequality as ineq


@pytest.fixture
def result(tiny):
    return allocator.run(tiny)


def test_group_table_adds_up_to_the_areas(result):
    g, s = result.gradient, result.scenario
    table = g.by_group
    assert table["population"].sum() == s.population.sum()
    assert table["areas"].sum() == s.n_areas
    spend = (table["spend_per_head_gbp"] * table["population"]).sum()
    assert spend == pytest.approx(s.budget_gbp, rel=1e-12)
    assert table["share_of_spend"].sum() == pytest.approx(1.0)
    # by hand: the two most deprived areas (A1 score 40, A2 25) hold 3,000 of 5,000 people
    assert table["population"].tolist() == [3000, 2000]
    y0 = (76.0 * 1000 + 79.0 * 2000) / 3000
    assert table["outcome_baseline"].iloc[0] == pytest.approx(y0)


def test_measures_are_those_of_the_group_table(result):
    table = result.gradient.by_group
    metrics = result.gradient.metrics.set_index("measure")
    expected = ineq.sii(table["outcome_projected"], table["population"])
    assert metrics.at["sii_outcome", "after"] == pytest.approx(expected.sii)
    assert metrics.at["rii_outcome", "after"] == pytest.approx(expected.rii)
    before = ineq.sii(table["outcome_baseline"], table["population"])
    assert metrics.at["sii_outcome", "before"] == pytest.approx(before.sii)
    assert metrics.at["sii_outcome", "change"] == pytest.approx(expected.sii - before.sii)


def test_outcome_change_is_the_evaluated_gain_per_head(result):
    s, o = result.scenario, result.outcomes
    by_area = result.gradient.by_area
    change = (o.gain - o.before_gain).sum(axis=1) / s.population
    np.testing.assert_allclose(by_area["outcome_change"], change, rtol=1e-9, atol=1e-12)


def test_lower_is_better_outcomes_fall_when_health_improves(tiny):
    from conftest import edit
    edit(tiny / "scenario.toml", "higher_is_better = true", "higher_is_better = false")
    r = allocator.run(tiny)
    gained = (r.outcomes.gain - r.outcomes.before_gain).sum(axis=1)
    np.testing.assert_array_equal(np.sign(r.gradient.by_area["outcome_change"]), -np.sign(gained))


def test_grouping_columns_get_their_own_table(result):
    region = result.gradient.by_column["region"]
    assert region["region"].tolist() == ["North", "South"]
    assert region["population"].tolist() == [3000, 2000]


def test_fair_share_targets_sum_to_the_budget(result):
    s = result.scenario
    assert s.fair_share.sum() == pytest.approx(s.budget_gbp, rel=1e-12)
    # each service gets its baseline share of the budget
    share = s.baseline.sum(axis=0) / s.baseline.sum()
    np.testing.assert_allclose(s.fair_share.sum(axis=0), s.budget_gbp * share, rtol=1e-12)
