"""SII and gap reductions as a MILP over the relaxation in suffix form (`allocator.model.suffix_milp`).

Where the Lagrangian bound of `gradient_bound` proves nothing, the MILP is searched over the
relaxation, with binaries only where segments fill out of order and equal-need lines free among
themselves.  Checked against HiGHS's branch and bound on every fill binary of the rows form with no
gap (a brute-force reference): the optimum within the MIP gap (never above the reference's), every
line in order and every row met; the attainable limit the same way; and on england-la (bundled), a
reduction the bound cannot prove, met from the allocation itself.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import allocator
from allocator.analysis.frontier import reduction
from allocator.errors import InfeasibleError, SolverError
from allocator.model import diagnose, equity, gradient_bound, suffix_milp
from allocator.model.highs import MIP_REL_GAP, highs_model, new_highs
from allocator.model.lp import build
from tests import strategies as gen
from tests.test_thresholds import _brute_force

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _rows_form_limit(scenario, rule: str, moved: bool = False) -> float:
    """The limit by the MILP in rows form (neither path over the relaxation); ``moved``: the most
    the measure moves in the baseline's direction, even past zero (not the limit when it does)."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(gradient_bound, "applies", lambda s: False)
        return (diagnose._reduction_limit if moved else diagnose.reduction_limit)(scenario, rule)


def _as_the_pipeline_reads_it(asked, objective: float, got: float) -> float:
    """The brute-force optimum the pipeline's ``got`` is checked against: ``objective`` (the row
    alone) if ``got`` reaches it, else the optimum with each reduction's mirror row too (an
    allocation that turns the gradient round further than the size asked is not a reduction: the
    pipeline adds the mirror row when its first allocation does)."""
    if got == pytest.approx(objective, rel=2 * MIP_REL_GAP):
        return objective
    with equity.mirrored():
        status, mirrored = _brute_force(build(asked))
    assert status == "Optimal"
    event("the optimum with the mirror row")
    return mirrored


def _with_a_limit(spec, rule: str):
    """The drawn scenario and the most ``rule`` can ask of it (rows form), or (None, None) where
    there is none to speak of."""
    scenario = allocator.load(gen.write(spec, gen.fresh_folder())).with_(**{rule: 0.0})
    try:
        limit = _rows_form_limit(scenario, rule)
    except (InfeasibleError, SolverError):
        event("no limit")
        return None, None
    if not limit > 1e-6:  # below this, HiGHS's row tolerances (1e-7 of each row's scale) decide
        event("the gradient cannot narrow")
        return None, None
    return scenario, limit


def _unproven(found: gradient_bound.Attempt) -> gradient_bound.Attempt:
    """An attempt with its proof set aside, as where the Lagrangian bound stays apart."""
    return gradient_bound.Attempt(lp=found.lp, incumbent=found.incumbent, bound=found.bound, first=found.first)


@settings(max_examples=gen.examples(50), **SETTINGS)
@given(gen.scenario_specs(max_areas=10, max_services=3, objective="health-gain", proportionality="monotone",
                          sloped=False),
       st.sampled_from(("sii_reduction", "gap_reduction")), st.sampled_from((0.5, 0.9, 1.0)))
def test_the_milp_over_the_relaxation_equals_the_brute_force_milp(spec, rule, share):
    """With and without a pace of change and ties in need, the relaxation proven or not."""
    scenario, limit = _with_a_limit(spec, rule)
    if scenario is None:
        return
    # at the limit less HiGHS's row tolerance: the limit is found at 1e-7, the brute force checks at 1e-9
    asked = scenario.with_(**{rule: min(share * limit, limit - 1e-7 * max(1.0, limit))})
    lp = build(asked)
    status, objective = _brute_force(lp) if lp.integrality is not None else ("Optimal", None)
    if objective is None:
        from allocator.model.solver import solve
        objective = solve(lp).objective
    assert status == "Optimal"
    start = gradient_bound.attempt(asked)
    if start.first is None or not suffix_milp.applies(start.lp):
        event("merged lines: not this model" if start.lp is not None else "no relaxation")
        return
    need = start.lp.groups.need
    event("ties in need" if any(np.any(np.diff(need[o]) == 0) for o in start.lp.groups.order) else "no ties")
    solved = suffix_milp.solve(start.lp, start.first, bound=start.bound)
    if solved is None:  # nothing in order within the gap: left to the rows form, which must agree
        event("left to the rows form")
        with pytest.MonkeyPatch.context() as m:
            real = gradient_bound.attempt
            m.setattr(gradient_bound, "attempt", lambda *a, **k: _unproven(real(*a, **k)))
            result = allocator.run(asked)
        reference = _as_the_pipeline_reads_it(asked, objective, result.solution.objective)
        assert result.solution.objective == pytest.approx(reference, rel=2 * MIP_REL_GAP)
        return
    milp, found = solved
    event("proven by strong branching by hand" if "by hand" in found.solver else "proven by HiGHS")
    x = found.x[:start.lp.n_cols]
    assert not suffix_milp.out_of_order(start.lp, x)  # every line's segments in order
    activity = start.lp.matrix @ x
    scale = np.maximum(1.0, abs(start.lp.matrix) @ np.abs(x))
    assert np.all(activity >= start.lp.row_lower - 1e-7 * scale)
    assert np.all(activity <= start.lp.row_upper + 1e-7 * scale)
    assert found.objective <= objective + 1e-6 * max(1.0, abs(objective))  # an allocation the MILP allows
    assert found.objective >= objective - 2 * MIP_REL_GAP * max(1.0, abs(objective))  # ... within the gap
    with pytest.MonkeyPatch.context() as m:  # the pipeline on this path: every invariant re-checked
        real = gradient_bound.attempt
        m.setattr(gradient_bound, "attempt", lambda *a, **k: _unproven(real(*a, **k)))
        result = allocator.run(asked)
    assert "MILP in suffix form" in result.solution.solver
    reference = _as_the_pipeline_reads_it(asked, found.objective, result.solution.objective)
    assert result.solution.objective == pytest.approx(reference, rel=2 * MIP_REL_GAP)
    # and the limit, searched the same way
    tried = diagnose.limit_attempt(scenario, rule)
    if tried is not None and tried.solution is None and tried.first is not None and suffix_milp.applies(tried.lp):
        searched = diagnose._searched_limit(scenario, rule, tried, None)
        if searched is None:
            event("limit left to the rows form")
            return
        moved = _rows_form_limit(scenario, rule, moved=True)  # unclamped, as searched
        offset = diagnose.reduction_offset(scenario, rule)  # both within the MIP gap of the row's value
        assert searched == pytest.approx(moved, abs=2 * MIP_REL_GAP * max(1.0, abs(offset - moved)) + 1e-6)


def _exact_milp(milp) -> float:
    """The MILP's optimum by HiGHS's branch and bound with no gap (own units)."""
    import highspy

    h = new_highs()
    model = highs_model(milp)
    model.integrality_ = [highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
                          for v in milp.integrality]
    h.passModel(model)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("mip_feasibility_tolerance", 1e-9)  # at 1e-6, a binary of 1e-6 times a big room
    h.setOptionValue("primal_feasibility_tolerance", 1e-9)  # lets a segment start: optima above the LP's
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    value = float(h.getInfo().objective_function_value) / milp.objective_scale
    return -value if milp.maximize else value


def _relaxed_optimum(milp) -> np.ndarray:
    from allocator.model.solver import solve

    return solve(dataclasses.replace(milp, integrality=None), method="simplex").x


@settings(max_examples=gen.examples(60), **SETTINGS)
@given(gen.scenario_specs(max_areas=10, max_services=3, objective="health-gain", proportionality="monotone",
                          sloped=False),
       st.sampled_from(("sii_reduction", "gap_reduction")), st.sampled_from((0.6, 0.9, 1.0)))
def test_strong_branching_by_hand_agrees_with_highs_on_the_same_milp(spec, rule, share):
    """`allocator.model.one_branch` on a round's MILP (binaries where the relaxation fills out of
    order): a proven answer is an allocation in order of that MILP (never above its exact optimum by
    HiGHS's branch and bound with no gap), its bound at or above that optimum, the two within the MIP
    gap; a search left for the next round or stopped still has a bound that holds, and an LP
    solution never above the relaxation."""
    scenario, limit = _with_a_limit(spec, rule)
    if scenario is None:
        return
    start = gradient_bound.attempt(scenario.with_(**{rule: share * limit}))
    if start.first is None or not suffix_milp.applies(start.lp):
        event("no MILP over the relaxation")
        return
    lines = sorted(set(suffix_milp.out_of_order(start.lp, start.first, suffix_milp.FIRST)))
    if not lines:
        event("the relaxation fills in order")
        return
    chains = suffix_milp._chains(start.lp)
    milp = suffix_milp.model(start.lp, lines)
    fill, D = suffix_milp._fill_form(milp, chains)
    try:
        exact = _exact_milp(fill)
    except AssertionError:
        event("no allocation in this MILP")
        return
    kind, hand, _, _ = suffix_milp._branched(start.lp, milp, fill, D, chains, lines, None, time.perf_counter())
    tol = 1e-6 * max(1.0, abs(exact))
    event(kind)
    if hand is None:
        return
    assert hand.bound >= exact - tol  # a bound that holds, whatever the search's end
    if kind == "more":  # an LP solution of the round's MILP: no better than its relaxation
        assert suffix_milp._objective(milp, hand.x) <= suffix_milp._objective(fill, _relaxed_optimum(fill)) + tol
        return
    if hand.x is None:
        return
    assert not suffix_milp.out_of_order(start.lp, hand.x[:start.lp.n_cols])
    assert hand.objective <= exact + tol  # an allocation the MILP allows
    if kind == "proven":
        assert hand.bound - hand.objective <= MIP_REL_GAP * abs(hand.objective) + tol


def test_the_pipeline_searches_the_milp_when_the_bound_proves_nothing(monkeypatch):
    """england-la at an SII reduction of 0.45: its relaxation fills hundreds of lines out of order
    and the bound stays apart; the MILP over the relaxation is proven within the MIP gap."""
    s = allocator.load(SCENARIOS / "england-la").with_(objective="health-gain", sii_reduction=0.45)
    result = allocator.run(s, time_limit=120)  # every invariant re-checked from the allocation
    assert "MILP in suffix form" in result.solution.solver
    assert "strong branching by hand" in result.solution.solver  # not HiGHS's search (twice as long)
    assert reduction(result, "sii") >= 0.45 - 1e-7
    solution = result.solution
    assert solution.bound is not None
    assert solution.bound - solution.objective <= MIP_REL_GAP * abs(solution.objective)
    found = gradient_bound.attempt(s)
    assert found.solution is None and found.bound >= solution.objective  # the Lagrangian bound holds


def test_a_stopped_search_says_what_it_found_and_the_bound():
    s = allocator.load(SCENARIOS / "england-la").with_(objective="health-gain", sii_reduction=0.48)
    found = gradient_bound.attempt(s)
    with pytest.raises(SolverError, match="stopped at the time limit") as info:
        suffix_milp.solve(found.lp, found.first, time_limit=0.5, bound=found.bound)
    assert info.value.bound is not None and info.value.bound <= found.bound + 1e-6 * abs(found.bound)


def test_equal_need_lines_lie_in_any_order():
    """Two lines of equal need: the relaxation's chain orders them, the MILP over it does not."""
    s = allocator.load(SCENARIOS / "england-la").with_(objective="health-gain", sii_reduction=0.45)
    lp = build(s, relaxed=True)
    ties = [(mine, cols) for mine, cols, _, _ in lp.spend_sets[1] if np.any(np.diff(lp.groups.need[mine]) == 0)]
    assert ties  # england-la has equal-need districts in three services
    free = suffix_milp.model(lp, [])
    mine, cols = ties[0]
    at = int(np.flatnonzero(np.diff(lp.groups.need[mine]) == 0)[0]) + 1
    assert free.col_lower[cols[at]] < 0 and lp.col_lower[cols[at]] == 0
    assert free.n_rows > lp.n_rows  # ... each kept between the levels of need around it


def test_a_larger_round_starts_from_the_last_roots_basis():
    """england-la's gap limit: the relaxation's lines out of order, then every line of two more
    runs.  The first round's root basis, carried to the larger MILP's LP (new binaries at 0, their
    rows basic), is accepted as it stands and leads dual simplex to the optimum found from scratch,
    in fewer iterations than from scratch."""
    import highspy

    from allocator.model import one_branch
    from allocator.model.highs import pass_model

    s = allocator.load(SCENARIOS / "england-la").with_(objective="health-gain", sii_reduction=None,
                                                       gap_reduction=0.0)
    tried = diagnose.limit_attempt(s, "gap_reduction")
    lp, chains = tried.lp, suffix_milp._chains(tried.lp)
    lines = sorted(set(suffix_milp.out_of_order(lp, tried.first, suffix_milp.FIRST)))
    runs = {(c, k) for c, _, k in lines}
    more = [(c, t, k) for c in range(len(chains)) for k in range(chains[c][1].shape[0] - 1)
            for t in range(chains[c][1].shape[1]) if (c, k) not in runs][:400]
    assert lines and more

    def root(lines_, basis=None):
        fill, _ = suffix_milp._fill_form(suffix_milp.model(lp, lines_), chains)
        h = new_highs()
        relaxed = dataclasses.replace(fill, integrality=None)
        pass_model(h, relaxed)
        h.setOptionValue("solver", "simplex")
        if basis is not None:
            assert h.setBasis(basis) == highspy.HighsStatus.kOk
        h.run()
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        return fill, h.getBasis(), one_branch._units(fill, h), h.getInfo().simplex_iteration_count

    fill, basis, _, _ = root(lines)
    larger = sorted(set(lines) | set(more))
    carried = suffix_milp._carried((lines, fill, basis), larger, suffix_milp._fill_form(
        suffix_milp.model(lp, larger), chains)[0])
    assert carried is not None
    _, _, warm, warm_iterations = root(larger, carried)
    _, _, cold, cold_iterations = root(larger)
    assert warm == pytest.approx(cold, rel=1e-9)
    assert warm_iterations < cold_iterations


def test_repairs_in_one_solve_share_their_lp_and_start_from_the_last_basis(monkeypatch):
    """england-la at a gap reduction of 0.45: the repair LP (`_in_order_point`, each line held in
    its segment) is built once for the relaxation and, inside a `warm_starts` block (which `solve`
    opens for itself), a second repair near the same allocation starts from the first one's basis:
    an allocation as good in fewer simplex iterations than the first, which started cold."""
    from allocator.model import solver
    from allocator.model.highs import in_warm_starts, warm_starts

    s = allocator.load(SCENARIOS / "england-la").with_(objective="health-gain", gap_reduction=0.45)
    found = gradient_bound.attempt(s)
    lp, chains = found.lp, suffix_milp._chains(found.lp)
    lines = sorted(set(suffix_milp.out_of_order(lp, found.first, suffix_milp.FIRST)))
    iterations = []
    solve = solver._solve_highs

    def counted(*args, **kwargs):
        solution = solve(*args, **kwargs)
        iterations.append(solution.iterations)
        return solution

    monkeypatch.setattr(solver, "_solve_highs", counted)
    with warm_starts():
        form = suffix_milp._repair_form(lp, chains)
        assert suffix_milp._repair_form(lp, chains) is form  # built once for this LP ...
        other = dataclasses.replace(lp)
        assert suffix_milp._repair_form(other, chains) is not form  # ... and again for another
        points = [suffix_milp._in_order_point(lp, found.first, chains, lines, None, time.perf_counter())
                  for _ in range(2)]
    assert points[0] is not None and points[1] is not None
    values = [float(lp.cost @ point[:lp.n_cols]) for point in points]
    assert values[1] == pytest.approx(values[0], rel=1e-9)
    assert len(iterations) == 2 and iterations[1] < iterations[0]
    seen = []
    monkeypatch.setattr(suffix_milp, "_rounds", lambda *args: seen.append(in_warm_starts()))
    suffix_milp.solve(lp, found.first)  # outside a block: in one of its own
    assert seen == [True]


@pytest.mark.parametrize("short", [False, True])
def test_a_larger_round_replays_the_last_rounds_branchings(monkeypatch, short):
    """england-la at an SII reduction of 0.45: the search's branchings over the relaxation's lines,
    replayed on a larger MILP (every line of two more runs) without strong branching, reach the same
    proven optimum as that MILP searched from scratch, trying fewer binaries; the replayed
    branchings come first, on the same lines, from the same nodes.  ``short``: HiGHS leaves the
    first replayed branching's children unsolved, and the search strong-branches there instead of
    giving up (the same optimum, another binary first)."""
    from allocator.model import one_branch

    s = allocator.load(SCENARIOS / "england-la").with_(objective="health-gain", sii_reduction=0.45)
    found = gradient_bound.attempt(s)
    lp, chains = found.lp, suffix_milp._chains(found.lp)
    lines = sorted(set(suffix_milp.out_of_order(lp, found.first, suffix_milp.FIRST)))
    runs = {(c, k) for c, _, k in lines}
    more = [(c, t, k) for c in range(len(chains)) for k in range(chains[c][1].shape[0] - 1)
            for t in range(chains[c][1].shape[1]) if (c, k) not in runs][:200]

    def searched(lines_, tree=()):
        milp = suffix_milp.model(lp, lines_)
        fill, D = suffix_milp._fill_form(milp, chains)
        return suffix_milp._branched(lp, milp, fill, D, chains, lines_, None, time.perf_counter(), tree=tree)

    _, _, _, tree = searched(lines)
    assert tree  # the search branched
    larger = sorted(set(lines) | set(more))
    scratch_kind, scratch, _, _ = searched(larger)
    if short:  # the first replayed binary's children, wherever tried, stop short
        column = suffix_milp.model(lp, larger).n_cols - len(larger) + larger.index(tree[0][1])
        child = one_branch._child
        monkeypatch.setattr(one_branch, "_child", lambda h, milp, basis, fixed: one_branch._UNKNOWN
                            if fixed[-1][0] == column else child(h, milp, basis, fixed))
    kind, replayed, _, again = searched(larger, tree)
    assert kind == scratch_kind == "proven"
    assert replayed.bound == pytest.approx(scratch.bound, rel=MIP_REL_GAP)
    assert replayed.objective == pytest.approx(scratch.objective, rel=MIP_REL_GAP)
    if short:
        assert again[0][1] != tree[0][1]
        return
    assert [line for _, line in again[:len(tree)]] == [line for _, line in tree]
    assert [set(fixed) for fixed, _ in again[:len(tree)]] == [set(fixed) for fixed, _ in tree]
    tried = [int(re.search(r"([\d,]+) binaries tried", name).group(1).replace(",", ""))
             for name in (replayed.solver, scratch.solver)]
    assert tried[0] < tried[1]


def test_the_next_milp_of_a_frontier_replays_the_branchings_before():
    """england-la's gap reductions of 0.435 and 0.447 (two points of its frontier): inside a
    `warm_starts` block the second MILP starts with the first's lines and branchings, and reaches
    the optimum found from scratch (within the MIP gap, every line in order), trying fewer binaries."""
    from allocator.model.highs import hint, matrix_key, warm_starts

    s = allocator.load(SCENARIOS / "england-la").with_(objective="health-gain", sii_reduction=None)
    first, second = (gradient_bound.attempt(s.with_(gap_reduction=level)) for level in (0.435, 0.447))
    _, cold = suffix_milp.solve(second.lp, second.first)
    with warm_starts():
        suffix_milp.solve(first.lp, first.first)
        assert hint("suffix_milp tree", matrix_key(first.lp))
        milp, warm = suffix_milp.solve(second.lp, second.first)
    assert warm.objective == pytest.approx(cold.objective, rel=MIP_REL_GAP)
    assert not suffix_milp.out_of_order(second.lp, warm.x[:second.lp.n_cols])
    tried = [int(re.search(r"([\d,]+) binaries tried", found.solver).group(1).replace(",", ""))
             for found in (warm, cold)]
    assert tried[0] < tried[1]


def test_the_chosen_children_meet_the_milps_own_feasibility_tolerance(monkeypatch):
    """england-la's pace of change asks HiGHS for a primal feasibility of 1e-9; strong branching
    scores its candidates at 1e-7 (`one_branch.SCORING`), then solves the chosen children again at
    1e-9 (`_exact`): every child kept meets every row and bound of the MILP to 1e-9 (at 1e-7 alone
    some miss by 5e-8 to 1e-7)."""
    from allocator.model import one_branch

    s = allocator.load(SCENARIOS / "england-la").with_(objective="health-gain", sii_reduction=None,
                                                       gap_reduction=0.447)
    found = gradient_bound.attempt(s)
    lp, chains = found.lp, suffix_milp._chains(found.lp)
    assert lp.feasibility_tolerance is not None and lp.feasibility_tolerance < one_branch.SCORING
    lines = sorted(set(suffix_milp.out_of_order(lp, found.first, suffix_milp.FIRST)))
    milp = suffix_milp.model(lp, lines)
    fill, D = suffix_milp._fill_form(milp, chains)
    missed = []
    exact = one_branch._Search._exact

    def checked(search, kept):
        again = exact(search, kept)
        for _, (_, x, _) in again or []:
            activity = fill.matrix @ x
            missed.append(max(np.max(fill.row_lower - activity), np.max(activity - fill.row_upper),
                              np.max(fill.col_lower - x), np.max(x - fill.col_upper)))
        return again

    monkeypatch.setattr(one_branch._Search, "_exact", checked)
    suffix_milp._branched(lp, milp, fill, D, chains, lines, None, time.perf_counter())
    assert missed and max(missed) <= lp.feasibility_tolerance


def test_a_flat_branching_dives_for_an_allocation_instead_of_strong_branching_on(monkeypatch):
    """england-la at a gap reduction of 0.43: a node's strong branching finds no binary that moves
    its bound (every candidate leaves one child as good as the node), so only an allocation as good
    as the bound can prove the MILP.  The search dives for one (a branching of one candidate a
    step, both children kept) and proves the same optimum, within the MIP gap, as the search that
    strong-branches on, with no more binaries tried; every invariant re-checked from the allocation."""
    from allocator.model import one_branch

    s = allocator.load(SCENARIOS / "england-la").with_(objective="health-gain", gap_reduction=0.43)
    dives = []
    dive = one_branch._Search.dive
    monkeypatch.setattr(one_branch._Search, "dive", lambda self, incomplete: dives.append(self.flat.bound)
                        or dive(self, incomplete))
    dived = allocator.run(s, time_limit=120)
    assert dives
    monkeypatch.setattr(one_branch, "FLAT", -1.0)  # no branching is flat: strong branching throughout
    strong = allocator.run(s, time_limit=120)
    for result in (dived, strong):
        solution = result.solution
        assert "strong branching by hand" in solution.solver
        assert reduction(result, "gap") >= 0.43 - 1e-7
        assert solution.bound - solution.objective <= MIP_REL_GAP * abs(solution.objective)
    assert dived.solution.objective == pytest.approx(strong.solution.objective, rel=MIP_REL_GAP)
    tried = [sum(int(n.replace(",", "")) for n in re.findall(r"([\d,]+) binaries tried", r.solution.solver))
             for r in (dived, strong)]
    # no more binaries tried than strong branching throughout (session 29: fewer; from session 31's
    # fresh environment both prove the optimum in the first round's 15, the dive's node as good as
    # the bound at once, at 2b8c305 as at its successors)
    assert tried[0] <= tried[1]


def test_a_child_no_better_than_the_best_allocation_stops_there():
    """england-la at an SII reduction of 0.45, the root LP of the MILP over the relaxation's lines:
    with HiGHS's objective bound at the best allocation's objective (`one_branch._Search._cutoff`), a
    child LP whose optimum is worse stops short of it, said to hold no better allocation (None), in
    fewer simplex iterations than solving it; a child whose optimum is better is solved exactly as
    without the bound."""
    import highspy

    from allocator.model import one_branch
    from allocator.model.highs import pass_model

    s = allocator.load(SCENARIOS / "england-la").with_(objective="health-gain", sii_reduction=0.45)
    found = gradient_bound.attempt(s)
    lp, chains = found.lp, suffix_milp._chains(found.lp)
    lines = sorted(set(suffix_milp.out_of_order(lp, found.first, suffix_milp.FIRST)))
    fill, _ = suffix_milp._fill_form(suffix_milp.model(lp, lines), chains)
    relaxed = dataclasses.replace(fill, integrality=None)
    h = new_highs()
    pass_model(h, relaxed)
    h.setOptionValue("solver", "simplex")
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    root, basis = one_branch._units(fill, h), h.getBasis()
    x = np.asarray(h.getSolution().col_value)
    binaries = np.flatnonzero(fill.integrality == 1)
    candidates = one_branch._candidates(x, binaries, [(c, k) for c, _, k in lines], set())
    one_branch._for_children(h, relaxed)

    class Counted:  # the instance, its iterations read before `_child` restores the bounds
        def __getattr__(self, name):
            return getattr(h, name)

        def run(self):
            status = h.run()
            self.iterations = h.getInfo().simplex_iteration_count
            return status

    counted = Counted()

    def child(j: int, cutoff: float = np.inf):
        h.setOptionValue("objective_bound", cutoff)
        solved = one_branch._child(counted, fill, basis, ((j, 0.0),))
        return solved, counted.iterations

    solved = [(j, child(j)) for j in candidates[:6]]
    worse = max((s for s in solved if s[1][0] is not None), key=lambda s: s[1][1])  # the most iterations
    (j, ((value, _, _), iterations)) = worse
    assert fill.maximize and value < root
    between = (value + root) / 2  # an allocation this good: the child cannot beat it
    cutoff = -between * fill.objective_scale  # HiGHS minimises the scaled cost
    stopped, stopped_iterations = child(j, cutoff)
    assert stopped is None and stopped_iterations < iterations
    below = -(value - 1e-3 * abs(value)) * fill.objective_scale  # an allocation worse than the child's bound
    again, _ = child(j, below)
    assert again is not None and again[0] == pytest.approx(value, rel=1e-9)
