"""The builder of the bundled scenarios, without the shared data folder.

The project's tests never read ``../shared/data``: these test the entry point's
message when it is missing, and the builder's pure parts on small frames made here.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.build.__main__ import main
from allocator.build.areas import impute_suppressed_numerators, population_deciles
from allocator.build.assumptions import (
    ATTRIBUTION,
    CAP_MULTIPLE,
    CCG_SPEND_PER_HEAD_GBP,
    LIFE_TABLE_ENTROPY,
    SERVICES,
    SUPPRESSED_COUNT_MAX,
)
from allocator.build.models import need_models, response_models
from allocator.build.readmes import models_readme
from allocator.build.services import option_blocks, service_table, split_pennies
from allocator.build.sources import CHILDREN, CIDR, INCOME, OLDER, REQUIRED_FILES, YPLL
from allocator.build.writers import (
    scenario_toml,
    write_need_model,
    write_response_model,
)
from allocator.scenario.models import load_need_model, load_response_model

ROOT = Path(__file__).resolve().parent.parent
NATIONAL = {"pop_0_15": 10_000_000, "pop_16_59": 33_000_000, "pop_60_plus": 12_000_000}


def _york(main_factor: float = 0.9) -> dict:
    """A York dict shaped like `allocator.build.sources.read_york`'s, from made-up numbers."""
    population = np.array([11.0, 11.5, 11.0, 10.5, 10.0]) * 1e6
    elasticity = np.array([0.020, 0.024, 0.040, 0.034, 0.015])
    main_elasticity = elasticity * main_factor
    mean = float((population * elasticity).sum() / population.sum())
    main_mean = float((population * main_elasticity).sum() / population.sum())
    return {"elasticity": elasticity, "mortality": np.array([900.0, 750, 650, 560, 480]),
            "population": population, "mean_elasticity": mean, "equal_elasticity": 0.027,
            "modifier": elasticity / mean, "main_elasticity": main_elasticity,
            "main_mean_elasticity": main_mean, "main_modifier": main_elasticity / main_mean,
            "main_over_dev": main_mean / mean}


def _models() -> tuple[list[dict], list[dict], pd.DataFrame]:
    services = service_table(NATIONAL)
    needs = need_models({YPLL: 60.0, CIDR: 120.0})
    return needs, response_models(services, _york(), 81.0, 60.0), services


# --- the entry point without the shared data ------------------------------------------


def test_a_missing_shared_folder_is_one_line_and_exit_code_2(tmp_path):
    run = subprocess.run([sys.executable, "-m", "allocator.build", "--shared", str(tmp_path / "nope"),
                          "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "needs the public data folder ../shared/data" in lines[0]
    assert "not part of a clone" in lines[0] and "scenarios/" in lines[0]
    assert str(tmp_path / "nope") in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_shared_folder_lacking_a_file_names_it(tmp_path, capsys):
    shared = tmp_path / "shared"
    for name in REQUIRED_FILES:
        (shared / name).parent.mkdir(parents=True, exist_ok=True)
        (shared / name).write_text("")
    (shared / "life_expectancy_by_decile" / "LE_data.csv").unlink()
    assert main(["--shared", str(shared), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "life_expectancy_by_decile/LE_data.csv" in captured.err
    assert "imd2019" not in captured.err  # only the missing file is named
    assert not (tmp_path / "out").exists()


# --- the models the builder writes load with the scenario loader ----------------------


def test_need_models_written_load_with_their_terms(tmp_path):
    needs, _, _ = _models()
    for model in needs:
        write_need_model(model, tmp_path / "need")
    for model in needs:
        problems = []
        loaded = load_need_model(tmp_path, model["name"], "models", problems)
        assert problems == [] and loaded is not None, problems
        assert loaded.terms == tuple((c, float(w)) for c, w in model["terms"])
        assert loaded.constant == 0.0 and loaded.source == model["source"]
        assert list(loaded.assumptions) == model["assumptions"]
    health = {m["name"]: m for m in needs}["imd-health"]
    assert dict(health["terms"]) == {YPLL: round(0.5 / 60.0, 8), CIDR: round(0.5 / 120.0, 8)}
    assert {m["need_model"] for m in SERVICES} <= {m["name"] for m in needs}


def test_response_models_written_load_as_concave_york_calibrated_curves(tmp_path):
    _, responses, services = _models()
    assert len(responses) == 2 * len(services)
    for model in responses:
        write_response_model(model, tmp_path / "response")
    york = _york()
    le_per_gbp = LIFE_TABLE_ENTROPY * 81.0 * york["mean_elasticity"] / (CCG_SPEND_PER_HEAD_GBP / 100)
    for model, service in zip(responses, list(services.itertuples()) * 2):
        problems = []
        loaded = load_response_model(tmp_path, model["name"], "models", problems)
        assert problems == [] and loaded is not None, problems
        assert np.all(np.diff(loaded.slopes) < 0) and loaded.slopes[-1] > 0
        r = service.reference_units_per_head
        assert loaded.units_per_head[-1] == pytest.approx(CAP_MULTIPLE * r)
        assert dict(loaded.modifier.weights) == {str(q + 1): round(v, 4)
                                                 for q, v in enumerate(york["modifier"])}
        scale = dict(loaded.uncertainty)["scale"]
        assert scale.kind == "triangular" and scale.get("low") < 1 <= scale.get("high")
        if model["name"].startswith("york-le-"):
            # the York marginal gain per unit applies at r: the mean of the slopes either side
            k = list(loaded.units_per_head).index(round(r, 9))
            at_r = (loaded.slopes[k - 1] + loaded.slopes[k]) / 2
            assert at_r == pytest.approx(le_per_gbp * service.unit_cost_gbp, rel=1e-4)
            assert scale.group == "york-le-effect-size"
        else:
            assert scale.group == "york-ypll-effect-size"
            assert scale.get("high") == 1.0  # main's elasticity is lower here: one-sided


# --- imputation, deciles, pennies -------------------------------------------------------


def _lsoas() -> pd.DataFrame:
    """Six LSOAs; LSOA 2's all-age count and LSOA 5's count of children are suppressed."""
    return pd.DataFrame({
        "area_id": [f"L{i}" for i in range(1, 7)],
        "population": [100, 20, 100, 200, 1000, 100],
        "pop_0_15": [20, 4, 20, 40, 200, 20],
        "pop_60_plus": [30, 6, 30, 60, 300, 30],
        "Income_rank": [1, 2, 3, 4, 5, 6],
        "Income_decile": [1, 1, 1, 2, 2, 2],
        INCOME: [40.0, np.nan, 20.0, 30.0, 100.0, 10.0],
        CHILDREN: [10.0, 3.0, 5.0, 10.0, np.nan, 3.0],
        OLDER: [12.0, 2.0, 6.0, 9.0, 30.0, 3.0],
    })


def test_suppressed_numerators_are_interpolated_and_capped():
    out = impute_suppressed_numerators(_lsoas())
    # all-age: the rate at rank 2 is interpolated between ranks 1 (0.4) and 3 (0.2): 0.3 x 20 = 6
    assert out.loc[1, "income_deprived"] == pytest.approx(6.0)
    # children of LSOA 5: its all-age rate 0.1 x decile 2's children/all-age ratio, capped
    ratio = ((10 + 3) / (40 + 20)) / ((30 + 10) / (200 + 100))
    assert 0.1 * ratio * 200 > SUPPRESSED_COUNT_MAX
    assert out.loc[4, "children_income_deprived"] == SUPPRESSED_COUNT_MAX
    # published counts are kept; the three rates are numerator / denominator
    assert out["income_deprived"].drop(index=1).tolist() == [40.0, 20.0, 30.0, 100.0, 10.0]
    assert out["imputed_numerators"].tolist() == [0, 1, 0, 0, 1, 0]
    assert out.loc[1, "income_deprivation_rate"] == pytest.approx(6.0 / 20)
    assert out.loc[4, "child_income_deprivation_rate"] == pytest.approx(SUPPRESSED_COUNT_MAX / 200)
    assert out["older_income_deprivation_rate"].tolist() == pytest.approx(
        (out[OLDER] / out["pop_60_plus"]).tolist())


def test_an_imputed_count_is_capped_where_the_interpolated_one_is_large():
    lsoas = _lsoas()
    lsoas.loc[1, "population"] = 100  # rate 0.3 x 100 = 30 people: more than a suppressed count
    lsoas.loc[1, ["pop_0_15", "pop_60_plus"]] = [20, 30]
    out = impute_suppressed_numerators(lsoas)
    assert out.loc[1, "income_deprived"] == SUPPRESSED_COUNT_MAX


def test_population_deciles_hold_a_tenth_of_the_people_each():
    score = pd.Series(np.arange(100, 0, -1, dtype=float), index=[f"A{i:03d}" for i in range(100)])
    population = pd.Series(1000, index=score.index)
    population.iloc[0] = 20_000  # the most deprived area holds more than a tenth of the people
    deciles = population_deciles(score, population)
    assert deciles.iloc[0] == 1 and deciles.iloc[-1] == 10
    assert deciles.is_monotonic_increasing
    assert deciles.iloc[1] == 2  # after the one big area, the next tenth starts
    # an area's group is where the midpoint of its people falls; equal scores go by area_id
    halves = population_deciles(pd.Series([6.0, 5.0, 5.0, 2.0, 1.0], index=list("xbayz")),
                                pd.Series(100, index=list("xbayz")), n=2)
    assert halves.to_dict() == {"x": 1, "b": 2, "a": 1, "y": 2, "z": 2}


def test_split_pennies_sums_exactly_by_largest_remainder():
    spend = split_pennies(100.0, pd.Series([1.0, 1.0, 1.0], index=["b", "a", "c"]))
    assert round(spend.sum(), 2) == 100.0
    assert spend.to_dict() == {"b": 33.33, "a": 33.34, "c": 33.33}  # ties go to the first id
    spend = split_pennies(100.0, pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"]))
    assert spend.to_dict() == {"a": 16.67, "b": 33.33, "c": 50.0}  # the largest remainder


# --- READMEs name every source ------------------------------------------------------------


def test_models_readme_names_every_source_and_model():
    needs, responses, _ = _models()
    text = models_readme(needs, responses, _york())
    attribution = text.split("\n## Attribution\n", 1)[1]
    for source in ATTRIBUTION.values():
        assert f"- {source}" in attribution
    for model in needs + responses:
        assert f"`{model['name']}`" in text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "\n## Effect-size uncertainty" in text and "\n## Attribution\n" in text


def test_scenario_toml_parses_with_pace_baseline_and_options():
    services = service_table(NATIONAL)
    text = scenario_toml(name="Test", description='A "quoted" description', attribution=["imd"],
                         budget=3_600_000_000, gradient={"outcome": YPLL, "quantiles": 10,
                                                         "higher_is_better": False},
                         baseline=True, pace=True, options=option_blocks(services))
    data = tomllib.loads(text)
    assert data["budget"]["total_gbp"] == 3_600_000_000
    assert data["scenario"]["description"] == 'A "quoted" description'
    assert data["pace_of_change"] == {"max_decrease": 0.05, "max_increase": 0.15}
    assert data["tables"]["baseline"] == "baseline.csv"
    assert [o["name"] for o in data["option"]] == ["Health gain", "Fair share",
                                                   "Health gain, steeper need slope"]
    assert set(data["option"][2]["min_slope"]) == set(services["service_id"])


def test_only_the_boundaries_without_the_shared_data_is_exit_2_naming_the_folder(tmp_path, capsys):
    assert main(["--shared", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), "--only", "boundaries"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert f"{tmp_path / 'nowhere' / 'geography'}: not found" in captured.err
    assert not (tmp_path / "out").exists()
