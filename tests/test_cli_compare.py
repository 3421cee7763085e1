"""`allocator compare` and `allocator report`: options side by side, saved, rebuilt."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli import main

OPTIONS = """
[[option]]
name = "Health gain"

[[option]]
name = "Fair share"
objective = "fair-share"

[[option]]
name = "Bigger budget"
total_gbp = 120000
floors = { visits = 1.5 }
"""


@pytest.fixture
def with_options(tiny):
    (tiny / "scenario.toml").write_text((tiny / "scenario.toml").read_text() + OPTIONS)
    return tiny


def invoke(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def test_compare_prints_measures_side_by_side(with_options):
    result = invoke("compare", with_options)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "3 options compared: Health gain, Fair share, Bigger budget" in out
    header = next(line for line in out.splitlines() if line.startswith("measure"))
    for name in ("Health gain", "Fair share", "Bigger budget"):
        assert name in header
    assert "[Bigger budget] One more £1 of budget buys" in out
    assert "rules cost nothing under any option" in out and "cost nothing:" not in out  # counted, not listed
    assert "rii_alternative_outcome" not in out and "RII in the outcome (SII / mean)" in out  # plain names
    assert "In brief: “Bigger budget” gains the most health" in out


def test_compare_writes_tables_that_report_rebuilds(with_options, tmp_path):
    out = tmp_path / "cmp"
    result = invoke("compare", with_options, "--out", out, "--format", "csv,json")
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "comparison.json").read_text())
    assert meta["options"] == ["Health gain", "Fair share", "Bigger budget"]
    metrics = pd.read_csv(out / "options_metrics.csv")
    total = metrics[metrics["measure"] == "total_spend"].set_index("option")["after"]
    assert total.to_dict() == pytest.approx({"Health gain": 1e5, "Fair share": 1e5, "Bigger budget": 1.2e5})
    gain = metrics[metrics["measure"] == "total_gain"].set_index("option")
    assert gain.loc["Health gain", "best"] == False  # noqa: E712 - the bigger budget buys more
    assert gain.loc["Bigger budget", "best"] == True  # noqa: E712
    assert (out / "options" / "bigger-budget" / "allocation.csv").is_file()
    winners = pd.read_csv(out / "winners_losers.csv")
    assert set(winners["option"]) == {"Health gain", "Fair share", "Bigger budget"}
    assert len(winners) == 3 * 4


def test_option_typos_are_bad_input(tiny):
    (tiny / "scenario.toml").write_text((tiny / "scenario.toml").read_text() +
                                        '\n[[option]]\nname = "X"\nobjektive = "fair-share"\nfloors = { vists = 1 }\n')
    result = invoke("compare", tiny)
    assert result.exit_code == 2
    assert "[[option]] 'X': unknown key 'objektive'" in result.output
    assert "[[option]] 'X': 'floors': unknown service 'vists' (known: visits, checks)" in result.output


def test_report_needs_a_saved_folder(tmp_path):
    result = invoke("report", tmp_path)
    assert result.exit_code == 2
    assert f"{tmp_path}/comparison.json: file not found" in result.output


def test_comparison_title_names_the_scenario_not_its_options(with_options, tmp_path):
    out = tmp_path / "cmp"
    assert invoke("compare", with_options, "--out", out, "--format", "csv").exit_code == 0
    meta = json.loads((out / "comparison.json").read_text())
    assert meta["title"] == "Options for Tiny test scenario"


TOO_EQUAL = '\n[[option]]\nname = "Too equal"\nsii_reduction = 50\n'


def test_an_option_that_cannot_be_solved_is_left_out_and_the_rest_compared(with_options, tmp_path):
    (with_options / "scenario.toml").write_text((with_options / "scenario.toml").read_text() + TOO_EQUAL)
    out = tmp_path / "out"
    result = invoke("compare", with_options, "--no-explain", "--out", out, "--format", "md,html")
    assert result.exit_code == 1, result.output  # the command did not do all it was asked
    assert "3 options compared: Health gain, Fair share, Bigger budget" in result.output
    assert "Not in the comparison:\n  - Too equal: option 'Too equal'" in result.output
    assert "sii_reduction asks for 50" in result.output
    assert "Spend per head" in result.output and "Traceback" not in result.output
    saved = json.loads((out / "run.json").read_text())
    assert set(saved["options"]) == {"Health gain", "Fair share", "Bigger budget"}
    assert "sii_reduction asks for 50" in saved["not_solved"]["Too equal"]
    for report in ("brief.html", "report.md"):
        text = (out / report).read_text()
        assert "“Too equal” is not among them: the SII" in text, report
    options = pd.read_csv(out / "options_metrics.csv")
    assert "Too equal" not in set(options["option"])


def test_compare_without_any_solvable_option_says_why(with_options):
    result = invoke("compare", with_options, "--no-explain", "--time-limit", "1e-9")
    assert result.exit_code == 1, result.output
    assert "time limit" in result.output and "option 'Health gain'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value", ["0", "-3", "nan"])
def test_compare_refuses_a_time_limit_no_solve_can_use(with_options, value):
    result = invoke("compare", with_options, "--time-limit", value)
    assert result.exit_code == 2, result.output


def test_the_time_limit_is_each_options_own(with_options, monkeypatch):
    """One option that uses up its time does not take the others' with it (as a sweep's points)."""
    import time

    import allocator
    import allocator.analysis.compare as compare_module
    from allocator.model.highs import limited

    real = compare_module.run

    def slow_for_one(scenario, **kwargs):
        if scenario.budget_gbp == 120000:  # "Bigger budget"
            time.sleep(0.3)
            limited(None)  # what every solve asks first: raises once the option's time has run out
        return real(scenario, **kwargs)

    monkeypatch.setattr(compare_module, "run", slow_for_one)
    c = allocator.compare(with_options, explain=False, time_limit=0.2, keep_going=True)
    assert c.names == ("Health gain", "Fair share")
    assert [name for name, _ in c.not_solved] == ["Bigger budget"]
    assert "time limit of 0.2 s ran out" in str(c.not_solved[0][1])
    with pytest.raises(allocator.errors.SolverError, match="option 'Bigger budget'"):
        allocator.compare(with_options, explain=False, time_limit=0.2)
