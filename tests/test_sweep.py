"""Sweeps and Monte Carlo: every point equals its own solve, seeds reproduce, nothing is lost.

The kill-and-resume tests run `allocator sweep` in a child process and send it a
signal half-way; the Dask test starts its own `distributed.LocalCluster`.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import edit

import allocator
from allocator.scenario import parameters
from allocator.analysis import sweeps as sw
from allocator.cli import main
from allocator.errors import ScenarioError
from allocator.analysis.store import read

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "scenarios" / "quickstart"
NUMBERS = ["before", "after", "change"]
SOLVER_RTOL = 1e-6  # two optimal solutions agree to the solver's tolerances, not to the last bit


def _metrics(result) -> pd.Series:
    m = result.gradient.metrics.set_index("measure")["after"].copy()
    m["objective"] = result.solution.objective
    return m


def _by_point(table: pd.DataFrame) -> dict[int, pd.Series]:
    ok = table[table["status"] == "ok"]
    return {p: g.set_index("measure")["after"] for p, g in ok.groupby("point")}


def _same_results(a: pd.DataFrame, b: pd.DataFrame, rtol: float = 0.0) -> None:
    """Two sweep tables hold the same points, statuses and measures (numbers within rtol)."""
    keys = ["point", "option", "draw", "status", "measure", "units"]
    a = a.sort_values(["point", "measure"]).reset_index(drop=True)
    b = b.sort_values(["point", "measure"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[keys], b[keys])
    for column in NUMBERS:
        np.testing.assert_allclose(a[column].to_numpy(float), b[column].to_numpy(float), rtol=rtol,
                                   atol=0 if rtol == 0 else 1e-9, equal_nan=True, err_msg=column)


# ------------------------------------------------------------------ point by point


def test_every_sweep_point_equals_its_own_solve():
    s = allocator.load(QUICKSTART)
    grid = {"budget": [80e6, 100e6, 130e6], "floor.drug_alcohol": [0.003, 0.004]}
    table = allocator.sweep(s, grid, workers=1)
    assert table["point"].nunique() == 6 and (table["status"] == "ok").all()
    for point, measures in _by_point(table).items():
        row = table[table["point"] == point].iloc[0]
        values = {k: row[k] for k in grid}
        own = _metrics(allocator.solve(parameters.apply(s, values)))
        pd.testing.assert_series_equal(measures.sort_index(), own.sort_index(), check_names=False,
                                       rtol=SOLVER_RTOL)
        spend = table[(table["point"] == point) & (table["measure"] == "total_spend")]["after"].item()
        assert spend == pytest.approx(values["budget"], abs=0.01)


def test_local_workers_give_the_same_table_as_one_process():
    s = allocator.load(QUICKSTART)
    grid = {"budget": "70e6:130e6:12", "response_scale": [0.9, 1.1]}
    one = allocator.sweep(s, grid, workers=1, chunk_size=5)
    two = allocator.sweep(s, grid, workers=2, chunk_size=5)
    _same_results(one, two)  # chunks are fixed by the plan, so exactly the same numbers


def test_a_point_that_changes_the_objective_and_one_that_does_not_share_a_sweep():
    s = allocator.load(QUICKSTART)
    table = allocator.sweep(s, {"budget": [90e6, 110e6]}, options=True, workers=1)
    assert set(table["option"]) == {o.name for o in s.options}  # 'Health gain' is the base: solved once
    fair = table[(table["option"] == "Fair share") & (table["measure"] == "objective")]
    s_fair = allocator.scenario.options.apply(s, next(o for o in s.options if o.name == "Fair share"))
    expected = [allocator.solve(s_fair.with_(budget_gbp=b)).solution.objective for b in (90e6, 110e6)]
    np.testing.assert_allclose(fair["after"].to_numpy(), expected, rtol=SOLVER_RTOL)


# ------------------------------------------------------------------ failures are recorded


def test_an_infeasible_point_is_recorded_and_the_sweep_goes_on():
    s = allocator.load(QUICKSTART)
    table = allocator.sweep(s, {"budget": [20e6, 100e6], "worst_off_at_least": [0.0, 500.0]}, workers=1)
    points = table.drop_duplicates("point").set_index("point")
    assert list(points["status"]) == ["infeasible", "infeasible", "ok", "infeasible"]
    assert "floors" in points.loc[0, "reason"] and "£" in points.loc[0, "reason"]
    assert points.loc[3, "reason"]  # the LP said no: the reason says why
    assert points.loc[2, "reason"] == ""
    failed = table[table["status"] != "ok"]
    assert (failed["measure"] == "").all() and failed["after"].isna().all()
    assert len(failed) == 3  # one row per failed point


def test_an_unexpected_error_in_one_point_is_recorded_not_raised(monkeypatch):
    import allocator.analysis.pipeline

    real = allocator.analysis.pipeline.run

    def flaky(scenario, **kw):
        if scenario.budget_gbp == 110e6:
            raise ZeroDivisionError("boom")
        return real(scenario, **kw)

    monkeypatch.setattr(allocator.analysis.pipeline, "run", flaky)
    table = allocator.sweep(allocator.load(QUICKSTART), {"budget": [100e6, 110e6, 120e6]}, workers=1)
    status = table.drop_duplicates("point").set_index("point")
    assert list(status["status"]) == ["ok", "error", "ok"]
    assert "ZeroDivisionError: boom" in status.loc[1, "reason"]


def test_invalid_values_become_invalid_points_and_bad_names_are_refused():
    s = allocator.load(QUICKSTART)
    table = allocator.sweep(s, {"cap.drug_alcohol": [0.0, 0.03]}, workers=1)
    first = table.drop_duplicates("point").iloc[0]
    assert first["status"] == "invalid" and "below its floor" in first["reason"]
    with pytest.raises(ScenarioError, match="unknown service 'nope'"):
        allocator.sweep(s, {"floor.nope": [1.0]}, workers=1)
    with pytest.raises(ScenarioError, match="unknown parameter"):
        allocator.sweep(s, {"budgett": [1.0]}, workers=1)


# ------------------------------------------------------------------ Monte Carlo


def test_the_same_seed_gives_the_same_monte_carlo_table_and_another_seed_does_not():
    s = allocator.load(QUICKSTART)
    a = allocator.sweep(s, samples=8, seed=11, options=["base", "Fair share"], workers=1)
    b = allocator.sweep(s, samples=8, seed=11, options=["base", "Fair share"], workers=2, chunk_size=3)
    c = allocator.sweep(s, samples=8, seed=12, options=["base", "Fair share"], workers=1)
    drawn = a.attrs["drawn"]
    assert drawn and all(name.startswith("response.") for name in drawn)
    pd.testing.assert_frame_equal(a[drawn], b[drawn])
    _same_results(a, b, rtol=SOLVER_RTOL)  # different chunks: the same optimum to tolerance
    assert not np.allclose(a[drawn[0]].unique(), c[drawn[0]].unique())
    # both options see the same draws: the comparison is paired
    per_option = a.drop_duplicates("point").groupby("option")[drawn[0]].apply(list)
    assert per_option["base"] == per_option["Fair share"]


def test_curves_of_one_draw_group_move_together_and_stay_in_their_range():
    s = allocator.load(QUICKSTART)
    plan = sw.make_plan(s, samples=200, seed=3)
    values = pd.DataFrame([p["values"] for p in plan.points])
    assert (values.nunique(axis=1) == 1).all()  # york-le-* share draw_group york-le-effect-size
    dist = s.response_models[0].uncertainty[0][1]
    low, high = dist.get("low"), dist.get("high")
    assert values.min().min() >= low and values.max().max() <= high
    assert values.iloc[:, 0].median() == pytest.approx(dist.quantiles(0.5), abs=0.02)


def test_probabilities_are_paired_over_draws():
    table = pd.DataFrame({
        "point": range(6), "option": ["A"] * 3 + ["B"] * 3, "draw": pd.array([0, 1, 2] * 2, "Int64"),
        "status": "ok", "reason": "", "measure": "sii_outcome", "units": "years",
        "before": 2.0, "after": [1.0, 3.0, 2.0, 2.0, 2.0, 2.0], "change": 0.0, "seconds": 0.0})
    table.attrs["grid"] = []
    p = sw.probabilities(table).set_index(["option_a", "option_b"])
    assert p.loc[("A", "B"), "p_a_lower"] == pytest.approx(1 / 3)
    assert p.loc[("A", "B"), "p_a_higher"] == pytest.approx(1 / 3)
    assert p.loc[("A", "B"), "p_tied"] == pytest.approx(1 / 3)
    assert p.loc[("B", "A"), "draws"] == 3


def test_monte_carlo_summary_reports_mean_and_interval():
    s = allocator.load(QUICKSTART)
    table = allocator.sweep(s, samples=12, seed=2, workers=1)
    summ = sw.summary(table).set_index("measure")
    gain = table[table["measure"] == "total_gain"]["after"]
    assert summ.loc["total_gain", "n"] == 12
    assert summ.loc["total_gain", "mean"] == pytest.approx(gain.mean())
    assert summ.loc["total_gain", "p05"] == pytest.approx(gain.quantile(0.05))
    assert summ.loc["total_gain", "p05"] < summ.loc["total_gain", "mean"] < summ.loc["total_gain", "p95"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_dask_gives_the_same_monte_carlo_table_as_local_processes(tmp_path):
    distributed = pytest.importorskip("distributed")
    s = allocator.load(QUICKSTART)
    args = dict(samples=6, seed=5, options=["base", "Fair share"], vary={"budget": [90e6, 120e6]},
                chunk_size=4, plots=False)
    local = allocator.sweep(s, workers=2, out=tmp_path / "local", **args)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = allocator.sweep(s, scheduler=client, out=tmp_path / "dask", **args)
        by_address = allocator.sweep(s, scheduler=cluster.scheduler_address, **args)  # tcp://...
    _same_results(local, remote)  # identical: same plan, same chunks, same draws
    _same_results(local, by_address)
    runs = read(tmp_path / "dask")[1]
    assert len(runs) == local["point"].nunique()


# ------------------------------------------------------------------ one at a time, files


def test_one_at_a_time_varies_each_parameter_alone_and_draws_a_tornado(tmp_path):
    s = allocator.load(QUICKSTART)
    grid = {"budget": [90e6, 110e6], "response_scale": [0.8, 1.2]}
    table = allocator.sweep(s, grid, design="one-at-a-time", workers=1, out=tmp_path / "oat")
    points = table.drop_duplicates("point")
    assert len(points) == 5  # the base point, then two values of each parameter
    off_base = (points["budget"] != s.budget_gbp).astype(int) + (points["response_scale"] != 1.0)
    assert list(off_base) == [0, 1, 1, 1, 1]
    assert (tmp_path / "oat" / "plots" / "tornado.png").is_file()
    assert (tmp_path / "oat" / "plots" / "budget.png").is_file()


def test_outputs_are_tidy_csv_and_parquet_with_neutralised_names(tmp_path):
    scenario = tmp_path / "q"
    import shutil

    shutil.copytree(QUICKSTART, scenario)
    toml = scenario / "scenario.toml"
    edit(toml, 'name = "Fair share"', 'name = "=HYPERLINK(\\"http://x\\")"')
    edit(toml, 'models = "../../models"', f'models = "{ROOT / "models"}"')
    s = allocator.load(scenario)
    out = tmp_path / "out"
    table = allocator.sweep(s, {"budget": [100e6, 110e6]}, options=True, workers=1, out=out)
    csv = pd.read_csv(out / "sweep.csv")
    parquet = pd.read_parquet(out / "sweep.parquet")
    assert len(csv) == len(parquet) == len(table)
    assert list(parquet.columns[:4]) == ["point", "option", "draw", "budget"]
    assert "'=HYPERLINK(\"http://x\")" in set(csv["option"])  # a spreadsheet will not run it
    assert '=HYPERLINK("http://x")' in set(parquet["option"])  # the data itself keeps the name
    info = json.loads((out / "sweep.json").read_text())
    assert info["points"] == 6 and info["status"] == {"ok": 6}  # "base" is "Health gain": solved once
    summary = pd.read_csv(out / "summary.csv")
    assert {"mean", "p05", "p95", "n"} <= set(summary.columns)
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def test_a_sweep_file_sets_grid_draws_and_options(tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text('[sweep]\nsamples = 3\nseed = 9\noptions = ["base", "Fair share"]\n\n'
                    '[vary]\nbudget = { from = 90e6, to = 110e6, points = 3 }\n\n'
                    '[[uncertain]]\nparameter = "unit_cost.drug_alcohol"\n'
                    'distribution = "normal"\nmean = 2500\nsd = 200\nlow = 1500\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sweep", str(QUICKSTART), "--sweep-file", str(spec), "--out", str(out),
                                       "--workers", "1", "--no-plots", "-q"])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out / "sweep.parquet")
    assert table["point"].nunique() == 2 * 3 * 3
    assert table["unit_cost.drug_alcohol"].min() >= 1500
    assert (out / "probabilities.csv").is_file()


# ------------------------------------------------------------------ nothing lost


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    except sqlite3.Error:
        return 0


BUDGETS = 200  # x 2 response scales


def _ctrl_c_heard() -> None:
    """In the child before it starts: Ctrl-C at its default, as in a terminal (a shell that runs the
    tests in the background has the children ignore it, and Python then never raises
    KeyboardInterrupt: the sweep ran to its end in such a CI run)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sweep_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "allocator.cli", "sweep", str(QUICKSTART), "--vary", f"budget=60e6:140e6:{BUDGETS}",
            "--vary", "response_scale=0.9,1.1", "--out", str(out), "--workers", "2", "--chunk-size", "10",
            "--no-plots", "-q", *extra]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_a_killed_sweep_resumes_without_losing_or_repeating_a_point(tmp_path, sig):
    whole, cut, temp = tmp_path / "whole", tmp_path / "cut", tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(temp)}
    subprocess.run(_sweep_cmd(whole), check=True, env=env, capture_output=True, timeout=600)
    child = subprocess.Popen(_sweep_cmd(cut), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, preexec_fn=_ctrl_c_heard)
    deadline = time.time() + 300
    while _count(cut / "sweep.sqlite") < 60 and time.time() < deadline and child.poll() is None:
        time.sleep(0.05)
    assert child.poll() is None, "the sweep finished before the test could interrupt it"
    if sig == signal.SIGINT:
        os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    else:
        child.send_signal(signal.SIGKILL)  # the parent only: its workers are orphaned
    _, err = child.communicate(timeout=60)
    saved = _count(cut / "sweep.sqlite")
    assert 60 <= saved < 2 * BUDGETS
    if sig == signal.SIGINT:
        assert child.returncode == 130 and b"--resume" in err, err
    else:
        assert child.returncode == -signal.SIGKILL
    again = subprocess.run(_sweep_cmd(cut), env=env, capture_output=True, timeout=60)
    assert again.returncode == 2 and b"--resume" in again.stderr  # never silently overwritten
    subprocess.run(_sweep_cmd(cut, "--resume"), check=True, env=env, capture_output=True, timeout=600)
    plan, points = read(cut)
    assert len(points) == 2 * BUDGETS and sorted(p["point"] for p in points) == list(range(2 * BUDGETS))
    runs = {}
    for p in points:
        runs[p["run"]] = runs.get(p["run"], 0) + 1
    assert runs[1] == saved and sum(runs.values()) == 2 * BUDGETS  # the resume ran only the missing points
    assert list(temp.iterdir()) == []  # no worker context file left behind, even after kill -9
    assert not (cut / "sweep.lock").exists() and not (whole / "sweep.lock").exists()
    with sqlite3.connect(cut / "sweep.sqlite") as con:
        per_run = dict(con.execute("SELECT run, points FROM runs"))
    assert per_run[max(per_run)] == 2 * BUDGETS - saved
    # the final table equals the uninterrupted run's (to the solver's tolerance: a resumed
    # chunk starts cold where the uninterrupted one was warm)
    _same_results(pd.read_parquet(whole / "sweep.parquet"), pd.read_parquet(cut / "sweep.parquet"),
                  rtol=SOLVER_RTOL)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_a_killed_worker_is_replaced_and_its_points_rerun(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(_sweep_cmd(out), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    deadline = time.time() + 300
    while _count(out / "sweep.sqlite") < 40 and time.time() < deadline and child.poll() is None:
        time.sleep(0.05)
    workers = [c for c in _children(child.pid)
               if b"multiprocessing" in Path(f"/proc/{c}/cmdline").read_bytes()
               and b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]
    assert workers and child.poll() is None
    os.kill(workers[0], signal.SIGKILL)
    _, err = child.communicate(timeout=600)
    assert child.returncode == 0, err
    plan, points = read(out)
    assert sorted(p["point"] for p in points) == list(range(2 * BUDGETS))
    assert all(p["status"] == "ok" for p in points)


def test_resuming_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "out"
    args = ["sweep", str(QUICKSTART), "--vary", "budget=90e6,100e6", "--out", str(out), "--workers", "1",
            "--no-plots", "-q"]
    assert CliRunner().invoke(main, args).exit_code == 0
    result = CliRunner().invoke(main, [*args[:3], "budget=90e6,101e6", *args[4:], "--resume"])
    assert result.exit_code == 2 and "differs in: grid, points" in result.output


# ------------------------------------------------------------------ the command line


@pytest.mark.parametrize("args, message", [
    (["--vary", "budget"], "expected NAME=VALUES"),
    (["--vary", "budget=1:2"], "start:stop:count"),
    (["--vary", "budget=1:2:x"], "expected a number"),
    (["--vary", "floor.nope=1"], "unknown service 'nope'"),
    (["--samples", "3", "--vary", "response_scale=1,2"], ""),
    ([], "nothing to sweep"),
    (["--vary", "budget=1,2", "--option", "Nope"], "unknown option 'Nope'"),
])
def test_bad_sweep_settings_exit_2_with_a_message_and_no_traceback(tmp_path, args, message):
    result = CliRunner().invoke(main, ["sweep", str(QUICKSTART), "--out", str(tmp_path / "o"), "--workers", "1",
                                       "-q", "--no-plots", *args])
    if not message:  # a valid sweep: response_scale on the grid and the curves' own draws
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_grid_parameter_cannot_also_be_drawn():
    s = allocator.load(QUICKSTART)
    name = f"response.{s.response_models[0].name}.scale"
    with pytest.raises(ScenarioError, match="both varied on a grid and drawn"):
        sw.make_plan(s, {name: [1.0]}, samples=2)


@pytest.mark.parametrize("block, message", [
    ('parameter = "unit_cost.visits"\ndistribution = "normal"\nmean = 100\nsd = 10\n', None),
    ('parameter = "unit_cost.nope"\ndistribution = "normal"\nmean = 100\nsd = 10\n', "unknown service 'nope'"),
    ('parameter = "budget"\ndistribution = "gamma"\nshape = 2\n', "expected one of normal"),
    ('parameter = "budget"\ndistribution = "uniform"\nlow = 5\nhigh = 1\n', "must be below 'high'"),
    ('parameter = "budget"\ndistribution = "normal"\nmean = 1\n', "needs 'sd'"),
    ('distribution = "normal"\nmean = 1\nsd = 1\n', "'parameter': expected the name"),
])
def test_uncertain_blocks_are_validated_with_the_scenario(tiny, block, message):
    sid = (tiny / "services.csv").read_text().splitlines()[1].split(",")[0]
    with (tiny / "scenario.toml").open("a") as handle:
        handle.write("\n[[uncertain]]\n" + block.replace("visits", sid))
    result = CliRunner().invoke(main, ["validate", str(tiny)])
    if message is None:
        assert result.exit_code == 0, result.output
        assert f"unit_cost.{sid}: normal(mean=100, sd=10)" in result.output
    else:
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


# ------------------------------------------------------------------ found in review


def test_ties_within_solver_tolerance_are_ties_and_gradients_compare_by_size():
    table = pd.DataFrame({
        "point": range(8), "option": ["A"] * 4 + ["B"] * 4, "draw": pd.array([0, 1, 2, 3] * 2, "Int64"),
        "status": "ok", "reason": "", "measure": "sii_outcome", "units": "years", "before": -3.0,
        "after": [-2.0, -3.0, 1.0, -2.0 * (1 + 1e-9), -3.0, -2.0, -1.0, -2.0],
        "change": 0.0, "seconds": 0.0})
    table.attrs["grid"] = []
    p = sw.probabilities(table).set_index(["option_a", "option_b"]).loc[("A", "B")]
    assert p["p_tied"] == pytest.approx(1 / 4)  # -2(1+1e-9) vs -2: the solver's noise, a tie
    assert p["p_a_lower"] == pytest.approx(1 / 4) and p["p_a_higher"] == pytest.approx(2 / 4)
    assert p["p_a_closer_to_zero"] == pytest.approx(1 / 4)  # |-2| < |-3|
    assert p["p_a_further_from_zero"] == pytest.approx(1 / 4)  # |-3| > |-2|; |1| = |-1| is neither


def test_summary_and_probabilities_work_on_a_table_read_back_from_csv(tmp_path):
    s = allocator.load(QUICKSTART)
    out = tmp_path / "out"
    table = allocator.sweep(s, {"budget": [90e6, 120e6]}, samples=5, options=["base", "Fair share"],
                            workers=1, out=out, plots=False)
    back = pd.read_csv(out / "sweep.csv")
    assert sw.grid_columns(back) == ["budget"]
    pd.testing.assert_frame_equal(sw.summary(back), sw.summary(table), check_dtype=False, rtol=1e-6)  # CSV: 10 digits
    pd.testing.assert_frame_equal(sw.probabilities(back), sw.probabilities(table), check_dtype=False)


def test_a_grid_value_where_every_point_fails_stays_in_the_summary():
    s = allocator.load(QUICKSTART)
    table = allocator.sweep(s, {"floor_scale": [1.0, 3.0]}, workers=1)
    summ = sw.summary(table)
    failed = summ[summ["floor_scale"] == 3.0]
    assert len(failed) == 1 and failed["failed"].item() == 1 and failed["n"].item() == 0
    assert failed["measure"].item() == ""


def test_values_no_point_could_use_are_refused_before_solving():
    s = allocator.load(QUICKSTART)
    for vary, message in [({"budget": [-1.0, 100e6]}, "expected a number > 0"),
                          ({"tolerance": [1.5]}, "fraction in [0, 1)"),
                          ({"budget": "1:2:5000000"}, "whole number from 1"),
                          ({"floor_scale": [1.0] * 2000, "cost_scale": [1.0] * 2000}, "more than 2,000,000")]:
        with pytest.raises(sw.SweepError) as caught:
            sw.make_plan(s, vary)
        assert message in str(caught.value)
    with pytest.raises(sw.SweepError, match="seed"):
        sw.make_plan(s, samples=2, seed=-1)


def test_an_option_called_base_is_refused_not_silently_replaced(tiny):
    edit(tiny / "scenario.toml", "[tables]", '[[option]]\nname = "base"\nobjective = "fair-share"\n\n[tables]')
    s = allocator.load(tiny)
    with pytest.raises(sw.SweepError, match="named 'base'"):
        sw.make_plan(s, {"budget": [1e5]}, options=True)


def test_resume_refuses_other_solver_settings_or_a_scenario_changed_in_memory(tmp_path):
    s = allocator.load(QUICKSTART)
    out = tmp_path / "out"
    allocator.sweep(s, {"budget": [90e6, 100e6]}, workers=1, out=out, plots=False)
    from allocator.analysis.store import StoreError

    with pytest.raises(StoreError, match="solver settings"):
        allocator.sweep(s, {"budget": [90e6, 100e6]}, workers=1, out=out, resume=True, method="simplex")
    with pytest.raises(StoreError, match="the scenario"):
        allocator.sweep(s.with_(objective="fair-share"), {"budget": [90e6, 100e6]}, workers=1, out=out,
                        resume=True)
    again = allocator.sweep(s, {"budget": [90e6, 100e6]}, workers=1, out=out, resume=True, plots=False)
    assert again["point"].nunique() == 2


def test_two_sweeps_cannot_write_to_one_folder_at_once(tmp_path):
    from allocator.analysis.store import Store, StoreError

    s = allocator.load(QUICKSTART)
    plan = sw.make_plan(s, {"budget": [90e6]})
    first = Store.open(tmp_path, plan.to_json(), resume=False, executor="test")
    try:
        with pytest.raises(StoreError, match="another sweep is writing"):
            allocator.sweep(s, {"budget": [90e6]}, workers=1, out=tmp_path, resume=True)
    finally:
        first.close()


def test_without_model_uncertainty_only_declared_inputs_are_drawn():
    s = allocator.load(QUICKSTART)
    plan = sw.make_plan(s, samples=3, model_uncertainty=False,
                        uncertain={"cost_scale": {"distribution": "uniform", "low": 0.9, "high": 1.1}})
    assert plan.parameters == ["cost_scale"]
    with pytest.raises(sw.SweepError, match="needs uncertain inputs"):
        sw.make_plan(s, samples=3, model_uncertainty=False)


@pytest.mark.parametrize("args, code, message", [
    (["--seed", "-1", "--samples", "2"], 2, "-1"),
    (["--time-limit", "0", "--vary", "budget=1e8"], 2, "0"),
    (["--vary", "budget=1e8", "--vary", "budget=2e8"], 2, "given twice"),
    (["--vary", "budget=1"], 1, "every point failed"),
])
def test_more_bad_settings_give_clear_exits(tmp_path, args, code, message):
    result = CliRunner().invoke(main, ["sweep", str(QUICKSTART), "--out", str(tmp_path / "o"), "--workers", "1",
                                       "-q", "--no-plots", *args])
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output


def test_an_out_that_is_a_file_or_an_input_is_refused_before_solving(tmp_path):
    afile = tmp_path / "f"
    afile.write_text("x")
    result = CliRunner().invoke(main, ["sweep", str(QUICKSTART), "--vary", "budget=1e8", "--out", str(afile), "-q"])
    assert result.exit_code == 2 and "is a file" in result.output
    spec = tmp_path / "sweep.toml"
    for text, message in [("[sweep]\nsamples = true\n", "'samples': expected a whole number"),
                          ("[sweep]\nseed = 'x'\n", "'seed'"), ("sweep = 3\n", "must be a table"),
                          ("[sweep]\nchunk_size = 0\n", "'chunk_size'"),
                          ("[vary]\nbudget = true\n", "expected a list")]:
        spec.write_text(text)
        result = CliRunner().invoke(main, ["sweep", str(QUICKSTART), "--sweep-file", str(spec), "--out",
                                           str(tmp_path / "o2"), "-q"])
        assert result.exit_code == 2 and message in result.output and str(spec) in result.output, result.output
        assert "in the sweep's settings" in result.output


def test_a_point_that_kills_its_worker_is_named_and_the_rest_is_saved(tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(f'''
import os
import allocator
import allocator.analysis.workers as w

real = w.run_point


def deadly(context, point, resolver=None):
    if point["point"] == 8:
        os._exit(139)  # as a segfault or the out-of-memory killer would
    return real(context, point, resolver)


w.run_point = deadly  # module level: the spawned workers import this script too

if __name__ == "__main__":
    try:
        allocator.sweep({str(QUICKSTART)!r}, {{"budget": "90e6:110e6:24"}}, workers=2, chunk_size=4,
                        out={str(tmp_path / "out")!r}, plots=False)
    except allocator.AllocatorError as exc:
        print("ERROR", exc)
''')
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "ERROR local workers died" in done.stdout, done.stdout + done.stderr
    assert "point 8" in done.stdout and "__main__" not in done.stdout
    _, points = read(tmp_path / "out")
    saved = {p["point"] for p in points}
    assert 8 not in saved and {0, 1, 2, 3, 4, 5, 6, 7} <= saved


def test_plan_size_is_counted_without_overflow_and_by_design():
    s = allocator.load(QUICKSTART)
    huge = {name: "0.5:1.5:65536" for name in ("floor_scale", "cost_scale", "response_scale", "epsilon")}
    with pytest.raises(sw.SweepError, match="more than 2,000,000"):
        sw.make_plan(s, huge)  # 65536^4 = 2^64: an int64 product would wrap to 0
    oat = {name: "0.5:1.5:200" for name in ("floor_scale", "cost_scale", "response_scale")}
    assert len(sw.make_plan(s, oat, design="one-at-a-time").points) <= 601
    with pytest.raises(sw.SweepError, match="no options"):
        sw.make_plan(s, {"budget": [1e8]}, options=[])


def test_the_same_scenario_named_another_way_resumes(tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.chdir(ROOT)
    allocator.sweep("scenarios/quickstart", {"budget": [90e6, 100e6]}, workers=1, out=out, plots=False)
    monkeypatch.chdir(tmp_path)
    again = allocator.sweep(str(QUICKSTART) + "/", {"budget": [90e6, 100e6]}, workers=1, out=out,
                            resume=True, plots=False)
    assert again["point"].nunique() == 2


def test_outputs_in_the_way_are_refused_before_solving_and_sweep_json_is_strict(tmp_path):
    (tmp_path / "afile").write_text("x")
    s = allocator.load(QUICKSTART)
    from allocator.analysis.store import StoreError

    with pytest.raises(StoreError, match="is a file"):
        allocator.sweep(s, {"budget": [1e8]}, workers=1, out=tmp_path / "afile" / "sub")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "plots").write_text("x")
    with pytest.raises(StoreError, match="in the way"):
        allocator.sweep(s, {"budget": [1e8]}, workers=1, out=tmp_path / "o")
    out = tmp_path / "caps"
    allocator.sweep(s, {"cap.drug_alcohol": "0.01,none"}, workers=1, out=out, plots=False)
    info = json.loads((out / "sweep.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert info["plan"]["grid"]["cap.drug_alcohol"] == [0.01, "inf"]


def test_an_option_and_the_same_parameters_give_the_same_scenario():
    from allocator.scenario.options import OptionSpec, apply as apply_option

    s = allocator.load(QUICKSTART)
    sid = s.service_ids[0]
    spec = OptionSpec(name="x", overrides={"budget_gbp": 110e6, "floor_scale": 1.1,
                                           "floors": {sid: 0.7}, "caps": {sid: np.inf}, "tolerance": 0.1})
    via_option = apply_option(s, spec)
    via_parameters = parameters.apply(s, {"budget": 110e6, "floor_scale": 1.1, f"floor.{sid}": 0.7,
                                          f"cap.{sid}": np.inf, "tolerance": 0.1})
    for field in ("budget_gbp", "floor", "cap", "tolerance", "unit_cost", "min_slope"):
        np.testing.assert_array_equal(getattr(via_option, field), getattr(via_parameters, field), err_msg=field)
    assert via_parameters.floor[0] == 0.7  # a service's own floor is not scaled again
    np.testing.assert_allclose(via_parameters.floor[1:], s.floor[1:] * 1.1)


# ------------------------------------------------------------------ paired comparisons, per-service draws, base


def _uncertain(tiny: Path, group: str = 'draw_group = "tiny-effect-size"') -> Path:
    """The tiny scenario with a triangular effect size on both response curves (one draw group)."""
    for model in (tiny / "models" / "response").glob("*.toml"):
        model.write_text(model.read_text() + '\n[uncertainty]\nscale = { distribution = "triangular", '
                         f'low = 0.8, mode = 1.0, high = 1.1, {group} }}\n')
    return tiny


def _hand_table() -> pd.DataFrame:
    """Two options, four draws, three measures, numbers small enough to check by hand."""
    after = {("A", "sii_outcome"): [-1.0, -3.0, -2.0, 2.0], ("B", "sii_outcome"): [-2.0, -2.0, -2.0, -1.0],
             ("A", "total_gain"): [10.0, 12.0, 8.0, 9.0], ("B", "total_gain"): [11.0, 12.0, 7.0, 9.5],
             ("A", "mean_outcome"): [5.0, 5.0, 5.0, 5.0], ("B", "mean_outcome"): [6.0, 4.0, 6.0, 6.0]}
    rows = [{"point": 4 * (option == "B") + draw, "option": option, "draw": draw, "status": "ok", "reason": "",
             "measure": measure, "units": "years", "before": 0.0, "after": values[draw]}
            for (option, measure), values in after.items() for draw in range(4)]
    table = pd.DataFrame(rows).astype({"draw": "Int64"})
    table.attrs["grid"] = []
    return table


def test_paired_differences_match_a_table_checked_by_hand():
    d = sw.paired_differences(_hand_table(), higher_is_better=False).set_index("measure")
    assert (d["option_a"] == "A").all() and (d["option_b"] == "B").all() and (d["draws"] == 4).all()
    sii = d.loc["sii_outcome"]  # A - B = 1, -1, 0, 3; closer to zero: A, B, tied, B
    assert sii["mean_difference"] == pytest.approx(0.75)
    assert sii["p05"] == pytest.approx(-0.85) and sii["p50"] == pytest.approx(0.5) and sii["p95"] == pytest.approx(2.7)
    assert (sii["p_a_better"], sii["p_b_better"], sii["p_tied"]) == (0.25, 0.5, 0.25)
    gain = d.loc["total_gain"]  # A - B = -1, 0, 1, -0.5; higher is better: B, tied, A, B
    assert gain["mean_difference"] == pytest.approx(-0.125)
    assert (gain["p_a_better"], gain["p_b_better"], gain["p_tied"]) == (0.25, 0.5, 0.25)
    assert d.loc["mean_outcome", "p_a_better"] == 0.75  # lower is better here: 5 < 6 three times
    unknown = sw.paired_differences(_hand_table()).set_index("measure").loc["mean_outcome"]
    assert unknown["mean_difference"] == pytest.approx(-0.5) and np.isnan(unknown["p_a_better"])
    best = sw.best_shares(_hand_table(), higher_is_better=True).set_index(["measure", "option"])["p_best"]
    assert best["sii_outcome", "A"] == 0.5 and best["sii_outcome", "B"] == 0.75  # draw 2 tied: best for both
    assert best["mean_outcome", "A"] == 0.25 and best["total_gain", "B"] == 0.75


def test_paired_differences_pair_draws_within_each_grid_value_and_skip_failed_points():
    one, two = _hand_table().assign(budget=1.0), _hand_table().assign(budget=2.0, point=lambda t: t["point"] + 8)
    two.loc[(two["option"] == "B") & (two["draw"] == 3), ["status", "after"]] = ["infeasible", np.nan]
    table = pd.concat([one, two], ignore_index=True)
    table.attrs["grid"] = ["budget"]
    d = sw.paired_differences(table, measures=["sii_outcome"]).set_index("budget")
    assert d.loc[1.0, "draws"] == 4 and d.loc[1.0, "mean_difference"] == pytest.approx(0.75)
    assert d.loc[2.0, "draws"] == 3 and d.loc[2.0, "mean_difference"] == pytest.approx(0.0)  # 1, -1, 0
    pooled = sw.paired_differences(table, measures=["sii_outcome"], by=[])
    assert pooled["draws"].tolist() == [7]


def test_per_service_effect_sizes_are_drawn_independently_and_reproducibly(tiny):
    s = allocator.load(_uncertain(tiny))
    names = ["response.checks-curve.scale", "response.visits-curve.scale"]

    def drawn(**kw) -> pd.DataFrame:
        return pd.DataFrame([p["values"] for p in sw.make_plan(s, samples=200, **kw).points])[names]

    common = drawn(seed=5)
    assert (common.nunique(axis=1) == 1).all()  # one draw group: the same factor for both services
    apart = drawn(seed=5, model_uncertainty=sw.PER_SERVICE)
    assert (apart[names[0]] != apart[names[1]]).all()
    assert abs(np.corrcoef(apart[names[0]], apart[names[1]])[0, 1]) < 0.2  # independent streams
    assert apart.min().min() >= 0.8 and apart.max().max() <= 1.1
    pd.testing.assert_frame_equal(apart, drawn(seed=5, model_uncertainty=sw.PER_SERVICE))  # the seed reproduces
    assert not np.allclose(apart, drawn(seed=6, model_uncertainty=sw.PER_SERVICE))
    dist = s.response_models[0].uncertainty[0][1]
    own = allocator.scenario.uncertainty.draw(allocator.scenario.uncertainty.independent(
        {names[1]: dist}), 200, 5)[names[1]]
    np.testing.assert_array_equal(apart[names[1]], own)  # its own stream, whatever else is drawn
    plan = sw.make_plan(s, samples=2, seed=5, model_uncertainty=sw.PER_SERVICE)
    assert "draw_group" not in json.dumps(plan.to_json())
    with pytest.raises(sw.SweepError, match="model_uncertainty"):
        sw.make_plan(s, samples=2, model_uncertainty="sometimes")


def test_a_sweep_file_asks_for_per_service_effect_sizes_and_the_summary_says_what_moves_together(tiny, tmp_path):
    scenario = _uncertain(tiny)
    spec = tmp_path / "sweep.toml"
    runs = {}
    for setting in ("true", '"per-service"'):
        spec.write_text(f'[sweep]\nsamples = 4\nseed = 9\nmodel_uncertainty = {setting}\n')
        out = tmp_path / f"out-{len(runs)}"
        result = CliRunner().invoke(main, ["sweep", str(scenario), "--sweep-file", str(spec), "--out", str(out),
                                           "--workers", "1", "--no-plots"])
        assert result.exit_code == 0, result.output
        runs[setting] = (pd.read_parquet(out / "sweep.parquet").drop_duplicates("point"), result.output)
    common, per_service = runs["true"], runs['"per-service"']
    names = ["response.checks-curve.scale", "response.visits-curve.scale"]
    assert (common[0][names].nunique(axis=1) == 1).all() and (per_service[0][names].nunique(axis=1) == 2).all()
    assert "Every uncertain input moves together: in each draw one common factor" in common[1]
    assert 'model_uncertainty = "per-service"' in common[1]
    assert "moves together" not in per_service[1] and "drawn each on its own (per service)" in per_service[1]
    spec.write_text('[sweep]\nsamples = 4\nmodel_uncertainty = "sometimes"\n')
    result = CliRunner().invoke(main, ["sweep", str(scenario), "--sweep-file", str(spec), "--out",
                                       str(tmp_path / "bad"), "--workers", "1", "-q"])
    assert result.exit_code == 2 and 'expected true, false or "per-service"' in result.output


def test_common_factor_says_when_every_drawn_input_moves_together():
    table = pd.DataFrame({"point": range(3), "option": "base", "draw": pd.array([0, 1, 2], "Int64"),
                          "response.a.scale": [0.9, 1.0, 1.1], "response.b.scale": [0.9, 1.0, 1.1],
                          "status": "ok", "measure": "sii_outcome", "after": 1.0})
    table.attrs.update(grid=[], drawn=["response.a.scale", "response.b.scale"])
    assert sw.common_factor(table, ["a", "b"]) == "scale"  # every curve times one factor
    assert sw.common_factor(table, ["a", "b", "c"]) == "together"  # curve c stays put: rankings can move
    table["response.b.scale"] = [1.0, 1.05, 1.2]
    assert sw.common_factor(table, ["a", "b"]) == "together"  # other values, the same order
    table["response.b.scale"] = [1.2, 1.0, 1.05]
    assert sw.common_factor(table, ["a", "b"]) == ""


def test_base_is_not_solved_again_when_an_option_has_its_settings(tiny):
    edit(tiny / "scenario.toml", "[tables]", '[[option]]\nname = "Fair share"\nobjective = "fair-share"\n\n'
                                             '[[option]]\nname = "Same"\nobjective = "health-gain"\n\n[tables]')
    s = allocator.load(tiny)
    plan = sw.make_plan(s, {"budget": [1e5]}, options=True)
    assert plan.options == ("Fair share", "Same") and plan.same_as_base == "Same"
    assert plan.to_json()["same_as_base"] == "Same"
    kept = sw.make_plan(s, {"budget": [1e5]}, options=["base", "Fair share"])
    assert kept.options == ("base", "Fair share") and kept.same_as_base == ""
    assert "same_as_base" not in kept.to_json()  # a plan saved before keeps its JSON, so --resume works
