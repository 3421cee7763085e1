"""Solved answers kept by their inputs, for every session of the app (Streamlit's resource cache).

Keys are plain text: the scenario's path and the fingerprint of its files (`logic.stamp`),
the locked lines and the options as JSON, and whether to explain. The answers are kept as
they are, not copied (``st.cache_resource``, not ``st.cache_data``): an LSOA-scale answer
holds tables of hundreds of thousands of rows that pickling would copy on every rerun, and
nothing in the app changes them. A failed solve is kept too, as its message (`logic.Solved`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import streamlit as st

from allocator.app import logic
from allocator.scenario import Scenario, load


@dataclass(frozen=True)
class Key:
    """What an answer depends on."""

    path: str
    stamp: str
    locked: str  # JSON: the locked lines, or null for the scenario's own
    options: str  # JSON: the options, in order

    @classmethod
    def of(cls, path: str, locked: list | None, options: list[dict]) -> Key:
        return cls(path, logic.stamp(path), json.dumps(locked), json.dumps(options, sort_keys=True))


@st.cache_resource(max_entries=8, show_spinner=False)
def scenario(path: str, stamp: str) -> Scenario:
    """The scenario at ``path`` as loaded and checked (an error is raised, and not kept)."""
    return load(path)


@st.cache_resource(max_entries=48, show_spinner=False)
def _solved(path: str, stamp: str, locked: str, options: str, explain: bool) -> logic.Solved:
    return logic.solve(scenario(path, stamp), json.loads(locked), json.loads(options), explain=explain)


def solved(key: Key, explain: bool = False) -> logic.Solved:
    """The options of ``key`` solved side by side (explained: with waterfalls and prices)."""
    return _solved(key.path, key.stamp, key.locked, key.options, explain)


@st.cache_resource(max_entries=48, show_spinner=False)
def _maps(path: str, stamp: str, locked: str, options: str, option: str):
    from allocator.reports.maps import district_maps

    answer = _solved(path, stamp, locked, options, False)
    return district_maps(answer.data, option)


def maps(key: Key, option: str):
    """The option's maps by district (`allocator.reports.maps.district_maps`): (maps, note)."""
    return _maps(key.path, key.stamp, key.locked, key.options, option)


@st.cache_resource(max_entries=4, show_spinner=False)
def place_names(kind: str) -> list[str]:
    """The names of England's districts, ICBs or NHS regions, for the builder."""
    from allocator.build.place import places

    return places(kind)["name"].astype(str).tolist()


@st.cache_resource(max_entries=1, show_spinner=False)
def template_bytes() -> bytes:
    """The scenario workbook to fill in (`allocator template --xlsx`)."""
    import tempfile
    from pathlib import Path

    from allocator.build.template import write_template

    with tempfile.TemporaryDirectory(prefix="allocator-app-") as folder:
        path = Path(folder) / "scenario-template.xlsx"
        write_template(path)
        return path.read_bytes()
