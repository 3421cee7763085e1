"""Save a run or comparison to a folder, and load it back to rebuild reports without solving.

A result folder holds every table as CSV and JSON, ``comparison.json`` (what was
compared, the scenario's labels, plain-language explanations) and ``run.json``
(input hashes, versions, options, timings).  ``allocator report DIR`` reads the
JSON tables back into DataFrames.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from allocator.analysis.compare import Comparison
from allocator.analysis.gradient import quantile_label
from allocator.errors import AllocatorError
from allocator.progress import stage
from allocator.reports.files import OutputError, output, safe_stem, unique_stems
from allocator.reports.outputs import (
    encodings,
    manifest,
    restored_frame,
    result_tables,
    write_outputs,
)
from allocator.version import __version__

META, MANIFEST = "comparison.json", "run.json"
OPTION_PREFIX = "options_"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
REBUILD = "save the folder again with `allocator run --out` or `allocator compare --out`"


@dataclass(frozen=True)
class ReportData:
    """What a report shows: labels and texts (``meta``) and tables by name."""

    meta: dict
    tables: dict[str, pd.DataFrame]


@dataclass(frozen=True)
class Table:
    """A table of formatted cells, as a report shows it; ``best`` marks cells to highlight, ``numeric``
    columns align right."""

    key: str
    title: str
    caption: str
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    best: list[list[bool]] = field(default_factory=list)


def slug(name: str) -> str:
    """A file-name-safe version of an option name (`allocator.reports.files.safe_stem`)."""
    return safe_stem(name, lower=True, fallback="option")


def _base_names(comparison: Comparison) -> str:
    """The scenarios compared, without the ': <option>' that `options.apply` adds to a name."""
    bases = []
    for option, result in zip(comparison.names, comparison.results):
        name = result.scenario.name
        suffix = f": {option}"
        base = name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name
        if base not in bases:
            bases.append(base)
    return " and ".join(bases)


def report_data(comparison: Comparison, kind: str) -> ReportData:
    """Labels, texts and tables of a comparison, as the report writers take them."""
    first = comparison.results[0]
    s, g = first.scenario, first.scenario.gradient
    texts = {}
    if "prices" in comparison.tables:
        for name in comparison.names:
            rows = comparison.tables["prices"]
            texts[name] = rows.loc[rows["option"] == name, "text"].tolist()
    meta = {
        "kind": kind, "title": s.name if kind == "run" else f"Options for {_base_names(comparison)}",
        "allocator": __version__, "options": list(comparison.names),
        "scenario": {"name": s.name if kind == "run" else _base_names(comparison), "description": s.description, "attribution": s.attribution,
                     "areas": s.n_areas, "services": s.n_services, "budget_gbp": s.budget_gbp,
                     "outcome_label": g.outcome_label, "outcome_units": g.outcome_units,
                     "higher_is_better": g.higher_is_better, "groups": quantile_label(g.quantiles),
                     "comparator": first.outcomes.before_label},
        "explanations": texts,
    }
    if comparison.not_solved:
        meta["not_solved"] = {name: _reason(name, why) for name, why in comparison.not_solved}
    if kind == "run":  # a run's folder already holds these tables (allocation.csv, ...): not twice
        meta["aliases"] = {f"{OPTION_PREFIX}{t}": t for t in result_tables(first) if t not in ("by_group", "metrics")}
    tables = dict(comparison.tables)
    tables.update(_option_tables(comparison))
    tables["input_areas"] = s.areas
    tables["input_services"] = s.services
    return ReportData(meta=meta, tables=tables)


def _reason(option: str, why) -> str:
    """Why an option was left out, without the "option '...' of scenario ...: " that names it."""
    text = str(why)
    named = f"option '{option}' of scenario "
    return text.split(": ", 1)[1] if text.startswith(named) and ": " in text else text


def _option_tables(comparison: Comparison) -> dict[str, pd.DataFrame]:
    """Each option's allocation, by-area and by-grouping tables (``options_allocation``,
    ``options_by_area``, ``options_by_<column>``), one below the other with an ``option`` column
    first: what the workbook, the maps and find-my-area show."""
    out: dict[str, list[pd.DataFrame]] = {}
    for name, result in zip(comparison.names, comparison.results):
        for table, frame in result_tables(result).items():
            if table in ("by_group", "metrics") or f"{OPTION_PREFIX}{table}" in comparison.tables:
                continue  # already in the comparison tables, by option
            out.setdefault(f"{OPTION_PREFIX}{table}", []).append(_with_option(frame, name))
    return {table: pd.concat(frames, ignore_index=True) for table, frames in out.items()}


def _with_option(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    return frame.assign(option=name)[["option", *[c for c in frame.columns if c != "option"]]]


def save(data: ReportData, out: str | Path, protected: set[Path], run_manifest: dict) -> list[Path]:
    """Write the report data's tables (CSV, and JSON or Parquet), run.json and comparison.json, all
    at once.

    comparison.json, written last, lists the sha256 of every table file (and of its own
    content), so that `load` can tell a folder edited after it was saved.
    """
    out = Path(out)
    bad = [name for name in data.tables if not _safe_name(name)]
    if bad:
        raise OutputError(f"cannot save a table named {bad[0]!r} in {out}: not a safe file name")
    aliases = data.meta.get("aliases") or {}
    files = [(f"{name}{suffix}", lambda f=frame, e=encode: e(f)) for name, frame in data.tables.items()
             if name not in aliases for suffix, encode in encodings(name)]
    files.append((MANIFEST, lambda: (json.dumps(run_manifest, indent=1, ensure_ascii=False) + "\n").encode()))
    hashes = {}
    with output(out, protected) as place:
        for name in [n for n, _ in files] + [META]:
            place.check(out / name)
        for k, (name, encode) in enumerate(files):
            stage(f"Saving the comparison's tables ({k + 1} of {len(files)}: {name})")
            body = encode()
            if name != MANIFEST:  # it holds timings: the same inputs give the same comparison.json
                hashes[name] = hashlib.sha256(body).hexdigest()
            place.put(out / name, body)
        meta = dict(data.meta, tables=sorted(data.tables), files=hashes)
        meta["sha256"] = _meta_hash(meta)
        place.put(out / META, (json.dumps(meta, indent=1, ensure_ascii=False) + "\n").encode())
    return [out / name for name, _ in files] + [out / META]


def save_comparison(comparison: Comparison, out: str | Path, options: dict,
                    kind: str = "compare") -> tuple[ReportData, dict]:
    """Save a comparison and, for each option, its full run outputs under ``options/<name>/``.

    Each option's folder is a safe, unique name (ignoring case) made from its name; the run
    manifest says which (``options.<name>.folder``).  Returns the report data and manifest.
    """
    out = Path(out)
    protected = {Path(p).resolve() for r in comparison.results for p in r.scenario.inputs}
    data = report_data(comparison, kind)
    run_manifest = {"options": {name: manifest(r, options) for name, r in zip(comparison.names, comparison.results)}}
    if comparison.not_solved:  # left out, each with why (`compare(keep_going=True)`)
        run_manifest["not_solved"] = {name: str(why) for name, why in comparison.not_solved}
    folders = unique_stems(comparison.names, lower=True, fallback="option")
    if kind == "compare":
        for name, folder in zip(comparison.names, folders):
            run_manifest["options"][name]["folder"] = f"options/{folder}"
    with output(out, protected):
        save(data, out, protected, run_manifest)
        if kind == "compare":
            for folder, result in zip(folders, comparison.results):
                write_outputs(result, out / "options" / folder, options)
    return data, run_manifest


# -- reading a saved folder back ----------------------------------------------------------
class SavedResultError(AllocatorError):
    """A saved result folder lacks a file, or was changed after it was saved (exit code 2)."""

    exit_code = 2


def _meta_hash(meta: dict) -> str:
    """The sha256 of comparison.json's content but this hash (keys sorted: any edit changes it)."""
    body = {k: v for k, v in meta.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _safe_name(name: object) -> bool:
    return isinstance(name, str) and bool(SAFE_NAME.fullmatch(name)) and ".." not in name


def _read_json(path: Path, kind: type):
    """A saved JSON file's content, which must be a ``kind`` (dict or list)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SavedResultError(f"{path}: file not found; {REBUILD}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SavedResultError(f"{path}: cannot be read ({exc}); {REBUILD}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SavedResultError(f"{path}: not valid JSON ({exc}); {REBUILD}") from None
    if not isinstance(value, kind):
        raise SavedResultError(f"{path}: expected a JSON {'object' if kind is dict else 'list'}, got "
                               f"{type(value).__name__}; {REBUILD}")
    return value, text


def _check_meta(meta: dict, path: Path) -> None:
    """The shape of comparison.json: what the report reads from it."""
    def fail(what: str) -> SavedResultError:
        return SavedResultError(f"{path}: {what}; {REBUILD}")

    tables = meta.get("tables")
    if not isinstance(tables, list) or not all(_safe_name(t) for t in tables):
        raise fail("'tables' should be a list of table names (letters, digits, '_', '-', '.')")
    options = meta.get("options", [])
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise fail("'options' should be a list of option names")
    aliases = meta.get("aliases", {})
    if not isinstance(aliases, dict) or not all(_safe_name(k) and _safe_name(v) for k, v in aliases.items()):
        raise fail("'aliases' should map table names to the run's own table names")
    for key in ("scenario", "explanations"):
        if not isinstance(meta.get(key, {}), dict):
            raise fail(f"'{key}' should be an object")
    files = meta.get("files", {})
    if not isinstance(files, dict) or not all(_safe_name(k) and isinstance(v, str) for k, v in files.items()):
        raise fail("'files' should map each saved file to its sha256")


def _check_hashes(folder: Path, files: dict[str, str]) -> None:
    for name, expected in files.items():
        path = folder / name
        try:
            found = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            raise SavedResultError(f"{path}: file not found (listed in {folder / META}); {REBUILD}") from None
        except OSError as exc:
            raise SavedResultError(f"{path}: cannot be read ({exc}); {REBUILD}") from None
        if found != expected:
            raise SavedResultError(f"{path} was changed after allocator saved it, so a report from the folder "
                                   f"would not match it; {REBUILD}")


def load(folder: str | Path) -> ReportData:
    """Read a saved run or comparison back (no solving), exactly as it was saved.

    Text that was neutralised for spreadsheets is restored; a missing or unreadable
    file, a file changed since it was saved, or a table of the wrong shape is a
    `SavedResultError` naming the file.
    """
    folder = Path(folder)
    meta_path = folder / META
    if not meta_path.is_file():
        raise SavedResultError(f"{meta_path}: file not found: give a folder written by "
                               "`allocator run --out` or `allocator compare --out`")
    meta, _ = _read_json(meta_path, dict)
    saved_hash = meta.pop("sha256", None)
    if saved_hash is not None and saved_hash != _meta_hash(meta):
        raise SavedResultError(f"{meta_path} was changed after allocator saved it, so a report from the "
                               f"folder would not match it; {REBUILD}")
    _check_meta(meta, meta_path)
    files = meta.pop("files", None)
    if files is not None:
        _check_hashes(folder, files)
    tables = {}
    aliases = meta.get("aliases") or {}
    for name in meta["tables"]:
        if name in aliases:  # a run's own table, read back with its option's name
            tables[name] = _with_option(_read_table(folder, aliases[name]), (meta.get("options") or [""])[0])
        else:
            tables[name] = _read_table(folder, name)
    return ReportData(meta=meta, tables=tables)


def _read_table(folder: Path, name: str) -> pd.DataFrame:
    parquet = folder / f"{name}.parquet"
    if parquet.exists():
        try:
            return _from_parquet(parquet.read_bytes())
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise SavedResultError(f"{parquet}: cannot be read as Parquet ({exc}); {REBUILD}") from None
    path = folder / f"{name}.json"
    rows, text = _read_json(path, list)
    if not all(isinstance(r, dict) for r in rows):
        raise SavedResultError(f"{path}: expected a list of rows (JSON objects); {REBUILD}")
    return _from_json(text, rows)


def _from_parquet(body: bytes) -> pd.DataFrame:
    return restored_frame(pd.read_parquet(io.BytesIO(body)))


def _from_json(text: str, rows: list) -> pd.DataFrame:
    return restored_frame(pd.read_json(io.StringIO(text), orient="records", dtype=False) if rows else pd.DataFrame())


def as_saved(data: ReportData) -> ReportData:
    """``data`` as `load` reads it back from its saved folder: each table through the file it is saved
    as (JSON or Parquet, 10 significant figures) and back, the meta through JSON.  Reports written
    from this with the results are byte for byte the ones `allocator report` rebuilds from the folder.
    """
    aliases = data.meta.get("aliases") or {}
    option = (data.meta.get("options") or [""])[0]
    tables = {}
    for name, frame in data.tables.items():
        stored = aliases.get(name, name)  # a run's own table: saved without its option column
        suffix, encode = encodings(stored)[1]
        body = encode(frame.drop(columns="option") if name in aliases else frame)
        if suffix == ".parquet":
            tables[name] = _from_parquet(body)
        else:
            text = body.decode("utf-8")
            tables[name] = _from_json(text, json.loads(text))
        if name in aliases:
            tables[name] = _with_option(tables[name], option)
    meta = json.loads(json.dumps(dict(data.meta, tables=sorted(data.tables)), ensure_ascii=False))
    return ReportData(meta=meta, tables=tables)


def load_manifest(folder: str | Path) -> dict:
    """The saved run manifest (run.json), or {} when the folder has none."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return {}
    return _read_json(path, dict)[0]


def protected_inputs(folder: str | Path, run_manifest: dict) -> set[Path]:
    """What a report rebuilt from ``folder`` must never overwrite: the inputs of the run(s) it
    came from (as the manifest lists them) and every file of the saved folder but its reports."""
    folder = Path(folder)
    runs = [run_manifest, *(run_manifest.get("options") or {}).values()]
    paths = set()
    for run in [r for r in runs if isinstance(r, dict)]:
        inputs = run.get("inputs") if isinstance(run.get("inputs"), dict) else {}
        named = [*inputs, *([run["path"]] if isinstance(run.get("path"), str) else [])]
        base = run.get("working_directory")
        for name in named:
            paths.add(Path(name).resolve())
            if isinstance(base, str):
                paths.add((Path(base) / name).resolve())
    if folder.is_dir():
        paths |= {p.resolve() for p in folder.rglob("*")
                  if p.is_file() and not (p.parent == folder and (p.name.startswith("report.") or p.name == "brief.html"))}
    return paths
