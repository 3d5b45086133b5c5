"""Waiting with a time limit that a stop always ends. On Python 3.11 (Debian bookworm's),
asyncio.wait_for loses a cancellation that arrives just as what it waits for is done
(CPython gh-86296): a loop stopped in that instant runs on, and whoever awaits its end waits
for ever (a bridge's stop hung so, its XMPP component left connected). asyncio.timeout passes
every cancellation on; the code here waits with it. (One more 3.11 quirk: in a task whose
cancellation is under way, an expiring asyncio.timeout raises CancelledError, not
TimeoutError: a stop that runs in a `finally` after a cancellation bounds its parts with
asyncio.wait instead, as the bridge's `_within` does.)"""

from __future__ import annotations

import asyncio


async def until_set(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set, at most `timeout` seconds; True if it was."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
