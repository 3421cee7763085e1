"""A pace of change over pools of lines (`allocator.model.pools`): the whole LP's optimum, or None.

Random scenarios with a pace of change (ties in need, locked lines, floors and caps drawn), built
as `allocator.run` builds them, are solved over pools with the size threshold lifted, and checked
against HiGHS on the whole LP: the same optimum (1e-7 relative) or no answer, an allocation that
meets every row, and a Lagrangian bound that no allocation passes.  Through the pipeline every
invariant of DESIGN.md is re-checked from the allocation.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import allocator
from allocator.errors import SolverError
from allocator.model import pools
from allocator.model.lp import build
from tests import strategies as gen
from tests.test_sifting import _whole

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PACED = dict(pace=True, sloped=False, objective="health-gain", proportionality="monotone", min_areas=3)


def _everywhere():
    return mock.patch.object(pools, "MIN_COLUMNS", 0)


def _meets_rows(lp, x, tol=1e-6):
    activity = lp.matrix @ x
    scale = np.maximum(1.0, abs(lp.matrix) @ np.abs(x))
    assert np.all(activity >= lp.row_lower - tol * scale)
    assert np.all(activity <= lp.row_upper + tol * scale)
    assert np.all(x >= lp.col_lower - tol) and np.all(x <= lp.col_upper + tol)


def _equals_the_whole_lp(folder) -> None:
    """Pools on the scenario's LP decline, or reach HiGHS's optimum of the whole LP and meet every row."""
    lp = build(allocator.load(folder))
    with _everywhere():
        applies = pools.applies(lp)
        solution = pools.solve(lp) if applies else None
    event(f"applies={applies}, answered={solution is not None}")
    if solution is None:
        return
    status, objective = _whole(lp)
    assert status == "Optimal"
    found = float(lp.cost @ solution.x)
    assert abs(found - objective) <= 1e-7 * max(1.0, abs(objective)), (found, objective, solution.solver)
    _meets_rows(lp, solution.x)


@settings(max_examples=gen.examples(120), **SETTINGS)
@given(gen.scenario_folders(**PACED))
def test_pools_reach_the_whole_lps_optimum_or_decline(case):
    _equals_the_whole_lp(case[0])


@pytest.mark.parametrize("objective", ["maximin", "level-up", "equity-weighted", "fair-share"])
@settings(max_examples=gen.examples(30), **SETTINGS)
@given(data=st.data())
def test_other_objectives_over_pools_reach_the_whole_lps_optimum(objective, data):
    """Maximin's and level-up's level rows are priced with the pace rows (pieces still fill in
    order at their prices); fair share's target rows too (its pieces cost nothing)."""
    _equals_the_whole_lp(data.draw(gen.scenario_folders(**{**PACED, "objective": objective}))[0])


@settings(max_examples=gen.examples(60), **SETTINGS)
@given(gen.scenario_folders(**PACED))
def test_every_lagrangian_bound_is_below_the_optimum(case):
    """Weak duality, checked at each round's prices: the bound never passes the whole LP's optimum."""
    folder, _ = case
    lp = build(allocator.load(folder))
    with _everywhere():
        if not pools.applies(lp):
            return
    lay = pools._layout(lp)
    if lay is None:
        return
    status, objective = _whole(lp)
    if status != "Optimal":
        return
    pool_of = [np.zeros(cols.shape[1], np.int64) for cols in lay.cols]
    rng = np.random.default_rng(0)
    for _ in range(3):  # the pooled LP's prices, then arbitrary ones of the right signs
        built = pools._pooled(lp, lay, pool_of)
        if built is None:
            return
        small, E, keep, _, _ = built
        z, row_dual, _ = pools._solve_pooled(lp, small, None, 0.0, None, -np.inf)
        if z is None:
            return
        y = np.zeros(lp.n_rows)
        y[keep] = row_dual
        y[lay.chain] = 0.0
        for prices in (y, y * rng.uniform(0.5, 1.5, lp.n_rows)):
            _, _, bound = pools._refine(lp, lay, pool_of, prices)
            assert bound <= objective + 1e-9 * max(1.0, abs(objective))
        pool_of, splits, _ = pools._refine(lp, lay, pool_of, y)
        if not splits:
            break


@settings(max_examples=gen.examples(40), **SETTINGS)
@given(gen.scenario_folders(**PACED))
def test_the_pipeline_over_pools_checks_every_invariant(case):
    """`allocator.run` through pools (its invariants re-checked) equals the run without them."""
    the_pipeline_agrees(case[0], _everywhere, "pools")


def the_pipeline_agrees(folder, everywhere, marker: str) -> None:
    """`allocator.run` with ``everywhere()`` (a method at any size) equals the run without it."""
    try:
        whole = allocator.run(folder)
    except allocator.InfeasibleError:
        return
    with everywhere():
        result = allocator.run(folder)
    event(f"over {marker}" if marker in result.solution.solver else "whole LP")
    assert result.solution.objective == pytest.approx(whole.solution.objective, rel=1e-7, abs=1e-9)


def test_only_a_pace_of_change_without_a_minimum_slope_applies(tmp_path):
    from allocator.build.synthetic import write_scenario

    paced = allocator.load(write_scenario(tmp_path / "a", 60, seed=1, baseline=True, pace=(0.05, 0.15)))
    with _everywhere():
        assert pools.applies(build(paced))
        assert not pools.applies(build(paced.with_(pace=None)))
        sloped = allocator.load(write_scenario(tmp_path / "b", 60, seed=1, baseline=True, pace=(0.05, 0.15),
                                               min_slope=0.05))
        assert not pools.applies(build(sloped))
    assert not pools.applies(build(paced))  # too small to pay


@pytest.mark.parametrize("rule", ["none", "proportional"])
def test_no_ordering_rows_no_pools(tmp_path, rule):
    """The pools' bound keeps every piece's fill rising with need, which only the ordering rows
    promise: without them (proportionality "none", or proportional mode) it is no bound.  Found in
    session 17: 3,000 synthetic areas with "none" and a pace of change came back over pools,
    "certified", 2.2% short of the LP's optimum."""
    from allocator.build.synthetic import write_scenario
    from allocator.model.solver import solve

    s = allocator.load(write_scenario(tmp_path / "s", 60, 4, seed=0, baseline=True, pace=(0.5, 1.0),
                                      proportionality=rule))
    lp = build(s)
    with _everywhere():
        assert not pools.applies(lp)
        result = allocator.run(s)
    assert "pools" not in result.solution.solver
    assert result.solution.objective == pytest.approx(solve(lp, method="simplex").objective, rel=1e-7)


def test_a_time_limit_reports_the_best_allocation_and_the_bound(tmp_path):
    from allocator.build.synthetic import write_scenario

    s = allocator.load(write_scenario(tmp_path, 300, seed=2, baseline=True, pace=(0.05, 0.15)))
    lp = build(s)
    refine = pools._refine

    def endless(*args):  # never proven, never out of splits: the rounds run until the clock stops them
        pool_of, _, bound = refine(*args)
        return pool_of, 1, bound

    with _everywhere(), mock.patch.object(pools, "GAP", -1.0), mock.patch.object(pools, "_refine", endless):
        with pytest.raises(SolverError) as stopped:
            pools.solve(lp, time_limit=1.0)
    error = stopped.value
    assert "time limit of 1 s" in str(error)
    assert error.incumbent is not None and error.bound is not None
    assert error.bound >= error.incumbent * (1 - 1e-12)  # a maximisation: nothing passes the bound
    status, objective = _whole(lp)
    optimum = -objective / lp.objective_scale
    assert error.incumbent <= optimum * (1 + 1e-9) and error.bound >= optimum * (1 - 1e-9)


def test_a_pool_peeled_two_rounds_running_goes_to_single_lines():
    old = [np.array([0, 0, 0, 0, 0, 0, 1, 1, 1])]
    new = [np.array([0, 0, 0, 0, 0, 2, 1, 1, 1])]  # pool 0 loses one line, pool 1 keeps its three
    first, marks, more = pools._peeled(old, new, None)
    assert more == 0 and np.array_equal(first[0], new[0])
    assert marks[0].tolist() == [True] * 6 + [False] * 3
    again = [np.array([0, 0, 0, 0, 3, 2, 1, 1, 1])]  # and again: its lines go one a pool
    split, _, more = pools._peeled(first, again, marks)
    assert more == 3 and len(set(split[0][:6].tolist())) == 6 and len(set(split[0][6:].tolist())) == 1
    with mock.patch.object(pools, "SINGLES", 4):  # too large a pool to split up
        split, _, more = pools._peeled(first, again, marks)
    assert more == 0 and np.array_equal(split[0], again[0])
    big = [np.zeros(14, np.int64)]
    _, marks_half, _ = pools._peeled(big, [np.repeat([0, 1], 7)], None)
    assert not marks_half[0].any()  # losing more than a few lines is an ordinary split
