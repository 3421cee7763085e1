"""The command line's frame: the `allocator` group, exit codes and the output layer.

Only `allocator.cli` imports Click. Expected errors become one clear message and an exit
code (0 ok, 1 could not solve, 2 bad input or an output that cannot be written), never
a traceback. The commands are in `solving` (validate, run, compare, report, frontier,
gradient), `sweeping` (sweep) and `building` (new, template).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click

from allocator.errors import AllocatorError
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
            with _progress_line():
                return super().invoke(ctx)
        except AllocatorError as exc:
            raise _Fail(str(exc), exit_code(exc)) from None
        except BrokenPipeError:  # the reader went away (`allocator ... | head`): stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(0) from None
        except OSError as exc:
            from allocator.reports.files import any_os_message

            raise _Fail(any_os_message(exc), EXIT_BAD_INPUT) from None


@contextlib.contextmanager
def _progress_line():
    """Show the library's stages on a line of the terminal (stderr) while the command works."""
    from allocator.cli.progress_line import ClearingStream, ProgressLine
    from allocator.progress import reporting

    line = ProgressLine.on_terminal()
    if line is None:
        yield
        return
    stdout = sys.stdout
    sys.stdout = ClearingStream(stdout, line)
    try:
        with reporting(line):
            yield
    finally:
        sys.stdout = stdout
        line.close()


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

