"""Warm starts for sweeps: the anchor (a basis every chunk starts from) and measuring only what a sweep records."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import allocator
from allocator.analysis.workers import Context, anchored, run_chunk
from allocator.model.lp import build
from allocator.model.resolve import Resolver, _shape

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "scenarios" / "quickstart"


@pytest.fixture(scope="module")
def scenario():
    return allocator.load(QUICKSTART)


def test_a_new_model_starts_from_the_anchor_and_reaches_the_cold_optimum(scenario):
    anchor = anchored(Context(scenario)).anchor
    assert anchor is not None
    anchor = pickle.loads(pickle.dumps(anchor))  # as a worker process receives it
    lp = build(scenario.with_(budget_gbp=scenario.budget_gbp * 1.07))
    resolver = Resolver(anchor=anchor)
    warm = resolver.solve(lp)
    cold = Resolver().solve(lp)
    assert resolver.warm_solves == 1 and "base solve's basis" in warm.solver
    assert "warm" not in cold.solver and "basis" not in cold.solver
    assert warm.objective == pytest.approx(cold.objective, rel=1e-9)
    assert np.abs(lp.matrix @ warm.x - lp.matrix @ cold.x).max() < 1e-6 * max(1.0, np.abs(lp.row_upper).max())


def test_an_lp_of_another_shape_is_solved_cold(scenario):
    anchor = anchored(Context(scenario)).anchor
    other = scenario.with_(min_slope=np.full(scenario.n_services, 0.01))  # another formulation
    lp = build(other)
    assert _shape(lp) != anchor.shape and not anchor.serves(lp)
    resolver = Resolver(anchor=anchor)
    resolver.solve(lp)
    assert resolver.warm_solves == 0


def test_the_shape_key_is_the_same_in_every_process(scenario):
    """Worker processes have their own hash seeds: the key must not depend on it."""
    code = ("import allocator; from allocator.model.lp import build; from allocator.model.resolve import _shape; "
            f"print(repr(_shape(build(allocator.load({str(QUICKSTART)!r})))))")
    seen = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip() for seed in ("1", "2")}
    assert seen == {repr(_shape(build(scenario)))}


@pytest.mark.parametrize("objective", ["fair-share"])
def test_no_anchor_where_no_lp_is_solved(scenario, objective):
    assert anchored(Context(scenario.with_(objective=objective))).anchor is None


def test_no_anchor_for_a_base_scenario_that_cannot_be_solved(scenario):
    broke = scenario.with_(budget_gbp=1.0)  # below the floors: infeasible
    assert anchored(Context(broke)).anchor is None


def test_a_sweep_point_records_the_same_measures_as_a_full_run(scenario):
    lean = allocator.run(scenario, tables=False)
    full = allocator.run(scenario)
    assert lean.gradient.allocation is None and "allocation" not in lean.tables
    assert lean.gradient.by_column == {} and lean.gradient.by_population_group is None
    np.testing.assert_array_equal(lean.gradient.metrics["after"].to_numpy(), full.gradient.metrics["after"].to_numpy())
    assert lean.gradient.metrics["measure"].tolist() == full.gradient.metrics["measure"].tolist()
    points = [{"point": i, "values": {"budget": scenario.budget_gbp * f}} for i, f in enumerate((1.0, 1.03))]
    recorded = list(run_chunk(Context(scenario), points))
    assert [r["status"] for r in recorded] == ["ok", "ok"]
    after = {m: a for m, _, _, a, _ in recorded[0]["measures"]}
    for m, a in zip(full.gradient.metrics["measure"], full.gradient.metrics["after"]):
        assert after[m] == pytest.approx(a, rel=1e-9, abs=1e-12), m
