"""Progress of long work: the library's stages, and the command line's line on a terminal only."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import allocator
from allocator.cli import main
from allocator.cli.progress_line import CLEAR, ClearingStream, ProgressLine
from allocator.progress import reporting, stage, stages

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "scenarios" / "quickstart"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_stages_reach_the_reporter_in_order_with_their_prefixes():
    seen = []
    with reporting(seen.append):
        stage("a")
        with stages("outer"):
            stage("b")
            with stages("inner"):
                stage("c")
        stage("d")
    stage("after the block: no one listens")
    assert seen == ["a", "outer: b", "outer: inner: c", "d"]


def test_a_comparison_reports_each_option_and_each_stage_of_its_solve():
    seen = []
    with reporting(seen.append):
        comparison = allocator.compare(QUICKSTART, explain=True)
    names = comparison.names
    for k, name in enumerate(names):
        prefix = f"Option {k + 1}/{len(names)} ({name}): "
        mine = [text[len(prefix):] for text in seen if text.startswith(prefix)]
        assert [m.split(" (")[0] for m in mine] == ["Building the LP", "Solving",
                                                    "Checking every invariant from the allocation",
                                                    "Measuring the gradient"]
    first = [next(i for i, t in enumerate(seen) if t.startswith(f"Option {k + 1}/")) for k in range(len(names))]
    assert first == sorted(first)
    assert any(t.startswith("The waterfall, option 1/") for t in seen)
    assert any(t.startswith("Prices, option 1/") and "without the" in t for t in seen)


def test_the_line_draws_on_a_terminal_and_takes_itself_off_at_the_end():
    term = Terminal()
    line = ProgressLine.on_terminal(term)
    assert line is not None
    line("Solving (10 rows x 20 columns)")
    line.close()
    text = term.getvalue()
    assert text.startswith(CLEAR + "[0 s] Solving (10 rows x 20 columns)")
    assert text.endswith(CLEAR)


def test_no_line_on_a_pipe_or_with_quiet():
    assert ProgressLine.on_terminal(io.StringIO()) is None
    term = Terminal()
    line = ProgressLine(term)
    with click.Context(click.Command("run"), info_name="run") as ctx:
        ctx.params["quiet"] = True
        line("Solving")
    line.close()
    assert term.getvalue() == ""


def test_results_on_stdout_first_take_the_line_off_the_terminal():
    term, out = Terminal(), io.StringIO()
    line = ProgressLine(term, interval=0.01)
    line("Solving")
    ClearingStream(out, line).write("result\n")
    shown = term.getvalue()
    time.sleep(0.05)  # the ticker does not bring the line back once results are being written
    line.close()
    assert shown.endswith(CLEAR) and term.getvalue() == shown
    assert out.getvalue() == "result\n"


def test_the_cli_shows_nothing_when_stderr_is_not_a_terminal():
    result = CliRunner().invoke(main, ["run", str(QUICKSTART)])
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output and "[0 s]" not in result.output


def _on_a_terminal(args: list[str]) -> tuple[str, str, int]:
    """Run the command line with stderr on a pseudo-terminal: (what the terminal saw, stdout, exit code)."""
    master, slave = pty.openpty()
    command = [sys.executable, "-c", "from allocator.cli import main; main()", *args]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                               cwd=REPO, close_fds=True)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:  # the other end closed
                break
            if not data:
                break
            seen += data
        elif process.poll() is not None:
            break
    stdout = process.stdout.read().decode()
    process.wait(timeout=60)
    os.close(master)
    return seen.decode(errors="replace"), stdout, process.returncode


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals as on Linux")
def test_on_a_terminal_the_stages_show_and_stdout_stays_clean():
    seen, stdout, code = _on_a_terminal(["run", str(QUICKSTART)])
    assert code == 0
    assert "] Solving (" in seen and "] Measuring the gradient" in seen
    assert seen.endswith(CLEAR)  # the line is taken off before the command ends
    assert "\r" not in stdout and "\033" not in stdout
    assert "SII of outcome" in stdout
    quiet, _, code = _on_a_terminal(["run", str(QUICKSTART), "-q"])
    assert code == 0 and "Solving" not in quiet
