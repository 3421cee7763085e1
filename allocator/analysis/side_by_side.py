"""Independent re-solves side by side, in threads: an explanation's waterfall steps and a plan's
rule prices are each a handful of solves that do not depend on one another.

HiGHS runs one solve on one core and releases the GIL while it does, so two threads on this 2-core
machine nearly halve the time (england-la-plan's six rule prices: 70 -> 39 s; benchmarks/README.md,
session 29).  Each piece of work runs in a copy of the caller's context (its deadline, so a
command's time limit still holds), but silently (the caller reports each piece as it waits for it,
in order) and without the caller's warm starts (a `warm_starts` block is for work done in one fixed
order).  Results come back in the order of the items, whatever order they finish in, so a run is
repeatable.

>>> in_order(lambda n: n * n, [1, 2, 3])
[1, 4, 9]
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from allocator.model.highs import cold_starts
from allocator.progress import reporting

WORKERS = 2  # threads at once: the cores of the machine the targets are set for (a national plan ~1 GB each)

T = TypeVar("T")
R = TypeVar("R")


def in_order(work: Callable[[T], R], items: Iterable[T], say: Callable[[int, T], None] | None = None,
             workers: int = WORKERS) -> list[R]:
    """``work(item)`` for every item, up to ``workers`` at a time; ``say(k, item)`` before the
    k-th result is waited for (progress).  The first error (in the items' order) is raised once
    the work already started has stopped; work not yet started is cancelled."""
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max(1, min(workers, len(items)))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, _quietly, work, item) for item in items]
        try:
            results = []
            for k, (item, future) in enumerate(zip(items, futures)):
                if say is not None:
                    say(k, item)
                results.append(future.result())
            return results
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _quietly(work: Callable[[T], R], item: T) -> R:
    with reporting(None), cold_starts():
        return work(item)
