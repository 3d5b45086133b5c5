"""Name the handler that holds up the event loop.

Every conversation, the outbox and the scheduler share one event loop. An `async def` handler
that blocks (`time.sleep`, a synchronous HTTP call, heavy computation) stalls them all for as
long, and asyncio says nothing. `guarded(coroutine, name)` runs a coroutine step by step (each
step is the code between two awaits) and logs a warning naming it when one step held the loop
longer than HOLD_WARNING. The cost is two clock readings per step.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Coroutine

log = logging.getLogger(__name__)

HOLD_WARNING = 0.1  # seconds one step of a handler may keep every other conversation waiting


class guarded:
    """Await `guarded(coroutine, "command 'x' of plugin 'y'")` instead of the coroutine."""

    def __init__(self, coroutine: Coroutine, name: str | Callable):
        self.coroutine = coroutine
        self.name = name  # or a plugin's hook (a bound method), named only for a warning

    def __await__(self):
        steps = self.coroutine.__await__()
        value: Any = None
        error: BaseException | None = None
        while True:
            started = time.perf_counter()
            try:
                awaited = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration as done:
                self._check(started)
                return done.value
            except BaseException:
                self._check(started)
                raise
            self._check(started)
            try:
                value, error = (yield awaited), None
            except BaseException as thrown:  # e.g. cancellation: pass it on into the handler
                value, error = None, thrown

    def _check(self, started: float) -> None:
        held = time.perf_counter() - started
        if held > HOLD_WARNING:
            log.warning("%s held the event loop for %.2f s: every other conversation waited. "
                        "Await slow work (await ctx.db(fn) for the database) or make the "
                        "handler a plain def (it then runs on a worker thread)",
                        _name_of(self.name), held)


def _name_of(name: str | Callable) -> str:
    if isinstance(name, str):
        return name
    owner = getattr(name, "__self__", None)
    return f"{getattr(name, '__name__', name)} of plugin {getattr(owner, 'name', '?')!r}"
