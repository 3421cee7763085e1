"""Every bundled scenario validates and solves, with every invariant re-checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import allocator
from allocator.cli import main

SCENARIOS = Path(__file__).parent.parent / "scenarios"


@pytest.mark.parametrize("name", ["quickstart", "england-la", "england-lsoa"])
def test_bundled_scenario_runs_and_prints_the_gradient(name, tmp_path):
    result = CliRunner().invoke(main, ["run", str(SCENARIOS / name), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "The social gradient, before -> after:" in result.output
    assert "SII of outcome" in result.output


def test_england_lsoa_covers_every_lsoa():
    s = allocator.load(SCENARIOS / "england-lsoa")
    assert s.n_areas == 32_844
    assert s.population.sum() == 54_728_204  # IoD2019 File 6, mid-2015, excluding prisoners
    deciles = np.bincount(s.areas["imd_decile"].astype(int))[1:]
    assert deciles.min() >= 3284 and deciles.max() <= 3285


def test_england_la_has_317_districts_and_a_pace_of_change():
    s = allocator.load(SCENARIOS / "england-la")
    assert s.n_areas == 317
    assert s.pace is not None and s.baseline is not None
