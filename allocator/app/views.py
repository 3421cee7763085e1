"""The app's tabs: the answer, the options compared, a small sweep, and what to take away (Streamlit).

Every number and sentence comes from `allocator.reports` (the brief, the maps, the tables)
and every name from the input is shown as text: Markdown escaped (`logic.md`), tables as
data; the maps' SVG is the one HTML the app shows, and `allocator.reports.maps` escapes every
name in it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from allocator.analysis.compare import wide_metrics
from allocator.app import cache, logic
from allocator.app.logic import md
from allocator.app.sidebar import Loaded
from allocator.reports.brief import brief
from allocator.reports.markdown import Table as TextTable
from allocator.reports.markdown import md_table, measure_name

ss = st.session_state
# one colour per series in every chart of a page: 'before' first, then the options in order
PALETTE = ["#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1", "#ff8700", "#ffd16a", "#6d3fc0",
           "#d5dae5"]
MEASURES = ["sii_outcome", "gap_absolute_outcome", "total_gain", "share_of_spend_most_deprived_fifth"]


def _spinner(base) -> str:
    return (f"Solving {base.n_areas:,} areas x {base.n_services} services ..." if base.n_areas > 2000
            else "Solving ...")


def show_error(solved: logic.Solved, key: str) -> None:
    """Why the options have no answer: bad rules (the checker's messages), or no allocation meets
    them (the reason in money, and the minimum budget where there is one)."""
    with st.container(key=key):
        lead = ("No allocation meets these rules." if solved.infeasible
                else "These rules cannot be used as they are.")
        st.error(md(f"{lead}\n{solved.error}"))


# -- the brief ------------------------------------------------------------------------------------
def brief_markdown(data, with_rules: bool) -> str:
    """The brief as Markdown: lead, verdict, what each option does, the table; the rules that bind
    only when their prices were worked out (otherwise the brief would say that none binds)."""
    b = brief(data)
    lines = [md(b.lead), ""]
    lines += [f"**{md(v)}**" for v in b.verdict] + ([""] if b.verdict else [])
    lines += [f"- **{md(name)}**: {md(says)}" for name, says in b.options] + [""]
    rows = [r for r in b.rows if with_rules or r[0] != "Rules that bind"]  # counted from the prices
    table = md_table(TextTable("brief", "", "", b.columns, rows, [False] + [True] * (len(b.columns) - 1)))
    lines += [line.replace("$", "\\$") for line in table]  # Streamlit reads $...$ as LaTeX
    if with_rules:
        lines += ["", "**Rules that bind, and what they cost**", ""]
        lines += [f"- **{md(name)}**: {md(text)}" for name, text in b.rules]
    return "\n".join(lines)


# -- the answer -------------------------------------------------------------------------------------
def answer(current: Loaded, option: dict, locked) -> None:
    key = cache.Key.of(current.path, locked, [option])
    with st.spinner(_spinner(current.base)):
        solved = cache.solved(key)
    if solved.error:
        show_error(solved, "answer_error")
        return
    data, name = solved.data, option["name"]
    priced = ss.get("prices_for") == key
    explained = None
    if priced:
        with st.spinner("Working out the price of each rule (one more solve per rule) ..."):
            explained = cache.solved(key, explain=True)
    with st.container(key="brief"):
        st.subheader("The brief")
        st.markdown(brief_markdown(explained.data if explained and explained.data else data, priced))
    _prices(key, explained)
    _gradient(data, name)
    _maps(key, name)
    _winners(data, name)
    _find_area(data, name)


def _prices(key, explained) -> None:
    st.subheader("The price of each rule")
    if explained is None:
        st.caption("Each rule relaxed in turn and the scenario solved again: what each rule costs in health.")
        if st.button("Work out the price of each rule", key="prices_button"):
            ss.prices_for = key
            st.rerun()
        return
    if explained.error:
        st.error(md(explained.error))
        return
    prices = explained.data.tables["prices"]
    with st.container(key="prices_table"):
        st.dataframe(prices[["rule", "text"]].rename(columns={"rule": "Rule", "text": "What it costs"}),
                     hide_index=True)


def group_charts(data, names: list[str], before: str = "Before") -> None:
    """Spend per head by deprivation group before and under each option (bars from zero), and the
    change in the outcome each option makes in each group (the outcome itself hardly moves)."""
    groups = data.meta["scenario"]["groups"]
    axis = f"Deprivation {groups} (1 = most deprived)"
    before = before if before not in names else f"{before} (as loaded)"
    spend = data.tables["spend_by_group"]
    shown = spend.set_index(spend.columns[0])[["before", *names]].rename(columns={"before": before})
    shown.index = shown.index.astype(int)
    shown.index.name = axis
    colours = [PALETTE[k % len(PALETTE)] for k in range(len(names) + 1)]
    st.caption("Spend per head (£)")
    st.bar_chart(shown, y=list(shown.columns), color=colours, stack=False, y_label="Spend per head (£)")
    outcome = data.tables["outcome_by_group"]
    change = outcome.set_index(outcome.columns[0])[names].sub(outcome.set_index(outcome.columns[0])["before"], axis=0)
    change.index = change.index.astype(int)
    change.index.name = axis
    units = data.meta["scenario"]["outcome_units"]
    title = f"Change in the outcome: {data.meta['scenario']['outcome_label']}"
    st.caption(md(title))
    st.bar_chart(change, y=list(change.columns), color=colours[1:], stack=False, y_label=f"Change ({units})")


def _gradient(data, name: str) -> None:
    st.subheader("Spend and outcome by deprivation group")
    comparator = data.meta["scenario"].get("comparator")
    group_charts(data, [name], "Before" if comparator == "baseline" else "Same budget, flat")


def _maps(key, name: str) -> None:
    st.subheader("The map")
    maps, note = cache.maps(key, name)
    if note:
        st.caption(md(note))
    if not maps:
        return
    titles = [m.title for m in maps]
    chosen = st.selectbox("Map", titles, key="map_measure")
    shown = maps[titles.index(chosen)] if chosen in titles else maps[0]
    # the one HTML the app shows: the SVG of allocator.reports.maps, every name in it escaped
    st.markdown(shown.svg, unsafe_allow_html=True)
    st.caption(md(shown.caption))


def _winners(data, name: str) -> None:
    st.subheader("Winners and losers")
    counts = data.tables["winners_losers_by_group"]
    counts = counts[counts["option"].astype(str) == name].set_index("deprivation_group")
    st.bar_chart(counts[["gain", "lose", "unchanged"]].rename(
        columns={"gain": "Areas gaining", "lose": "Areas losing", "unchanged": "Unchanged"}),
        stack=False, y_label="Areas")
    winners = data.tables["winners_losers"]
    rows = winners[winners["option"].astype(str) == name]
    columns = {"area_id": "Area", "area_name": "Name", "deprivation_group": "Group", "before_gbp": "Before (£)",
               "spend_gbp": "After (£)", "change_gbp": "Change (£)", "change_pct": "Change (%)"}
    left, right = st.columns(2)
    for side, title, top in ((left, "Largest gains", rows.nlargest(10, "change_gbp")),
                             (right, "Largest losses", rows.nsmallest(10, "change_gbp"))):
        table = top[list(columns)].rename(columns=columns)
        side.caption(title)
        side.dataframe(table, hide_index=True, column_config=formats(table))


def formats(frame: pd.DataFrame) -> dict:
    """Column formats for a table shown in the app: pounds and people with separators, shares as %."""
    config = {}
    for column in frame.columns:
        if column.endswith("(£)") or column in ("Population",):
            config[column] = st.column_config.NumberColumn(column, format="localized")
        elif column.endswith("(%)"):
            config[column] = st.column_config.NumberColumn(column, format="%.1f%%")
        elif column in ("Need index", "Outcome before", "Outcome after"):
            config[column] = st.column_config.NumberColumn(column, format="%.4g")
    return config


AREA_COLUMNS = {"area_id": "Area", "area_name": "Name", "deprivation_group": "Deprivation group",
                "population": "Population", "need_index": "Need index", "baseline_spend_gbp": "Before (£)",
                "fair_share_gbp": "Fair share (£)", "spend_gbp": "After (£)", "change_gbp": "Change (£)",
                "change_pct": "Change (%)", "spend_per_head_gbp": "After per head (£)",
                "distance_from_target_gbp": "Distance from target (£)", "outcome_baseline": "Outcome before",
                "outcome_projected": "Outcome after"}


def area_rows(data, name: str, query: str) -> pd.DataFrame:
    """Every area of the option whose code or name contains ``query`` (any case), as find-my-area shows it."""
    table = data.tables["options_by_area"]
    rows = table[table["option"].astype(str) == name]
    query = query.strip().casefold()
    if query:
        hit = (rows["area_id"].astype(str).str.casefold().str.contains(query, regex=False)
               | rows["area_name"].astype(str).str.casefold().str.contains(query, regex=False))
        rows = rows[hit]
    return rows[[c for c in AREA_COLUMNS if c in rows.columns]].rename(columns=AREA_COLUMNS)


def _find_area(data, name: str) -> None:
    st.subheader("Find your area")
    query = st.text_input("Area name or code", key="find_area", placeholder="Type part of a name or code")
    rows = area_rows(data, name, query or "")
    with st.container(key="areas_table"):
        st.caption(f"{len(rows):,} areas shown")
        st.dataframe(rows, hide_index=True, column_config=formats(rows))


# -- the options compared ------------------------------------------------------------------------
def compare_view(current: Loaded, locked) -> None:
    saved = ss.get("saved_options", [])
    if not saved:
        st.info("Save the rules as an option (in the sidebar), change them and save again: the options "
                "are compared here side by side.")
        return
    for k, option in enumerate(saved):
        left, middle, right = st.columns([6, 1, 1])
        changed = ", ".join(f"{key} = {option[key]}" for key in option if key != "name") or "the scenario as loaded"
        left.markdown(f"**{md(option['name'])}**: {md(changed)}")
        if middle.button("Load", key=f"load_option_{k}", help="Put this option's rules in the form"):
            ss.pending = logic.State(scenario=current.ref, rules=option, options=saved, locked=locked)
            st.rerun()
        if right.button("Remove", key=f"remove_option_{k}"):
            ss.saved_options = [o for j, o in enumerate(saved) if j != k]
            st.rerun()
    key = cache.Key.of(current.path, locked, saved)
    with st.spinner(_spinner(current.base)):
        solved = cache.solved(key)
    if solved.error:
        show_error(solved, "compare_error")
        return
    data = solved.data
    with st.container(key="compare_brief"):
        st.subheader("In brief")
        st.markdown(brief_markdown(data, False))
    st.subheader("Every measure")
    wide = wide_metrics(data.tables["options_metrics"])
    wide.insert(0, "Measure", [measure_name(m) for m in wide["measure"]])
    with st.container(key="measures_table"):
        st.dataframe(wide.drop(columns=["measure"]), hide_index=True)
    st.subheader("By deprivation group")
    group_charts(data, list(data.meta["options"]))
