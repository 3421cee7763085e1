"""Tests for allocator.inequality: published values, worked examples, properties."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator import inequality
from allocator.inequality import (
    atkinson,
    concentration_index,
    gap,
    group_by_quantile,
    proportionality_index,
    relative_ranks,
    sii,
    sii_confidence,
)

DATA = Path(__file__).parent / "data" / "sii_reference"
AREAS = ["area1", "area2"]


def _area(name: str) -> pd.DataFrame:
    table = pd.read_csv(DATA / "phe_sii_deciles_input.csv")
    return table[table["Area"] == name].sort_values("Quantile")


def _expected(name: str) -> pd.Series:
    table = pd.read_csv(DATA / "phe_sii_deciles_expected.csv")
    return table.set_index("Area").loc[name]


def _phe_fit(values: np.ndarray, populations: np.ndarray) -> tuple[float, float]:
    """PHE's own formulation: no-intercept LS of sqrt(a)y on [sqrt(a), b sqrt(a)]."""
    a = populations / populations.sum()
    b = np.cumsum(a) - a / 2
    design = np.column_stack([np.sqrt(a), b * np.sqrt(a)])
    (b0, b1), *_ = np.linalg.lstsq(design, np.sqrt(a) * values, rcond=None)
    return float(b0), float(b1)


pops = st.integers(min_value=1, max_value=100_000)
vals = st.floats(min_value=0.5, max_value=1_000.0, allow_nan=False)


@st.composite
def grouped(draw, min_size: int = 2, max_size: int = 12):
    n = draw(st.integers(min_value=min_size, max_value=max_size))
    values = np.array(draw(st.lists(vals, min_size=n, max_size=n)))
    populations = np.array(draw(st.lists(pops, min_size=n, max_size=n)), dtype=float)
    return values, populations


# ---------------------------------------------------------------- ranks
def test_relative_ranks_are_midpoints_of_cumulative_shares():
    assert relative_ranks([1, 3]).tolist() == [0.125, 0.625]


@given(grouped(min_size=1))
def test_relative_ranks_increase_inside_unit_interval_with_mean_half(data):
    _, populations = data
    ranks = relative_ranks(populations)
    assert np.all(np.diff(ranks) > 0)
    assert np.all((ranks > 0) & (ranks < 1))
    assert populations @ ranks / populations.sum() == pytest.approx(0.5)


# ---------------------------------------------------------------- SII: published
@pytest.mark.parametrize("area", AREAS)
def test_sii_and_rii_reproduce_phe_published_values(area):
    rows, expected = _area(area), _expected(area)
    result = sii(rows["Value"], rows["Population"])
    assert result.sii == pytest.approx(expected["sii"], rel=1e-9)
    assert result.rii == pytest.approx(expected["rii"], rel=1e-9)
    assert result.sii > 0  # life expectancy rises towards the least deprived


@pytest.mark.parametrize("area", AREAS)
def test_sii_confidence_reproduces_phe_published_limits_within_5_percent(area):
    rows, expected = _area(area), _expected(area)
    ci = sii_confidence(rows["Value"], rows["Population"], rows["StandardError"], seed=2004)
    assert ci.sii_lower == pytest.approx(expected["sii_lower_95"], rel=0.05)
    assert ci.sii_upper == pytest.approx(expected["sii_upper_95"], rel=0.05)
    assert ci.rii_lower == pytest.approx(expected["rii_lower_95"], rel=0.05)
    assert ci.rii_upper == pytest.approx(expected["rii_upper_95"], rel=0.05)


def test_sii_confidence_100k_repetitions_well_under_a_second():
    rows = _area("area2")
    start = time.perf_counter()
    sii_confidence(rows["Value"], rows["Population"], rows["StandardError"], repetitions=100_000)
    assert time.perf_counter() - start < 1.0


def test_sii_confidence_takes_draws_at_r_one_based_positions():
    # R = 40, c = 0.95: cv = 0.975, positions round(1.0) = 1 and round(39.0) = 39
    # (1-based), i.e. the smallest and the second-largest of the sorted draws.
    values = np.array([70.0, 73.0, 71.0, 76.0])
    populations = np.array([10.0, 20.0, 30.0, 40.0])
    se = np.array([1.0, 2.0, 0.5, 1.5])
    ci = sii_confidence(values, populations, se, repetitions=40, seed=7)
    draws = np.random.default_rng(7).normal(values, se, size=(40, 4))
    slopes = sorted(_phe_fit(d, populations)[1] for d in draws)
    riis = sorted((b0 + b1) / b0 for b0, b1 in (_phe_fit(d, populations) for d in draws))
    assert ci.sii_lower == pytest.approx(slopes[0], rel=1e-12)
    assert ci.sii_upper == pytest.approx(slopes[38], rel=1e-12)
    assert ci.rii_lower == pytest.approx(riis[0], rel=1e-12)
    assert ci.rii_upper == pytest.approx(riis[38], rel=1e-12)


def test_sii_confidence_chunking_does_not_change_the_draws(monkeypatch):
    rows = _area("area1")
    args = (rows["Value"], rows["Population"], rows["StandardError"])
    whole = sii_confidence(*args, repetitions=5_000, seed=3)
    monkeypatch.setattr(inequality, "_CHUNK_ELEMENTS", 7)
    chunked = sii_confidence(*args, repetitions=5_000, seed=3)
    # Same draws in the same order; only BLAS summation order may differ.
    assert chunked == pytest.approx(whole, rel=1e-12)


def test_sii_confidence_is_reproducible_and_collapses_without_error():
    rows = _area("area2")
    args = (rows["Value"], rows["Population"], rows["StandardError"])
    assert sii_confidence(*args, seed=11) == sii_confidence(*args, seed=11)
    point = sii(rows["Value"], rows["Population"], multiplier=2.0)
    ci = sii_confidence(rows["Value"], rows["Population"], np.zeros(10), multiplier=2.0)
    assert ci.sii_lower == pytest.approx(point.sii) and ci.sii_upper == pytest.approx(point.sii)
    assert ci.rii_lower == pytest.approx(point.rii) and ci.rii_upper == pytest.approx(point.rii)


# ---------------------------------------------------------------- SII: properties
@given(grouped())
def test_sii_agrees_with_phe_design_matrix_least_squares(data):
    values, populations = data
    b0, b1 = _phe_fit(values, populations)
    result = sii(values, populations)
    assert result.sii == pytest.approx(b1, rel=1e-7, abs=1e-7)
    assert result.intercept == pytest.approx(b0, rel=1e-7, abs=1e-7)


@given(grouped(), st.integers(min_value=2, max_value=1_000))
def test_sii_invariant_to_scaling_populations(data, k):
    values, populations = data
    base, scaled = sii(values, populations), sii(values, populations * k)
    assert scaled.sii == pytest.approx(base.sii, rel=1e-9, abs=1e-9)
    assert scaled.intercept == pytest.approx(base.intercept, rel=1e-9, abs=1e-9)


@given(grouped(), st.floats(min_value=0.01, max_value=100.0))
def test_sii_scales_with_values_and_rii_does_not(data, k):
    values, populations = data
    base, scaled = sii(values, populations), sii(values * k, populations)
    assert scaled.sii == pytest.approx(k * base.sii, rel=1e-7, abs=1e-7)
    if abs(base.intercept) > 1e-6 * values.max():  # RII is ill-conditioned near b0 = 0
        assert scaled.rii == pytest.approx(base.rii, rel=1e-7)
    assert scaled.rii_alternative == pytest.approx(base.rii_alternative, rel=1e-7, abs=1e-9)


@given(
    st.lists(pops, min_size=2, max_size=12),
    st.floats(min_value=10.0, max_value=100.0),
    st.floats(min_value=-15.0, max_value=15.0),  # keeps the mean >= 2.5, away from 0
)
def test_linear_gradient_is_recovered_and_reversal_flips_sign(populations, intercept, slope):
    populations = np.array(populations, dtype=float)
    values = intercept + slope * relative_ranks(populations)
    forward = sii(values, populations)
    assert forward.sii == pytest.approx(slope, abs=1e-8)
    assert forward.intercept == pytest.approx(intercept, abs=1e-8)
    assert forward.rii == pytest.approx((intercept + slope) / intercept, rel=1e-9)
    mean = intercept + slope / 2
    assert forward.rii_alternative == pytest.approx(slope / mean, abs=1e-9)
    reverse = sii(values[::-1], populations[::-1])
    assert reverse.sii == pytest.approx(-slope, abs=1e-8)


def test_multiplier_scales_sii_only():
    rows = _area("area1")
    plain = sii(rows["Value"], rows["Population"])
    scaled = sii(rows["Value"], rows["Population"], multiplier=-3.0)
    assert scaled.sii == pytest.approx(-3.0 * plain.sii)
    assert (scaled.rii, scaled.intercept) == (plain.rii, plain.intercept)


def test_rii_is_nan_when_fitted_most_deprived_value_is_zero():
    assert math.isnan(sii([0.25, 0.75], [1, 1]).rii)  # fitted line passes through 0 at rank 0


# ---------------------------------------------------------------- concentration
def test_concentration_index_hand_worked_example():
    # Discrete formula for equal weights (Kakwani, Wagstaff & van Doorslaer 1997;
    # O'Donnell et al. 2008, ch. 8): C = 2/(n mu) * sum y_i r_i - 1, r_i = (i - 1/2)/n.
    # y = 1,2,3,4: mu = 2.5, sum y r = (1*1 + 2*3 + 3*5 + 4*7)/8 = 6.25,
    # C = 2/(4*2.5) * 6.25 - 1 = 0.25; reversed (most deprived gets most) -0.25.
    assert concentration_index([1, 2, 3, 4], [1, 1, 1, 1]) == pytest.approx(0.25)
    assert concentration_index([4, 3, 2, 1], [1, 1, 1, 1]) == pytest.approx(-0.25)


@settings(max_examples=50)
@given(
    st.lists(
        st.tuples(vals, st.integers(min_value=1, max_value=30)), min_size=1, max_size=10
    )
)
def test_grouped_concentration_index_equals_individual_level_formulas(groups):
    values = np.array([v for v, _ in groups])
    populations = np.array([n for _, n in groups])
    people = np.repeat(values, populations)  # one row per person, most deprived first
    n, mu = people.size, people.mean()
    # Formula 1 (Kakwani et al. 1997): C = 2/(n mu) sum y_i (i/n) - 1 - 1/n.
    discrete = 2 / (n * mu) * (people @ (np.arange(1, n + 1) / n)) - 1 - 1 / n
    # Formula 2, O'Donnell et al. 2008 eq. 8.8, the "convenient regression":
    # 2 var(r) y_i / mu = alpha + C r_i, fitted by OLS.
    r = (np.arange(1, n + 1) - 0.5) / n
    lhs = 2 * r.var() * people / mu
    regression = np.polyfit(r, lhs, 1)[0] if n > 1 else 0.0
    result = concentration_index(values, populations)
    assert result == pytest.approx(discrete, abs=1e-9)
    assert result == pytest.approx(regression, abs=1e-9)


@given(grouped(min_size=1), st.floats(min_value=-1e3, max_value=1e3).filter(lambda c: c != 0))
def test_concentration_index_of_a_constant_is_zero(data, constant):
    _, populations = data
    values = np.full(populations.size, constant)
    assert concentration_index(values, populations) == pytest.approx(0.0, abs=1e-12)


def test_concentration_index_of_all_zero_is_nan_and_tiny_constants_are_zero():
    assert math.isnan(concentration_index([0.0, 0.0], [1, 1]))
    assert concentration_index([5e-324, 5e-324], [1, 1]) == 0.0  # subnormal mean


@given(grouped())
def test_concentration_index_is_bounded_and_negative_when_spend_falls_with_rank(data):
    values, populations = data
    c = concentration_index(values, populations)
    assert -1 <= c <= 1
    falling = np.sort(values)[::-1]
    if falling[0] > falling[-1]:
        assert concentration_index(falling, populations) < 0


# ---------------------------------------------------------------- Atkinson
def test_atkinson_hand_worked_examples():
    # From Atkinson's (1970) definition, y = (1, 4), equal weights, mean 2.5:
    # e = 0.5: EDE = ((1 + 2)/2)^2 = 2.25, index 0.1;
    # e = 1:   EDE = geometric mean sqrt(4) = 2, index 0.2;
    # e = 2:   EDE = harmonic mean 2/(1 + 1/4) = 1.6, index 0.36.
    for epsilon, ede, index in [(0.5, 2.25, 0.1), (1, 2.0, 0.2), (2, 1.6, 0.36)]:
        result = atkinson([1.0, 4.0], [1, 1], epsilon)
        assert result.ede == pytest.approx(ede, rel=1e-12)
        assert result.index == pytest.approx(index, rel=1e-12)


@given(grouped(min_size=1))
def test_atkinson_epsilon_zero_is_zero_and_epsilon_one_is_geometric_mean(data):
    values, weights = data
    assert atkinson(values, weights, 0).index == pytest.approx(0.0, abs=1e-12)
    geometric = math.exp(weights @ np.log(values) / weights.sum())
    assert atkinson(values, weights, 1).ede == pytest.approx(geometric, rel=1e-9)


@given(grouped(min_size=1), st.floats(min_value=0.0, max_value=10.0))
def test_atkinson_index_in_unit_interval_scale_free_and_rising_in_aversion(data, epsilon):
    values, weights = data
    result = atkinson(values, weights, epsilon)
    assert -1e-12 <= result.index < 1
    assert atkinson(values * 7.0, weights, epsilon).index == pytest.approx(result.index, abs=1e-9)
    assert atkinson(values, weights, epsilon + 1).index >= result.index - 1e-12


@settings(max_examples=50)
@given(
    st.lists(st.tuples(vals, st.integers(min_value=1, max_value=20)), min_size=1, max_size=8),
    st.floats(min_value=0.0, max_value=5.0),
)
def test_atkinson_weights_equal_replication(groups, epsilon):
    values = np.array([v for v, _ in groups])
    weights = np.array([w for _, w in groups])
    replicated = np.repeat(values, weights)
    assert atkinson(values, weights, epsilon).ede == pytest.approx(
        atkinson(replicated, np.ones(replicated.size), epsilon).ede, rel=1e-9
    )


def test_atkinson_extreme_aversions_stay_finite_and_accurate():
    # Computed directly, y^(1-e) would underflow to 0 here and the EDE become inf.
    assert atkinson([1e3, 1e4], [1, 1], 200).ede == pytest.approx(1e3 * 2 ** (1 / 199), rel=1e-9)
    assert atkinson([1e-3, 1e3], [1, 1], 300).ede == pytest.approx(1e-3 * 2 ** (1 / 299), rel=1e-9)
    # Just off e = 1 the power mean must still be the geometric mean, sqrt(1 * 2).
    for epsilon in (1 - 1e-15, 1 + 2.2e-16, 1 + 1e-9):
        assert atkinson([1.0, 2.0], [1, 1], epsilon).ede == pytest.approx(math.sqrt(2), rel=1e-8)


# ---------------------------------------------------------------- gap
def test_gap_is_least_minus_most_deprived_and_their_ratio():
    assert gap([70.0, 75.0, 84.0]) == inequality.Gap(absolute=14.0, relative=1.2)
    assert gap([8.0, 6.0, 4.0]).absolute == -4.0


def test_gap_skips_empty_end_groups_and_is_nan_on_zero_base():
    result = gap([1.0, 70.0, 84.0, 99.0], populations=[0, 10, 10, 0])
    assert result == inequality.Gap(absolute=14.0, relative=1.2)
    assert math.isnan(gap([0.0, 5.0]).relative)


# ---------------------------------------------------------------- proportionality
@given(
    grouped(),
    st.floats(min_value=-50.0, max_value=50.0),
    st.floats(min_value=0.0, max_value=100.0),
)
def test_proportionality_index_recovers_exact_slope(data, slope, intercept):
    need, populations = data
    if np.ptp(need) < 1e-3:
        return
    spend = intercept + slope * need
    assert proportionality_index(spend, need, populations) == pytest.approx(slope, abs=1e-6)


@given(grouped(), st.lists(vals, min_size=12, max_size=12))
def test_proportionality_index_matches_weighted_polyfit(data, spend):
    need, populations = data
    if np.ptp(need) < 1e-3:
        return
    spend = np.array(spend[: need.size])
    # polyfit weights multiply residuals, so sqrt(population) gives population-weighted LS.
    expected = np.polyfit(need, spend, 1, w=np.sqrt(populations))[0]
    assert proportionality_index(spend, need, populations) == pytest.approx(
        expected, rel=1e-6, abs=1e-6
    )


def test_proportionality_index_is_nan_when_need_is_constant():
    assert math.isnan(proportionality_index([1.0, 2.0], [3.0, 3.0], [1, 1]))


# ---------------------------------------------------------------- grouping
@given(st.integers(min_value=1, max_value=400), st.integers(min_value=1, max_value=20))
def test_group_by_quantile_equal_units_give_n_groups_of_equal_share(n_units, n_groups):
    ranks = np.random.default_rng(n_units).permutation(n_units)
    labels = group_by_quantile(ranks, np.ones(n_units), n_groups)
    shares = np.bincount(labels, minlength=n_groups + 1)[1:] / n_units
    assert labels.min() >= 1 and labels.max() <= n_groups
    assert np.all(np.abs(shares - 1 / n_groups) <= 1 / n_units + 1e-12)
    if n_units >= n_groups:
        assert set(labels.tolist()) == set(range(1, n_groups + 1))


@given(
    st.lists(st.tuples(st.integers(0, 50), pops), min_size=1, max_size=60),
    st.integers(min_value=1, max_value=10),
)
def test_group_by_quantile_is_monotone_and_high_mirrors_low(units, n_groups):
    ranks = np.array([r for r, _ in units], dtype=float)
    populations = np.array([p for _, p in units], dtype=float)
    low = group_by_quantile(ranks, populations, n_groups)
    order = np.argsort(ranks, kind="stable")
    assert np.all(np.diff(low[order]) >= 0)
    high = group_by_quantile(-ranks, populations, n_groups, most_deprived="high")
    assert np.array_equal(low, high)
    shares = np.bincount(low, weights=populations, minlength=n_groups + 1)[1:]
    assert np.all(np.abs(shares / populations.sum() - 1 / n_groups)
                  <= populations.max() / populations.sum() + 1e-12)


def test_group_by_quantile_breaks_ties_by_input_order_and_uses_midpoints():
    assert group_by_quantile([5, 5, 5, 5], [1, 1, 1, 1], 2).tolist() == [1, 1, 2, 2]
    # shares 0.1, 0.6, 0.3: midpoints 0.05, 0.4, 0.85 fall in quintiles 1, 3, 5.
    assert group_by_quantile([1, 2, 3], [1, 6, 3], 5).tolist() == [1, 3, 5]
    assert group_by_quantile([3, 2, 1], [1, 6, 3], 5, most_deprived="high").tolist() == [1, 3, 5]


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sii([1.0, 2.0], [1, 1, 1]), "equal lengths"),
        (lambda: sii([1.0, math.nan], [1, 1]), "finite"),
        (lambda: sii([1.0, 2.0], [0, 0]), "positive total"),
        (lambda: sii([1.0, 2.0], [-1, 3]), ">= 0"),
        (lambda: sii([1.0, 2.0], [0, 3]), "at least two groups"),
        (lambda: sii([[1.0, 2.0]], [1, 1]), "1-D"),
        (lambda: sii(["a", "b"], [1, 1]), "expected numbers"),
        (lambda: relative_ranks([]), "at least one"),
        (lambda: sii_confidence([1, 2], [1, 1], [1, -1]), "standard_errors"),
        (lambda: sii_confidence([1, 2], [1, 1], [1, 1], confidence=1.0), "confidence"),
        (lambda: sii_confidence([1, 2], [1, 1], [1, 1], repetitions=0), "repetitions"),
        (lambda: concentration_index([1, 2], [1, math.inf]), "finite"),
        (lambda: atkinson([0.0, 1.0], [1, 1], 1), "> 0"),
        (lambda: atkinson([1.0, 2.0], [1, 1], -0.5), "epsilon"),
        (lambda: gap([1.0, 2.0], [1]), "equal lengths"),
        (lambda: proportionality_index([1, 2], [1, 2], [1, 1, 1]), "equal lengths"),
        (lambda: group_by_quantile([1, 2], [1, 1], 0), "n_groups"),
        (lambda: group_by_quantile([1, 2], [1, 1], 2, most_deprived="middle"), "most_deprived"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
