"""A plan in the reports: `allocator run --out` on a three-year plan with funding streams, a pooled
stream and a service group writes the plan's section (lead, glide path, tables) into the HTML and
Markdown reports, mentions it in the brief, adds the plan's sheets to the workbook, and
`allocator report` rebuilds every report byte for byte."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli import main
from allocator.format import aligned, money, number, percent, plain
from allocator.reports.plan_section import CHART_TITLE, TITLE, glide_path_chart, plan_text
from allocator.reports.results import ReportData, load
from conftest import edit

ROOT = Path(__file__).resolve().parent.parent
SCIENTIFIC = re.compile(r"\d(\.\d+)?[eE][+-]?\d")
HOSTILE = "Health inequalities fund <script>alert(1)</script>"
PLAN = """
[[service_group]]
name = "targeted"
services = ["drug_alcohol", "falls_prevention"]
min_share = 0.3

[pace_of_change]
max_decrease = 0.05
max_increase = 0.15

[plan]
years = 3
first_year = "2026/27"
discount_rate = 0.035
lags = { falls_prevention = 1 }
"""
STREAMS = f"""stream_id,stream_name,amount_gbp,services,areas,carry_over
ph,Public health grant,80000000,all,,no
hi,{HOSTILE},20000000,targeted,imd_quintile=1;2,no
tl,Time-limited grant,5000000,health_visiting,,yes
"""
PARTNERS = "stream_id,partner,share\nhi,ICB,0.6\nhi,Councils,0.4\n"
YEARS = ["2026/27", "2027/28", "2028/29"]


def plan_scenario(folder: Path) -> Path:
    """The quickstart scenario as a three-year plan with three streams, partners and a service group."""
    shutil.copytree(ROOT / "scenarios" / "quickstart", folder)
    manifest = folder / "scenario.toml"
    edit(manifest, 'models = "../../models"', f'models = "{(ROOT / "models").as_posix()}"')
    edit(manifest, "total_gbp = 100_000_000", "total_gbp = 105_000_000")
    edit(manifest, 'baseline = "baseline.csv"\n',
         'baseline = "baseline.csv"\nstreams = "streams.csv"\npartners = "partners.csv"\n')
    manifest.write_text(manifest.read_text() + PLAN)
    (folder / "streams.csv").write_text(STREAMS)
    (folder / "partners.csv").write_text(PARTNERS)
    return folder


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("plan")
    target = base / "out"
    result = CliRunner().invoke(main, ["run", str(plan_scenario(base / "scenario")), "--out", str(target)])
    assert result.exit_code == 0, result.output
    return target


@pytest.fixture(scope="module")
def years(out) -> pd.DataFrame:
    return pd.read_csv(out / "plan_years.csv")


@pytest.fixture(scope="module")
def page(out) -> str:
    return (out / "report.html").read_text(encoding="utf-8")


def _table(page: str, key: str) -> list[list[str]]:
    """The cells of the HTML table headed ``<h3 id=key>``, row by row, unescaped (header row first)."""
    start = page.index(f'<h3 id="{key}">')
    body = page[start:page.index("</table>", start)]
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)]


def _visible(page: str) -> str:
    """The page's text without its style, script and the SVG's path data (text elements kept)."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'\s(d|transform|points|viewBox|x|y|width|height|style|clip-path)="[^"]*"', " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_plan_section_follows_the_brief_with_its_glide_path(page):
    sections = re.findall(r'<section id="([^"]+)"', page)
    assert sections[:3] == ["brief", "plan", "summary"]
    assert f'<h2 id="plan-h">{TITLE}</h2>' in page
    assert '<a href="#plan">The plan, year by year</a>' in page
    plan = page[page.index('<section id="plan"'):page.index('<section id="summary"')]
    assert '<svg ' in plan and 'id="plan-chart1"' in plan and f"<title id=\"plan-chart1-title\">{CHART_TITLE}" in plan
    for key in ("plan_years", "plan_streams", "plan_partners", "plan_groups"):
        assert f'<h3 id="{key}">' in plan
    assert len(re.findall(r'\sid="([^"]+)"', page)) == len(set(re.findall(r'\sid="([^"]+)"', page)))  # ids unique


def test_the_lead_says_where_the_plan_goes_in_numbers_from_the_tables(page, years):
    before, last = years.iloc[0], years.iloc[-1]
    lead = html.unescape(re.search(r'<section id="plan".*?<p class="lead">(.*?)</p>', page, flags=re.S)[1])
    assert lead.startswith(f"Over 3 years ({YEARS[0]} to {YEARS[-1]}) the distance from need-weighted targets")
    assert (f"{percent(before['distance_from_target_share'])} to {percent(last['distance_from_target_share'])}"
            in lead)
    assert "from {} to {} years".format(*aligned([before["sii_outcome"], last["sii_outcome"]], 4)) in lead
    plan_years = years[years["year"] != "Before"]
    assert f"spends {money(plan_years['spent_gbp'].sum())}" in lead
    assert f"{number(plan_years['health_gain_discounted'].sum())} years × people" in lead
    assert "discounted at 3.5% a year to 2026/27" in lead


def test_the_years_table_matches_plan_years_csv_through_the_formatter(page, years):
    rows = _table(page, "plan_years")
    assert [r[0] for r in rows[1:]] == ["Before", *YEARS, "All years"]
    sii, gap = aligned(years["sii_outcome"], 4), aligned(years["gap_absolute_outcome"], 4)  # same decimals
    for k, (cells, (_, r)) in enumerate(zip(rows[1:], years.iterrows())):
        assert cells == [r["year"], money(r["budget_gbp"]), money(r["spent_gbp"]), number(r["health_gain"]),
                         number(r["health_gain_discounted"]), sii[k], gap[k], money(r["distance_from_target_gbp"]),
                         percent(r["distance_from_target_share"]), percent(r["share_of_spend_most_deprived_fifth"])]
    assert rows[-1][1:5] == [money(years["budget_gbp"][1:].sum()), money(years["spent_gbp"][1:].sum()),
                             number(years["health_gain"][1:].sum()), number(years["health_gain_discounted"][1:].sum())]


def test_the_streams_partners_and_groups_tables_match_their_csv(page, out):
    streams = pd.read_csv(out / "plan_streams.csv")
    rows = _table(page, "plan_streams")[1:]
    assert len(rows) == len(streams) == 9
    for cells, (_, r) in zip(rows, streams.iterrows()):
        assert cells == [r["year"], r["stream_name"], money(r["amount_gbp"]), money(r["brought_forward_gbp"]),
                         money(r["spent_gbp"]), money(r["carried_forward_gbp"]), number(r["price_per_gbp"] * 1e6),
                         percent(r["relative_to_best"])]
    partners = pd.read_csv(out / "plan_partners.csv")
    rows = _table(page, "plan_partners")
    assert rows[0] == ["Stream", "Partner", "Share", *YEARS, "All years"]
    assert [r[:3] for r in rows[1:]] == [[HOSTILE, "ICB", "60.0%"], [HOSTILE, "Councils", "40.0%"]]
    icb = partners[partners["partner"] == "ICB"]["contribution_gbp"]
    assert rows[1][3:] == [money(v) for v in icb] + [money(icb.sum())]
    groups = pd.read_csv(out / "plan_groups.csv")
    rows = _table(page, "plan_groups")[1:]
    assert [(r[0], r[1], r[3], r[4], r[5], r[6]) for r in rows] == [
        (g["year"], g["group"], money(g["total_gbp"]), percent(g["share_of_spend"]), money(g["min_gbp"]), "none")
        for _, g in groups.iterrows()]
    assert all(r[7] in ("at its minimum", "at its maximum", "within its bounds") for r in rows)


@pytest.mark.parametrize("report", ["report.html", "brief.html", "report.md"])
def test_no_scientific_notation_and_no_nan(out, report):
    text = (out / report).read_text(encoding="utf-8")
    text = _visible(text) if report.endswith(".html") else text
    text = re.sub(r"\b[0-9a-f]{12,64}\b", "<hash>", text)  # the inputs' sha256 are not numbers
    found = SCIENTIFIC.search(text)
    assert not found, text[max(0, found.start() - 60):found.end() + 20]
    assert not re.search(r"\b[Nn]a[Nn]\b", text)


def test_names_from_the_input_are_escaped(out, page):
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script") == 1  # find-my-area's own, allowed by its hash
    assert "<script>alert(1)" not in (out / "brief.html").read_text(encoding="utf-8")
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in md and "Health inequalities fund \\<script\\>alert(1)\\</script\\>" in md


def test_the_brief_mentions_the_plan(out, years):
    for name in ("brief.html", "report.html"):
        brief = html.unescape((out / name).read_text(encoding="utf-8"))
        assert f"This is the first year, {YEARS[0]}, of a plan of 3 years funded by 3 streams; by {YEARS[-1]}" in brief
        assert f"falls from {percent(years['distance_from_target_share'][0])}" in brief


def test_the_markdown_report_has_the_section(out, years):
    md = (out / "report.md").read_text(encoding="utf-8")
    section = md[md.index(f"## {TITLE}"):md.index("## Detail")]
    assert md.index("## The brief") < md.index(f"## {TITLE}")
    for title in ("### Year by year", "### Funding streams", "### Partners' contributions", "### Service groups"):
        assert title in section
    last = years.iloc[-1]
    assert (f"| {last['year']} | {money(last['budget_gbp'])} | {money(last['spent_gbp'])} | "
            f"{number(last['health_gain'])} |") in section
    assert "Pace of change: no area's total falls by more than 5.0% or rises by more than 15.0% in a year." in section


def test_the_workbook_has_the_plan_sheets_with_the_right_totals(out):
    book = openpyxl.load_workbook(out / "report.xlsx", data_only=True)
    names = ["Plan by year", "Plan streams", "Plan partners", "Plan groups", "Plan by area", "Plan allocation"]
    assert book.sheetnames[1:7] == names
    sheets = {name: list(book[name].iter_rows(values_only=True)) for name in names}

    def total(name: str, header: str) -> float:
        rows = sheets[name]
        assert rows[-1][0] == "Total"
        return rows[-1][rows[0].index(header)]

    streams, partners = pd.read_csv(out / "plan_streams.csv"), pd.read_csv(out / "plan_partners.csv")
    by_area, allocation = pd.read_csv(out / "plan_by_area.csv"), pd.read_csv(out / "plan_allocation.csv")
    assert total("Plan streams", "Spent (£)") == pytest.approx(streams["spent_gbp"].sum(), abs=0.01)
    assert total("Plan streams", "Amount (£)") == pytest.approx(105e6 * 3)
    assert total("Plan partners", "Contribution (£)") == pytest.approx(partners["contribution_gbp"].sum(), abs=0.01)
    assert total("Plan by area", "Spend (£)") == pytest.approx(by_area["spend_gbp"].sum(), abs=0.01)
    assert total("Plan allocation", "Spend (£)") == pytest.approx(105e6 * 3, abs=0.01)
    paid = sum(total("Plan allocation", f"Paid by {n} (£)") for n in ("Public health grant", HOSTILE, "Time-limited grant"))
    assert paid == pytest.approx(105e6 * 3, abs=0.03)
    year_rows = sheets["Plan by year"]
    assert year_rows[0][:3] == ("Year", "Budget (£)", "Spent (£)")
    assert [r[0] for r in year_rows[1:]] == ["Before", *YEARS, "Total"]
    assert year_rows[2][year_rows[0].index("Distance from target (%)")] == pytest.approx(
        pd.read_csv(out / "plan_years.csv")["distance_from_target_share"][1])
    for year in YEARS:  # each year's spend on 'Plan by area' adds up to its budget
        rows = [r for r in sheets["Plan by area"][1:-1] if r[0] == year]
        assert len(rows) == 12 and sum(r[3] for r in rows) == pytest.approx(105e6, abs=0.01)


def test_the_about_sheet_still_reconciles_and_checks_each_year(out):
    about = list(openpyxl.load_workbook(out / "report.xlsx", data_only=True)["About"].iter_rows(values_only=True))
    checks = {r[0]: r for r in about if r and r[4] in ("yes", "no")}
    assert set(checks) == {"Quickstart: North East, three services", *YEARS}
    assert all(r[4] == "yes" and r[1] == 105e6 for r in checks.values())
    formulas = list(openpyxl.load_workbook(out / "report.xlsx")["About"].iter_rows(values_only=True))
    assert any(isinstance(r[2], str) and r[2].startswith("=SUMPRODUCT(--EXACT('Plan by area'!") for r in formulas)
    plan = next(r for r in about if r[0] == "Plan")
    assert plan[1].startswith("3 years, 2026/27 to 2028/29, health discounted at 3.5% a year.")


@pytest.mark.parametrize("fmt", ["html", "md", "xlsx"])
def test_a_report_rebuilt_from_the_folder_is_the_one_run_wrote(out, fmt, tmp_path):
    target = tmp_path / f"again.{fmt}"
    result = CliRunner().invoke(main, ["report", str(out), "--format", fmt, "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == (out / f"report.{fmt}").read_bytes()


def test_the_glide_path_starts_its_axes_at_zero(out):
    class Capture:
        def svg(self, fig, title, desc):
            self.fig, self.title, self.desc = fig, title, desc
            return "<svg/>"

    charts = Capture()
    glide_path_chart(load(out), charts)
    axes = charts.fig.axes
    assert len(axes) == 2 and all(ax.get_ylim()[0] <= 0 <= ax.get_ylim()[1] for ax in axes)
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["Before", *YEARS]
    labels = {t.get_text() for ax in axes for t in ax.texts}
    years = pd.read_csv(out / "plan_years.csv")
    assert {percent(v) for v in years["distance_from_target_share"]} <= labels
    assert {plain(v, 4) for v in years["sii_outcome"]} <= labels


def test_a_result_without_a_plan_has_no_plan_section():
    assert plan_text(ReportData(meta={"options": ["A"]}, tables={})) is None
