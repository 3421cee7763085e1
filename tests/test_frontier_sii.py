"""The frontier by SII reduction (issue 15): each point the most health with the SII down by at least its level.

A floor under the worst-off group is one way to lower the SII, not the cheapest: every point of
the worst-off frontier is an allocation the SII frontier could choose at that point's reduction,
so the SII frontier never shows less health there, and at the maximin end it shows much more.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import allocator
from allocator.analysis import frontier
from allocator.cli import main
from allocator.model import diagnose

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.fixture(scope="module")
def england_la():
    return allocator.load(SCENARIOS / "england-la")


@pytest.fixture(scope="module")
def by_sii(england_la):
    return frontier.frontier(england_la, points=5, options=False, measure="sii")


@pytest.fixture(scope="module")
def by_worst_off(england_la):
    return frontier.frontier(england_la, points=5, options=False)


def _points(table):
    return table[table["point"].astype(str).str.isdigit()].reset_index(drop=True)


def _total_gain(result) -> float:
    return frontier._row("run", result)["total_gain"]


def test_each_point_meets_its_level_and_health_never_rises(by_sii):
    table, ends = by_sii
    curve = _points(table)
    assert len(curve) == 5
    level = curve["sii_reduction_at_least"].to_numpy()
    assert np.all(np.diff(level) > 0)
    assert np.all(curve["sii_reduction"].to_numpy() >= level - 1e-7)  # measured from the allocation itself
    gain = curve["total_gain"].to_numpy()
    assert np.all(np.diff(gain) <= 1e-9 * abs(gain[0]))
    # the health-gain run meets its pace rows to HiGHS's default tolerance (1e-7 of a scaled row), the
    # SII points (`gradient_bound`) to 1e-9: the first point may be a hair below
    assert gain[0] == pytest.approx(_total_gain(ends["health-gain"]), rel=1e-8)
    # the last point is the attainable limit (the MILP over the relaxation: england-la has a pace of
    # change), far past the largest reduction a reference run reaches (maximin's 0.382)
    reach = table.attrs["reach"]
    assert reach["proven"] and reach["measure"] == "sii"
    top = max(frontier.reduction(result, "sii") for result in ends.values())
    assert level[-1] == pytest.approx(reach["high"], abs=1e-6) and reach["high"] > top + 0.1
    assert curve["worst_off_at_least"].isna().all()


def test_no_allocation_passes_the_frontiers_last_point(england_la, by_sii, monkeypatch):
    """The limit the frontier ends at is the most there is: a run asking a little more is refused."""
    reach = by_sii[0].attrs["reach"]
    # the refusal's own search for the limit (10 s by default, about 5 s here on a quiet machine) given
    # room to prove it on a slow or busy one, where it would end in a bracket ("by less than")
    monkeypatch.setattr(diagnose, "SEARCH_SECONDS", 120.0)
    with pytest.raises(allocator.errors.InfeasibleError, match="can fall by at most"):
        allocator.run(england_la.with_(objective="health-gain", sii_reduction=reach["high"] * 1.01))


def test_the_sii_frontier_never_shows_less_health_than_the_worst_off_one(england_la, by_sii, by_worst_off):
    base = england_la.with_(objective="health-gain")
    for _, point in _points(by_worst_off[0]).iterrows():
        best = allocator.run(base.with_(sii_reduction=float(point["sii_reduction"]) - 1e-7))
        assert _total_gain(best) >= point["total_gain"] - 1e-9 * abs(point["total_gain"])
    # at the maximin end (the last worst-off point) the same SII reduction costs far less health
    # than maximin pays for it
    optimum = _total_gain(by_sii[1]["health-gain"])
    worst_off_end = _points(by_worst_off[0]).iloc[-1]
    assert optimum - _total_gain(best) < 0.8 * (optimum - worst_off_end["total_gain"])


def test_upto_sets_the_last_level(england_la):
    table, _ = frontier.frontier(england_la, points=2, options=False, measure="sii", upto=0.3)
    curve = _points(table)
    assert curve["sii_reduction_at_least"].iloc[-1] == pytest.approx(0.3)
    assert curve["sii_reduction"].iloc[-1] >= 0.3 - 1e-7


def test_the_command_traces_by_sii_and_refuses_what_it_cannot_do(tmp_path):
    quickstart = str(SCENARIOS / "quickstart")
    result = CliRunner().invoke(main, ["frontier", quickstart, "--measure", "sii", "--points", "3",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "each with a required SII reduction" in result.output
    assert "sii_reduction_at_least" in (tmp_path / "frontier.csv").read_text().splitlines()[0]
    assert "The SII can fall by at most" in result.output and "the last point is the most equal" in result.output
    refused = CliRunner().invoke(main, ["frontier", quickstart, "--upto", "0.1"])
    assert refused.exit_code == 2 and "--upto goes with --measure sii" in refused.output
    assert CliRunner().invoke(main, ["frontier", quickstart, "--measure", "median"]).exit_code == 2
    placed = CliRunner().invoke(main, ["frontier", quickstart, "--points", "2"])
    bare = CliRunner().invoke(main, ["frontier", quickstart, "--points", "2", "--no-options"])
    assert "option: " in placed.output and bare.exit_code == 0 and "option: " not in bare.output


def test_the_time_limit_bounds_the_whole_frontier():
    result = CliRunner().invoke(main, ["frontier", str(SCENARIOS / "england-la"), "--measure", "sii",
                                       "--time-limit", "0.01"])
    assert result.exit_code == 1, result.output
    assert "time limit" in result.output


def test_a_point_that_stops_the_frontier_leaves_the_points_before_it_on_screen(monkeypatch, tmp_path):
    from allocator import errors

    real = frontier.run
    asked = []

    def stopping(scenario, **kwargs):
        if scenario.sii_reduction is not None:
            asked.append(scenario.sii_reduction)
            if len(asked) == 3:
                raise errors.SolverError("HiGHS stopped at the time limit")
        return real(scenario, **kwargs)

    monkeypatch.setattr(frontier, "run", stopping)
    out = tmp_path / "f"
    result = CliRunner().invoke(main, ["frontier", str(SCENARIOS / "quickstart"), "--measure", "sii", "--points", "4",
                                       "--out", str(out)])
    assert result.exit_code == 1
    assert "stopped after 2 of 4 points" in result.output
    lines = [line.split()[0] for line in result.output.splitlines() if line[:1].isdigit()]
    assert lines == ["1", "2"]
    assert "the frontier's point 3 (SII down by at least" in result.output
    # the points solved are kept (a long frontier's minutes are not lost), and no chart of a frontier cut short
    assert sorted(p.name for p in out.iterdir()) == ["frontier.csv", "frontier.json"]
    kept = pd.read_csv(out / "frontier.csv")
    assert list(kept["point"]) == ["1", "2", "health-gain", "maximin", "level-up"]
    assert "only the points solved before it stopped" in result.output


def test_settings_no_frontier_can_use_are_refused_as_bad_input(england_la):
    quickstart = str(SCENARIOS / "quickstart")
    below = CliRunner().invoke(main, ["frontier", quickstart, "--measure", "sii", "--upto", "-5"])
    assert below.exit_code == 2 and "--upto: expected a reduction above" in below.output
    for limit in ("nan", "0", "-1"):
        refused = CliRunner().invoke(main, ["frontier", quickstart, "--time-limit", limit])
        assert refused.exit_code == 2 and "--time-limit: expected a finite number of seconds > 0" in refused.output
    with pytest.raises(ValueError, match="upto goes with measure='sii'"):
        frontier.frontier(england_la, points=2, upto=0.3)


def test_a_stopped_point_keeps_what_it_found_and_its_bound(monkeypatch):
    from allocator import errors

    real = frontier.run

    def stopping(scenario, **kwargs):
        if scenario.sii_reduction is not None:
            stopped = errors.SolverError("HiGHS stopped at the time limit")
            stopped.incumbent, stopped.bound = 1.0, 2.0
            raise stopped
        return real(scenario, **kwargs)

    monkeypatch.setattr(frontier, "run", stopping)
    with pytest.raises(errors.SolverError, match="the frontier's point 1") as caught:
        frontier.frontier(allocator.load(SCENARIOS / "quickstart"), points=2, options=False, measure="sii")
    assert (caught.value.incumbent, caught.value.bound) == (1.0, 2.0)
    assert len(caught.value.done) == 0


def test_the_gap_frontier_meets_each_level_up_to_the_limit(england_la):
    """england-la (pace of change: the gap's limit is a MILP's), stepped by the gap to that limit."""
    table, ends = frontier.frontier(england_la, points=4, options=False, measure="gap")
    curve = _points(table)
    level = curve["gap_reduction_at_least"].to_numpy()
    assert np.all(np.diff(level) > 0) and curve["sii_reduction_at_least"].isna().all()
    assert np.all(curve["gap_reduction"].to_numpy() >= level - 1e-6)  # measured from the allocation itself
    gain = curve["total_gain"].to_numpy()
    assert np.all(np.diff(gain) <= 1e-9 * abs(gain[0]))
    reach = table.attrs["reach"]
    assert reach["measure"] == "gap" and reach["low"] is not None  # an allocation reaches it (proven or not)
    assert level[-1] == pytest.approx(reach["low"], abs=1e-6) and reach["low"] <= reach["high"]
    assert reach["low"] > max(frontier.reduction(r, "gap") for r in ends.values())


def test_the_national_frontier_runs_to_the_proven_limit():
    """england-lsoa (33,755 LSOAs): every point proven in suffix form, the last at the exact limit,
    beyond every reference run, and none of them needs the MILP in rows form."""
    from allocator.model import diagnose

    lsoa = allocator.load(SCENARIOS / "england-lsoa")
    table, ends = frontier.frontier(lsoa, points=3, options=False, measure="sii")
    curve = _points(table)
    limit = diagnose.reduction_limit(lsoa.with_(sii_reduction=0.0), "sii_reduction", certified_only=True)
    assert curve["sii_reduction_at_least"].iloc[-1] == pytest.approx(limit, rel=1e-8)
    assert curve["sii_reduction"].iloc[-1] >= limit - 1e-6
    assert limit > max(frontier.reduction(result, "sii") for result in ends.values()) + 0.1
    gain = curve["total_gain"].to_numpy()
    assert np.all(np.diff(gain) < 0)
    with pytest.raises(allocator.errors.InfeasibleError, match="can fall by at most"):
        allocator.run(lsoa.with_(sii_reduction=limit * 1.01))


def test_the_limit_search_leaves_the_points_most_of_a_time_limit(monkeypatch):
    """The frontier's search for the attainable limit takes `LIMIT_SECONDS` at most, and under a
    command's time limit a third of what is left, so that the points still get theirs."""
    from allocator.model.highs import deadline

    asked = []

    def searched(scenario, name, time_limit=None, certified_only=False):
        asked.append(time_limit)
        return None  # nothing known: the frontier ends at the reference runs

    monkeypatch.setattr(frontier, "reduction_limit", searched)
    quickstart = allocator.load(SCENARIOS / "quickstart")
    table, _ = frontier.frontier(quickstart, points=2, options=False, measure="sii")
    assert asked == [frontier.LIMIT_SECONDS] and "reach" not in table.attrs
    with deadline(30.0):
        frontier.frontier(quickstart, points=2, options=False, measure="gap")
    assert 0 < asked[1] <= 10.0
