"""Every number a person reads goes through the one formatter: no scientific notation, no raw
measure ids, in the terminal and in every report of the bundled scenarios."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from allocator.cli import main
from allocator.reports.markdown import MEASURES

SCIENTIFIC = re.compile(r"\d(\.\d+)?[eE][+-]?\d")
RUNS = {"quickstart run": ["run", "quickstart", "--explain"],
        "quickstart compare": ["compare", "quickstart"],
        "england-la run": ["run", "england-la"]}


class Visible(HTMLParser):
    """The text a reader sees: page text and chart text (<text> in the SVGs), not path data."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.chunks.append(data)


@pytest.fixture(scope="module", params=sorted(RUNS))
def made(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("numbers") / "out"
    result = CliRunner().invoke(main, [*RUNS[request.param], "--out", str(out)])
    assert result.exit_code == 0, result.output
    return request.param, result.output, out


def _raw_ids(text: str) -> list[str]:
    return [m for m in MEASURES if re.search(rf"(?<![\w.]){m}(?![\w.])", text)]


def test_the_terminal_reads_plainly(made):
    name, output, _ = made
    assert not SCIENTIFIC.search(output), f"{name}: {SCIENTIFIC.search(output)[0]!r} in the terminal"
    if "compare" in name:
        assert _raw_ids(output) == []


@pytest.mark.parametrize("report", ["report.html", "brief.html", "report.md"])
def test_every_report_reads_plainly(made, report):
    name, _, out = made
    page = (out / report).read_text(encoding="utf-8")
    text = " ".join(Visible(page).chunks) if report.endswith(".html") else page
    text = re.sub(r"\b[0-9a-f]{12,64}\b", "<hash>", text)  # the inputs' sha256 are not numbers
    found = SCIENTIFIC.search(text)
    assert not found, f"{name} {report}: {text[max(0, found.start() - 60):found.end() + 20]!r}"
    assert "nan" not in re.findall(r"\b[Nn]a[Nn]\b", text)
    assert _raw_ids(text) == [], f"{name} {report}: raw measure ids"
    if report != "report.md":
        assert text.count("The brief") >= 1


@pytest.mark.parametrize("fmt", ["html", "md", "xlsx"])
def test_a_report_rebuilt_from_its_folder_is_byte_for_byte_the_same(made, fmt, tmp_path):
    _, _, out = made
    bodies = []
    for k in range(2):
        target = tmp_path / f"again{k}.{fmt}"
        result = CliRunner().invoke(main, ["report", str(out), "--format", fmt, "--output", str(target)])
        assert result.exit_code == 0, result.output
        bodies.append(target.read_bytes())
    assert bodies[0] == bodies[1], "the same folder gives the same bytes (stable chart ids, no clock)"
    # the same as the one written with the results: those are drawn from the tables as saved
    assert bodies[0] == (out / f"report.{fmt}").read_bytes()
