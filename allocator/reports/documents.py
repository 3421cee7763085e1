"""The reports a person reads (HTML, Markdown, XLSX), from a comparison in memory or a saved folder.

Both write through `allocator.reports.files.output`: all at once, never over an input.
A saved folder is read back exactly as it was saved (`allocator.reports.results.load`),
and a report is never written over the folder's own files or the inputs of the run it
came from (listed in its ``run.json``).
"""

from __future__ import annotations

from pathlib import Path

from allocator.progress import stage
from allocator.reports.files import OutputError, output
from allocator.reports.results import (
    REBUILD,
    ReportData,
    SavedResultError,
    as_saved,
    load,
    load_manifest,
    protected_inputs,
)

REPORTS = ("html", "md", "xlsx")
BROKEN = (KeyError, ValueError, TypeError, IndexError, AttributeError)  # tables of the wrong shape


def render(data: ReportData, fmt: str, manifest: dict | None = None) -> bytes:
    """The bytes of one report: ``html``, ``md`` or ``xlsx``."""
    if fmt == "html":
        from allocator.reports.html import render_html

        return render_html(data, manifest).encode()
    if fmt == "brief":
        from allocator.reports.html import render_brief_html

        return render_brief_html(data, manifest).encode()
    if fmt == "md":
        from allocator.reports.markdown import render_markdown

        return render_markdown(data, manifest).encode()
    if fmt == "xlsx":
        from allocator.reports.workbook import workbook_bytes

        return workbook_bytes(data, manifest)
    raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(REPORTS)})")


def write_reports(data: ReportData, out: str | Path, formats, manifest: dict,
                  protected=frozenset()) -> list[Path]:
    """``report.<format>`` in ``out`` for each report format asked for (the others are ignored);
    with ``html``, also ``brief.html`` and the maps as PNG (``maps/*.png``).  ``data`` is read as
    its saved folder holds it (`as_saved`), so `rebuild` gives the same bytes."""
    out = Path(out)
    stage("Reading the tables back as they were saved")
    data = as_saved(data)
    targets = [(fmt, out / f"report.{fmt}") for fmt in REPORTS if fmt in formats]
    pngs: dict[str, bytes] = {}
    if "html" in formats:
        from allocator.reports.html_parts import map_pngs

        targets.append(("brief", out / "brief.html"))
        stage("Drawing the maps")
        pngs = map_pngs(data)
    with output(out, protected) as place:
        for path in [p for _, p in targets] + [out / name for name in pngs]:
            place.check(path)
        for fmt, path in targets:
            stage(f"Writing {path.name}")
            place.put(path, render(data, fmt, manifest))
        for name, body in pngs.items():
            place.put(out / name, body)
    return [path for _, path in targets] + [out / name for name in pngs]


def rebuild(folder: str | Path, fmt: str, target: str | Path | None = None) -> Path:
    """Write the ``fmt`` report of a saved folder to ``target`` (default ``folder/report.<fmt>``).

    A sweep's folder (it has ``sweep.json``) gets its HTML page (`allocator.reports.sweep_report`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SavedResultError(f"{folder}: not a folder; give a folder written by `allocator run --out`, "
                               "`allocator compare --out` or `allocator sweep --out`")
    if (folder / "sweep.json").is_file():
        if fmt != "html":
            raise OutputError(f"{folder} holds a sweep, whose report is HTML only: leave out --format or give "
                              "--format html")
        # imported here: matplotlib is loaded only when a sweep is reported
        from allocator.reports.sweep_report import write

        return write(folder, target)
    data = load(folder)
    manifest = load_manifest(folder)
    target = Path(target) if target is not None else folder / f"report.{fmt}"
    if fmt == "xlsx" and target.suffix.lower() != ".xlsx":
        raise OutputError(f"{target}: expected a file name ending in .xlsx, got '{target.suffix}'; "
                          "Excel will not open a workbook under another name")
    with output(target.parent, protected_inputs(folder, manifest), option="--output") as place:
        place.check(target)
        try:
            body = render(data, fmt, manifest)
        except BROKEN as exc:
            raise SavedResultError(f"{folder}: its tables do not hold what the report needs "
                                   f"({type(exc).__name__}: {exc}); {REBUILD}") from None
        place.put(target, body)
    return target
