"""Small truths the terminal tells: counts that mean what they say, messages that say what to do."""

from __future__ import annotations

import csv
import re

from click.testing import CliRunner

import allocator
from allocator.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def _lines_from_table(path):
    """(between floor and cap, at floor, at cap, locked) counted from allocation.csv alone."""
    between = at_floor = at_cap = locked = 0
    with path.open() as handle:
        for row in csv.DictReader(handle):
            if row["locked"] == "true":
                locked += 1
                continue
            units, floor, cap = (float(row[k]) for k in ("units_per_head", "floor_units_per_head",
                                                          "cap_units_per_head"))
            tol = 1e-6 * max(1.0, abs(units))
            low, high = units <= floor + tol, units >= cap - tol
            at_floor += low
            at_cap += high
            between += not (low or high)
    return between, at_floor, at_cap, locked


def test_run_counts_lines_strictly_between_floor_and_cap(tiny, tmp_path):
    out = tmp_path / "out"
    result = invoke("run", tiny, "--out", out)
    assert result.exit_code == 0, result.output
    found = re.search(r"Lines: (\d+) between floor and cap, (\d+) at their floor, (\d+) at their cap, "
                      r"(\d+) locked\.", result.output)
    assert found, result.output
    assert tuple(map(int, found.groups())) == _lines_from_table(out / "allocation.csv")
    assert _lines_from_table(out / "allocation.csv")[1] > 0  # the fixture has lines at their floor


def test_gradient_without_a_table_says_what_to_give():
    result = invoke("gradient")
    assert result.exit_code == 2
    assert "give a TABLE (CSV) or --bundled-le" in result.output
    assert "not both" not in result.output
    assert "Traceback" not in result.output


def test_write_lp_says_what_it_wrote(tiny, tmp_path):
    target = tmp_path / "model.lp"
    result = invoke("run", tiny, "--write-lp", target)
    assert result.exit_code == 0, result.output
    assert target.is_file() and target.stat().st_size > 0
    assert f"to {target}" in result.output
    assert re.search(r"Wrote the LP \([\d,]+ rows x [\d,]+ columns\)", result.output)


def test_a_finished_sweep_leaves_no_lock_file(tiny, tmp_path):
    out = tmp_path / "sweep"
    allocator.sweep(tiny, {"budget": [95e3, 100e3]}, workers=1, out=out, plots=False)
    assert (out / "sweep.sqlite").is_file()
    assert not (out / "sweep.lock").exists()
    again = allocator.sweep(tiny, {"budget": [95e3, 100e3]}, workers=1, out=out, plots=False,
                            resume=True)  # the store can be taken again
    assert len(again) > 0
    assert not (out / "sweep.lock").exists()


def test_the_api_progress_bar_counts_points_on_stderr(tiny, capsys):
    allocator.sweep(tiny, {"budget": [95e3, 100e3, 105e3]}, workers=1, progress=True)
    err = capsys.readouterr().err
    assert "3 points: 3/3 (100%)" in err
    assert err.endswith("\n")
