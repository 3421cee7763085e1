"""Run a sweep's points: in this process, in local worker processes, or on a Dask cluster.

The unit of work is a *chunk*: consecutive points of the plan, solved in order by
one worker with one `Resolver`, so each point warm-starts from the one before.
Chunks are fixed by the plan (not by the number of workers or the executor), and
each chunk starts from the same basis (the anchor: the scenario as loaded, solved
once before the chunks are handed out; `anchored`), so a point's result depends
only on the plan: the same sweep gives the same numbers in one process, in N
processes or on Dask.

Each executor calls ``on_result(list_of_points)`` as points finish: every point
as it finishes locally, every chunk as it finishes on Dask.  Local workers talk
to the parent over their own pipes (no shared lock a killed worker could hold);
a worker that dies has the unfinished part of its chunk handed to a new worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import os
import pickle
import signal
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import wait

import numpy as np

from allocator.errors import (
    AllocatorError,
    InfeasibleError,
    InvariantError,
    ScenarioError,
    SolverError,
)
from allocator.scenario import Scenario, check_budget
from allocator.scenario.options import OptionSpec
from allocator.scenario.options import apply as apply_option

MAX_RESTARTS = 5


class WorkerError(AllocatorError):
    """Local worker processes keep dying: the sweep stops, saved points are kept (exit code 1)."""

    exit_code = 1


@dataclass(frozen=True)
class Context:
    """What every worker needs once: the scenario, its options and the solver settings."""

    scenario: Scenario
    options: dict[str, OptionSpec] = field(default_factory=dict)
    solver: str = "highs"
    method: str = "auto"
    time_limit: float | None = None
    anchor: object | None = None  # allocator.model.resolve.Anchor: where each chunk's first solve starts


def anchored(context: Context) -> Context:
    """``context`` with its anchor: the scenario as loaded, solved once, whose optimal basis
    every chunk's first point starts from (`allocator.model.resolve`), so that no chunk pays
    a cold start and every chunk starts the same way on any executor.  Unchanged when the
    scenario is not solved by a HiGHS LP (fair share's own algorithm, a MILP, CBC) or cannot
    be solved: its chunks start cold, as before."""
    from allocator.model.lp import build
    from allocator.model.resolve import Resolver
    from allocator.progress import stage

    scenario = context.scenario
    if context.solver != "highs" or scenario.objective == "fair-share" or (
            scenario.plan is not None and scenario.plan.years > 1):
        return context
    try:
        lp = build(scenario)
        if lp.integrality is not None:
            return context
        stage("Solving the scenario as loaded (every chunk of points starts from its basis)")
        resolver = Resolver()
        resolver.solve(lp, method=context.method, time_limit=context.time_limit)
    except AllocatorError:
        return context
    return dataclasses.replace(context, anchor=resolver.anchor_of(lp))


def _measures(result) -> list[list]:
    from allocator.analysis.store import finite

    rows = [[m, u, finite(b), finite(a), finite(c)] for m, u, b, a, c in result.gradient.metrics[
        ["measure", "units", "before", "after", "change"]].itertuples(index=False)]
    rows.append(["objective", "objective", None, finite(result.solution.objective), None])
    return rows


def run_point(context: Context, point: dict, resolver=None) -> dict:
    """Solve one point; failures become a status and a reason, never an exception."""
    from allocator.analysis.pipeline import run
    from allocator.model.diagnose import explain
    from allocator.scenario import parameters

    start = time.perf_counter()
    out = {"point": point["point"], "status": "ok", "reason": "", "measures": []}
    scenario = None
    try:
        scenario = context.scenario
        option = point.get("option", "base")
        if option != "base":
            scenario = apply_option(scenario, context.options[option])
        scenario = parameters.apply(scenario, point["values"], check=False)
        try:
            check_budget(scenario)
        except ScenarioError as exc:
            raise InfeasibleError("; ".join(p.message for p in exc.problems)) from None
        result = run(scenario, solver=context.solver, method=context.method,
                     time_limit=context.time_limit, resolver=resolver, tables=False)
        out["measures"] = _measures(result)
    except InfeasibleError as exc:
        out["status"], out["reason"] = "infeasible", str(exc)
        if scenario is not None and "proved" in str(exc):
            with contextlib.suppress(Exception):  # the explanation is a courtesy; the status stands
                out["reason"] = explain(scenario)
    except ScenarioError as exc:
        out["status"], out["reason"] = "invalid", "; ".join(p.message for p in exc.problems)
    except SolverError as exc:
        out["status"], out["reason"] = "solver error", str(exc)
    except InvariantError as exc:
        out["status"], out["reason"] = "error", f"invariant violated (a bug in allocator): {exc}"
    except Exception as exc:  # a bug must not stop a long sweep: record it and go on
        last = traceback.extract_tb(exc.__traceback__)[-1]
        out["status"] = "error"
        out["reason"] = f"{type(exc).__name__}: {exc} (at {os.path.basename(last.filename)}:{last.lineno})"
    out["seconds"] = time.perf_counter() - start
    return out


def run_chunk(context: Context, points: list[dict]):
    """Yield the result of each point of one chunk, warm-starting each from the one before."""
    from allocator.model.resolve import Resolver

    resolver = Resolver(slots=4, anchor=context.anchor)
    for point in points:
        yield run_point(context, point, resolver)


def chunk_results(context: Context, points: list[dict]) -> list[dict]:
    """A whole chunk's results (the Dask task)."""
    return list(run_chunk(context, points))


# ---------------------------------------------------------------- executors


def run_serial(context: Context, chunks: list[list[dict]], on_result) -> None:
    for chunk in chunks:
        for result in run_chunk(context, chunk):
            on_result([result])


def _serve(conn, context_file: str) -> None:
    """A local worker: read the context, say so, then run chunks and send back each point."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C stops
    try:
        with open(context_file, "rb") as handle:
            context = pickle.load(handle)
        conn.send(("ready", None))
        while True:
            chunk = conn.recv()
            if chunk is None:
                return
            for result in run_chunk(context, chunk):
                conn.send(("point", result))
            conn.send(("done", None))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the parent has gone


@dataclass
class _Worker:
    process: mp.Process
    conn: object
    chunk: list[dict] | None = None
    received: set = field(default_factory=set)
    spoke: bool = False  # said it is ready (read the context)


def run_local(context: Context, chunks: list[list[dict]], on_result, workers: int) -> None:
    """Run chunks on ``workers`` local processes; a dead worker's unfinished points are re-run."""
    ctx = mp.get_context("spawn")
    with _context_file(context) as context_file:
        local = _LocalWorkers(ctx, context_file, [list(c) for c in chunks], on_result)
        try:
            local.start_workers(workers)
            local.dispatch()
        finally:
            local.stop()


@contextlib.contextmanager
def _context_file(context: Context):
    """The pickled context in a file the workers can open (a pipe would make start() wait for
    each reader), which nothing outlives: on Linux the file is unlinked at once and workers open
    it through /proc while this process holds it, so even a ``kill -9`` of this process leaves no
    file behind; elsewhere it is removed when the sweep ends."""
    handle, path = tempfile.mkstemp(prefix="allocator-sweep-", suffix=".pickle")
    try:
        with os.fdopen(os.dup(handle), "wb") as out:
            pickle.dump(context, out)
        held = f"/proc/{os.getpid()}/fd/{handle}"
        if os.path.exists(held):
            os.unlink(path)
            path = held
        yield path
    finally:
        os.close(handle)
        with contextlib.suppress(FileNotFoundError):
            if not path.startswith("/proc/"):
                os.unlink(path)


class _LocalWorkers:
    """The local worker processes of one `run_local`, the chunks not yet handed out, the restarts."""

    def __init__(self, ctx, context_file: str, pending: list[list[dict]], on_result):
        self.ctx, self.context_file, self.on_result = ctx, context_file, on_result
        self.pending = pending
        self.pool: list[_Worker] = []
        self.restarts = 0
        self.mute_deaths = 0  # workers that died before sending anything: they could not start

    def start(self) -> _Worker:
        parent, child = self.ctx.Pipe()
        process = self.ctx.Process(target=_serve, args=(child, self.context_file), daemon=True)
        with _sigint_ignored():  # inherited through exec: Ctrl-C during its start-up is the parent's
            process.start()
        child.close()
        return _Worker(process, parent)

    def feed(self, w: _Worker) -> None:
        w.chunk = self.pending.pop(0) if self.pending else None
        w.received = set()
        with contextlib.suppress(BrokenPipeError, OSError):  # if it died, drain() finds out
            w.conn.send(w.chunk)  # (None: stop)                and its chunk goes to another worker

    def start_workers(self, workers: int) -> None:
        """Start up to ``workers`` processes, one chunk each."""
        for _ in range(min(workers, len(self.pending))):
            w = self.start()
            self.pool.append(w)
            self.feed(w)

    def dispatch(self) -> None:
        """Until every worker is idle: wait for a message or a death, then drain that worker."""
        while any(w.chunk is not None for w in self.pool):
            busy = [w for w in self.pool if w.chunk is not None]
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=1.0))
            for w in busy:
                if w.conn in ready or w.process.sentinel in ready:
                    self.drain(w)

    def drain(self, w: _Worker) -> None:
        """Pass on whatever ``w`` has sent; replace it if it died mid-chunk."""
        batch, dead = [], False
        try:
            while w.conn.poll():
                kind, value = w.conn.recv()
                if kind == "ready":  # it read the context: it started
                    w.spoke = True
                elif kind == "point":
                    batch.append(value)
                    w.received.add(value["point"])
                else:  # chunk done
                    self.on_result(batch)
                    batch = []
                    self.feed(w)
        except (EOFError, OSError):
            dead = True
        self.on_result(batch)
        if w.chunk is None or not (dead or not w.process.is_alive()):
            return
        self.replace(w)

    def replace(self, w: _Worker) -> None:
        """``w`` died mid-chunk: hand its unfinished points to a new worker, or give up."""
        self.restarts += 1
        self.mute_deaths += not w.spoke  # died before reading the context: could not start at all
        if self.mute_deaths >= 2:
            raise WorkerError(f"worker processes could not start (exit code {w.process.exitcode}). In a "
                              "script, call allocator.sweep under 'if __name__ == \"__main__\":' (workers "
                              "are new Python processes that import your script), or pass workers=1")
        rest = [q for q in w.chunk if q["point"] not in w.received]
        if self.restarts > MAX_RESTARTS:
            at = f", the last while solving point {rest[0]['point']}" if rest else ""
            raise WorkerError(f"local workers died {self.restarts} times (last exit code {w.process.exitcode}"
                              f"{at}); stopping: every finished point is saved, --resume runs the others")
        w.chunk = None
        w.conn.close()
        self.pool.remove(w)
        if rest:
            self.pending.insert(0, rest)
        if self.pending:
            fresh = self.start()
            self.pool.append(fresh)
            self.feed(fresh)

    def stop(self) -> None:
        """Terminate the workers still running and wait (a little) for every one."""
        for w in self.pool:
            if w.process.is_alive():
                w.process.terminate()
        for w in self.pool:
            w.process.join(timeout=5)


class _sigint_ignored:
    """Ignore SIGINT while starting a worker (main thread only), then restore the handler."""

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread: signals are not ours to change
            self.previous = None

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def run_dask(context: Context, chunks: list[list[dict]], on_result, scheduler) -> None:
    """Run chunks as tasks on a Dask distributed cluster (``pip install 'allocator[dask]'``).

    ``scheduler`` is an address (``tcp://host:8786``), a ``distributed.Client`` or a
    ``LocalCluster``.
    """
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise WorkerError("--scheduler needs Dask: pip install 'allocator[dask]'") from None
    own = not isinstance(scheduler, Client)
    if own:
        try:
            client = Client(scheduler, timeout=30)
        except (OSError, ValueError, TypeError) as exc:
            raise WorkerError(f"cannot use the Dask scheduler {scheduler!r}: {exc}") from None
    else:
        client = scheduler
    failed = []
    try:
        shared = client.scatter(context, broadcast=True)
        futures = [client.submit(chunk_results, shared, chunk, pure=False) for chunk in chunks]
        try:
            for future in as_completed(futures):
                try:
                    results = future.result()
                except Exception as exc:  # a killed Dask worker (KilledWorker), a lost task: not saved
                    failed.append(f"{type(exc).__name__}: {exc}")
                    continue
                on_result(results)
        finally:
            for future in futures:
                future.cancel()
    finally:
        if own:
            client.close()
    if failed:
        raise WorkerError(f"{len(failed)} of {len(chunks)} tasks failed on the Dask cluster (first: "
                          f"{failed[0]}); every other point is saved: --resume runs the missing ones")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def chunk_plan(n_points: int, size: int | None = None) -> int:
    """Points per chunk, whatever the executor: about 32 chunks of 8 to 50 points.

    Each chunk starts cold and a cold solve costs about as much as ten warm ones, so
    a chunk is at least 8 points long (or the whole sweep, if shorter).
    """
    if size is not None:
        return max(1, int(size))
    return int(np.clip(max(np.ceil(n_points / 32), min(n_points, 8)), 1, 50))
