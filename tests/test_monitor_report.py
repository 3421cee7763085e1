"""The monitoring report (``monitor.html``, ``monitor.xlsx``) and the population groups of `monitor`.

The page must say what the terminal says, show the numbers of the CSVs through the formatter,
flag with a word as well as a colour, escape every name, never print 'e+' or 'nan', draw the
trend on an axis that holds zero and every confidence limit; the workbook must hold the CSVs'
numbers, reconcile, and neutralise formula-like names; and bad input writes nothing. The
population groups must add up to the actual spend of the areas compared.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner
from conftest import edit
from test_disaggregate import with_groups

import allocator
from allocator.cli import main
from allocator.format import change, gbp, money, number, percent, plain
from allocator.reports.monitor_charts import spend_figure, trend_figure
from allocator.reports.monitor_html import render_monitor_html
from allocator.reports.monitor_tables import lead_lines
from allocator.reports.monitor_workbook import monitor_workbook_bytes

ENGLAND_LA = Path(__file__).resolve().parents[1] / "scenarios" / "england-la"
SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x","y")'
YEAR = "<b>2025/26</b>"
GROUPS = ('\n[disaggregation]\n"Disability" = { "<i>Disabled</i>" = "dis", "=Not disabled" = "notdis" }\n'
          '"Age" = { "Young" = "young", "Old" = "old" }\n')


def invoke(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def number_or_nan(text: str) -> float:
    return float(text) if text not in ("", None) else float("nan")


class Tables(HTMLParser):
    """Every table of a page by its id: its rows (header row first) as cell texts, and each RAG cell's class."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.rag: list[tuple[str, str]] = []  # (class, text) of each flag cell
        self._table, self._row, self._cell, self._class = None, None, None, ""
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell, self._class = [], attrs.get("class") or ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            self._row.append(text)
            if "rag" in self._class.split():
                self.rag.append((self._class, text))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def visible(page: str) -> str:
    """The page's text as a reader gets it: no style, no chart markup (the charts' own text kept)."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    page = re.sub(r"<svg.*?</svg>", lambda m: " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", m[0])), page,
                  flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# -- the bundled outturn ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """england-la's synthetic outturn and observed outcomes, monitored with --out."""
    out = tmp_path_factory.mktemp("report") / "out"
    result = invoke("monitor", ENGLAND_LA, "--actual", ENGLAND_LA / "outturn.csv", "--actual",
                    ENGLAND_LA / "observed.csv", "--out", out)
    assert result.exit_code == 0, result.output
    return result.output, out, (out / "monitor.html").read_text()


@pytest.fixture(scope="module")
def monitored():
    return allocator.monitor(ENGLAND_LA, [ENGLAND_LA / "outturn.csv", ENGLAND_LA / "observed.csv"])


def test_the_page_leads_with_the_sentences_the_terminal_prints(bundled, monitored):
    output, _, page = bundled
    lead = output.split("\n\n")[1].splitlines()  # after the first line, before the first table
    assert lead == lead_lines(monitored)
    assert lead[0].startswith("Spent £3.56bn of £3.60bn") and lead[-1].startswith("Gradient in Years of potential")
    shown = re.search(r'<section id="brief".*?</section>', page, flags=re.S)[0]
    assert [html.unescape(x) for x in re.findall(r"<li>(.*?)</li>", shown)] == lead
    assert page.index('id="brief"') < page.index("<table")  # the words before any table


def test_the_tables_show_the_csvs_numbers_through_the_formatter(bundled):
    _, out, page = bundled
    tables = Tables(page).tables
    services = {r["service_name"]: r for r in rows(out / "monitor_by_service.csv")}
    shown = tables["monitor-services"]
    assert shown[0] == ["Service", "Planned (lines compared)", "Actual", "Variance", "Variance %", "RAG"]
    assert len(shown) == len(services) + 1
    for name, planned, actual, variance, pct, flag in shown[1:]:
        r = services[name]
        assert planned == gbp(float(r["planned_compared_gbp"])) and actual == gbp(float(r["actual_gbp"]))
        assert variance == money(float(r["variance_gbp"]), signed=True) and pct == change(float(r["variance_pct"]))
        assert flag == r["rag"].capitalize()
    total = rows(out / "monitor_totals.csv")[0]
    assert tables["monitor-totals"][1][:5] == ["Year 1", gbp(float(total["planned_gbp"])),
                                                gbp(float(total["planned_compared_gbp"])), gbp(float(total["actual_gbp"])),
                                                money(float(total["variance_gbp"]), signed=True)]
    deciles = rows(out / "monitor_by_group.csv")
    for shown_row, r in zip(tables["monitor-groups"][1:], deciles, strict=True):
        assert shown_row[2:4] == [number(float(r["planned_per_head_gbp"]), "GBP per head"),
                                  number(float(r["actual_per_head_gbp"]), "GBP per head")]
    trend = rows(out / "monitor_trend.csv")
    for shown_row, r in zip(tables["monitor-trend"][1:], trend, strict=True):
        assert shown_row[:4] == [r["year"], r["source"], f"{int(r['areas']):,}", plain(float(r["sii"]), 4)]
        if r["sii_lower"]:
            assert shown_row[4] == f"{plain(float(r['sii_lower']), 4)} to {plain(float(r['sii_upper']), 4)}"
    measures = rows(out / "monitor_measures.csv")
    share = next(r for r in measures if r["measure"] == "share_of_spend_most_deprived_fifth")
    assert [percent(float(share["planned"])), percent(float(share["actual"]))] in [
        x[1:3] for x in tables["monitor-measures"]]
    leeds = next(x for x in tables["monitor-areas"] if x[0] == "Leeds")
    r = next(r for r in rows(out / "monitor_by_area.csv") if r["area_name"] == "Leeds")
    assert leeds[1:] == [r["deprivation_decile"], gbp(float(r["planned_gbp"])), gbp(float(r["planned_compared_gbp"])),
                         gbp(float(r["actual_gbp"])), money(float(r["variance_gbp"]), signed=True),
                         change(float(r["variance_pct"])), "Red"]


def test_population_groups_are_shown_with_the_method_and_match_the_csv(bundled):
    output, out, page = bundled
    from allocator.analysis.disaggregate import METHOD

    assert html.escape(METHOD, quote=True) in page and "Over the areas that reported every line only" in page
    tables = Tables(page).tables
    shown = [row for key in ("monitor-population-1", "monitor-population-2", "monitor-population-3")
             for row in tables[key][1:]]
    saved = rows(out / "monitor_by_population_group.csv")
    assert [row[0] for row in shown] == [r["group"] for r in saved]
    for row, r in zip(shown, saved):
        assert row[1] == number(round(float(r["population"])))
        assert row[3:8] == [gbp(float(r["planned_gbp"])), gbp(float(r["actual_gbp"])),
                            number(float(r["planned_per_head_gbp"]), "GBP per head"),
                            number(float(r["actual_per_head_gbp"]), "GBP per head"),
                            number(float(r["change_per_head_gbp"]), "GBP per head", signed=True)]
    assert "By population group (an area-level estimate" in output
    assert "Spend per head by population group, actual against planned (an area-level estimate over the 295 " \
           "areas that reported every line): Ethnic group from" in output


def test_every_flag_is_a_word_and_a_colour(bundled):
    _, _, page = bundled
    flags = Tables(page).rag
    assert flags and all(text in ("Green", "Amber", "Red", "Not reported") for _, text in flags)
    for cls, text in flags:
        assert cls == f"rag rag-{text.lower() if text != 'Not reported' else 'none'}"
    assert ("rag rag-red", "Red") in flags and ("rag rag-amber", "Amber") in flags
    assert ".rag-red{background:" in page  # the colour is there too


def test_no_scientific_notation_nan_or_infinity_anywhere_a_reader_looks(bundled):
    _, _, page = bundled
    text = visible(page)
    assert not re.search(r"\d[eE][+-]?\d", text)
    assert not re.search(r"\b(nan|NaN|inf|Infinity)\b", text)
    assert "<script" not in page and "Content-Security-Policy" in page


def test_the_trend_is_drawn_from_zero_holding_every_limit(monitored):
    t = monitored.trend
    low, high = trend_figure(monitored).axes[0].get_ylim()
    values = np.concatenate([t[c].to_numpy(float) for c in ("sii", "sii_lower", "sii_upper", "projected_sii")])
    values = values[np.isfinite(values)]
    assert (t["source"] == "observed").sum() == 3 and np.isfinite(t["sii_lower"]).sum() == 3
    assert low <= values.min() and high >= max(values.max(), 0.0)
    assert low < 0 <= high  # the SII is negative here: zero is on the axis, so no change is stretched
    low, high = spend_figure(monitored).axes[0].get_ylim()
    per_head = monitored.by_group[["planned_per_head_gbp", "actual_per_head_gbp"]].to_numpy(float)
    assert low == 0 and high >= np.nanmax(per_head)


def test_the_report_is_the_same_every_time(monitored):
    assert render_monitor_html(monitored) == render_monitor_html(monitored)
    assert monitor_workbook_bytes(monitored) == monitor_workbook_bytes(monitored)


# -- the workbook -------------------------------------------------------------------------------
def sheet_rows(ws) -> list[dict]:
    """A data sheet's rows (the totals row left out) by header."""
    values = list(ws.iter_rows(values_only=True))
    return [dict(zip(values[0], row)) for row in values[1:] if row[0] != "Total"]


def totals_row(ws) -> dict:
    values = list(ws.iter_rows(values_only=True))
    return dict(zip(values[0], values[-1]))


def test_the_workbook_holds_the_csvs_and_reconciles(bundled):
    _, out, _ = bundled
    book = openpyxl.load_workbook(out / "monitor.xlsx")
    assert book.sheetnames == ["About", "Totals by year", "Services", "Areas", "By deprivation decile",
                               "By ethnic group", "By disability", "By age", "Measures", "Rules", "Breaches", "Trend",
                               "Trend by group", "Lines"]
    about = [c for row in book["About"].iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert "Monitoring workbook, written by allocator" in about[1]
    assert any(c.startswith("Spent £3.56bn of £3.60bn") for c in about)  # what it means, as the terminal says it
    assert any(c.startswith("10.0%: ... and red beyond this share") for c in about)  # the thresholds
    values = openpyxl.load_workbook(out / "monitor.xlsx", data_only=True)
    checks = [row[:5] for row in values["About"].iter_rows(values_only=True) if row[4] in ("yes", "no")]
    assert [c[0] for c in checks] == ["Year 1", "Year 1: Ethnic group", "Year 1: Disability", "Year 1: Age"]
    assert all(c[4] == "yes" and c[3] == 0 and c[1] == c[2] for c in checks)
    by_area = rows(out / "monitor_by_area.csv")
    complete = math.fsum(float(r["actual_gbp"]) for r in by_area if r["reported"] == "all")
    assert checks[1][1] == pytest.approx(round(complete, 2), abs=0.001)
    services = {r["service_id"]: r for r in rows(out / "monitor_by_service.csv")}
    for r in sheet_rows(values["Services"]):
        saved = services[r["Service code"]]
        assert r["Actual (£)"] == pytest.approx(float(saved["actual_gbp"]), rel=1e-9)  # the CSV: 10 figures
        assert r["Variance (%)"] == pytest.approx(float(saved["variance_pct"]), rel=1e-9)
        assert r["RAG"] == saved["rag"]
    areas = sheet_rows(values["Areas"])
    assert [r["Area code"] for r in areas] == [r["area_id"] for r in by_area]
    assert totals_row(values["Areas"])["Actual (£)"] == pytest.approx(
        math.fsum(number_or_nan(r["actual_gbp"]) for r in by_area if r["actual_gbp"]), abs=0.005)
    rutland = next(r for r in areas if r["Area name"] == "Rutland")
    assert rutland["Actual (£)"] is None and rutland["RAG"] == "not reported"  # empty, never zero
    for name in ("By ethnic group", "By disability", "By age"):
        assert totals_row(values[name])["Actual (£)"] == pytest.approx(round(complete, 2), abs=0.001), name
    breaches = sheet_rows(values["Breaches"])
    assert len(breaches) == len(rows(out / "monitor_breaches.csv"))
    assert book["Areas"].conditional_formatting  # each flag filled in its colour as well as named


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_recalculates_the_checks_to_yes(bundled, tmp_path):
    _, out, _ = bundled
    profile = tmp_path / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">'
        "<value>0</value></prop></item></oor:items>\n")
    subprocess.run(["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to",
                    "xlsx:Calc MS Excel 2007 XML", "--outdir", str(tmp_path / "lo"), str(out / "monitor.xlsx")],
                   check=True, capture_output=True, timeout=180)
    ours = openpyxl.load_workbook(out / "monitor.xlsx", data_only=True)
    theirs = openpyxl.load_workbook(tmp_path / "lo" / "monitor.xlsx", data_only=True)
    for ws in ours:
        for row, again in zip(ws.iter_rows(values_only=True), theirs[ws.title].iter_rows(values_only=True),
                              strict=True):
            assert again == tuple(pytest.approx(v, rel=1e-9, abs=1e-6) if isinstance(v, float) else v
                                  for v in row), ws.title
    assert [row[4] for row in theirs["About"].iter_rows(values_only=True) if row[4] in ("yes", "no")] == ["yes"] * 4


# -- hostile names ------------------------------------------------------------------------------
@pytest.fixture
def hostile(tiny, tmp_path):
    """The tiny scenario with a script for a name, a formula for another, population groups with markup and a
    formula for names, a year label with markup; A1 12% over plan, A2 8% under, A4 not reported, outcomes
    observed."""
    edit(tiny / "areas.csv", "A1,Northtown", f"A1,{SCRIPT}")
    edit(tiny / "areas.csv", "A2,Easton", f'A2,"{FORMULA.replace(chr(34), chr(34) * 2)}"')
    edit(tiny / "services.csv", "visits,Health visiting", "visits,<b>Visits</b> & more")
    edit(tiny / "scenario.toml", 'name = "Tiny test scenario"', f'name = "{SCRIPT} scenario"')
    with_groups(tiny, GROUPS)
    s = allocator.load(tiny)
    plan = allocator.solve(s).allocation.spend
    spend = tmp_path / "spend.csv"
    spend.write_text("area_id,service_id,actual_gbp\n" + "".join(
        f"{a},{sid},{plan[i, j] * {'A1': 1.12, 'A2': 0.92}.get(a, 1.0):.2f}\n"
        for i, a in enumerate(s.area_ids) for j, sid in enumerate(s.service_ids) if a != "A4"))
    observed = tmp_path / "observed.csv"
    observed.write_text("area_id,year,observed,standard_error\nA1,2026,76.2,0.3\nA2,2026,79.1,0.2\n"
                        "A3,2026,81.0,0.25\nA4,2026,83.1,0.4\n")
    return tiny, spend, observed


def test_names_from_the_input_are_escaped_in_the_page_and_its_charts(hostile, tmp_path):
    tiny, spend, observed = hostile
    out = tmp_path / "out"
    result = invoke("monitor", tiny, "--actual", spend, "--actual", observed, "--year", YEAR, "--out", out)
    assert result.exit_code == 0, result.output
    page = (out / "monitor.html").read_text()
    assert "<script" not in page and "<b>" not in page and "<i>" not in page
    assert html.escape(SCRIPT) in page and "&lt;b&gt;Visits&lt;/b&gt; &amp; more" in page
    assert "&lt;i&gt;Disabled&lt;/i&gt;" in page and html.escape(FORMULA, quote=True) in page
    charts = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(charts) == 2 and any("&lt;b&gt;2025/26&lt;/b&gt;" in svg for svg in charts)  # the year, in the chart
    text = visible(page)
    assert not re.search(r"\d[eE][+-]?\d", text) and not re.search(r"\b(nan|NaN|inf)\b", text)
    assert f"Of 3 areas compared, 1 overspent by more than 10.0% ({SCRIPT} +12.0%)" in text


def test_formula_like_names_are_neutralised_in_the_workbook(hostile, tmp_path):
    tiny, spend, observed = hostile
    out = tmp_path / "out"
    assert invoke("monitor", tiny, "--actual", spend, "--actual", observed, "--out", out).exit_code == 0
    book = openpyxl.load_workbook(out / "monitor.xlsx")
    names = [r["Area name"] for r in sheet_rows(book["Areas"])]
    assert names == [SCRIPT, "'" + FORMULA, "Southby", "Westfield"]
    groups = [r["Disability"] for r in sheet_rows(book["By disability"])]
    assert groups == ["<i>Disabled</i>", "'=Not disabled"]
    for ws in book:  # the only formulas: the totals rows and the About sheet's checks, all allocator's own
        last = ws.max_row
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    assert (ws.title == "About" and c.column in (3, 4, 5)) or (
                        c.row == last and re.match(r"=(SUBTOTAL|IFERROR\(SUBTOTAL)\(", c.value)), (ws.title, c.value)
    assert [r["group"] for r in rows(out / "monitor_by_population_group.csv")][:2] == ["<i>Disabled</i>",
                                                                                      "'=Not disabled"]


def test_population_groups_add_up_to_the_actual_spend_of_the_areas_compared(hostile):
    tiny, spend, _ = hostile
    for missing, compared in (("exclude", ["A1", "A2", "A3"]), ("zero", ["A1", "A2", "A3", "A4"])):
        m = allocator.monitor(tiny, spend, missing=missing)
        s = m.scenario
        groups = m.by_population_group
        assert groups["dimension"].unique().tolist() == ["Disability", "Age"]
        areas = m.by_area.set_index("area_id").loc[compared]
        for _, part in groups.groupby("dimension"):
            assert part["actual_gbp"].sum() == pytest.approx(areas["actual_gbp"].sum(), rel=1e-12)
            assert part["planned_gbp"].sum() == pytest.approx(areas["planned_gbp"].sum(), rel=1e-12)
            assert part["population"].sum() == pytest.approx(areas["population"].sum(), rel=1e-12)
            assert (part["areas"] == len(compared)).all()
        # by hand: Disabled people are 200, 300, 150 (and 50) of A1..A4, each getting the area's actual per head
        keep = [s.area_ids.index(a) for a in compared]
        per_head = areas["actual_gbp"].to_numpy() / s.population[keep]
        disabled = np.array([200, 300, 150, 50], dtype=float)[keep] / np.array([1002, 2000, 1500, 500])[keep] \
            * s.population[keep]
        row = groups[groups["group"] == "<i>Disabled</i>"].iloc[0]
        assert row["actual_gbp"] == pytest.approx(float(per_head @ disabled), rel=1e-12)
        assert row["actual_per_head_gbp"] == pytest.approx(row["actual_gbp"] / disabled.sum(), rel=1e-12)


def test_a_scenario_without_population_groups_has_none(tiny, tmp_path):
    s = allocator.load(tiny)
    plan = allocator.solve(s).allocation.spend
    spend = tmp_path / "spend.csv"
    spend.write_text("area_id,service_id,actual_gbp\n" + "".join(
        f"{a},{sid},{plan[i, j]:.2f}\n" for i, a in enumerate(s.area_ids) for j, sid in enumerate(s.service_ids)))
    m = allocator.monitor(tiny, spend)
    assert m.by_population_group.empty and "monitor_by_population_group" in m.tables
    page = render_monitor_html(m)
    assert 'id="population"' not in page and not any("population group" in line for line in lead_lines(m))
    assert "By disability" not in openpyxl.load_workbook(io.BytesIO(monitor_workbook_bytes(m))).sheetnames


# -- what is written, and what is not --------------------------------------------------------------
def test_format_chooses_the_reports_and_the_tables_are_always_written(hostile, tmp_path):
    tiny, spend, _ = hostile
    only = invoke("monitor", tiny, "--actual", spend, "--out", tmp_path / "a", "--format", "html")
    assert only.exit_code == 0, only.output
    names = {p.name for p in (tmp_path / "a").iterdir()}
    assert "monitor.html" in names and "monitor.xlsx" not in names and "monitor_totals.csv" in names
    assert only.output.rstrip().endswith("12 tables (monitor_*.csv), monitor.json and monitor.html.")
    tables = invoke("monitor", tiny, "--actual", spend, "--out", tmp_path / "b", "--format", "csv")
    assert tables.exit_code == 0 and "monitor_totals.csv" in {p.name for p in (tmp_path / "b").iterdir()}
    assert not {"monitor.html", "monitor.xlsx"} & {p.name for p in (tmp_path / "b").iterdir()}


@pytest.mark.parametrize(("args", "message"), [
    (("--format", "pdf"), "Error: --format: unknown format pdf (choose from csv, json, html, xlsx)\n"),
    (("--threshold", "variance_red"), "Error: --threshold: expected NAME=VALUE (e.g. variance_red=0.15), got "
                                      "'variance_red'\n"),
])
def test_bad_options_exit_2_and_write_nothing(hostile, tmp_path, args, message):
    tiny, spend, _ = hostile
    out = tmp_path / "out"
    result = invoke("monitor", tiny, "--actual", spend, "--out", out, *args)
    assert result.exit_code == 2 and result.output == message
    assert not out.exists()


def test_bad_input_writes_no_report(hostile, tmp_path):
    tiny, spend, _ = hostile
    spend.write_text(spend.read_text() + "A9,visits,100\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "monitor.html").write_text("the last quarter's")
    result = invoke("monitor", tiny, "--actual", spend, "--out", out)
    assert result.exit_code == 2 and "column 'area_id': expected one of the scenario's areas" in result.output
    assert [p.name for p in out.iterdir()] == ["monitor.html"]
    assert (out / "monitor.html").read_text() == "the last quarter's"  # untouched
