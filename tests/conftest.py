"""Shared fixtures: a tiny scenario copied to a temporary folder for each test."""

from __future__ import annotations

import os
import re
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


REPO = Path(__file__).resolve().parents[1]


def quickstart_with(tmp_path: Path, streams: str | None = None, partners: str | None = None, manifest: str = "",
                    total: float | None = None, name: str = "s") -> Path:
    """The quickstart in ``tmp_path/name`` with these streams and partners tables, manifest sections
    appended and [budget] total_gbp set (its models the repository's, by absolute path)."""
    folder = tmp_path / name
    shutil.copytree(REPO / "scenarios" / "quickstart", folder)
    toml = folder / "scenario.toml"
    text = re.sub(r'(?m)^models = .*$', f'models = "{(REPO / "models").as_posix()}"', toml.read_text())
    added = ""
    for key, table in (("streams", streams), ("partners", partners)):
        if table is not None:
            (folder / f"{key}.csv").write_text(table)
            added += f'{key} = "{key}.csv"\n'
    assert 'baseline = "baseline.csv"\n' in text and "total_gbp = 100_000_000" in text
    text = text.replace('baseline = "baseline.csv"\n', 'baseline = "baseline.csv"\n' + added)
    if total is not None:
        text = text.replace("total_gbp = 100_000_000", f"total_gbp = {total!r}")
    toml.write_text(text + "\n" + manifest)
    return folder
