"""The command line: `allocator validate`, `allocator run`.

Only this module imports Click.  Expected errors become one clear message and an
exit code (0 ok, 1 solve failed or infeasible, 2 bad input), never a traceback.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click
import numpy as np

from . import __version__
from .errors import AllocatorError, InfeasibleError, InvariantError, ScenarioError, SolverError
from .money import gbp
from .scenario import OBJECTIVES, load
from .solver import METHODS, SOLVERS

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


class _Fail(click.ClickException):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.exit_code = code


def _guard(call):
    """Run ``call``; turn allocator's errors into messages and exit codes."""
    try:
        return call()
    except ScenarioError as exc:
        raise _Fail(str(exc), EXIT_BAD_INPUT) from None
    except (InfeasibleError, SolverError, InvariantError) as exc:
        raise _Fail(str(exc), EXIT_FAILED) from None
    except AllocatorError as exc:
        raise _Fail(str(exc), EXIT_BAD_INPUT) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    s = _guard(lambda: load(scenario))
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
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
def run(scenario: Path, objective, solver, method, time_limit, out, write_lp, quantiles, quiet) -> None:
    """Solve a scenario and print the allocation's social gradient before and after.

    \b
    Example:
      allocator run scenarios/england-la --out out/england-la
      allocator run scenarios/quickstart --objective fair-share --solver cbc
      allocator run scenarios/england-lsoa --quantiles 5
    """
    from . import diagnose, report
    from .pipeline import run as run_pipeline
    from .solver import write_lp as write_lp_file

    s = _guard(lambda: load(scenario))
    if objective:
        s = s.with_(objective=objective)
    if quantiles:
        s = s.with_(gradient=dataclasses.replace(s.gradient, quantiles=quantiles))

    def solve():
        try:
            return run_pipeline(s, solver=solver, method=method, time_limit=time_limit)
        except InfeasibleError:
            raise InfeasibleError(diagnose.explain(s)) from None

    result = _guard(solve)
    options = {"objective": s.objective, "solver": solver, "method": method, "time_limit": time_limit}
    if out is not None:
        _guard(lambda: report.write_outputs(result, out, options))
    if write_lp is not None:
        protected = {Path(p).resolve() for p in s.inputs}
        if write_lp.resolve() in protected:
            raise _Fail(f"refusing to overwrite the input file {write_lp}", EXIT_BAD_INPUT)
        write_lp_file(result.lp, write_lp)
    if not quiet:
        click.echo(report.summary_text(result))
        if out is not None:
            click.echo(f"\nTables written to {out}/ (CSV, result.json, run.json).")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
