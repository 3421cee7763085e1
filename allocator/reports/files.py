"""The one output layer: every file allocator writes passes through here.

An `output` is a transaction on one folder: the folder is created if missing and
locked (``.allocator.lock``, held with ``flock`` and removed before it is let go),
each write is checked (never over an input, never over a folder or a device,
never outside the folder) and staged in a hidden folder beside its target, and
only when every file is written are they all renamed into place.  A failure at
any point (a full disk, a read-only folder, a name too long, an input in the way)
is an `OutputError` that names the path and what to do, and leaves the folder as
it was: nothing half-written, earlier outputs untouched.  `atomic_write` outside
an open `output` opens one for the file's own folder.

File names that come from input (option names, group columns) go through
`unique_stems`: a safe stem, unique ignoring case, never a path, never a name
allocator itself writes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from allocator.errors import AllocatorError

LOCK = ".allocator.lock"
STAGING = ".allocator-staging-"
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
RUNS = re.compile(r"[-.]*-[-.]*|\.{2,}")  # '-.-', '--', '..': one '-' (never a '..' in a name)
MAX_STEM = 64
DEVICES = {"con", "prn", "aux", "nul", *(f"com{k}" for k in range(1, 10)), *(f"lpt{k}" for k in range(1, 10))}


class OutputError(AllocatorError):
    """An output cannot be written where it was asked for (exit code 2)."""

    exit_code = 2


# -- names --------------------------------------------------------------------------------
def safe_stem(name: object, *, lower: bool = False, fallback: str = "item") -> str:
    """A file name stem from a name in the input: ASCII letters, digits, '.', '_' and '-'.

    Never empty, never hidden or option-like (no leading '.' or '-'), never a path, at
    most 64 characters, never a name Windows reserves for a device.

    Examples
    --------
    >>> safe_stem("+10% for the most deprived", lower=True)
    '10-for-the-most-deprived'
    >>> safe_stem("x/../../../ESCAPED")
    'x-ESCAPED'
    >>> safe_stem("..", fallback="option"), safe_stem("NUL")
    ('option', 'item-NUL')
    """
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = RUNS.sub("-", UNSAFE.sub("-", text)).strip("-._")
    text = (text.lower() if lower else text)[:MAX_STEM].rstrip("-._")
    if not text:
        return fallback
    return f"{fallback}-{text}" if text.split(".")[0].lower() in DEVICES else text


def unique_stems(names: Iterable[object], *, prefix: str = "", lower: bool = False,
                 reserved: Iterable[str] = (), fallback: str = "item") -> list[str]:
    """A safe stem for each name (see `safe_stem`), unique ignoring case and never reserved.

    Examples
    --------
    >>> unique_stems(["Fair share", "fair share", "Fair/share"], lower=True)
    ['fair-share', 'fair-share-2', 'fair-share-3']
    >>> unique_stems(["area", "region"], prefix="by_", reserved={"by_area"})
    ['by_area-2', 'by_region']
    """
    taken = {r.lower() for r in reserved}
    stems = []
    for name in names:
        base = prefix + safe_stem(name, lower=lower, fallback=fallback)
        stem, number = base, 1
        while stem.lower() in taken:
            number += 1
            stem = f"{base}-{number}"
        taken.add(stem.lower())
        stems.append(stem)
    return stems


# -- what went wrong, in words --------------------------------------------------------------
REASONS = {
    errno.ENOSPC: ("the disk is full", "free some space, or choose another {option}"),
    errno.EDQUOT: ("the disk quota is used up", "free some space, or choose another {option}"),
    errno.EACCES: ("permission denied", "choose a folder you may write to with {option}"),
    errno.EPERM: ("permission denied", "choose a folder you may write to with {option}"),
    errno.EROFS: ("the file system is read-only", "choose a folder you may write to with {option}"),
    errno.ENAMETOOLONG: ("the name is too long", "choose a shorter {option}"),
    errno.EEXIST: ("a file is in the way of a folder", "give {option} a folder (it is created if missing)"),
    errno.ENOTDIR: ("a file is in the way of a folder", "give {option} a folder (it is created if missing)"),
    errno.EISDIR: ("it is a folder", "give {option} a file name"),
    errno.ENOENT: ("no such file or folder", "check the path given to {option}"),
}


def describe(exc: OSError, option: str = "--out") -> str:
    """The reason of an operating-system error and what to do, in a few words."""
    reason, advice = REASONS.get(exc.errno, (exc.strerror or str(exc), "choose another {option}"))
    return f"{reason}; {advice.format(option=option)}"


def os_message(exc: OSError, path: object = None, option: str = "--out") -> str:
    """One line: the place written, what went wrong, what to do."""
    place = path if path is not None else (exc.filename if exc.filename is not None else "a file")
    return f"cannot write {place}: {describe(exc, option)}"


def any_os_message(exc: OSError) -> str:
    """One line for an operating-system error met anywhere (reading or writing): the place, the reason."""
    reason = REASONS.get(exc.errno, (exc.strerror or str(exc),))[0]
    place = exc.filename if exc.filename is not None else "a file or folder"
    return f"{place}: {reason} ({exc.strerror or exc}); check the path and try again"


# -- writing ----------------------------------------------------------------------------------
def _write_bytes(path: Path, data: bytes) -> None:
    """The low-level write: a new file, its bytes, flushed to the disk."""
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _lock(folder: Path, option: str):
    """An exclusive lock on ``folder``, or `OutputError` if another command holds it.

    As for a sweep's store: the lock file exists only while held; the holder removes it
    before letting go, and a command that locked a file already removed gives up as if
    the lock were taken, so two commands never hold two files.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return None
    path = folder / LOCK
    handle = open(path, "a+")  # an error here (read-only, ...) is the caller's to describe
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(handle.fileno()).st_ino != os.stat(path).st_ino:
            raise BlockingIOError(errno.EAGAIN, "the lock file was replaced")
    except OSError as exc:
        handle.close()
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOENT):
            raise OutputError(f"another allocator command is writing to {folder}: wait for it to "
                              f"finish, or choose another {option}") from None
        raise
    return handle


def _unlock(handle) -> None:
    if handle is not None:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)  # while still holding it: see _lock
        handle.close()


class Output:
    """One command's writes to one folder: locked, checked, staged, then moved into place."""

    def __init__(self, folder: Path, protected: Iterable[Path], option: str):
        self.folder = Path(folder)
        self.root = self.folder.resolve()
        self.protected = {Path(p).resolve() for p in protected}
        self.option = option
        self._staged: dict[Path, Path] = {}
        self._count = 0
        self._created: list[Path] = []
        self._lock = None
        self._stage: Path | None = None

    def open(self) -> None:
        try:
            for folder in reversed([self.folder, *self.folder.parents]):
                if not folder.exists() and not folder.is_symlink():
                    try:
                        folder.mkdir()
                        self._created.append(folder)
                    except FileExistsError:  # made by another command just now: checked below
                        pass
            if not self.folder.is_dir():
                raise OutputError(f"cannot write in {self.folder}: it is a file, not a folder; choose "
                                  f"another {self.option}")
            self._lock = _lock(self.folder, self.option)
            for stale in self.folder.glob(STAGING + "*"):  # left by a killed command: ours now
                shutil.rmtree(stale, ignore_errors=True)
            self._stage = Path(tempfile.mkdtemp(prefix=STAGING, dir=self.folder))
        except OSError as exc:
            self.close(committed=False)
            raise OutputError(f"cannot write in {self.folder}: {describe(exc, self.option)}") from None
        except BaseException:
            self.close(committed=False)
            raise

    def covers(self, path: Path) -> bool:
        resolved = Path(path).resolve()
        return resolved == self.root or self.root in resolved.parents

    def check(self, path: Path, protected: Iterable[Path] = ()) -> None:
        """Refuse a target that is an input, a folder, a device, or inside a file."""
        try:
            self._check(Path(path), protected)
        except OSError as exc:  # a name too long, a folder that cannot be read, ...
            raise OutputError(os_message(exc, path, self.option)) from None

    def _check(self, path: Path, protected: Iterable[Path]) -> None:
        if path.resolve() in self.protected | {Path(p).resolve() for p in protected}:
            raise OutputError(f"refusing to overwrite the input file {path}: choose another {self.option}")
        for parent in path.parents:
            if self.root not in parent.resolve().parents:
                break
            if parent.exists() and not parent.is_dir():
                raise OutputError(f"cannot write {path}: {parent} is a file in the way of a folder; "
                                  f"move it, or choose another {self.option}")
        if path.exists() or path.is_symlink():
            mode = os.stat(path).st_mode if path.exists() else 0
            if stat.S_ISDIR(mode):
                raise OutputError(f"cannot write {path}: it is a folder; give {self.option} a file name, "
                                  "or move the folder")
            if not stat.S_ISREG(mode):
                raise OutputError(f"cannot write {path}: it is not a regular file (a device, a pipe or a "
                                  f"broken link); choose another {self.option}")

    def put(self, path: Path, data: bytes, protected: Iterable[Path] = ()) -> None:
        """Stage ``data`` for ``path`` (written into place when the output is committed)."""
        self.external(path, lambda temp: _write_bytes(temp, data), protected)

    def external(self, path: Path, write: Callable[[Path], None], protected: Iterable[Path] = ()) -> None:
        """Stage a file that ``write(temporary_path)`` writes (e.g. a library's own writer)."""
        path = Path(path)
        if not self.covers(path):  # names from the input are made safe before they get here
            raise OutputError(f"refusing to write {path}: it is outside {self.folder}")
        self.check(path, protected)
        self._count += 1
        temp = self._stage / f"{self._count}{''.join(path.suffixes[-1:])}"
        try:
            write(temp)
        except OSError as exc:
            raise OutputError(os_message(exc, path, self.option)) from None
        replaced = self._staged.pop(path, None)  # written twice: the later bytes win
        if replaced is not None:
            replaced.unlink(missing_ok=True)
        self._staged[path] = temp

    def commit(self) -> None:
        path = self.folder
        try:
            for path, temp in self._staged.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp, path)
        except OSError as exc:
            raise OutputError(os_message(exc, path, self.option)) from None

    def close(self, committed: bool) -> None:
        if self._stage is not None:
            shutil.rmtree(self._stage, ignore_errors=True)
        _unlock(self._lock)
        self._lock = None
        if not committed:  # folders made for nothing go again
            for folder in reversed(self._created):
                with contextlib.suppress(OSError):
                    folder.rmdir()


_OPEN: list[Output] = []  # the outputs open in this process, outermost first


@contextlib.contextmanager
def output(folder: str | Path, protected: Iterable[Path] = (), option: str = "--out") -> Iterator[Output]:
    """Write into ``folder`` all at once: see the module's docstring.

    Inside an output already open on the folder (or one containing it), joins it: its
    files are committed with the outer ones, and ``protected`` is added to its inputs.
    """
    folder = Path(folder)
    covering = [o for o in _OPEN if o.covers(folder)]
    outer = max(covering, key=lambda o: len(o.root.parts)) if covering else None  # the innermost
    if outer is not None:
        outer.protected |= {Path(p).resolve() for p in protected}
        yield outer
        return
    current = Output(folder, protected, option)
    current.open()
    _OPEN.append(current)
    committed = False
    try:
        yield current
        current.commit()
        committed = True
    finally:
        _OPEN.remove(current)
        current.close(committed)


def atomic_write(path: str | Path, data: bytes, protected: Iterable[Path] = frozenset(),
                 option: str = "--out") -> None:
    """Write ``data`` to ``path`` through the output open on its folder (or a new one)."""
    path = Path(path)
    with output(path.parent, option=option) as out:
        out.put(path, data, protected)
