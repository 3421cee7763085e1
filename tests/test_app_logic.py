"""The web app's logic without Streamlit: rules as options, the command line's messages, safe
uploads, the exported folder that `allocator compare` solves as the app did, the state in the URL."""

from __future__ import annotations

import io
import math
import stat
import tomllib
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import allocator
from allocator.app import export, logic, uploads
from allocator.cli import main as cli
from allocator.errors import InfeasibleBudgetError, InfeasibleError, ScenarioError
from allocator.scenario.bundled import resolve

QUICKSTART = resolve("quickstart")


@pytest.fixture(scope="module")
def base():
    return allocator.load(QUICKSTART)


def problems(exc: ScenarioError) -> list[str]:
    return [p.message for p in exc.problems]


# -- rules and options ------------------------------------------------------------------------
def test_the_rules_of_a_scenario_make_an_option_with_no_changes(base):
    assert logic.option_of(base, logic.rules_of(base), "As loaded") == {"name": "As loaded"}
    s = logic.scenario_for(base, {"name": "As loaded"})
    assert s.budget_gbp == base.budget_gbp and np.array_equal(s.floor, base.floor)


def test_an_option_holds_only_what_changed_and_reads_back_as_the_same_rules(base):
    rules = logic.rules_of(base)
    changed = replace(rules, budget_gbp=120e6, objective="fair-share", pace=(0.05, 0.5),
                      floors=(rules.floors[0] * 1.1, *rules.floors[1:]), caps=(math.inf, *rules.caps[1:]),
                      min_slopes=(0.01, *rules.min_slopes[1:]), sii_reduction=0.01)
    option = logic.option_of(base, changed, "Changed")
    sid = base.service_ids[0]
    assert option == {"name": "Changed", "total_gbp": 120e6, "objective": "fair-share", "sii_reduction": 0.01,
                      "pace_of_change": {"max_decrease": 0.05, "max_increase": 0.5},
                      "floors": {sid: rules.floors[0] * 1.1}, "caps": {sid: "none"}, "min_slope": {sid: 0.01}}
    assert logic.rules_from_option(base, option) == changed
    s = logic.scenario_for(base, option)
    assert (s.budget_gbp, s.objective, s.pace, s.sii_reduction) == (120e6, "fair-share", (0.05, 0.5), 0.01)
    assert s.cap[0] == math.inf and s.floor[0] == rules.floors[0] * 1.1


def test_a_percentage_typed_back_as_a_fraction_is_no_change(base):
    rules = replace(logic.rules_of(base), pace=(5.000000000000001 / 100, 0.15))
    assert "pace_of_change" not in logic.option_of(base.with_(pace=(0.05, 0.15)), rules, "x")


def test_the_services_table_gives_floors_caps_and_slopes(base):
    rules = logic.rules_of(base)
    frame = logic.services_frame(base, rules)
    assert logic.with_services(rules, frame) == rules
    frame.loc[0, "cap_units_per_head"] = None
    frame.loc[1, "floor_units_per_head"] = None
    edited = logic.with_services(rules, frame)
    assert math.isinf(edited.caps[0]) and math.isnan(edited.floors[1])
    with pytest.raises(ScenarioError) as caught:
        logic.scenario_for(base, logic.option_of(base, edited, "Blank floor"))
    assert problems(caught.value) == [(f"[[option]] 'Blank floor': 'floors' for '{base.service_ids[1]}': "
                                       "expected a number >= 0, got nan")]


def _folder_with_option(tmp_path: Path, option: dict) -> Path:
    """The quickstart as a folder of its own with one [[option]] block: what the CLI reads."""
    files = export.folder_files(QUICKSTART, allocator.load(QUICKSTART), [option])
    folder = tmp_path / "scenario"
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize(("option", "exit_code"), [
    ({"name": "Negative", "total_gbp": -5.0}, 2),
    ({"name": "Unknown", "objective": "most-votes"}, 2),
    ({"name": "Bad cap", "caps": {"health_visiting": -1.0}}, 2),
    ({"name": "Cap below floor", "caps": {"health_visiting": 0.1}}, 2),
    ({"name": "Too small", "total_gbp": 1e6}, 1),
])
def test_the_rules_are_refused_with_the_command_lines_messages(base, tmp_path, option, exit_code):
    with pytest.raises(ScenarioError) as caught:
        logic.scenario_for(base, option)
    assert isinstance(caught.value, InfeasibleError) == (exit_code == 1)
    folder = _folder_with_option(tmp_path, {"name": "Fine"})
    manifest = folder / "scenario.toml"
    manifest.write_text(manifest.read_text() + "\n" + export.toml_text({"option": [option]}))
    run = CliRunner().invoke(cli, ["compare", str(folder), "--no-explain"])
    assert run.exit_code == exit_code, run.output
    said = " ".join(run.output.split())
    for message in problems(caught.value):
        assert " ".join(message.split()) in said


def test_an_infeasible_budget_says_the_minimum_budget(base):
    with pytest.raises(InfeasibleBudgetError) as caught:
        logic.scenario_for(base, {"name": "Tiny", "total_gbp": 1e6})
    assert "the minimum feasible budget is £" in str(caught.value)
    solved = logic.solve(base, None, [{"name": "Tiny", "total_gbp": 1e6}])
    assert solved.infeasible and solved.data is None and "minimum feasible budget" in solved.error


def test_locked_lines_are_read_as_the_loader_reads_a_locked_table(base, tmp_path):
    area, service = base.area_ids[0], base.service_ids[0]
    rows = [[area, service, 2e6], ["E99999999", service, 1.0], [area, "*", 5.0]]
    with pytest.raises(ScenarioError) as app:
        logic.with_locked(base, rows)
    folder = _folder_with_option(tmp_path, {"name": "Fine"})
    (folder / "locked.csv").write_text("area_id,service_id,spend_gbp\n"
                                       + "".join(f"{a},{s},{v!r}\n" for a, s, v in rows))
    manifest = folder / "scenario.toml"
    manifest.write_text(manifest.read_text().replace('baseline = "baseline.csv"',
                                                     'baseline = "baseline.csv"\nlocked = "locked.csv"'))
    with pytest.raises(ScenarioError) as loader:
        allocator.load(folder)
    def where(exc):
        return [(p.row, p.column, p.message, p.expected, p.found) for p in exc.problems]

    assert where(app.value) == where(loader.value)
    locked = logic.with_locked(base, [[area, service, 2e6], [area, base.service_ids[1], None]])
    assert locked.locked[0, 0] == 2e6 and locked.locked[0, 1] == base.baseline[0, 1]
    assert logic.locked_rows(logic.locked_frame(logic.locked_rows_of(locked))) == logic.locked_rows_of(locked)


# -- uploads ----------------------------------------------------------------------------------------
def _zip(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def _refused(data: bytes, root: Path, name: str = "scenario.zip") -> str:
    with pytest.raises(ScenarioError) as caught:
        uploads.accept(name, data, root)
    return str(caught.value)


def _only_inside(root: Path, tmp_path: Path) -> None:
    outside = {p for p in tmp_path.rglob("*") if root not in p.parents and p != root}
    assert outside == set(), outside


@pytest.mark.parametrize(("members", "links", "said"), [
    ({"../x.csv": b"a"}, None, "leads outside the folder ('..')"),
    ({"scenario/../../x.csv": b"a"}, None, "leads outside the folder ('..')"),
    ({"/etc/cron.d/x": b"a"}, None, "has an absolute path"),
    ({"C:/x.csv": b"a"}, None, "has an absolute path"),
    ({"a\\..\\x.csv": b"a"}, None, "has a backslash"),
    ({"scenario.toml": b"[scenario]"}, {"areas.csv": "/etc/passwd"}, "is a symbolic link"),
])
def test_a_zip_with_an_unsafe_member_is_refused_and_nothing_is_written(tmp_path, members, links, said):
    root = tmp_path / "session"
    root.mkdir()
    assert said in _refused(_zip(members, links), root)
    assert [p for p in root.rglob("*") if p.is_file()] == []
    _only_inside(root, tmp_path)


def test_a_zip_of_too_many_files_is_refused(tmp_path):
    data = _zip({f"f{k}.csv": b"" for k in range(uploads.MAX_ZIP_FILES + 1)})
    assert f"holds {uploads.MAX_ZIP_FILES + 1:,} files, more than the {uploads.MAX_ZIP_FILES:,}" in _refused(data, tmp_path)


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    buffer = io.BytesIO()
    block = bytes(1 << 20)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive, \
            archive.open("areas.csv", "w", force_zip64=True) as member:
        for _ in range(uploads.MAX_ZIP_BYTES // len(block) + 1):
            member.write(block)
    data = buffer.getvalue()
    assert len(data) < 2_000_000  # highly compressible: a small upload, a huge unpacking
    assert "when unzipped, more than the" in _refused(data, tmp_path)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_an_upload_over_50_mb_is_refused_unread(tmp_path):
    said = _refused(b"PK" + bytes(uploads.MAX_UPLOAD_BYTES), tmp_path, "huge.xlsx")
    assert "the upload 'huge.xlsx'" in said and "more than the 50 MB the app takes" in said


def test_an_upload_that_is_not_a_workbook_or_a_zip_is_refused(tmp_path):
    assert "cannot be read as an XLSX workbook" in _refused(b"not a workbook", tmp_path, "book.xlsx")
    assert "cannot be read as a zip archive" in _refused(b"not a zip", tmp_path, "folder.zip")
    assert "expected a scenario workbook (.xlsx" in _refused(b"x", tmp_path, "script.py")


def test_a_manifest_naming_files_outside_the_upload_is_refused(tmp_path):
    manifest = (QUICKSTART / "scenario.toml").read_text()  # models = "../../models": outside the zip
    tables = {n: (QUICKSTART / n).read_bytes() for n in ("areas.csv", "services.csv", "baseline.csv")}
    said = _refused(_zip({"quickstart/scenario.toml": manifest.encode(), **{f"quickstart/{k}": v
                                                                          for k, v in tables.items()}}), tmp_path)
    assert "[scenario] models = '../../models' points outside the upload" in said
    evil = manifest.replace('areas = "areas.csv"', 'areas = "../../../etc/passwd"')
    assert "[tables] areas = '../../../etc/passwd' points outside" in _refused(
        _zip({"scenario.toml": evil.encode()}), tmp_path)


def test_an_exported_folder_uploads_as_a_zip_and_loads(base, tmp_path):
    name, data = export.folder_zip(QUICKSTART, base, [{"name": "Bigger", "total_gbp": 110e6}])
    root = uploads.session_folder()
    try:
        path = uploads.accept(name, data, root)
        assert root in path.parents
        loaded = allocator.load(path)
        assert [o.name for o in loaded.options] == ["Bigger"]
        assert np.array_equal(loaded.need, base.need)
    finally:
        import shutil

        shutil.rmtree(root)


def test_a_bad_upload_says_the_validators_message_with_the_uploads_name(tmp_path):
    services = (QUICKSTART / "services.csv").read_text().replace(",100.00,", ",\"12,5\",", 1)
    manifest = (QUICKSTART / "scenario.toml").read_text().replace('models = "../../models"', 'models = "bundled"')
    data = _zip({"qs/scenario.toml": manifest.encode(), "qs/services.csv": services.encode(),
                 "qs/areas.csv": (QUICKSTART / "areas.csv").read_bytes(),
                 "qs/baseline.csv": (QUICKSTART / "baseline.csv").read_bytes()})
    path = uploads.accept("mine.zip", data, tmp_path)
    with pytest.raises(ScenarioError) as caught:
        allocator.load(path)
    shown = uploads.shown_text(str(caught.value), tmp_path, "mine.zip")
    assert str(tmp_path) not in shown and "[mine.zip]/qs/services.csv" in shown


# -- the exported folder ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["quickstart", "england-la"])
def test_the_exported_folder_compares_to_the_same_allocations(tmp_path, name):
    source = resolve(name)
    base = allocator.load(source)
    rules = logic.rules_of(base)
    options = [logic.option_of(base, replace(rules, budget_gbp=rules.budget_gbp * 1.07), "Bigger budget"),
               logic.option_of(base, replace(rules, objective="fair-share", pace=None,
                                             floors=tuple(f * 1.05 for f in rules.floors),
                                             caps=(math.inf, *rules.caps[1:])), "Fair share, higher floors")]
    locked = [[base.area_ids[1], base.service_ids[0], float(base.baseline[1, 0]) * 1.02]]
    shown = logic.solve(base, locked, options)
    assert shown.error is None
    file_name, data = export.folder_zip(source, logic.with_locked(base, locked), options)
    zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path)
    folder = tmp_path / file_name.removesuffix(".zip")
    again = allocator.compare(folder, explain=False)
    assert again.names == shown.comparison.names
    for a, b in zip(again.results, shown.comparison.results):
        assert np.array_equal(a.allocation.spend, b.allocation.spend)
    manifest = tomllib.loads((folder / "scenario.toml").read_text())
    assert [o["name"] for o in manifest["option"]] == ["Bigger budget", "Fair share, higher floors"]


def test_toml_text_reads_back_as_the_manifest():
    for name in ("quickstart", "england-la", "england-lsoa"):
        data = tomllib.loads((resolve(name) / "scenario.toml").read_text())
        assert tomllib.loads(export.toml_text(data)) == data
    odd = {"scenario": {"name": 'Line\nbreak "quoted" \x7f \\ é'}, "option": [{"name": "a.b", "floors": {"a-b": 1.5},
                                                                             "caps": {"x y": "none"}}]}
    assert tomllib.loads(export.toml_text(odd)) == odd


# -- the state: URL and settings file ----------------------------------------------------------------
def test_the_state_survives_the_url_and_the_settings_file():
    state = logic.State(scenario="quickstart", rules={"name": "Mine", "total_gbp": 1.2e8},
                        options=[{"name": "A"}, {"name": "B", "objective": "fair-share", "caps": {"x": "none"}}],
                        locked=[["E06000047", "drug_alcohol", 12.5], ["*", "falls_prevention", None]])
    params = logic.query_params(state)
    assert set(params) == {"scenario", "rules", "options", "locked"}
    assert all(isinstance(v, str) for v in params.values())
    assert logic.state_from_params(params) == state
    assert logic.read_state(logic.state_json(state)) == state
    assert logic.state_from_params({}) is None
    assert logic.state_from_params({"rules": "{not json"}) is None


def test_long_locked_lines_stay_out_of_the_url():
    state = logic.State(scenario=None, rules={"name": "x"}, options=[],
                        locked=[[f"E{k:08d}", "s", 1.0] for k in range(1000)])
    assert set(logic.query_params(state)) == {"rules"}


@pytest.mark.parametrize(("text", "said"), [
    ("[]", "not a settings file of the app"),
    ('{"allocator_app": 1, "rules": [], "options": []}', "'rules': expected an object"),
    ('{"allocator_app": 1, "rules": {}, "options": [], "locked": [["a", "b", "c"]]}', "'locked': expected"),
    ("{", "is not valid JSON"),
])
def test_a_settings_file_that_is_not_one_is_refused(text, said):
    with pytest.raises(ScenarioError, match=said):
        logic.read_state(text)


def test_the_scenario_given_on_the_command_line():
    assert logic.scenario_argument(["main.py", "--scenario", "/x/y"]) == "/x/y"
    assert logic.scenario_argument(["main.py", "--scenario=england-la"]) == "england-la"
    assert logic.scenario_argument(["pytest", "-q", "-n", "auto"]) is None


# -- the sweep and the text --------------------------------------------------------------------------
def test_a_small_sweep_reports_its_progress(base):
    assert logic.sweep_values(90e6, 110e6, 3) == [90e6, 100e6, 110e6]
    for bad in (1, 51, 2.5):
        with pytest.raises(ScenarioError, match="points"):
            logic.sweep_values(0, 1, bad)
    ticks = []

    def factory(total, already):
        ticks.append(("start", total, already))
        return ticks.append

    table = logic.run_small_sweep(base, "budget", [90e6, 100e6, 110e6], progress=factory)
    assert ticks[0] == ("start", 3, 0) and sum(t for t in ticks[1:] if isinstance(t, int)) == 3
    lines = logic.sweep_lines(table, "budget", ["sii_outcome", "total_gain"])
    assert lines.index.tolist() == [90e6, 100e6, 110e6] and list(lines.columns) == ["sii_outcome", "total_gain"]
    assert set(logic.sweep_parameters(base)) >= {"budget", "floor_scale", f"floor.{base.service_ids[0]}"}
    assert "pace.max_decrease" in logic.sweep_parameters(base.with_(pace=(0.05, 0.5)))


def test_names_from_the_input_are_shown_as_text():
    shown = logic.md("- <img src=x onerror=alert(1)> [link](http://x) $\\pi$ **b**")
    assert shown.startswith("- ") and "\\<img" in shown and "\\>" in shown
    assert "\\[link\\]" in shown and "\\$" in shown and "\\*\\*b\\*\\*" in shown
    assert logic.md("plain text") == "plain text"


def test_shared_on_a_network_the_url_opens_no_folder_of_the_machine():
    from allocator.app import logic

    assert logic.shared({"ALLOCATOR_APP_SHARED": "1"}) and not logic.shared({})
    bundled = {"quickstart", "england-la"}
    assert not logic.url_scenario_allowed("/home/someone/secret", None, bundled, is_shared=True)
    assert logic.url_scenario_allowed("/srv/plan", "/srv/plan", bundled, is_shared=True)  # the one given to the CLI
    assert logic.url_scenario_allowed("england-la", None, bundled, is_shared=True)
    assert logic.url_scenario_allowed("/home/someone/plan", None, bundled, is_shared=False)  # local: as before
