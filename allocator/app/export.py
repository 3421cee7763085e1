"""What the app lets a person take away: the scenario folder with its options, the brief, the reports.

The scenario folder is complete and runs anywhere: its manifest is the loaded scenario's own
(every section, ``[[uncertain]]`` blocks too) with the app's saved options as its ``[[option]]``
blocks, its tables are the scenario's as read (the locked lines as the app set them), and its
models are copies. ``allocator compare FOLDER`` therefore solves the same option scenarios the
app solved, and gives the same allocations.

Examples
--------
>>> toml_text({"scenario": {"name": 'A "quoted" name'}, "option": [{"name": "Cap", "caps": {"x": "none"}}]})
'[scenario]\\nname = "A \\\\"quoted\\\\" name"\\n\\n[[option]]\\nname = "Cap"\\ncaps = { x = "none" }\\n'
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from pathlib import Path

import pandas as pd

from allocator.analysis.compare import Comparison
from allocator.errors import Problem, ScenarioError
from allocator.reports.brief import brief, notes_from
from allocator.reports.files import safe_stem
from allocator.reports.markdown import md_brief, md_text
from allocator.reports.results import ReportData
from allocator.scenario import Scenario
from allocator.scenario import files as scenario_files
from allocator.scenario.checks import MANIFEST

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


# -- TOML ---------------------------------------------------------------------------------------
def _key(key: str) -> str:
    return key if BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    """A TOML basic string: JSON's escapes, which TOML shares, and DEL escaped too."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) as TOML")


def toml_text(data: dict) -> str:
    """``data`` (a manifest: sections of keys, arrays of tables) as TOML text that `tomllib` reads back
    as ``data``; tables within a section are written inline."""
    lines: list[str] = []
    plain = {k: v for k, v in data.items() if not _is_section(v) and not _is_blocks(v)}
    lines += [f"{_key(k)} = {_value(v)}" for k, v in plain.items()]
    for key, value in data.items():
        if _is_section(value):
            lines += ([""] if lines else []) + [f"[{_key(key)}]"]
            lines += [f"{_key(str(k))} = {_value(v)}" for k, v in value.items()]
        elif _is_blocks(value):
            for block in value:
                lines += ([""] if lines else []) + [f"[[{_key(key)}]]"]
                lines += [f"{_key(str(k))} = {_value(v)}" for k, v in block.items()]
    return "\n".join(lines) + "\n"


def _is_section(value) -> bool:
    return isinstance(value, dict)


def _is_blocks(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


# -- the scenario folder ------------------------------------------------------------------------
def source_manifest(source: str | Path) -> dict:
    """The settings of the scenario at ``source`` as a manifest dict: its scenario.toml, or a
    workbook's scenario sheet."""
    source = Path(source)
    if source.suffix.lower() == ".xlsx":
        from allocator.scenario.workbook import read_settings

        return read_settings(source, str(source))
    manifest = source if source.is_file() else source / MANIFEST
    return scenario_files.read_toml(manifest, str(manifest), missing="")


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _spend_csv(s: Scenario, matrix, where) -> bytes:
    """Spend by area and service (``where``: which lines), each amount written exactly (repr)."""
    rows = [(s.area_ids[i], s.service_ids[j], repr(float(matrix[i, j])))
            for i in range(s.n_areas) for j in range(s.n_services) if where[i, j]]
    return _csv(pd.DataFrame(rows, columns=["area_id", "service_id", "spend_gbp"]))


def folder_files(source: str | Path, base: Scenario, options: list[dict]) -> dict[str, bytes]:
    """The files of a scenario folder (relative path -> bytes): ``base`` (the scenario as loaded from
    ``source``, with the locked lines the app set) and ``options`` as its ``[[option]]`` blocks."""
    import numpy as np

    if not options:
        raise ScenarioError([Problem("the scenario folder", "no options to write: save the rules as an option")])
    data = {k: v for k, v in source_manifest(source).items() if k not in ("option", "tables")}
    data["scenario"] = dict(data.get("scenario") or {}, models="models")
    out = {"areas.csv": _csv(base.areas), "services.csv": _csv(base.services)}
    tables = {"areas": "areas.csv", "services": "services.csv"}
    if base.baseline is not None:
        out["baseline.csv"] = _spend_csv(base, base.baseline, np.ones(base.baseline.shape, dtype=bool))
        tables["baseline"] = "baseline.csv"
    if base.is_locked.any():
        out["locked.csv"] = _spend_csv(base, base.locked, base.is_locked)
        tables["locked"] = "locked.csv"
    data["tables"] = tables
    data["option"] = [dict(o) for o in options]
    for kind, models in (("need", base.need_models), ("response", base.response_models)):
        for model in models:
            path = Path(model.path)
            out[f"models/{kind}/{path.name}"] = path.read_bytes()
    out[MANIFEST] = ("# Written by the allocator web app: the scenario as loaded, with the app's options as\n"
                     "# [[option]] blocks. `allocator compare .` solves them as the app did.\n"
                     + toml_text(data)).encode("utf-8")
    return out


def zip_bytes(files: dict[str, bytes], top: str) -> bytes:
    """``files`` in a zip, inside one folder ``top`` (a safe name)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(f"{top}/{name}", files[name])
    return buffer.getvalue()


def folder_zip(source: str | Path, base: Scenario, options: list[dict]) -> tuple[str, bytes]:
    """The scenario folder as a zip, and the zip's file name."""
    top = safe_stem(base.name, lower=True, fallback="scenario")[:40].rstrip("-._") or "scenario"
    return f"{top}.zip", zip_bytes(folder_files(source, base, options), top)


# -- the reports ----------------------------------------------------------------------------------
def report_manifest(comparison: Comparison, explain: bool) -> dict:
    """The run manifest of the options solved (date, input hashes, versions), as `allocator compare`
    saves it in run.json: what the workbook and the HTML report print."""
    from allocator.reports.outputs import manifest

    settings = {"solver": "highs", "method": "auto", "explain": explain, "written_by": "allocator app"}
    return {"options": {name: manifest(r, settings) for name, r in zip(comparison.names, comparison.results)}}


def brief_markdown(data: ReportData, manifest: dict | None = None) -> str:
    """The brief as Markdown text (what the brief in the app says, with the date and inputs)."""
    title = md_text(str(data.meta.get("title", "The brief")))
    return "\n".join([f"# {title}", "", *md_brief(brief(data, notes_from(manifest)))]).rstrip() + "\n"


def settings_file_name(scenario_name: str) -> str:
    return f"{safe_stem(scenario_name, lower=True, fallback='scenario')[:40]}-settings.json"
