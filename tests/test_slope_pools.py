"""A pace of change with a minimum slope over pools of lifts (`allocator.model.slope_pools`).

The bound's inner problem (isotonic regression with convex piecewise-linear losses, by
thresholds) is checked against HiGHS on its own LP; random scenarios with a pace of change and a
minimum slope (ties in need, locked lines, floors and caps drawn), built as `allocator.run`
builds them, are solved over pools with the size threshold lifted and checked against HiGHS on
the whole LP: the same optimum (1e-7 relative), an allocation that meets every row, and a bound
that no allocation passes at any prices.  Through the pipeline every invariant of DESIGN.md is
re-checked from the allocation.
"""

from __future__ import annotations

import re
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import allocator
from allocator.errors import SolverError
from allocator.model import slope_pools
from allocator.model.highs import highs_model, new_highs
from allocator.model.lp import LinearProgram, build
from tests import strategies as gen
from tests.test_pools import _meets_rows, the_pipeline_agrees
from tests.test_sifting import _whole

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOPED = dict(pace=True, sloped=True, objective="health-gain", proportionality="monotone", min_areas=3)


def _everywhere():
    return mock.patch.object(slope_pools.pools, "MIN_COLUMNS", 0)


# --- the bound's inner problem -----------------------------------------------------------------


@st.composite
def chains(draw):
    """A service's lines: levels of need (ties drawn), pieces (some empty), steps, convex costs."""
    n = draw(st.integers(1, 14))
    K = draw(st.integers(1, 4))
    level = np.cumsum([0] + draw(st.lists(st.sampled_from((0, 1, 1)), min_size=n - 1, max_size=n - 1)))
    length = np.array(draw(st.lists(st.sampled_from((0.0, 0.25, 0.5, 1.0, 2.0)), min_size=K * n,
                                    max_size=K * n))).reshape(K, n)
    steps = np.array(draw(st.lists(st.sampled_from((0.0, 0.05, 0.3, 0.7)), min_size=n, max_size=n)))
    offset = np.r_[0.0, np.cumsum(steps[1:level[-1] + 1])][level]
    cost = np.sort(np.array(draw(st.lists(st.integers(-20, 20), min_size=K * n, max_size=K * n))).reshape(K, n) / 4, axis=0)
    return slope_pools._Chain(np.zeros((K, n), np.int64), cost, length, level, offset, 0)


def _isotonic_lp(c) -> tuple[str, float]:
    """HiGHS on the inner problem as an LP: fills in [0, length], a separator between levels."""
    K, n = c.cols.shape
    J = int(c.level[-1]) + 1
    rows, cols, vals, lower, upper = [], [], [], [], []
    for t in range(n):
        j = int(c.level[t])
        for sep, sign, lo, hi in ((j + 1, 1.0, -np.inf, c.offset[t]), (j, -1.0, -np.inf, -c.offset[t])):
            if 0 < sep < J:  # line t's lift below the next separator, above its own
                r = len(lower)
                rows += [r] * (K + 1)
                cols += [k * n + t for k in range(K)] + [K * n + sep]
                vals += [sign] * K + [-sign]
                lower.append(lo)
                upper.append(hi)
    matrix = sp.csc_matrix((vals, (rows, cols)), shape=(len(lower), K * n + J))
    lp = LinearProgram(maximize=False, cost=np.r_[c.cost.ravel(), np.zeros(J)],
                       col_lower=np.r_[np.zeros(K * n), np.full(J, -np.inf)],
                       col_upper=np.r_[c.length.ravel(), np.full(J, np.inf)], matrix=matrix,
                       row_lower=np.array(lower), row_upper=np.array(upper), col_blocks=(), row_blocks=(),
                       groups=None, formulation={}, decode=None)
    h = new_highs()
    h.setOptionValue("primal_feasibility_tolerance", 1e-10)
    h.setOptionValue("dual_feasibility_tolerance", 1e-10)
    h.passModel(highs_model(lp))
    h.run()
    return h.modelStatusToString(h.getModelStatus()), h.getInfo().objective_function_value


@settings(max_examples=gen.examples(300), **SETTINGS)
@given(chains(), st.booleans())
def test_the_isotonic_lifts_are_the_least_cost(c, least):
    status, optimum = _isotonic_lp(c)
    lift = slope_pools._isotonic(c.cost, c, least=least)
    if status == "Infeasible":
        assert lift is None
        return
    assert status == "Optimal" and lift is not None
    intensity = lift + c.offset
    assert np.all(intensity >= -1e-9) and np.all(intensity <= c.ends[-1] + 1e-9)  # within each line's pieces
    for j in range(int(c.level[-1])):  # never falling with need
        assert lift[c.level == j].max() <= lift[c.level == j + 1].min() + 1e-9
    found = float((c.cost * slope_pools._fills(c, lift)).sum())
    assert found == pytest.approx(optimum, rel=1e-9, abs=1e-9)


def test_the_least_and_greatest_lifts_differ_where_costs_tie():
    """Two lines, one level each, a flat piece: any lift between the ends costs the same."""
    c = slope_pools._Chain(np.zeros((1, 2), np.int64), np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]]),
                           np.array([0, 1]), np.array([0.0, 0.0]), 0)
    assert slope_pools._isotonic(c.cost, c).tolist() == [0.0, 0.0]
    assert slope_pools._isotonic(c.cost, c, least=False).tolist() == [1.0, 1.0]


# --- the whole LP's optimum --------------------------------------------------------------------


def _equals_the_whole_lp(folder) -> None:
    lp = build(allocator.load(folder))
    status, objective = _whole(lp)
    with _everywhere():
        applies = slope_pools.applies(lp)
        try:
            solution = slope_pools.solve(lp) if applies else None
        except allocator.InfeasibleError:
            assert status == "Infeasible", status  # a proof of no allocation only where there is none
            return
    event(f"applies={applies}, answered={solution is not None}, whole LP {status}")
    if solution is None:
        assert not applies or status != "Optimal" or slope_pools._layout(lp) is None, "declined a solvable LP"
        return
    assert status == "Optimal"
    found = float(lp.cost @ solution.x)
    assert abs(found - objective) <= 1e-7 * max(1.0, abs(objective)), (found, objective, solution.solver)
    _meets_rows(lp, solution.x)


@settings(max_examples=gen.examples(120), **SETTINGS)
@given(gen.scenario_folders(**SLOPED))
def test_slope_pools_reach_the_whole_lps_optimum(case):
    _equals_the_whole_lp(case[0])


@settings(max_examples=gen.examples(40), **SETTINGS)
@given(gen.scenario_folders(**SLOPED))
def test_pools_costed_by_chords_reach_the_whole_lps_optimum(case):
    """Every pool's cost one chord but for the segments either side of its last lift: the rounds
    still end at the optimum (the chords lie on or above the cost, exact where the pool was)."""
    with mock.patch.object(slope_pools, "WINDOW", 0), mock.patch.object(slope_pools, "CHORDS", 1):
        _equals_the_whole_lp(case[0])


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 8), st.integers(-20, 20)), min_size=1, max_size=60),
       st.lists(st.one_of(st.just(np.nan), st.floats(0, 40)), min_size=4, max_size=4), st.integers(0, 3),
       st.integers(1, 4))
def test_chords_lie_on_or_above_the_cost_and_meet_it_near_the_centre(raw, centre, window, chords):
    raw = sorted(raw)  # segments by pool, slopes rising within a pool (a convex cost)
    who = np.array([r[0] for r in raw])
    length = np.array([r[1] for r in raw], dtype=float)
    slope = np.concatenate([np.sort(np.array([r[2] for r in raw if r[0] == p], dtype=float)) for p in range(4)])
    with mock.patch.object(slope_pools, "WINDOW", window), mock.patch.object(slope_pools, "CHORDS", chords):
        w2, l2, s2 = slope_pools._coarse(who, length, slope, np.array(centre), 4)
    for p in range(4):
        exact = np.r_[0.0, np.cumsum(length[who == p] * slope[who == p])]
        knots = np.r_[0.0, np.cumsum(length[who == p])]
        chord = np.r_[0.0, np.cumsum(l2[w2 == p] * s2[w2 == p])]
        chord_knots = np.r_[0.0, np.cumsum(l2[w2 == p])]
        assert chord_knots[-1] == knots[-1]
        assert np.all(np.isin(chord_knots, knots))  # chords join knots of the cost
        assert np.all(np.diff(s2[w2 == p]) >= -1e-9)  # still convex: segments fill in order
        at = np.interp(knots, chord_knots, chord)
        assert np.all(at >= exact - 1e-9)  # on or above the cost
        if np.isfinite(centre[p]) and centre[p] < knots[-1]:
            c = centre[p]
            assert np.interp(c, chord_knots, chord) == pytest.approx(np.interp(c, knots, exact), abs=1e-9)


@settings(max_examples=gen.examples(30), **SETTINGS)
@given(gen.scenario_folders(**{**SLOPED, "objective": "equity-weighted"}))
def test_equity_weights_over_slope_pools_reach_the_whole_lps_optimum(case):
    _equals_the_whole_lp(case[0])


@settings(max_examples=gen.examples(60), **SETTINGS)
@given(gen.scenario_folders(**SLOPED), st.integers(0, 2**32 - 1))
def test_no_bound_passes_the_optimum(case, seed):
    """Weak duality at the pooled LP's prices and at arbitrary ones of the right signs."""
    lp = build(allocator.load(case[0]))
    lay = slope_pools._layout(lp)
    status, objective = _whole(lp)
    if lay is None or status != "Optimal":
        return
    built = slope_pools._pooled(lp, lay, [np.zeros(c.cols.shape[1], np.int64) for c in lay.chains])
    z, dual, _ = slope_pools.pools._solve_pooled(lp, built.lp, None, 0.0, None, -np.inf, presolve=True)
    y = np.zeros(lp.n_rows)
    y[built.rows] = dual[:len(built.rows)]
    rng = np.random.default_rng(seed)
    for prices in (y, y * rng.uniform(0.0, 3.0, lp.n_rows), rng.normal(size=lp.n_rows)):
        bound, _ = slope_pools._bound(lp, lay, prices)  # (prices of the wrong sign count as 0)
        assert bound <= objective + 1e-9 * max(1.0, abs(objective))


@settings(max_examples=gen.examples(30), **SETTINGS)
@given(gen.scenario_folders(**SLOPED))
def test_the_pipeline_over_slope_pools_checks_every_invariant(case):
    """`allocator.run` through slope pools (its invariants re-checked) equals the run without them."""
    the_pipeline_agrees(case[0], _everywhere, "minimum slope, over pools")


# --- when it applies ---------------------------------------------------------------------------


def test_a_pace_of_change_with_a_minimum_slope_applies(tmp_path):
    from allocator.build.synthetic import write_scenario
    from allocator.model import pools

    both = allocator.load(write_scenario(tmp_path / "a", 60, seed=1, baseline=True, pace=(0.05, 0.15), min_slope=0.05))
    with _everywhere():
        assert slope_pools.applies(build(both)) and not pools.applies(build(both))
        assert not slope_pools.applies(build(both.with_(pace=None)))
        assert not slope_pools.applies(build(both.with_(min_slope=np.zeros(both.n_services))))
        assert not slope_pools.applies(build(both.with_(proportionality="proportional", min_slope=np.zeros(both.n_services))))
        with pytest.raises(allocator.ScenarioError, match="applies in proportionality mode 'monotone' only"):
            build(both.with_(proportionality="proportional"))  # a slope that mode would ignore: refused
        maximin = build(both.with_(objective="maximin"))  # its level rows weigh pieces apart: declined
        assert slope_pools.applies(maximin) and slope_pools._layout(maximin) is None
    assert not slope_pools.applies(build(both))  # too small to pay


def test_england_lsoa_ships_the_combination():
    from pathlib import Path

    from allocator.scenario.options import apply

    s = allocator.load(Path(__file__).parent.parent / "scenarios" / "england-lsoa")
    assert slope_pools.applies(build(apply(s, {o.name: o for o in s.options}["Pace and steeper slope"])))


@pytest.mark.parametrize("pace, slopes", [((0.05, 0.05), (0.5, 0.25)), ((0.0, 0.0), (0.0, 0.25)),
                                          ((0.02, 0.02), (1.0, 0.0))])
def test_a_pace_and_slope_no_allocation_meets_is_proven_by_the_bound(pace, slopes):
    """tiny's budget at its baseline (£78,500), a narrow pace of change and a minimum slope: each
    area passes the money checks alone, but the slope lifts higher-need areas past their windows
    while lower-need ones are held up.  The bound at the first round's prices passes every
    allocation's cost: proven at once, said with the areas, and the LP agrees."""
    from pathlib import Path

    s = allocator.load(Path(__file__).parent / "data" / "tiny").with_(budget_gbp=78_500.0, pace=pace,
                                                                        min_slope=np.array(slopes))
    lp = build(s)
    with _everywhere(), pytest.raises(allocator.InfeasibleError) as proven:
        slope_pools.solve(lp)
    assert proven.value.explained
    assert "no allocation meets the pace of change and the minimum slope together" in str(proven.value)
    assert re.search(r"holds some areas up \(for example 'A\d'", str(proven.value))
    assert _whole(lp)[0] == "Infeasible"
    with _everywhere(), pytest.raises(allocator.InfeasibleError, match="minimum slope together"):
        allocator.run(s)  # the pipeline keeps the proof's words


def test_a_time_limit_reports_the_best_allocation_and_the_bound(tmp_path):
    from allocator.build.synthetic import write_scenario

    s = allocator.load(write_scenario(tmp_path, 300, seed=2, baseline=True, pace=(0.05, 0.15), min_slope=0.05))
    lp = build(s)
    split = slope_pools._split

    def endless(pool_of, lifts):  # never out of splits: the rounds run until the clock stops them
        return split(pool_of, lifts)[0], 1

    with mock.patch.object(slope_pools, "GAP", -1.0), mock.patch.object(slope_pools, "_split", endless), \
            mock.patch.object(slope_pools, "ROUNDS", 10_000):
        with pytest.raises(SolverError) as stopped:
            slope_pools.solve(lp, time_limit=1.0)
    error = stopped.value
    assert "time limit of 1 s" in str(error)
    assert error.incumbent is not None and error.bound is not None
    status, objective = _whole(lp)
    optimum = -objective / lp.objective_scale
    assert error.incumbent <= optimum * (1 + 1e-9) and error.bound >= optimum * (1 - 1e-9)
