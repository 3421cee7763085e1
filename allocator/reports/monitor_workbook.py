"""The monitoring workbook, ``monitor.xlsx``: the plan against what was spent and observed, for the
finance business partner beside the health and wellbeing board's paper.

'About' comes first: what was monitored, against which files, what it means (the sentences
``allocator monitor`` prints), checks that each year's actual spend equals the live ``SUM`` of
the areas' (and, with ``[disaggregation]``, that each dimension's groups add up to the actual
spend of the areas compared: "Reconciles: yes"), the thresholds with what each means, the notes
and the sheets.  Then the data sheets of `allocator.reports.monitor_sheets`, written as the run's
workbook writes its own (`allocator.reports.workbook.book_bytes`): each an Excel Table with
filters, a live totals row, frozen headers, number formats (never scientific notation), every
text cell neutralised so that no name from the input runs as a formula, and the same
monitoring gives the same bytes.
"""

from __future__ import annotations

import math

import numpy as np

from allocator.analysis.disaggregate import METHOD
from allocator.analysis.monitor import NOT_REPORTED, Monitoring
from allocator.reports.monitor_sheets import ACTUAL, AREAS, YEAR, monitor_sheets
from allocator.reports.monitor_tables import lead_lines, threshold_text
from allocator.reports.workbook import About, book_bytes, live_sum, print_setup
from allocator.reports.workbook_sheets import Sheet
from allocator.reports.workbook_xml import FIXED_TIME, ILLEGAL, cell_text
from allocator.scenario.monitor_settings import THRESHOLDS
from allocator.version import __version__

MISSING = {"exclude": "left out of every comparison, not counted as zero (missing = exclude)",
           "zero": "counted as nothing spent (missing = zero)",
           "planned": "counted as spent as planned (missing = planned)"}


def monitor_workbook_bytes(m: Monitoring) -> bytes:
    """The monitoring workbook's bytes: the same monitoring gives the same bytes.

    Examples
    --------
    >>> import io, openpyxl, allocator
    >>> m = allocator.monitor("scenarios/england-la", "scenarios/england-la/outturn.csv")
    >>> book = openpyxl.load_workbook(io.BytesIO(monitor_workbook_bytes(m)))
    >>> book.sheetnames[:4]
    ['About', 'Totals by year', 'Services', 'Areas']
    """
    title = f"Monitoring: {m.scenario.name}"
    properties = {"title": ILLEGAL.sub("", title), "author": "allocator", "company": "",
                  "subject": "Monitoring: the plan against what was spent and observed",
                  "keywords": "monitoring, outturn, proportionate universalism, health inequalities",
                  "comments": f"Written by allocator {__version__}.", "created": FIXED_TIME}
    return book_bytes(monitor_sheets(m), title, properties,
                      lambda ws, styles, sheets: MonitorAbout(ws, styles).write_monitoring(m, title, sheets))


def complete_actual(m: Monitoring, year: str) -> float:
    """The actual spend of the areas whose every planned line was compared in ``year``, from the lines
    table: what each dimension's population groups add up to."""
    lines = m.lines[m.lines["year"] == year]
    compared = (lines["status"] != NOT_REPORTED) | (lines["planned_gbp"] <= 0)
    whole = compared.groupby(lines["area_id"], sort=False).transform("all")
    return math.fsum(np.nan_to_num(lines.loc[whole, "actual_gbp"].to_numpy(float)).tolist())


class MonitorAbout(About):
    """The monitoring workbook's About sheet, written down the page."""

    def write_monitoring(self, m: Monitoring, title: str, sheets: list[Sheet]) -> None:
        self.ws.write_string(0, 0, cell_text(title), self.styles.title)
        self.ws.write_string(1, 0, cell_text("Monitoring workbook, written by allocator: the plan against what was "
                                             "actually spent and observed. Every sheet is a table with filters and a "
                                             "live totals row; filter on the year to see one year's totals."))
        self.row = 3
        self._facts_of(m)
        self._said(m)
        self._spend_checks(m, sheets)
        self._group_checks(m, sheets)
        self._list("Threshold", "Value: what it means",
                   [(name, f"{threshold_text(name, getattr(m.settings, name))}: {meaning}")
                    for name, (_, meaning) in THRESHOLDS.items() if name not in ("year", "baseline_year")])
        if m.notes:
            self._heading("Notes")
            for note in m.notes:
                self._long(note, self.styles.wrap)
                self.row += 1
        self._list("Sheet", "What it holds", [(s.name, s.about) for s in sheets])
        print_setup(self.ws, "&L&A&CPage &P of &N")

    def _facts_of(self, m: Monitoring) -> None:
        s, g = m.scenario, m.scenario.gradient
        label = m.group_column.removeprefix("deprivation_")
        better = "higher" if g.higher_is_better else "lower"
        facts = [("Scenario", s.name), ("Years", ", ".join(m.years)),
                 ("Actual spend and outcomes from", "; ".join(m.files)),
                 ("allocator version", __version__),
                 ("Outcome", f"{g.outcome_label} ({g.outcome_units}; {better} is better)"),
                 ("Deprivation groups", f"{label}s of deprivation, 1 = most deprived"),
                 ("Lines not reported", MISSING.get(m.settings.missing, m.settings.missing)),
                 ("Population groups", METHOD if len(m.by_population_group) else None),
                 ("Description", s.description), ("Data sources", s.attribution)]
        for label, value in facts:
            if value:
                self.ws.write_string(self.row, 0, label, self.styles.bold)
                self._long(str(value), self.styles.wrap)
                self.row += 1

    def _said(self, m: Monitoring) -> None:
        self._heading("What it means")
        for line in lead_lines(m):
            self._long(line, self.styles.wrap)
            self.row += 1

    def _spend_checks(self, m: Monitoring, sheets: list[Sheet]) -> None:
        """Each year's actual spend (the totals) against the live SUM of the Areas sheet's."""
        parts = [s for s in sheets if s.name == AREAS or s.name.startswith(f"{AREAS} (")]
        years = [(str(y), a) for y, a in zip(m.totals["year"], m.totals["actual_gbp"]) if np.isfinite(a)]
        if not parts or not years:
            return
        self._heading(YEAR, "Actual, on the lines compared (£)", f"Actual: live sum of '{AREAS}' (£)",
                      "Difference (£)", "Reconciles")
        for year, actual in years:
            self._check(year, round(float(actual), 2), *live_sum(parts, year, f"$A${self.row + 1}", YEAR, ACTUAL))

    def _group_checks(self, m: Monitoring, sheets: list[Sheet]) -> None:
        """Each dimension's groups, each year: their live SUM against the actual of the areas compared."""
        groups = [s for s in sheets if s.column("Areas column") is not None and s.column(ACTUAL) is not None]
        years = list(dict.fromkeys(m.by_population_group["year"].astype(str)))
        if not groups or not years:
            return
        self.ws.write_string(self.row + 1, 6, "Year (the live sum's)", self.styles.header)
        self._heading("Year: population groups", "Actual of the areas that reported every line (£)",
                      "Actual: live sum of the groups (£)", "Difference (£)", "Reconciles")
        for sheet in groups:
            for year in years:
                formula, total = live_sum([sheet], year, f"$G${self.row + 1}", YEAR, ACTUAL)
                self.ws.write_string(self.row, 6, cell_text(year))  # the key the live sum matches, beside the check
                self._check(f"{year}: {sheet.columns[1].header}", round(complete_actual(m, year), 2), formula, total)
