"""The bridge's stop: each part of it is bounded, also where the stop runs after a
cancellation (Ctrl-C during the start), so the parts after a stuck one still close."""

from __future__ import annotations

import asyncio

from server_bridge.whatsapp.bridge import _within


async def test_a_part_that_never_closes_holds_up_a_stop_after_a_cancellation_only_briefly(caplog):
    closed = []

    async def start_then_stop() -> None:
        try:
            await asyncio.Event().wait()  # the start, cancelled
        finally:
            await _within(asyncio.Event().wait(), "a peer that never answers", seconds=0.05)
            closed.append("the rest")

    task = asyncio.ensure_future(start_then_stop())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert closed == ["the rest"]
    assert "a peer that never answers did not close within" in caplog.text


async def test_an_error_of_a_part_is_passed_on():
    async def failing() -> None:
        raise OSError("port already closed")
    try:
        await _within(failing(), "the webhook's port")
    except OSError as error:
        assert str(error) == "port already closed"
    else:
        raise AssertionError("the error was lost")
