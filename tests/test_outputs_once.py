"""Each table is cleaned once however many files want it, and the files are the same bytes as before."""

from __future__ import annotations

import pandas as pd

from allocator.reports import outputs


def _table() -> pd.DataFrame:
    return pd.DataFrame({"area_name": ["=HYPERLINK(1)", "Leeds", "'-x"], "spend_gbp": [1.0 / 3, 2e9, -5.25]})


def test_inside_the_block_a_table_is_cleaned_once_and_encoded_as_without_it(monkeypatch):
    frame = _table()
    plain = (outputs.csv_bytes(frame), outputs.json_bytes(frame), outputs.parquet_bytes(frame))
    calls = []
    real = outputs.safe_frame
    monkeypatch.setattr(outputs, "safe_frame", lambda f: calls.append(1) or real(f))
    with outputs.encoded_once():
        once = (outputs.csv_bytes(frame), outputs.json_bytes(frame), outputs.parquet_bytes(frame),
                outputs.csv_bytes(frame))
    assert once[:3] == plain and once[3] == plain[0]
    assert len(calls) == 1
    assert b"'=HYPERLINK(1)" in once[0]  # neutralised, once: not twice
    assert b"''=HYPERLINK" not in once[0]


def test_outside_the_block_nothing_is_remembered(monkeypatch):
    frame = _table()
    calls = []
    real = outputs.safe_frame
    monkeypatch.setattr(outputs, "safe_frame", lambda f: calls.append(1) or real(f))
    outputs.csv_bytes(frame)
    frame.loc[1, "area_name"] = "York"  # a table changed between writes is written as it now is
    assert b"York" in outputs.csv_bytes(frame)
    assert len(calls) == 2
