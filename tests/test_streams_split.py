"""Budget lines split by funding stream (and a pooled stream by partner), to the penny.

Property tests of the two steps of `allocator.model.streams.split` on tables built so that a
solution exists (a whole-penny matrix first, its margins and eligibility derived from it), of
`streams.partners`, and of solved scenarios with random streams: every stream spends its amount,
on lines it may fund only, and every line and every total reconciles to the penny.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from hypothesis.extra import numpy as hnp

import allocator
from allocator.model import streams as st
from allocator.scenario.budget import Partner, Stream

REPO = Path(__file__).resolve().parents[1]


# -- step 2: within a block, every stream may pay every line ---------------------------------------

@hs.composite
def whole_tables(draw, max_rows=8, max_cols=5, high=10**6):
    """A non-negative whole-penny matrix (often with zeros, small and large values)."""
    n = draw(hs.integers(1, max_rows))
    f = draw(hs.integers(1, max_cols))
    cell = hs.one_of(hs.just(0), hs.integers(0, 3), hs.integers(0, high))
    return draw(hnp.arrays(np.int64, (n, f), elements=cell))


def check_margins(out: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    assert np.issubdtype(out.dtype, np.integer), out.dtype
    assert out.shape == (len(rows), len(cols))
    assert (out >= 0).all()
    assert (out.sum(axis=1) == rows).all()
    assert (out.sum(axis=0) == cols).all()


@settings(max_examples=150, deadline=None)
@given(whole_tables())
def test_within_is_whole_exact_both_ways_and_near_proportional(table):
    lines, streams = table.sum(axis=1), table.sum(axis=0)
    out = st._within(lines, streams)
    check_margins(out, lines, streams)
    total = int(streams.sum())
    if total == 0:
        assert (out == 0).all()
        return
    # proportional shares, exactly, in whole numbers: q + r / total
    product = lines[:, None].astype(object) * streams[None, :].astype(object)
    q = np.vectorize(lambda v: v // total)(product).astype(np.int64)
    exact = np.vectorize(lambda v: v % total == 0)(product)
    assert (out >= q).all(), "a line pays less than its proportional share, rounded down"
    # what is left after rounding down is at most (streams - 1) pennies on a line and
    # (lines - 1) on a stream: the north-west corner puts no more than that on one cell
    n, f = table.shape
    assert (out - q <= min(n, f) - 1).all()
    if exact.all():
        assert (out == q).all(), "a split that is exactly proportional is not the proportional one"


def test_within_of_nothing_is_nothing():
    out = st._within(np.array([0, 0, 0]), np.array([0, 0]))
    assert out.shape == (3, 2) and (out == 0).all()


# -- step 1: blocks x streams, on eligible cells only -------------------------------------------------

@hs.composite
def eligible_tables(draw):
    """(target, eligible, y): a whole-penny target on eligible cells only, and the LP's amounts
    ``y`` near it (rounded pennies that no longer add up; anything on ineligible cells)."""
    r = draw(hs.integers(1, 6))
    f = draw(hs.integers(1, 4))
    eligible = draw(hnp.arrays(bool, (r, f)))
    target = draw(hnp.arrays(np.int64, (r, f), elements=hs.one_of(hs.integers(0, 5), hs.integers(0, 10**7))))
    target = np.where(eligible, target, 0)
    noise = draw(hnp.arrays(np.int64, (r, f), elements=hs.integers(-3, 3)))
    junk = draw(hnp.arrays(np.int64, (r, f), elements=hs.integers(-10**6, 10**6)))
    exact = draw(hs.booleans())
    y = np.where(eligible, target + (0 if exact else noise), junk).astype(float)
    return target, eligible, y


@settings(max_examples=120, deadline=None)
@given(eligible_tables())
def test_blocks_are_whole_exact_eligible_and_as_near_the_lp_as_can_be(case):
    target, eligible, y = case
    rows, cols = target.sum(axis=1), target.sum(axis=0)
    out = st._blocks(y.copy(), eligible, rows, cols)
    check_margins(out, rows, cols)
    assert (out[~eligible] == 0).all(), "a stream pays for a block it may not fund"
    base = np.where(eligible, np.maximum(y, 0), 0)
    # the target is one way to meet the margins: no way the function picks moves further from the LP
    assert np.abs(out - base).sum() <= np.abs(target - base).sum() + 1e-9
    if (base == target).all():
        assert (out == target).all()


def test_blocks_route_a_penny_through_the_only_eligible_cells():
    # the LP's rounding puts a penny on the wrong stream; only one reallocation is possible
    eligible = np.array([[True, True], [False, True]])
    y = np.array([[300.0, 0.0], [0.0, 101.0]])
    out = st._blocks(y, eligible, np.array([300, 100]), np.array([299, 101]))
    assert out.tolist() == [[299, 1], [0, 100]]


@settings(max_examples=100, deadline=None)
@given(eligible_tables(), hs.data())
def test_block_moves_make_a_split_possible_with_the_fewest_pennies(case, data):
    """Lines rounded one by one leave some blocks a few pennies off what the streams can pay:
    `_block_moves` puts the fewest pennies back (checked against scipy's own LP)."""
    from scipy.optimize import linprog

    target, eligible, y = case
    rows, cols = target.sum(axis=1), target.sum(axis=0)
    shift = np.array(data.draw(hs.lists(hs.integers(-2, 2), min_size=len(rows), max_size=len(rows))))
    shift[0] -= shift.sum()
    off = rows + shift
    if (off < 0).any():
        off, shift = rows, np.zeros_like(rows)
    moves = st._block_moves(eligible, off, cols)
    assert np.issubdtype(moves.dtype, np.integer) and moves.sum() == 0
    assert (off + moves >= 0).all()
    out = st._blocks(y.copy(), eligible, off + moves, cols)  # a split now exists
    check_margins(out, off + moves, cols)
    assert (out[~eligible] == 0).all()
    assert np.abs(moves).sum() <= np.abs(shift).sum()  # undoing the shift is one way
    cells = np.argwhere(eligible)
    n, R = len(cells), len(off)
    a_eq = np.zeros((R + len(cols), n + 2 * R))
    a_eq[cells[:, 0], np.arange(n)] = 1
    a_eq[R + cells[:, 1], np.arange(n)] = 1
    a_eq[np.arange(R), n + np.arange(R)] = 1
    a_eq[np.arange(R), n + R + np.arange(R)] = -1
    fewest = linprog(np.r_[np.zeros(n), np.ones(2 * R)], A_eq=a_eq, b_eq=np.r_[off, cols], bounds=(0, None))
    assert fewest.status == 0
    assert np.abs(moves).sum() == round(fewest.fun)


# -- partners of a pooled stream ---------------------------------------------------------------------

@hs.composite
def pooled(draw):
    k = draw(hs.integers(1, 4))
    weights = draw(hs.lists(hs.integers(1, 1000), min_size=k, max_size=k))
    shares = [w / sum(weights) for w in weights]
    a, s = draw(hs.integers(1, 5)), draw(hs.integers(1, 3))
    pennies = draw(hnp.arrays(np.int64, (2, a, s), elements=hs.one_of(hs.integers(0, 7), hs.integers(0, 10**8))))
    return shares, pennies


@settings(max_examples=150, deadline=None)
@given(pooled())
def test_partners_pay_their_shares_to_the_penny(case):
    shares, pennies = case
    s = pennies.shape[2]
    pool = Stream(id="pool", name="Pooled", amounts=(1.0,), services=np.ones(s, bool),
                  partners=tuple(Partner(f"P{k}", v) for k, v in enumerate(shares)))
    alone = Stream(id="alone", name="Alone", amounts=(1.0,), services=np.ones(s, bool))
    by_stream = pennies / 100.0
    parts = st.partners(SimpleNamespace(streams=(alone, pool)), by_stream)
    assert [(f, name) for f, name, _ in parts] == [(1, f"P{k}") for k in range(len(shares))]
    got = np.array([np.round(p * 100) for _, _, p in parts])  # (K, A, S) pennies
    assert np.allclose(got, np.stack([p * 100 for _, _, p in parts]), atol=1e-6), "not whole pennies"
    assert (got >= 0).all()
    assert (got.sum(axis=0) == pennies[1]).all(), "a line's partners do not add up to the line"
    total = int(pennies[1].sum())
    for k, share in enumerate(shares):
        # each partner's total is its share of the stream's, to the penny
        assert abs(got[k].sum() - share * total) < 1 + 1e-6, (k, got[k].sum(), share * total)


# -- solved scenarios with random streams ----------------------------------------------------------

@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    """The bundled quickstart, loaded from a copy whose models point at the repository's."""
    folder = tmp_path_factory.mktemp("split") / "quickstart"
    shutil.copytree(REPO / "scenarios" / "quickstart", folder)
    toml = folder / "scenario.toml"
    toml.write_text(re.sub(r'(?m)^models = .*$', f'models = "{(REPO / "models").as_posix()}"', toml.read_text()))
    return allocator.load(folder)


@hs.composite
def stream_sets(draw, n_areas: int, n_services: int):
    """Restricted streams as (services mask, areas mask or None, fraction of what they may hold,
    partners' weights); the rest of the budget is a stream for everything."""
    out = []
    for _ in range(draw(hs.integers(0, 3))):
        services = draw(hnp.arrays(bool, n_services).filter(lambda m: m.any()))
        areas = draw(hs.none() | hnp.arrays(bool, n_areas).filter(lambda m: m.any()))
        fraction = draw(hs.floats(0.01, 1.0))
        partners = draw(hs.lists(hs.integers(1, 9), max_size=3))
        out.append((services, areas, fraction, partners))
    pennies = draw(hs.integers(0, 99))
    return out, pennies


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hs.data())
def test_solved_streams_spend_their_amounts_on_eligible_lines_to_the_penny(quickstart, data):
    s = quickstart
    A, S = s.n_areas, s.n_services
    restricted, pennies = data.draw(stream_sets(A, S))
    budget = s.budget_gbp + pennies / 100
    floors = s.unit_spend * s.floor[None, :]
    streams, eligible = [], []
    for k, (services, areas, fraction, weights) in enumerate(restricted):
        mask = (np.ones(A, bool) if areas is None else areas)[:, None] & services[None, :]
        # at most the floors of its lines, shared with the other restricted streams: always feasible
        amount = round(fraction * floors[mask].sum() / len(restricted), 2)
        partners = tuple(Partner(f"P{j}", w / sum(weights)) for j, w in enumerate(weights))
        streams.append(Stream(id=f"r{k}", name=f"Restricted {k}", amounts=(amount,), services=services,
                              areas=areas, partners=partners))
        eligible.append(mask)
    main = round(budget - sum(f.amounts[0] for f in streams), 2)
    streams.insert(0, Stream(id="main", name="Main grant", amounts=(main,), services=np.ones(S, bool)))
    eligible.insert(0, np.ones((A, S), bool))
    scenario = s.with_(streams=tuple(streams), budget_gbp=round(main + sum(f.amounts[0] for f in streams[1:]), 2))

    result = allocator.solve(scenario)
    spend, by_stream = result.allocation.spend, result.allocation.by_stream
    assert by_stream.shape == (len(streams), A, S)
    line_pennies = np.round(spend * 100)
    stream_pennies = np.round(by_stream * 100)
    assert np.abs(stream_pennies - by_stream * 100).max() < 1e-6, "not whole pennies"
    assert (stream_pennies >= 0).all()
    assert (stream_pennies.sum(axis=0) == line_pennies).all(), "a line's streams do not add up to it"
    assert line_pennies.sum() == round(scenario.budget_gbp * 100)
    for f, stream in enumerate(streams):
        assert (stream_pennies[f][~eligible[f]] == 0).all(), f"{stream.id} pays for lines it may not fund"
        assert stream_pennies[f].sum() == round(stream.amounts[0] * 100), f"{stream.id} does not spend its amount"
    for f, name, part in st.partners(scenario, by_stream):
        stream = streams[f]
        share = next(p.share for p in stream.partners if p.name == name)
        assert abs(part.sum() - share * by_stream[f].sum()) < 0.01 + 1e-6
        assert (np.round(part * 100)[~eligible[f]] == 0).all()
    for f, stream in enumerate(streams):
        if stream.partners:
            together = sum(np.round(p * 100) for g, _, p in st.partners(scenario, by_stream) if g == f)
            assert (together == stream_pennies[f]).all()
