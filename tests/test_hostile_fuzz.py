"""Fuzzing the input parsers: whatever bytes, TOML or CSV a scenario holds, `allocator.load`
either returns a scenario or raises `ScenarioError` — never another exception, never a hang.

Random bytes and random TOML documents stand in for scenario.toml and the models; random
CSV text, and the tiny scenario's tables with hostile cells, for areas.csv and services.csv.
Each example runs under a 5 s alarm (`hostile.alarm`), so a hang fails with its example.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import os
import shutil
import tempfile
import tomllib
from contextlib import contextmanager
from pathlib import Path

from conftest import DATA
from hostile import alarm
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import allocator
from allocator.analysis.sweep_plan import SweepError, read_sweep_file
from allocator.errors import ScenarioError

FUZZ = settings(max_examples=int(os.environ.get("HOSTILE_FUZZ_EXAMPLES", "40")), deadline=None,
                suppress_health_check=list(HealthCheck))  # HOSTILE_FUZZ_EXAMPLES=2000: a long soak
TINY = DATA / "tiny"
MANIFEST = tomllib.loads((TINY / "scenario.toml").read_text())
NEED = tomllib.loads((TINY / "models/need/deprivation.toml").read_text())
RESPONSE = tomllib.loads((TINY / "models/response/checks-curve.toml").read_text())


@contextmanager
def tiny():
    """A fresh copy of the tiny scenario, deleted afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tiny"
        shutil.copytree(TINY, folder)
        yield folder


def loads_or_refuses(folder: Path) -> None:
    """The contract: a scenario, or `ScenarioError` listing problems — within 5 seconds."""
    with alarm(5):
        try:
            allocator.load(folder)
            event("loaded")
        except ScenarioError as exc:
            assert exc.problems and all(p.file for p in exc.problems), exc
            event("refused")


# ------------------------------------------------------------------ TOML documents

def toml_value(value) -> str:
    """``value`` as TOML (inline tables and arrays), nan and inf included."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    def escape(ch: str) -> str:
        if ch in '"\\':
            return "\\" + ch
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            return f"\\u{ord(ch):04X}"
        return "\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch
    return '"' + "".join(map(escape, text)) + '"'


def toml_document(data: dict) -> str:
    """Top-level tables as [sections], arrays of tables as [[blocks]], the rest inline."""
    lines = [f"{toml_string(k)} = {toml_value(v)}" for k, v in data.items()
             if not isinstance(v, dict) and not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))]
    for key, value in data.items():
        blocks = [value] if isinstance(value, dict) else (
            value if isinstance(value, list) and value and all(isinstance(x, dict) for x in value) else [])
        for block in blocks:
            lines.append(f"[{toml_string(key)}]" if isinstance(value, dict) else f"[[{toml_string(key)}]]")
            lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in block.items()]
    return "\n".join(lines) + "\n"


HOSTILE_NUMBERS = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 10 ** 38, -(10 ** 40),
                                   2 ** 63, 0, -1, 0.0, -0.0, 1e-320, 5e-324, 1, 2, 1_000_000, 0.5])
SCALARS = st.one_of(
    HOSTILE_NUMBERS, st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.text(max_size=12), st.sampled_from(["", "5%", "0.5", "nan", "inf", "health-gain", "fair-share",
                                           "monotone", "exact", "areas.csv", "/dev/zero", "..", "*"]))
KEYS = st.one_of(st.text(max_size=8), st.sampled_from(
    ["scenario", "budget", "objective", "proportionality", "gradient", "tables", "pace_of_change", "option",
     "uncertain", "name", "total_gbp", "mode", "quantiles", "areas", "services", "formula", "terms",
     "constant", "weight", "column", "curve", "modifier", "values", "uncertainty", "scale"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)
DOCUMENTS = st.dictionaries(KEYS, VALUES, max_size=8)


def paths(data, prefix=()):
    """Every path to a value in a nested dict/list document."""
    yield prefix
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield from paths(value, prefix + (key,))


@st.composite
def mutated(draw, document: dict):
    """``document`` with one to three of its values replaced by hostile ones, or deleted."""
    data = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from([p for p in paths(data) if p]))
        parent = data
        for key in where[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()) and draw(st.booleans()):
            del parent[where[-1]]
        else:
            parent[where[-1]] = draw(VALUES)
    return data


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_as_the_manifest(data):
    with tiny() as folder:
        (folder / "scenario.toml").write_bytes(data)
        loads_or_refuses(folder)


@FUZZ
@given(DOCUMENTS)
def test_random_toml_documents_as_the_manifest(document):
    with tiny() as folder:
        (folder / "scenario.toml").write_text(toml_document(document))
        loads_or_refuses(folder)


@FUZZ
@given(mutated(MANIFEST))
def test_the_tiny_manifest_with_hostile_values(document):
    with tiny() as folder:
        (folder / "scenario.toml").write_text(toml_document(document))
        loads_or_refuses(folder)


@FUZZ
@given(st.sampled_from(["need/deprivation", "response/checks-curve"]), st.data())
def test_models_with_hostile_values(model, data):
    document = data.draw(mutated(NEED if model.startswith("need") else RESPONSE))
    with tiny() as folder:
        (folder / "models" / f"{model}.toml").write_text(toml_document(document))
        loads_or_refuses(folder)


SWEEP_KEYS = st.sampled_from(["sweep", "vary", "uncertain", "design", "samples", "seed", "options", "chunk_size",
                              "budget", "cap.visits", "floor_scale", "parameter", "distribution", "low", "high",
                              "from", "to", "points"])


@FUZZ
@given(st.one_of(DOCUMENTS, st.dictionaries(SWEEP_KEYS, st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(SWEEP_KEYS, inner, max_size=4)), max_leaves=10), max_size=4)))
def test_random_toml_documents_as_a_sweep_file(document):
    with tempfile.TemporaryDirectory() as tmp, alarm(5):
        path = Path(tmp) / "sweep.toml"
        path.write_text(toml_document(document))
        try:
            read_sweep_file(path)
        except SweepError as exc:
            assert exc.problems and all(p.file for p in exc.problems), exc


# ------------------------------------------------------------------ CSV text

CSV_TEXT = st.text(alphabet=st.sampled_from(list(',"\n\r \t;*.-+eE0123456789abcnaifA\x00\ufeffé')), max_size=300)
CELLS = st.one_of(st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "1e308", "-1e308", "1e400", "0", "-1",
                                   "1,000", "5%", "*", "=1+1", '"', "\x00", "A1", "visits", "population",
                                   "9" * 40, "0x10", "1_000", "\u00a0", "\ufeff1"]),
                  st.text(max_size=6), st.floats().map(repr))


def table_rows(name: str) -> list[list[str]]:
    with open(TINY / f"{name}.csv", newline="") as handle:
        return list(csv.reader(handle))


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@FUZZ
@given(st.sampled_from(["areas", "services"]), CSV_TEXT)
def test_random_csv_text_as_a_table(name, text):
    with tiny() as folder:
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
        loads_or_refuses(folder)


@FUZZ
@given(st.sampled_from(["areas", "services", "baseline"]), st.data())
def test_tables_with_hostile_cells(name, data):
    rows = table_rows(name)
    for _ in range(data.draw(st.integers(1, 4))):
        r = data.draw(st.integers(0, len(rows) - 1))
        c = data.draw(st.integers(0, len(rows[r]) - 1))
        rows[r][c] = data.draw(CELLS)
    if data.draw(st.booleans()):
        rows.append(data.draw(st.lists(CELLS, max_size=len(rows[0]) + 1)))
    with tiny() as folder:
        (folder / f"{name}.csv").write_text(csv_text(rows), encoding="utf-8")
        loads_or_refuses(folder)
