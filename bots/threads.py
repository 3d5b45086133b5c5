"""A few threads for blocking work (database calls, plugins' plain-def handlers), awaited from
the event loop. Cheaper per call than `loop.run_in_executor`, which builds a
concurrent.futures.Future (a lock and a condition each), chains it to an asyncio future and
wakes the loop once per result: here a call is an asyncio future and a queue entry, and what
finishes while the loop is busy is handed back with one wake-up for all of it. In a flood of
messages that is most of the cost of the hop (bench/roundtrip.py, `sync_throughput`)."""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Callable

_STOP = object()


class Threads:
    """`await threads.run(fn, *args)`: `fn` on one of `count` threads (started at the first
    call, each running `initializer` first); its result or exception comes back to the
    caller. `shutdown()` lets the calls already queued finish, then ends the threads."""

    def __init__(self, count: int, name: str, initializer: Callable[[], None] | None = None):
        self.count = count
        self.name = name
        self.initializer = initializer
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        # per event loop: results not yet handed back, and whether a hand-back is scheduled
        self._finished: dict[asyncio.AbstractEventLoop, list] = {}
        self._closed = False

    async def run(self, fn: Callable, *args, **kwargs):
        if not self._threads:
            self._start()
        future = asyncio.get_running_loop().create_future()
        self._jobs.put((future, fn, args, kwargs))
        return await future

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
        for _thread in threads:
            self._jobs.put(_STOP)
        for thread in threads:
            thread.join()

    def _start(self) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} threads are shut down")
            if self._threads:
                return
            threads = [threading.Thread(target=self._work, name=f"{self.name}_{number}",
                                        daemon=True) for number in range(self.count)]
            for thread in threads:
                thread.start()
            self._threads = threads

    def _work(self) -> None:
        if self.initializer is not None:
            self.initializer()
        while (job := self._jobs.get()) is not _STOP:
            future, fn, args, kwargs = job
            try:
                outcome = (True, fn(*args, **kwargs))
            except StopIteration as error:  # a future refuses it, as asyncio.to_thread's does
                outcome = (False, RuntimeError(f"{fn!r} raised StopIteration"))
                outcome[1].__cause__ = error
            except BaseException as error:  # the caller's to handle, whatever it is
                outcome = (False, error)
            self._hand_back(future, outcome)
            del job, future, outcome  # nothing of the call outlives it here

    def _hand_back(self, future: asyncio.Future, outcome: tuple) -> None:
        loop = future.get_loop()
        with self._lock:
            waiting = self._finished.get(loop)
            if waiting is not None:  # a hand-back is scheduled and will take this too
                waiting.append((future, outcome))
                return
            self._finished[loop] = [(future, outcome)]
        try:
            loop.call_soon_threadsafe(self._deliver, loop)
        except RuntimeError:  # the loop is closed: nobody waits any more
            with self._lock:
                self._finished.pop(loop, None)

    def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            finished = self._finished.pop(loop, [])
        for future, (ok, value) in finished:
            if future.cancelled():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
