"""Reading input files safely: what a path is before it is opened, bounded reads, text, TOML.

A path is looked at (``os.stat``) before anything is opened, so that a folder, a
device such as /dev/zero, a named pipe or a symbolic-link loop gets its own message
and is never read (reading a pipe would block for ever). Files are read up to
their limit (`allocator.scenario.limits`), as UTF-8 (a byte-order mark is
dropped), and every number in a TOML file is checked to be finite and of a sane
size before anything uses it.
"""

from __future__ import annotations

import codecs
import errno
import math
import os
import stat
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from allocator.errors import Problem, ScenarioError
from allocator.format import plain
from allocator.scenario import limits

FILE, FOLDER, MISSING, OTHER = "file", "folder", "missing", "other"
NOT_FOUND = "file not found"
BOM = b"\xef\xbb\xbf"


def describe(path: Path) -> tuple[str, str]:
    """(kind, what to tell the user) of ``path``, from ``os.stat`` alone: nothing is opened."""
    try:
        info = os.stat(path)
    except ValueError:
        return OTHER, "not a usable file name (it holds a NUL character)"
    except OSError as exc:
        return _stat_error(path, exc)
    mode = info.st_mode
    if stat.S_ISREG(mode):
        return FILE, ""
    if stat.S_ISDIR(mode):
        return FOLDER, "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return OTHER, "is a named pipe (FIFO), not a regular file: it is not read"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return OTHER, "is a device (like /dev/zero), not a regular file: it is not read"
    if stat.S_ISSOCK(mode):
        return OTHER, "is a socket, not a regular file: it is not read"
    return OTHER, "is not a regular file: it is not read"


def _stat_error(path: Path, exc: OSError) -> tuple[str, str]:
    if exc.errno == errno.ELOOP:
        return OTHER, "is a symbolic link loop (a link that leads back to itself)"
    if exc.errno == errno.ENOENT:
        if os.path.islink(path):
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            return MISSING, f"{NOT_FOUND} (a symbolic link to '{target}', which does not exist)"
        return MISSING, NOT_FOUND
    if exc.errno == errno.ENOTDIR:
        return MISSING, f"{NOT_FOUND} (a part of the path is a file, not a folder)"
    if exc.errno == errno.EACCES:
        return OTHER, "cannot be opened: permission denied"
    if exc.errno == errno.ENAMETOOLONG:
        return OTHER, "the file name is too long"
    return OTHER, f"cannot be opened: {exc.strerror or exc}"


def too_large(display: str, found: str, limit: str, name: str) -> ScenarioError:
    """The error for a file over one of the limits (``name``: its constant in `limits`)."""
    return ScenarioError([Problem(display, f"too large: {found}; the limit is {limit} "
                                  f"(allocator.scenario.limits.{name})")])


def open_regular(path: Path, display: str, limit: int, limit_name: str) -> BinaryIO:
    """``path`` opened for reading if it is a regular file of at most ``limit`` bytes.

    Anything else raises `ScenarioError` without being read: a pipe or a device is
    opened, if ever, only after ``stat`` says it is a regular file, and without
    blocking (it could have been swapped in between).
    """
    kind, text = describe(path)
    if kind != FILE:
        raise ScenarioError([Problem(display, text)])
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ScenarioError([Problem(display, _stat_error(path, exc)[1])]) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ScenarioError([Problem(display, "is not a regular file: it is not read")])
    if info.st_size > limit:
        os.close(fd)
        raise too_large(display, limits.size(info.st_size), limits.size(limit), limit_name)
    return os.fdopen(fd, "rb")


def read_bytes(path: Path, display: str, limit: int, limit_name: str) -> bytes:
    """Every byte of a regular file of at most ``limit`` bytes (see `open_regular`)."""
    with open_regular(path, display, limit, limit_name) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise ScenarioError([Problem(display, f"cannot be read: {exc.strerror or exc}")]) from None
    if len(data) > limit:
        raise too_large(display, f"more than {limits.size(limit)}", limits.size(limit), limit_name)
    return data


def decode(data: bytes, display: str) -> str:
    """UTF-8 text (a leading byte-order mark dropped); other bytes are a problem naming their place."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(data, exc.start + (3 if data.startswith(BOM) else 0), display) from None


def check_utf8(data: bytes, display: str, chunk: int = 1 << 24) -> None:
    """`decode`'s check without the text: for large files, whose text would take 4 bytes a letter."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for start in range(0, max(len(data), 1), chunk):
        pending = len(decoder.getstate()[0])  # bytes of a letter cut by the previous chunk
        try:
            decoder.decode(data[start:start + chunk], final=start + chunk >= len(data))
        except UnicodeDecodeError as exc:
            raise _not_utf8(data, start - pending + exc.start, display) from None


def _not_utf8(data: bytes, start: int, display: str) -> ScenarioError:
    line = data.count(b"\n", 0, start) + 1
    column = start - (data.rfind(b"\n", 0, start) + 1) + 1
    hint = "save it as UTF-8 text"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = "it looks like UTF-16 text: save it as UTF-8"
    elif data[:4] == b"PK\x03\x04":
        hint = "it is a zip archive (an XLSX workbook?), not text"
    shown = f"byte 0x{data[start]:02X}" if start < len(data) else "the last bytes"
    return ScenarioError([Problem(display, f"not UTF-8 text: {shown} at line {line}, column {column} "
                                  f"cannot be read ({hint})")])


def read_text(path: Path, display: str, limit: int, limit_name: str) -> str:
    return decode(read_bytes(path, display, limit, limit_name), display)


Allow = Callable[[tuple, float], bool]


def read_toml(path: Path, display: str, *, missing: str | None = None,
              allow: Allow | None = None) -> dict | None:
    """A TOML file as a dict, with every number finite and of a sane size; else `ScenarioError`.

    ``missing``: None if a missing file is fine (None is returned), else the text to add
    to "file not found". ``allow(path, value)`` may accept a number the check would refuse.
    """
    kind, text = describe(path)
    if kind == MISSING and missing is None:
        return None
    if kind != FILE:
        raise ScenarioError([Problem(display, text + (missing if kind == MISSING and missing else ""))])
    text = read_text(path, display, limits.MAX_TOML_BYTES, "MAX_TOML_BYTES")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Problem(display, f"not valid TOML: {exc}")]) from None
    except ValueError as exc:  # an integer of thousands of digits
        raise ScenarioError([Problem(display, f"not valid TOML: {exc}")]) from None
    except RecursionError:
        raise ScenarioError([Problem(display, "not valid TOML: lists or tables nested too deeply")]) from None
    problems = check_numbers(data, display, allow)
    if problems:
        raise ScenarioError(problems)
    return data


def number_problem(value: object) -> str | None:
    """Why ``value`` (an int or a float) cannot be used as a number, or None if it can."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and math.isnan(value):
        return "expected a number, got nan (not a number)"
    if isinstance(value, float) and math.isinf(value):
        return f"expected a finite number, got {'-' if value < 0 else ''}inf"
    if abs(value) > limits.MAX_NUMBER:
        if isinstance(value, int) and value.bit_length() > 64:
            shown = f"a number of about {int(value.bit_length() * math.log10(2)) + 1} digits"
        else:
            shown = f"{float(value):.4g}"
        return f"expected a number of at most {plain(limits.MAX_NUMBER)} in size, got {shown}"
    return None


def where(path: tuple, data: dict) -> str:
    """``('budget', 'total_gbp')`` -> ``"[budget] 'total_gbp'"``; ``('option', 0, 'x')`` ->
    ``"[[option]] number 1 'x'"``; a top-level key -> ``"'key'"``."""
    head, rest = path[0], list(path[1:])
    value = data.get(head)
    if isinstance(value, dict) and rest:
        text = f"[{head}]"
    elif isinstance(value, list) and rest and isinstance(rest[0], int) and all(
            isinstance(v, dict) for v in value) and len(rest) > 1:
        text, rest = f"[[{head}]] number {rest[0] + 1}", rest[1:]
    else:
        text, rest = "", [head, *rest]
    key = ""
    for part in rest:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return f"{text} '{key}'".strip() if key else text


def check_numbers(data: dict, display: str, allow: Allow | None = None) -> list[Problem]:
    """A problem for every number in ``data`` that is not finite or too large (first 20, then a count)."""
    problems: list[Problem] = []
    more = 0
    stack: list[tuple[tuple, object]] = [((k,), v) for k, v in reversed(list(data.items()))]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((path + (k,), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((path + (i,), v) for i, v in reversed(list(enumerate(value))))
        else:
            reason = number_problem(value)
            if reason is None or (allow is not None and allow(path, value)):
                continue
            if len(problems) < limits.MAX_PROBLEMS_PER_COLUMN:
                problems.append(Problem(display, f"{where(path, data)}: {reason}"))
            else:
                more += 1
    if more:
        problems.insert(0, Problem(display, f"{len(problems) + more:,} numbers are not finite or too "
                                   f"large: the first {len(problems)} are listed, +{more:,} more"))
    return problems
