"""The app's last two tabs: a small sensitivity sweep, and what to take away (Streamlit).

The sweep solves the current rules at up to 50 values of one parameter in this process, with
a progress bar (`allocator.analysis.sweeps.run_sweep`). The downloads are made when asked
for, from the same solved options the app shows: the finance workbook, the HTML report, the
brief, the scenario folder with the options as ``[[option]]`` blocks, and the settings file
that puts the app back as it was.
"""

from __future__ import annotations

import streamlit as st

from allocator.app import cache, export, logic, sidebar
from allocator.app.logic import md
from allocator.app.sidebar import Loaded
from allocator.app.views import MEASURES, show_error
from allocator.errors import AllocatorError, ScenarioError
from allocator.reports.files import safe_stem
from allocator.reports.markdown import measure_name
from allocator.scenario.bundled import resolve

ss = st.session_state
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -- the sweep -------------------------------------------------------------------------------------
def _range_for(scenario) -> None:
    """A callback: a new parameter's first range, 10% either side of its value."""
    low, high = logic.sweep_range(scenario, ss.sweep_parameter)
    ss.sweep_from, ss.sweep_to = low, high


def sweep_view(current: Loaded, option: dict, locked) -> None:
    st.caption("Solve the current rules at evenly spaced values of one setting (at most 50), and see how "
               "the gap, the health gained and the share of spend in the most deprived fifth move.")
    try:
        scenario = logic.option_scenarios(current.base, locked, [option])[0][1]
    except AllocatorError as exc:
        st.error(md(f"The current rules cannot be swept:\n{exc}"))
        return
    names = logic.sweep_parameters(scenario)
    if ss.get("sweep_parameter") not in names:
        ss.sweep_parameter = "budget"
        ss.sweep_from, ss.sweep_to = logic.sweep_range(scenario, "budget")
    st.selectbox("Setting to vary", list(names), format_func=names.get, key="sweep_parameter",
                 on_change=_range_for, args=(scenario,))
    left, middle, right = st.columns(3)
    left.number_input("From", key="sweep_from", format="%.6g")
    middle.number_input("To", key="sweep_to", format="%.6g")
    ss.setdefault("sweep_points", 5)
    right.number_input("Points", min_value=2, max_value=logic.MAX_SWEEP_POINTS, step=1, key="sweep_points")
    if st.button("Run the sweep", key="sweep_run"):
        _run(scenario, cache.Key.of(current.path, locked, [option]))
    result = ss.get("sweep_result")
    if result:
        _show(result)


def _run(scenario, key) -> None:
    parameter = ss.sweep_parameter
    try:
        values = logic.sweep_values(float(ss.sweep_from), float(ss.sweep_to), int(ss.sweep_points))
    except ScenarioError as exc:
        st.error(md(str(exc)))
        return
    bar = st.progress(0.0, text=f"Solving {len(values)} points ...")

    def factory(total: int, already: int):
        done = [already]

        def tick(n: int | None) -> None:
            if n is not None:
                done[0] += n
                bar.progress(min(done[0] / max(total, 1), 1.0), text=f"{done[0]} of {total} points solved")

        return tick

    try:
        table = logic.run_small_sweep(scenario, parameter, values, progress=factory)
    except AllocatorError as exc:
        bar.empty()
        st.error(md(str(exc)))
        return
    bar.progress(1.0, text=f"{len(values)} points solved")
    ss.sweep_result = {"parameter": parameter, "table": table, "option": scenario.name}


def _show(result: dict) -> None:
    table, parameter = result["table"], result["parameter"]
    with st.container(key="sweep_result"):
        lines = logic.sweep_lines(table, parameter, MEASURES)
        failed = table[table["status"] != "ok"].drop_duplicates("point")
        ok = table.loc[table["status"] == "ok", "point"].nunique()
        st.markdown(md(f"{ok} of {table['point'].nunique()} points solved, varying {parameter}."))
        columns = st.columns(2)
        for k, measure in enumerate(lines.columns):
            with columns[k % 2]:
                st.caption(md(measure_name(measure)))
                st.line_chart(lines[[measure]], y_label=measure_name(measure))
        if len(failed):
            st.warning(md(f"{len(failed)} points could not be solved:"))
            st.dataframe(failed[[parameter, "status", "reason"]], hide_index=True)
        with st.expander("Every point and measure"):
            st.dataframe(table, hide_index=True)


# -- taking it away ----------------------------------------------------------------------------------
def takeaway_view(current: Loaded, option: dict, locked) -> None:
    saved = ss.get("saved_options", [])
    options = saved or [option]
    what = (f"the {len(saved)} saved options" if saved else f"the current rules ('{option['name']}'; save options "
            "to take several)")
    st.markdown(md(f"The downloads hold {what}."))
    key = cache.Key.of(current.path, locked, options)
    solved = cache.solved(key)
    if solved.error:
        show_error(solved, "export_error")
    else:
        _downloads(current, key, options, locked)
    _settings(current, option, locked)


def _downloads(current: Loaded, key, options: list[dict], locked) -> None:
    small = current.base.n_areas * current.base.n_services <= 20_000
    explain = st.checkbox("Explain each option in the reports (the waterfall and the price of each rule: "
                          "one more solve per rule)", value=small, key="export_explain")
    if st.button("Prepare the downloads", key="export_prepare"):
        with st.spinner("Solving and writing the reports ..."):
            ss.export = {"key": (key, explain), "files": _files(current, key, options, locked, explain)}
    ready = ss.get("export")
    if not ready or ready["key"] != (key, explain):
        return
    files = ready["files"]
    if "error" in files:
        st.error(md(files["error"]))
        return
    for label, name, mime, widget in (
            ("The finance workbook (XLSX)", "workbook", XLSX, "download_xlsx"),
            ("The report (HTML)", "report", "text/html", "download_html"),
            ("The brief (HTML, prints on one or two pages)", "brief_html", "text/html", "download_brief_html"),
            ("The brief (Markdown text)", "brief_md", "text/markdown", "download_brief_md"),
            ("The scenario folder with these options (zip)", "folder", "application/zip", "download_zip")):
        file_name, data = files[name]
        st.download_button(label, data, file_name, mime=mime, key=widget)
    st.caption("Unzip the folder and run `allocator compare FOLDER`: it solves these options as the app did.")


def _files(current: Loaded, key, options: list[dict], locked, explain: bool) -> dict:
    """Every download's (file name, bytes), or {'error': message}."""
    from allocator.reports.html import render_brief_html, render_html
    from allocator.reports.workbook import workbook_bytes

    solved = cache.solved(key, explain=explain)
    if solved.error:
        return {"error": solved.error}
    data, manifest = solved.data, export.report_manifest(solved.comparison, explain)
    stem = safe_stem(current.base.name, lower=True, fallback="scenario")[:40]
    try:
        base = logic.with_locked(current.base, locked) if locked is not None else current.base
        folder = export.folder_zip(current.path, base, options)
    except (AllocatorError, OSError) as exc:
        return {"error": f"The scenario folder could not be written: {exc}"}
    return {"workbook": (f"{stem}-report.xlsx", workbook_bytes(data, manifest)),
            "report": (f"{stem}-report.html", render_html(data, manifest).encode("utf-8")),
            "brief_html": (f"{stem}-brief.html", render_brief_html(data, manifest).encode("utf-8")),
            "brief_md": (f"{stem}-brief.md", export.brief_markdown(data, manifest).encode("utf-8")),
            "folder": folder}


def _settings(current: Loaded, option: dict, locked) -> None:
    st.subheader("Settings")
    st.caption("The scenario, the rules and the saved options, to put the app back as it is now (the address "
               "in the browser keeps them too).")
    state = logic.State(scenario=current.ref, rules=option, options=ss.get("saved_options", []), locked=locked)
    st.download_button("Download the settings (JSON)", logic.state_json(state).encode("utf-8"),
                       export.settings_file_name(current.base.name), mime="application/json",
                       key="download_settings")
    file = st.file_uploader("Load settings saved from the app (JSON)", type=["json"], key="settings_upload")
    if file is not None and file.file_id != ss.get("settings_done"):
        ss.settings_done = file.file_id
        try:
            state = logic.read_state(file.getvalue(), f"the settings file '{file.name}'")
        except ScenarioError as exc:
            ss.settings_error = str(exc)
        else:
            ss.pop("settings_error", None)
            other = state.scenario and state.scenario != current.ref  # the settings of another scenario
            if not other or sidebar.choose(str(resolve(state.scenario)), state.scenario, "settings_error"):
                ss.pending = state
            st.rerun()
    if ss.get("settings_error"):
        st.error(md(ss.settings_error))
