"""``allocator monitor``: what it says, what it writes, and bad input (exit 2, nothing written)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import allocator
from allocator.cli import main
from allocator.model.equity import deprivation_groups
from conftest import edit

ENGLAND_LA = Path(__file__).resolve().parents[1] / "scenarios" / "england-la"


def invoke(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The bundled synthetic outturn monitored, with --out; and what it was made from."""
    out = tmp_path_factory.mktemp("monitor") / "out"
    result = invoke("monitor", ENGLAND_LA, "--actual", ENGLAND_LA / "outturn.csv", "--actual",
                    ENGLAND_LA / "observed.csv", "--out", out)
    return result, out


def test_the_bundled_outturn_leads_with_what_it_means(bundled):
    result, out = bundled
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Monitoring England districts")
    assert lines[2].startswith("Spent £")
    text = result.output
    assert "1 of 296 areas reported no spend (Rutland;" in text and "left out, not counted as zero" in text
    assert "1 overspent by more than 10.0% (Leeds +" in text and "none underspent by more than 10.0%" in text
    assert "1 of 8 services more than 5.0% off plan: School nursing and young people's mental health support " \
           "underspent by" in text
    assert "the need ordering broke in" in text and "floors, caps and the pace of change held" in text
    assert "observed 2025/26" in text and "2027/28" in text
    assert f"Written to {out}/: 12 tables (monitor_*.csv), monitor.json, monitor.html and monitor.xlsx." in text
    assert "Traceback" not in text


def test_the_bundled_outturn_deviates_as_its_readme_says(bundled):
    """Leeds 12% over, school nursing 12% under, drug and alcohol's need ordering broken in decile 3, Rutland
    missing: read from the files themselves and the plan, not from the monitor."""
    _, out = bundled
    s = allocator.load(ENGLAND_LA)
    plan = allocator.solve(s).allocation.spend
    actual = np.full(plan.shape, np.nan)
    for r in rows(ENGLAND_LA / "outturn.csv"):
        actual[s.area_ids.index(r["area_id"]), s.service_ids.index(r["service_id"])] = float(r["actual_gbp"])
    leeds, rutland = s.area_ids.index("E08000035"), s.area_ids.index("E06000017")
    assert np.isnan(actual[rutland]).all() and np.isfinite(np.delete(actual, rutland, axis=0)).all()
    by_area = {r["area_id"]: r for r in rows(out / "monitor_by_area.csv")}
    assert float(by_area["E08000035"]["variance_pct"]) == pytest.approx(actual[leeds].sum() / plan[leeds].sum() - 1,
                                                                         rel=1e-6)
    assert [a for a, r in by_area.items() if r["rag"] == "red"] == ["E08000035"]
    assert by_area["E06000017"]["reported"] == "none" and by_area["E06000017"]["actual_gbp"] == ""
    nursing = s.service_ids.index("school_nursing")
    services = {r["service_id"]: r for r in rows(out / "monitor_by_service.csv")}
    seen = np.isfinite(actual[:, nursing])
    assert float(services["school_nursing"]["variance_pct"]) == pytest.approx(
        actual[seen, nursing].sum() / plan[seen, nursing].sum() - 1, rel=1e-6)
    assert [k for k, r in services.items() if r["rag"] == "red"] == ["school_nursing"]
    decile = deprivation_groups(s)
    drugs = [r for r in rows(out / "monitor_breaches.csv") if r["service_id"] == "drug_alcohol"]
    assert any(int(r["deprivation_group"]) == 3 for r in drugs)
    largest = max(drugs, key=lambda r: float(r["beyond_pct"]))
    assert decile[s.area_ids.index(largest["area_id"])] == 3
    assert decile[s.area_ids.index(largest["counterpart_area_id"])] == 3


def test_out_writes_every_table_and_what_was_monitored(bundled):
    _, out = bundled
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"monitor_{n}.csv" for n in ("totals", "lines", "by_area", "by_service", "by_group",
                                                         "by_stream", "rules", "breaches", "measures", "trend",
                                                         "trend_by_group", "by_population_group")]
                           + ["monitor.json", "monitor.html", "monitor.xlsx"])
    import json

    meta = json.loads((out / "monitor.json").read_text())
    assert meta["kind"] == "monitor" and meta["years"] == ["Year 1"] and meta["settings"]["variance_red"] == 0.1
    assert meta["notes"] == ["Year 1: 1 area reported no spend (Rutland): left out of every comparison (not counted "
                             "as zero)."]
    trend = rows(out / "monitor_trend.csv")
    assert [(r["year"], r["source"]) for r in trend] == [("Baseline", "baseline"), ("Year 1", "projected"),
                                                         ("2025/26", "observed"), ("2026/27", "observed"),
                                                         ("2027/28", "observed")]


@pytest.mark.parametrize(("line", "message"), [
    ("A9,visits,5", "row 6 (data row 5), column 'area_id': expected one of the scenario's areas (area_id of its "
                    "areas table), got 'A9' (unknown id)"),
    ("A4,talks,5", "row 6 (data row 5), column 'service_id': expected one of the scenario's services (service_id), "
                   "got 'talks' (unknown id)"),
    ("A4,visits,-5", "row 6 (data row 5), column 'actual_gbp': expected a number >= 0, got '-5'"),
    ("A4,visits,5,2030", "row 6 (data row 5), column 'year': expected the scenario's one year, 'Year 1' (or 1, or "
                         "blank), got '2030' (a year the plan does not have"),
])
def test_bad_input_exits_2_with_the_place_and_writes_nothing(tiny, tmp_path, line, message):
    spend = tmp_path / "spend.csv"
    spend.write_text("area_id,service_id,actual_gbp,year\nA1,visits,16000,\nA1,checks,22500,\nA2,visits,12000,\n"
                     f"A2,checks,20000,\n{line}\n")
    out = tmp_path / "out"
    result = invoke("monitor", tiny, "--actual", spend, "--out", out)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: 1 problem in the outturn:\n")
    assert f"- {spend}, {message}" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_a_bad_threshold_exits_2_and_a_threshold_moves_the_flags(tiny, tmp_path):
    s = allocator.load(tiny)
    plan = allocator.solve(s).allocation.spend
    spend = tmp_path / "spend.csv"
    spend.write_text("area_id,service_id,actual_gbp\n" + "".join(
        f"{a},{sid},{plan[i, j] * (1.12 if a == 'A3' else 1.0):.2f}\n"
        for i, a in enumerate(s.area_ids) for j, sid in enumerate(s.service_ids)))
    flagged = invoke("monitor", tiny, "--actual", spend)
    assert flagged.exit_code == 0, flagged.output
    assert "Of 4 areas compared, 1 overspent by more than 10.0% (Southby +12.0%)" in flagged.output
    relaxed = invoke("monitor", tiny, "--actual", spend, "--threshold", "variance_red=0.15")
    assert "Of 4 areas compared, none overspent by more than 15.0%" in relaxed.output
    bad = invoke("monitor", tiny, "--actual", spend, "--threshold", "variance_red")
    assert bad.exit_code == 2
    assert bad.output == "Error: --threshold: expected NAME=VALUE (e.g. variance_red=0.15), got 'variance_red'\n"
    worse = invoke("monitor", tiny, "--actual", spend, "--threshold", "variance_amber=0.5")
    assert worse.exit_code == 2
    assert "'variance_amber' 0.5 is above 'variance_red' 0.1: amber must come before red" in worse.output
    assert invoke("monitor", tiny, "--actual", spend, "-q").output == ""


def test_a_saved_run_is_monitored_as_its_scenario_is(tiny, tmp_path):
    s = allocator.load(tiny)
    plan = allocator.solve(s).allocation.spend
    spend = tmp_path / "spend.csv"
    spend.write_text("area_id,service_id,actual_gbp\n" + "".join(
        f"{a},{sid},{plan[i, j] * (0.9 + 0.05 * i):.2f}\n"
        for i, a in enumerate(s.area_ids) for j, sid in enumerate(s.service_ids)))
    assert invoke("run", tiny, "--out", tmp_path / "run", "--format", "csv").exit_code == 0
    from_scenario = invoke("monitor", tiny, "--actual", spend, "--out", tmp_path / "a")
    from_saved = invoke("monitor", tmp_path / "run", "--actual", spend, "--out", tmp_path / "b")
    assert from_scenario.exit_code == 0 and from_saved.exit_code == 0, from_saved.output
    for name in ("monitor_lines.csv", "monitor_by_area.csv", "monitor_rules.csv", "monitor_measures.csv",
                 "monitor_trend.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for name in ("areas.csv", "baseline.csv"):  # the scenario changed since the run: A4 is gone
        lines = (tiny / name).read_text().splitlines(keepends=True)
        (tiny / name).write_text("".join(line for line in lines if not line.startswith("A4,")))
    spend.write_text("area_id,service_id,actual_gbp\nA1,visits,100\n")
    changed = invoke("monitor", tmp_path / "run", "--actual", spend)
    assert changed.exit_code == 2
    assert changed.output == (f"Error: {tmp_path / 'run'}: the saved allocation does not fit its scenario ({tiny}: 1 "
                              "year(s) x 3 areas x 2 services): the scenario changed since the run; run it again\n")


def test_a_saved_comparison_is_refused(tmp_path):
    quickstart = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart"
    assert invoke("compare", quickstart, "--out", tmp_path / "c", "--no-explain", "--format", "csv").exit_code == 0
    spend = tmp_path / "spend.csv"
    spend.write_text("area_id,service_id,actual_gbp\n")
    result = invoke("monitor", tmp_path / "c", "--actual", spend)
    assert result.exit_code == 2
    assert "a saved comparison holds several options: monitor one of them" in result.output


def test_text_cells_are_neutralised_for_spreadsheets(tiny, tmp_path):
    edit(tiny / "areas.csv", "A1,Northtown", "A1,=HYPERLINK(\"x\")")
    spend = tmp_path / "spend.csv"
    spend.write_text("area_id,service_id,actual_gbp\nA1,visits,100\n")
    assert invoke("monitor", tiny, "--actual", spend, "--out", tmp_path / "out").exit_code == 0
    names = [r["area_name"] for r in rows(tmp_path / "out" / "monitor_by_area.csv")]
    assert names[0] == "'=HYPERLINK(\"x\")"


def test_without_actual_it_says_how_and_names_the_example_a_bundled_scenario_ships(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # any directory: the bundled scenario by its name
    result = CliRunner().invoke(main, ["monitor", "england-la"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "give --actual FILE" in result.output
    hint = result.output.splitlines()[-1].split()
    files = [Path(hint[k + 1]) for k, word in enumerate(hint) if word == "--actual"]
    assert [f.name for f in files] == ["outturn.csv", "observed.csv"] and all(f.is_file() for f in files)
    followed = CliRunner().invoke(main, hint[1:] + ["-q"])  # the command it gives works as given
    assert followed.exit_code == 0, followed.output
