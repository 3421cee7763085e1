"""Monitoring finds what an outturn did: the deviations planted in it, and nothing else.

A hand-built scenario of 20 areas in need order (area k has the k-th lowest need and
deprivation; quintile 1 = areas 16-19) and a hand-built plan whose units per head rise by 3%
from each area to the next; the actual spend is made from it with known deviations, and the
monitor must find exactly those. Rule breaches are also checked against brute force.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import allocator
from allocator.analysis import monitor_rules
from allocator.analysis.monitor import monitor, planned_from_spend
from allocator.measures import inequality as ineq
from allocator.scenario import outturn
from allocator.scenario.monitor_settings import MonitorSettings

N = 20
SERVICES = ("visits", "checks", "talks")
UNIT_COST = (20.0, 10.0, 10.0)  # with equal intensities: shares 50%, 25%, 25%
STEP = 1.03  # planned units per head rise 3% from each area to the next needier one
CURVE = '''outcome_units = "years"

[curve]
units_per_head = [0.0, 2.0, 4.0]
gain_per_head = [0.0, 0.02, 0.03]
'''


def write_scenario(folder, pace: bool = True):
    """The hand-built scenario; returns (folder, planned spend (A, S))."""
    (folder / "models" / "need").mkdir(parents=True)
    (folder / "models" / "response").mkdir(parents=True)
    (folder / "models" / "need" / "rate.toml").write_text(
        'name = "rate"\ntitle = "t"\ndescription = "d"\nsource = "s"\nassumptions = ["none"]\n\n'
        '[formula]\nconstant = 0.0\nterms = [ { column = "need_rate", weight = 1.0 } ]\n')
    (folder / "models" / "response" / "curve.toml").write_text(
        'name = "curve"\ntitle = "t"\ndescription = "d"\nsource = "s"\nassumptions = ["none"]\n' + CURVE)
    k = np.arange(N)
    pd.DataFrame({"area_id": [f"E{i:02d}" for i in k], "area_name": [f"Area {i}" for i in k], "population": 1000,
                  "imd_score": k, "need_rate": 0.01 * (k + 1), "outcome": 80.0 - 0.5 * k}).to_csv(
        folder / "areas.csv", index=False)
    pd.DataFrame({"service_id": SERVICES, "service_name": [s.title() for s in SERVICES], "unit_cost_gbp": UNIT_COST,
                  "target_population": "population", "floor_units_per_head": 0.5, "cap_units_per_head": "",
                  "need_model": "rate", "response_model": "curve", "life_course_stage": "all"}).to_csv(
        folder / "services.csv", index=False)
    intensity = STEP ** k
    spend = np.array([[c * 1000 * i for c in UNIT_COST] for i in intensity]).round(2)
    pd.DataFrame([(f"E{a:02d}", s, spend[a, j]) for a in k for j, s in enumerate(SERVICES)],
                 columns=["area_id", "service_id", "spend_gbp"]).to_csv(folder / "baseline.csv", index=False)
    (folder / "scenario.toml").write_text(f'''[scenario]
name = "Twenty areas"
models = "models"

[budget]
total_gbp = {spend.sum():.2f}

[objective]
name = "health-gain"

[proportionality]
mode = "monotone"

{"[pace_of_change]" if pace else ""}
{"max_decrease = 0.3" if pace else ""}
{"max_increase = 0.3" if pace else ""}

[gradient]
outcome = "outcome"
outcome_units = "years"
higher_is_better = true
deprivation = "imd_score"
most_deprived = "high"
quantiles = 5

[tables]
areas = "areas.csv"
services = "services.csv"
baseline = "baseline.csv"
''')
    return folder, spend


def spend_csv(path, scenario, actual: np.ndarray):
    """Actual spend as an outturn file (NaN lines left out)."""
    rows = [(scenario.area_ids[a], sid, f"{actual[a, j]:.2f}") for a in range(scenario.n_areas)
            for j, sid in enumerate(scenario.service_ids) if np.isfinite(actual[a, j])]
    pd.DataFrame(rows, columns=["area_id", "service_id", "actual_gbp"]).to_csv(path, index=False)
    return path


def brute_force_ordering(scenario, actual: np.ndarray, tol: float) -> set[tuple[str, str, str]]:
    """Every (service, needier area, less needy area) where the needier got less than (1 - tol) times as much."""
    unit = scenario.unit_spend
    found = set()
    for j, sid in enumerate(scenario.service_ids):
        for a in range(scenario.n_areas):
            for b in range(scenario.n_areas):
                if (np.isfinite(actual[a, j]) and np.isfinite(actual[b, j])
                        and scenario.need[a, j] > scenario.need[b, j]
                        and actual[a, j] / unit[a, j] < (1 - tol) * actual[b, j] / unit[b, j]):
                    found.add((sid, scenario.area_ids[a], scenario.area_ids[b]))
    return found


def breaches_as_pairs(m) -> set[tuple[str, str, str]]:
    """The pairs the monitor's ordering breaches stand for: (service, needier, counterpart) and, through
    ``pairs``, how many there are."""
    rows = m.breaches[m.breaches["rule"] == "need_ordering"]
    return {(r.service_id, r.area_id, r.counterpart_area_id) for r in rows.itertuples()}


@pytest.fixture
def twenty(tmp_path):
    folder, spend = write_scenario(tmp_path / "twenty")
    return allocator.load(folder), spend


def test_the_planted_deviations_are_found_and_nothing_else(twenty, tmp_path):
    s, plan = twenty
    rng = np.random.default_rng(3)
    actual = plan * (1 + rng.uniform(-0.005, 0.005, plan.shape))  # noise far inside every threshold
    actual[19] *= 1.15  # the neediest area overspent on every service
    actual[:, 2] *= 0.88  # talks underspent everywhere
    decile = [8, 9, 10, 11]  # quintile 3: the need ordering broken in checks
    moved = 0.25 * actual[11, 1]
    actual[11, 1] -= moved
    actual[8, 1] += moved
    m = monitor(planned_from_spend(s, plan), outturn.read([spend_csv(tmp_path / "o.csv", s, actual)], s))

    red_areas = m.by_area[m.by_area["rag"] == "red"]
    assert red_areas[["area_id", "direction"]].values.tolist() == [["E19", "over"]]
    red_services = m.by_service[m.by_service["rag"] == "red"]
    assert red_services[["service_id", "direction"]].values.tolist() == [["talks", "under"]]
    talks = actual[:, 2].round(2).sum() / plan[:, 2].sum() - 1  # about -12%, less the neediest area's overspend
    assert m.by_service.set_index("service_id").loc["talks", "variance_pct"] == pytest.approx(talks)

    held = m.rules.set_index("rule")["held"].to_dict()
    assert held == {"floors": True, "need_ordering": False, "pace_of_change": True}  # no caps: none checked
    expected = brute_force_ordering(s, actual, 0.10)
    assert expected, "the planted break must break the ordering"
    assert all(service == "checks" for service, _, _ in expected)
    ids = {s.area_ids[a] for a in decile}
    assert all(a in ids or b in ids for _, a, b in expected)  # every broken pair involves the decile
    ordering = m.breaches[m.breaches["rule"] == "need_ordering"]
    # one row per needier area: its worst counterpart, and how many less needy areas got more
    by_needier = {}
    for service, a, b in expected:
        by_needier.setdefault((service, a), set()).add(b)
    assert sorted(zip(ordering["service_id"], ordering["area_id"])) == sorted(by_needier)
    for r in ordering.itertuples():
        assert r.pairs == len(by_needier[(r.service_id, r.area_id)])
        worst = max(by_needier[(r.service_id, r.area_id)], key=lambda b: actual[s.area_ids.index(b), 1])
        assert r.counterpart_area_id == worst
    assert ("checks", "E11") in by_needier and by_needier[("checks", "E11")] >= {"E08", "E09", "E10"}


def test_planned_equals_actual_gives_zero_variance_all_green_and_the_runs_measures(tiny, tmp_path):
    s = allocator.load(tiny)
    result = allocator.solve(s)
    spend = result.allocation.spend
    m = monitor(result, outturn.read([spend_csv(tmp_path / "o.csv", s, spend)], s))
    for table in (m.totals, m.by_area, m.by_service, m.by_group):
        assert (table["variance_gbp"] == 0).all() and (table["variance_pct"] == 0).all()
        assert (table["rag"] == "green").all() and (table["direction"] == "on plan").all()
    assert (m.lines["variance_gbp"] == 0).all() and (m.lines["status"] == "reported").all()
    assert m.rules["held"].all() and m.breaches.empty
    assert (m.measures["rag"] == "green").all()
    assert (m.measures["planned"] == m.measures["actual"]).all()
    metrics = result.metrics.set_index("measure")["after"]
    for r in m.measures.itertuples():
        assert r.planned == pytest.approx(metrics[r.measure], rel=1e-12), r.measure
    assert m.totals["actual_gbp"].iloc[0] == pytest.approx(s.budget_gbp, abs=0.01)


def test_a_line_not_reported_is_not_zero_unless_the_user_says_so(twenty, tmp_path):
    s, plan = twenty
    actual = plan.copy()
    actual[5] = np.nan  # area 5 did not report
    path = spend_csv(tmp_path / "o.csv", s, actual)
    left_out = monitor(planned_from_spend(s, plan), outturn.read([path], s))
    area = left_out.by_area.set_index("area_id").loc["E05"]
    assert area["reported"] == "none" and np.isnan(area["actual_gbp"]) and area["rag"] == "not reported"
    assert (left_out.by_service["variance_gbp"].abs() < 0.01).all()  # not an underspend
    total = left_out.totals.iloc[0]
    assert total["planned_compared_gbp"] == pytest.approx(plan.sum() - plan[5].sum())
    assert total["areas_not_reported"] == 1 and total["lines_reported"] == 3 * (N - 1)
    assert left_out.measures["areas"].tolist() == [N - 1] * 3
    assert any("1 area reported no spend (Area 5)" in n for n in left_out.notes)
    zero = monitor(planned_from_spend(s, plan), outturn.read([path], s), MonitorSettings(missing="zero"))
    assert zero.by_area.set_index("area_id").loc["E05", "variance_pct"] == -1.0
    assert set(zero.lines.loc[zero.lines["area_id"] == "E05", "status"]) == {"assumed zero"}
    assert not zero.rules.set_index("rule").loc["floors", "held"]  # nothing spent: below every floor
    planned = monitor(planned_from_spend(s, plan), outturn.read([path], s), MonitorSettings(missing="planned"))
    assert planned.by_area.set_index("area_id").loc["E05", "variance_gbp"] == 0


def test_floors_caps_and_pace_breaches_match_brute_force(tmp_path):
    folder, plan = write_scenario(tmp_path / "s")
    with open(folder / "services.csv") as handle:
        text = handle.read()
    (folder / "services.csv").write_text(text.replace(",0.5,,rate", ",0.5,1.6,rate"))  # caps at 1.6 units per head
    s = allocator.load(folder)
    rng = np.random.default_rng(11)
    actual = plan * rng.uniform(0.3, 1.8, plan.shape)
    m = monitor(planned_from_spend(s, plan), outturn.read([spend_csv(tmp_path / "o.csv", s, actual)], s))
    tol = 0.05
    i = actual / s.unit_spend
    floors = {(s.area_ids[a], s.service_ids[j]) for a, j in zip(*np.nonzero(i < 0.5 * (1 - tol)))}
    caps = {(s.area_ids[a], s.service_ids[j]) for a, j in zip(*np.nonzero(i > 1.6 * (1 + tol)))}
    total, base = actual.sum(axis=1), s.baseline.sum(axis=1)
    pace = {s.area_ids[a] for a in np.flatnonzero((total < 0.7 * base * (1 - tol)) | (total > 1.3 * base * (1 + tol)))}
    b = m.breaches
    assert floors and caps and pace
    assert set(zip(b.loc[b["rule"] == "floors", "area_id"], b.loc[b["rule"] == "floors", "service_id"])) == floors
    assert set(zip(b.loc[b["rule"] == "caps", "area_id"], b.loc[b["rule"] == "caps", "service_id"])) == caps
    assert set(b.loc[b["rule"] == "pace_of_change", "area_id"]) == pace
    assert {(r.service_id, r.area_id, r.counterpart_area_id) for r in b[b["rule"] == "need_ordering"].itertuples()} \
        <= brute_force_ordering(s, actual, 0.10)
    rules = m.rules.set_index("rule")
    assert rules.loc["floors", "breaches"] == len(floors) and rules.loc["floors", "checked"] == 3 * N


def test_ordering_breaks_agree_with_brute_force_on_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 30))
        need = rng.integers(0, 6, n).astype(float)  # ties of need on purpose
        intensity = rng.uniform(0.5, 1.5, n)
        tol = float(rng.choice([0.0, 0.05, 0.1]))
        needier, counterpart, pairs = monitor_rules.ordering_breaks(need, intensity, tol)
        expected = {a: {b for b in range(n) if need[b] < need[a] and intensity[a] < (1 - tol) * intensity[b]}
                    for a in range(n)}
        expected = {a: bs for a, bs in expected.items() if bs}
        assert sorted(needier.tolist()) == sorted(expected)
        for a, b, k in zip(needier, counterpart, pairs):
            assert b in expected[a] and k == len(expected[a])
            assert intensity[b] == max(intensity[c] for c in expected[a])


def test_the_trend_agrees_with_a_hand_checked_sii(tiny, tmp_path):
    """Tiny's two groups: A1, A2 (3,000 people) and A3, A4 (2,000). Observed 70, 73 | 80, 84 gives group means
    72 and 81 at midpoint ranks 0.3 and 0.8: SII = 9 / 0.5 = 18, gap 9."""
    s = allocator.load(tiny)
    result = allocator.solve(s)
    path = tmp_path / "obs.csv"
    path.write_text("area_id,year,observed,standard_error\nA1,2026,70,1.0\nA2,2026,73,0.5\nA3,2026,80,0.8\n"
                    "A4,2026,84,2.0\nA1,2025,70,\n")
    m = monitor(result, outturn.read([path], s))
    t = m.trend.set_index(["source", "year"])
    row = t.loc[("observed", "2026")]
    assert row["sii"] == pytest.approx(18.0) and row["gap_absolute"] == pytest.approx(9.0)
    assert row["rii"] == pytest.approx(84.6 / 66.6)  # the fitted line: 72 - 0.3 x 18 = 66.6 at rank 0, 84.6 at 1
    # group standard errors by hand: sqrt(sum((p_i / P)^2 se_i^2))
    se1 = np.sqrt((1000 / 3000 * 1.0) ** 2 + (2000 / 3000 * 0.5) ** 2)
    se2 = np.sqrt((1500 / 2000 * 0.8) ** 2 + (500 / 2000 * 2.0) ** 2)
    fit = ineq.phe_sii([72.0, 81.0], [3000.0, 2000.0], standard_errors=[se1, se2], repetitions=100_000, seed=0)
    assert (row["sii_lower"], row["sii_upper"]) == pytest.approx((fit.sii_lower, fit.sii_upper))
    assert row["sii_lower"] < 18.0 < row["sii_upper"]
    one = t.loc[("observed", "2025")]  # one area, one group: no slope
    assert one["areas"] == 1 and np.isnan(one["sii"])
    metrics = result.metrics.set_index("measure")
    assert t.loc[("baseline", "Baseline"), "sii"] == pytest.approx(metrics.loc["sii_outcome", "before"])
    assert t.loc[("projected", "Year 1"), "sii"] == pytest.approx(metrics.loc["sii_outcome", "after"])
    assert t.loc[("projected", "Year 1"), "gap_absolute"] == pytest.approx(metrics.loc["gap_absolute_outcome", "after"])
    groups = m.trend_by_group[m.trend_by_group["year"] == "2026"]
    assert groups["outcome"].tolist() == pytest.approx([72.0, 81.0])
    assert groups["standard_error"].tolist() == pytest.approx([se1, se2])


def test_a_plan_of_several_years_with_streams_is_monitored_year_by_year(tmp_path):
    from allocator.analysis.plan import run_plan
    from conftest import quickstart_with

    streams = "stream_id,stream_name,amount_gbp,services,areas\ngrant,Grant,70000000,all,\n" \
              "local,Local fund,30000000,all,imd_quintile=1\n"
    s = allocator.load(quickstart_with(tmp_path, streams=streams, manifest="[plan]\nyears = 2\n"))
    plan = run_plan(s)
    by_stream = np.stack([y.allocation.by_stream for y in plan.years])  # (T, F, A, S)
    outside = int(np.flatnonzero(~s.streams[1].eligible(s.n_areas).any(axis=1))[0])  # an area 'local' may not fund
    rows = []
    for t, year in enumerate(("Year 1", "2")):
        for f, stream in enumerate(s.streams):
            for a, sid in enumerate(s.area_ids):
                for j, service in enumerate(s.service_ids):
                    amount = by_stream[t, f, a, j] + (500.0 if (t, f, a, j) == (1, 1, outside, 0) else 0.0)
                    if amount > 0:
                        rows.append((year, sid, service, stream.id, f"{amount:.2f}"))
    path = tmp_path / "o.csv"
    pd.DataFrame(rows, columns=["year", "area_id", "service_id", "stream_id", "actual_gbp"]).to_csv(path, index=False)
    m = monitor(plan, outturn.read([path], s))
    assert m.years == ("Year 1", "Year 2")
    assert m.totals["variance_gbp"].round(2).tolist() == [0.0, 500.0]
    assert m.by_stream.set_index(["year", "stream_id"])["variance_gbp"].round(2).to_dict() == {
        ("Year 1", "grant"): 0.0, ("Year 1", "local"): 0.0, ("Year 2", "grant"): 0.0, ("Year 2", "local"): 500.0}
    streams_rule = m.breaches[m.breaches["rule"] == "streams"]
    assert streams_rule[["year", "stream_id", "area_id", "service_id"]].values.tolist() == [
        ["Year 2", "local", s.area_ids[outside], s.service_ids[0]]]
    assert m.trend[m.trend["source"] == "projected"]["year"].tolist() == ["Year 1", "Year 2"]
