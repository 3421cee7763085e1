"""`allocator run`: the summary, the files it writes, exit codes, and safety of outputs."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import edit

from allocator.cli import main


def run(*args):
    return CliRunner().invoke(main, ["run", *map(str, args)])


def test_run_prints_budget_and_gradient(tiny):
    result = run(tiny)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Budget £100k (exact); allocated £100,000.00." in out
    assert "every invariant re-checked from the allocation: OK." in out
    assert "Compared with this year's spend (baseline table)." in out
    assert re.search(r"^1 \(most deprived\)\s+3,000", out, re.M)
    assert re.search(r"^2 \(least\)\s+2,000", out, re.M)
    assert re.search(r"^SII of outcome\s+7\.0000", out, re.M)  # 81.5 - 78.0 between two halves


def test_run_writes_every_table_as_csv_and_json_or_parquet(tiny, tmp_path):
    import pandas as pd

    out = tmp_path / "out"
    result = run(tiny, "--out", out)
    assert result.exit_code == 0, result.output
    for name in ("by_group", "metrics", "by_region"):
        assert (out / f"{name}.csv").is_file()
        assert isinstance(json.loads((out / f"{name}.json").read_text()), list)
    for name in ("allocation", "by_area"):  # the tables that grow with the areas: Parquet, not JSON
        assert not (out / f"{name}.json").exists()
        parquet, text = pd.read_parquet(out / f"{name}.parquet"), pd.read_csv(out / f"{name}.csv")
        assert list(parquet.columns) == list(text.columns) and len(parquet) == len(text)
        assert parquet["spend_gbp"].to_numpy() == pytest.approx(text["spend_gbp"].to_numpy())
    with (out / "allocation.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8
    assert sum(float(r["spend_gbp"]) for r in rows) == pytest.approx(100_000, abs=1e-6)
    summary = json.loads((out / "result.json").read_text())["summary"]
    assert summary["allocated_gbp"] == 100000.0
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "optimal"
    assert set(manifest["inputs"]) >= {str(tiny / "areas.csv"), str(tiny / "scenario.toml")}
    assert all(len(h) == 64 for h in manifest["inputs"].values())


def test_same_inputs_same_bytes(tiny, tmp_path):
    for name in ("one", "two"):
        assert run(tiny, "--out", tmp_path / name, "-q").exit_code == 0
    for path in sorted((tmp_path / "one").iterdir()):
        if path.name != "run.json":  # the manifest holds timings
            assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes(), path.name


def test_cbc_agrees_with_highs(tiny, tmp_path):
    for solver in ("highs", "cbc"):
        assert run(tiny, "--solver", solver, "--out", tmp_path / solver, "-q").exit_code == 0
    value = {s: json.loads((tmp_path / s / "result.json").read_text())["summary"]["objective_value"]
             for s in ("highs", "cbc")}
    assert value["cbc"] == pytest.approx(value["highs"], rel=1e-6)


def test_objective_override_and_lp_file(tiny, tmp_path):
    lp_file = tmp_path / "model.lp"
    result = run(tiny, "--objective", "fair-share", "--write-lp", lp_file)
    assert result.exit_code == 0, result.output
    assert "objective fair-share" in result.output
    text = lp_file.read_text()
    assert "budget" in text and "target(A1,visits)" in text


def test_formula_like_names_are_neutralised(tiny, tmp_path):
    edit(tiny / "areas.csv", "A1,Northtown,", 'A1,"=HYPERLINK(""http://evil"",""x"")",')
    edit(tiny / "areas.csv", "A2,Easton,", "A2,@SUM(1+1),")
    result = run(tiny, "--out", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    with (tmp_path / "out" / "by_area.csv").open() as handle:
        names = [r["area_name"] for r in csv.DictReader(handle)]
    assert names[:2] == ['\'=HYPERLINK("http://evil","x")', "'@SUM(1+1)"]
    import pandas as pd

    by_area = pd.read_parquet(tmp_path / "out" / "by_area.parquet")
    assert by_area["area_name"].iloc[0].startswith("'=")


def test_outputs_never_overwrite_inputs(tiny):
    # an input named like an output, and --out pointing at the scenario's own folder
    (tiny / "areas.csv").rename(tiny / "metrics.csv")
    edit(tiny / "scenario.toml", 'areas = "areas.csv"', 'areas = "metrics.csv"')
    before = {p.name: p.read_bytes() for p in tiny.iterdir() if p.is_file()}
    result = run(tiny, "--out", tiny, "-q")
    assert result.exit_code == 2
    assert f"refusing to overwrite the input file {tiny}/metrics.csv" in result.output
    after = {p.name: p.read_bytes() for p in tiny.iterdir() if p.is_file()}
    assert after == before  # nothing written at all, inputs untouched


def test_infeasible_scenario_is_explained_with_exit_1(tiny):
    # A pace of change of 0% pins every area's total to its baseline.  A1 (most need,
    # twice A4's people) had £14,000, but spending at A4's intensities costs it exactly
    # twice A4's £8,500 = £17,000: monotone proportionality and the pace conflict.
    (tiny / "scenario.toml").write_text((tiny / "scenario.toml").read_text() +
                                        "\n[pace_of_change]\nmax_decrease = 0.0\nmax_increase = 0.0\n")
    edit(tiny / "scenario.toml", "total_gbp = 100000", "total_gbp = 75500")
    edit(tiny / "baseline.csv", "A1,visits,8000\nA1,checks,9000", "A1,visits,6000\nA1,checks,8000")
    result = run(tiny)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    # only rules the scenario has are named: tiny has no locked lines
    assert ("no allocation of £75,500 meets every rule; it becomes feasible without the monotone "
            "proportionality rule or the pace-of-change limits, which conflict with the floors and "
            "caps: loosen one of them") in result.output
    assert "locked" not in result.output


def test_bad_input_exit_2_without_traceback(tiny):
    (tiny / "areas.csv").unlink()
    result = run(tiny)
    assert result.exit_code == 2
    assert f"{tiny}/areas.csv: file not found" in result.output
    assert "Traceback" not in result.output


def test_time_limit_is_an_error_not_an_answer(monkeypatch, tiny):
    import allocator.model.solver as solve_module

    def stopped(*args, **kwargs):
        raise solve_module.SolverError("HiGHS stopped at the time limit of 0.001 s before proving "
                                       "optimality: raise --time-limit")

    monkeypatch.setattr(solve_module, "_solve_highs", stopped)
    result = run(tiny, "--time-limit", "60")
    assert result.exit_code == 1
    assert "before proving optimality" in result.output
    assert "Traceback" not in result.output


def test_a_time_limit_spent_before_a_solve_starts_says_so(tiny):
    result = run(tiny, "--time-limit", "1e-9")
    assert result.exit_code == 1, result.output
    assert ("the time limit of 1e-09 s ran out before proving optimality (a solve it needs could not start): "
            "raise --time-limit") in result.output
    assert "Traceback" not in result.output


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for name, command in main.commands.items():
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.output, name
        assert f"allocator {name}" in readme, name


def test_run_option_solves_one_option_of_the_manifest_as_compare_does(tmp_path):
    import allocator
    from allocator.analysis.compare import options_from

    quickstart = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart"
    out = tmp_path / "fair"
    result = CliRunner().invoke(main, ["run", str(quickstart), "--option", "Fair share", "--out", str(out),
                                       "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "objective fair-share" in result.output
    option = dict(options_from([allocator.load(quickstart)]))["Fair share"]
    expected = allocator.solve(option).allocation.spend
    rows = list(csv.DictReader((out / "allocation.csv").open()))
    assert abs(sum(float(r["spend_gbp"]) for r in rows) - expected.sum()) < 0.01
    assert sorted(round(float(r["spend_gbp"]), 2) for r in rows) == sorted(round(v, 2) for v in expected.ravel())


def test_run_option_unknown_names_the_options_and_exits_2():
    quickstart = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart"
    result = CliRunner().invoke(main, ["run", str(quickstart), "--option", "Nope"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "'Health gain'" in result.output and "'Fair share'" in result.output


def test_run_equity_flags_constrain_the_optimum_and_say_so(tmp_path):
    quickstart = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart"
    out = tmp_path / "sii"
    result = CliRunner().invoke(main, ["run", str(quickstart), "--sii-reduction", "0.1", "--out", str(out),
                                       "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "the SII must fall by at least 0.1 years" in result.output
    metrics = {r["measure"]: r for r in csv.DictReader((out / "metrics.csv").open())}
    before, after = float(metrics["sii_outcome"]["before"]), float(metrics["sii_outcome"]["after"])
    assert abs(after) <= abs(before) - 0.1 + 1e-6
    plain_run = CliRunner().invoke(main, ["run", str(quickstart), "--out", str(tmp_path / "plain"), "--format", "csv"])
    assert plain_run.exit_code == 0
    free = {r["measure"]: r for r in csv.DictReader((tmp_path / "plain" / "metrics.csv").open())}
    assert abs(float(free["sii_outcome"]["after"])) > abs(before) - 0.1  # the flag is what made it bind
    assert float(free["total_gain"]["after"]) >= float(metrics["total_gain"]["after"])


def test_run_equity_flag_beyond_reach_exits_1_with_the_attainable_limit():
    quickstart = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart"
    result = CliRunner().invoke(main, ["run", str(quickstart), "--worst-off-at-least", "1000"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "can reach at most" in result.output
    result = CliRunner().invoke(main, ["run", str(quickstart), "--sii-reduction", "-1"])
    assert result.exit_code == 2


def test_an_option_may_set_worst_off_at_least(tmp_path):
    import allocator
    from allocator.analysis.compare import options_from

    folder = tmp_path / "q"
    import shutil

    shutil.copytree(Path(__file__).resolve().parents[1] / "scenarios" / "quickstart", folder)
    manifest = folder / "scenario.toml"
    edit(manifest, 'models = "../../models"', f'models = "{(Path(__file__).resolve().parents[1] / "models").as_posix()}"')
    manifest.write_text(manifest.read_text() + '\n[[option]]\nname = "Floor"\nworst_off_at_least = 77.5\n')
    option = dict(options_from([allocator.load(folder)]))["Floor"]
    assert option.worst_off_at_least == 77.5
    by_group = allocator.solve(option).by_decile
    assert by_group["outcome_projected"].min() >= 77.5 - 1e-6
    manifest.write_text(manifest.read_text() + '\n[[option]]\nname = "Bad"\nworst_off_at_least = "high"\n')
    assert CliRunner().invoke(main, ["validate", str(folder)]).exit_code == 2


def test_explain_prices_an_equity_constraint_in_health():
    import allocator
    from allocator.analysis.explain import prices

    quickstart = allocator.load(Path(__file__).resolve().parents[1] / "scenarios" / "quickstart")
    constrained = allocator.solve(quickstart.with_(sii_reduction=0.1))
    free = allocator.solve(quickstart)
    table = prices(constrained)
    row = table[table["rule"].str.startswith("SII reduction")].iloc[0]
    expected = float(free.outcomes.gain.sum() - constrained.outcomes.gain.sum())
    assert expected > 0 and float(row["cost"]) == pytest.approx(expected, rel=1e-6)
    assert "years x people of health gain" in row["text"]


def test_explain_prices_a_maximin_optimum_in_health_not_in_pounds():
    import allocator
    from allocator.analysis.explain import prices

    quickstart = allocator.load(Path(__file__).resolve().parents[1] / "scenarios" / "quickstart")
    result = allocator.solve(quickstart.with_(objective="maximin"))
    table = prices(result)
    rules = table[~table["rule"].astype(str).str.startswith("budget")]["text"].astype(str)
    assert len(rules) and not any("fair shares" in t or "£" in t for t in rules)
    assert all("years x people of health gain" in t or "cost nothing" in t for t in rules)


def test_a_run_without_explain_never_says_no_rule_costs_anything(tmp_path):
    quickstart = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart"
    for flags, said in (([], "prices were not computed"), (["--explain"], "cost")):
        out = tmp_path / ("explained" if flags else "plain")
        result = CliRunner().invoke(main, ["run", str(quickstart), "--out", str(out), "--format", "html", *flags])
        assert result.exit_code == 0, result.output
        page = (out / "brief.html").read_text()
        assert said in page
        if not flags:
            assert "No rule costs anything" not in page and "not computed" in page
