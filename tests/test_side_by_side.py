"""Independent re-solves side by side (`allocator.analysis.side_by_side`)."""

from __future__ import annotations

import threading
import time

import pytest

from allocator.analysis.side_by_side import in_order
from allocator.model.highs import deadline, in_warm_starts, limited, warm_starts
from allocator.progress import reporting, stage


def test_results_come_back_in_the_items_order_whatever_order_they_finish_in():
    def slow_first(n: int) -> int:
        time.sleep(0.2 if n == 0 else 0.0)
        return n * 10

    assert in_order(slow_first, range(5)) == [0, 10, 20, 30, 40]


def test_two_run_at_once():
    both = threading.Barrier(2, timeout=5)  # broken (an error) unless two items run at the same time

    def meet(n: int) -> int:
        both.wait()
        return n

    assert in_order(meet, [1, 2]) == [1, 2]


def test_the_first_error_in_order_is_raised_and_work_not_started_is_cancelled():
    started = []

    def work(n: int) -> int:
        started.append(n)
        if n in (1, 2):
            time.sleep(0.1 * (3 - n))  # item 2 fails first in time, item 1 first in order
            raise ValueError(f"item {n}")
        time.sleep(0.02)
        return n

    with pytest.raises(ValueError, match="item 1"):
        in_order(work, range(50), workers=2)
    assert len(started) < 50


def test_work_keeps_the_callers_deadline_but_not_its_warm_starts_or_its_reporter():
    seen = []
    with reporting(seen.append), deadline(60.0), warm_starts():
        def work(_):
            stage("inside")  # silent: the caller reports each item itself
            return limited(None), in_warm_starts()

        results = in_order(work, [0, 1], say=lambda k, _: stage(f"item {k + 1}"))
    assert all(0 < left <= 60.0 and not warm for left, warm in results)
    assert seen == ["item 1", "item 2"]
