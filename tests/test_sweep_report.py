"""`allocator report SWEEP_DIR`: one offline HTML page of a sweep, the same bytes every time."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DATA, edit

import allocator
from allocator.cli import main
from allocator.reports import html
from allocator.reports.documents import rebuild
from allocator.reports.sweep_report import read, render

HOSTILE_OPTION = "<b>Fair</b> & <script>alert(1)</script>"
HOSTILE_NAME = "Tiny <i>sweep</i> & co"
UNCERTAINTY = ('\n[uncertainty]\nscale = { distribution = "triangular", low = 0.8, mode = 1.0, high = 1.1, '
               'draw_group = "tiny-effect-size" }\n')
SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


def uncertain_tiny(folder: Path) -> Path:
    """tests/data/tiny with options (one the same as the scenario as loaded, one with a hostile
    name), a hostile scenario name and effect-size uncertainty sharing one draw group."""
    shutil.copytree(DATA / "tiny", folder)
    toml = folder / "scenario.toml"
    edit(toml, 'name = "Tiny test scenario"', f'name = "{HOSTILE_NAME}"')
    edit(toml, "[tables]", '[[option]]\nname = "Health gain"\n\n[[option]]\n'
                           f'name = "{HOSTILE_OPTION}"\nobjective = "fair-share"\n\n[tables]')
    for model in (folder / "models" / "response").glob("*.toml"):
        model.write_text(model.read_text() + UNCERTAINTY)
    return folder


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    """A Monte Carlo sweep of the budget over the options, saved in a folder."""
    root = tmp_path_factory.mktemp("sweep-report")
    scenario = uncertain_tiny(root / "tiny")
    out = root / "out"
    allocator.sweep(scenario, {"budget": [90_000, 100_000, 110_000]}, samples=6, seed=3, options=True,
                    workers=1, out=out)
    return out


def test_the_report_is_one_offline_page_with_no_script_and_no_scientific_notation(swept):
    result = CliRunner().invoke(main, ["report", str(swept)])
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote {swept / 'report.html'}\n"
    page = (swept / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower()  # no script at all: not even the page's own
    assert f'content="{html.CSP}"' in page and html.CSS in page  # the run report's look and policy
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched
    assert "e+" not in page and not SCIENTIFIC.search(re.sub(r"<[^>]*>", " ", page))
    assert page.count("<svg") >= 2  # the budget plot and the Monte Carlo boxes, inline
    assert "Current budget £100k" in page  # the budget is swept: its current value is marked
    found = page[page.index('id="found"'):page.index('id="plots"')]
    assert "of the 18 draws (at every budget value)" in found  # best how often, in words
    assert "Every uncertain input moves together" in found  # one draw group: say it cannot change a ranking


def test_every_name_from_the_input_is_escaped(swept):
    page = render(swept)
    assert HOSTILE_OPTION not in page and "<b>Fair</b>" not in page and "<i>sweep</i>" not in page
    assert "&lt;b&gt;Fair&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Tiny &lt;i&gt;sweep&lt;/i&gt; &amp; co" in page


def test_the_same_folder_gives_the_same_bytes(swept, tmp_path):
    first = rebuild(swept, "html", tmp_path / "a.html").read_bytes()
    second = rebuild(swept, "html", tmp_path / "b.html").read_bytes()
    assert first == second
    written = json.loads((swept / "sweep.json").read_text())["written"]
    assert re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d", first.decode()) == [written[:16]]  # its one date


def test_the_base_twin_is_dropped_and_said(swept):
    table, info = read(swept)
    assert info["plan"]["options"] == ["Health gain", HOSTILE_OPTION]
    assert info["same_as_base"] == "Health gain"
    assert "base" not in set(table["option"])
    assert "has the same settings as the option &#x27;Health gain&#x27;: it was solved once" in render(swept)


def test_monte_carlo_comparisons_show_the_probability_matrix_and_paired_differences(swept):
    page = render(swept)
    assert "P(option ranks best)" in page and "P(row beats column)" in page
    assert "Paired differences between options, draw by draw" in page
    differences = (swept / "differences.csv").read_text().splitlines()
    assert differences[0].startswith('"measure","budget","option_a","option_b","draws","mean_difference"')


def test_a_sweep_folder_has_an_html_report_only_and_never_over_its_own_files(swept):
    result = CliRunner().invoke(main, ["report", str(swept), "--format", "xlsx"])
    assert result.exit_code == 2 and "HTML only" in result.output
    result = CliRunner().invoke(main, ["report", str(swept), "--output", str(swept / "summary.csv")])
    assert result.exit_code == 2 and "summary.csv" in result.output
    before = (swept / "summary.csv").read_bytes()
    assert (swept / "summary.csv").read_bytes() == before


def test_a_grid_sweep_without_draws_or_options_still_reports(tmp_path):
    out = tmp_path / "out"
    allocator.sweep(DATA / "tiny", {"budget": [90_000, 110_000], "floor_scale": [0.5, 1.0]}, workers=1, out=out)
    rebuild(out, "html")
    page = (out / "report.html").read_text()
    assert "<script" not in page and "e+" not in page
    assert "Comparing the options" not in page  # one option: nothing to compare
    assert "Current budget £100k" in page


def test_a_folder_with_only_the_csv_table_reports_the_same_findings(swept, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(swept, copy, ignore=shutil.ignore_patterns("sweep.parquet", "report.html"))
    table, _ = read(copy)
    assert HOSTILE_OPTION in set(table["option"])  # neutralised for spreadsheets, restored when read back
    def found(page: str) -> str:  # the CSV keeps 10 significant figures: a small difference may differ
        return page[page.index('id="found"'):page.index('id="plots"')]

    assert found(render(copy)) == found(render(swept))
