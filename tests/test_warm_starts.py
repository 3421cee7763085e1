"""`warm_starts`: a frontier's LPs re-solved from the basis of the one before, to the same optimum."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import allocator
from allocator.model import gradient_bound
from allocator.model.highs import (
    WARM_KEPT,
    hint,
    keep_basis,
    keep_hint,
    matrix_key,
    warm_basis,
    warm_key,
    warm_starts,
)
from allocator.model.solver import solve


@pytest.fixture(scope="module")
def relaxations():
    """england-la's SII relaxation at several reductions: one matrix, different row bounds."""
    england_la = allocator.load(Path(__file__).resolve().parents[1] / "scenarios" / "england-la")
    return [dataclasses.replace(gradient_bound.build(england_la.with_(sii_reduction=r), relaxed=True),
                                feasibility_tolerance=gradient_bound.PACE_FEASIBILITY)  # as `attempt` solves it
            for r in (0.30, 0.36, 0.33, 0.25)]


def test_warm_solves_reach_the_cold_optimum(relaxations):
    cold = [solve(lp, method="simplex").objective for lp in relaxations]
    with warm_starts():
        warm = [solve(lp, method="simplex").objective for lp in relaxations]
    # the same optimum to HiGHS's tolerances (1e-7): a warm start skips presolve, so the vertex
    # reached may differ in the ninth digit (measured: at most 1e-8)
    assert warm == pytest.approx(cold, rel=1e-7)
    assert len(set(np.round(cold, 6))) == len(cold)  # the reductions bind: each point its own optimum


def test_bases_are_kept_by_matrix_and_costs_inside_the_block_only(relaxations):
    first = relaxations[0]
    assert warm_key(first) is None  # outside a block nothing is kept
    with warm_starts():
        key = warm_key(first)
        assert key is not None and warm_basis(key) is None
        solve(first, method="simplex")
        assert warm_basis(key) is not None
        assert all(warm_key(lp) == key for lp in relaxations)  # only the row bounds differ
        assert warm_key(dataclasses.replace(first, cost=first.cost * 2)) != key
        assert warm_key(dataclasses.replace(first, integrality=np.zeros(first.n_cols))) is None  # never a MILP
    assert warm_key(first) is None


def test_hints_are_kept_by_matrix_inside_the_block_only_and_outlive_the_bases(relaxations):
    """What a MILP of a frontier learnt (`suffix_milp`: the lines that needed a binary) is kept for
    the next one of the same matrix, whatever its costs; not evicted by the bases kept after it."""
    first = relaxations[0]
    assert matrix_key(first) is None
    keep_hint("lines", matrix_key(first), [1, 2])  # outside a block: nothing kept, nothing raised
    with warm_starts():
        key = matrix_key(first)
        assert hint("lines", key) is None
        keep_hint("lines", key, [(0, 1, 0)])
        assert all(matrix_key(lp) == key for lp in relaxations)
        assert matrix_key(dataclasses.replace(first, cost=-first.cost)) == key  # a limit's costs, the same rows
        for k in range(WARM_KEPT + 2):  # more bases than are kept
            keep_basis(bytes([k]) * 16, object())
        assert hint("lines", key) == [(0, 1, 0)]
        assert warm_basis(bytes([0]) * 16) is None and warm_basis(bytes([WARM_KEPT + 1]) * 16) is not None
    with warm_starts():
        assert hint("lines", matrix_key(first)) is None  # a new block starts with nothing
