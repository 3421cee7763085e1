"""Where long work has got to, stage by stage: the library says it, the command line shows it.

Library code never prints: it calls ``stage("Solving option 2 of 5: Fair share")`` at each
stage of long work (loading, building, solving, each option of a comparison, each point of
a frontier, each rule priced, each report written).  Nothing happens unless a reporter is
installed for the work in hand with `reporting` — the command line installs one that keeps a
single line on a terminal up to date (and nothing on a pipe or with ``-q``); an analyst can
install any callable taking the text.

Examples
--------
>>> seen = []
>>> with reporting(seen.append):
...     stage("Solving")
...     with stages("Pricing rules"):
...         stage("floors")
>>> seen
['Solving', 'Pricing rules: floors']
>>> stage("no one is listening")  # no reporter: nothing happens
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

_REPORTER: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "allocator_progress", default=None)
_PREFIX: contextvars.ContextVar[str] = contextvars.ContextVar("allocator_progress_prefix", default="")


def stage(text: str) -> None:
    """Say that the work in hand has reached ``text`` (nothing happens without a reporter)."""
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter(_PREFIX.get() + text)


def active() -> bool:
    """Whether anyone is listening (to skip work done only to describe a stage)."""
    return _REPORTER.get() is not None


@contextlib.contextmanager
def reporting(reporter: Callable[[str], None] | None) -> Iterator[None]:
    """Send the stages of the work inside the block to ``reporter`` (None: to no one)."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


@contextlib.contextmanager
def stages(name: str) -> Iterator[None]:
    """Prefix the stages inside the block with ``name``: the outer work they belong to."""
    token = _PREFIX.set(_PREFIX.get() + name + ": ")
    try:
        yield
    finally:
        _PREFIX.reset(token)
