"""Multi-year, multi-stream plans solved as one LP (issue #14), checked from the allocations alone.

Every scenario is the bundled quickstart copied to a temporary folder, with funding streams,
partners, service groups and a [plan] added.  The rules of a plan (streams' amounts and
eligibility, partners' shares, floors, caps, need ordering, pace of change, convergence,
carry-over) are re-checked here by `independent_check`, which reads only the inputs and the
pennies of the allocation, never the library's own checker; health is re-computed from the
response curves' points with ``np.interp``.  Known answers come from other solves (today's
one-year `allocator.solve`, years chained one by one, finite differences of the budget),
never from the plan's own earlier output.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as hs

import allocator
from allocator.analysis.plan import discounted_gain, run_plan
from allocator.cli import main
from conftest import quickstart_with
from allocator.errors import InfeasibleError
from allocator.model import money
from allocator.model import streams as st
from allocator.scenario.budget import Partner, Plan, ServiceGroup, Stream, Transfer

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "scenarios" / "quickstart"
PENNY = 0.01
REL = 1e-6


scenario_dir = quickstart_with


def load(tmp_path: Path, *args, **kwargs):
    return allocator.load(scenario_dir(tmp_path, *args, **kwargs))


PACE = "[pace_of_change]\nmax_decrease = {down}\nmax_increase = {up}\n"


# -- independent re-computation -------------------------------------------------------------------

def unit_spend(s) -> np.ndarray:
    return s.unit_cost[None, :] * s.cost_index * s.target_population


def gain_above_floors(s, spend: np.ndarray) -> np.ndarray:
    """(A, S) outcome gain over the floors, from the response curves' points (free lines)."""
    unit = unit_spend(s)
    weight = s.target_population * s.need * s.modifier
    out = np.zeros_like(spend, dtype=float)
    for k, model in enumerate(s.response_models):
        at = np.divide(spend[:, k], unit[:, k], out=np.zeros(s.n_areas), where=unit[:, k] > 0)
        out[:, k] = weight[:, k] * (np.interp(at, model.units_per_head, model.gain_per_head)
                                    - np.interp(s.floor[k], model.units_per_head, model.gain_per_head))
    return np.where(np.isfinite(s.locked), 0.0, out)


def health(s, spends, rate: float | None = None) -> float:
    """Σ over years and services of the gain over the floors, discounted to when it arrives."""
    plan = s.plan
    rate = plan.discount_rate if rate is None else rate
    lags = plan.lags or (0,) * s.n_services
    total = 0.0
    for t, spend in enumerate(spends):
        by_service = gain_above_floors(s, spend).sum(axis=0)
        total += sum((1 + rate) ** -(t + lags[k]) * by_service[k] for k in range(s.n_services))
    return float(total)


def penny_slack(s, years: int) -> float:
    """How far rounding every line to the penny may move the gain."""
    unit = unit_spend(s)
    steepest = np.array([max(np.max(np.diff(m.gain_per_head) / np.diff(m.units_per_head)), 0.0)
                         for m in s.response_models])
    weight = s.target_population * s.need * s.modifier
    return years * float(np.divide(weight * steepest * PENNY, unit, out=np.zeros_like(unit), where=unit > 0).sum())


def eligible(stream: Stream, n_areas: int) -> np.ndarray:
    areas = np.ones(n_areas, bool) if stream.areas is None else np.asarray(stream.areas, bool)
    return np.outer(areas, np.asarray(stream.services, bool))


def whole(values: np.ndarray) -> bool:
    return bool(np.all(np.abs(np.asarray(values) * 100 - np.round(np.asarray(values) * 100)) < 1e-6))


def pennies(values) -> np.ndarray:
    return np.round(np.asarray(values) * 100).astype(np.int64)


def independent_check(s, spends: list[np.ndarray], by_streams: list[np.ndarray] | None) -> list[str]:
    """Every rule of the plan ``s`` re-checked from the pennies of each year; [] when all hold."""
    problems = []
    plan = s.plan
    A, S = s.n_areas, s.n_services
    unit = unit_spend(s)
    free = ~np.isfinite(s.locked) & (unit > 0)
    tol = REL * np.maximum(1.0, s.floor)[None, :] + np.divide(PENNY, unit, out=np.zeros_like(unit), where=unit > 0)
    for t, spend in enumerate(spends):
        year = f"year {t + 1}"
        if not whole(spend) or (spend < 0).any():
            problems.append(f"{year}: spend is not whole non-negative pennies")
        intensity = np.divide(spend, unit, out=np.zeros_like(spend), where=unit > 0)
        if (free & (intensity < s.floor[None, :] - tol)).any():
            problems.append(f"{year}: a line is below its floor")
        if (free & (intensity > s.cap[None, :] + tol)).any():
            problems.append(f"{year}: a line is above its cap")
        if s.proportionality == "monotone":
            for k in range(S):
                rows = np.flatnonzero(free[:, k])
                for a in rows:
                    for b in rows:  # more need, never less intensity
                        if s.need[b, k] > s.need[a, k] and intensity[b, k] < intensity[a, k] - tol[a, k] - tol[b, k]:
                            problems.append(f"{year}: {s.service_ids[k]} intensity falls as need rises")
        if not s.streams and s.budget_mode == "exact" and pennies(spend).sum() != pennies(plan.budgets[t]):
            problems.append(f"{year}: spend totals {spend.sum():,.2f}, not the budget {plan.budgets[t]:,.2f}")
        for group in s.service_groups:
            budget = spend.sum()
            lows = [v for v in (group.min_gbp, None if group.min_share is None else group.min_share * budget)
                    if v is not None]
            highs = [v for v in (group.max_gbp, None if group.max_share is None else group.max_share * budget)
                     if v is not None]
            total = spend[:, list(group.services)].sum()
            slack = REL * budget + PENNY * A * S
            if (lows and total < max(lows) - slack) or (highs and total > min(highs) + slack):
                problems.append(f"{year}: service group {group.name} totals {total:,.2f}, outside its bounds")
    if s.streams:
        problems += _stream_problems(s, spends, by_streams)
    problems += _pace_problems(s, spends)
    problems += _convergence_problems(s, spends)
    return problems


def _stream_problems(s, spends, by_streams) -> list[str]:
    problems = []
    A = s.n_areas
    spent = np.zeros((len(spends), len(s.streams)), np.int64)
    for t, (spend, by_stream) in enumerate(zip(spends, by_streams)):
        year = f"year {t + 1}"
        if not whole(by_stream) or (by_stream < 0).any():
            problems.append(f"{year}: a stream pays something other than whole non-negative pennies")
        if (pennies(by_stream).sum(axis=0) != pennies(spend)).any():
            problems.append(f"{year}: a line's streams do not add up to the line")
        for f, stream in enumerate(s.streams):
            if (pennies(by_stream[f])[~eligible(stream, A)] != 0).any():
                problems.append(f"{year}: stream {stream.id} pays for lines it may not fund")
            spent[t, f] = pennies(by_stream[f]).sum()
            if not stream.carry_over and s.budget_mode == "exact" and spent[t, f] != pennies(stream.amounts[t]):
                problems.append(f"{year}: stream {stream.id} spends {spent[t, f] / 100:,.2f} of "
                                f"{stream.amounts[t]:,.2f}")
            if stream.partners:
                parts = [(name, p) for g, name, p in st.partners(s, by_stream) if g == f]
                if sorted(name for name, _ in parts) != sorted(p.name for p in stream.partners):
                    problems.append(f"{year}: stream {stream.id}'s partners are not its partners")
                if (sum(pennies(p) for _, p in parts) != pennies(by_stream[f])).any():
                    problems.append(f"{year}: stream {stream.id}'s partners do not add up to its lines")
                for partner in stream.partners:
                    part = next(p for name, p in parts if name == partner.name)
                    if not whole(part) or abs(pennies(part).sum() - partner.share * spent[t, f]) >= 1 + 1e-6:
                        problems.append(f"{year}: partner {partner.name} of {stream.id} pays {part.sum():,.2f}, "
                                        f"not its share {partner.share:g} of {spent[t, f] / 100:,.2f}")
    for f, stream in enumerate(s.streams):
        if stream.carry_over:
            received = np.cumsum(pennies(stream.amounts)[:len(spends)])
            so_far = np.cumsum(spent[:, f])
            if (so_far > received).any():
                problems.append(f"stream {stream.id} spends money it has not yet received")
            if s.budget_mode == "exact" and so_far[-1] != received[-1]:
                problems.append(f"stream {stream.id} leaves {(received[-1] - so_far[-1]) / 100:,.2f} unspent")
    return problems


def _pace_problems(s, spends) -> list[str]:
    plan = s.plan
    low, high = 0.0, np.inf
    if s.pace is not None:
        low, high = 1 - s.pace[0], 1 + s.pace[1]
    if plan.min_uplift is not None:
        low = max(low, 1 + plan.min_uplift)
    if s.pace is None and plan.min_uplift is None:
        return []
    problems = []
    before = s.baseline.sum(axis=1) if s.baseline is not None else None
    for t, spend in enumerate(spends):
        now = spend.sum(axis=1)
        if before is not None:
            slack = REL * np.maximum(before, 1.0) + PENNY * s.n_services
            if ((now < low * before - slack) | (now > high * before + slack)).any():
                problems.append(f"year {t + 1}: an area's total breaks the pace of change")
        before = now
    return problems


def _convergence_problems(s, spends) -> list[str]:
    plan = s.plan
    if plan.convergence is None and plan.converge_by is None:
        return []
    fair = (s.cost_index * s.target_population * s.need)
    fair = s.service_share[None, :] * fair / fair.sum(axis=0)
    target = fair.sum(axis=1) / fair.sum()
    start = s.baseline.sum(axis=1) / s.baseline.sum()
    problems = []
    for t, spend in enumerate(spends):
        limit = 1.0
        if plan.convergence is not None:
            limit = (1 - plan.convergence) ** (t + 1)
        if plan.converge_by is not None:
            limit = min(limit, max(0.0, 1 - (t + 1) / plan.converge_by))
        budget = plan.budgets[t]
        allowed = limit * np.abs(start - target) * budget + REL * target * budget + PENNY * s.n_services
        if (np.abs(spend.sum(axis=1) - target * budget) > allowed).any():
            problems.append(f"year {t + 1}: an area is further from its target than convergence allows")
    return problems


def check_result(result) -> None:
    """`independent_check` on a `PlanResult`, and its health against the response curves."""
    s = result.scenario
    spends = [y.allocation.spend for y in result.years]
    by_streams = [y.allocation.by_stream for y in result.years] if s.streams else None
    assert independent_check(s, spends, by_streams) == []
    if s.objective == "health-gain":
        mine = health(s, spends)
        assert abs(mine - result.health) <= REL * abs(mine) + penny_slack(s, len(spends)), (mine, result.health)


# -- one year, one stream: today's solve ------------------------------------------------------------

@pytest.mark.parametrize("pace", [None, (0.02, 0.06)])
def test_a_one_year_one_stream_plan_is_todays_solve(tmp_path, pace):
    extra = PACE.format(down=pace[0], up=pace[1]) if pace else ""
    today = allocator.solve(load(tmp_path, manifest=extra, name="today"))
    planned = run_plan(load(tmp_path, "stream_id,stream_name,amount_gbp,services\nph,Grant,100000000,all\n",
                            manifest=extra + "[plan]\nyears = 1\n", name="plan"))
    plain = run_plan(load(tmp_path, manifest=extra, name="plain"))  # no [plan]: a plan of one year
    for result in (planned, plain):
        assert len(result.years) == 1
        spend = result.years[0].allocation.spend
        assert (pennies(spend) == pennies(today.allocation.spend)).all(), np.abs(spend - today.allocation.spend).max()
        assert result.health == pytest.approx(today.solution.objective, rel=1e-9)
    stream = planned.years[0].allocation.by_stream
    assert stream.shape == (1, *today.allocation.spend.shape)
    assert (pennies(stream[0]) == pennies(today.allocation.spend)).all()
    if pace:  # the pace binds: without it, the answer differs
        free = allocator.solve(load(tmp_path, name="free"))
        assert free.solution.objective > today.solution.objective * (1 + 1e-6)


# -- the joint plan against years chained one by one -------------------------------------------------

def chain(s):
    """Each year solved alone with today's `allocator.solve`, its baseline last year's spend and
    its streams what they hold that year (a carry-over stream: what it has left)."""
    plan = s.plan
    spends, years, by_streams = [], [], []
    baseline = s.baseline
    left = np.zeros(len(s.streams))
    for t in range(plan.years):
        streams = []
        for f, stream in enumerate(s.streams):
            have = round(stream.amounts[t] + left[f], 2)
            streams.append(dataclasses.replace(stream, amounts=(have,)))
        budget = round(sum(f.amounts[0] for f in streams), 2) if streams else plan.budgets[t]
        year = s.with_(plan=None, streams=tuple(streams), budget_gbp=budget, baseline=baseline, pace=s.pace)
        result = allocator.solve(year)
        spends.append(result.allocation.spend)
        years.append(year)
        by_streams.append(result.allocation.by_stream)
        if streams:
            spent = result.allocation.by_stream.sum(axis=(1, 2))
            left = np.array([f.amounts[0] - spent[k] if f.carry_over else 0.0 for k, f in enumerate(streams)])
        baseline = result.allocation.spend
    return spends, years, by_streams if s.streams else None


GRANT = ("stream_id,stream_name,amount_gbp,services,carry_over,to_year\n"
         "ph,Public health grant,94000000,all,no,\ntl,Time-limited grant,6000000,health_visiting,yes,1\n")


def test_the_joint_plan_beats_chaining_single_years(tmp_path):
    # a grant paid in year 1 that may be spent over three years: one year at a time spends it all
    # at once, on the flatter part of the response; the plan spreads it
    s = load(tmp_path, GRANT, manifest="[plan]\nyears = 3\n")
    joint = run_plan(s)
    check_result(joint)
    joint_spends = [y.allocation.spend for y in joint.years]
    chained, years, by_streams = chain(s)
    assert independent_check(s, chained, by_streams) == []
    ours, theirs = health(s, joint_spends), health(s, chained)
    # the library's own sum agrees with ours on both
    assert discounted_gain(s, [y.scenario for y in joint.years], joint_spends) == pytest.approx(ours, rel=1e-9)
    assert discounted_gain(s, years, chained) == pytest.approx(theirs, rel=1e-9)
    assert theirs < ours * (1 - 1e-4), (theirs, ours)
    # the grant is not all spent in year 1 by the plan, but is by the chain
    grant = [pennies(y.allocation.by_stream[1]).sum() for y in joint.years]
    assert grant[0] < 600_000_000 and sum(grant) == 600_000_000
    assert pennies(by_streams[0][1]).sum() == 600_000_000


def test_chaining_years_fails_where_the_plan_succeeds(tmp_path):
    # with a pace of change, spending the grant in year 1 leaves year 2 a cut larger than allowed
    s = load(tmp_path, GRANT, manifest=PACE.format(down=0.03, up=0.2) + "[plan]\nyears = 3\n")
    with pytest.raises(InfeasibleError):
        chain(s)
    check_result(run_plan(s))


def test_a_growing_budget_with_a_pace_of_change_is_no_worse_planned(tmp_path):
    s = load(tmp_path, manifest=PACE.format(down=0.01, up=0.08)
             + "[plan]\nyears = 3\nbudgets_gbp = [100_000_000, 104_000_000, 112_000_000]\n")
    joint = run_plan(s)
    check_result(joint)
    chained, _, _ = chain(s)
    assert independent_check(s, chained, None) == []
    assert health(s, chained) <= health(s, [y.allocation.spend for y in joint.years]) * (1 + 1e-9)


# -- a plan with everything, checked independently ---------------------------------------------------

RICH_STREAMS = """stream_id,stream_name,amount_gbp,services,areas,carry_over,growth,from_year,to_year
ph,Public health grant,84000000,all,,no,0.02,,
hi,Health inequalities fund,9000000,drug_alcohol;falls_prevention,imd_quintile=1;2,no,,,
tl,Time-limited grant,7000000,health_visiting,,yes,,1,1
bf,Better care fund,4000000,falls_prevention,,no,,2,
"""
RICH_PARTNERS = "stream_id,partner,share\nhi,Council,0.5\nhi,ICB,0.3\nhi,Police,0.2\n"
RICH_MANIFEST = PACE.format(down=0.04, up=0.15) + """
[[service_group]]
name = "adults"
services = ["drug_alcohol", "falls_prevention"]
min_share = 0.3

[plan]
years = 3
first_year = "2026/27"
min_uplift = -0.02
convergence = 0.05
lags = { falls_prevention = 1 }
"""


@pytest.fixture
def rich(tmp_path):
    return scenario_dir(tmp_path, RICH_STREAMS, RICH_PARTNERS, RICH_MANIFEST)


def test_a_plan_with_every_rule_meets_them_all_by_an_independent_check(rich):
    s = allocator.load(rich)
    result = run_plan(s)
    check_result(result)
    assert [y.label for y in result.years] == ["2026/27", "2027/28", "2028/29"]
    # the tables say what the allocations say
    streams = result.tables["plan_streams"]
    for t, year in enumerate(result.years):
        for f, stream in enumerate(s.streams):
            row = streams[(streams.year == year.label) & (streams.stream_id == stream.id)].iloc[0]
            assert row.spent_gbp == pytest.approx(year.allocation.by_stream[f].sum(), abs=0.005)
            assert row.amount_gbp == pytest.approx(stream.amounts[t], abs=0.005)
    tl = streams[streams.stream_id == "tl"]
    received, spent = np.cumsum(tl.amount_gbp), np.cumsum(tl.spent_gbp)
    assert tl.carried_forward_gbp.to_numpy() == pytest.approx((received - spent).to_numpy(), abs=0.01)
    partners = result.tables["plan_partners"]
    for _, row in partners.iterrows():
        year = next(y for y in result.years if y.label == row.year)
        stream_total = year.allocation.by_stream[[f.id for f in s.streams].index(row.stream_id)].sum()
        assert abs(row.contribution_gbp - row.share * stream_total) < 0.01 + 1e-6
    allocation = result.tables["plan_allocation"]
    for t, year in enumerate(result.years):
        rows = allocation[allocation.year == year.label]
        assert pennies(rows.spend_gbp).sum() == pennies(year.allocation.spend).sum()
        assert (pennies(rows[[f"stream_{f.id}_gbp" for f in s.streams]].sum(axis=1)) == pennies(rows.spend_gbp)).all()


def test_run_prints_the_plan(rich, tmp_path):
    result = CliRunner().invoke(main, ["run", str(rich), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for label in ("2026/27", "2027/28", "2028/29"):
        assert label in result.output
    for name in ("Public health grant", "Health inequalities fund", "Time-limited grant", "Better care fund"):
        assert name in result.output
    assert (tmp_path / "out" / "plan_streams.csv").is_file()


def test_each_years_waterfall_runs_from_the_year_before_to_the_plan_to_the_penny(rich):
    from allocator.analysis.plan import plan_waterfall, waterfall_moves

    s = allocator.load(rich)
    result = run_plan(s)
    water = plan_waterfall(result)
    for t, year in enumerate(result.years):
        before = s.baseline if t == 0 else result.years[t - 1].allocation.spend
        rows = water[(water.year == year.label) & (water.area_id != "ALL")]
        starts = rows[rows.step.str.startswith("start: ")].set_index("area_id").amount_pennies
        ends = rows[rows.step.str.startswith("end: ")].set_index("area_id").amount_pennies
        steps = rows[~rows.step.str.startswith(("start: ", "end: "))].groupby("area_id").amount_pennies.sum()
        ids = list(s.area_ids)
        assert (starts[ids].to_numpy() == pennies(before.sum(axis=1))).all()
        assert (ends[ids].to_numpy() == pennies(year.allocation.spend.sum(axis=1))).all()
        assert ((starts + steps - ends)[ids] == 0).all()  # the steps add up to each area's change
        # the pace-of-change stage meets the year-on-year pace against the year before
        if t > 0 and s.pace is not None:
            stage = starts + rows[rows.step.isin(["need-weighted target", "floors and caps", "locked lines",
                                                 "proportionality", "pace of change"])].groupby("area_id").amount_pennies.sum()
            low, high = 1 - s.pace[0], 1 + s.pace[1]
            previous = pennies(before.sum(axis=1))
            assert (stage[ids].to_numpy() >= np.floor(low * previous) - 2).all()
            assert (stage[ids].to_numpy() <= np.ceil(high * previous) + 2).all()
    moves = waterfall_moves(water)
    assert list(moves.year.unique()) == [y.label for y in result.years]
    first = water[(water.year == result.years[0].label) & (water.area_id != "ALL") & (water.step == "pace of change")]
    row = moves[(moves.year == result.years[0].label) & (moves.step == "pace of change")].iloc[0]
    assert row.into_areas_gbp == pytest.approx(first.amount_pennies.clip(lower=0).sum() / 100)
    assert row.out_of_areas_gbp == pytest.approx(-first.amount_pennies.clip(upper=0).sum() / 100)


def test_run_explain_of_a_plan_shows_what_moves_the_money_each_year(rich, tmp_path):
    result = CliRunner().invoke(main, ["run", str(rich), "--explain", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "What moves the money" in result.output
    table = pd.read_csv(tmp_path / "out" / "plan_waterfall_moves.csv")
    assert set(table.year) == {"2026/27", "2027/28", "2028/29"}
    assert "What moves the money, year by year" in (tmp_path / "out" / "report.html").read_text()


def test_the_independent_check_catches_a_broken_plan(rich):
    """Each rule broken by hand in a solved plan's pennies is caught (the check can fail)."""
    s = allocator.load(rich)
    result = run_plan(s)
    spends = [y.allocation.spend.copy() for y in result.years]
    by_streams = [y.allocation.by_stream.copy() for y in result.years]
    assert independent_check(s, spends, by_streams) == []
    ids = [f.id for f in s.streams]
    hi, tl, ph = ids.index("hi"), ids.index("tl"), ids.index("ph")
    A = s.n_areas

    def broken(change) -> list[str]:
        sp, bs = [x.copy() for x in spends], [x.copy() for x in by_streams]
        change(sp, bs)
        return independent_check(s, sp, bs)

    outside = np.argwhere(~eligible(s.streams[hi], A))[0]
    inside = np.argwhere(eligible(s.streams[hi], A) & (by_streams[0][hi] > 1))[0]

    def ineligible(sp, bs):  # the fund pays a penny for a line it may not fund, ph a penny less there
        bs[0][hi][tuple(outside)] += 0.01
        bs[0][hi][tuple(inside)] -= 0.01
        bs[0][ph][tuple(outside)] -= 0.01
        bs[0][ph][tuple(inside)] += 0.01
    assert any("may not fund" in p for p in broken(ineligible))

    def overspent(sp, bs):  # a penny more from a stream that must spend exactly its amount
        bs[1][hi][tuple(inside)] += 0.01
        bs[1][ph][tuple(inside)] -= 0.01
    assert any("spends" in p and " hi " in p for p in broken(overspent))

    def early(sp, bs):  # the grant spends in year 1 a pound more than it has received (ph a pound less)
        more = round(s.streams[tl].amounts[0] - by_streams[0][tl].sum() + 1.0, 2)
        line = tuple(np.argwhere(eligible(s.streams[tl], A) & (by_streams[0][ph] > more))[0])
        bs[0][tl][line] += more
        bs[0][ph][line] -= more
    problems = broken(early)
    assert any("not yet received" in p for p in problems), problems

    def unspent(sp, bs):  # a pound of the grant left at the end (the line paid by another stream)
        line = tuple(np.argwhere(by_streams[-1][tl] > 1)[0]) if by_streams[-1][tl].sum() else None
        t = -1 if line is not None else 0
        line = line or tuple(np.argwhere(by_streams[0][tl] > 1)[0])
        bs[t][tl][line] -= 1.0
        bs[t][ph][line] += 1.0
    assert any("unspent" in p for p in broken(unspent))

    def fast(sp, bs):  # £1m moved between two areas in year 2: beyond the pace of change
        for t in (1,):
            a, b = 0, 1
            for x in (sp[t], bs[t][ph]):
                x[a, 0] += 1e6
                x[b, 0] -= 1e6
    assert any("pace" in p for p in broken(fast))

    def split_badly(sp, bs):  # a line's streams no longer add up to the line
        bs[2][ph][tuple(inside)] += 0.01
    assert any("add up" in p for p in broken(split_badly))

    def below_floor(sp, bs):  # a line emptied
        for t in range(len(sp)):
            line = (3, 0)
            amount = sp[t][line]
            sp[t][line] = 0.0
            sp[t][4, 0] += amount
            for f in range(len(bs[t])):
                bs[t][f][4, 0] += bs[t][f][line]
                bs[t][f][line] = 0.0
    assert any("floor" in p for p in broken(below_floor))


# -- the discount --------------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_a_plan_without_ties_between_years_is_each_year_weighted_by_its_discount(tmp_path, rate):
    budgets = [100e6, 110e6, 121e6]
    s = load(tmp_path, manifest=f"[plan]\nyears = 3\nbudgets_gbp = {budgets!r}\ndiscount_rate = {rate}\n")
    result = run_plan(s)
    check_result(result)
    alone = [allocator.solve(s.with_(plan=None, budget_gbp=b)) for b in budgets]
    expected = sum((1 + rate) ** -t * r.solution.objective for t, r in enumerate(alone))
    assert result.health == pytest.approx(expected, rel=1e-9)
    for t, (year, today) in enumerate(zip(result.years, alone)):
        mine = float(gain_above_floors(s, year.allocation.spend).sum())
        assert mine == pytest.approx(today.solution.objective, rel=1e-6)
    table = result.tables["plan_years"].iloc[1:]  # the first row is 'Before'
    assert table.discount_factor.to_numpy() == pytest.approx([(1 + rate) ** -t for t in range(3)])
    assert table.health_gain_discounted.to_numpy() == pytest.approx(
        (table.health_gain * table.discount_factor).to_numpy())


def test_a_higher_discount_spends_a_grant_sooner(tmp_path):
    patient = run_plan(load(tmp_path, GRANT, manifest="[plan]\nyears = 3\ndiscount_rate = 0\n", name="a"))
    eager = run_plan(load(tmp_path, GRANT, manifest="[plan]\nyears = 3\ndiscount_rate = 0.5\n", name="b"))
    for result in (patient, eager):
        check_result(result)
    s = patient.scenario
    a = [y.allocation.spend for y in patient.years]
    b = [y.allocation.spend for y in eager.years]
    # each plan is the best for its own weights
    assert health(s, a, rate=0.0) >= health(s, b, rate=0.0) * (1 - 1e-9)
    assert health(s, b, rate=0.5) >= health(s, a, rate=0.5) * (1 - 1e-9)
    assert patient.health > eager.health
    first = [pennies(r.years[0].allocation.by_stream[1]).sum() for r in (patient, eager)]
    assert first[1] >= first[0]
    assert first[1] == 600_000_000  # at 50% a year, the whole grant is worth most in year 1


# -- lags --------------------------------------------------------------------------------------------------

def test_a_lagged_service_acts_on_the_year_after_its_spend(tmp_path):
    s = load(tmp_path, manifest="[plan]\nyears = 3\nbudget_growth = 0.03\nlags = { falls_prevention = 1, "
             "health_visiting = 2 }\n")
    result = run_plan(s)
    check_result(result)
    weight = s.target_population * s.need * s.modifier
    unit = unit_spend(s)
    spends = [y.allocation.spend for y in result.years]
    lags = {"falls_prevention": 1, "drug_alcohol": 0, "health_visiting": 2}
    assert s.plan.lags == tuple(lags[sid] for sid in s.service_ids)
    for t, year in enumerate(result.years):
        for k, sid in enumerate(s.service_ids):
            acting = spends[t - lags[sid]] if t >= lags[sid] else s.baseline
            model = s.response_models[k]
            expected = weight[:, k] * np.interp(acting[:, k] / unit[:, k], model.units_per_head, model.gain_per_head)
            assert year.outcomes.gain[:, k] == pytest.approx(expected, rel=1e-12), (t, sid)
    # year 1's falls outcome is last year's, whatever the plan spends on falls in year 1
    falls = s.service_ids.index("falls_prevention")
    assert (result.years[0].outcomes.gain[:, falls] == result.years[0].outcomes.before_gain[:, falls]).all()


# -- service groups and transfers ------------------------------------------------------------------------

def test_a_binding_minimum_share_moves_money_into_the_group(tmp_path):
    free = run_plan(load(tmp_path, manifest="[plan]\nyears = 2\nbudget_growth = 0.05\n", name="free"))
    da = free.scenario.service_ids.index("drug_alcohol")
    shares = [y.allocation.spend[:, da].sum() / y.allocation.spend.sum() for y in free.years]
    floor = round(max(shares) + 0.05, 4)
    held = run_plan(load(tmp_path, manifest=f'[[service_group]]\nname = "treatment"\nservices = ["drug_alcohol"]\n'
                         f"min_share = {floor}\n[plan]\nyears = 2\nbudget_growth = 0.05\n", name="held"))
    check_result(held)
    for t, (before, after) in enumerate(zip(free.years, held.years)):
        budget = after.allocation.spend.sum()
        total = after.allocation.spend[:, da].sum()
        assert total >= floor * budget - 0.01 * held.scenario.n_areas
        assert total > before.allocation.spend[:, da].sum() + 0.04 * budget
    assert held.health < free.health
    groups = held.tables["plan_groups"]
    assert (groups.total_gbp >= groups.min_gbp - 0.01 * held.scenario.n_areas).all()


def test_a_maximum_in_pounds_holds_each_year(tmp_path):
    free = allocator.solve(load(tmp_path, name="free"))
    hv = free.scenario.service_ids.index("health_visiting")
    cap = round(free.allocation.spend[:, hv].sum() * 0.9, 2)
    s = load(tmp_path, manifest=f'[[service_group]]\nname = "children"\nservices = ["health_visiting"]\n'
             f"max_gbp = {cap}\n[plan]\nyears = 2\nbudget_growth = 0.02\n", name="held")
    result = run_plan(s)
    check_result(result)
    for year in result.years:
        assert year.allocation.spend[:, hv].sum() <= cap + 0.01 * s.n_areas


@pytest.mark.parametrize("amount", [2_000_000.0, -1_500_000.0])
def test_a_transfer_moves_its_amount_against_the_comparator(tmp_path, amount):
    s = load(tmp_path)
    ids = s.service_ids
    groups = (ServiceGroup(name="children", services=(ids.index("health_visiting"),)),
              ServiceGroup(name="adults", services=(ids.index("drug_alcohol"), ids.index("falls_prevention"))))
    moved = s.with_(service_groups=groups, transfer=Transfer(source="children", target="adults", amount=amount))
    # the comparator: last year's split scaled to this year's budget, computed here
    scale = s.budget_gbp / s.baseline.sum()
    reference = {g.name: s.baseline[:, list(g.services)].sum() * scale for g in groups}
    assert money.reference_totals(moved) == pytest.approx(reference, rel=1e-12)
    slack = 0.01 * s.n_areas * s.n_services
    for spend in (allocator.solve(moved).allocation.spend, run_plan(moved).years[0].allocation.spend):
        assert abs(spend.sum() - s.budget_gbp) < 0.005
        children = spend[:, list(groups[0].services)].sum()
        adults = spend[:, list(groups[1].services)].sum()
        assert children == pytest.approx(reference["children"] - amount, abs=slack)
        assert adults == pytest.approx(reference["adults"] + amount, abs=slack)


# -- what a pound of each stream is worth -----------------------------------------------------------------

def with_amounts(s, f: int, t: int, delta: float):
    """``s`` with ``delta`` GBP more in stream ``f`` in year ``t`` (and so in that year's budget)."""
    streams = list(s.streams)
    amounts = list(streams[f].amounts)
    amounts[t] += delta
    streams[f] = dataclasses.replace(streams[f], amounts=tuple(amounts))
    years = len(amounts)
    budgets = tuple(round(sum(g.amounts[k] for g in streams), 2) for k in range(years))
    plan = dataclasses.replace(s.plan, budgets=budgets) if s.plan is not None else None
    return s.with_(streams=tuple(streams), budget_gbp=budgets[0], plan=plan)


def price(result, stream_id: str, year: int = 0) -> float:
    prices = result.prices
    label = result.years[year].label
    return float(prices[(prices.stream_id == stream_id) & (prices.year == label)].price_per_gbp.iloc[0])


def assert_price_is_a_slope(s, result, f: int, t: int = 0, delta: float = 10_000.0) -> None:
    """The price is a supergradient of the (concave) best health in the amount: one pound more
    buys at most it, one pound less costs at least it."""
    value = price(result, s.streams[f].id, t)
    up = (run_plan(with_amounts(s, f, t, delta)).health - result.health) / delta
    down = (result.health - run_plan(with_amounts(s, f, t, -delta)).health) / delta
    slack = 1e-6 * abs(value) + 1e-12
    assert up <= value + slack and value <= down + slack, (up, value, down)


def test_a_restricted_stream_is_worth_what_an_unrestricted_one_is_when_it_does_not_bind(tmp_path):
    s = load(tmp_path, "stream_id,stream_name,amount_gbp,services,areas\nph,Grant,98000000,all,\n"
             "hi,Inequalities,2000000,drug_alcohol,imd_quintile=1\n")
    result = run_plan(s)
    check_result(result)
    assert price(result, "hi") <= price(result, "ph") * (1 + 1e-9)
    assert price(result, "hi") == pytest.approx(price(result, "ph"), rel=1e-6)
    assert_price_is_a_slope(s, result, 1)


def test_a_binding_restriction_makes_a_stream_worth_less(tmp_path):
    # falls prevention would get about £9m; a £20m grant only for it must be spent on it
    s = load(tmp_path, "stream_id,stream_name,amount_gbp,services\nph,Grant,80000000,all\n"
             "fp,Falls grant,20000000,falls_prevention\n")
    result = run_plan(s)
    check_result(result)
    fp, ph = price(result, "fp"), price(result, "ph")
    assert 0 <= fp < 0.9 * ph, (fp, ph)
    falls = s.service_ids.index("falls_prevention")
    assert result.years[0].allocation.spend[:, falls].sum() == pytest.approx(20e6, abs=0.01)
    for f in (0, 1):
        assert_price_is_a_slope(s, result, f)


def test_a_carried_over_pound_is_worth_at_least_one_received_later(tmp_path):
    # year budgets differ (a grant in year 1 only), so each year's rows are on a scale of their own
    s = load(tmp_path, "stream_id,stream_name,amount_gbp,services,carry_over,to_year\n"
             "ph,Grant,70000000,all,no,\ntl,Time-limited grant,30000000,health_visiting;drug_alcohol,yes,1\n",
             manifest="[plan]\nyears = 3\ndiscount_rate = 0.1\n")
    result = run_plan(s)
    check_result(result)
    values = [price(result, "tl", t) for t in range(3)]
    assert values[0] >= values[1] * (1 - 1e-9) and values[1] >= values[2] * (1 - 1e-9), values
    for t in range(3):
        assert_price_is_a_slope(s, result, 1, t)
        assert_price_is_a_slope(s, result, 0, t)


def test_todays_solve_pays_a_binding_ring_fenced_stream_to_the_penny(tmp_path):
    s = load(tmp_path, "stream_id,stream_name,amount_gbp,services\nph,Grant,80000000,all\n"
             "fp,Falls grant,20000000,falls_prevention\n")
    result = allocator.solve(s)
    assert pennies(result.allocation.by_stream[1]).sum() == 2_000_000_000


# -- no plan exists ------------------------------------------------------------------------------------------

SHORT = ("stream_id,stream_name,amount_gbp,services,year_2\n"
         "ph,Public health grant,95000000,health_visiting;drug_alcohol,\n"
         "fp,Falls grant,5000000,falls_prevention,1000000\n")


def amounts_in(text: str) -> list[float]:
    scale = {"": 1.0, "k": 1e3, "m": 1e6, "bn": 1e9}
    return [float(v.replace(",", "")) * scale[u] for v, u in re.findall(r"£([\d,]+(?:\.\d+)?)(bn|m|k)?", text)]


def test_a_ring_fenced_stream_short_of_its_floors_is_named_with_its_year_and_amount(tmp_path):
    s = load(tmp_path, SHORT, manifest="[plan]\nyears = 2\n")
    falls = s.service_ids.index("falls_prevention")
    floors = float((unit_spend(s)[:, falls] * s.floor[falls]).sum())
    short = floors - 1_000_000
    assert short > 0
    with pytest.raises(InfeasibleError) as caught:
        run_plan(s)
    text = str(caught.value)
    line = next(line for line in text.splitlines() if "Falls grant" in line)
    assert "Year 2" in line and "Year 1" not in text
    shown = amounts_in(line)
    assert shown and abs(shown[0] - short) <= 0.05e6, (shown, short)  # '£1.8m': to a tenth of a million


def test_run_exits_1_naming_the_year_and_stream_without_a_traceback(tmp_path):
    folder = scenario_dir(tmp_path, SHORT, manifest='[plan]\nyears = 2\nfirst_year = "2026/27"\n')
    result = CliRunner().invoke(main, ["run", str(folder)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert "2027/28" in result.output and "Falls grant" in result.output and "£" in result.output


def test_a_plan_read_from_the_solver_meets_its_pace_of_change(quickstart):
    s = quickstart
    main = Stream(id="main", name="Main grant", amounts=(100e6, 100e6), services=np.ones(s.n_services, bool))
    plan = Plan(years=2, budgets=(100e6, 100e6), labels=("Year 1", "Year 2"), discount_rate=0.0,
                min_uplift=-5.6655380975675546e-05, lags=(0,) * s.n_services)
    check_result(run_plan(s.with_(streams=(main,), budget_gbp=100e6, pace=(0.125, 0.125), plan=plan)))


# -- small random plans ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    return allocator.load(scenario_dir(tmp_path_factory.mktemp("plans"), name="quickstart"))


@hs.composite
def plans(draw, s):
    A, S = s.n_areas, s.n_services
    T = draw(hs.integers(1, 3))
    floors = unit_spend(s) * s.floor[None, :]
    restricted = []
    for k in range(draw(hs.integers(0, 2))):
        services = np.array(draw(hs.lists(hs.booleans(), min_size=S, max_size=S).filter(any)))
        areas = draw(hs.none() | hs.lists(hs.booleans(), min_size=A, max_size=A).filter(any).map(np.array))
        mask = (np.ones(A, bool) if areas is None else areas)[:, None] & services[None, :]
        amount = round(draw(hs.floats(0.01, 0.3)) * floors[mask].sum() / 2, 2)
        first = draw(hs.integers(1, T))
        last = draw(hs.integers(first, T))
        growth = draw(hs.sampled_from([0.0, 0.03]))
        values = tuple(round(amount * (1 + growth) ** (t - first + 1), 2) if first - 1 <= t <= last - 1 else 0.0
                       for t in range(T))
        weights = draw(hs.lists(hs.integers(1, 5), max_size=3))
        restricted.append(Stream(id=f"r{k}", name=f"Restricted {k}", amounts=values, services=services,
                                 areas=areas, carry_over=draw(hs.booleans()),
                                 partners=tuple(Partner(f"P{j}", w / sum(weights)) for j, w in enumerate(weights))))
    growth = draw(hs.floats(-0.02, 0.05))
    main_first = s.budget_gbp - sum(f.amounts[0] for f in restricted) + draw(hs.integers(0, 99)) / 100
    main = Stream(id="main", name="Main grant", services=np.ones(S, bool),
                  amounts=tuple(round(main_first * (1 + growth) ** t, 2) for t in range(T)))
    streams = (main, *restricted)
    budgets = tuple(round(sum(f.amounts[t] for f in streams), 2) for t in range(T))
    pace = draw(hs.none() | hs.tuples(hs.floats(0.02, 0.2), hs.floats(0.06, 0.3)))
    plan = Plan(years=T, budgets=budgets, labels=tuple(f"Year {t + 1}" for t in range(T)),
                discount_rate=draw(hs.sampled_from([0.0, 0.035, 0.2])),
                min_uplift=draw(hs.none() | hs.floats(-0.01, 0.01)),
                lags=tuple(draw(hs.lists(hs.sampled_from([0, 0, 1]), min_size=S, max_size=S))))
    return s.with_(streams=streams, budget_gbp=budgets[0], plan=plan, pace=pace)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=hs.data())
def test_every_plan_that_solves_meets_every_rule(quickstart, data):
    s = data.draw(plans(quickstart))
    note(f"streams: {[(f.id, f.amounts, f.carry_over) for f in s.streams]}; pace {s.pace}; plan {s.plan}")
    try:
        result = run_plan(s)
    except InfeasibleError as exc:
        note(f"infeasible: {exc}")
        assert str(exc).strip()
        return
    check_result(result)


def test_years_solved_one_by_one_when_nothing_ties_them_give_the_joint_optimum(quickstart):
    from allocator.model import plan as pm
    from allocator.model.solver import solve

    s = quickstart.with_(pace=None)
    grant = Stream(id="g", name="Grant", amounts=(100e6, 104e6, 90e6), services=np.ones(s.n_services, bool))
    falls = Stream(id="f", name="Falls", amounts=(5e6, 6e6, 7e6),
                   services=np.array([sid == "falls_prevention" for sid in s.service_ids]))
    plan = Plan(years=3, budgets=(105e6, 110e6, 97e6), labels=("Year 1", "Year 2", "Year 3"),
                discount_rate=0.1, lags=(0,) * s.n_services)
    built = pm.build_plan(s.with_(streams=(grant, falls), budget_gbp=105e6, plan=plan))
    assert pm.separable(built)
    by_year, joint = pm.solve_plan(built), solve(built.lp)
    assert "one by one" in by_year.solver
    assert by_year.objective == pytest.approx(joint.objective, rel=1e-9)
    # the same stream prices, year by year, from the years' own duals
    assert by_year.row_dual.shape == joint.row_dual.shape
    tied = pm.build_plan(s.with_(streams=(grant, dataclasses.replace(falls, carry_over=True)), budget_gbp=105e6,
                                 plan=plan))
    assert not pm.separable(tied)
    # carry-over ties the years: simplex goes on from the years solved one by one, to the joint optimum
    warm = pm.solve_plan(tied)
    assert "from the years solved one by one" in warm.solver
    assert warm.objective == pytest.approx(solve(tied.lp).objective, rel=1e-9)


def test_each_restricted_stream_is_priced_by_re_solving_without_its_restriction(tmp_path):
    from allocator.analysis.plan import rule_costs

    folder = scenario_dir(tmp_path, "stream_id,stream_name,amount_gbp,services,areas\nph,Grant,80000000,all,\n"
                          "fp,Falls grant,20000000,falls_prevention,\nhv,HV grant,5000000,health_visiting,imd_quintile=1\n",
                          total=105e6, manifest="[plan]\nyears = 2\n")
    result = run_plan(folder)
    costs = rule_costs(result).set_index("rule")["cost"]
    # a ring-fence larger than what falls prevention would get costs health; a small one costs nothing
    falls = allocator.load(folder)
    free = run_plan(falls.with_(streams=tuple(dataclasses.replace(f, services=np.ones_like(f.services), areas=None)
                                              for f in falls.streams)))
    assert costs["stream:fp"] == pytest.approx(free.health - result.health, rel=1e-6)
    assert costs["stream:fp"] > 1e-3 * result.health
    assert abs(costs["stream:hv"]) < 1e-7 * result.health
    prices = result.prices.set_index(["year", "stream_id"])["relative_to_best"]
    assert prices[("Year 1", "fp")] < 0.99 and prices[("Year 1", "ph")] == pytest.approx(1.0)



def two_year_plan(tmp_path, streams: str):
    """A two-year plan of 105m with these streams (rows after the header), its LP and optimum."""
    folder = scenario_dir(tmp_path, "stream_id,stream_name,amount_gbp,services,areas\n" + streams,
                          total=105e6, manifest="[plan]\nyears = 2\n")
    result = run_plan(folder)
    return result, result.plan_lp.lp, result.solution


def test_a_rule_whose_relaxation_only_adds_columns_that_price_out_is_proven_free_without_a_re_solve(tmp_path):
    from allocator.analysis.plan import rule_costs, without
    from allocator.model import plan as pm
    from allocator.model.resolve import still_optimal

    result, lp, solution = two_year_plan(tmp_path, "ph,Grant,80000000,all,\nfp,Falls grant,20000000,falls_prevention,\n"
                                         "hv,HV grant,5000000,health_visiting,\n")
    built = {rule: pm.build_plan(without(result.scenario, rule)) for rule in ("carry_over", "stream:hv", "stream:fp")}
    for rule in ("carry_over", "stream:hv"):  # each may now pay for more (columns added); none would enter
        assert built[rule].lp.n_cols > lp.n_cols
        assert still_optimal(lp, solution, built[rule].lp), rule
        assert pm.solve_plan(built[rule]).objective == pytest.approx(solution.objective, rel=1e-9)
    assert built["stream:fp"].lp.n_cols > lp.n_cols
    assert not still_optimal(lp, solution, built["stream:fp"].lp)  # the falls ring-fence binds: columns would enter
    assert not still_optimal(lp, dataclasses.replace(solution, row_dual=-solution.row_dual), built["stream:hv"].lp)
    assert not still_optimal(lp, solution, dataclasses.replace(
        built["stream:hv"].lp, cost=built["stream:hv"].lp.cost * 1.01))  # the old columns' costs changed
    costs = rule_costs(result).set_index("rule")["cost"]
    assert costs["carry_over"] == 0.0 and costs["stream:hv"] == 0.0 and costs["stream:fp"] > 1e-3 * result.health


def test_a_stream_limited_to_some_areas_relaxed_keeps_the_lp_rows_and_is_proven_free(tmp_path):
    from allocator.analysis.plan import rule_costs, without
    from allocator.model import plan as pm
    from allocator.model.resolve import still_optimal

    result, lp, solution = two_year_plan(tmp_path, "ph,Grant,99000000,all,\nhv,HV grant,5000000,health_visiting,"
                                         "imd_quintile=1\nfp,Falls grant,1000000,falls_prevention,\n")
    for rule in ("stream:hv", "streams"):
        relaxed = without(result.scenario, rule)
        built = pm.build_plan(relaxed)
        # the areas the grant was limited to still split the LP's classes: its rows, and columns added
        assert built.lp.n_rows == lp.n_rows and built.lp.n_cols > lp.n_cols, rule
        assert still_optimal(lp, solution, built.lp), rule
        # ... and it is the same problem as the grant free to pay for any area, without the split
        plain = relaxed.with_(streams=tuple(dataclasses.replace(f, class_areas=None) for f in relaxed.streams))
        assert pm.build_plan(plain).lp.n_rows < lp.n_rows
        assert run_plan(plain).solution.objective == pytest.approx(solution.objective, rel=1e-9)
    assert (rule_costs(result)["cost"] == 0.0).all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=hs.data())
def test_a_rule_proven_free_without_a_re_solve_costs_nothing_when_re_solved(quickstart, data):
    from allocator.analysis.plan import without
    from allocator.model import plan as pm
    from allocator.model.resolve import still_optimal

    s = data.draw(plans(quickstart))
    try:
        result = run_plan(s)
    except InfeasibleError:
        return
    rules = ["carry_over", "streams", *(f"stream:{f.id}" for f in s.streams)]
    for rule in rules:
        relaxed = without(s, rule)
        if relaxed is None:
            continue
        built = pm.build_plan(relaxed)
        if still_optimal(result.plan_lp.lp, result.solution, built.lp):
            note(f"{rule}: proven free")
            assert pm.solve_plan(built).objective == pytest.approx(result.solution.objective, rel=1e-7, abs=1e-6)

def test_one_year_commands_refuse_a_plan_of_several_years_by_name(tmp_path):
    folder = scenario_dir(tmp_path, manifest="[plan]\nyears = 2\n")
    for command in (["compare", str(folder)], ["sweep", str(folder), "--vary", "budget=90e6:110e6:2",
                                                "--out", str(tmp_path / "sweep")]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        assert "plan of 2 years" in result.output and "Traceback" not in result.output


def test_write_lp_of_a_plan_writes_the_whole_plan_and_cbc_solves_it_too(tmp_path):
    folder = scenario_dir(tmp_path, manifest="[pace_of_change]\nmax_decrease = 0.05\nmax_increase = 0.15\n"
                          "[plan]\nyears = 3\nbudget_growth = 0.02\n")
    written = tmp_path / "plan.lp"
    result = CliRunner().invoke(main, ["run", str(folder), "--write-lp", str(written)])
    assert result.exit_code == 0, result.output
    text = written.read_text()
    assert "pace_min(" in text and "y3." in text  # the years' rows and the rows that tie them
    highs, cbc = run_plan(folder), run_plan(folder, solver="cbc")
    assert cbc.health == pytest.approx(highs.health, rel=1e-6)


def test_a_stream_with_no_money_in_a_year_has_no_price_there(tmp_path):
    folder = scenario_dir(tmp_path, "stream_id,stream_name,amount_gbp,services,from_year,to_year\n"
                          "ph,Grant,95000000,all,,\nhv,HV grant,5000000,health_visiting,1,2\n", manifest="[plan]\nyears = 3\n")
    s = allocator.load(folder)
    assert s.streams[1].amounts[2] == 0  # ended, so year 3's total is the grant alone
    table = run_plan(folder).tables["plan_streams"].set_index(["year", "stream_id"])
    assert np.isnan(table.loc[("Year 3", "hv"), "price_per_gbp"])
    assert table.loc[("Year 3", "ph"), "relative_to_best"] == pytest.approx(1.0)
    assert np.isfinite(table.loc[("Year 2", "hv"), "price_per_gbp"])
