"""Commands that solve and report: validate, run, compare, report, frontier, gradient."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from allocator.choices import METHODS, OBJECTIVES, SOLVERS
from allocator.cli.base import (
    EXIT_BAD_INPUT,
    _Fail,
    _output,
    main,
)
from allocator.errors import AllocatorError, InfeasibleError
from allocator.format import gbp, plain


def load(path):
    """`allocator.scenario.load`, imported when a command runs (``--help`` needs no numpy)."""
    from allocator.scenario import load as load_scenario

    return load_scenario(path)


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
def validate(scenario: Path) -> None:
    """Check a scenario's files and say what is in it (exit 2 and every problem if bad).

    \b
    Example:
      allocator validate scenarios/england-lsoa
    """
    import numpy as np

    from allocator.scenario.options import check_all

    s = load(scenario)
    check_all(s)
    free = ~s.is_locked
    floors = float(np.where(free, s.unit_spend * s.floor[None, :], 0).sum())
    locked = float(np.where(free, 0, s.locked).sum())
    uncapped = [sid for sid, cap in zip(s.service_ids, s.cap) if not np.isfinite(cap)]
    caps = np.where(free & np.isfinite(s.cap)[None, :], s.unit_spend * s.cap[None, :], 0).sum()
    cap_text = (f"caps allow {gbp(caps)}" if not uncapped else
                f"capped services allow {gbp(caps)}, and {', '.join(uncapped)} "
                f"{'has' if len(uncapped) == 1 else 'have'} no cap")
    click.echo(f"OK: {s.name}")
    click.echo(f"{s.n_areas:,} areas, {s.n_services} services, population {s.population.sum():,.0f}.")
    click.echo(f"Budget {gbp(s.budget_gbp)} ({s.budget_mode}); floors need {gbp(floors)} "
               f"({floors / s.budget_gbp:.0%})" + (f", locked lines {gbp(locked)}" if locked else "")
               + f"; {cap_text}.")
    if s.baseline is not None:
        click.echo(f"Baseline spend {gbp(s.baseline.sum())}"
                   + (f"; pace of change -{s.pace[0]:.0%} / +{s.pace[1]:.0%} per area." if s.pace else "."))
    click.echo(f"Objective {s.objective}; proportionality {s.proportionality}.")
    if s.options:
        click.echo(f"Options ({len(s.options)}): {', '.join(o.name for o in s.options)}.")
    for sid, name, need, resp in zip(s.service_ids, s.service_names, s.need_models, s.response_models):
        click.echo(f"  {sid}: {name} — need '{need.name}', response '{resp.name}'")
    _echo_money(s)
    from allocator.analysis.sweeps import declared_uncertainty

    uncertain = declared_uncertainty(s)
    if uncertain:
        click.echo(f"Uncertain inputs for Monte Carlo sweeps ({len(uncertain)}):")
        for name, dist in sorted(uncertain.items()):
            click.echo(f"  {name}: {dist.describe()}")


def _echo_money(s) -> None:
    """Service groups, funding streams (and partners) and the plan, as `validate` reads them."""
    import numpy as np

    for g in s.service_groups:
        low, high = g.bounds(s.budget_gbp)
        bounds = ("" if low <= 0 and not np.isfinite(high) else
                  f" ({gbp(low)} to {gbp(high) if np.isfinite(high) else 'any amount'} in the first year)")
        click.echo(f"Service group {g.name}: {', '.join(s.service_ids[k] for k in g.services)}{bounds}")
    for f in s.streams:
        services = "every service" if f.services.all() else ", ".join(np.array(s.service_ids)[f.services])
        areas = "" if f.areas is None else f" in {int(f.areas.sum()):,} areas"
        amounts = ", ".join(gbp(a) for a in f.amounts)
        partners = "".join(f"; {p.name} {p.share:.0%}" for p in f.partners)
        click.echo(f"Stream {f.id} ({f.name}): {amounts}; for {services}{areas}"
                   + ("; unspent money carries over" if f.carry_over else "") + partners)
    plan = s.plan
    if plan is not None:
        rules = [f"health discounted at {plan.discount_rate:.1%} a year"]
        if plan.min_uplift is not None:
            rules.append(f"every area up at least {plan.min_uplift:.1%} a year")
        if plan.convergence is not None:
            rules.append(f"distance from target down at least {plan.convergence:.0%} a year")
        if plan.converge_by is not None:
            rules.append(f"distance from target zero by year {plan.converge_by}")
        lags = [f"{s.service_ids[k]} {lag} year{'s' if lag > 1 else ''}" for k, lag in enumerate(plan.lags) if lag]
        if lags:
            rules.append("lags: " + ", ".join(lags))
        click.echo(f"Plan of {plan.years} years ({plan.labels[0]} to {plan.labels[-1]}), budgets "
                   f"{', '.join(gbp(b) for b in plan.budgets)}; {'; '.join(rules)}.")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--objective", type=click.Choice(OBJECTIVES), help="Override the scenario's objective.")
@click.option("--solver", type=click.Choice(SOLVERS), default="highs", show_default=True,
              help="HiGHS (through highspy) or CBC (through PuLP).")
@click.option("--method", type=click.Choice(METHODS), default="auto", show_default=True,
              help="HiGHS method; auto picks interior point for wide or large models.")
@click.option("--time-limit", type=float,
              help="Seconds for the whole command's solving (every re-solve of --explain too); when it runs out "
                   "the command stops with what is known (exit 1).")
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Folder for the tables (CSV, JSON or Parquet), the reports, result.json and run.json.")
@click.option("--format", "formats", default="csv,json,html,xlsx,md", show_default=True,
              help="Reports to write with --out (comma-separated): html (with brief.html), xlsx, md.")
@click.option("--write-lp", type=click.Path(path_type=Path),
              help="Also write the model as an LP file with readable names.")
@click.option("--quantiles", type=click.IntRange(2, 100),
              help="Deprivation groups: 10 deciles, 5 quintiles, ... (default: the scenario's).")
@click.option("--explain", is_flag=True,
              help="Also the waterfall by constraint and the price of each rule (re-solves).")
@click.option("--sii-reduction", type=click.FloatRange(min=0), metavar="UNITS",
              help="The SII of the outcome must fall by at least this (outcome units); most health within it.")
@click.option("--gap-reduction", type=click.FloatRange(min=0), metavar="UNITS",
              help="The gap between the most and least deprived groups must fall by at least this.")
@click.option("--worst-off-at-least", type=float, metavar="LEVEL",
              help="Every deprivation group's mean outcome must reach this level.")
@click.option("--option", "option_name", metavar="NAME",
              help="Solve this [[option]] of the scenario's manifest instead of the scenario as loaded.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
def run(scenario: Path, objective, solver, method, time_limit, out, formats, write_lp, quantiles, explain,
        sii_reduction, gap_reduction, worst_off_at_least, option_name, quiet) -> None:
    """Solve a scenario and print the allocation's social gradient before and after.

    \b
    Example:
      allocator run scenarios/england-la --out out/england-la
      allocator run scenarios/quickstart --objective fair-share --solver cbc
      allocator run scenarios/england-lsoa --quantiles 5
      allocator run scenarios/england-la --option "Fair share"
      allocator run scenarios/quickstart --sii-reduction 0.1
    """
    from allocator.analysis.pipeline import run as run_pipeline
    from allocator.model.solver import write_lp as write_lp_file
    from allocator.reports import outputs as report

    formats = _formats(formats)
    s = _with_equity(_with_option(load(scenario), option_name), sii_reduction=sii_reduction,
                     gap_reduction=gap_reduction, worst_off_at_least=worst_off_at_least)
    if objective:
        s = s.with_(objective=objective)
    if quantiles:
        s = s.with_(gradient=dataclasses.replace(s.gradient, quantiles=quantiles))

    from allocator.model.solver import deadline

    # the places are checked and locked before solving; files go in when all are written; the time
    # limit is the whole command's solving (the explanation's re-solves too)
    with _output(out, s.inputs), _output(write_lp and write_lp.parent, s.inputs, "--write-lp") as lp_place, \
            deadline(time_limit):
        if write_lp is not None:
            lp_place.check(write_lp)
        plan, explained = None, {}
        if s.plan is not None or s.streams:  # several years or streams: one LP for the whole plan
            from allocator.analysis.plan import run_plan, year_result

            plan = run_plan(s, solver=solver, method=method, time_limit=time_limit)
            explained = _plan_explained(plan, time_limit) if explain else {}
            result = year_result(plan, 0)
        else:
            result = run_pipeline(s, solver=solver, method=method, time_limit=time_limit)  # explains infeasibility
        options = {"objective": s.objective, "solver": solver, "method": method, "time_limit": time_limit}
        comparison = None
        if out is not None or explain:
            from allocator.analysis.compare import comparison_of

            comparison = comparison_of((s.name,), (result,), waterfall=explain, prices=explain)
        if out is not None:
            _write_run(out, formats, s, result, comparison, plan, explained, options)
        if write_lp is not None:
            model = plan.plan_lp.lp if plan is not None else result.lp  # a plan: the whole plan's LP
            lp_place.external(write_lp, lambda temp: write_lp_file(model, temp))
    if write_lp is not None and not quiet:
        click.echo(f"Wrote the LP ({model.n_rows:,} rows x {model.n_cols:,} columns) to {write_lp}")
    if not quiet and plan is not None:
        from allocator.reports.plan_text import plan_summary_text

        click.echo(plan_summary_text(plan, explained.get("plan_rule_costs"), explained.get("plan_waterfall_moves")))
        if out is not None:
            click.echo(f"\n{written(out)}")
    elif not quiet:
        click.echo(report.summary_text(result))
        if explain:
            click.echo("")
            click.echo("Why: the price of each rule")
            for text in comparison.tables["prices"]["text"]:
                click.echo(f"- {text}")
        if out is not None:
            click.echo(f"\n{written(out)}")


def _write_run(out: Path, formats, s, result, comparison, plan, explained: dict, options: dict) -> None:
    """A run's tables, its saved comparison and its reports in ``out`` (a plan's tables too)."""
    from allocator.reports import outputs as report
    from allocator.reports.documents import write_reports
    from allocator.reports.results import report_data, save

    run_manifest = report.manifest(result, options)
    data = report_data(comparison, "run")
    if plan is not None:
        from allocator.reports.plan_text import plan_meta

        data.tables.update(plan.tables)
        data.tables.update(explained)
        data.meta["plan"] = plan_meta(plan)
    with report.encoded_once():  # each table cleaned once, for every file and report
        report.write_outputs(result, out, options)
        save(data, out, set(), run_manifest)
        write_reports(data, out, formats, run_manifest, protected=set(s.inputs))


FORMATS = ("csv", "json", "html", "xlsx", "md")


def _plan_explained(plan, time_limit):
    """A plan's explanation as tables: what each rule costs, each year's waterfall and its summary."""
    from allocator.analysis.plan import plan_waterfall, rule_costs, waterfall_moves

    water = plan_waterfall(plan)
    return {"plan_rule_costs": rule_costs(plan, time_limit=time_limit), "plan_waterfall": water,
            "plan_waterfall_moves": waterfall_moves(water)}


def _with_equity(s, **values):
    """The scenario with the equity constraints given on the command line (None: as it is)."""
    equity = {k: v for k, v in values.items() if v is not None}
    if not equity:
        return s
    from allocator.scenario.parameters import apply as set_parameters

    return set_parameters(s, equity, where="--" + "/--".join(k.replace("_", "-") for k in equity))


def _with_option(s, name: str | None):
    """The scenario with its [[option]] ``name`` applied (exit 2 naming the options if there is none)."""
    if name is None:
        return s
    from allocator.scenario.options import apply as apply_option

    chosen = [o for o in s.options if o.name == name]
    if not chosen:
        known = ", ".join(repr(o.name) for o in s.options) or "none: the manifest has no [[option]] blocks"
        raise _Fail(f"--option: the scenario has no option named {name!r} (its options: {known})", EXIT_BAD_INPUT)
    return apply_option(s, chosen[0])


def _echo_verdict(comparison) -> None:
    """The brief's verdict: which option gains most health, which narrows the gap most, the trade-off."""
    from allocator.reports.brief import brief
    from allocator.reports.results import report_data

    lines = brief(report_data(comparison, "compare")).verdict
    if lines:
        click.echo("\nIn brief: " + " ".join(lines))


def _echo_prices(comparison) -> None:
    """The rules that cost something, per option; the rules that cost nothing, counted once."""
    rows = comparison.tables["prices"]
    free = set()
    click.echo("")
    for name in comparison.names:
        texts = rows.loc[rows["option"] == name, "text"].astype(str)
        free |= {t for t in texts if "cost nothing" in t}
        for text in (t for t in texts if "cost nothing" not in t):
            click.echo(f"[{name}] {text}")
    if free:
        click.echo(f"{len(free)} rules cost nothing under any option (the optimum meets them anyway).")


def _size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n / 1e3:,.0f} kB"


def written(out: Path) -> str:
    """What a command left in ``out``: the reports, how many tables, the size in all and the largest."""
    files = sorted((p for p in Path(out).rglob("*") if p.is_file() and not p.name.startswith(".")),
                   key=lambda p: (-p.stat().st_size, str(p)))
    reports = [p.name for p in files if p.parent == Path(out) and (p.name.startswith("report.") or p.name == "brief.html")]
    tables = {p.stem for p in files if p.suffix in (".csv", ".parquet") and p.parent == Path(out)}
    total = sum(p.stat().st_size for p in files)
    largest = ", ".join(f"{p.relative_to(out)} {_size(p.stat().st_size)}" for p in files[:2])
    lead = f"{', '.join(sorted(reports))} and " if reports else ""
    return (f"Written to {out}/: {lead}{len(tables)} tables (CSV, with JSON or Parquet); {_size(total)} in all "
            f"(largest: {largest}). `allocator report {out}` rebuilds a report without solving.")


def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in chosen if f not in FORMATS]
    if bad:
        raise _Fail(f"--format: unknown format {', '.join(bad)} (choose from {', '.join(FORMATS)})",
                    EXIT_BAD_INPUT)
    return chosen


@main.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--solver", type=click.Choice(SOLVERS), default="highs", show_default=True)
@click.option("--method", type=click.Choice(METHODS), default="auto", show_default=True)
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Folder for every table (CSV, JSON), the reports and each option's run.")
@click.option("--format", "formats", default="csv,json,html,xlsx,md", show_default=True,
              help="Reports to write with --out (comma-separated).")
@click.option("--explain/--no-explain", default=True, show_default=True,
              help="Waterfalls by constraint and the price of each rule (re-solves each option).")
@click.option("--time-limit", type=float,
              help="Seconds for each option's solving, and again for its --explain re-solves; an option that "
                   "cannot be solved in time (or at all) is left out, with what is known, the others are "
                   "compared, and the command ends with exit 1.")
def compare(scenarios, solver, method, out, formats, explain, time_limit) -> None:
    """Solve allocation options and compare them side by side.

    Options are the [[option]] blocks of a scenario's manifest, or the scenarios
    themselves when several are given.  An option that cannot be solved is named
    with the reason, and the others are still compared (exit 1 at the end).

    \b
    Example:
      allocator compare scenarios/england-la --out out/options
      allocator compare scenarios/quickstart scenarios/england-la --no-explain
      allocator compare scenarios/england-lsoa --time-limit 60 --no-explain
    """
    from allocator.analysis import compare as cmp
    from allocator.model.solver import check_settings
    from allocator.reports.markdown import measure_name
    from allocator.reports.outputs import measures_text, text_table

    formats = _formats(formats)
    time_limit = check_settings(time_limit=time_limit)
    loaded = [load(path) for path in scenarios]
    options = cmp.options_from(loaded)

    def solve_all():
        try:
            return cmp.compare(options, solver=solver, method=method, waterfall=explain, prices=explain,
                               time_limit=time_limit, keep_going=True)
        except InfeasibleError as exc:
            raise InfeasibleError(f"an option could not be solved: {exc}") from None

    with _output(out, [p for s in loaded for p in s.inputs]):
        comparison = solve_all()
        wide = cmp.wide_metrics(comparison.tables["options_metrics"])
        click.echo(f"{len(comparison.names)} options compared: {', '.join(comparison.names)}\n")
        _echo_not_solved(comparison)
        click.echo(measures_text(wide, measure_name))
        spend = comparison.tables["spend_by_group"]
        click.echo("\nSpend per head (£) by deprivation group (1 = most deprived):")
        click.echo(text_table(spend, {c: (",.0f" if c == "population" else ",.2f") for c in spend.columns}))
        if explain and "prices" in comparison.tables and len(comparison.tables["prices"]):
            _echo_prices(comparison)
        _echo_verdict(comparison)
        if out is not None:
            from allocator.reports.documents import write_reports
            from allocator.reports.outputs import encoded_once
            from allocator.reports.results import save_comparison

            with encoded_once():  # each table cleaned once, for every file and report
                data, manifest = save_comparison(comparison, out, {"solver": solver, "method": method,
                                                                   "explain": explain, "time_limit": time_limit})
                write_reports(data, out, formats, manifest)
    if out is not None:
        click.echo(f"\n{written(out)}")
    comparison.raise_not_solved()


def _echo_not_solved(comparison) -> None:
    """The options left out of the comparison (or of its waterfall and prices), each with why."""
    if not comparison.not_solved:
        return
    click.echo("Not in the comparison:")
    for name, why in comparison.not_solved:
        click.echo(f"  - {name}: {why}")
    click.echo("")


@main.command()
@click.argument("result_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["html", "xlsx", "md"]), default="html", show_default=True,
              help="Report format (a sweep folder: html only).")
@click.option("--output", type=click.Path(path_type=Path),
              help="File to write (default: RESULT_DIR/report.FORMAT).")
def report(result_dir, fmt, output) -> None:
    """Rebuild a report from a saved run, comparison or sweep, without solving again.

    A sweep's folder (written by `allocator sweep --out`) gets report.html: what the
    sweep found, its plots and tables in one page (HTML only).

    \b
    Example:
      allocator report out/options --format html
      allocator report out/england-la --format xlsx --output board.xlsx
      allocator report out/la-sweep
    """
    from allocator.reports.documents import rebuild

    click.echo(f"Wrote {rebuild(result_dir, fmt, output)}")


def _reach_text(reach: dict, units: str) -> str:
    """What the frontier's last point is, against the attainable limit (`frontier.Reach`, as a dict)."""
    what = {"sii": "The SII", "gap": "The gap between the most and least deprived groups"}[reach["measure"]]
    low, high = reach["low"], reach["high"]
    if reach["proven"]:
        return (f"{what} can fall by at most {plain(high, 4)} {units} with this budget and these rules "
                "(proven): the last point is the most equal allocation there is.")
    if low is None:
        return (f"{what} can fall by at most {plain(high, 4)} {units}; no allocation beyond the reference "
                "runs was found in the time searched, so the last point is the largest reduction they reach.")
    return (f"{what} can fall by between {plain(low, 4)} and {plain(high, 4)} {units} at most (the "
            "search for the exact limit stopped): the last point is the most equal allocation found.")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--points", type=click.IntRange(2, 500), default=21, show_default=True,
              help="Points on the frontier.")
@click.option("--measure", type=click.Choice(("worst-off", "sii", "gap")), default="worst-off", show_default=True,
              help="What the points step along: a floor under the worst-off group's outcome, or a required "
                   "reduction of the SII or of the gap between the most and least deprived groups.")
@click.option("--upto", type=float,
              help="With --measure sii or gap: the last point's required reduction, in the outcome's units "
                   "(default: the attainable limit, searched for up to 45 s where it is a MILP; where that "
                   "stops, the most equal allocation found).")
@click.option("--time-limit", type=float,
              help="Seconds for the whole command's solving; when it runs out the command stops with what is "
                   "known (exit 1).")
@click.option("--options/--no-options", default=True, show_default=True,
              help="Place the scenario's [[option]] blocks on the frontier (each solved once; england-lsoa's "
                   "'Pace of change' takes hours at national scale).")
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Folder for frontier.csv/.json and frontier.svg/.png.")
def frontier(scenario: Path, points: int, measure: str, upto, time_limit, options: bool, out) -> None:
    """Trace the equity-efficiency frontier: total health against the SII.

    Each point maximises total health gain with at least a given level of equity:
    by default a rising floor under the worst-off deprivation group's mean outcome,
    from the health-gain optimum to the maximin one; with --measure sii (or gap) a
    rising required reduction of the SII (or of the gap), up to the most equal
    allocation there is where that limit is proven, every point the most health any
    allocation with that much less inequality gives (to HiGHS's MIP gap where a
    point is a MILP it could not prove otherwise): the true price of an SII
    reduction, which a floor under the worst-off group overstates. The health-gain, maximin and
    level-up runs are shown as reference points, and the scenario's [[option]]
    blocks are placed on it. The charts (--out): what equity costs against the
    health-gain optimum, and the health equity impact plane about the status quo
    ('before'), its quadrants named.

    \b
    Example:
      allocator frontier scenarios/england-la --points 21 --out out/frontier
      allocator frontier scenarios/england-la --measure sii --points 11
      allocator frontier scenarios/england-lsoa --measure gap --points 11 --no-options
    """
    from allocator.analysis import frontier as fr
    from allocator.model.highs import deadline
    from allocator.model.solver import check_settings
    from allocator.reports.outputs import csv_bytes, json_bytes, text_table

    s = load(scenario)
    if upto is not None and measure == "worst-off":
        raise click.BadParameter("--upto goes with --measure sii or gap", param_hint="--upto")
    time_limit = check_settings(time_limit=time_limit)
    units = s.gradient.outcome_units
    level = fr.LEVELS[measure]
    columns = ["point", level, "worst_off_outcome", "total_gain", "health_gain", "sii", "sii_reduction", "gap",
               "gap_reduction"]
    shown = {level: ".6g" if measure == "worst-off" else ".4f", "worst_off_outcome": ".4f", "total_gain": ",.0f",
             "health_gain": ",.0f", "sii": ".4f", "sii_reduction": ".4f", "gap": ".4f", "gap_reduction": ".4f"}
    stopped = None
    with _output(out, s.inputs) as place, deadline(time_limit):
        try:
            table, _ = fr.frontier(s, points, options=options, measure=measure, upto=upto)
        except AllocatorError as exc:
            done = getattr(exc, "done", None)
            if done is None or not len(done):
                raise
            stopped, table = exc, done  # what was solved before the point that stopped it: shown and kept
            solved = int(done["point"].str.fullmatch(r"\d+").sum())
            if solved == 0 and isinstance(exc, InfeasibleError):  # no point is possible (the error says why)
                click.echo(f"The frontier of {s.name} has no point (outcome in {units}); its end points:")
            else:
                click.echo(f"The frontier of {s.name} stopped after {solved} of {points} points "
                           f"(outcome in {units}); the points solved and the end points:")
        else:
            stepped = {"worst-off": "a floor under the worst-off group", "sii": "a required SII reduction",
                       "gap": "a required gap reduction"}[measure]
            click.echo(f"Equity-efficiency frontier of {s.name} ({points} points, each with {stepped}; "
                       f"outcome in {units}):")
        click.echo(text_table(table[columns], shown))
        reach = table.attrs.get("reach")
        if reach is not None:
            click.echo(_reach_text(reach, units))
        if out is not None:
            from allocator.reports.frontier import figures

            files = {"frontier.csv": csv_bytes(table), "frontier.json": json_bytes(table)}
            if stopped is None:  # no chart of a frontier cut short: it would show an end that is not there
                files["frontier.svg"], files["frontier.png"] = figures(table, units)
            for name, data in files.items():
                place.put(out / name, data)
    if out is not None:
        part = " (only the points solved before it stopped, and no chart)" if stopped is not None else ""
        click.echo(f"\nWritten to {out}/{part}: {', '.join(files)}.")
    if stopped is not None:
        raise stopped


@main.command()
@click.argument("table", type=click.Path(path_type=Path), required=False)
@click.option("--bundled-le", is_flag=True,
              help="Use the bundled life expectancy by deprivation decile (PHE, every LA and region).")
@click.option("--area", default="GeoCode", show_default=True, help="Column naming the area.")
@click.option("--quantile", default="Decile", show_default=True, help="Column of the quantile (1..n).")
@click.option("--value", default="LifeExp", show_default=True, help="Column of the value.")
@click.option("--population", default="Pop", show_default=True, help="Column of the population.")
@click.option("--se", default="SE", show_default=True, help="Column of the standard error.")
@click.option("--by", default="Sex", show_default=True, help="Comma-separated columns to split by.")
@click.option("--most-deprived", type=int, default=1, show_default=True,
              help="The quantile number of the most deprived group.")
@click.option("--value-type", type=click.Choice(["normal", "rate", "proportion"]), default="normal",
              show_default=True)
@click.option("--transform", is_flag=True, help="Log (rates) or logit (proportions) before fitting.")
@click.option("--multiplier", type=float, default=1.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--areas", "only", help="Comma-separated area codes to keep (e.g. England).")
@click.option("--out", "out", type=click.Path(path_type=Path), help="CSV file for the table.")
def gradient(table, bundled_le, area, quantile, value, population, se, by, most_deprived, value_type,
             transform, multiplier, seed, only, out) -> None:
    """Inequality measures (PHE SII and RII with limits, gaps, ...) of any table by deprivation quantile.

    \b
    Example:
      allocator gradient --bundled-le --areas England
      allocator gradient my_indicator.csv --value rate --value-type rate --transform
    """
    import pandas as pd

    from allocator.measures.life_expectancy import gradient_table, load_bundled_le
    from allocator.reports.outputs import atomic_write, csv_bytes, text_table

    if bundled_le and table is not None:
        raise _Fail("give a TABLE (CSV) or --bundled-le, not both", EXIT_BAD_INPUT)
    if not bundled_le and table is None:
        raise _Fail("give a TABLE (CSV) or --bundled-le", EXIT_BAD_INPUT)
    source = "the bundled table" if bundled_le else table
    if bundled_le:
        frame = load_bundled_le()
    else:
        if not table.is_file():
            raise _Fail(f"{table}: file not found", EXIT_BAD_INPUT)
        try:
            frame = pd.read_csv(table)
        except pd.errors.EmptyDataError:
            raise _Fail(f"{table}: the file is empty: give a CSV with a header row and one row per area "
                        "and quantile", EXIT_BAD_INPUT) from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise _Fail(f"{table}: cannot be read as CSV: {exc}", EXIT_BAD_INPUT) from None
    if only:
        keep = [a.strip() for a in only.split(",")]
        frame = frame[frame[area].astype(str).isin(keep)] if area in frame else frame
    groups = tuple(c.strip() for c in by.split(",") if c.strip()) if by else ()
    groups = tuple(c for c in groups if c in frame.columns)
    try:
        result = gradient_table(frame, area=area, quantile=quantile, value=value, population=population,
                                se=se if se in frame.columns else None, by=groups,
                                most_deprived=most_deprived, value_type=value_type, transform=transform,
                                multiplier=multiplier, seed=seed)
    except (ValueError, KeyError) as exc:
        raise _Fail(f"{source}: {exc}", EXIT_BAD_INPUT) from None
    shown = [c for c in [area, *groups, "sii", "sii_lower", "sii_upper", "rii", "gap_absolute", "flag", "note"]
             if c in result.columns]
    click.echo(text_table(result[shown].head(50), {"sii": ".3f", "sii_lower": ".3f", "sii_upper": ".3f",
                                                   "rii": ".4f", "gap_absolute": ".3f"}))
    if len(result) > 50:
        click.echo(f"... {len(result) - 50} more rows (use --out)")
    if out is not None:
        atomic_write(out, csv_bytes(result), {table} if table is not None else set(), option="--out")
        click.echo(f"Wrote {out}")


