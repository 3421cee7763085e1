"""Every bundled scenario validates and solves, with every invariant re-checked."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import allocator
from allocator.cli import main
from allocator.scenario.models import load_response_model

SCENARIOS = Path(__file__).parent.parent / "scenarios"


@pytest.mark.parametrize("name", ["quickstart", "england-la", "england-lsoa"])
def test_bundled_scenario_runs_and_prints_the_gradient(name, tmp_path):
    result = CliRunner().invoke(main, ["run", str(SCENARIOS / name), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "The social gradient, before -> after:" in result.output
    assert "SII of outcome" in result.output


def test_england_lsoa_covers_every_2021_lsoa_and_the_census_population():
    s = allocator.load(SCENARIOS / "england-lsoa")
    assert s.n_areas == 33_755  # English 2021 LSOAs (IoD2025)
    # Census 2021 usual residents of England, 56,490,048; summed over LSOAs, ONS's perturbation moves it a little
    assert s.population.sum() == pytest.approx(56_490_048, abs=100)
    quintiles = np.bincount(s.areas["imd_quintile"].astype(int))[1:]
    assert quintiles.min() >= 6_751 and quintiles.max() <= 6_751  # national IMD quintiles: a fifth of LSOAs


def test_england_lsoa_ships_a_baseline_and_an_option_for_each_rule_at_national_scale():
    s = allocator.load(SCENARIOS / "england-lsoa")
    assert s.pace is None  # the default run stays the fast suffix form
    assert s.baseline is not None and s.baseline.sum() == pytest.approx(s.budget_gbp, abs=0.01)
    # last year's spend split by target population: the same per head of a service's target everywhere
    served = s.target_population > 0
    per_head = np.divide(s.baseline, s.target_population, out=np.zeros_like(s.baseline), where=served)
    for k in range(s.n_services):
        column = per_head[served[:, k], k]
        assert column.max() - column.min() <= 0.02 / max(1.0, s.target_population[served[:, k], k].min())
    options = {o.name: o for o in s.options}
    assert list(options) == ["Health gain", "Pace of change", "Steeper need slope", "Pace and steeper slope", "Proportional",
                             "Proportional with a pace", "Maximin", "Level up"]
    from allocator.scenario.options import apply

    assert apply(s, options["Pace of change"]).pace == (0.05, 0.15)
    assert apply(s, options["Proportional"]).proportionality == "proportional"
    paced = apply(s, options["Proportional with a pace"])
    assert (paced.proportionality, paced.tolerance, paced.pace) == ("proportional", 0.75, (0.3, 0.6))
    assert apply(s, options["Maximin"]).objective == "maximin"
    assert apply(s, options["Level up"]).objective == "level-up"
    assert np.all(apply(s, options["Steeper need slope"]).min_slope > 0)
    both = apply(s, options["Pace and steeper slope"])
    assert both.pace == (0.05, 0.15) and np.all(both.min_slope == apply(s, options["Steeper need slope"]).min_slope)


def test_england_la_has_the_296_districts_of_2024_and_a_pace_of_change():
    s = allocator.load(SCENARIOS / "england-la")
    assert s.n_areas == 296
    assert s.population.sum() == pytest.approx(56_490_048, abs=100)
    assert s.pace is not None and s.baseline is not None
    assert s.baseline.sum() == pytest.approx(s.budget_gbp, abs=0.01)  # last year's spend: the same grant


# York unmet-need calculator, ../shared/data/york_unmet_need/input_data_mQALE_values.csv,
# rows "<branch>,Mortality elasticity (per 1% spend),Q1 - Most Deprived" ... "Q5 - Least
# Deprived", and the national IMD quintile populations (column sums of
# CCG_IMD_population_2019.csv, also in models/README.md): the evidence behind the
# effect-size uncertainty, copied here so that the test does not read ../shared.
YORK_ELASTICITY = {"dev": [0.00636, 0.00757, 0.01234, 0.01058, 0.00456],
                   "main": [0.00433, 0.00768, 0.00909, 0.00941, 0.00763]}
YORK_QUINTILE_POPULATION = [11_267_059, 11_576_973, 11_424_153, 11_117_694, 10_901_082]
ENTROPY = re.compile(r"H = ([\d.]+) \(England life-table entropy, order ([\d.]+)-([\d.]+)\)")


def test_every_bundled_response_model_has_the_documented_effect_size_uncertainty():
    used = {m.name: m for name in ["quickstart", "england-la", "england-lsoa"]
            for m in allocator.load(SCENARIOS / name).response_models}
    folder = SCENARIOS.parent / "models"
    problems = []
    models = {p.stem: load_response_model(folder, p.stem, "models", problems)
              for p in (folder / "response").glob("*.toml")}
    assert problems == [] and set(used) <= set(models)  # every bundled response model, used or not
    assert all(models[name].title == model.title for name, model in used.items())
    mean = {branch: np.average(e, weights=YORK_QUINTILE_POPULATION)
            for branch, e in YORK_ELASTICITY.items()}
    ratio = mean["main"] / mean["dev"]
    assert round(ratio, 4) == 0.9182
    for name, model in models.items():
        assert [k for k, _ in model.uncertainty] == ["scale"], name
        scale = dict(model.uncertainty)["scale"]
        assert scale.kind == "triangular", name
        low, mode, high = scale.get("low"), scale.get("mode"), scale.get("high")
        assert low <= 1.0 <= high and low < high and mode == 1.0, name
        # The curve's scale is proportional to the mean elasticity and, where the model's
        # own "Scale:" assumption uses it (life expectancy), to the entropy H.
        found = [ENTROPY.search(a) for a in model.assumptions if a.startswith("Scale:")]
        assert len(found) == 1, name
        assert (found[0] is not None) == (model.outcome_units == "years"), name
        if found[0]:
            h, h_low, h_high = map(float, found[0].groups())
            assert h_low < h < h_high, name
        else:
            h = h_low = h_high = 1.0
        assert low == round(h_low / h * min(1.0, ratio), 4), name
        assert high == round(h_high / h * max(1.0, ratio), 4), name
        # and the model says so, in numbers
        text = [a for a in model.assumptions if a.startswith("Effect-size uncertainty")]
        assert len(text) == 1, name
        assert f"triangular, low {low:.4f}, mode 1, high {high:.4f}" in text[0], name
        assert f"main/dev = {ratio:.4f}" in text[0], name
        assert f"{mean['main']:.6f}" in text[0] and f"{mean['dev']:.6f}" in text[0], name
        assert "modifier is not made uncertain" in text[0], name
