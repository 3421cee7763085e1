"""`allocator validate`: every class of bad input gets its exact message and exit code 2."""

from __future__ import annotations

import re

from click.testing import CliRunner
from conftest import edit

from allocator.cli import main


def validate(path):
    return CliRunner().invoke(main, ["validate", str(path)])


def problems(result, code: int = 2) -> list[str]:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return [line[2:] for line in result.output.splitlines() if line.startswith("- ")]


def test_a_good_scenario_is_described(tiny):
    result = validate(tiny)
    assert result.exit_code == 0, result.output
    assert "OK: Tiny test scenario" in result.output
    assert "4 areas, 2 services, population 5,000." in result.output
    # floors: visits 20 x 1.0 x 850 children = 17,000; checks 10 x 0.5 x 5,000 = 25,000
    # caps: visits 20 x 8 x 850 = 136,000; checks has none
    assert ("Budget £100k (exact); floors need £42,000 (42%); capped services allow £136k, "
            "and checks has no cap.") in result.output


def test_missing_file(tiny):
    (tiny / "services.csv").unlink()
    assert problems(validate(tiny)) == [f"{tiny}/services.csv: file not found"]


def test_missing_scenario_folder(tmp_path):
    assert problems(validate(tmp_path / "nowhere")) == [
        f"{tmp_path}/nowhere/scenario.toml: file not found: a scenario is a folder with a "
        "scenario.toml manifest"]


def test_missing_column(tiny):
    edit(tiny / "areas.csv", "area_name,population,", "area_name,pop,")
    assert problems(validate(tiny)) == [
        f"{tiny}/areas.csv: missing column 'population' (the file has: area_id, area_name, pop, "
        "pop_0_15, imd_score, deprivation_rate, life_expectancy, region, quintile)"]


def test_non_numeric_cells_are_all_reported(tiny):
    edit(tiny / "areas.csv", "A2,Easton,2000", "A2,Easton,2k")
    edit(tiny / "services.csv", "checks,Health checks,10,", 'checks,Health checks,"12,5",')
    assert problems(validate(tiny)) == [
        f"{tiny}/areas.csv, row 3 (data row 2), column 'population': expected a number > 0, got '2k'",
        f"{tiny}/services.csv, row 3 (data row 2), column 'unit_cost_gbp': expected a number > 0, "
        "got '12,5'"]


def test_negative_population(tiny):
    edit(tiny / "areas.csv", "A3,Southby,1500", "A3,Southby,-1500")
    assert problems(validate(tiny)) == [
        f"{tiny}/areas.csv, row 4 (data row 3), column 'population': expected a number > 0, got '-1500'"]


def test_duplicate_ids(tiny):
    edit(tiny / "services.csv", "checks,Health checks", "visits,Health checks")
    assert problems(validate(tiny))[0] == (
        f"{tiny}/services.csv, row 3 (data row 2), column 'service_id': expected a unique identifier, "
        "got 'visits' (duplicate of row 2)")


def test_unknown_service(tiny):
    edit(tiny / "baseline.csv", "A4,visits,4000", "A4,vists,4000")
    assert problems(validate(tiny)) == [
        f"{tiny}/baseline.csv, row 8 (data row 7), column 'service_id': expected one of the services' "
        "service_id, got 'vists' (unknown id)"]


def test_floors_above_budget(tiny):
    # well formed but infeasible: exit 1 (could not solve), as `run` does, not 2 (bad input)
    edit(tiny / "scenario.toml", "total_gbp = 100000", "total_gbp = 20000")
    result = validate(tiny)
    assert "the scenario is well formed, but no allocation meets its rules (1 problem):" in result.output
    assert problems(result, code=1) == [
        f"{tiny}/scenario.toml: floors alone need £42,000 but the budget is £20,000: the minimum "
        "feasible budget is £42,000; raise the budget by £22,000 or lower the floors (largest: "
        "checks £25,000, visits £17,000)"]


def test_unknown_model(tiny):
    edit(tiny / "services.csv", ",deprivation,visits-curve,", ",deprivation,no-such-curve,")
    assert problems(validate(tiny)) == [
        f"{tiny}/services.csv, row 2 (data row 1), column 'response_model': expected a response model "
        f"in {tiny}/models/response/, got 'no-such-curve' (unknown model)"]


def test_non_concave_curve(tiny):
    edit(tiny / "models/response/visits-curve.toml", "gain_per_head = [0.0, 0.02, 0.03, 0.034]",
         "gain_per_head = [0.0, 0.01, 0.03, 0.034]")
    assert problems(validate(tiny)) == [
        f"{tiny}/models/response/visits-curve.toml: [curve] must be concave (slopes never rising): "
        "slope 0.005 between 0 and 2 units is followed by a steeper 0.01"]


def test_manifest_typos_are_named(tiny):
    edit(tiny / "scenario.toml", "[budget]\ntotal_gbp", "[budget]\ntotal_gpb")
    assert problems(validate(tiny)) == [
        f"{tiny}/scenario.toml: [budget] unknown key 'total_gpb' (known: total_gbp, mode)",
        f"{tiny}/scenario.toml: [budget] missing key 'total_gbp'"]


def test_many_problems_are_capped_at_ten(tiny):
    rows = "\n".join(f"B{i},Area {i},x,1,1,0.1,80,North,1" for i in range(15))
    (tiny / "areas.csv").write_text((tiny / "areas.csv").read_text() + rows + "\n")
    result = validate(tiny)
    assert result.exit_code == 2
    assert len(problems(result)) == 10
    assert re.search(r"^\+\d+ more$", result.output, re.M)


def test_nothing_in_a_scenario_is_evaluated(tiny):
    """A formula-looking need term is a column name, never code."""
    edit(tiny / "models/need/deprivation.toml", 'column = "deprivation_rate"',
         'column = "__import__(\'os\').system(\'touch pwned\')"')
    result = validate(tiny)
    assert result.exit_code == 2
    assert "missing column \"__import__('os').system('touch pwned')\"" in result.output or \
        "missing column '__import__" in result.output
    assert not (tiny / "pwned").exists()
