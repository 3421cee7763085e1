"""Hostile outputs (issue #10): every write goes through one output layer.

Inside --out, never over an input of the run or of the scenario, names from the input
made safe and unique, one command per folder at a time, all files at once or none, and
an operating-system error is one clear line with exit 2.  Three classes of cases:
outputs (bad --out, --output, --write-lp places; inputs as targets; corrupted saved
folders), names (options, scenarios and group columns that look like formulas, paths or
each other), concurrency (the folder lock).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
from conftest import DATA, edit
from hostile import expect, fingerprint, invoke, tiny_copy

import allocator.model.solver as solver_module
import allocator.reports.files as files
from allocator.reports.html import esc
from allocator.reports.markdown import md_text
from allocator.reports.outputs import neutralise
from allocator.reports.results import load

OPTIONS = '\n[[option]]\nname = "Health gain"\n\n[[option]]\nname = "Fair share"\nobjective = "fair-share"\n'
LE_TABLE = DATA / "life_expectancy_by_decile" / "LE_data.csv"


def one_line(outcome, *fragments: str) -> None:
    """The error is one line (after anything the command printed before it), saying all of ``fragments``."""
    last = outcome.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and all(f in last for f in fragments), outcome.output


def leftovers(folder: Path) -> list[str]:
    """Lock files and staging folders the output layer should never leave behind."""
    try:
        return sorted(p.name for p in Path(folder).glob(".allocator*")) if Path(folder).is_dir() else []
    except OSError:  # a name too long: nothing there
        return []


# -- the world: a scenario and an earlier output of each command -----------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("outputs")
    scenario = tiny_copy(root / "scenario")
    (scenario / "scenario.toml").write_text((scenario / "scenario.toml").read_text() + OPTIONS)
    table = root / "le.csv"
    table.write_text("".join(LE_TABLE.read_text().splitlines(keepends=True)[:21]))
    places = {"scenario": scenario, "table": table}
    for name, args in COMMANDS.items():
        places[name] = root / "earlier" / name
        assert invoke(*args(scenario, places[name])).code == 0, name
    places["saved"] = places["compare"]
    for name, args in FILE_COMMANDS.items():
        places[name] = root / "earlier" / f"{name}{FILE_SUFFIX[name]}"
        assert invoke(*args(places, places[name])).code == 0, name
    return places


COMMANDS = {  # commands that write a folder: their arguments, given the scenario and --out
    "run": lambda s, out: ["run", s, "--out", out, "-q"],
    "compare": lambda s, out: ["compare", s, "--out", out, "--no-explain", "--format", "md"],
    "sweep": lambda s, out: ["sweep", s, "--vary", "budget=90000,100000", "--workers", "1", "--out", out,
                             "-q", "--no-plots", "--resume"],
    "frontier": lambda s, out: ["frontier", s, "--points", "2", "--out", out],
}
FILE_COMMANDS = {  # commands that write one file: their arguments, given the world and the file
    "report": lambda w, target: ["report", w["saved"], "--format", "md", "--output", target],
    "gradient": lambda w, target: ["gradient", w["table"], "--out", target],
    "write-lp": lambda w, target: ["run", w["scenario"], "--write-lp", target, "-q"],
}
FILE_SUFFIX = {"report": ".md", "gradient": ".csv", "write-lp": ".lp"}
OPTION = {"report": "--output", "gradient": "--out", "write-lp": "--write-lp"}


def _failing(code: int, after: int = 0):
    """A low-level write that fails with ``code`` after ``after`` successful writes."""
    count = [0]
    real = files._write_bytes

    def write(path, data):
        count[0] += 1
        if count[0] > after:
            raise OSError(code, os.strerror(code), str(path))
        real(path, data)

    return write


def _break_writes(monkeypatch, code: int, after: int = 0) -> None:
    """Every write allocator makes fails: its own (the output layer) and PuLP's LP file."""
    failing = _failing(code, after)
    monkeypatch.setattr(files, "_write_bytes", failing)
    monkeypatch.setattr(solver_module, "write_lp", lambda lp, path: failing(path, b""))


def _hold_lock(folder: Path, request) -> None:
    """Hold the folder's output lock as another allocator command would."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / files.LOCK, "a+")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def release():
        (folder / files.LOCK).unlink(missing_ok=True)
        handle.close()

    request.addfinalizer(release)


def _earlier_copy(world, name: str, tmp_path: Path) -> Path:
    source = world[name]
    target = tmp_path / source.name
    (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    return target


# Each kind of bad place: (prepare(world, name, tmp_path, monkeypatch, request) -> place, what the message says)
def _a_file(world, name, tmp, mp, rq):
    (tmp / "a-file").write_text("not a folder")
    return tmp / "a-file", "is a file, not a folder"


def _a_folder(world, name, tmp, mp, rq):
    (tmp / f"a-folder{FILE_SUFFIX[name]}").mkdir()
    return tmp / f"a-folder{FILE_SUFFIX[name]}", "is a folder"


def _dev_null(world, name, tmp, mp, rq):
    return Path("/dev/null"), ("not a regular file" if name in FILE_COMMANDS else "is a file, not a folder")


def _too_long(world, name, tmp, mp, rq):
    return tmp / ("n" * 300 + FILE_SUFFIX.get(name, "")), "the name is too long"


def _inside_a_file(world, name, tmp, mp, rq):
    (tmp / "a-file").write_text("not a folder")
    return tmp / "a-file" / f"out{FILE_SUFFIX.get(name, '')}", "a-file"


def _full_disk(world, name, tmp, mp, rq):
    _break_writes(mp, errno.ENOSPC)
    return _earlier_copy(world, name, tmp), "the disk is full"


def _full_disk_later(world, name, tmp, mp, rq):
    _break_writes(mp, errno.ENOSPC, after=2)  # a few files written (staged) before the disk fills
    return _earlier_copy(world, name, tmp), "the disk is full"


def _read_only(world, name, tmp, mp, rq):
    _break_writes(mp, errno.EROFS)
    return _earlier_copy(world, name, tmp), "read-only"


def _denied(world, name, tmp, mp, rq):
    _break_writes(mp, errno.EACCES)
    return _earlier_copy(world, name, tmp), "permission denied"


def _locked(world, name, tmp, mp, rq):
    place = _earlier_copy(world, name, tmp)
    _hold_lock(place if name in COMMANDS else place.parent, rq)
    return place, "another allocator command is writing to"


FOLDER_KINDS = {"a file": _a_file, "/dev/null": _dev_null, "a name too long": _too_long,
                "inside a file": _inside_a_file, "a full disk": _full_disk,
                "a disk that fills": _full_disk_later, "read-only": _read_only,
                "permission denied": _denied}
FILE_KINDS = {"a folder": _a_folder, "/dev/null": _dev_null, "a name too long": _too_long,
              "inside a file": _inside_a_file, "a full disk": _full_disk, "read-only": _read_only,
              "permission denied": _denied}


def _unchanged(world, name: str, place: Path) -> list[Path]:
    """What must be as it was: the inputs, and the earlier output (a sweep's store keeps points)."""
    keep = [world["scenario"], world["table"], world["saved"]]
    try:
        if not place.exists():
            return keep
    except OSError:  # a name too long
        return keep
    if name == "sweep" and place.is_dir():
        return keep + [p for p in place.iterdir() if p.name != "sweep.sqlite"]
    return keep + [place]


# -- outputs: every command that writes x every bad place ------------------------------------
@pytest.mark.parametrize("kind", FOLDER_KINDS)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_out_folder_is_one_clear_line_and_exit_2(world, command, kind, tmp_path, monkeypatch, request):
    place, reason = FOLDER_KINDS[kind](world, command, tmp_path, monkeypatch, request)
    shown = str(place)[:60]  # the place is named (a name too long, in full)
    outcome = expect(2, COMMANDS[command](world["scenario"], place), shown, reason,
                     unchanged=_unchanged(world, command, place))
    one_line(outcome, shown, reason, "--out")  # and what to do with it
    assert leftovers(place) == []


@pytest.mark.parametrize("command", COMMANDS)
def test_a_failed_write_leaves_no_new_folder(world, command, tmp_path, monkeypatch):
    _break_writes(monkeypatch, errno.ENOSPC, after=1)
    out = tmp_path / "new" / "out"
    expect(2, COMMANDS[command](world["scenario"], out), str(out), "the disk is full",
           unchanged=[world["scenario"]])
    if command != "sweep":
        assert list(tmp_path.iterdir()) == []
        return
    assert [p.name for p in out.iterdir()] == ["sweep.sqlite"]  # the points, kept as they finished
    monkeypatch.undo()
    expect(0, COMMANDS[command](world["scenario"], out))  # --resume: only the tables left to write
    assert (out / "sweep.csv").is_file()


@pytest.mark.parametrize("kind", FILE_KINDS)
@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_a_bad_output_file_is_one_clear_line_and_exit_2(world, command, kind, tmp_path, monkeypatch, request):
    place, reason = FILE_KINDS[kind](world, command, tmp_path, monkeypatch, request)
    outcome = expect(2, FILE_COMMANDS[command](world, place), str(place)[:60], reason,
                     unchanged=_unchanged(world, command, place))
    one_line(outcome, str(place)[:60], reason, OPTION[command])
    assert leftovers(tmp_path) == []


INPUTS = ["scenario.toml", "areas.csv", "services.csv", "baseline.csv", "models/need/deprivation.toml"]
SAVED = ["comparison.json", "run.json", "spend_by_group.json", "options_metrics.csv"]


@pytest.mark.parametrize("fmt", ["html", "md"])
@pytest.mark.parametrize("target", INPUTS + SAVED)
def test_report_never_writes_over_an_input_or_the_saved_folder(world, target, fmt):
    path = (world["scenario"] if target in INPUTS else world["saved"]) / target
    assert path.is_file()
    expect(2, ["report", world["saved"], "--format", fmt, "--output", path],
           f"refusing to overwrite the input file {path}", unchanged=[world["scenario"], world["saved"]])


@pytest.mark.parametrize("target", ["scenario.toml", "areas.csv"])
def test_write_lp_never_writes_over_an_input(world, target):
    path = world["scenario"] / target
    expect(2, ["run", world["scenario"], "--write-lp", path, "-q"], f"refusing to overwrite the input file {path}",
           unchanged=[world["scenario"]])


def test_gradient_never_writes_over_its_table(world):
    expect(2, ["gradient", world["table"], "--out", world["table"]],
           f"refusing to overwrite the input file {world['table']}", unchanged=[world["table"]])


def test_report_reads_relative_inputs_from_where_the_run_was(tmp_path):
    scenario = tiny_copy(tmp_path / "s")
    assert invoke("run", "s", "--out", "saved", "-q", cwd=tmp_path).code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    expect(2, ["report", tmp_path / "saved", "--format", "md", "--output", "../s/areas.csv"],
           "refusing to overwrite the input file ../s/areas.csv", unchanged=[scenario], cwd=elsewhere)


@pytest.mark.parametrize("text, reason", [
    ("", "the file is empty"),
    ("GeoCode,Decile\n", "missing columns"),
    ("a,b\n1,2\n", "missing columns"),
])
def test_gradient_of_an_empty_or_wrong_table_is_exit_2(tmp_path, text, reason):
    table = tmp_path / "t.csv"
    table.write_text(text)
    expect(2, ["gradient", table], str(table), reason, unchanged=[table])


# -- outputs: a saved folder edited or broken, given to `allocator report` ----------------------
def _drop_hashes(folder: Path) -> None:
    """A folder saved before comparison.json listed its files' hashes."""
    meta = json.loads((folder / "comparison.json").read_text())
    meta.pop("files")
    meta.pop("sha256")
    (folder / "comparison.json").write_text(json.dumps(meta))


def _set_meta(key, value):
    def change(folder):
        meta = json.loads((folder / "comparison.json").read_text())
        meta[key] = value
        (folder / "comparison.json").write_text(json.dumps(meta))
    return change


def _remove_column(folder):
    _drop_hashes(folder)
    rows = json.loads((folder / "options_metrics.json").read_text())
    (folder / "options_metrics.json").write_text(json.dumps([{k: v for k, v in r.items() if k != "option"}
                                                             for r in rows]))


CORRUPTIONS = {  # name: (how the folder is broken, the file the message names, what it says)
    "comparison.json missing": (lambda f: (f / "comparison.json").unlink(), "comparison.json", "file not found"),
    "comparison.json not JSON": (lambda f: (f / "comparison.json").write_text("{"), "comparison.json",
                                 "not valid JSON"),
    "comparison.json a list": (lambda f: (f / "comparison.json").write_text("[]"), "comparison.json",
                               "expected a JSON object"),
    "comparison.json edited": (_set_meta("options", ["Health gain", "Fair"]), "comparison.json",
                               "changed after allocator saved it"),
    "a table named as a path": (lambda f: (_drop_hashes(f), _set_meta("tables", ["../../etc/passwd"])(f)),
                                "comparison.json", "'tables'"),
    "options not a list": (lambda f: (_drop_hashes(f), _set_meta("options", "Health gain")(f)),
                           "comparison.json", "'options'"),
    "a table missing": (lambda f: (f / "spend_by_group.json").unlink(), "spend_by_group.json", "file not found"),
    "a table not JSON": (lambda f: (f / "spend_by_group.json").write_text("[{"), "spend_by_group.json",
                         "changed after allocator saved it"),
    "a table edited": (lambda f: edit(f / "options_summary.json", "Fair share", "Fair shares"),
                       "options_summary.json", "changed after allocator saved it"),
    "a CSV edited": (lambda f: edit(f / "options_summary.csv", "Fair share", "Unfair share"),
                     "options_summary.csv", "changed after allocator saved it"),
    "a table a folder": (lambda f: ((f / "winners_losers.parquet").unlink(), (f / "winners_losers.parquet").mkdir()),
                         "winners_losers.parquet",
                         "cannot be read"),
    "an unhashed table not JSON": (lambda f: (_drop_hashes(f), (f / "spend_by_group.json").write_text("[{")),
                                   "spend_by_group.json", "not valid JSON"),
    "an unhashed table an object": (lambda f: (_drop_hashes(f), (f / "spend_by_group.json").write_text("{}")),
                                    "spend_by_group.json", "expected a JSON list"),
    "run.json not JSON": (lambda f: (f / "run.json").write_text("{"), "run.json", "not valid JSON"),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_broken_saved_folder_is_exit_2_naming_the_file(world, corruption, tmp_path):
    folder = _earlier_copy(world, "saved", tmp_path)
    damage, name, reason = CORRUPTIONS[corruption]
    damage(folder)
    outcome = expect(2, ["report", folder, "--format", "md"], str(folder / name), reason, unchanged=[folder])
    one_line(outcome, str(folder / name), reason)


@pytest.mark.parametrize("fmt", ["html", "md", "xlsx"])
def test_an_unhashed_table_missing_a_column_is_exit_2(world, fmt, tmp_path):
    folder = _earlier_copy(world, "saved", tmp_path)
    _remove_column(folder)
    expect(2, ["report", folder, "--format", fmt], str(folder), "do not hold what the report needs",
           unchanged=[folder])


def test_a_saved_folder_reads_back_without_its_hashes(world, tmp_path):
    folder = _earlier_copy(world, "saved", tmp_path)
    _drop_hashes(folder)
    expect(0, ["report", folder, "--format", "md", "--output", tmp_path / "r.md"], "Wrote")


# -- outputs: one mapping from errors to exit codes, OS errors anywhere are exit 2 -------------
def test_an_error_class_says_its_exit_code(world, monkeypatch):
    import allocator.analysis.pipeline as pipeline
    from allocator.errors import AllocatorError

    class CouldNotSolve(AllocatorError):
        exit_code = 1

    def fail(*args, **kwargs):
        raise CouldNotSolve("the solver gave up")

    monkeypatch.setattr(pipeline, "run", fail)
    expect(1, ["run", world["scenario"]], "the solver gave up", unchanged=[world["scenario"]])


def test_an_os_error_anywhere_is_one_line_and_exit_2(world, monkeypatch):
    import allocator.cli.solving as cli

    def fail(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(cli, "load", fail)
    out = expect(2, ["validate", world["scenario"]], str(world["scenario"]), "permission denied")
    assert len(out.output.strip().splitlines()) == 1


def test_dollar_signs_in_chart_labels_are_text_not_mathtext(tmp_path):
    scenario = tiny_copy(tmp_path / "s")
    for path in [scenario / "scenario.toml", *(scenario / "models" / "response").glob("*.toml")]:
        text = re.sub(r'outcome_units = "[^"]*"', r'outcome_units = "$\\\\bad{$ years"', path.read_text())
        path.write_text(text)
    expect(0, ["frontier", scenario, "--points", "3", "--out", tmp_path / "f"])
    assert "$\\bad{$ years" in (tmp_path / "f" / "frontier.svg").read_text()
    expect(0, ["sweep", scenario, "--vary", "budget=90000,100000", "--workers", "1", "--out", tmp_path / "w", "-q"])
    assert (tmp_path / "w" / "plots" / "budget.png").is_file()


# -- names: options, scenarios and group columns that look like formulas, paths or each other ----
NAMES = ["+10% for the most deprived", "-5% cut", "=SUM(A1:A9)", "@risk", "'=quoted", "$\\bad{$ money",
         "_hidden", "Fair share", "fair share", "x/../../../ESCAPED"]


@pytest.fixture(scope="module")
def named(tmp_path_factory) -> dict:
    """One comparison of options with every hostile name; its reports from memory and from the folder."""
    root = tmp_path_factory.mktemp("names")
    scenario = tiny_copy(root / "s")
    blocks = "".join(f"\n[[option]]\nname = {json.dumps(name)}\ntotal_gbp = {90000 + 1000 * k}\n"
                     for k, name in enumerate(NAMES))
    (scenario / "scenario.toml").write_text((scenario / "scenario.toml").read_text() + blocks)
    out = root / "out"
    expect(0, ["compare", scenario, "--out", out, "--format", "html,md,xlsx", "--no-explain"])
    for fmt in ("html", "md", "xlsx"):
        expect(0, ["report", out, "--format", fmt, "--output", root / f"rebuilt.{fmt}"], "Wrote")
    sheets = {"memory": _sheet(out / "report.xlsx", "Allocation"),
              "rebuilt": _sheet(root / "rebuilt.xlsx", "Allocation")}
    return {"root": root, "out": out, "loaded": load(out), "sheets": sheets}


def _svg_free(path: Path) -> str:
    return re.sub(r"<svg.*?</svg>", "", path.read_text(), flags=re.S)  # chart coordinates carry float noise


def _sheet(path: Path, title: str) -> dict:
    ws = openpyxl.load_workbook(path)[title]
    return {column[0].value: [c.value for c in column[1:]] for column in ws.iter_cols()}


@pytest.mark.parametrize("name", NAMES)
def test_a_hostile_option_name_survives_the_html_report(named, name):
    memory, rebuilt = _svg_free(named["out"] / "report.html"), _svg_free(named["root"] / "rebuilt.html")
    assert rebuilt == memory
    assert esc(name[:40]) in rebuilt


@pytest.mark.parametrize("name", NAMES)
def test_a_hostile_option_name_survives_the_markdown_report(named, name):
    rebuilt = (named["root"] / "rebuilt.md").read_text()
    assert rebuilt == (named["out"] / "report.md").read_text()
    assert md_text(name) in rebuilt


@pytest.mark.parametrize("name", NAMES)
def test_a_hostile_option_name_survives_the_workbook(named, name):
    from allocator.reports.workbook import _text

    def lines(sheet):  # the option's budget lines (its name as the workbook writes it), in £
        return [v for o, v in zip(sheet["Option"], sheet["Allocation (£)"]) if o == _text(name)]

    memory, rebuilt = lines(named["sheets"]["memory"]), lines(named["sheets"]["rebuilt"])
    assert len(rebuilt) > 1 and rebuilt == pytest.approx(memory, rel=1e-9)
    assert all(isinstance(v, (int, float)) for v in rebuilt)
    assert sum(rebuilt) == pytest.approx(90000 + 1000 * NAMES.index(name), abs=0.01)  # to the penny


@pytest.mark.parametrize("name", NAMES)
def test_a_hostile_option_name_round_trips_through_the_saved_folder(named, name):
    loaded = named["loaded"]
    assert loaded.meta["options"] == NAMES
    assert name in loaded.tables["spend_by_group"].columns
    for table in ("options_summary", "options_metrics", "winners_losers"):
        options = loaded.tables[table]["option"]
        assert set(options) == set(NAMES), table
        assert (options == name).sum() == (options == NAMES[0]).sum() > 0, table
    budget = loaded.tables["options_summary"].set_index("option").loc[name, "budget_gbp"]
    assert budget == 90000 + 1000 * NAMES.index(name)


def test_option_folders_are_safe_unique_and_inside_out(named):
    folders = sorted(p.name for p in (named["out"] / "options").iterdir())
    assert len({f.lower() for f in folders}) == len(NAMES)
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,70}", f) and ".." not in f for f in folders)
    assert {"fair-share", "fair-share-2", "x-escaped", "10-for-the-most-deprived", "hidden"} <= set(folders)
    assert sorted(p.name for p in named["root"].iterdir()) == ["out", "rebuilt.html", "rebuilt.md",
                                                               "rebuilt.xlsx", "s"]
    manifest = json.loads((named["out"] / "run.json").read_text())
    assert {manifest["options"][n]["folder"] for n in NAMES} == {f"options/{f}" for f in folders}


STEMS = ["\ttabbed", "Café ünïcode", "CON", "nul.txt", "L" * 150, "..", ".hidden", "-", "a:b*c?<>|",
         "/etc/passwd", "C:\\Windows\\x", "by_area", "Fair share"]


@pytest.mark.parametrize("name", STEMS)
def test_a_name_from_the_input_becomes_a_safe_unique_file_name(name, tmp_path):
    variants = [name, name.upper(), name.lower(), name + " ", name]
    stems = files.unique_stems(variants, reserved={"by_area", "report"}, fallback="option")
    assert len({s.lower() for s in stems}) == len(variants)  # unique, ignoring case
    for stem in stems:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", stem) and ".." not in stem, stem
        assert len(stem) <= files.MAX_STEM + 3 and stem.lower() not in {"by_area", "report"}
        assert stem.split(".")[0].lower() not in files.DEVICES
        (tmp_path / stem).write_text("x")  # a name the file system takes, inside the folder
    assert len(list(tmp_path.iterdir())) == len(variants)


@pytest.mark.parametrize("name", ["+10% for the most deprived", "-5% cut", "=1+1", "@home"])
def test_a_hostile_scenario_name_round_trips_through_a_run_folder(name, tmp_path):
    scenario = tiny_copy(tmp_path / "s")
    edit(scenario / "scenario.toml", 'name = "Tiny test scenario"', f"name = {json.dumps(name)}")
    expect(0, ["run", scenario, "--out", tmp_path / "out", "-q"])
    expect(0, ["report", tmp_path / "out", "--format", "md"], "Wrote")
    loaded = load(tmp_path / "out")
    assert loaded.meta["title"] == name
    assert list(loaded.tables["options_summary"]["option"]) == [name]
    assert md_text(name) in (tmp_path / "out" / "report.md").read_text()


COLUMNS = {"x/../../../ESCAPED": "by_x-ESCAPED", "area": "by_area-2", "group": "by_group-2",
           "Region": "by_Region-2", "..": "by_column", "-5% cut": "by_5-cut", "CON": "by_column-CON",
           "c" * 300: "by_" + "c" * 64}


@pytest.fixture(scope="module")
def grouped(tmp_path_factory) -> Path:
    """A run whose group columns are named like paths, reserved tables and each other."""
    root = tmp_path_factory.mktemp("columns")
    scenario = tiny_copy(root / "s")
    lines = (scenario / "areas.csv").read_text().splitlines()
    lines = [lines[0] + "," + ",".join(json.dumps(c) for c in COLUMNS)] + [
        line + "," + ",".join(f"v{k % 2}" for k in range(len(COLUMNS))) for line in lines[1:]]
    (scenario / "areas.csv").write_text("\n".join(lines) + "\n")
    edit(scenario / "scenario.toml", 'group_columns = ["region"]',
         f"group_columns = {json.dumps(['region', *COLUMNS])}")
    (root / "deep" / "er").mkdir(parents=True)
    expect(0, ["run", scenario, "--out", "out", "-q"], cwd=root / "deep" / "er")
    return root


@pytest.mark.parametrize("column", COLUMNS)
def test_a_group_column_becomes_a_safe_unique_file_name(grouped, column):
    out = grouped / "deep" / "er" / "out"
    stem = COLUMNS[column]
    header = (out / f"{stem}.csv").read_text().splitlines()[0]
    assert header.startswith(json.dumps(neutralise(column)) + ",")
    assert (out / "by_area.csv").read_text().startswith('"area_id"')  # never replaced by a column's table
    assert (out / "by_group.csv").read_text().startswith('"deprivation_')
    stems = [p.stem for p in out.glob("by_*.csv")]
    assert len({s.lower() for s in stems}) == len(stems) == len(COLUMNS) + 3
    assert sorted(p.name for p in grouped.iterdir()) == ["deep", "s"]  # nothing outside --out
    assert stem in json.loads((out / "result.json").read_text())["tables"]


# -- concurrency: one command writing to a folder at a time ----------------------------------
@pytest.mark.parametrize("command", [*COMMANDS, *FILE_COMMANDS])
def test_a_folder_another_command_is_writing_to_is_refused(world, command, tmp_path, monkeypatch, request):
    place, reason = _locked(world, command, tmp_path, monkeypatch, request)
    args = COMMANDS[command](world["scenario"], place) if command in COMMANDS else FILE_COMMANDS[command](world, place)
    expect(2, args, str(place if command in COMMANDS else place.parent), reason,
           unchanged=_unchanged(world, command, place))


@pytest.mark.parametrize("command", COMMANDS)
def test_a_finished_command_leaves_no_lock_or_staging_behind(world, command):
    assert leftovers(world[command]) == []


def test_a_lock_file_left_by_a_killed_command_does_not_block(world, tmp_path):
    out = _earlier_copy(world, "run", tmp_path)
    (out / files.LOCK).write_text("")  # the file, but nobody holds it
    (out / f"{files.STAGING}killed").mkdir()  # and a killed command's staging folder
    (out / f"{files.STAGING}killed" / "1.csv").write_text("half")
    expect(0, ["run", world["scenario"], "--out", out, "-q"])
    assert leftovers(out) == []


def test_a_held_lock_is_refused_before_solving(world, tmp_path, request, monkeypatch):
    import allocator.analysis.pipeline as pipeline

    out = tmp_path / "out"
    _hold_lock(out, request)
    monkeypatch.setattr(pipeline, "run", lambda *a, **k: pytest.fail("solved although the folder is locked"))
    expect(2, ["run", world["scenario"], "--out", out, "-q"], f"another allocator command is writing to {out}")


def _run_in_child(args, barrier, log: Path) -> None:
    barrier.wait(timeout=30)
    outcome = invoke(*args)
    log.write_text(f"{outcome.code}\n{outcome.output}{outcome.exception or ''}")
    os._exit(0)


def test_two_runs_at_once_never_mix_their_files(world, tmp_path):
    import multiprocessing

    out = tmp_path / "out"
    before = fingerprint(world["scenario"])
    context = multiprocessing.get_context("fork")  # a copy of this process: no second start-up
    barrier = context.Barrier(2)
    logs = [tmp_path / f"{k}.log" for k in range(2)]
    runs = [context.Process(target=_run_in_child, args=(["run", world["scenario"], "--out", out, "-q"], barrier,
                                                         log)) for log in logs]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=60)
    results = [log.read_text().split("\n", 1) for log in logs]
    assert all(code == "0" or code == "2" and "another allocator command is writing to" in text
               for code, text in results), results
    assert any(code == "0" for code, _ in results)
    assert "Traceback" not in "".join(text for _, text in results)
    load(out)  # every table as comparison.json's hashes say: all from one run
    assert leftovers(out) == []
    assert fingerprint(world["scenario"]) == before


def test_a_sweep_store_on_a_full_disk_is_bad_output_not_a_traceback(tmp_path):
    import sqlite3

    from allocator.analysis.store import Store, StoreError

    store = Store.open(tmp_path, {"points": []}, resume=False, executor="this process")

    class FullDisk:
        def __init__(self, db):
            self.db = db

        def __enter__(self):
            return self.db.__enter__()

        def __exit__(self, *exc):
            return self.db.__exit__(*exc)

        def execute(self, sql, *args):
            if sql.startswith(("INSERT", "UPDATE", "BEGIN")):
                raise sqlite3.OperationalError("database or disk is full")
            return self.db.execute(sql, *args)

        def executemany(self, sql, *args):
            raise sqlite3.OperationalError("database or disk is full")

    real = store._db
    store._db = FullDisk(real)
    try:
        row = {"point": 0, "status": "ok", "reason": "", "seconds": 0.1, "measures": []}
        with pytest.raises(StoreError, match="cannot save the finished points .*disk is full.*--resume") as caught:
            store.add([row])
        assert caught.value.exit_code == 2
        with pytest.raises(StoreError, match="disk is full"):
            store.finish()
    finally:
        store._db = real
        store.close()
