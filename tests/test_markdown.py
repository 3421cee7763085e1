"""The Markdown report: sections, every option, well-formed tables, escaping, determinism."""

from __future__ import annotations

import re

import pytest

import allocator
from allocator.analysis.compare import compare
from allocator.reports.markdown import Table, md_table, md_text, render_markdown
from allocator.reports.results import ReportData, report_data
from reports import OPTIONS, hostile_scenario, three_options

CELL = re.compile(r"(?<!\\)\|")  # a cell boundary: a pipe not escaped


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> allocator.Scenario:
    """The tiny scenario with one area named like an attack."""
    return hostile_scenario(tmp_path_factory.mktemp("markdown") / "tiny")


@pytest.fixture(scope="module")
def data(scenario) -> ReportData:
    """Three options on the tiny scenario."""
    return three_options(scenario)


@pytest.fixture(scope="module")
def page(data) -> str:
    return render_markdown(data)


def tables_of(page: str) -> dict[str, list[str]]:
    """Each '### title' with the table lines under it."""
    out, title = {}, None
    for line in page.splitlines():
        if line.startswith("### "):
            title = line[4:]
            out[title] = []
        elif title and line.startswith("|"):
            out[title].append(line)
    return out


def test_sections_and_every_option_named(page):
    assert page.startswith("# Options for Tiny test scenario\n")
    for heading in ("## The brief", "## Detail", "## Tables"):
        assert f"\n{heading}\n" in page
    assert page.index("## The brief") < page.index("## Detail") < page.index("## Tables")
    for name in OPTIONS:
        assert md_text(name) in page
    assert "- **Health gain**: health-gain objective, monotone proportionality; allocates £100k;" in page
    assert "Best option on each measure (where 'best' has a meaning):" in page
    assert "Rules that bind, and what they cost:" in page
    assert "“Health gain” gains the most health" in page


def test_every_table_is_present_and_well_formed(page):
    tables = tables_of(page)
    expected = ["Options at a glance", "The measures side by side", "Spend per head by deprivation group",
                "Outcome by deprivation group", "Areas gaining and losing, by deprivation group",
                "The price of each rule", "Spend by service", "Spend per head by region"]
    expected += [f"Largest gains and losses: {md_text(n)}" for n in OPTIONS]
    expected += [f"From 'before' to the allocation: {md_text(n)}" for n in OPTIONS]
    assert sorted(tables) == sorted(expected)
    for title, lines in tables.items():
        widths = {len(CELL.split(line)) for line in lines}
        assert len(widths) == 1, f"{title}: rows with different numbers of cells"
        assert re.fullmatch(r"\|(:---|---:)(\|(:---|---:))*\|", lines[1]), title
        assert len(lines) > 2, f"{title}: no rows"


def test_numbers_are_formatted(page):
    tables = tables_of(page)
    spend = tables["Spend per head by deprivation group"]
    assert re.match(r"\| 1 \(most deprived\) \| 3,000 \| £\d+\.\d\d \|", spend[2])
    assert re.match(r"\| 2 \(least deprived\) \| 2,000 \|", spend[3])
    measures = "\n".join(tables["The measures side by side"])
    assert "| Total spend | GBP | £78,500 | £100k | £100k | £100k |" in measures
    assert re.search(r"\*\*[^*]+\*\* \\\*", measures), "the best option is marked"
    assert not re.search(r"\d[eE][+-]\d", page), "no scientific notation"
    assert not re.search(r"\bnan\b", page, re.I)


def test_html_and_pipes_are_escaped(page):
    assert not re.search(r"(?<!\\)[<>]", page), "every < and > is escaped: no HTML reaches a renderer"
    assert r"""\<script\>alert(1)\</script\>\<img src=x onerror="document.title='pwned'"\>""" in page
    assert r"Fair \| share \<b\>x\</b\>" in page
    row = next(line for line in page.splitlines() if line.startswith(r"| \<script\>"))
    assert len(CELL.split(row)) == len(CELL.split(tables_of(page)[
        "Largest gains and losses: Health gain"][0]))


def test_cells_lose_newlines_and_keep_pipes_as_text():
    table = Table("t", "T", "c", ["Area", "£"], [["North\ntown | x", "£1"]], [False, True])
    header, rule, row = md_table(table)
    assert row == r"| North town \| x | £1 |"
    assert md_text("1. Not a list", block=True) == r"1\. Not a list"
    assert md_text("# not a heading") == r"\# not a heading"


def test_same_data_same_bytes(data, page):
    assert render_markdown(data) == page


def test_a_run_and_missing_tables(scenario):
    run = report_data(compare([("Only", scenario)], waterfall=False, prices=False), "run")
    page = render_markdown(run)
    tables = tables_of(page)
    assert "The measures side by side" in tables
    assert tables["The measures side by side"][0] == "| Measure | Units | Before | After | Change |"
    assert not any(t.startswith(("From 'before'", "The price")) for t in tables)
    assert "Best option" not in page
