"""The allocator web app: the script that ``streamlit run`` executes (``allocator app`` starts it).

    streamlit run allocator/app/main.py -- --scenario england-la

The sidebar chooses the scenario and sets the rules; the tabs show the answer (the brief,
the gradient, the map, winners and losers, find your area, the price of each rule), compare
the saved options, run a small sweep, and give the downloads. The scenario, the rules and the
saved options are kept in the address (``?scenario=...&rules=...&options=...&locked=...``), so a
reload, a bookmark or a shared link shows the same answer.
"""

from __future__ import annotations

import streamlit as st

from allocator.app import logic, sidebar, tools, views

TABS = ("The answer", "Compare options", "Sensitivity", "Take it away")


def _keep_in_url(current: sidebar.Loaded, option: dict, locked) -> None:
    """The state in the address, updated only when it changed (a reload starts from it)."""
    state = logic.State(scenario=current.ref, rules=option, options=st.session_state.get("saved_options", []),
                        locked=locked)
    wanted = logic.query_params(state)
    if {k: st.query_params[k] for k in st.query_params} != wanted:
        st.query_params.clear()
        st.query_params.update(wanted)


def _header(current: sidebar.Loaded | None) -> None:
    st.title("allocator: a budget by need")
    if current is None:
        st.info("Choose a scenario in the sidebar: a bundled one, a folder, an upload, or one built for a place.")
        return
    s = current.base
    st.markdown(logic.md(f"{s.name}: {s.n_areas:,} areas, {s.n_services} services, outcome "
                         f"{s.gradient.outcome_label}."))
    if s.description:
        st.caption(logic.md(s.description))


def main() -> None:
    st.set_page_config(page_title="allocator", layout="wide")
    sidebar.start()
    with st.sidebar:
        sidebar.scenario_chooser()
        current = sidebar.loaded()
        if current is not None:
            sidebar.prepare_form(current)
            option, locked = sidebar.rules_form(current)
    _header(current)
    if current is None:
        return
    if st.session_state.get("state_error"):
        st.warning(logic.md(st.session_state.state_error))
    _keep_in_url(current, option, locked)
    answer, options, sweep, takeaway = st.tabs(list(TABS))
    with answer:
        views.answer(current, option, locked)
    with options:
        views.compare_view(current, locked)
    with sweep:
        tools.sweep_view(current, option, locked)
    with takeaway:
        tools.takeaway_view(current, option, locked)


if __name__ == "__main__":
    main()
