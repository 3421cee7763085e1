"""Equity in the LP: weights, level-up and maximin objectives, and the gradient as a constraint.

Deprivation groups are the population-weighted quantiles of the scenario's
deprivation column (1 = most deprived).  A group's *level* is its mean outcome
turned so that higher is better.  After an allocation, the level of group q is

    level_q = level0_q + C_q + sum over its lines of w * sum_k slope_k * seg_k / P_q

where ``C_q`` collects what does not depend on the LP (gains at the floors and on
locked lines, minus the gains of the comparator spend).

* ``equity-weighted``: health gain with weights ``(y_q / y)^-epsilon`` (for an
  outcome where higher is better; ``^+epsilon`` for a bad such as mortality), fixed
  from the baseline outcome — the Atkinson social welfare function linearised at
  the baseline (DCEA, York).
* ``maximin``: maximise the lowest group level.
* ``level-up``: maximise the population-weighted level, each group counted at most
  up to the best-off group's baseline level.
* ``sii_reduction`` / ``gap_reduction``: the slope index of inequality (PHE) or the
  gap between the least and most deprived group must shrink by at least X.
* ``worst_off_at_least``: every group's mean outcome must reach L (for an outcome
  where lower is better: must fall to L).  Gains enter with the sign an LP never
  exploits, so this stays an exact LP at any size: the frontier sweeps it.

Exactness.  A gain that enters a constraint on the side the solver would like to
keep small (the least deprived groups' gains under an SII reduction) can be
under-reported by the segment formulation (filling a flatter segment first).
Those lines get binary variables forcing segments to fill in order, and HiGHS
solves a MILP; every other gain enters with a sign the LP never exploits.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass

import numpy as np

from allocator.measures import inequality as ineq
from allocator.scenario import Scenario


def deprivation_groups(scenario: Scenario) -> np.ndarray:
    """(A,) population-weighted quantile of each area, 1 = most deprived."""
    g = scenario.gradient
    return ineq.group_by_quantile(scenario.deprivation, scenario.population, g.quantiles,
                                  most_deprived=g.most_deprived)


def uses_groups(scenario: Scenario) -> bool:
    """Does the LP need per-group gain rows?"""
    return (scenario.objective in ("level-up", "maximin") or scenario.sii_reduction is not None
            or scenario.gap_reduction is not None or scenario.worst_off_at_least is not None
            or scenario.levelled_at_least is not None)


@dataclass(frozen=True)
class GroupTerms:
    """What the LP needs to know of each deprivation group."""

    group: np.ndarray  # (A,) 1..Q
    population: np.ndarray  # (Q,)
    outcome0: np.ndarray  # (Q,) population-weighted mean baseline outcome
    sign: float  # +1 when higher outcome is better, else -1
    constant: np.ndarray  # (Q,) C_q, in level units
    sii_coef: np.ndarray  # (Q,) SII = sum(sii_coef * outcome_q)

    @property
    def level0(self) -> np.ndarray:
        return self.sign * self.outcome0


def sii_coefficients(populations: np.ndarray) -> np.ndarray:
    """beta with PHE's SII = sum(beta_q * y_q): the weighted least-squares slope on midpoint ranks."""
    a = populations / populations.sum()
    b = ineq.relative_ranks(populations)
    centred = b - np.dot(a, b)
    return a * centred / np.dot(a, centred ** 2)


def group_terms(scenario: Scenario) -> GroupTerms:
    group = deprivation_groups(scenario)
    Q = scenario.gradient.quantiles
    pop = np.bincount(group, weights=scenario.population, minlength=Q + 1)[1:]
    empty = np.full(Q, np.nan)  # a group without people (few areas, many quantiles) has no mean
    outcome0 = np.divide(np.bincount(group, weights=scenario.population * scenario.outcome, minlength=Q + 1)[1:],
                         pop, out=empty.copy(), where=pop > 0)
    sign = 1.0 if scenario.gradient.higher_is_better else -1.0
    free = ~scenario.is_locked & (scenario.unit_spend > 0)
    fixed_spend = np.where(free, scenario.unit_spend * scenario.floor[None, :],
                           np.where(scenario.is_locked, scenario.locked, 0.0))
    _, fixed_gain = scenario.line_gains(fixed_spend)
    _, before_gain = scenario.line_gains(scenario.comparator_spend())
    per_area = (fixed_gain - before_gain).sum(axis=1)
    constant = np.divide(np.bincount(group, weights=per_area, minlength=Q + 1)[1:], pop, out=empty.copy(),
                         where=pop > 0)
    return GroupTerms(group=group, population=pop, outcome0=outcome0, sign=sign, constant=constant,
                      sii_coef=sii_coefficients(pop))


def equity_weights(scenario: Scenario) -> np.ndarray:
    """(A,) Atkinson-style weights by deprivation group, population-weighted mean 1."""
    terms = group_terms(scenario)
    people = terms.population > 0  # a group without people (few areas, many quantiles) has no outcome
    y, pop = terms.outcome0[people], terms.population[people]
    if np.any(y <= 0):
        raise ValueError("equity weights need a positive baseline outcome in every group")
    mean = np.dot(pop, y) / pop.sum()
    power = -scenario.epsilon if scenario.gradient.higher_is_better else scenario.epsilon
    weight_q = np.ones(len(terms.population))
    weight_q[people] = (y / mean) ** power
    weight_q = weight_q / (np.dot(pop, weight_q[people]) / pop.sum())
    return weight_q[terms.group - 1]


def levels(scenario: Scenario, outcome_by_group: np.ndarray) -> tuple[float, float]:
    """(lowest group level, level-up measure) of group outcomes, in level units (higher = better)."""
    terms = group_terms(scenario)
    people = terms.population > 0  # a group without people (few areas, many quantiles) has no level
    level = terms.sign * np.asarray(outcome_by_group, dtype=float)[people]
    share = terms.population[people] / terms.population.sum()
    return float(level.min()), float(np.dot(share, np.minimum(level, terms.level0[people].max())))


_MIRRORED: contextvars.ContextVar[bool] = contextvars.ContextVar("allocator_mirrored_reductions", default=False)


@contextlib.contextmanager
def mirrored(on: bool = True):
    """Inside the block every SII or gap reduction also has its mirror row (`constraint_rows`); with
    ``on`` false, none has (a reduction's limit is the measure's movement, mirror or not)."""
    token = _MIRRORED.set(on)
    try:
        yield
    finally:
        _MIRRORED.reset(token)


def is_mirrored() -> bool:
    return _MIRRORED.get()


def constraint_rows(scenario: Scenario, terms: GroupTerms) -> list[tuple[str, np.ndarray, float]]:
    """Gradient constraints as (name, coefficient per group level, upper bound on sum(coef * gain_q)).

    Each reads: sum_q coef_q * (level gain of group q from the LP) <= bound.  A reduction of a
    measure's size by ``asked`` is ``|after| <= before - asked``, as the invariant reads it: with
    ``d = coef . (gain + constant)`` the change in the baseline's direction, the row ``d <= -asked``,
    and inside `mirrored` also ``d >= asked - 2 before`` (``name`` + ``_mirror``), which keeps the
    measure from being pushed past zero to a gradient the other way.  The mirror is a lazy row: it
    rarely binds and costs a second dense row in suffix form, so the pipeline adds it only when an
    allocation without it turns the gradient round (`overshoots`).
    """
    rows = []
    mirror = _MIRRORED.get()
    for name, coef, before, asked in _reductions(scenario, terms):
        fixed = float(np.dot(coef, np.nan_to_num(terms.constant)))
        rows.append((name, coef, -asked - fixed))
        if mirror:
            rows.append((name + "_mirror", -coef, 2.0 * before - asked + fixed))
    return rows


def _reductions(scenario: Scenario, terms: GroupTerms) -> list[tuple[str, np.ndarray, float, float]]:
    """(name, coefficient per group level in the baseline's direction, size before, asked) of each
    SII or gap reduction asked for."""
    out = []
    outcome_gain_sign = terms.sign  # outcome change = sign * level change
    # a group without people (few areas, many quantiles) has no outcome: it weighs nothing in the
    # SII, and the gap is between the most and least deprived groups that have people
    people = np.flatnonzero(terms.population > 0)
    outcome0 = np.nan_to_num(terms.outcome0)
    if scenario.sii_reduction is not None:
        sii0 = float(np.dot(terms.sii_coef, outcome0))
        direction = 1.0 if sii0 >= 0 else -1.0
        out.append(("sii_reduction", direction * outcome_gain_sign * terms.sii_coef, abs(sii0),
                    float(scenario.sii_reduction)))
    if scenario.gap_reduction is not None and people.size:
        most, least = people[0], people[-1]
        gap0 = outcome0[least] - outcome0[most]
        direction = 1.0 if gap0 >= 0 else -1.0
        coef = np.zeros_like(outcome0)
        coef[least] += direction * outcome_gain_sign
        coef[most] -= direction * outcome_gain_sign
        out.append(("gap_reduction", coef, abs(float(gap0)), float(scenario.gap_reduction)))
    return out


def size_before(scenario: Scenario, name: str) -> float:
    """``|SII|`` or ``|gap|`` before the allocation: no reduction of ``name`` can be larger."""
    found = [before for row, _, before, _ in _reductions(scenario.with_(**{name: 0.0}), group_terms(scenario))
             if row == name]
    return found[0] if found else float("inf")


def overshoots(scenario: Scenario, outcome_by_group: np.ndarray) -> bool:
    """True when an allocation whose group outcomes are ``outcome_by_group`` meets a reduction's row
    only by turning the gradient round (|after| above the size asked for): its mirror is needed."""
    terms = group_terms(scenario)
    after = np.nan_to_num(np.asarray(outcome_by_group, dtype=float))
    people = np.flatnonzero(terms.population > 0)
    tol = 1e-6 * max(1.0, float(np.nanmax(np.abs(terms.outcome0))))  # as the invariant's
    for name, _, before, asked in _reductions(scenario, terms):
        size = abs(float(np.dot(terms.sii_coef, after))) if name == "sii_reduction" else \
            abs(float(after[people[-1]] - after[people[0]]))
        if size > before - asked + tol:
            return True
    return False
