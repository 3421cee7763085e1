"""The command line: `allocator validate`, `allocator run`.

Only this module imports Click.  Expected errors become one clear message and an
exit code (0 ok, 1 solve failed or infeasible, 2 bad input), never a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from pathlib import Path

import click
import numpy as np

from allocator.errors import AllocatorError, InfeasibleError
from allocator.format import gbp
from allocator.model.solver import METHODS, SOLVERS
from allocator.scenario import OBJECTIVES, load
from allocator.version import __version__

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


class _Fail(click.ClickException):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.exit_code = code


def exit_code(exc: BaseException) -> int:
    """The exit code of an error: its class says (bad input 2; could not solve 1)."""
    return getattr(exc, "exit_code", EXIT_BAD_INPUT)


class _Commands(click.Group):
    """Every command's expected errors become one message and an exit code, never a traceback:
    allocator's errors by their class, and an operating-system error (a full disk, a folder
    that cannot be written, ...) as bad input, exit 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AllocatorError as exc:
            raise _Fail(str(exc), exit_code(exc)) from None
        except OSError as exc:
            from allocator.reports.files import any_os_message

            raise _Fail(any_os_message(exc), EXIT_BAD_INPUT) from None


def _output(folder: Path | None, inputs=(), option: str = "--out"):
    """The output layer on ``folder`` (locked; written all at once, never over ``inputs``), or nothing."""
    if folder is None:
        return contextlib.nullcontext()
    from allocator.reports.files import output

    return output(folder, [Path(p) for p in inputs], option)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="allocator")
def main() -> None:
    """Split a fixed budget across areas and services, proportionate to need,
    and show what it does to the social gradient in health.

    \b
    Example:
      allocator validate scenarios/quickstart
      allocator run scenarios/england-la --out out/england-la
    """


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
def validate(scenario: Path) -> None:
    """Check a scenario's files and say what is in it (exit 2 and every problem if bad).

    \b
    Example:
      allocator validate scenarios/england-lsoa
    """
    s = load(scenario)
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
    for sid, name, need, resp in zip(s.service_ids, s.service_names, s.need_models, s.response_models):
        click.echo(f"  {sid}: {name} — need '{need.name}', response '{resp.name}'")
    from allocator.analysis.sweeps import declared_uncertainty

    uncertain = declared_uncertainty(s)
    if uncertain:
        click.echo(f"Uncertain inputs for Monte Carlo sweeps ({len(uncertain)}):")
        for name, dist in sorted(uncertain.items()):
            click.echo(f"  {name}: {dist.describe()}")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--objective", type=click.Choice(OBJECTIVES), help="Override the scenario's objective.")
@click.option("--solver", type=click.Choice(SOLVERS), default="highs", show_default=True,
              help="HiGHS (through highspy) or CBC (through PuLP).")
@click.option("--method", type=click.Choice(METHODS), default="auto", show_default=True,
              help="HiGHS method; auto picks interior point for wide or large models.")
@click.option("--time-limit", type=float, help="Seconds; a solve that hits it fails (exit 1).")
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Folder for the tables (CSV), result.json and run.json.")
@click.option("--write-lp", type=click.Path(path_type=Path),
              help="Also write the model as an LP file with readable names.")
@click.option("--quantiles", type=click.IntRange(2, 100),
              help="Deprivation groups: 10 deciles, 5 quintiles, ... (default: the scenario's).")
@click.option("--explain", is_flag=True,
              help="Also the waterfall by constraint and the price of each rule (re-solves).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
def run(scenario: Path, objective, solver, method, time_limit, out, write_lp, quantiles, explain,
        quiet) -> None:
    """Solve a scenario and print the allocation's social gradient before and after.

    \b
    Example:
      allocator run scenarios/england-la --out out/england-la
      allocator run scenarios/quickstart --objective fair-share --solver cbc
      allocator run scenarios/england-lsoa --quantiles 5
    """
    from allocator.analysis.pipeline import run as run_pipeline
    from allocator.model import diagnose
    from allocator.model.solver import write_lp as write_lp_file
    from allocator.reports import outputs as report

    s = load(scenario)
    if objective:
        s = s.with_(objective=objective)
    if quantiles:
        s = s.with_(gradient=dataclasses.replace(s.gradient, quantiles=quantiles))

    def solve():
        try:
            return run_pipeline(s, solver=solver, method=method, time_limit=time_limit)
        except InfeasibleError:
            raise InfeasibleError(diagnose.explain(s)) from None

    # the places are checked and locked before solving; files go in when all are written
    with _output(out, s.inputs), _output(write_lp and write_lp.parent, s.inputs, "--write-lp") as lp_place:
        if write_lp is not None:
            lp_place.check(write_lp)
        result = solve()
        options = {"objective": s.objective, "solver": solver, "method": method, "time_limit": time_limit}
        comparison = None
        if out is not None or explain:
            from allocator.analysis.compare import comparison_of

            comparison = comparison_of((s.name,), (result,), waterfall=explain, prices=explain)
        if out is not None:
            from allocator.reports.results import report_data, save

            report.write_outputs(result, out, options)
            save(report_data(comparison, "run"), out, set(), report.manifest(result, options))
        if write_lp is not None:
            lp_place.external(write_lp, lambda temp: write_lp_file(result.lp, temp))
    if write_lp is not None and not quiet:
        click.echo(f"Wrote the LP ({result.lp.n_rows:,} rows x {result.lp.n_cols:,} columns) to {write_lp}")
    if not quiet:
        click.echo(report.summary_text(result))
        if explain:
            click.echo("")
            click.echo("Why: the price of each rule")
            for text in comparison.tables["prices"]["text"]:
                click.echo(f"- {text}")
        if out is not None:
            click.echo(f"\nTables written to {out}/ (CSV and JSON); `allocator report {out}` "
                       "builds the HTML report from them.")


FORMATS = ("csv", "json", "html", "xlsx", "md")


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
def compare(scenarios, solver, method, out, formats, explain) -> None:
    """Solve allocation options and compare them side by side.

    Options are the [[option]] blocks of a scenario's manifest, or the scenarios
    themselves when several are given.

    \b
    Example:
      allocator compare scenarios/england-la --out out/options
      allocator compare scenarios/quickstart scenarios/england-la --no-explain
    """
    from allocator.analysis import compare as cmp
    from allocator.reports.outputs import text_table

    formats = _formats(formats)
    loaded = [load(path) for path in scenarios]
    options = cmp.options_from(loaded)

    def solve_all():
        try:
            return cmp.compare(options, solver=solver, method=method, waterfall=explain, prices=explain)
        except InfeasibleError as exc:
            raise InfeasibleError(f"an option could not be solved: {exc}") from None

    with _output(out, [p for s in loaded for p in s.inputs]):
        comparison = solve_all()
        wide = cmp.wide_metrics(comparison.tables["options_metrics"])
        click.echo(f"{len(comparison.names)} options compared: {', '.join(comparison.names)}\n")
        click.echo(text_table(wide, {c: ".4g" for c in wide.columns}))
        spend = comparison.tables["spend_by_group"]
        click.echo("\nSpend per head (£) by deprivation group (1 = most deprived):")
        click.echo(text_table(spend, {c: (",.0f" if c == "population" else ",.2f") for c in spend.columns}))
        if explain and "prices" in comparison.tables:
            click.echo("")
            for name in comparison.names:
                rows = comparison.tables["prices"]
                for text in rows.loc[rows["option"] == name, "text"]:
                    click.echo(f"[{name}] {text}")
        if out is not None:
            from allocator.reports.documents import write_reports
            from allocator.reports.results import save_comparison

            data, manifest = save_comparison(comparison, out, {"solver": solver, "method": method,
                                                               "explain": explain})
            write_reports(data, out, formats, manifest)
    if out is not None:
        click.echo(f"\nWritten to {out}/: tables (CSV, JSON)"
                   + "".join(f", report.{f}" for f in formats if f in ("html", "xlsx", "md")) + ".")


@main.command()
@click.argument("result_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["html", "xlsx", "md"]), default="html", show_default=True)
@click.option("--output", type=click.Path(path_type=Path),
              help="File to write (default: RESULT_DIR/report.FORMAT).")
def report(result_dir, fmt, output) -> None:
    """Rebuild a report from a saved run or comparison, without solving again.

    \b
    Example:
      allocator report out/options --format html
      allocator report out/england-la --format xlsx --output board.xlsx
    """
    from allocator.reports.documents import rebuild

    click.echo(f"Wrote {rebuild(result_dir, fmt, output)}")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--points", type=click.IntRange(2, 500), default=21, show_default=True,
              help="Points on the frontier.")
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Folder for frontier.csv/.json and frontier.svg/.png.")
def frontier(scenario: Path, points: int, out) -> None:
    """Trace the equity-efficiency frontier: total health against the SII.

    Each point maximises total health gain with a rising floor under the worst-off
    deprivation group's mean outcome, from the health-gain optimum to the maximin
    one; the health-gain, maximin and level-up runs are shown as reference points.

    \b
    Example:
      allocator frontier scenarios/england-la --points 21 --out out/frontier
    """
    from allocator.analysis import frontier as fr
    from allocator.reports.outputs import csv_bytes, json_bytes, text_table

    s = load(scenario)
    with _output(out, s.inputs) as place:
        table, _ = fr.frontier(s, points)
        units = s.gradient.outcome_units
        click.echo(f"Equity-efficiency frontier of {s.name} ({points} points; outcome in {units}):")
        view = table[["point", "worst_off_outcome", "total_gain", "health_gain", "sii", "sii_reduction", "gap"]]
        click.echo(text_table(view, {"worst_off_outcome": ".4f", "total_gain": ",.0f", "health_gain": ",.0f",
                                     "sii": ".4f", "sii_reduction": ".4f", "gap": ".4f"}))
        if out is not None:
            from allocator.reports.frontier import figures

            svg, png = figures(table, units)
            files = {"frontier.csv": csv_bytes(table), "frontier.json": json_bytes(table),
                     "frontier.svg": svg, "frontier.png": png}
            for name, data in files.items():
                place.put(out / name, data)
    if out is not None:
        click.echo(f"\nWritten to {out}/: frontier.csv, frontier.json, frontier.svg, frontier.png.")


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


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--vary", "vary", multiple=True, metavar="NAME=VALUES",
              help="A parameter and its values: start:stop:count or a,b,c (repeat for a grid). "
                   "Names: budget, floor.<service>, cap.<service>, unit_cost.<service>, floor_scale, "
                   "cost_scale, min_slope[.<service>], tolerance, epsilon, pace.max_decrease, "
                   "pace.max_increase, need.<model>.<column>, response.<model>.scale, response_scale, "
                   "sii_reduction, gap_reduction, worst_off_at_least.")
@click.option("--sweep-file", type=click.Path(path_type=Path),
              help="TOML with [sweep] settings, [vary] values and [[uncertain]] distributions.")
@click.option("--one-at-a-time", is_flag=True,
              help="Vary each parameter alone, the others at their base values (tornado chart).")
@click.option("--samples", type=click.IntRange(0), help="Monte Carlo draws of the uncertain inputs.")
@click.option("--seed", type=click.IntRange(0), help="Seed of the Monte Carlo draws (default 1).")
@click.option("--no-model-uncertainty", is_flag=True,
              help="Do not draw the response models' [uncertainty]: only [[uncertain]] inputs.")
@click.option("--option", "option_names", multiple=True, metavar="NAME",
              help="Solve this [[option]] of the scenario ('base': the scenario as loaded); repeat. "
                   "Without --option/--options only the base is solved.")
@click.option("--options", "all_options", is_flag=True, help="Solve every [[option]] and the base.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Folder: points are saved as they finish, then sweep.csv/.parquet, summary, plots.")
@click.option("--resume", is_flag=True, help="Finish the sweep saved in --out: run only the missing points.")
@click.option("--workers", type=click.IntRange(1), help="Local worker processes (default: all cores).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run on a Dask cluster, e.g. tcp://host:8786 (pip install 'allocator[dask]').")
@click.option("--chunk-size", type=click.IntRange(1), help="Points per task (default: about 32 tasks of 8-50 points).")
@click.option("--solver", type=click.Choice(SOLVERS), default="highs", show_default=True)
@click.option("--method", type=click.Choice(METHODS), default="auto", show_default=True)
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True),
              help="Seconds per solve; a point that hits it is recorded as failed.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def sweep(scenario: Path, vary, sweep_file, one_at_a_time, samples, seed, no_model_uncertainty, option_names,
          all_options, out, resume, workers, scheduler, chunk_size, solver, method, time_limit, no_plots,
          quiet) -> None:
    """Solve a scenario over a grid of settings and/or Monte Carlo draws: one tidy table.

    Each finished point is saved in OUT/sweep.sqlite as it arrives; after an
    interruption, the same command with --resume runs only the missing points.
    A point that fails (infeasible, invalid, solver error) is recorded with its
    reason and the sweep goes on.

    \b
    Example:
      allocator sweep scenarios/england-la --vary budget=3.45e9:4.1e9:21 --out out/budget
      allocator sweep scenarios/england-la --vary response_scale=0.8:1.2:5 \\
          --vary floor_scale=0.8:1.2:5 --one-at-a-time --out out/tornado
      allocator sweep scenarios/england-la --samples 200 --seed 7 --options --out out/mc
      allocator sweep scenarios/england-la --sweep-file scenarios/england-la/sweep.toml --out out/file
    """
    import signal

    from allocator.analysis import sweeps as sw
    from allocator.reports.sweep import summary_text, write_outputs

    s = load(scenario)
    settings: dict = {}
    grid: dict = {}
    uncertain: dict = {}
    if sweep_file is not None:
        spec = sw.read_sweep_file(sweep_file)
        settings, grid, uncertain = spec["settings"], dict(spec["vary"]), spec["uncertain"]
    grid.update(sw.parse_vary(vary))
    model_uncertainty = settings.get("model_uncertainty", True) and not no_model_uncertainty
    design = "one-at-a-time" if one_at_a_time else settings.get("design", "grid")
    samples = samples if samples is not None else settings.get("samples", 0)
    seed = seed if seed is not None else settings.get("seed")
    options = None
    if all_options:
        options = True
    elif option_names:
        options = list(option_names)
    elif "options" in settings:
        options = settings["options"]
    if chunk_size is None:
        chunk_size = settings.get("chunk_size")
    if not grid and not samples:
        raise _Fail("nothing to sweep: give --vary NAME=VALUES, --samples N or a --sweep-file", EXIT_BAD_INPUT)

    def stop(signum, frame):  # a polite kill (TERM) stops like Ctrl-C: finished points are kept
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with _output(out, s.inputs):  # checked and locked before the first point is solved
            plan, table = sw.run_sweep(s, grid, design=design, samples=samples, seed=seed, uncertain=uncertain,
                                       options=options, out=out, resume=resume, workers=workers,
                                       scheduler=scheduler, progress=None if quiet else _progress_bar,
                                       chunk_size=chunk_size, solver=solver, method=method,
                                       time_limit=time_limit, model_uncertainty=model_uncertainty)
            write_outputs(out, plan, s, table, plots=not no_plots)
    except sw.SweepInterrupted as exc:
        raise _Fail(str(exc), 130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not quiet:
        click.echo(summary_text(table, out))
    if not (table["status"] == "ok").any():
        raise _Fail(f"every point failed (first reason: {table['reason'].iloc[0]}); the table and the "
                    f"reasons are in {out}", EXIT_FAILED)


def _progress_bar(total: int, already: int):
    """A progress bar on stderr: bar(n) advances by n points, bar(None) closes it."""
    label = f"{total} points" + (f" ({already} already done)" if already else "")
    bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True, show_eta=True)
    bar.__enter__()

    def advance(n):
        if n is None:
            bar.__exit__(None, None, None)
        else:
            bar.update(n)

    return advance


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
