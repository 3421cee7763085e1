"""Tests for allocator.model.lp: curve pieces, readable and unique names, the LP file."""

from __future__ import annotations

import re
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pulp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import allocator
from allocator.model.lp import build, pieces
from allocator.model.solver import write_lp
from tests import strategies as gen

INF = np.inf
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                       HealthCheck.data_too_large])
CURVE = (np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0, 3.0]))  # slopes 2, 1, then flat


# ------------------------------------------------------------------ pieces


def _as_lists(p):
    return p.lengths.tolist(), p.slopes.tolist(), p.gain_at_floor


def test_pieces_of_the_whole_curve_end_in_an_unbounded_flat_piece():
    assert _as_lists(pieces(*CURVE, 0.0, INF)) == ([1.0, 1.0, INF], [2.0, 1.0, 0.0], 0.0)


def test_pieces_are_cut_at_the_floor_and_the_cap():
    assert _as_lists(pieces(*CURVE, 0.5, 4.0)) == ([0.5, 1.0, 2.0], [2.0, 1.0, 0.0], 1.0)
    assert _as_lists(pieces(*CURVE, 0.25, 1.5)) == ([0.75, 0.5], [2.0, 1.0], 0.5)


def test_a_floor_on_a_knot_starts_at_the_next_piece():
    assert _as_lists(pieces(*CURVE, 1.0, INF)) == ([1.0, INF], [1.0, 0.0], 2.0)


def test_a_cap_inside_the_first_piece_leaves_one_piece():
    assert _as_lists(pieces(*CURVE, 0.0, 0.5)) == ([0.5], [2.0], 0.0)


def test_a_floor_past_the_last_knot_leaves_only_the_flat_tail():
    assert _as_lists(pieces(*CURVE, 3.0, INF)) == ([INF], [0.0], 3.0)
    assert _as_lists(pieces(*CURVE, 3.0, 5.0)) == ([2.0], [0.0], 3.0)


def test_floor_equal_to_cap_gives_one_empty_piece():
    lengths, slopes, at_floor = _as_lists(pieces(*CURVE, 1.5, 1.5))
    assert lengths == [0.0] and at_floor == 2.5


def test_equal_slopes_are_merged():
    units, gains = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 2.0, 4.0, 5.0])  # 2, 2, 1
    assert _as_lists(pieces(units, gains, 0.0, INF)) == ([2.0, 1.0, INF], [2.0, 1.0, 0.0], 0.0)
    assert _as_lists(pieces(units, gains, 0.5, 1.5)) == ([1.0], [2.0], 1.0)


def test_a_curve_ending_flat_merges_into_the_unbounded_tail():
    units, gains = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 1.0])  # 1, then 0 and flat
    assert _as_lists(pieces(units, gains, 0.0, INF)) == ([1.0, INF], [1.0, 0.0], 0.0)


def test_a_flat_curve_is_one_piece():
    assert _as_lists(pieces(np.array([0.0, 1.0]), np.array([0.0, 0.0]), 0.0, INF)) == ([INF], [0.0], 0.0)


@st.composite
def curves_and_limits(draw):
    n = draw(st.integers(1, 5))
    lengths = draw(st.lists(st.sampled_from(gen.LENGTHS), min_size=n, max_size=n))
    slopes = sorted(draw(st.lists(st.sampled_from(gen.SLOPES), min_size=n, max_size=n)), reverse=True)
    units = np.concatenate([[0.0], np.cumsum(lengths)])
    gains = np.concatenate([[0.0], np.cumsum(np.multiply(slopes, lengths))])
    grid = st.sampled_from(np.arange(0, units[-1] + 1.5, 0.25).tolist())
    floor = draw(grid)
    cap = draw(st.one_of(st.just(INF), grid.filter(lambda c: c >= floor)))
    return units, gains, floor, cap


@settings(max_examples=gen.examples(200), deadline=None)
@given(curves_and_limits())
def test_pieces_rebuild_the_curve_between_floor_and_cap(case):
    units, gains, floor, cap = case
    p = pieces(units, gains, floor, cap)
    assert p.gain_at_floor == pytest.approx(np.interp(floor, units, gains))
    assert np.all(p.lengths >= 0)
    assert np.all(np.diff(p.slopes) < 0), "equal neighbouring slopes must be merged"
    assert np.sum(p.lengths) == pytest.approx(cap - floor) if np.isfinite(cap) else np.isinf(p.lengths[-1])
    top = cap if np.isfinite(cap) else units[-1] + 2.0
    starts = np.concatenate([[0.0], np.cumsum(p.lengths)[:-1]])
    for i in np.linspace(floor, top, 17):
        fill = np.clip(i - floor - starts, 0.0, p.lengths)
        assert p.gain_at_floor + np.dot(p.slopes, fill) == pytest.approx(np.interp(i, units, gains))


# ------------------------------------------------------------------ names

# Exact names are asserted only for plain alphanumeric ids, so that the tests do not
# depend on how other characters are escaped; other ids are checked for uniqueness.


def _base(ties: bool = False, **changes) -> gen.Spec:
    """Five areas, two services ('visits' for everyone, 'checks' for the young), no cap.

    With ``ties``, E01 and E03 tie in need and value per pound (one group, labelled after
    E01), and E02 and E05 tie in need only (E05 costs more, so it is worth less per pound).
    """
    pop = [10_000, 20_000, 10_000, 40_000, 30_000]
    dep = [1.0, 2.0, 1.0, 3.0, 2.0] if ties else [1.0, 2.0, 1.5, 3.0, 2.5]
    columns = {"population": pop, "cost_index": [1.0, 1.0, 1.0, 1.0, 1.25],
               "pop_young": [p // 5 for p in pop], "dep": dep, "imd": [5, 10, 15, 20, 25],
               "le": [75.0, 76.0, 77.0, 78.0, 79.0]}
    services = tuple(gen.ServiceSpec(
        service_id=sid, unit_cost=100.0, target=target, floor=0.5, cap=INF, need_model="need0",
        response_model="resp0", min_slope=None, budget_share=None)
        for sid, target in (("visits", "population"), ("checks", "pop_young")))
    spec = gen.Spec(
        area_ids=("E01", "E02", "E03", "E04", "E05"), columns=columns, services=services,
        need_models={"need0": gen.NeedSpec(0.0, (("dep", 1.0),), None)},
        response_models={"resp0": gen.ResponseSpec((0.0, 1.0, 2.0), (0.0, 0.02, 0.03), None)},
        budget=1.0, mode="exact", objective="health-gain", proportionality="monotone",
        min_slope=0.0, slope_column=False, tolerance=0.0, pace=None, baseline=None,
        locked_rows=(), share_column=False, quantiles=2, most_deprived="high", group_columns=(),
        witness=np.zeros((5, 2)))
    spec = spec.replace(**changes)
    witness = gen.unit_spend(spec) * 0.75  # every line between floor 0.5 and the curve's end
    return spec.replace(witness=witness, budget=float(witness.sum()))


def _lp(spec: gen.Spec):
    return build(allocator.load(gen.write(spec, gen.fresh_folder())))


NAME = re.compile(r"^[A-Za-z0-9_.(),]+$")  # what CBC's LP reader accepts, and readable


def _check_names(lp) -> tuple[list[str], list[str]]:
    cols, rows = lp.col_names(), lp.row_names()
    assert len(cols) == lp.n_cols and len(rows) == lp.n_rows
    assert all(NAME.match(n) for n in cols + rows), [n for n in cols + rows if not NAME.match(n)]
    assert len(set(cols)) == len(cols), "column names repeat"
    assert len(set(rows)) == len(rows), "row names repeat"
    return cols, rows


def _starting(names: list[str], prefix: str) -> list[str]:
    return [n for n in names if n.startswith(prefix)]


def test_suffix_formulation_names():
    lp = _lp(_base())
    assert set(lp.formulation.values()) == {"suffix"}
    cols, rows = _check_names(lp)
    assert rows[0] == "budget"
    # pieces above the floor 0.5: [0.5, 1], [1, 2], then flat without end (no chain row)
    assert {"chain(visits,1)", "chain(visits,2)", "chain(checks,1)", "chain(checks,2)"} <= set(rows)
    assert "chain(visits,3)" not in rows
    for area in ("E01", "E02", "E03", "E04", "E05"):
        assert f"raise(visits,1,from_{area})" in cols and f"raise(checks,3,from_{area})" in cols


def test_a_minimum_slope_in_suffix_form_is_one_row_per_need_step():
    lp = _lp(_base(min_slope=0.1))
    assert set(lp.formulation.values()) == {"suffix"}
    cols, rows = _check_names(lp)
    # need order E01 (1) < E03 (1.5) < E02 (2) < E05 (2.5) < E04 (3): a step at each but the first
    assert _starting(rows, "slope(visits,") == [
        "slope(visits,E03)", "slope(visits,E02)", "slope(visits,E05)", "slope(visits,E04)"]
    row = rows.index("slope(visits,E03)")
    entries = lp.matrix.tocsr()[row]
    assert sorted(cols[j] for j in entries.indices) == [
        "raise(visits,1,from_E03)", "raise(visits,2,from_E03)", "raise(visits,3,from_E03)"]
    visits = lp.groups.need[lp.groups.order[0]]  # need is scaled to a population-weighted mean of 1
    assert lp.row_lower[row] == pytest.approx(0.1 * (visits[1] - visits[0])) and visits[1] > visits[0]
    assert lp.feasibility_tolerance is not None and lp.feasibility_tolerance < 1e-7


@pytest.fixture
def rows_form(monkeypatch):
    """The rows formulation (pace of change and equity constraints use it) with a minimum slope."""
    import allocator.model.lp as lpmod

    monkeypatch.setattr(lpmod, "eligible_for_suffix", lambda s: np.zeros(s.n_services, bool))


def test_rows_formulation_names(rows_form):
    cols, rows = _check_names(_lp(_base(min_slope=0.1)))
    assert rows[0] == "budget"
    for area in ("E01", "E02", "E03", "E04", "E05"):
        assert {f"seg({area},visits,1)", f"seg({area},visits,2)", f"seg({area},checks,3)"} <= set(cols)
    # consecutive pairs in need order: E01 (1) < E03 (1.5) < E02 (2) < E05 (2.5) < E04 (3)
    assert _starting(rows, "order(visits,") == [
        "order(visits,E01,E03)", "order(visits,E03,E02)", "order(visits,E02,E05)",
        "order(visits,E05,E04)"]


def test_rows_formulation_names_with_ties_in_need(rows_form):
    cols, rows = _check_names(_lp(_base(ties=True, min_slope=0.1)))
    # need levels: {E01, E03} (one group), {E02, E05} (two groups), {E04}; the level with two
    # groups is separated from each neighbour by a 'level' column, not by pairwise rows
    assert not _starting(rows, "order(visits,")
    assert len(_starting(cols, "level(visits,")) == 2
    assert len(_starting(rows, "below(visits,")) == 3 and len(_starting(rows, "above(visits,")) == 3
    assert {"below(visits,E02)", "below(visits,E05)", "above(visits,E02)", "above(visits,E05)",
            "above(visits,E04)"} <= set(rows)
    assert _starting(rows, "below(visits,E01")  # the merged group is named after its first area
    assert len(_starting(cols, "seg(E01")) == 6 and not _starting(cols, "seg(E03")


def test_fair_share_names():
    cols, rows = _check_names(_lp(_base(objective="fair-share")))
    for area in ("E01", "E02", "E03", "E04", "E05"):
        for sid in ("visits", "checks"):
            assert f"over({area},{sid})" in cols and f"under({area},{sid})" in cols
            assert f"target({area},{sid})" in rows


def test_proportional_names():
    cols, rows = _check_names(_lp(_base(proportionality="proportional", tolerance=0.2)))
    assert {"scale(visits)", "scale(checks)"} <= set(cols)
    for area in ("E01", "E02", "E03", "E04", "E05"):
        assert {f"prop_lo({area},visits)", f"prop_hi({area},checks)"} <= set(rows)


def test_pace_of_change_names_name_every_area_and_every_line():
    spec = _base(ties=True)
    spec = spec.replace(pace=(0.5, 0.5), baseline=spec.witness.round(2))
    cols, rows = _check_names(_lp(spec))
    assert _starting(rows, "pace(") == [f"pace(E0{i})" for i in range(1, 6)]
    assert "seg(E03,visits,1)" in cols  # no grouping under a pace of change


def test_names_are_stable():
    spec = _base(ties=True, min_slope=0.1)
    first, second = _lp(spec), _lp(spec)
    assert first.col_names() == second.col_names()
    assert first.row_names() == second.row_names()


@settings(max_examples=gen.examples(40), **SETTINGS)
@given(gen.scenario_specs(max_areas=12))
def test_names_are_readable_and_unique_for_generated_scenarios(spec):
    _check_names(_lp(spec))


AWKWARD_IDS = [
    ("a", "b-1", "c", "b_1", "e"),  # differ only in punctuation
    ("E01", "E02", "E03", "E04", "E01_1"),  # E01 and E03 merge into a group labelled E01+1
    ("E01", "E02", "E03", "E04", "E01+1"),  # a merged group's label must not equal a real id
    ("Ynys Môn", "Gwynedd", "Conwy", "Powys", "Ceredigion"),  # not ASCII
    ("x(1)", "x,1", "x 1", "x.1", "x1"),  # name syntax
]


@pytest.mark.parametrize("ids", AWKWARD_IDS)
def test_names_are_unique_and_ascii_whatever_the_ids(ids):
    """Regression: ids that differ only in punctuation, or a merged group's 'id+N' label
    and an id 'id_N', gave repeated names (write_lp and solver='cbc' failed), and
    non-ASCII letters were kept (CBC's LP reader rejected them)."""
    for spec in (_base(ties=True, area_ids=ids),
                 _base(ties=True, area_ids=ids, objective="fair-share", min_slope=0.1)):
        _check_names(_lp(spec))


# ------------------------------------------------------------------ the LP file


def _cbc(path: Path, tmp: Path) -> tuple[float, list[str], str]:
    """Solve an LP file with the CBC binary PuLP ships: objective, named columns, log."""
    solution = tmp / "solution.txt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # PuLP 4 will move its CBC
        cbc = pulp.PULP_CBC_CMD().path
    done = subprocess.run([cbc, str(path), "solve", "solu", str(solution)],
                          capture_output=True, timeout=60)
    log = done.stdout.decode("utf-8", "replace")
    lines = solution.read_text(encoding="utf-8", errors="replace").splitlines()
    head = re.match(r"Optimal - objective value (\S+)", lines[0])
    assert head, lines[0]
    names = [line.split()[1] for line in lines[1:] if line.strip()]
    return float(head.group(1)), names, log


@settings(max_examples=gen.examples(25), **SETTINGS)
@given(gen.scenario_specs(max_areas=8, max_services=3))
def test_the_lp_file_reads_back_into_cbc_with_its_names_and_optimum(spec):
    result = allocator.run(gen.write(spec, gen.fresh_folder()))
    tmp = gen.fresh_folder()
    write_lp(result.lp, tmp / "model.lp")
    text = (tmp / "model.lp").read_text()
    assert ("max" if spec.objective == "health-gain" else "min") in text.splitlines()
    assert re.search(r"(?m)^\s*budget:", text)
    objective, names, log = _cbc(tmp / "model.lp", tmp)
    assert "Invalid" not in log and "illegal" not in log, log
    assert set(names) - {"__dummy"} <= set(result.lp.col_names())  # PuLP may add __dummy
    expected = result.solution.objective
    scale = max(abs(expected), abs(objective), spec.budget if spec.objective == "fair-share" else 0)
    # the LP file prints coefficients to 12 significant digits, CBC its objective to about
    # 8 decimal places (fewer significant digits for tiny values); and both solvers' optimality
    # tolerances (about 1e-7) apply to the scaled objective, i.e. 1e-7 / objective_scale in
    # its own units, which matters when the whole objective is tiny
    solver_tolerance = 1e-7 / result.lp.objective_scale
    assert abs(objective - expected) <= 1e-6 * scale + 1e-7 + solver_tolerance, (objective, expected)


@pytest.mark.parametrize("ids", AWKWARD_IDS)
def test_awkward_ids_survive_the_lp_file_and_cbc(ids, tmp_path):
    spec = _base(ties=True, area_ids=ids)
    folder = gen.write(spec, gen.fresh_folder())
    highs = allocator.run(folder)
    write_lp(highs.lp, tmp_path / "model.lp")
    objective, names, log = _cbc(tmp_path / "model.lp", tmp_path)
    assert "Invalid" not in log and "illegal" not in log, log
    assert set(names) - {"__dummy"} <= set(highs.lp.col_names())
    assert abs(objective - highs.solution.objective) <= 1e-6 * abs(highs.solution.objective) + 1e-7
    cbc = allocator.run(folder, solver="cbc")
    assert abs(cbc.solution.objective - highs.solution.objective) <= 1e-6 * abs(highs.solution.objective)
