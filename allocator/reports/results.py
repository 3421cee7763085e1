"""Save a run or comparison to a folder, and load it back to rebuild reports without solving.

A result folder holds every table as CSV and JSON, ``comparison.json`` (what was
compared, the scenario's labels, plain-language explanations) and ``run.json``
(input hashes, versions, options, timings).  ``allocator report DIR`` reads the
JSON tables back into DataFrames.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from allocator.analysis.compare import Comparison
from allocator.analysis.gradient import quantile_label
from allocator.errors import ScenarioError
from allocator.reports.outputs import (
    atomic_write,
    csv_bytes,
    json_bytes,
    manifest,
    write_outputs,
)
from allocator.version import __version__

META = "comparison.json"


@dataclass(frozen=True)
class ReportData:
    """What a report shows: labels and texts (``meta``) and tables by name."""

    meta: dict
    tables: dict[str, pd.DataFrame]


def slug(name: str) -> str:
    """A file-name-safe version of an option name."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.").lower()
    return text or "option"


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
        "scenario": {"name": s.name, "description": s.description, "attribution": s.attribution,
                     "areas": s.n_areas, "services": s.n_services, "budget_gbp": s.budget_gbp,
                     "outcome_label": g.outcome_label, "outcome_units": g.outcome_units,
                     "higher_is_better": g.higher_is_better, "groups": quantile_label(g.quantiles),
                     "comparator": first.outcomes.before_label},
        "explanations": texts,
    }
    tables = dict(comparison.tables)
    tables["input_areas"] = s.areas
    tables["input_services"] = s.services
    return ReportData(meta=meta, tables=tables)


def save(data: ReportData, out: str | Path, protected: set[Path], run_manifest: dict) -> list[Path]:
    """Write the report data's tables (CSV + JSON), comparison.json and run.json atomically."""
    out = Path(out)
    targets = [out / f"{name}{suffix}" for name in data.tables for suffix in (".csv", ".json")]
    for path in targets + [out / META, out / "run.json"]:
        if path.resolve() in protected:
            raise ScenarioError(f"refusing to overwrite the input file {path}: choose another --out")
    written = []
    for name, frame in data.tables.items():
        for suffix, encode in ((".csv", csv_bytes), (".json", json_bytes)):
            atomic_write(out / f"{name}{suffix}", encode(frame), protected)
            written.append(out / f"{name}{suffix}")
    meta = dict(data.meta, tables=sorted(data.tables))
    atomic_write(out / META, (json.dumps(meta, indent=1, ensure_ascii=False) + "\n").encode(), protected)
    atomic_write(out / "run.json", (json.dumps(run_manifest, indent=1, ensure_ascii=False) + "\n").encode(),
                 protected)
    return written + [out / META, out / "run.json"]


def save_comparison(comparison: Comparison, out: str | Path, options: dict, kind: str = "compare") -> ReportData:
    """Save a comparison and, for each option, its full run outputs under ``options/<name>/``."""
    out = Path(out)
    protected = {Path(p).resolve() for r in comparison.results for p in r.scenario.inputs}
    data = report_data(comparison, kind)
    run_manifest = {"options": {name: manifest(r, options) for name, r in zip(comparison.names, comparison.results)}}
    save(data, out, protected, run_manifest)
    if kind == "compare":
        for name, result in zip(comparison.names, comparison.results):
            write_outputs(result, out / "options" / slug(name), options)
    return data


def load(folder: str | Path) -> ReportData:
    """Read a saved run or comparison back (no solving)."""
    folder = Path(folder)
    meta_path = folder / META
    if not meta_path.is_file():
        raise ScenarioError(f"{meta_path}: file not found: give a folder written by "
                            "`allocator run --out` or `allocator compare --out`")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{meta_path}: not valid JSON: {exc}") from None
    tables = {}
    for name in meta.get("tables", []):
        path = folder / f"{name}.json"
        if not path.is_file():
            raise ScenarioError(f"{path}: file not found (listed in {meta_path})")
        tables[name] = pd.read_json(path, orient="records", dtype=False)
    return ReportData(meta=meta, tables=tables)
