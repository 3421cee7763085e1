"""The web app's pages, run by Streamlit's AppTest (no browser): choose a scenario, change the
rules and see the brief follow, save and compare options, sweep, the infeasible and the bad
upload's messages, the state kept in the address. tests/test_app_browser.py drives the same app
in Chromium."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="the web app needs the 'app' extra: pip install 'allocator[app]'")
from streamlit.testing.v1 import AppTest

MAIN = Path(__file__).resolve().parent.parent / "allocator" / "app" / "main.py"


def start(**params: str) -> AppTest:
    """The app on its first run, with these query parameters in the address (a reload)."""
    at = AppTest.from_file(str(MAIN), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def text(at: AppTest, key: str) -> str:
    """Everything written in the container ``key``."""
    block = at.get_by_key(key)
    return "\n".join(str(getattr(node, "value", "")) for node in block
                     if getattr(node, "type", "") in ("markdown", "error", "warning", "caption", "subheader"))


def table(at: AppTest, key: str):
    """The table shown in the container ``key``, as a DataFrame."""
    return at.get_by_key(key).dataframe[0].value


def plain(markdown: str) -> str:
    return markdown.replace("\\", "")


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_the_quickstart_answers_and_the_brief_follows_the_budget():
    at = start()
    no_exceptions(at)
    assert at.number_input(key="budget").value == 100e6
    before = plain(text(at, "brief"))
    assert "The allocation of £100.0m across 12 areas and 3 services" in before
    assert "Option 1" in before
    assert len(table(at, "areas_table")) == 12
    assert any("<svg" in m.value for m in at.markdown)  # the map
    at.number_input(key="budget").set_value(120e6).run()
    no_exceptions(at)
    after = plain(text(at, "brief"))
    assert "The allocation of £120.0m" in after and after != before
    assert json.loads(at.query_params["rules"]) == {"name": "Option 1", "total_gbp": 120e6}
    at.text_input(key="find_area").set_value("sunderland").run()
    assert table(at, "areas_table")["Name"].tolist() == ["Sunderland"]


def test_an_infeasible_budget_says_the_minimum_budget_and_bad_rules_the_checkers_message():
    at = start()
    at.number_input(key="budget").set_value(1e6).run()
    no_exceptions(at)
    said = plain(text(at, "answer_error"))
    assert "No allocation meets these rules" in said and "the minimum feasible budget is £" in said
    at.number_input(key="budget").set_value(-5.0).run()
    said = plain(text(at, "answer_error"))
    assert "[[option]] 'Option 1': 'total_gbp': expected a number > 0, got -5.0" in said


def test_two_saved_options_are_compared_side_by_side():
    at = start()
    declared = [o["name"] for o in at.session_state["saved_options"]]
    assert declared == ["Health gain", "Fair share", "Health gain, steeper need slope"]  # the manifest's
    assert "3 options for £100.0m" in plain(text(at, "compare_brief"))
    for _ in declared:
        at.button(key="remove_option_0").click().run()
    assert at.session_state["saved_options"] == []
    at.button(key="save_option").click().run()
    assert at.text_input(key="option_name").value == "Option 2"
    at.selectbox(key="objective").set_value("fair-share").run()
    at.button(key="save_option").click().run()
    no_exceptions(at)
    assert [o["name"] for o in at.session_state["saved_options"]] == ["Option 1", "Option 2"]
    brief = plain(text(at, "compare_brief"))
    assert "2 options for £100.0m" in brief and "Option 1" in brief and "Option 2" in brief
    measures = table(at, "measures_table")
    assert {"Option 1", "Option 2"} <= set(measures.columns)
    saved = json.loads(at.query_params["options"])
    assert saved == [{"name": "Option 1"}, {"name": "Option 2", "objective": "fair-share"}]


def test_a_reload_puts_back_the_rules_and_options_from_the_address():
    at = start(scenario="quickstart", rules=json.dumps({"name": "Mine", "total_gbp": 110e6}),
               options=json.dumps([{"name": "Saved", "objective": "fair-share"}]))
    no_exceptions(at)
    assert at.number_input(key="budget").value == 110e6
    assert at.text_input(key="option_name").value == "Mine"
    assert "The allocation of £110.0m" in plain(text(at, "brief"))
    assert "Saved" in plain(text(at, "compare_brief"))


def test_a_three_point_sweep_runs_with_a_progress_bar():
    at = start()
    at.number_input(key="sweep_from").set_value(90e6)
    at.number_input(key="sweep_to").set_value(110e6)
    at.number_input(key="sweep_points").set_value(3)
    at.button(key="sweep_run").click().run()
    no_exceptions(at)
    assert at.progress and at.progress[-1].value == 100
    assert "3 of 3 points solved, varying budget" in plain(text(at, "sweep_result"))
    assert at.session_state["sweep_result"]["table"]["budget"].unique().tolist() == [90e6, 100e6, 110e6]


def test_the_price_of_each_rule_is_worked_out_when_asked():
    at = start()
    at.button(key="prices_button").click().run()
    no_exceptions(at)
    rules = table(at, "prices_table")
    assert "universal floors" in rules["Rule"].tolist()
    assert "Rules that bind, and what they cost" in plain(text(at, "brief"))


def _bad_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../escape.toml", "x")
    return buffer.getvalue()


def test_a_bad_upload_shows_the_validators_message_and_keeps_the_scenario():
    at = start()
    at.radio(key="source").set_value("upload").run()
    at.file_uploader(key="scenario_upload").upload("evil.zip", _bad_zip(), "application/zip")
    at.run()
    no_exceptions(at)
    said = plain("\n".join(e.value for e in at.sidebar.error))
    assert "the upload 'evil.zip': member '../escape.toml' leads outside the folder ('..')" in said
    at.file_uploader(key="scenario_upload").set_value(("book.xlsx", b"not a workbook", "application/octet-stream"))
    at.run()
    said = plain("\n".join(e.value for e in at.sidebar.error))
    assert "the upload 'book.xlsx': cannot be read as an XLSX workbook" in said
    assert "The allocation of £100.0m" in plain(text(at, "brief"))  # the quickstart is still there


def test_the_downloads_are_prepared_and_the_settings_file_loads_back():
    at = start()
    at.number_input(key="budget").set_value(105e6).run()
    at.button(key="export_prepare").click().run()
    no_exceptions(at)
    keys = {b.key for b in at.download_button}
    assert {"download_xlsx", "download_html", "download_brief_html", "download_brief_md", "download_zip",
            "download_settings"} <= keys
    settings = {"allocator_app": 1, "scenario": "quickstart", "rules": {"name": "From file", "total_gbp": 95e6},
                "options": [{"name": "A"}], "locked": None}
    at.file_uploader(key="settings_upload").upload("s.json", json.dumps(settings).encode(), "application/json")
    at.run()
    no_exceptions(at)
    assert at.number_input(key="budget").value == 95e6
    assert "The allocation of £95.0m" in plain(text(at, "brief"))


def test_the_tables_of_floors_and_locked_lines_change_the_rules():
    at = start()
    at.session_state["services_table"] = {"edited_rows": {"0": {"floor_units_per_head": 0.7}}, "added_rows": [],
                                          "deleted_rows": []}
    at.run()
    no_exceptions(at)
    assert json.loads(at.query_params["rules"]) == {"name": "Option 1", "floors": {"health_visiting": 0.7}}
    at.session_state["locked_table"] = {"edited_rows": {}, "deleted_rows": [], "added_rows": [
        {"area_id": "E06000001", "service_id": "drug_alcohol", "spend_gbp": 9e7}]}
    at.run()
    said = plain(text(at, "answer_error"))
    assert "floors need £" in said and "locked lines £90.0m" in said and "minimum feasible budget" in said
    assert json.loads(at.query_params["locked"]) == [["E06000001", "drug_alcohol", 9e7]]
    at.session_state["locked_table"] = {"edited_rows": {}, "deleted_rows": [], "added_rows": [
        {"area_id": "NOWHERE", "service_id": "drug_alcohol", "spend_gbp": 1.0}]}
    at.run()
    said = plain(text(at, "answer_error"))
    assert "the locked lines (the app's table), row 2 (data row 1), column 'area_id'" in said


def test_choosing_another_bundled_scenario_starts_its_rules_afresh():
    at = start()
    at.number_input(key="budget").set_value(120e6).run()
    at.selectbox(key="bundled_name").set_value("england-la").run()
    no_exceptions(at)
    assert at.number_input(key="budget").value == 3.6e9
    assert "The allocation of £3.60bn across 296 areas" in plain(text(at, "brief"))
    assert at.query_params["scenario"] == "england-la"


def test_an_uploaded_zip_or_a_typed_folder_becomes_the_scenario(tmp_path):
    import allocator
    from allocator.app import export
    from allocator.scenario.bundled import resolve

    quickstart = resolve("quickstart")
    name, data = export.folder_zip(quickstart, allocator.load(quickstart), [{"name": "Mine", "total_gbp": 9e7}])
    at = start()
    at.radio(key="source").set_value("upload").run()
    at.file_uploader(key="scenario_upload").upload(name, data, "application/zip")
    at.run()
    no_exceptions(at)
    assert not at.sidebar.error
    assert at.number_input(key="budget").value == 100e6  # the scenario's own; the option is one to compare
    assert "allocator-app-" in at.query_params["scenario"]
    at.radio(key="source").set_value("folder").run()
    at.text_input(key="folder_path").set_value(str(tmp_path / "nothing here"))
    at.button(key="folder_open").click().run()
    said = plain("\n".join(e.value for e in at.sidebar.error))
    assert "nothing here/scenario.toml: file not found: a scenario is a folder with a scenario.toml manifest" in said
    at.text_input(key="folder_path").set_value(str(quickstart))
    at.button(key="folder_open").click().run()
    assert not at.sidebar.error and at.query_params["scenario"] == str(quickstart)
