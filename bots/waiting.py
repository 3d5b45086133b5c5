"""Waiting with a time limit that a stop always ends. On Python 3.11 (Debian bookworm's),
asyncio.wait_for loses a cancellation that arrives just as what it waits for is done
(CPython gh-86296): a loop stopped in that instant runs on, and whoever awaits its end waits
for ever (a bridge's stop hung so, its XMPP component left connected). asyncio.timeout passes
every cancellation on; the code here waits with it. (One more 3.11 quirk: in a task whose
cancellation is under way, an expiring asyncio.timeout raises CancelledError, not
TimeoutError: a stop that runs in a `finally` after a cancellation bounds its parts with
asyncio.wait instead, as the bridge's `_within` does.) And awaiting a part of a start or a
stop whose failure must not keep the other parts from running (`isolated`)."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def until_set(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set, at most `timeout` seconds; True if it was."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def isolated(awaitable, what: str) -> str | None:
    """Await `awaitable` (a plugin's hook, a part of a stop); its failure is logged (and
    returned, in short) and nothing else is affected."""
    try:
        await awaitable
    except Exception as exc:
        log.exception("%s failed", what)
        return f"{type(exc).__name__}: {exc}"[:300]
    return None
