"""Shared fixtures: a tiny scenario copied to a temporary folder for each test."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import InMemoryExampleDatabase

# Examples live in memory: no .hypothesis folder to grow and to delete after the run
# (a failing example is printed in full, with the seed to reproduce it). In CI the examples are
# the same on every run (derandomized), so a landing never depends on a lucky draw; on a
# developer's machine each run explores new ones.
_CI = bool(os.environ.get("CI"))
settings.register_profile("allocator", database=None if _CI else InMemoryExampleDatabase(), print_blob=True,
                          derandomize=_CI)
settings.load_profile("allocator")

DATA = Path(__file__).parent / "data"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A fresh copy of tests/data/tiny that a test may edit."""
    target = tmp_path / "tiny"
    shutil.copytree(DATA / "tiny", target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace text in a scenario file, failing loudly if the text is not there."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))
