"""The app's sidebar: where the scenario comes from, and the rules (Streamlit).

The scenario is chosen from the bundled ones, a folder typed in, an upload (a workbook or a
zip of a folder) or built for a place; each is loaded, and so checked, before the app switches
to it, so a bad one leaves the current scenario in place and shows the loader's message. The
rules are form controls whose values make the current ``[[option]]`` block (`logic.option_of`).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from allocator.app import cache, export, logic, uploads
from allocator.choices import BUDGET_MODES, OBJECTIVES, PROPORTIONALITY
from allocator.errors import AllocatorError, ScenarioError
from allocator.scenario import Scenario
from allocator.scenario.bundled import bundled_scenarios, resolve

ss = st.session_state
DEFAULT_SCENARIO = "quickstart"
SOURCES = {"bundled": "A bundled scenario", "folder": "A folder on this computer",
           "upload": "Upload a workbook or a zip", "build": "Build one for a place in England"}
OBJECTIVE_HELP = {"health-gain": "Health gain: most modelled health for the money",
                  "fair-share": "Fair share: closest to need-weighted targets (NHS distance from target)",
                  "equity-weighted": "Equity-weighted health gain (inequality aversion epsilon)",
                  "level-up": "Level up: raise the worst-off groups' outcome as far as possible",
                  "maximin": "Maximin: the best possible outcome for the worst-off group"}
PROPORTIONALITY_HELP = {"monotone": "Monotone: more need, at least as much per head",
                        "proportional": "Proportional: per head in proportion to need",
                        "none": "None: no rule on intensity and need"}
MODE_HELP = {"exact": "Spend all of it", "at-most": "Spend at most this"}
PLACE_KINDS = {"district": "A district", "icb": "An Integrated Care Board", "region": "An NHS region",
               "england": "All of England"}
LEVELS = {"lsoa": "LSOAs (2021)", "ward": "Wards (2024)", "district": "Districts (2024)"}


@dataclass(frozen=True)
class Loaded:
    """The scenario the app works on."""

    path: str  # what `allocator.scenario.load` was given
    ref: str | None  # what the URL holds: a bundled name, or a folder (an upload's or a built one's while
    #                  the app runs)
    base: Scenario


# -- the session -----------------------------------------------------------------------------
def start() -> None:
    """First run of a session: the scenario and rules from the URL (a reload), else the command
    line's ``--scenario``, else the quickstart."""
    if ss.get("started"):
        return
    ss.started = True
    ss.saved_options = []
    state = logic.state_from_params({k: st.query_params[k] for k in st.query_params})
    names = bundled_scenarios()
    given = logic.scenario_argument(sys.argv)
    from_url = state.scenario if state and state.scenario else None
    if not logic.url_scenario_allowed(from_url, given, set(names), logic.shared()):
        from_url = None  # shared on a network: a visitor's URL opens no folder of this machine
    ref = from_url or given or DEFAULT_SCENARIO
    ref = bundled_name(ref, names)
    ss.source = "bundled" if ref in names else "folder"
    if ref in names:
        ss.bundled_name = ref
    else:
        ss.folder_path = ref
    if choose(str(resolve(ref)), ref, "scenario_error") and state is not None:
        ss.pending = state


def bundled_name(ref: str, names: dict[str, Path]) -> str:
    """A bundled scenario's name for its folder (`allocator app quickstart` passes the full path)."""
    try:
        found = Path(ref).resolve()
    except (OSError, ValueError):
        return ref
    return next((name for name, folder in names.items() if folder.resolve() == found), ref)


def session_folder() -> Path:
    """This session's temporary folder (made on first use)."""
    if not ss.get("tmp_folder"):
        ss.tmp_folder = str(uploads.session_folder())
    return Path(ss.tmp_folder)


def choose(path: str, ref: str | None, error_key: str, shown=None) -> bool:
    """Load the scenario at ``path``; on success make it the app's, else keep the one there is and
    put the loader's message under ``error_key``."""
    try:
        cache.scenario(path, logic.stamp(path))
    except AllocatorError as exc:
        ss[error_key] = shown(str(exc)) if shown else str(exc)
        return False
    except OSError as exc:
        ss[error_key] = f"{path}: cannot be read ({exc.strerror or exc})"
        return False
    ss.scenario_path, ss.scenario_ref = path, ref
    for key in ("scenario_error", "upload_error", "build_error", "build_warnings", "rules_for", "sweep_result",
                "prices_for", "export"):
        ss.pop(key, None)
    ss.saved_options = declared_options(path)
    return True


def declared_options(path: str) -> list[dict]:
    """The scenario's own ``[[option]]`` blocks (checked when it loaded): the options to start from."""
    try:
        blocks = export.source_manifest(path).get("option", [])
    except (AllocatorError, OSError):
        return []
    return [dict(b) for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []


def loaded() -> Loaded | None:
    """The scenario the app works on, or None (none could be loaded: the message is shown)."""
    path = ss.get("scenario_path")
    if not path:
        return None
    try:
        return Loaded(path=path, ref=ss.get("scenario_ref"), base=cache.scenario(path, logic.stamp(path)))
    except AllocatorError as exc:  # changed on disk since it was chosen
        ss.scenario_error = str(exc)
        return None


# -- choosing a scenario ------------------------------------------------------------------------
def scenario_chooser() -> None:
    st.header("Scenario")
    sources = [k for k in SOURCES if not (k == "folder" and logic.shared())]  # shared: no folders by name
    if ss.get("source") not in sources:
        ss.source = sources[0]
    source = st.radio("Where is the scenario?", sources, format_func=SOURCES.get, key="source")
    if source == "bundled":
        names = list(bundled_scenarios())
        if ss.get("bundled_name") not in names:  # not drawn last run: show the scenario loaded, if bundled
            ref = ss.get("scenario_ref")
            ss.bundled_name = ref if ref in names else DEFAULT_SCENARIO if DEFAULT_SCENARIO in names else names[0]
        st.selectbox("Bundled scenario", names, key="bundled_name", on_change=_bundled_changed)
    elif source == "folder":
        st.text_input("Folder (or scenario workbook, .xlsx)", key="folder_path",
                      help="A scenario folder with a scenario.toml, or a workbook, on the computer running the app.")
        if st.button("Open", key="folder_open") and ss.get("folder_path"):
            typed = str(ss.folder_path).strip()
            choose(str(resolve(typed)), typed, "scenario_error")
    elif source == "upload":
        _upload()
    else:
        _builder()
    if ss.get("scenario_error"):
        st.error(logic.md(ss.scenario_error))


def _bundled_changed() -> None:
    name = ss.bundled_name
    choose(str(resolve(name)), name, "scenario_error")


def _upload() -> None:
    file = st.file_uploader("Scenario workbook (.xlsx) or zip of a scenario folder", type=["xlsx", "zip"],
                            key="scenario_upload",
                            help="At most 50 MB. The workbook: `allocator template --xlsx FILE`, or the "
                                 "template below. A zip: a folder with scenario.toml, its tables and models.")
    st.download_button("Download the scenario template (XLSX)", cache.template_bytes(), "scenario-template.xlsx",
                       key="template_download",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if file is not None and file.file_id != ss.get("upload_done"):
        ss.upload_done = file.file_id
        ss.pop("upload_error", None)
        root = session_folder()

        def shown(text: str) -> str:
            return uploads.shown_text(text, root, file.name)

        try:
            uploads.check_size(file.name, file.size)  # before it is read into memory
            path = uploads.accept(file.name, file.getvalue(), root)
        except ScenarioError as exc:
            ss.upload_error = shown(str(exc))
        else:
            with st.spinner("Checking the upload ..."):
                choose(str(path), str(path), "upload_error", shown)
    if ss.get("upload_error"):
        st.error(logic.md(ss.upload_error))


def _builder() -> None:
    kind = st.selectbox("Place", list(PLACE_KINDS), format_func=PLACE_KINDS.get, key="build_kind")
    name = None
    if kind != "england":
        name = st.selectbox("Which one", cache.place_names(kind), key=f"build_place_{kind}")
    level = st.selectbox("Areas", list(LEVELS), format_func=LEVELS.get, key="build_level")
    budget = st.number_input("New scenario's budget (£; 0: its need-weighted share of £3.6bn)", min_value=0.0,
                             value=0.0, step=1e6, format="%.0f", key="build_budget")
    if st.button("Build the scenario", key="build_go"):
        ss.pop("build_error", None)
        from allocator.build.new import new_scenario
        from allocator.build.place import find

        try:
            with st.spinner("Building the scenario from national data ..."):
                place = find(kind, name or "England")
                out = uploads.new_folder(session_folder(), "built") / "scenario"
                written = new_scenario(out, place, level, budget=budget or None)
                if choose(str(out), str(out), "build_error"):
                    ss.build_warnings = list(written.warnings)
        except AllocatorError as exc:
            ss.build_error = str(exc)
        except OSError as exc:
            ss.build_error = f"the scenario could not be written ({exc.strerror or exc})"
    for warning in ss.get("build_warnings", []):
        st.warning(logic.md(warning))
    if ss.get("build_error"):
        st.error(logic.md(ss.build_error))


# -- the rules ----------------------------------------------------------------------------------
def fill_form(base: Scenario, rules: logic.Rules, name: str, locked: list[list] | None) -> None:
    """Put ``rules`` into the form's controls (before they are drawn in this run)."""
    ss.option_name = name
    ss.budget = float(rules.budget_gbp)
    ss.budget_mode, ss.objective, ss.proportionality = rules.budget_mode, rules.objective, rules.proportionality
    ss.tolerance = float(rules.tolerance)
    pace = rules.pace or base.pace or (0.05, 0.15)
    ss.pace_on = rules.pace is not None
    ss.pace_down, ss.pace_up = 100 * float(pace[0]), 100 * float(pace[1])
    ss.epsilon = float(rules.epsilon)
    ss.sii_on, ss.sii_reduction = rules.sii_reduction is not None, float(rules.sii_reduction or 0.0)
    ss.gap_on, ss.gap_reduction = rules.gap_reduction is not None, float(rules.gap_reduction or 0.0)
    ss.services_frame = logic.services_frame(base, rules)
    ss.locked_base = logic.locked_rows_of(base)
    ss.locked_frame = logic.locked_frame(ss.locked_base if locked is None else locked)
    for key in ("services_table", "locked_table"):
        ss.pop(key, None)


def prepare_form(current: Loaded) -> None:
    """Reset the form to a newly chosen scenario, then apply any pending state (the URL on a
    reload, a settings file, a saved option to load); a name for the next option."""
    key = f"{current.path}\n{logic.stamp(current.path)}"
    base = current.base
    if ss.get("rules_for") != key:
        ss.rules_for = key
        fill_form(base, logic.rules_of(base), "Option 1", None)
    state = ss.pop("pending", None)
    if state is not None:
        ss.pop("state_error", None)
        try:
            rules = logic.rules_from_option(base, {"name": "Option 1", **state.rules})
            fill_form(base, rules, str(state.rules.get("name") or "Option 1"), state.locked)
            for option in state.options:
                logic.checked(base, option)
            ss.saved_options = [dict(o) for o in state.options]
        except ScenarioError as exc:
            ss.state_error = f"The saved settings do not fit this scenario, so they were not all applied:\n{exc}"
    if "next_name" in ss:
        ss.option_name = ss.pop("next_name")


def rules_form(current: Loaded) -> tuple[dict, list[list] | None]:
    """Draw the rules; return the current option (``[[option]]`` keys) and the locked lines (None:
    the scenario's own)."""
    base = current.base
    st.header("Rules")
    st.text_input("Name of these rules", key="option_name", help="The option's name in the brief and comparisons.")
    st.number_input("Budget (£)", step=1e6, format="%.0f", key="budget",
                    help="The money to allocate, in pounds (120000000 or 1.2e8).")
    st.selectbox("Must all of it be spent?", list(BUDGET_MODES), format_func=MODE_HELP.get, key="budget_mode")
    objective = st.selectbox("Objective", list(OBJECTIVES), format_func=OBJECTIVE_HELP.get, key="objective")
    if objective == "equity-weighted":
        ss.setdefault("epsilon", float(base.epsilon))  # a control not drawn last run has lost its value
        st.number_input("Inequality aversion (epsilon)", min_value=0.0, step=0.5, key="epsilon")
    st.selectbox("Proportionality", list(PROPORTIONALITY), format_func=PROPORTIONALITY_HELP.get,
                 key="proportionality")
    st.number_input("Proportionality tolerance (fraction)", min_value=0.0, max_value=0.99, step=0.01,
                    format="%.3f", key="tolerance")
    no_baseline = base.baseline is None
    st.checkbox("Limit the pace of change against last year's spend", key="pace_on", disabled=no_baseline,
                help="Needs a baseline table." if no_baseline else None)
    if ss.get("pace_on"):
        pace = base.pace or (0.05, 0.15)
        ss.setdefault("pace_down", 100 * pace[0])
        ss.setdefault("pace_up", 100 * pace[1])
        left, right = st.columns(2)
        left.number_input("Largest fall (%)", min_value=0.0, max_value=100.0, step=1.0, key="pace_down")
        right.number_input("Largest rise (%)", min_value=0.0, step=1.0, key="pace_up")
    units = base.gradient.outcome_units
    with st.expander("Equity constraints"):
        st.checkbox("The SII must narrow by at least", key="sii_on")
        st.number_input(f"SII reduction ({units})", min_value=0.0, format="%.4f", key="sii_reduction",
                        disabled=not ss.get("sii_on"))
        st.checkbox("The gap, most against least deprived, must narrow by at least", key="gap_on")
        st.number_input(f"Gap reduction ({units})", min_value=0.0, format="%.4f", key="gap_reduction",
                        disabled=not ss.get("gap_on"))
    services, locked = _tables(base)
    rules = _rules_now(base, services)
    st.button("Save these rules as an option", key="save_option", on_click=_save, args=(base,))
    if ss.get("save_error"):
        st.error(logic.md(ss.save_error))
    elif ss.get("saved_note"):
        st.success(logic.md(ss.saved_note))
    return logic.option_of(base, rules, str(ss.option_name)), locked


def _tables(base: Scenario) -> tuple[pd.DataFrame, list[list] | None]:
    """The services table (floors, caps, slopes) and the locked lines, as edited."""
    with st.expander("Floors, caps and slopes by service", expanded=False):
        services = st.data_editor(
            ss.services_frame, key="services_table", hide_index=True, num_rows="fixed",
            disabled=["service_id", "service_name"],
            column_config={"service_id": "Service", "service_name": "Name",
                           "floor_units_per_head": st.column_config.NumberColumn("Floor (units/head)", format="%.6g"),
                           "cap_units_per_head": st.column_config.NumberColumn(
                               "Cap (units/head)", format="%.6g", help="Blank: no cap"),
                           "min_slope": st.column_config.NumberColumn("Min slope", format="%.6g")})
    with st.expander("Locked lines", expanded=False):
        st.caption("Lines whose spend is fixed: an area (or *), a service (or *), and the spend in £ "
                   "(blank: locked at last year's spend).")
        edited = st.data_editor(
            ss.locked_frame, key="locked_table", hide_index=True, num_rows="dynamic",
            column_config={"area_id": st.column_config.TextColumn("Area"),
                           "service_id": st.column_config.TextColumn("Service"),
                           "spend_gbp": st.column_config.NumberColumn("Spend (£)", format="%.2f")})
    rows = logic.locked_rows(edited)
    return services, (None if rows == ss.get("locked_base") else rows)


def _rules_now(base: Scenario, services: pd.DataFrame) -> logic.Rules:
    """The rules the form's controls hold now."""
    rules = logic.rules_of(base)
    pace = (_float(ss.get("pace_down")) / 100, _float(ss.get("pace_up")) / 100) if ss.get("pace_on") else None
    rules = logic.Rules(
        budget_gbp=_float(ss.get("budget")), budget_mode=ss.budget_mode, objective=ss.objective,
        proportionality=ss.proportionality, tolerance=_float(ss.get("tolerance")), pace=pace,
        epsilon=_float(ss.get("epsilon", rules.epsilon)),
        sii_reduction=_float(ss.get("sii_reduction")) if ss.get("sii_on") else None,
        gap_reduction=_float(ss.get("gap_reduction")) if ss.get("gap_on") else None,
        floors=rules.floors, caps=rules.caps, min_slopes=rules.min_slopes)
    return logic.with_services(rules, services)


def _float(value) -> float:
    return math.nan if value is None else float(value)


def _save(base: Scenario) -> None:
    """Save the current rules as an option (a callback: it runs before the next run draws the form)."""
    services = _edited(ss.services_frame, ss.get("services_table"))
    option = logic.option_of(base, _rules_now(base, services), str(ss.option_name))
    try:
        logic.checked(base, option)
    except ScenarioError as exc:
        ss.save_error = str(exc)
        return
    ss.pop("save_error", None)
    saved = [o for o in ss.get("saved_options", []) if o.get("name") != option["name"]]
    ss.saved_options = [*saved, option]
    taken = {o.get("name") for o in ss.saved_options}
    ss.next_name = next(f"Option {n}" for n in range(1, len(taken) + 2) if f"Option {n}" not in taken)
    ss.saved_note = f"Saved '{option['name']}': {len(ss.saved_options)} options to compare."


def _edited(frame: pd.DataFrame, edits) -> pd.DataFrame:
    """A fixed-rows table with a data editor's cell edits applied (what the editor returns)."""
    frame = frame.copy()
    for row, changes in ((edits or {}).get("edited_rows") or {}).items():
        for column, value in changes.items():
            frame.loc[frame.index[int(row)], column] = value
    return frame
