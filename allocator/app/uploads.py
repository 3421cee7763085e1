"""Uploaded scenarios: a workbook or a zip of a scenario folder, checked and unpacked safely.

Everything is written inside one temporary folder per session (``allocator-app-...``), under a
name the app chooses (never the uploaded file's). An upload is refused, with a message naming
it and the limit, when it is larger than 50 MB, is not an .xlsx or .zip, or (a zip) holds a
member with an absolute path, a ``..``, a link or a special file, too many files, or more
unzipped bytes than the limits of `allocator.scenario.limits` allow (a zip bomb stops there,
counted as it unpacks, whatever the archive claims). A scenario inside may not name a table or
a models folder outside the upload. Nothing uploaded is ever executed: the scenario is read by
`allocator.scenario.load`, which reads data only.

Examples
--------
>>> import io, zipfile
>>> buffer = io.BytesIO()
>>> with zipfile.ZipFile(buffer, "w") as z:
...     z.writestr("../outside.txt", "x")
>>> with tempfile.TemporaryDirectory() as root:
...     try:
...         accept("evil.zip", buffer.getvalue(), Path(root))
...     except ScenarioError as exc:
...         print(exc.problems[0].message)
member '../outside.txt' leads outside the folder ('..'): refused (zip a scenario folder as it is)
"""

from __future__ import annotations

import atexit
import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from allocator.errors import Problem, ScenarioError
from allocator.scenario import files
from allocator.scenario.checks import MANIFEST
from allocator.scenario.limits import (
    MAX_TABLE_BYTES,
    MAX_WORKBOOK_PARTS,
    MAX_WORKBOOK_UNZIPPED_BYTES,
    MB,
    size,
)

MAX_UPLOAD_BYTES = 50 * MB  # as `allocator app` sets Streamlit's server.maxUploadSize
MAX_ZIP_FILES = MAX_WORKBOOK_PARTS  # files in an uploaded zip (a workbook's parts are held to the same)
MAX_ZIP_BYTES = MAX_WORKBOOK_UNZIPPED_BYTES  # all of a zip's files, unzipped
MAX_MEMBER_BYTES = MAX_TABLE_BYTES  # one file of a zip, unzipped (a table's limit)
PREFIX = "allocator-app-"
CHUNK = 1 << 20
SKIPPED = ("__MACOSX/",)  # what a Mac adds to a zip: not part of the scenario
BUNDLED = "bundled"


_MADE: list[Path] = []


def _remove_made() -> None:
    for folder in _MADE:
        shutil.rmtree(folder, ignore_errors=True)


def session_folder() -> Path:
    """A new temporary folder for one session's uploads and built scenarios (only its owner may read
    it), removed when the app stops."""
    if not _MADE:
        atexit.register(_remove_made)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    _MADE.append(folder)
    return folder


def _bad(shown: str, message: str) -> ScenarioError:
    return ScenarioError([Problem(shown, message)])


def new_folder(root: Path, stem: str) -> Path:
    """A new, empty folder ``root/stem-N``."""
    for n in range(1, 100_000):
        folder = root / f"{stem}-{n}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise _bad(str(root), "too many uploads in one session: reload the page")


def check_size(name: str, n_bytes: int) -> None:
    """An upload larger than 50 MB is refused (before it is read, when its size is known)."""
    if n_bytes > MAX_UPLOAD_BYTES:
        raise _bad(f"the upload '{name}'", f"is {size(n_bytes)}, more than the {size(MAX_UPLOAD_BYTES)} the app "
                   "takes: run `allocator validate` and `allocator run` on it from the command line instead")


def accept(name: str, data: bytes, root: Path) -> Path:
    """Check and unpack an upload inside ``root``; return the scenario to load (a workbook or a folder).

    ``name`` (the uploaded file's name) is used only to tell a workbook from a zip and in messages.
    Raises `ScenarioError` naming the upload and what is wrong.
    """
    shown = f"the upload '{name}'"
    check_size(name, len(data))
    kind = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    if kind == "xlsx":
        folder = new_folder(Path(root), "upload")
        path = folder / "scenario.xlsx"
        _write_new(path, data)
        check_workbook_paths(path, shown)
        return path
    if kind == "zip":
        folder = new_folder(Path(root), "upload")
        extract_zip(data, folder, shown)
        scenario = find_scenario(folder, shown)
        check_manifest_paths(scenario, folder, shown)
        return scenario
    raise _bad(shown, "expected a scenario workbook (.xlsx: `allocator template --xlsx FILE` writes one) or a "
               "zip of a scenario folder (.zip)")


def _write_new(path: Path, data: bytes) -> None:
    """Write a new file (never through a link, never over a file)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    with os.fdopen(os.open(path, flags, 0o600), "wb") as handle:
        handle.write(data)


def member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member may not be unpacked (None: it may): an unsafe name, a link, a special file.

    >>> member_problem(zipfile.ZipInfo("scenario/areas.csv")) is None
    True
    >>> member_problem(zipfile.ZipInfo("/etc/passwd"))
    "member '/etc/passwd' has an absolute path: refused (zip a scenario folder as it is)"
    """
    name = info.filename
    tail = " (zip a scenario folder as it is)"
    if not name or "\x00" in name or any(ord(c) < 32 for c in name):
        return f"member {name!r} has control characters in its name: refused"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"member {name!r} has an absolute path: refused{tail}"
    if "\\" in name:
        return f"member {name!r} has a backslash in its name: refused{tail}"
    if ".." in PurePosixPath(name).parts:
        return f"member {name!r} leads outside the folder ('..'): refused{tail}"
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix file type given (Windows zips, Python's)
    if kind == stat.S_IFLNK:
        return f"member {name!r} is a symbolic link: refused{tail}"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"member {name!r} is not a regular file or folder: refused{tail}"
    if info.flag_bits & 0x1:
        return f"member {name!r} is encrypted: refused (zip it without a password)"
    return None


def _members(archive: zipfile.ZipFile, shown: str) -> list[zipfile.ZipInfo]:
    """The members to unpack, every one checked first: names, kinds, count, declared sizes."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_FILES:
        raise _bad(shown, f"holds {len(infos):,} files, more than the {MAX_ZIP_FILES:,} allowed "
                   "(MAX_WORKBOOK_PARTS): zip only the scenario folder")
    problems, seen = [], set()
    for info in infos:
        reason = member_problem(info)
        if reason is None and info.filename.rstrip("/").casefold() in seen:
            reason = f"member {info.filename!r} appears twice: refused"
        if reason:
            problems.append(Problem(shown, reason))
        seen.add(info.filename.rstrip("/").casefold())
    if problems:
        raise ScenarioError(problems)
    declared = sum(i.file_size for i in infos)
    if declared > MAX_ZIP_BYTES:
        raise _bad(shown, f"is {size(declared)} when unzipped, more than the {size(MAX_ZIP_BYTES)} allowed "
                   "(MAX_WORKBOOK_UNZIPPED_BYTES)")
    return [i for i in infos if not i.is_dir() and not i.filename.startswith(SKIPPED)]


def extract_zip(data: bytes, folder: Path, shown: str) -> None:
    """Unpack the zip ``data`` into the empty ``folder``, every member checked before any is written,
    and the bytes counted as they unpack (a member's declared size is not trusted)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise _bad(shown, f"cannot be read as a zip archive ({exc})") from None
    root = folder.resolve()
    total = 0
    with archive:
        for info in _members(archive, shown):
            target = (root / info.filename).resolve()
            if root not in target.parents:
                raise _bad(shown, f"member {info.filename!r} leads outside the folder: refused")
            target.parent.mkdir(parents=True, exist_ok=True)
            total = _unpack(archive, info, target, total, shown)


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, total: int, shown: str) -> int:
    """Write one member, counting its bytes against the limits; return the running total."""
    written = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        with archive.open(info) as source, os.fdopen(os.open(target, flags, 0o600), "wb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                total += len(chunk)
                if written > MAX_MEMBER_BYTES:
                    raise _bad(shown, f"member {info.filename!r} is more than {size(MAX_MEMBER_BYTES)} "
                               "unzipped (MAX_TABLE_BYTES): refused")
                if total > MAX_ZIP_BYTES:
                    raise _bad(shown, f"unzips to more than {size(MAX_ZIP_BYTES)} "
                               "(MAX_WORKBOOK_UNZIPPED_BYTES): refused")
                out.write(chunk)
    # zipfile raises NotImplementedError for a compression method it lacks, RuntimeError for encryption
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, RuntimeError,
            NotImplementedError) as exc:
        raise _bad(shown, f"member {info.filename!r} cannot be unzipped ({exc})") from None
    except FileExistsError:
        raise _bad(shown, f"member {info.filename!r} appears twice: refused") from None
    return total


def find_scenario(folder: Path, shown: str) -> Path:
    """The scenario folder in an unpacked zip: its root, or the one folder at its top, holding
    scenario.toml (or a lone workbook)."""
    if (folder / MANIFEST).is_file():
        return folder
    tops = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(tops) == 1 and tops[0].is_dir() and (tops[0] / MANIFEST).is_file():
        return tops[0]
    books = [p for p in tops if p.is_file() and p.suffix.lower() == ".xlsx"]
    if len(tops) == 1 and books:
        check_workbook_paths(books[0], shown)
        return books[0]
    raise _bad(shown, f"holds no {MANIFEST} at its top or in a single folder there: zip a scenario folder "
               f"(its {MANIFEST} and tables)")


def _inside(path: Path, root: Path) -> bool:
    path, root = path.resolve(), root.resolve()
    return path == root or root in path.parents


def _outside(name: object) -> str:
    return f"{name!r} points outside the upload"


def check_manifest_paths(scenario: Path, root: Path, shown: str) -> None:
    """Every table and the models folder that scenario.toml names lie inside the upload.

    A manifest naming ``../../models`` or ``/etc/...`` would make the app read files beside the
    upload; a manifest without ``models`` would look for one up the temporary folder's parents.
    """
    data = files.read_toml(scenario / MANIFEST, f"{shown}: {MANIFEST}", missing="")
    problems = []
    tables = data.get("tables") if isinstance(data.get("tables"), dict) else {}
    for key, value in tables.items():
        if isinstance(value, str) and not _inside(scenario / value, root):
            problems.append(Problem(f"{shown}: {MANIFEST}", f"[tables] {key} = {_outside(value)}: put the "
                                    "table in the zip, beside scenario.toml"))
    info = data.get("scenario") if isinstance(data.get("scenario"), dict) else {}
    models = info.get("models")
    if isinstance(models, str) and models != BUNDLED and not _inside(scenario / models, root):
        problems.append(Problem(f"{shown}: {MANIFEST}", f"[scenario] models = {_outside(models)}: put the "
                                "models in the zip (a models/ folder beside scenario.toml, and models = "
                                "\"models\") or write models = \"bundled\" for the models that ship with allocator"))
    if models is None and not any((p / "models").is_dir() for p in [scenario, *scenario.parents]
                                  if _inside(p, root)):
        problems.append(Problem(f"{shown}: {MANIFEST}", "names no models folder and the zip holds none: add "
                                "[scenario] models = \"bundled\" (the models that ship with allocator), or put "
                                "a models/ folder in the zip"))
    if problems:
        raise ScenarioError(problems)


def check_workbook_paths(path: Path, shown: str) -> None:
    """A workbook's settings may name no models folder but the bundled one (nothing else is uploaded)."""
    from allocator.scenario.workbook import read_settings

    data = read_settings(path, shown)
    info = data.get("scenario") if isinstance(data.get("scenario"), dict) else {}
    models = info.get("models")
    if models is not None and models != BUNDLED:
        raise _bad(f"{shown}, sheet scenario", f"[scenario] models = {models!r}: an uploaded workbook can use only "
                   "the models that ship with allocator: leave models blank or write bundled")


def shown_text(text: str, root: Path, name: str) -> str:
    """A message about an upload with its temporary folder (``root/upload-N``) replaced by the
    upload's name, as the person knows it."""
    for form in dict.fromkeys([str(root), str(Path(root).resolve())]):
        text = re.sub(re.escape(form) + r"[/\\\\]upload-\d+", lambda _: f"[{name}]", text)
    return text
