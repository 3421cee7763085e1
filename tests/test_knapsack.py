"""One-row LPs solved by sorting (`allocator.model.knapsack`) against HiGHS on the same arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as hs

import allocator
from allocator.errors import InfeasibleError
from allocator.model import knapsack
from allocator.model.lp import LinearProgram
from allocator.model.solver import _solve_highs

QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart"


def one_row(cost, a, lower, upper, lo, hi, maximize=False) -> LinearProgram:
    n = len(cost)
    matrix = sp.csc_matrix(np.asarray(a, float).reshape(1, n))
    return LinearProgram(maximize=maximize, cost=np.asarray(cost, float), col_lower=np.asarray(lower, float),
                         col_upper=np.asarray(upper, float), matrix=matrix, row_lower=np.array([lo], float),
                         row_upper=np.array([hi], float), col_blocks=(), row_blocks=(), groups=None, formulation={},
                         decode=None)


def check_against_highs(lp: LinearProgram) -> None:
    found = knapsack.solve(lp)
    try:
        reference = _solve_highs(lp, "simplex", None)
    except InfeasibleError:
        assert found is None  # no price meets the row: the caller's solver says it is infeasible
        return
    assert found is not None
    scale = max(1.0, float(np.abs(lp.cost).sum() * np.abs(lp.col_upper - lp.col_lower).max()))
    assert found.objective == pytest.approx(reference.objective, rel=1e-9, abs=1e-9 * scale)
    activity = float((lp.matrix @ found.x)[0])
    assert lp.row_lower[0] - 1e-7 * scale <= activity <= lp.row_upper[0] + 1e-7 * scale
    assert (found.x >= lp.col_lower).all() and (found.x <= lp.col_upper).all()


def test_a_budget_row_is_filled_by_value_per_pound_and_its_price_is_the_marginal_piece():
    # maximise 3x0 + 2x1 + 1x2 (stored negated) with x0 + x1 + x2 = 1.5, each in [0, 1]
    lp = one_row([-3.0, -2.0, -1.0], [1.0, 1.0, 1.0], [0, 0, 0], [1, 1, 1], 1.5, 1.5, maximize=True)
    found = knapsack.solve(lp)
    np.testing.assert_allclose(found.x, [1.0, 0.5, 0.0])
    assert found.row_dual[0] == pytest.approx(-2.0)  # minimising: the marginal piece's cost per unit of the row
    assert found.objective == pytest.approx(4.0)


def test_a_row_no_allocation_meets_is_left_to_the_solver_to_explain():
    lp = one_row([1.0, 1.0], [1.0, 2.0], [0, 0], [1, 1], 4.0, 5.0)  # at most 3 can be spent
    assert knapsack.solve(lp) is None
    with pytest.raises(InfeasibleError):
        _solve_highs(lp, "simplex", None)


@settings(max_examples=200, deadline=None)
@given(data=hs.data(), n=hs.integers(1, 12))
def test_every_one_row_lp_is_solved_to_highs_optimum(data, n):
    values = hs.sampled_from([-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0])  # ties and zeros on purpose
    cost = np.array(data.draw(hs.lists(values, min_size=n, max_size=n)))
    a = np.array(data.draw(hs.lists(values, min_size=n, max_size=n)))
    lower = np.array(data.draw(hs.lists(hs.sampled_from([-2.0, -1.0, 0.0, 0.5]), min_size=n, max_size=n)))
    upper = lower + np.array(data.draw(hs.lists(hs.sampled_from([0.0, 0.5, 1.0, 4.0]), min_size=n, max_size=n)))
    lo = data.draw(hs.sampled_from([-np.inf, -6.0, -1.0, 0.0, 0.5, 2.0, 6.0]))
    hi = data.draw(hs.sampled_from([np.inf, -4.0, 0.0, 0.5, 1.0, 3.0, 8.0]))
    if lo > hi:
        lo, hi = hi, lo
    check_against_highs(one_row(cost, a, lower, upper, lo, hi))


@pytest.mark.parametrize("objective", ["health-gain", "equity-weighted"])
def test_a_scenario_without_proportionality_is_solved_by_sorting_to_the_lp_optimum(objective):
    s = allocator.load(QUICKSTART).with_(proportionality="none", objective=objective)
    fast = allocator.run(s)
    assert fast.solution.solver.startswith("exact (one row")
    lp = allocator.run(s, method="simplex")
    assert lp.solution.solver.startswith("HiGHS")
    assert fast.solution.objective == pytest.approx(lp.solution.objective, rel=1e-9)
    assert fast.solution.budget_price(fast.lp) == pytest.approx(lp.solution.budget_price(lp.lp), rel=1e-6)


def test_a_sweep_s_re_solves_of_a_one_row_lp_are_sorted_too():
    from allocator.model.resolve import Resolver

    resolver = Resolver()
    for budget in (0.5, 1.5, 2.5):
        lp = one_row([-3.0, -2.0, -1.0], [1.0, 1.0, 1.0], [0, 0, 0], [1, 1, 1], budget, budget, maximize=True)
        found = resolver.solve(lp)
        assert found.solver.startswith("exact (one row")
        assert found.objective == pytest.approx(_solve_highs(lp, "simplex", None).objective, rel=1e-12)
