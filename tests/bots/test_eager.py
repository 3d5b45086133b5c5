import asyncio
import logging

import pytest

from bots.eager import eagerly, start_eagerly


async def test_a_handler_that_does_not_wait_finishes_at_once_without_a_task():
    seen = []

    async def handler(message):
        seen.append(message)
        return "answered"

    assert eagerly(handler)("ping") is None
    assert seen == ["ping"]


async def test_a_handler_that_waits_runs_to_its_wait_at_once_and_finishes_in_a_task():
    steps = []
    go_on = asyncio.get_running_loop().create_future()

    async def handler(message):
        steps.append(f"started {message}")
        value = await go_on
        steps.append(f"got {value}")
        await asyncio.sleep(0)  # a bare yield to the loop, too
        return value * 2

    task = eagerly(handler)("echo")
    assert steps == ["started echo"]
    assert isinstance(task, asyncio.Task) and not task.done()
    go_on.set_result(21)
    assert await task == 42
    assert steps == ["started echo", "got 21"]


async def test_messages_start_in_the_order_they_came():
    started = []

    async def handler(message):
        started.append(message)
        await asyncio.sleep(0.01 if message == 0 else 0)

    tasks = [start_eagerly(handler(number)) for number in range(5)]
    assert started == [0, 1, 2, 3, 4]
    await asyncio.gather(*tasks)


async def test_a_cancellation_reaches_the_handler_where_it_waits_even_before_the_task_ran():
    cleaned_up = asyncio.Event()

    async def handler(_message):
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.set()

    task = eagerly(handler)("x")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned_up.is_set()


async def test_an_exception_after_the_wait_reaches_the_handler_and_a_failure_is_logged(caplog):
    async def handler(_message):
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(future.set_exception, KeyError("gone"))
        try:
            await future
        except KeyError:
            pass  # handled where it was awaited, as in any coroutine
        raise ValueError("broken later")

    with caplog.at_level(logging.ERROR, logger="bots.eager"):
        await asyncio.wait([eagerly(handler)("x")])
        await asyncio.sleep(0)  # the task's done callbacks
    assert "an event handler failed" in caplog.text and "broken later" in caplog.text


async def test_an_exception_before_any_wait_goes_to_the_caller():
    async def handler(_message):
        raise ValueError("broken at once")

    with pytest.raises(ValueError, match="broken at once"):
        eagerly(handler)("x")
