"""Shared by the report tests: three options on the tiny scenario, with names like attacks."""

from __future__ import annotations

import shutil

import allocator
from allocator.analysis.compare import compare
from allocator.reports.results import ReportData, report_data
from conftest import DATA, edit

PAYLOAD = "<script>alert(1)</script><img src=x onerror=\"document.title='pwned'\">"
OPTIONS = ("Health gain", "Fair | share <b>x</b>", "Steeper $slope$")


def hostile_scenario(folder, name: str | None = None) -> allocator.Scenario:
    """The tiny scenario copied to ``folder``, area A1 named PAYLOAD (and the scenario ``name``)."""
    shutil.copytree(DATA / "tiny", folder)
    edit(folder / "areas.csv", "A1,Northtown,", 'A1,"' + PAYLOAD.replace('"', '""') + '",')
    if name is not None:
        edit(folder / "scenario.toml", 'name = "Tiny test scenario"', f'name = "{name}"')
    return allocator.load(folder)


def three_options(s: allocator.Scenario) -> ReportData:
    """Health gain, fair share and a steeper need slope, compared, as a report takes them."""
    variants = [s, s.with_(objective="fair-share"), s.with_(min_slope=s.floor * 0.05)]
    return report_data(compare(list(zip(OPTIONS, variants))), "compare")
