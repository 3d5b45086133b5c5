"""The threads blocking work runs on: every call's result or exception back to its caller,
also in a burst whose results come back together, on threads that ran their initializer."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bots.threads import Threads


async def test_results_and_exceptions_come_back_to_each_caller():
    marked = threading.local()
    threads = Threads(3, "work", lambda: setattr(marked, "ready", True))

    def square(number: int) -> tuple[int, str, bool]:
        if number == 7:
            raise ValueError("seven")
        return number * number, threading.current_thread().name, marked.ready

    calls = [asyncio.ensure_future(threads.run(square, number)) for number in range(500)]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    threads.shutdown()
    assert isinstance(outcomes[7], ValueError) and str(outcomes[7]) == "seven"
    assert [outcome[0] for number, outcome in enumerate(outcomes) if number != 7] == [
        number * number for number in range(500) if number != 7]
    assert {outcome[1] for number, outcome in enumerate(outcomes) if number != 7} <= {
        "work_0", "work_1", "work_2"}
    assert all(outcome[2] for number, outcome in enumerate(outcomes) if number != 7)


async def test_a_caller_that_gives_up_does_not_disturb_the_others():
    threads = Threads(1, "work")
    release = threading.Event()
    slow = asyncio.ensure_future(threads.run(release.wait, 10))
    fast = asyncio.ensure_future(threads.run(lambda: "done"))
    await asyncio.sleep(0)
    slow.cancel()
    release.set()
    assert await fast == "done"
    with pytest.raises(asyncio.CancelledError):
        await slow
    threads.shutdown()


async def test_shutdown_lets_queued_work_finish():
    threads = Threads(2, "work")
    finished = []
    calls = [asyncio.ensure_future(threads.run(finished.append, number)) for number in range(50)]
    await asyncio.sleep(0)
    await asyncio.to_thread(threads.shutdown)
    await asyncio.gather(*calls)
    assert sorted(finished) == list(range(50))


async def test_a_stop_iteration_is_an_error_to_its_caller_alone_and_a_closed_pool_says_so():
    threads = Threads(1, "work")
    stopped = asyncio.ensure_future(threads.run(next, iter([])))
    fine = asyncio.ensure_future(threads.run(lambda: "fine"))
    with pytest.raises(RuntimeError, match="StopIteration"):
        await stopped
    assert await fine == "fine"
    threads.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        await threads.run(lambda: None)
