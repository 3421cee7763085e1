"""A sweep's output store: every finished point saved as it arrives, in SQLite.

One file, ``sweep.sqlite`` in the sweep's output folder, holds the plan (what
was asked for) and one row per finished point (its status, its reason if it
failed, its measures).  Each batch of arriving points is one transaction, so a
crash, a kill or Ctrl-C loses at most the points still being computed; a point
is inserted once (the point id is the primary key: a second insert is an
error, never a silent overwrite).  ``--resume`` reads which points are done
and runs only the others.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import AllocatorError

FILENAME = "sweep.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY, started REAL NOT NULL, finished REAL,
                                 executor TEXT NOT NULL, points INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS points (point INTEGER PRIMARY KEY, status TEXT NOT NULL, reason TEXT NOT NULL,
                                   seconds REAL NOT NULL, run INTEGER NOT NULL, measures TEXT NOT NULL);
"""


class StoreError(AllocatorError):
    """The output folder holds a different sweep, or a store that cannot be used (exit code 2)."""


class Store:
    """The SQLite file of one sweep; open with `Store.open`."""

    def __init__(self, path: Path, connection: sqlite3.Connection, run: int):
        self.path = path
        self._db = connection
        self.run = run
        self._lock = None

    @classmethod
    def open(cls, folder: Path, plan: dict, *, resume: bool, executor: str) -> "Store":
        """Open (or create) the store in ``folder`` for ``plan``.

        A new sweep refuses a folder that already holds points (nothing is overwritten);
        ``resume`` refuses a store made for a different plan.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / FILENAME
        lock = _lock(folder)
        try:
            return cls._open(path, plan, resume, executor, lock)
        except BaseException:
            _unlock(lock)
            raise

    @classmethod
    def _open(cls, path: Path, plan: dict, resume: bool, executor: str, lock) -> "Store":
        existed = path.exists()
        try:
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not a sweep store ({exc}); choose another --out") from None
        text = json.dumps(plan, sort_keys=True)
        row = db.execute("SELECT value FROM meta WHERE key = 'plan'").fetchone()
        done = db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        if row is not None and row[0] != text:
            db.close()
            old = json.loads(row[0])
            words = {"scenario": "the scenario (its files or settings)", "solver": "the solver settings"}
            differ = sorted(words.get(k, k) for k in set(old) | set(plan) if old.get(k) != plan.get(k))
            raise StoreError(f"{path} holds a different sweep ({done} points done; it differs in: "
                             f"{', '.join(differ)}): resume it with the same settings, or choose "
                             "another --out")
        if existed and done and not resume:
            db.close()
            raise StoreError(f"{path} already holds this sweep with {done} of {len(plan['points'])} "
                             "points done: add --resume to run only the missing points, or choose "
                             "another --out")
        if row is None:
            db.execute("INSERT INTO meta VALUES ('plan', ?)", (text,))
        cur = db.execute("INSERT INTO runs (started, executor) VALUES (?, ?)", (time.time(), executor))
        store = cls(path, db, int(cur.lastrowid))
        store._lock = lock
        return store

    def done(self) -> set[int]:
        """Ids of the points already saved."""
        return {r[0] for r in self._db.execute("SELECT point FROM points")}

    def add(self, results: list[dict]) -> None:
        """Save finished points, all in one transaction."""
        if not results:
            return
        rows = [(int(r["point"]), r["status"], r["reason"], float(r["seconds"]), self.run,
                 json.dumps(r["measures"], allow_nan=True)) for r in results]
        with self._writing():
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT INTO points VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("UPDATE runs SET points = points + ? WHERE run = ?", (len(rows), self.run))

    def finish(self) -> None:
        with self._writing():
            self._db.execute("UPDATE runs SET finished = ? WHERE run = ?", (time.time(), self.run))

    @contextlib.contextmanager
    def _writing(self):
        """A write the disk refuses (full, read-only, gone) is bad output, exit 2, not a traceback;
        the points saved before it stay saved (each batch is one transaction)."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: cannot save the finished points ({exc}): free some space or "
                             "choose another --out, then run again with --resume") from None

    def runs(self) -> pd.DataFrame:
        """One row per invocation: when, on what, how many points it saved."""
        return pd.read_sql_query("SELECT * FROM runs ORDER BY run", self._db)

    def results(self) -> list[dict]:
        """Every saved point, in point order."""
        out = []
        for point, status, reason, seconds, run, measures in self._db.execute(
                "SELECT point, status, reason, seconds, run, measures FROM points ORDER BY point"):
            out.append({"point": point, "status": status, "reason": reason, "seconds": seconds,
                        "run": run, "measures": json.loads(measures)})
        return out

    def close(self) -> None:
        """Close; back to a single file (the write-ahead log folded in) when nothing else reads it."""
        # another reader may hold it (OperationalError): the log then stays, still consistent
        with contextlib.suppress(sqlite3.OperationalError):
            self._db.execute("PRAGMA journal_mode=DELETE")
        self._db.close()
        _unlock(self._lock)


def _lock(folder: Path):
    """An exclusive lock on the folder's store, or `StoreError` if another sweep holds it.

    The lock file ``sweep.lock`` exists only while a sweep holds it: the holder removes it
    before letting go, and a sweep that locked a file already removed (it opened it just
    before) gives up as if the lock were taken, so two sweeps never hold two files.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (one sweep per folder is then the user's care)
        return None
    path = folder / "sweep.lock"
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(handle.fileno()).st_ino != os.stat(path).st_ino:
            raise OSError("the lock file was replaced")
    except OSError:
        handle.close()
        raise StoreError(f"another sweep is writing to {folder}: wait for it, or choose another --out") from None
    return handle


def _unlock(handle) -> None:
    if handle is not None:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)  # while still holding it: see _lock
        handle.close()  # closing the file releases the lock


def read(folder: Path) -> tuple[dict, list[dict]]:
    """The plan and saved points of the store in ``folder`` (read only)."""
    path = Path(folder) / FILENAME
    if not path.is_file():
        raise StoreError(f"{path}: no sweep store here")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        plan = json.loads(db.execute("SELECT value FROM meta WHERE key = 'plan'").fetchone()[0])
        points = [{"point": p, "status": s, "reason": r, "seconds": t, "run": n, "measures": json.loads(m)}
                  for p, s, r, t, n, m in db.execute(
                      "SELECT point, status, reason, seconds, run, measures FROM points ORDER BY point")]
    finally:
        db.close()
    return plan, points


def finite(value: float) -> float | None:
    """JSON has no NaN: store None for it."""
    return float(value) if np.isfinite(value) else None
