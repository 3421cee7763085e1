"""Population groups in what a run writes: the terminal, CSV and JSON, the HTML and Markdown reports, the workbook."""

from __future__ import annotations

import html
import json

import openpyxl
import pandas as pd
import pytest
from hostile import expect
from test_disaggregate import with_groups

from allocator.analysis.disaggregate import METHOD

HOSTILE = ('\n[disaggregation]\n"<i>Dis</i>ability" = { "<b>Disabled</b> & co" = "dis", "Not disabled" = "notdis" }\n'
           '"Age" = { "Young" = "young", "Old" = "old" }\n')


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The tiny scenario with hostile group names, run once with every report."""
    import shutil

    from conftest import DATA

    root = tmp_path_factory.mktemp("reports")
    scenario = with_groups(shutil.copytree(DATA / "tiny", root / "tiny"), HOSTILE)
    run = expect(0, ["run", scenario, "--out", root / "out", "--format", "csv,json,html,md,xlsx"])
    return root / "out", run.output


def test_the_terminal_shows_each_group_as_an_area_level_estimate(folder):
    _, output = folder
    assert "By population group (an area-level estimate" in output
    assert "<b>Disabled</b> & co" in output and "Young" in output


def test_csv_and_result_json_hold_the_table(folder):
    out, _ = folder
    table = pd.read_csv(out / "spend_by_population_group.csv")
    assert table["dimension"].unique().tolist() == ["<i>Dis</i>ability", "Age"]
    assert table.groupby("dimension")["spend_gbp"].sum().to_numpy() == pytest.approx([100_000, 100_000])
    saved = json.loads((out / "result.json").read_text())["tables"]["spend_by_population_group"]
    assert [r["group"] for r in saved] == ["<b>Disabled</b> & co", "Not disabled", "Young", "Old"]


def test_the_html_section_escapes_names_and_states_the_method(folder):
    page = (folder[0] / "report.html").read_text()
    start = page.index('<section id="population"')
    section = page[start:page.index("</section>", start)]
    assert "Who receives what: population groups" in section
    assert html.escape(METHOD, quote=True) in section
    assert "<b>Disabled" not in page and "<i>Dis" not in page
    assert "&lt;b&gt;Disabled&lt;/b&gt; &amp; co" in section  # in the tables and, as text, in the chart
    assert section.count("<svg") == 1 and "<title" in section
    assert section.count("<table>") == 2  # a table per dimension
    assert "£" in section and "×" in section and "e+" not in section


def test_the_markdown_says_the_same(folder):
    text = (folder[0] / "report.md").read_text()
    assert "## Who receives what: population groups" in text
    assert "### By age" in text and "| Young |" in text
    assert "| \\<b\\>Disabled\\</b\\> \\& co | 700 |" in text


def test_the_workbook_has_a_sheet_per_dimension_adding_up_to_the_budget(folder):
    book = openpyxl.load_workbook(folder[0] / "report.xlsx")
    assert book.sheetnames[6:8] == ["By <i>dis<-i>ability", "By age"]  # after the groupings, names made legal
    ws = book["By age"]
    header = [c.value for c in ws[1]]
    assert header[:2] == ["Age", "Areas column"] and "Allocation per head (£)" in header
    j = header.index("Allocation (£)")
    values = [row[j] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert values[-1].startswith("=SUBTOTAL(109,")  # the live total
    assert sum(values[:-1]) == pytest.approx(100_000, abs=0.01)
    assert ws.cell(2, j + 1).number_format == "£#,##0.00"
    assert not any(name.startswith("Options spend") for name in book.sheetnames)  # not also as a generic sheet


def test_a_report_rebuilt_from_the_folder_is_the_same(folder, tmp_path):
    out, _ = folder
    expect(0, ["report", out, "--output", tmp_path / "again.html"])
    assert (tmp_path / "again.html").read_bytes() == (out / "report.html").read_bytes()


def test_compare_shows_every_option_in_the_section(tmp_path):
    import shutil

    from conftest import DATA

    scenario = with_groups(shutil.copytree(DATA / "tiny", tmp_path / "tiny"), HOSTILE.replace(
        "\n[disaggregation]", '\n[[option]]\nname = "Health"\n\n[[option]]\nname = "Fair <share>"\n'
        'objective = "fair-share"\n\n[disaggregation]'))
    expect(0, ["compare", scenario, "--out", tmp_path / "out", "--format", "html,md"])
    text = (tmp_path / "out" / "report.md").read_text()
    section = text[text.index("## Who receives what"):text.index("## Tables")]
    assert "| Group | Option |" in section and "Fair \\<share\\>" in section
    assert section.count("| Young |") == 2
    assert (tmp_path / "out" / "options_spend_by_population_group.csv").is_file()
