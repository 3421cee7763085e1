"""Budgets as finance teams hold them (issue #14), as input: service groups, streams, partners, [plan].

Bad input is refused by `allocator validate` and `allocator run` alike with exit code 2, no
traceback, and a message naming the file, and the row and column where there is one; good
input arrives on the `Scenario` as the values the files say (computed here from the files).
Every scenario is the bundled quickstart copied to a temporary folder.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import allocator
from allocator.cli import main
from conftest import quickstart_with

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "scenarios" / "quickstart"
BUDGET = 100_000_000  # the quickstart's [budget] total_gbp


scenario = quickstart_with


def problems(folder: Path) -> list[str]:
    """The problems `validate` and `run` both report (the same, exit 2, no traceback)."""
    found = []
    for command in ("validate", "run"):
        result = CliRunner().invoke(main, [command, str(folder)])
        assert result.exit_code == 2, (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        assert "problem" in result.output.splitlines()[0]
        found.append([line[2:] for line in result.output.splitlines() if line.startswith("- ")])
    assert found[0] == found[1]
    assert found[0], "no problem was listed"
    return found[0]


def where(path: Path, row: int | None = None, column: str | None = None) -> str:
    """How a problem names its place: file, spreadsheet row (header = 1), column."""
    text = str(path)
    if row is not None:
        text += f", row {row} (data row {row - 1})"
    if column is not None:
        text += f", column '{column}'"
    return text + ": "


def one(found: list[str]) -> str:
    assert len(found) == 1, found
    return found[0]


def areas_column(column: str) -> list[str]:
    with (QUICKSTART / "areas.csv").open(newline="") as handle:
        return [row[column].strip() for row in csv.DictReader(handle)]


def service_ids() -> list[str]:
    with (QUICKSTART / "services.csv").open(newline="") as handle:
        return [row["service_id"].strip() for row in csv.DictReader(handle)]


WHOLE = f"stream_id,stream_name,amount_gbp,services\nph,Public health grant,{BUDGET},all\n"


# -- streams that can fund nothing ---------------------------------------------------------------

def test_a_stream_for_an_unknown_service(tmp_path):
    folder = scenario(tmp_path, "stream_id,stream_name,amount_gbp,services\n"
                      "ph,Grant,90000000,all\nhi,Inequalities,10000000,drug_alcohol;dentistry\n")
    message = one(problems(folder))
    assert message.startswith(where(folder / "streams.csv", 3, "services")), message
    assert "'dentistry'" in message
    for sid in service_ids():  # says what is known
        assert sid in message


def test_a_stream_whose_areas_match_no_area(tmp_path):
    assert "9" not in areas_column("imd_quintile")
    folder = scenario(tmp_path, "stream_id,stream_name,amount_gbp,services,areas\n"
                      "ph,Grant,90000000,all,\nhi,Inequalities,10000000,all,imd_quintile=9\n")
    message = one(problems(folder))
    assert message.startswith(where(folder / "streams.csv", 3, "areas")), message
    assert "imd_quintile" in message and "'9'" in message


def test_a_stream_whose_areas_name_no_column(tmp_path):
    folder = scenario(tmp_path, "stream_id,stream_name,amount_gbp,services,areas\n"
                      "ph,Grant,90000000,all,\nhi,Inequalities,10000000,all,icb=QE1\n")
    message = one(problems(folder))
    assert message.startswith(where(folder / "streams.csv", 3, "areas")), message
    assert "'icb=QE1'" in message


def test_a_stream_of_nothing_but_separators_funds_nothing(tmp_path):
    folder = scenario(tmp_path, "stream_id,stream_name,amount_gbp,services\n"
                      "ph,Grant,90000000,all\nhi,Inequalities,10000000,;\n")
    message = one(problems(folder))
    assert message.startswith(where(folder / "streams.csv", 3, "services")), message


# -- partners, amounts, carry-over, totals ---------------------------------------------------------

@pytest.mark.parametrize("shares", [(0.5, 0.4), (0.7, 0.7), (1.0, 1e-6)])
def test_partner_shares_must_sum_to_one(tmp_path, shares):
    folder = scenario(tmp_path, WHOLE, "stream_id,partner,share\n"
                      + "".join(f"ph,P{k},{v!r}\n" for k, v in enumerate(shares)))
    message = one(problems(folder))
    assert message.startswith(where(folder / "partners.csv", 1 + len(shares), "share")), message
    assert "'ph'" in message and f"{sum(shares):.6g}" in message


def test_partners_of_an_unknown_stream(tmp_path):
    folder = scenario(tmp_path, WHOLE, "stream_id,partner,share\nph,Council,1\nzz,ICB,1\n")
    message = one(problems(folder))
    assert message.startswith(where(folder / "partners.csv", 3, "stream_id")), message
    assert "'zz'" in message


def test_a_negative_amount(tmp_path):
    folder = scenario(tmp_path, "stream_id,stream_name,amount_gbp,services\n"
                      f"ph,Grant,{BUDGET + 5},all\nx,Clawback,-5,all\n")
    message = one(problems(folder))
    assert message.startswith(where(folder / "streams.csv", 3, "amount_gbp")), message
    assert "'-5'" in message


def test_carry_over_is_yes_or_no(tmp_path):
    folder = scenario(tmp_path, "stream_id,stream_name,amount_gbp,services,carry_over\n"
                      f"ph,Grant,{BUDGET},all,maybe\n")
    message = one(problems(folder))
    assert message.startswith(where(folder / "streams.csv", 2, "carry_over")), message
    assert "'maybe'" in message


@pytest.mark.parametrize("amounts", [(60_000_000, 30_000_000), (60_000_000, 40_000_000.01)])
def test_streams_must_add_up_to_the_budget(tmp_path, amounts):
    folder = scenario(tmp_path, "stream_id,stream_name,amount_gbp,services\n"
                      + "".join(f"s{k},S{k},{a!r},all\n" for k, a in enumerate(amounts)))
    message = one(problems(folder))
    assert message.startswith(where(folder / "streams.csv", None, "amount_gbp")), message
    assert f"{sum(amounts):,.2f}" in message and f"{BUDGET:,.2f}" in message


def test_every_problem_is_reported_at_once(tmp_path):
    folder = scenario(tmp_path, "stream_id,stream_name,amount_gbp,services,carry_over\n"
                      f"ph,Grant,{BUDGET},all,perhaps\nx,Other,-1,nothing,no\n",
                      manifest="[plan]\nyears = 0\n")
    found = problems(folder)
    assert any(p.startswith(where(folder / "streams.csv", 2, "carry_over")) for p in found), found
    assert any(p.startswith(where(folder / "streams.csv", 3, "amount_gbp")) for p in found), found
    assert any(p.startswith(where(folder / "streams.csv", 3, "services")) for p in found), found
    assert any("[plan] 'years'" in p for p in found), found


# -- [plan] and [[service_group]] ----------------------------------------------------------------------

@pytest.mark.parametrize("years", ["0", "-1", "51", "2.5", '"3"', "true"])
def test_plan_years_must_be_a_whole_number_from_1_to_50(tmp_path, years):
    folder = scenario(tmp_path, manifest=f"[plan]\nyears = {years}\n")
    message = one(problems(folder))
    assert message.startswith(where(folder / "scenario.toml")), message
    assert "[plan] 'years'" in message


@pytest.mark.parametrize("block, key", [
    ("years = 2\nbudgets_gbp = [100_000_000]", "budgets_gbp"),  # one budget for two years
    ("years = 2\nbudgets_gbp = [90_000_000, 100_000_000]", "budgets_gbp"),  # year 1 is not total_gbp
    ("years = 2\ndiscount_rate = -0.01", "discount_rate"),
    ("years = 2\nconverge_by = 3", "converge_by"),
    ("years = 2\nlags = { dentistry = 1 }", "lags"),
    ("years = 2\nlags = { falls_prevention = -1 }", "lags"),
    ("years = 2\nhorizon = 5", "horizon"),
])
def test_plan_settings_are_checked(tmp_path, block, key):
    folder = scenario(tmp_path, manifest=f"[plan]\n{block}\n")
    message = one(problems(folder))
    assert message.startswith(where(folder / "scenario.toml")), message
    assert f"'{key}'" in message


def test_a_service_group_of_an_unknown_service(tmp_path):
    folder = scenario(tmp_path, manifest='[[service_group]]\nname = "targeted"\n'
                      'services = ["drug_alcohol", "dentistry"]\nmin_share = 0.1\n')
    message = one(problems(folder))
    assert message.startswith(where(folder / "scenario.toml")), message
    assert "'targeted'" in message and "'dentistry'" in message


@pytest.mark.parametrize("bounds, unit", [("min_gbp = 5_000_000\nmax_gbp = 4_000_000", "gbp"),
                                          ("min_share = 0.3\nmax_share = 0.2", "share")])
def test_a_service_group_minimum_above_its_maximum(tmp_path, bounds, unit):
    folder = scenario(tmp_path, manifest=f'[[service_group]]\nname = "targeted"\n'
                      f'services = ["drug_alcohol"]\n{bounds}\n')
    message = one(problems(folder))
    assert message.startswith(where(folder / "scenario.toml")), message
    assert "'targeted'" in message and f"'min_{unit}'" in message and f"'max_{unit}'" in message


@pytest.mark.parametrize("bounds", ["min_share = 1.5", "max_gbp = -1", 'fixed_gbp = "lots"',
                                    "fixed_share = 0.2\nmin_share = 0.1"])
def test_service_group_bounds_are_checked(tmp_path, bounds):
    folder = scenario(tmp_path, manifest=f'[[service_group]]\nname = "targeted"\n'
                      f'services = ["drug_alcohol"]\n{bounds}\n')
    message = one(problems(folder))
    assert message.startswith(where(folder / "scenario.toml")), message
    assert "'targeted'" in message


def test_a_service_group_named_like_a_service(tmp_path):
    folder = scenario(tmp_path, manifest='[[service_group]]\nname = "drug_alcohol"\n'
                      'services = ["drug_alcohol"]\n')
    message = one(problems(folder))
    assert message.startswith(where(folder / "scenario.toml")), message
    assert "'drug_alcohol'" in message


def test_a_plan_objective_for_one_year_only_is_refused_by_run(tmp_path):
    folder = scenario(tmp_path, manifest="[plan]\nyears = 2\n")
    toml = folder / "scenario.toml"
    toml.write_text(toml.read_text().replace('[objective]\nname = "health-gain"', '[objective]\nname = "maximin"'))
    result = CliRunner().invoke(main, ["run", str(folder)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "maximin" in result.output


# -- good input -----------------------------------------------------------------------------------

STREAMS = """stream_id,stream_name,amount_gbp,services,areas,carry_over,growth,from_year,to_year,year_3
ph,Public health grant,80000000,all,,no,0.02,,,
hi,Health inequalities,15000000,targeted,imd_quintile=1;2,No,,,,
tl,Time-limited grant,5000000,health_visiting,,yes,,1,2,
bf,Better care fund,0,falls_prevention;drug_alcohol,,,,,,2500000.5
"""
PARTNERS = "stream_id,partner,share\nhi,Council,0.6\nhi,ICB,0.4\n"
GOOD = """
[pace_of_change]
max_decrease = 0.02
max_increase = 0.08

[[service_group]]
name = "targeted"
services = ["drug_alcohol", "falls_prevention"]
min_share = 0.25
max_gbp = 60_000_000

[[service_group]]
name = "children"
services = ["health_visiting"]
fixed_share = 0.5

[plan]
years = 3
first_year = "2026/27"
min_uplift = 0.005
convergence = 0.1
lags = { falls_prevention = 1 }
"""


def test_good_input_arrives_on_the_scenario(tmp_path):
    folder = scenario(tmp_path, STREAMS, PARTNERS, GOOD, total=100_000_000)
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    s = allocator.load(folder)
    ids = service_ids()
    assert s.service_ids == tuple(ids)

    targeted, children = s.service_groups
    assert (targeted.name, children.name) == ("targeted", "children")
    assert targeted.services == tuple(sorted([ids.index("drug_alcohol"), ids.index("falls_prevention")]))
    assert children.services == (ids.index("health_visiting"),)
    assert targeted.bounds(200e6) == pytest.approx((0.25 * 200e6, 60e6))
    assert targeted.bounds(100e6) == pytest.approx((25e6, 60e6))
    assert children.bounds(120e6) == pytest.approx((60e6, 60e6))

    assert [f.id for f in s.streams] == ["ph", "hi", "tl", "bf"]
    ph, hi, tl, bf = s.streams
    assert ph.name == "Public health grant"
    assert ph.amounts == pytest.approx([80e6, 80e6 * 1.02, 80e6 * 1.02 ** 2], abs=0.005)
    assert hi.amounts == pytest.approx([15e6] * 3)
    assert tl.amounts == pytest.approx([5e6, 5e6, 0.0])  # to_year = 2
    assert bf.amounts == pytest.approx([0.0, 0.0, 2_500_000.5])  # year_3 overrides
    assert ph.services.all() and ph.areas is None
    assert list(hi.services) == [sid in ("drug_alcohol", "falls_prevention") for sid in ids]
    assert list(hi.areas) == [q in ("1", "2") for q in areas_column("imd_quintile")]
    assert hi.areas.any() and not hi.areas.all()
    assert list(tl.services) == [sid == "health_visiting" for sid in ids]
    assert list(bf.services) == [sid in ("falls_prevention", "drug_alcohol") for sid in ids]
    assert [f.carry_over for f in s.streams] == [False, False, True, False]
    assert [(p.name, p.share) for p in hi.partners] == [("Council", 0.6), ("ICB", 0.4)]
    assert ph.partners == ()
    eligible = hi.eligible(s.n_areas)
    assert eligible.shape == (s.n_areas, s.n_services)
    assert (eligible == np.outer(hi.areas, hi.services)).all()

    plan = s.plan
    assert plan.years == 3
    assert plan.labels == ("2026/27", "2027/28", "2028/29")
    # with streams, each year's budget is what the streams hold that year
    assert plan.budgets == pytest.approx([sum(f.amounts[t] for f in s.streams) for t in range(3)], abs=0.005)
    assert plan.budgets[0] == pytest.approx(100e6)
    assert plan.discount_rate == 0.035  # NICE's rate when none is given
    assert plan.min_uplift == 0.005 and plan.convergence == 0.1 and plan.converge_by is None
    assert plan.lags == tuple(int(sid == "falls_prevention") for sid in ids)
    assert plan.discount(2) == pytest.approx(1.035 ** -2)
    assert plan.discount(1, lag=1) == pytest.approx(1.035 ** -2)
    assert s.pace == (0.02, 0.08)
    assert s.budget_gbp == 100e6


def test_a_plan_without_streams_grows_its_budget(tmp_path):
    folder = scenario(tmp_path, manifest="[plan]\nyears = 4\nbudget_growth = 0.03\ndiscount_rate = 0\n"
                      "converge_by = 4\n")
    plan = allocator.load(folder).plan
    assert plan.budgets == pytest.approx([BUDGET * 1.03 ** t for t in range(4)], abs=0.005)
    assert plan.labels == ("Year 1", "Year 2", "Year 3", "Year 4")
    assert plan.discount_rate == 0.0 and plan.converge_by == 4
    assert plan.lags == (0,) * len(service_ids())


def test_a_plan_lists_its_budgets(tmp_path):
    folder = scenario(tmp_path, manifest="[plan]\nyears = 3\nbudgets_gbp = [100_000_000, 90_000_000, 1.5e8]\n")
    assert allocator.load(folder).plan.budgets == (100e6, 90e6, 150e6)


def test_a_scenario_without_the_new_sections_has_none_of_them(tmp_path):
    s = allocator.load(scenario(tmp_path))
    assert s.streams == () and s.service_groups == () and s.plan is None and s.transfer is None
