"""allocator sweep: sensitivity sweeps and Monte Carlo from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from allocator.choices import METHODS, SOLVERS
from allocator.cli.base import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    _Fail,
    _output,
    main,
)
from allocator.cli.solving import load
from allocator.progress import reporting


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
    from allocator.analysis.pipeline import one_year

    one_year(s)  # a plan of several years: refused before any point is solved
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
        # the sweep has its own progress bar: the stages of each point's solve are not shown
        with _output(out, s.inputs), reporting(None):  # checked and locked before the first point is solved
            plan, table = sw.run_sweep(s, grid, design=design, samples=samples, seed=seed, uncertain=uncertain,
                                       options=options, out=out, resume=resume, workers=workers,
                                       scheduler=scheduler, progress=None if quiet else _progress_bar,
                                       chunk_size=chunk_size, solver=solver, method=method,
                                       time_limit=time_limit, model_uncertainty=model_uncertainty)
            write_outputs(out, plan, s, table, plots=not no_plots)
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


