"""The synthetic scenario generator: deterministic, loadable, solvable, realistic in shape."""

from __future__ import annotations

import doctest
import filecmp
from pathlib import Path

import numpy as np
import pytest

import allocator
from allocator.build import synthetic
from allocator.scenario.loader import check_budget
from allocator.build.synthetic import write_scenario


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_same_seed_gives_byte_identical_files(tmp_path):
    options = dict(baseline=True, locked=7, pace=(0.05, 0.15), min_slope=0.1)
    first = write_scenario(tmp_path / "a", 120, 9, seed=5, **options)
    second = write_scenario(tmp_path / "b", 120, 9, seed=5, **options)
    assert _files(first) == _files(second)
    for name in _files(first):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_another_seed_gives_other_areas(tmp_path):
    first = write_scenario(tmp_path / "a", 60, seed=1)
    second = write_scenario(tmp_path / "b", 60, seed=2)
    assert not filecmp.cmp(first / "areas.csv", second / "areas.csv", shallow=False)


@pytest.mark.parametrize("n_areas, n_services", [(10, 1), (75, 8), (200, 13)])
def test_sizes_are_as_asked(tmp_path, n_areas, n_services):
    folder = write_scenario(tmp_path, n_areas, n_services, seed=0, baseline=True, locked=4)
    scenario = allocator.load(folder)
    assert scenario.n_areas == n_areas
    assert scenario.n_services == n_services
    assert len(set(scenario.service_ids)) == n_services
    assert scenario.baseline is not None and np.all(scenario.baseline > 0)
    assert int(scenario.is_locked.sum()) == 4
    assert (folder / "scenario.toml").read_text().count('models = "models"') == 1
    need = {p.stem for p in (folder / "models" / "need").iterdir()}
    response = {p.stem for p in (folder / "models" / "response").iterdir()}
    assert set(scenario.services["need_model"]) == need
    assert set(scenario.services["response_model"]) == response


def test_areas_look_like_lsoas(tmp_path):
    scenario = allocator.load(write_scenario(tmp_path, 2000, seed=0))
    areas = scenario.areas
    assert scenario.population.min() >= 1000 and scenario.population.max() <= 3000
    bands = areas[["pop_0_15", "pop_16_59", "pop_60_plus"]].astype(float).sum(axis=1)
    assert np.array_equal(bands.to_numpy(), scenario.population)
    # need rises with deprivation, but not in lockstep
    rank = lambda v: np.argsort(np.argsort(v))
    for s in range(scenario.n_services):
        r = np.corrcoef(rank(scenario.deprivation), rank(scenario.need[:, s]))[0, 1]
        assert 0.5 < r < 0.99, (scenario.service_ids[s], r)
    # effectiveness by quintile is not monotone in deprivation: it peaks in the middle
    quintile = areas["imd_quintile"].astype(int).to_numpy()
    for s in range(scenario.n_services):
        by_q = [scenario.modifier[quintile == q, s][0] for q in range(1, 6)]
        assert by_q[2] > by_q[0] and by_q[2] > by_q[4]
        assert not (np.all(np.diff(by_q) >= 0) or np.all(np.diff(by_q) <= 0))
    for model in scenario.response_models:
        assert len(model.units_per_head) - 1 in (3, 4)
        assert np.all(np.diff(model.slopes) < 0)
    check_budget(scenario)  # floors below the budget, caps above it
    floors = (scenario.unit_spend * scenario.floor[None, :]).sum()
    caps = (scenario.unit_spend * scenario.cap[None, :]).sum()
    assert floors < 0.5 * scenario.budget_gbp < 2 * scenario.budget_gbp < caps


def test_deciles_need_has_ten_levels(tmp_path):
    scenario = allocator.load(write_scenario(tmp_path, 300, seed=0, need="deciles"))
    for s in range(scenario.n_services):
        assert len(np.unique(scenario.need[:, s])) == 10


@pytest.mark.parametrize("options", [
    {},
    {"need": "deciles"},
    {"min_slope": 0.2},
    {"proportionality": "proportional"},
    {"proportionality": "none"},
    {"objective": "fair-share", "pace": (0.03, 0.10), "locked": 10},
    {"pace": (0.05, 0.15), "need": "deciles", "locked": 12},
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_solves(tmp_path, options):
    folder = write_scenario(tmp_path, 150, 8, seed=2, **options)
    result = allocator.run(folder)  # run() re-checks every invariant of DESIGN.md
    assert result.allocation.spend.sum() == pytest.approx(result.scenario.budget_gbp, rel=1e-9)
    assert result.scenario.objective == options.get("objective", "health-gain")
    assert (result.scenario.pace is not None) == ("pace" in options)


def test_monotone_rule_binds(tmp_path):
    """The middle quintile's higher effectiveness pulls money away from need unless ordered."""
    folder = write_scenario(tmp_path, 300, 8, seed=0)
    scenario = allocator.load(folder)
    free = allocator.run(scenario.with_(proportionality="none"))
    ordered = allocator.run(scenario)
    assert free.solution.objective > ordered.solution.objective * (1 + 1e-6)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="objective"):
        write_scenario(tmp_path, 20, objective="maximin")
    with pytest.raises(ValueError, match="need"):
        write_scenario(tmp_path, 20, need="quintiles")
    with pytest.raises(ValueError, match="locked"):
        write_scenario(tmp_path, 20, 2, locked=100)


def test_docstring_example_runs():
    failures, tried = doctest.testmod(synthetic, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
