"""Differential tests: allocator's optimum against an independent model of DESIGN.md.

`independent_optimum` builds the LP of DESIGN.md from the scenario's data alone
(tests/strategies.py computes need, unit spend, fair shares with numpy from the
generated spec, never through allocator) and solves it with
``scipy.optimize.linprog``.  It is written the plain way, not allocator's way:

- one intensity variable per free line (area x service), floors and caps as bounds;
- health-gain: an epigraph variable ``t <= a_k i + b_k`` for every piece of the
  response curve (the flat tail included), objective ``max sum P n m t``;
- fair-share: ``u i - T = over - under`` with ``over, under >= 0``, ``min sum over + under``;
- monotone: a row for *every* pair of lines of a service with different need;
- proportional: ``(1 - tau) k_s n <= i - f <= (1 + tau) k_s n`` with ``k_s >= 0``;
- pace of change: two rows per area; locked lines as constants.

It also re-checks allocator's spend against these constraints and evaluates its
objective from the spend, so a decoding error cannot hide behind a right optimum.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import allocator
from tests import strategies as gen

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                       HealthCheck.data_too_large])
REL = 1e-6
PENNY = 0.01


def _pieces(model: gen.ResponseSpec) -> list[tuple[float, float]]:
    """(a_k, b_k) with g(i) = min_k a_k i + b_k for i >= 0 (concave curve, flat tail)."""
    u, g = np.array(model.units), np.array(model.gains)
    out = []
    for k in range(len(u) - 1):
        a = (g[k + 1] - g[k]) / (u[k + 1] - u[k])
        out.append((a, g[k] - a * u[k]))
    out.append((0.0, g[-1]))
    return out


class Model:
    """The independent LP's data for one spec (all in GBP, units per head)."""

    def __init__(self, spec: gen.Spec):
        self.spec = spec
        self.unit = gen.unit_spend(spec)
        self.need = gen.need(spec)
        self.weight = gen.gain_weight(spec)
        self.fixed = gen.locked(spec)
        self.free = gen.free_lines(spec)
        self.lines = list(zip(*np.nonzero(self.free)))
        self.floor = np.array([s.floor for s in spec.services])
        self.cap = np.array([s.cap for s in spec.services])
        self.slope = np.array([s.min_slope if s.min_slope is not None else spec.min_slope
                               for s in spec.services])
        self.target = gen.fair_share(spec)
        self.locked_spend = np.where(np.isfinite(self.fixed), self.fixed, 0.0)


def independent_optimum(spec: gen.Spec) -> float:
    """Optimal objective: total gain of the free lines, or total distance from target (GBP)."""
    m = Model(spec)
    L = len(m.lines)
    S = spec.n_services
    health = spec.objective == "health-gain"
    B = spec.budget
    # columns: i (L), then t (L) or over, under (2L), then k (S) when proportional
    n_extra = L if health else 2 * L
    prop = spec.proportionality == "proportional"
    n_cols = L + n_extra + (S if prop else 0)
    k_col = L + n_extra
    lower = np.zeros(n_cols)
    upper = np.full(n_cols, np.inf)
    cost = np.zeros(n_cols)
    line_s = np.array([s for _, s in m.lines], dtype=int)
    line_a = np.array([a for a, _ in m.lines], dtype=int)
    u = m.unit[line_a, line_s] if L else np.zeros(0)
    lower[:L] = m.floor[line_s]
    upper[:L] = m.cap[line_s]
    wscale = max(float(m.weight[line_a, line_s].max(initial=0)), 1e-300)
    if health:
        lower[L:2 * L] = -np.inf
        cost[L:2 * L] = -m.weight[line_a, line_s] / wscale
    else:
        cost[L:3 * L] = 1.0  # money over and under target, in units of B
    ub_rows, ub_rhs, eq_rows, eq_rhs = [], [], [], []

    def row(entries):
        r = np.zeros(n_cols)
        for j, v in entries:
            r[j] += v
        return r

    # budget (money scaled by 1/B)
    budget = row([(j, u[j] / B) for j in range(L)])
    rest = (B - m.locked_spend.sum()) / B
    (eq_rows if spec.mode == "exact" else ub_rows).append(budget)
    (eq_rhs if spec.mode == "exact" else ub_rhs).append(rest)
    for j, (a, s) in enumerate(m.lines):
        if health:
            model = spec.response_models[spec.services[s].response_model]
            for slope, intercept in _pieces(model):
                ub_rows.append(row([(L + j, 1.0), (j, -slope)]))
                ub_rhs.append(intercept)
        else:
            eq_rows.append(row([(j, u[j] / B), (L + j, -1.0), (2 * L + j, 1.0)]))
            eq_rhs.append(m.target[a, s] / B)
    if spec.proportionality == "monotone":
        for p in range(L):
            for q in range(L):
                if line_s[p] == line_s[q] and m.need[line_a[p], line_s[p]] < m.need[line_a[q], line_s[q]]:
                    s = line_s[p]
                    gap = m.need[line_a[q], s] - m.need[line_a[p], s]
                    ub_rows.append(row([(p, 1.0), (q, -1.0)]))  # i_p - i_q <= -gamma * gap
                    ub_rhs.append(-m.slope[s] * gap)
    elif prop:
        tau = spec.tolerance
        for j, (a, s) in enumerate(m.lines):
            n = m.need[a, s]
            ub_rows.append(row([(k_col + s, (1 - tau) * n), (j, -1.0)]))
            ub_rhs.append(-m.floor[s])
            ub_rows.append(row([(j, 1.0), (k_col + s, -(1 + tau) * n)]))
            ub_rhs.append(m.floor[s])
    if spec.pace is not None:
        down, up = spec.pace
        base = spec.baseline.sum(axis=1)
        fixed = m.locked_spend.sum(axis=1)
        for a in range(spec.n_areas):
            mine = [(j, u[j] / base[a]) for j in range(L) if line_a[j] == a]
            ub_rows.append(row(mine))
            ub_rhs.append(((1 + up) * base[a] - fixed[a]) / base[a])
            ub_rows.append(row([(j, -v) for j, v in mine]))
            ub_rhs.append(-((1 - down) * base[a] - fixed[a]) / base[a])
    if n_cols == 0:  # nothing to decide: the budget is met by locked lines (by construction)
        return 0.0
    res = linprog(
        cost,
        A_ub=sp.csr_matrix(np.array(ub_rows)) if ub_rows else None, b_ub=ub_rhs or None,
        A_eq=sp.csr_matrix(np.array(eq_rows)) if eq_rows else None, b_eq=eq_rhs or None,
        bounds=list(zip(lower, [None if not np.isfinite(v) else v for v in upper])),
        method="highs")
    assert res.status == 0, res.message
    if health:
        return -res.fun * wscale
    return res.fun * B


def independent_value(spec: gen.Spec, spend: np.ndarray) -> float:
    """The objective of ``spend`` on the free lines, from the response curves / fair shares."""
    m = Model(spec)
    if spec.objective == "health-gain":
        intensity = np.divide(spend, m.unit, out=np.zeros_like(spend), where=m.unit > 0)
        gain = m.weight * gen.response_gain(spec, intensity)
        return float(gain[m.free].sum())
    return float(np.abs(spend - m.target)[m.free].sum())


def rounding_allowance(spec: gen.Spec) -> float:
    """How far penny rounding can move the objective."""
    m = Model(spec)
    if spec.objective == "fair-share":
        return PENNY * m.free.sum()
    steepest = np.array([spec.response_models[s.response_model].gains[1]
                         / spec.response_models[s.response_model].units[1] for s in spec.services])
    per_line = np.divide(m.weight * steepest[None, :] * PENNY, m.unit,
                         out=np.zeros_like(m.unit), where=m.unit > 0)
    return float(per_line[m.free].sum())


def independent_violations(spec: gen.Spec, spend: np.ndarray) -> list[str]:
    """DESIGN.md's constraints on ``spend``, with this module's own reading of them."""
    m = Model(spec)
    bad = []
    total = spend.sum()
    if spec.mode == "exact" and abs(total - spec.budget) > REL * spec.budget:
        bad.append(f"total {total} is not the budget {spec.budget}")
    if spec.mode == "at-most" and total > spec.budget * (1 + REL):
        bad.append(f"total {total} is over the budget {spec.budget}")
    locked = np.isfinite(m.fixed)
    if np.any(np.abs(spend[locked] - m.fixed[locked]) > PENNY):
        bad.append("locked line moved")
    if np.any(spend[~locked & (m.unit == 0)] != 0):
        bad.append("money for nobody")
    i = np.divide(spend, m.unit, out=np.zeros_like(spend), where=m.unit > 0)
    tol = REL * np.maximum(1.0, np.abs(i)) + np.divide(PENNY, m.unit, out=np.zeros_like(spend),
                                                         where=m.unit > 0)
    for a, s in m.lines:
        if i[a, s] < m.floor[s] - tol[a, s] or i[a, s] > m.cap[s] + tol[a, s]:
            bad.append(f"line {a},{s}: intensity {i[a, s]} outside [{m.floor[s]}, {m.cap[s]}]")
    for s in range(spec.n_services):
        rows = [a for a, t in m.lines if t == s]
        if spec.proportionality == "monotone":
            for p in rows:
                for q in rows:
                    gap = m.need[q, s] - m.need[p, s]
                    if gap > 0 and i[q, s] - i[p, s] < m.slope[s] * gap - tol[p, s] - tol[q, s]:
                        bad.append(f"{spec.services[s].service_id}: area {q} (need {m.need[q, s]}) "
                                   f"gets {i[q, s]}, area {p} (need {m.need[p, s]}) {i[p, s]}")
        elif spec.proportionality == "proportional" and rows:
            tau = spec.tolerance
            extra, n, t = i[rows, s] - m.floor[s], m.need[rows, s], tol[rows, s]
            k_low = np.max((extra - t) / ((1 + tau) * n))
            k_high = np.min((extra + t) / ((1 - tau) * n))
            if k_low > k_high * (1 + REL) + REL:
                bad.append(f"{spec.services[s].service_id}: not proportional within {tau}")
    if spec.pace is not None:
        down, up = spec.pace
        base = spec.baseline.sum(axis=1)
        area = spend.sum(axis=1)
        slack = REL * base + PENNY * spec.n_services
        for a in np.flatnonzero((area < (1 - down) * base - slack) | (area > (1 + up) * base + slack)):
            bad.append(f"area {a}: total {area[a]} outside the pace window around {base[a]}")
    return bad


def allocator_objective(spec: gen.Spec, result: allocator.Result) -> float:
    """allocator's LP optimum on this module's scale (health-gain: total gain incl. floors)."""
    if spec.objective == "fair-share":
        return result.solution.objective
    m = Model(spec)
    at_floor = m.weight * gen.response_gain(spec, np.broadcast_to(m.floor, m.unit.shape).copy())
    return result.solution.objective + float(at_floor[m.free].sum())


def _scale(spec: gen.Spec, *values: float) -> float:
    # fair-share: a distance near 0 has no relative accuracy, so 1e-6 of the budget (the LP's
    # target rows are in units per head, where solver tolerances are ~1e-7 x unit spend)
    floor = spec.budget if spec.objective == "fair-share" else 0.0
    return max(*(abs(v) for v in values), floor, 1e-12)


def _compare(spec: gen.Spec, result: allocator.Result) -> None:
    mine = independent_optimum(spec)
    theirs = allocator_objective(spec, result)
    assert abs(mine - theirs) <= REL * _scale(spec, mine, theirs), (mine, theirs)
    spend = result.allocation.spend
    assert independent_violations(spec, spend) == []
    achieved = independent_value(spec, spend)
    assert abs(achieved - mine) <= REL * _scale(spec, mine) + rounding_allowance(spec), (achieved, mine)


@pytest.mark.parametrize("proportionality", ["monotone", "proportional", "none"])
@pytest.mark.parametrize("objective", ["health-gain", "fair-share"])
@settings(max_examples=gen.examples(35), **SETTINGS)
@given(data=st.data())
def test_optimum_matches_an_independent_linprog_model(objective, proportionality, data):
    spec = data.draw(gen.scenario_specs(max_areas=12, max_services=3, objective=objective,
                                        proportionality=proportionality), label="spec")
    result = allocator.run(gen.write(spec, gen.fresh_folder()))
    _compare(spec, result)


@settings(max_examples=gen.examples(40), **SETTINGS)
@given(gen.scenario_specs(max_areas=12, max_services=3, proportionality="monotone", sloped=True))
def test_minimum_slope_optimum_matches_an_independent_linprog_model(spec):
    result = allocator.run(gen.write(spec, gen.fresh_folder()))
    _compare(spec, result)


@settings(max_examples=gen.examples(30), **SETTINGS)
@given(gen.scenario_specs(max_areas=12, max_services=3, pace=True))
def test_pace_of_change_optimum_matches_an_independent_linprog_model(spec):
    result = allocator.run(gen.write(spec, gen.fresh_folder()))
    _compare(spec, result)


@settings(max_examples=gen.examples(40), **SETTINGS)
@given(gen.scenario_specs(max_areas=12, max_services=3))
def test_cbc_and_highs_agree_on_the_optimum(spec):
    folder = gen.write(spec, gen.fresh_folder())
    highs = allocator.run(folder)
    cbc = allocator.run(folder, solver="cbc")
    assert cbc.solution.solver.startswith(("CBC", "none (nothing to decide)"))  # every line fixed: no LP
    a, b = highs.solution.objective, cbc.solution.objective
    ref = allocator_objective(spec, highs) if spec.objective == "health-gain" else 0.0
    assert abs(a - b) <= REL * _scale(spec, a, b, ref), (a, b)
    assert independent_violations(spec, cbc.allocation.spend) == []


@settings(max_examples=gen.examples(20), **SETTINGS)
@given(gen.scenario_specs(max_areas=12, max_services=3))
def test_interior_point_and_simplex_agree_on_the_optimum(spec):
    """`choose_method` picks interior point (with crossover) for wide models."""
    folder = gen.write(spec, gen.fresh_folder())
    simplex = allocator.run(folder, method="simplex")
    ipm = allocator.run(folder, method="ipm")
    assert "(ipm)" in ipm.solution.solver or ipm.solution.solver == "none (nothing to decide)"  # all fixed
    a, b = simplex.solution.objective, ipm.solution.objective
    ref = allocator_objective(spec, simplex) if spec.objective == "health-gain" else 0.0
    assert abs(a - b) <= REL * _scale(spec, a, b, ref), (a, b)
