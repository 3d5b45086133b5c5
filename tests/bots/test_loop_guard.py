"""A handler that holds up the event loop is named in the log; one that awaits is not."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bots.loop_guard import HOLD_WARNING, guarded


async def blocking() -> str:
    await asyncio.sleep(0)
    time.sleep(HOLD_WARNING * 3)  # what a careless async handler does
    return "done"


async def patient() -> str:
    for _ in range(3):
        await asyncio.sleep(HOLD_WARNING)  # longer in all, but the loop stays free
    return "done"


async def test_a_step_that_blocks_the_loop_is_named(caplog):
    with caplog.at_level(logging.WARNING, logger="bots.loop_guard"):
        assert await guarded(blocking(), "command 'slow' of plugin 'careless'") == "done"
    assert "command 'slow' of plugin 'careless' held the event loop for" in caplog.text


async def test_a_plugins_hook_that_blocks_is_named_with_its_plugin(caplog):
    class Careless:
        name = "careless"

        async def on_message(self) -> str:
            return await blocking()

    plugin = Careless()
    with caplog.at_level(logging.WARNING, logger="bots.loop_guard"):
        assert await guarded(plugin.on_message(), plugin.on_message) == "done"
    assert "on_message of plugin 'careless' held the event loop for" in caplog.text


async def test_awaiting_is_no_holding(caplog):
    with caplog.at_level(logging.WARNING, logger="bots.loop_guard"):
        assert await guarded(patient(), "command 'wait'") == "done"
    assert caplog.text == ""


async def test_errors_and_cancellation_pass_through():
    async def failing():
        await asyncio.sleep(0)
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        await guarded(failing(), "failing")

    task = asyncio.ensure_future(guarded(asyncio.sleep(10), "sleeper"))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
