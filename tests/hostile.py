"""The hostile-input catalogue's harness: run a command as a hostile user would, then check
the contract — the exit code, no traceback, a message that names the place, and nothing
lost (every input and every earlier output byte for byte as it was).

Used by tests/test_hostile_*.py. Commands run in this process through Click's runner
(fast enough for hundreds of cases) under a wall-clock alarm, so a hang fails the case
instead of the suite.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from allocator.cli import main
from conftest import DATA

TIME_LIMIT_S = 30  # a case slower than this is a hang


class Hang(AssertionError):
    """The command did not finish within TIME_LIMIT_S."""


@contextlib.contextmanager
def alarm(seconds: float = TIME_LIMIT_S):
    """Raise `Hang` in this (main) thread after ``seconds`` of wall-clock time."""
    def ring(signum, frame):
        raise Hang(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fingerprint(*paths: Path) -> dict[str, str]:
    """sha256 of every file under ``paths`` (a missing path is recorded as missing)."""
    out: dict[str, str] = {}
    for root in map(Path, paths):
        if root.is_file() or root.is_symlink() and not root.exists():
            files = [root]
        elif root.is_dir():
            files = sorted(p for p in root.rglob("*") if p.is_file())
        else:
            out[str(root)] = "missing"
            continue
        for f in files:
            with contextlib.suppress(OSError):
                out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


@dataclass
class Outcome:
    code: int
    output: str  # stdout and stderr together
    exception: BaseException | None


def invoke(*args, cwd: Path | None = None, seconds: float = TIME_LIMIT_S) -> Outcome:
    """``allocator ARGS`` in this process, within ``seconds``."""
    runner = CliRunner()
    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with alarm(seconds):
            result = runner.invoke(main, [str(a) for a in args], catch_exceptions=True)
    finally:
        os.chdir(old)
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    return Outcome(result.exit_code, result.output, exc)


def check(outcome: Outcome, code: int, *fragments: str) -> None:
    """The contract: exit ``code``, no traceback, every fragment (the place, the reason) in the message."""
    assert outcome.exception is None, f"uncaught {type(outcome.exception).__name__}: {outcome.exception}"
    assert "Traceback" not in outcome.output, outcome.output
    assert outcome.code == code, f"exit {outcome.code}, expected {code}:\n{outcome.output}"
    for text in fragments:
        assert text in outcome.output, f"{text!r} not in:\n{outcome.output}"


def expect(code: int, args, *fragments: str, unchanged=(), cwd: Path | None = None,
           seconds: float = TIME_LIMIT_S) -> Outcome:
    """Run ``allocator ARGS``; check the contract and that every path in ``unchanged`` is as it was."""
    before = fingerprint(*unchanged)
    outcome = invoke(*args, cwd=cwd, seconds=seconds)
    check(outcome, code, *fragments)
    assert fingerprint(*unchanged) == before, "an input or an earlier output changed"
    return outcome


def tiny_copy(folder: Path) -> Path:
    """A fresh copy of tests/data/tiny in ``folder`` (created), for a case to break."""
    shutil.copytree(DATA / "tiny", folder)
    return folder
