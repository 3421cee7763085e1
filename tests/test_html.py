"""The HTML report: structure, escaping (in the page and inside the SVG charts), no network,
determinism, and what headless Chromium shows."""

from __future__ import annotations

import io
import re
import time
from html.parser import HTMLParser

import numpy as np
import pytest

import allocator
import browser
from allocator.analysis.compare import compare
from allocator.reports.html import render_html
from allocator.reports.results import ReportData, report_data
from reports import OPTIONS, PAYLOAD, hostile_scenario, three_options

NAME = "Tiny <i>test</i> https://example.org/x"
TITLE = "Options for Tiny <i>test</i> https://example.org/x"  # a ':' in the name is kept
CHARTS = 5 + len(OPTIONS)  # spend, outcome, SII, winner counts, waterfalls; top changes per option


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> allocator.Scenario:
    """The tiny scenario with an area and the scenario named like attacks."""
    return hostile_scenario(tmp_path_factory.mktemp("html") / "tiny", NAME)


@pytest.fixture(scope="module")
def data(scenario) -> ReportData:
    return three_options(scenario)


@pytest.fixture(scope="module")
def page(data) -> str:
    return render_html(data)


class Parsed(HTMLParser):
    """Every element with its attributes, the text of <style>, <title> and headings."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._open.append(tag)

    def handle_endtag(self, tag):
        if tag in self._open:
            while self._open.pop() != tag:
                pass

    def handle_data(self, data):
        if self._open:
            self.text.setdefault(self._open[-1], []).append(data)

    def named(self, tag: str) -> list[dict]:
        return [attrs for t, attrs in self.tags if t == tag]


def test_structure_sections_and_every_option(page):
    doc = Parsed(page)
    assert page.startswith("<!DOCTYPE html>\n")
    assert doc.text["title"][0] == TITLE  # the page's; the charts' titles follow
    assert doc.text["h1"] == [TITLE]
    assert doc.text["h2"] == ["The brief", "Detail", "The social gradient", "Winners and losers",
                              "Why: from 'before' to the allocation", "Maps", "Find your area", "Tables"]
    assert page.index('id="brief"') < page.index("<svg"), "the brief comes before any chart"
    h3 = doc.text["h3"]
    for name in OPTIONS:
        assert f"Largest gains and losses: {name}" in h3
        assert f"From 'before' to the allocation: {name}" in h3
        assert f"<strong>{name.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</strong>" in page
    for title in ("Options at a glance", "The measures side by side", "Spend per head by deprivation group",
                  "Outcome by deprivation group", "The price of each rule"):
        assert title in h3
    assert "@media print" in page


def test_tables_have_captions_and_headers(page):
    doc = Parsed(page)
    tables = doc.named("table")
    # the brief, every area, and the detail: 7 tables (with spend by service and by region) + 2 per option
    assert len(tables) == 2 + 8 + 2 * len(OPTIONS)
    assert len(doc.text["caption"]) == len(tables)
    assert all(a.get("scope") in ("col", "row") for a in doc.named("th"))
    best = re.findall(r'<td class="num best"><strong>([^<]+)</strong>', page)
    assert best, "the best option on a measure is marked"


def test_numbers_are_formatted(page):
    assert re.search(r'<th scope="row">1 \(most deprived\)</th><td class="num">3,000</td>'
                     r'<td class="num">£\d+\.\d\d</td>', page)
    assert "Budget £100k across 4 areas and 2 services." in page
    assert "3 options for £100k across 4 areas and 2 services" in page  # the brief's lead
    text = re.sub(r"<svg.*?</svg>", "", page, flags=re.S)  # chart coordinates are not for reading
    assert not re.search(r"\d[eE][+-]\d", text), "no scientific notation"
    assert not re.search(r"\bnan\b", text, re.I)


def test_charts_are_inline_svg_with_text_and_titles(page):
    svgs = re.findall(r"<svg\b.*?</svg>", page, re.S)
    assert len(svgs) == CHARTS
    for svg in svgs:
        assert re.match(r'<svg [^>]*role="img" aria-labelledby="(chart\d+)-title \1-desc">'
                        r'<title id="\1-title">[^<]+</title><desc id="\1-desc">[^<]+</desc>', svg)
        assert "<text" in svg, "svg.fonttype none: text is text, not glyph paths"
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "no id is used twice in the page"
    assert "Steeper $slope$" in "".join(svgs), "a dollar sign is not mathtext"


def test_hostile_names_are_escaped_in_the_page_and_in_the_svg(page):
    lowered = page.lower()
    assert lowered.count("<script") == 1, "one script: find-my-area's, allowed by its hash"
    assert "<img" not in lowered and "<b>" not in lowered and "<i>" not in lowered
    doc = Parsed(page)
    assert not [t for t, _ in doc.tags if t in ("img", "iframe", "object", "embed", "b", "i")]
    assert [a for t, a in doc.tags if t == "script"] == [{}], "the script is inline, with no src"
    csp = next(a["content"] for t, a in doc.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    from allocator.reports.html_parts import script_hash

    assert f"script-src {script_hash()}" in csp and "unsafe-inline'; img" not in csp.split("script-src")[1]
    assert not [k for _, attrs in doc.tags for k in attrs if k.startswith("on")]
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror="
    svg_text = re.findall(r"<text\b[^>]*>([^<]*)</text>", page)
    assert any(t.startswith(escaped[:37]) for t in svg_text), "the name is text inside the chart"
    assert f"<th scope=\"row\">{escaped}&quot;document.title=&#x27;pwned&#x27;&quot;&gt;</th>" in page


def test_no_network_references(page):
    doc = Parsed(page)
    for tag, attrs in doc.tags:
        for key, value in attrs.items():
            assert "://" not in (value or ""), f"<{tag} {key}={value!r}>"
            if key in ("href", "xlink:href"):
                assert value.startswith("#"), f"<{tag} {key}={value!r}> is not an in-page link"
    style = "".join(doc.text["style"])
    assert "url(" not in style and "@import" not in style and "://" not in style
    assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", page))
    assert re.findall(r"https?://", page) == ["https://"] * page.count("https://example.org/x")


def test_same_data_same_bytes(data, page):
    assert render_html(data) == page


def test_a_run_and_missing_tables(scenario):
    run = report_data(compare([("Only", scenario)], waterfall=False, prices=False), "run")
    page = render_html(run)
    doc = Parsed(page)
    assert "Why: from 'before' to the allocation" not in doc.text["h2"]
    assert "The price of each rule" not in doc.text["h3"]
    assert len(re.findall(r"<svg\b", page)) == 5
    assert "Best option" not in page


# -- in a browser ------------------------------------------------------------------------
CHROMIUM = browser.chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                    "(apt-get install -y chromium) so the page cannot be opened in a browser")
CHECKS = {"scripts": "document.scripts.length", "images": "document.images.length",
          "svgs": "document.querySelectorAll('svg').length",
          "payload_as_text": "document.body.textContent.includes(" + repr(PAYLOAD).replace("\\'", "\\x27") + ")",
          "overflow": "document.documentElement.scrollWidth - document.documentElement.clientWidth"}


@needs_chromium
def test_chromium_renders_the_page_without_errors(page, tmp_path):
    start = time.monotonic()
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    seen = browser.visit(path, expressions=CHECKS, print_width=794)  # A4 paper is 794 CSS pixels wide
    assert seen.errors == []
    assert seen.title == TITLE, "no injected handler changed the title"
    assert seen.values == {"scripts": 1, "images": 0, "svgs": CHARTS, "payload_as_text": True, "overflow": 0}
    rgb = _pixels(seen.png)
    assert rgb.shape == (2000, 1200, 3)
    colours = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])
    assert len(colours) > 50, "the screenshot is not blank"
    assert (rgb < 230).any(axis=2).mean() > 0.03, "there is ink on the page"
    assert seen.print_values["overflow"] == 0, "printed, nothing overflows the paper"
    assert time.monotonic() - start < 30


def _pixels(png: bytes) -> np.ndarray:
    """The screenshot as an (height, width, 3) array of 0-255 integers."""
    from matplotlib.image import imread

    image = imread(io.BytesIO(png), format="png")[..., :3]
    return np.round(image * 255).astype(np.uint32)
