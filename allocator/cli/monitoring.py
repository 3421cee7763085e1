"""The monitor command: the plan against what was actually spent and observed."""

from __future__ import annotations

from pathlib import Path

import click

from allocator.cli.base import EXIT_BAD_INPUT, _Fail, main
from allocator.progress import stage

#: as allocator.scenario.monitor_settings.MISSING (not imported: --help needs no numpy)
MISSING = ("exclude", "zero", "planned")
#: what --format may name: the tables (CSV, with monitor.json) are always written, as `allocator run` writes them
FORMATS = ("csv", "json", "html", "xlsx")
REPORTS = {"html": "monitor.html", "xlsx": "monitor.xlsx"}


def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in chosen if f not in FORMATS]
    if bad:
        raise _Fail(f"--format: unknown format {', '.join(bad)} (choose from {', '.join(FORMATS)})", EXIT_BAD_INPUT)
    return chosen


def _reports(result, formats: tuple[str, ...]) -> dict:
    """The reports asked for, by file name: functions giving their bytes, called as they are written."""
    from allocator.reports.monitor_html import render_monitor_html
    from allocator.reports.monitor_workbook import monitor_workbook_bytes

    encode = {"html": lambda: render_monitor_html(result).encode(), "xlsx": lambda: monitor_workbook_bytes(result)}
    return {name: encode[fmt] for fmt, name in REPORTS.items() if fmt in formats}


def _overrides(thresholds: tuple[str, ...], missing: str | None, year: str | None) -> dict:
    """``--threshold NAME=VALUE`` (and --missing, --year) as settings to lay over [monitor]."""
    out = {}
    for item in thresholds:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise _Fail(f"--threshold: expected NAME=VALUE (e.g. variance_red=0.15), got {item!r}", EXIT_BAD_INPUT)
        out[name.strip()] = value.strip()
    if missing is not None:
        out["missing"] = missing
    if year is not None:
        out["year"] = year
    return out


def _plan(given: Path, option_name: str | None, overrides: dict, actual):
    """(scenario, settings, outturn, plan) of a scenario or a saved run; the outturn is read and checked
    before anything is solved."""
    from allocator.reports.monitor_tables import (
        is_saved,
        load_saved,
        planned_from_saved,
    )
    from allocator.scenario import load, monitor_settings, outturn

    saved = is_saved(given)
    if saved:
        if option_name is not None:
            raise _Fail("--option: a saved run is monitored as it was run; give the scenario to choose an option",
                        EXIT_BAD_INPUT)
        scenario, table = load_saved(given)
    else:
        from allocator.cli.solving import _with_option

        scenario = _with_option(load(given), option_name)
    settings = monitor_settings.settings(scenario, overrides)
    stage("Reading what was spent and observed")
    spent = outturn.read(actual, scenario, settings)
    if saved:
        return scenario, settings, spent, planned_from_saved(scenario, table, settings, given)
    if scenario.plan is not None or scenario.streams:
        from allocator.analysis.plan import run_plan

        return scenario, settings, spent, run_plan(scenario)
    from allocator.analysis.pipeline import run

    return scenario, settings, spent, run(scenario)


def _no_actual(given: Path) -> str:
    """What to say when no --actual is given: the option, and the example outturn a scenario ships."""
    message = ("give --actual FILE: what was actually spent (area_id, service_id, actual_gbp) and, if you have "
               "them, the outcomes observed (area_id, year, observed); repeat --actual for several files")
    try:
        from allocator.scenario import load

        folder = Path(load(given).inputs[0]).parent
    except Exception:  # noqa: BLE001 (a hint only: the scenario's own errors come when it is monitored)
        return message
    examples = [p for pattern in ("outturn*.csv", "outturn*.xlsx", "observed*.csv") for p in sorted(folder.glob(pattern))]
    if not examples:
        return message
    command = " ".join(["allocator monitor", str(given), *(f"--actual {p}" for p in examples)])
    return f"{message}. This scenario ships an example (synthetic: see its README):\n  {command}"


@main.command()
@click.argument("plan", metavar="SCENARIO_OR_RESULT", type=click.Path(path_type=Path))
@click.option("--actual", "actual", multiple=True, type=click.Path(path_type=Path),
              help="Actual spend (area_id, service_id, actual_gbp; optional stream_id, year) or observed outcomes "
                   "(area_id, year, observed; optional standard_error, count, population): CSV or XLSX. Repeat it.")
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Folder for the tables (monitor_*.csv), monitor.json and the reports: monitor.html (a one-page "
                   "brief for a health and wellbeing board) and monitor.xlsx (a workbook of every table).")
@click.option("--format", "formats", default="csv,json,html,xlsx", show_default=True,
              help="Reports to write with --out (comma-separated): html, xlsx; the tables and monitor.json are "
                   "always written.")
@click.option("--missing", type=click.Choice(MISSING),
              help="A line the outturn does not report: left out (exclude, the default), counted as zero, or as "
                   "planned.")
@click.option("--year", metavar="LABEL", help="The label of the one year of a scenario without [plan] "
                                               "(default 'Year 1'), as the outturn's year column names it.")
@click.option("--threshold", "thresholds", multiple=True, metavar="NAME=VALUE",
              help="A threshold of [monitor] (variance_amber 0.05, variance_red 0.10, rule_tolerance 0.05, "
                   "ordering_tolerance 0.10, proportionality_amber/red 0.05/0.10, concentration_amber/red "
                   "0.01/0.02, share_amber/red 0.005/0.01, confidence 0.95). Repeat it.")
@click.option("--option", "option_name", metavar="NAME", help="Monitor the plan of this [[option]] of the scenario.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
def monitor(plan, actual, out, formats, missing, year, thresholds, option_name, quiet) -> None:
    """Set what was actually spent and observed against the plan.

    SCENARIO_OR_RESULT is a scenario (solved here, as `allocator run` solves it) or a folder
    saved by `allocator run --out`. Says how much was spent against the plan and where (each
    line, area, service, deprivation group and stream, £ and %), whether the rules held in what
    was spent (floors, caps, the need ordering, naming the areas that break it, the pace of
    change), whether spend stayed proportionate to need (proportionality index, concentration
    index, share to the most deprived fifth: planned against actual, red/amber/green), and the
    trend of the gradient (SII, RII and gap of the observed outcome by year, with PHE's confidence
    limits, against the plan's projection). A line the outturn does not report is not zero: it is
    left out (--missing). Thresholds: [monitor] in scenario.toml, or --threshold. With --out,
    also a one-page report (monitor.html) and a workbook (monitor.xlsx) for a health and
    wellbeing board.

    \b
    Example:
      allocator monitor scenarios/england-la --actual scenarios/england-la/outturn.csv \\
          --actual scenarios/england-la/observed.csv --out out/monitor
      allocator monitor out/england-la --actual outturn.xlsx --threshold variance_red=0.15
    """
    from allocator.analysis.monitor import monitor as monitor_plan
    from allocator.reports.monitor_tables import summary_text, write_tables

    formats = _formats(formats)
    if not actual:
        raise _Fail(_no_actual(plan), EXIT_BAD_INPUT)
    scenario, settings, spent, planned = _plan(plan, option_name, _overrides(thresholds, missing, year), actual)
    stage("Setting what was spent against the plan")
    result = monitor_plan(planned, spent, settings)
    if out is not None:
        stage(f"Writing {out}")
        reports = _reports(result, formats)
        write_tables(result, out, protected=[*actual, *scenario.inputs], more=reports)
    if not quiet:
        click.echo(summary_text(result))
        if out is not None:
            names = [f"{len(result.tables)} tables (monitor_*.csv)", "monitor.json", *reports]
            click.echo(f"\nWritten to {out}/: {', '.join(names[:-1])} and {names[-1]}.")
