"""A wait with a time limit ends a stopped loop even in the instant its event is set."""

from __future__ import annotations

import asyncio

from bots.waiting import until_set


async def test_it_says_whether_the_event_came_in_time():
    event = asyncio.Event()
    assert await until_set(event, 0.01) is False
    asyncio.get_running_loop().call_soon(event.set)
    assert await until_set(event, 10) is True


async def test_a_loop_stopped_just_as_its_event_is_set_stops():
    """asyncio.wait_for on Python 3.11 lost exactly this cancellation: the loop ran on and a
    stop awaiting it (the bridge's) waited for ever."""
    event = asyncio.Event()
    rounds = 0

    async def loop() -> None:
        nonlocal rounds
        while True:
            await until_set(event, 0.05)
            event.clear()
            rounds += 1
    task = asyncio.ensure_future(loop())
    await asyncio.sleep(0)  # the loop waits
    event.set()
    task.cancel()
    done, _pending = await asyncio.wait([task], timeout=2)
    assert done == {task} and task.cancelled() and rounds == 0
