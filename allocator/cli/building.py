"""Commands that write scenarios: `allocator new` (any English place) and `allocator template` (XLSX)."""

from __future__ import annotations

from pathlib import Path

import click

from allocator.cli.base import EXIT_BAD_INPUT, _Fail, main


def _pace(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        down, up = (float(part.strip().rstrip("%")) / (100 if part.strip().endswith("%") else 1)
                    for part in text.split(","))
    except ValueError:
        raise _Fail(f"--pace {text!r}: expected DOWN,UP as fractions or percentages, e.g. 0.05,0.15 "
                    "or 5%,15%", EXIT_BAD_INPUT) from None
    if not (0 <= down <= 1 and 0 <= up <= 10):
        raise _Fail(f"--pace {text!r}: the decrease must be between 0 and 1 (100%), the increase >= 0",
                    EXIT_BAD_INPUT)
    return down, up


def _listing(kind: str) -> str:
    from allocator.build.place import places
    from allocator.format import plain

    table = places(kind)
    width = max(map(len, table["name"]))
    lines = [f"{len(table)} {kind}s of England (2024), with their 2021 LSOAs and Census 2021 people:"]
    lines += [f"  {r.code:<12} {r.name:<{width}}  {r.lsoas:>6,} LSOAs  {plain(r.population, 7):>12} people"
              for r in table.itertuples()]
    return "\n".join(lines)


@main.command()
@click.option("--district", help="A 2024 district (unitary, London borough, metropolitan or shire), by "
                                 "name or ONS code.")
@click.option("--icb", help="A 2024 Integrated Care Board, by name, ONS code (E54...) or NHS code (Q..).")
@click.option("--region", help="An NHS England region (London, Midlands, North West, ...).")
@click.option("--england", is_flag=True, help="All of England.")
@click.option("--level", type=click.Choice(["lsoa", "ward", "district"]), default="lsoa", show_default=True,
              help="The areas: 2021 LSOAs, 2024 electoral wards or 2024 districts.")
@click.option("--budget", type=float, help="Pounds (3.6e9 or 20000000). Default: the place's need-weighted "
                                           "share of a £3.6bn national budget.")
@click.option("--services", default="public-health", show_default=True,
              help="A bundled service set (public-health: 8 services; quickstart: 3) or your own "
                   "services table (CSV, or XLSX with a 'services' sheet).")
@click.option("--outcome", type=click.Choice(["ypll"]), default="ypll", show_default=True,
              help="The health outcome of the gradient: the IoD2025 years of potential life lost.")
@click.option("--baseline", type=click.Path(path_type=Path, dir_okay=False),
              help="Last year's spend: CSV with area_id, service_id, spend_gbp.")
@click.option("--pace", help="Pace of change against the baseline, DOWN,UP: 0.05,0.15 or 5%,15%.")
@click.option("--name", help="The scenario's name (default: the place and level).")
@click.option("--list", "list_kind", type=click.Choice(["district", "icb", "region"]),
              help="List the places of a kind and stop.")
@click.option("--out", "out", type=click.Path(path_type=Path), help="The folder to write (must not exist).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors and warnings.")
def new(district, icb, region, england, level, budget, services, outcome, baseline, pace, name, list_kind,
        out, quiet) -> None:
    """Write a complete scenario folder for any English place, on current data.

    Areas are the place's 2021 LSOAs, 2024 wards or districts with IoD2025 deprivation
    and Census 2021 people; the folder holds its models and a README of every assumption
    and source, and runs at once.

    \b
    Example:
      allocator new --district Blackpool --level lsoa --budget 20e6 --out blackpool
      allocator run blackpool
      allocator new --icb "Cheshire and Merseyside" --level district --out cm
      allocator new --list district
    """
    if list_kind:
        click.echo(_listing(list_kind))
        return
    chosen = [(k, v) for k, v in (("district", district), ("icb", icb), ("region", region),
                                  ("england", england or None)) if v]
    if len(chosen) != 1:
        raise _Fail("give one place: --district NAME, --icb NAME, --region NAME or --england", EXIT_BAD_INPUT)
    if out is None:
        raise _Fail("give --out FOLDER: the scenario folder to write", EXIT_BAD_INPUT)
    from allocator.build.new import SERVICE_SETS, new_scenario
    from allocator.build.place import find
    from allocator.format import gbp

    kind, query = chosen[0]
    place = find(kind, str(query))
    written = new_scenario(out, place, level, budget=budget, services=services if services in SERVICE_SETS
                           else Path(services), outcome=outcome, baseline=baseline, pace=_pace(pace), name=name)
    for warning in written.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if not quiet:
        click.echo(f"Wrote {written.folder}/: {written.place.name}, {written.areas:,} "
                   f"{level if level != 'lsoa' else 'LSOA'}s, {written.population:,.0f} people, a budget of "
                   f"{gbp(written.budget_gbp)} ({written.budget_note}).\n"
                   f"Next: allocator run {written.folder}")


@main.command()
@click.option("--xlsx", "path", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The workbook to write (.xlsx).")
def template(path: Path) -> None:
    """Write an Excel workbook to fill in as a scenario: its settings, areas, services, baseline and
    locked lines, with headers that say their units, lists to choose from, and a worked example.

    \b
    Example:
      allocator template --xlsx my-place.xlsx
      allocator validate my-place.xlsx
    """
    from allocator.build.template import write_template

    if path.suffix.lower() != ".xlsx":
        raise _Fail(f"--xlsx {path}: give a file name ending .xlsx", EXIT_BAD_INPUT)
    if path.exists():
        raise _Fail(f"{path} already exists: choose another name (nothing is overwritten)", EXIT_BAD_INPUT)
    write_template(path)
    click.echo(f"Wrote {path}: fill in the sheets, then `allocator validate {path}`.")
