"""The frontier places a manifest's options on it, and its charts say plainly where each one stands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import allocator
from allocator.analysis.frontier import frontier
from allocator.reports.frontier import QUADRANTS, figures

QUICKSTART = Path(__file__).resolve().parent.parent / "scenarios" / "quickstart"


@pytest.fixture(scope="module")
def table():
    s = allocator.load(QUICKSTART)
    return frontier(s, points=3)[0], s


def test_each_option_of_the_manifest_is_a_row_measured_as_its_own_run(table):
    frame, s = table
    names = [spec.name for spec in s.options]
    rows = frame[frame.point.str.startswith("option: ")]
    assert list(rows.point) == [f"option: {n}" for n in names]
    fair = allocator.run(s.with_(objective="fair-share"))
    row = rows[rows.point == "option: Fair share"].iloc[0]
    metrics = fair.gradient.metrics.set_index("measure")
    assert row.health_gain == pytest.approx(metrics.at["total_gain", "change"])
    assert row.sii == pytest.approx(metrics.at["sii_outcome", "after"])


def test_the_impact_plane_is_about_the_status_quo_with_its_quadrants_named_and_plain_numbers(table):
    frame, s = table
    svg = figures(frame, s.gradient.outcome_units)[0].decode()
    for text, *_ in QUADRANTS:
        assert text in svg
    assert "before (the status quo)" in svg and "against the status quo" in svg
    for name in (spec.name for spec in s.options):
        assert name in svg
    ticks = re.findall(r">([^<>]*\d[^<>]*)</text>", svg)
    assert ticks and not any(re.search(r"\d[eE][+-]?\d", t) or "×10" in t for t in ticks)


def test_without_options_the_frontier_is_only_its_points_and_references(table):
    s = table[1]
    frame = frontier(s, points=2, options=False)[0]
    assert not frame.point.str.startswith("option: ").any()
