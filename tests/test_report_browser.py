"""The HTML reports of the bundled quickstart scenario, in real headless Chromium (issue #12, "Checks").

For `allocator run` and `allocator compare`, the full report (report.html) and the one-page brief
(brief.html), each at 1280 and at 400 CSS pixels wide: no console errors or uncaught exceptions,
no network requests, no horizontal scroll, the brief above the fold, and no axe-core violations.
Printed (A4, the reports' own @page rules): the brief on at most 2 pages; the full report on
several pages, numbered, with the date it was solved.

One Chromium serves the whole module; each page is loaded once per width and the checks below
read the same visit, so that each failure is reported on its own.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import browser
from allocator.cli import main

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart"
COMMANDS = ("run", "compare")
PAGES = ("report.html", "brief.html")
# the fold: a small laptop screen, and a phone (400 px wide, as in the issue)
VIEWPORTS = {1280: 720, 400: 700}
BRIEF = "#brief, section.brief"  # the brief: its heading and its opening paragraph must be on the first screen
FOLD = {"brief": BRIEF, "heading": ", ".join(f"{s} :is(h1, h2)" for s in BRIEF.split(", ")),
        "lead": ", ".join(f"{s} p" for s in BRIEF.split(", "))}

CHROMIUM = browser.chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium, "
                                "or make chromium) so the reports cannot be opened in a browser")
AXE = importlib.util.find_spec("axe_playwright_python") is not None
needs_axe = pytest.mark.skipif(not AXE, reason="axe-core is not installed: pip install -e '.[test]' "
                               "(axe-playwright-python ships axe.min.js)")


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """`allocator run` and `allocator compare` of the quickstart scenario, each in its own folder."""
    root = tmp_path_factory.mktemp("report-browser")
    out = {}
    for command in COMMANDS:
        folder = root / command
        result = CliRunner().invoke(main, [command, str(SCENARIO), "--out", str(folder), "--format", "html"])
        assert result.exit_code == 0, result.output
        out[command] = folder
    return out


@pytest.fixture(scope="module")
def chrome():
    with browser.launch(CHROMIUM) as running:
        yield running


@pytest.fixture(scope="module")
def visits(folders, chrome):
    """Each page at each width, loaded once (with axe-core run on it when installed)."""
    seen: dict[tuple[str, str, int], browser.Visit] = {}

    def visit(command: str, page: str, width: int) -> browser.Visit:
        path = _page(folders, command, page)
        key = (command, page, width)
        if key not in seen:
            seen[key] = browser.visit(path, browser=chrome, width=width, height=VIEWPORTS[width],
                                      screenshot=False, fold=FOLD, axe=AXE)
        return seen[key]

    return visit


@pytest.fixture(scope="module")
def printed(folders, chrome):
    """Each page printed to PDF, once."""
    seen: dict[tuple[str, str], browser.Visit] = {}

    def visit(command: str, page: str) -> browser.Visit:
        path = _page(folders, command, page)
        if (command, page) not in seen:
            seen[command, page] = browser.visit(path, browser=chrome, screenshot=False, pdf=True)
        return seen[command, page]

    return visit


def _page(folders: dict[str, Path], command: str, page: str) -> Path:
    path = folders[command] / page
    assert path.is_file(), f"allocator {command} --out wrote no {page}"
    return path


def _solved_on(folder: Path) -> str:
    """The date the run was solved (YYYY-MM-DD), from its run.json (a comparison's: each option's)."""
    manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    runs = [manifest, *(manifest.get("options") or {}).values()]
    return next(run["written"] for run in runs if isinstance(run, dict) and isinstance(run.get("written"), str))


EVERY_VIEW = pytest.mark.parametrize("width", list(VIEWPORTS), ids=lambda w: f"{w}px")
EVERY_PAGE = pytest.mark.parametrize("command,page", [(c, p) for c in COMMANDS for p in PAGES],
                                     ids=lambda v: v.replace(".html", ""))


@EVERY_PAGE
@EVERY_VIEW
def test_no_console_errors(visits, command, page, width):
    errors = visits(command, page, width).errors
    assert not errors, "\n".join(errors)


@EVERY_PAGE
@EVERY_VIEW
def test_no_network_requests(visits, command, page, width):
    requests = visits(command, page, width).network
    assert not requests, "the page asked for: " + ", ".join(requests)


@EVERY_PAGE
@EVERY_VIEW
def test_no_horizontal_scroll(visits, command, page, width):
    seen = visits(command, page, width)
    scrolls = seen.horizontal_scroll
    assert not scrolls, (
        f"the page is {seen.scroll_width} px wide in a {seen.inner_width} px window; sticking out:\n  "
        + "\n  ".join(seen.overflowing or ["(no element found)"]))


@EVERY_PAGE
@EVERY_VIEW
def test_brief_is_above_the_fold(visits, command, page, width):
    seen = visits(command, page, width)
    fold = seen.inner_height
    assert seen.tops["brief"] is not None, f"no {BRIEF} in the page"
    assert seen.above_fold("brief"), f"the brief starts at {seen.tops['brief']['top']:.0f} px, below the fold ({fold})"
    heading, lead = seen.tops["heading"], seen.tops["lead"]
    assert heading is not None and heading["bottom"] <= fold, f"the brief's heading is not above the fold: {heading}"
    assert lead is not None and lead["top"] < fold, f"the brief's first paragraph starts below the fold: {lead}"


@needs_axe
@EVERY_PAGE
@EVERY_VIEW
def test_no_accessibility_violations(visits, command, page, width):
    seen = visits(command, page, width)
    violations = [v["id"] for v in seen.violations]
    assert not violations, "axe-core:\n" + seen.describe_violations()


@pytest.mark.parametrize("command", COMMANDS)
def test_brief_prints_on_at_most_two_pages(printed, command):
    seen = printed(command, "brief.html")
    assert seen.pdf.startswith(b"%PDF-")
    pages = seen.pdf_pages
    assert len(seen.pdf_text) == pages
    assert 1 <= pages <= 2, f"the brief prints on {pages} A4 pages; each begins:\n" + "\n".join(
        f"  {n}: " + " / ".join(text.splitlines()[2:4]) for n, text in enumerate(seen.pdf_text, 1))


@pytest.mark.parametrize("command", COMMANDS)
def test_report_prints_numbered_pages_with_the_date(printed, folders, command):
    seen = printed(command, "report.html")
    assert seen.pdf.startswith(b"%PDF-")
    pages, text = seen.pdf_pages, seen.pdf_text
    assert pages > 1 and len(text) == pages
    date = _solved_on(folders[command])
    assert date in "\n".join(text), f"the printed report does not say when it was solved ({date})"
    unnumbered = [n for n, page in enumerate(text, 1) if not re.search(rf"\b{n}\s*(of|/)\s*{pages}\b", page)]
    assert unnumbered == [], f"printed pages without 'n of {pages}': {unnumbered}"


def test_the_checks_can_fail(chrome, tmp_path):
    """A page with every fault the checks look for: the harness sees each one."""
    page = tmp_path / "faulty.html"
    page.write_text(
        '<!DOCTYPE html><html><head><title>Faulty</title><link rel="stylesheet" href="missing.css"></head><body>'
        '<div style="width:2000px;height:1500px">wide and tall</div>'
        '<img src="http://127.0.0.1:9/x.png"><section id="brief"><h2>The brief</h2><p>Too late.</p></section>'
        '<script>console.error("boom"); null.x;</script></body></html>', encoding="utf-8")
    seen = browser.visit(page, browser=chrome, width=400, height=700, screenshot=False, fold=FOLD, axe=AXE, pdf=True)
    assert any("boom" in e for e in seen.errors) and any(e.startswith("uncaught:") for e in seen.errors)
    assert set(seen.network) == {(tmp_path / "missing.css").as_uri(), "http://127.0.0.1:9/x.png"}
    assert seen.horizontal_scroll and seen.scroll_width >= 2000
    assert seen.overflowing[0].startswith('html > body > div: <div style="width:2000px')
    assert seen.tops["brief"]["top"] > 1500 and not seen.above_fold("brief")
    if AXE:
        assert {"image-alt", "html-has-lang"} <= {v["id"] for v in seen.violations}
        assert "image-alt (critical)" in seen.describe_violations()
    assert seen.pdf_pages >= 1 and "wide and tall" in seen.pdf_text[0]


# -- a sweep's page (`allocator report SWEEP_DIR`) ---------------------------------------------------
@pytest.fixture(scope="module")
def sweep_page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sweep-browser") / "sweep"
    made = CliRunner().invoke(main, ["sweep", str(SCENARIO), "--vary", "budget=80e6:120e6:3", "--samples", "4",
                                     "--seed", "3", "--options", "--workers", "1", "--out", str(out)])
    assert made.exit_code == 0, made.output
    written = CliRunner().invoke(main, ["report", str(out)])
    assert written.exit_code == 0, written.output
    return out / "report.html"


@EVERY_VIEW
def test_the_sweep_page_reads_on_a_phone_and_a_laptop(sweep_page, chrome, width):
    seen = browser.visit(sweep_page, browser=chrome, width=width, height=VIEWPORTS[width], screenshot=False,
                         axe=AXE)
    assert seen.errors == []
    assert seen.network == []
    assert not seen.horizontal_scroll, seen.overflowing
    if AXE:
        assert seen.violations == [], seen.describe_violations()
