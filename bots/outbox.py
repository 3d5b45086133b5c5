"""Exactly-once sending of the messages the bot starts itself (a push, a lesson, a reminder).

A message to send is a row with an idempotency key (`lesson:<subscription>:<day>`), written in
the same transaction as the change that caused it: the row exists exactly when the change does,
and the unique key makes a second row for the same event impossible. Each stanza carries a
stable id derived from the key (XEP-0359 origin-id, also the stanza id).

Client mode. The outbox has a connection of its own (the bot's account, resource `outbox-…`)
that carries nothing but outbox messages, with stream management (XEP-0198). So the number the
server gives each stanza is known before it leaves: a batch of rows is marked `sent` together
with the stream's id and each row's number in that stream, in one statement, and only then
sent. The server acknowledges by number; a row is `done` when its number is acknowledged.
Whatever breaks -- the connection, the bot (kill -9) -- the next connection resumes that stream,
from this process or the next one, and the server answers with how many stanzas of it it has
received: rows up to that number are done, the others are sent again on the resumed stream.
Stanzas the bot would otherwise send on this connection (a receipt, an answer to a query) go
out on the bot's main connection instead, so the numbering stays exact.

What is guaranteed (client mode): every row reaches the server exactly once, across lost
connections, kill -9 of the bot and downtime of the bot, as long as ejabberd keeps running (it
resumes a stream for `resume_timeout`; afterwards it still remembers how much of it arrived, for
the last `cache_size` streams that timed out). When ejabberd itself restarts or crashes while
messages are unacknowledged, that count is gone: those messages -- at most three batches (the
outbox sends on while up to two await their acknowledgement), a few seconds' worth -- are sent
again (at least once), each copy with the same origin-id, by which a client can recognise the
duplicate. A recipient the server refuses (no such account) ends `failed` with the reason, and
is not retried. Nothing needs the server's message archive, so no copy of what the bot sent is
kept there.

Dead letters. A body is cleaned where it is queued (`check_body`: a text too long raises
BodyError in the caller's transaction) and once more when it is sent (`safe_body`, for rows
written before). A row that still breaks the stream each time it is sent (the server closes
the connection, so nothing says how far it got) would otherwise be sent again at every
reconnect and hold up everything behind it. So a row sent before whose fate is unknown goes
alone, and the next is claimed only once the server has confirmed it: the row that breaks the
stream is the one counted, not its neighbours (those sent just before it and not yet
confirmed are sent again too: at least once). After `max_attempts` such sends it ends `failed`
with the reason (`botschaft outbox failed`), and the queue moves on. A recipient that is no
valid address ends `failed` at once.

Component mode (XEP-0114 knows neither acknowledgements nor resumption): a ping after each batch
stands in for the acknowledgement, and a batch in flight when the connection or the bot dies is
sent again, so every row arrives at least once and at most one batch (a second's worth) twice.
Several workers (processes on one component domain, PostgreSQL) share the outbox: a claim
takes rows no other claim holds (`FOR UPDATE SKIP LOCKED`) and marks them with the worker's
name and a lease. A worker whose connection ends sends its own in-flight rows again; those of a
worker that died are taken over by another once their lease has run out (`[outbox] lease`:
longer than a batch waits for its ping), and sent again once.
Delivery from the server on to the person's devices is the server's: offline storage and its
own stream management.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Callable, NamedTuple
from xml.etree import ElementTree

import peewee
import slixmpp
from slixmpp.plugins.xep_0198 import stanza as sm_stanza

from bots.stanza_text import attach_file, check_body, safe_body
from bots.storage import Schema
from bots.waiting import until_set

log = logging.getLogger(__name__)

ORIGIN_NAMESPACE = uuid.UUID("6f0c3c34-8d0b-4d57-9a3c-2f6e1b9c0b6e")
SID = "urn:xmpp:sid:0"
PENDING, SENT, DONE, FAILED = "pending", "sent", "done", "failed"
UNCONFIRMED = "the connection ended before the server confirmed it"
ROWS_PER_INSERT = 1000  # 8 parameters each: well below SQLite's 32,766 per statement
TAKEOVER_EVERY = 5  # seconds between looks for rows of workers whose lease ran out
# Throttled recipients the claim leaves out in SQL, one parameter each (SQLite allows 32,766);
# beyond that (a large rate × per_recipient) the claim skips them after reading.
EXCLUDED_IN_SQL = 5_000


class Claimed(NamedTuple):
    """A row taken from the outbox to be sent now."""

    id: int
    origin_id: str
    recipient: str
    body: str
    attempts: int  # sends before this one that may have reached the server
    shares_file: bool


class InFlight(NamedTuple):
    """A message sent and not yet acknowledged by the server."""

    row: int
    seq: int | None  # its number in the stream (client mode)
    recipient: str


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class OutboxMessage(peewee.Model):
    key = peewee.CharField(max_length=255, unique=True)
    origin_id = peewee.CharField(max_length=36, unique=True)
    recipient = peewee.CharField(max_length=3071)
    body = peewee.TextField()
    # the body is a file's link (XEP-0066); NULL, as rows of a worker not yet upgraded: no
    shares_file = peewee.BooleanField(null=True)
    state = peewee.CharField(max_length=8, default=PENDING)
    attempts = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=_utcnow)
    sent_at = peewee.DateTimeField(null=True)
    done_at = peewee.DateTimeField(null=True)
    error = peewee.TextField(null=True)
    # client mode: the stream (XEP-0198 id) the row was last sent on, and its number there
    stream = peewee.CharField(max_length=255, null=True)
    seq = peewee.BigIntegerField(null=True)
    # the worker process that claimed the row (host:pid), and until when it holds it
    claimed_by = peewee.CharField(max_length=255, null=True)
    lease_until = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "bots_outbox"


# The claim reads the pending rows in order: by this index it starts at the first pending one,
# instead of stepping over every row sent before (100,000 lessons: each claim slower than the
# last). Named as bots/migrations/outbox/0003 names it.
OutboxMessage.add_index(OutboxMessage.index(OutboxMessage.state, OutboxMessage.id,
                                            name="bots_outbox_state_id"))

SCHEMA = Schema("outbox", (OutboxMessage,), "bots.migrations.outbox")


def origin_id_for(key: str, created_at: datetime) -> str:
    """The stanza id of a row: from its key and the moment it was written. Stable across resends
    of the row; different from any earlier row with the same key (in another database, or after
    old rows were purged)."""
    return str(uuid.uuid5(ORIGIN_NAMESPACE, f"{key}\n{created_at.isoformat()}"))


def enqueue(key: str, recipient: str, body: str) -> bool:
    """Add a message; call it inside the transaction of the change that causes it.
    Returns False when a message with this key exists already (nothing is added)."""
    return enqueue_many([(key, recipient, body)]) == 1


def enqueue_many(messages: list[tuple[str, str, str] | tuple[str, str, str, bool]]) -> int:
    """Add (key, recipient, body) messages in one statement; keys that exist are skipped.
    A fourth item True shares a file: the body is its link (see `shared_file`).
    Returns how many were added. Bodies are cleaned of characters XML forbids; a body too long
    for any message raises BodyError before anything is written."""
    if not messages:
        return 0
    created_at = _utcnow()
    rows = [{"key": key, "origin_id": origin_id_for(key, created_at), "recipient": recipient,
             "body": check_body(body, f"the message {key!r}"), "created_at": created_at,
             "shares_file": bool(shares_file and shares_file[0])}
            for key, recipient, body, *shares_file in messages]
    return sum(OutboxMessage.insert_many(rows[start:start + ROWS_PER_INSERT])
               .on_conflict_ignore().as_rowcount().execute()
               for start in range(0, len(rows), ROWS_PER_INSERT))


def withdraw(recipient: str, key_prefix: str) -> list[str]:
    """Delete the messages to `recipient` whose key starts with `key_prefix` and that still
    wait (not yet taken to be sent); returns their keys. Row by row, each only while it
    waits: one the outbox takes meanwhile has left, or is leaving, and is not returned."""
    waiting = list(OutboxMessage.select(OutboxMessage.id, OutboxMessage.key).where(
        (OutboxMessage.state == PENDING) & (OutboxMessage.recipient == recipient)
        & OutboxMessage.key.startswith(key_prefix)).tuples())
    return [key for row_id, key in waiting
            if OutboxMessage.delete().where((OutboxMessage.id == row_id)
                                            & (OutboxMessage.state == PENDING)).execute()]


def dead_letters() -> list[tuple[int, datetime, str, str, str]]:
    """Failed rows, oldest first, as (id, failed at (UTC), key, recipient's domain, reason):
    what an admin needs to decide on a retry, without the text or the person."""
    rows = (OutboxMessage.select(OutboxMessage.id, OutboxMessage.done_at, OutboxMessage.key,
                                 OutboxMessage.recipient, OutboxMessage.error)
            .where(OutboxMessage.state == FAILED).order_by(OutboxMessage.done_at, OutboxMessage.id))
    return [(row.id, row.done_at, row.key, row.recipient.split("/")[0].rpartition("@")[2],
             row.error or "") for row in rows]


def retry(row_ids: list[int]) -> int:
    """Failed rows back into the queue, their attempts forgotten; returns how many. They keep
    their origin-id, so a copy that did arrive after all is recognisable."""
    return OutboxMessage.update(state=PENDING, attempts=0, error=None, done_at=None).where(
        OutboxMessage.id.in_(row_ids) & (OutboxMessage.state == FAILED)).execute()


CATCH_UP = 0.02  # seconds a pacer may make up for (RateLimiter.delay)


class RateLimiter:
    """At most `rate` messages a second overall and one per `per_recipient` seconds to the
    same person, so a burst of thousands never trips the server's limits. The overall pace is
    waited for; a person who must wait is skipped (`throttled`), so that one person with many
    queued messages holds up nobody else."""

    def __init__(self, rate: float, per_recipient: float):
        self.interval = 1.0 / rate if rate else 0.0
        self.per_recipient = per_recipient
        self._next_any = 0.0
        self._next_for: dict[str, float] = {}

    def delay(self, recipient: str) -> float:
        """Seconds to wait before this message may go (0: none); reserves its slot, and keeps
        its recipient waiting `per_recipient` seconds from then on. Slots are kept to their
        schedule: up to CATCH_UP seconds that the sender fell behind it (a sleep that ended
        late, a round trip to the database) are made up for, not lost, so that the pace is
        the rate, not less; in any stretch of T seconds at most rate × (T + CATCH_UP) go.
        Behind by more (nothing was sent for a while), the schedule begins anew now."""
        now = time.monotonic()
        start = self._next_any if self._next_any >= now - CATCH_UP else now
        self._next_any = start + self.interval
        if self.per_recipient:
            self._next_for[recipient] = max(start, now) + self.per_recipient
        return max(0.0, start - now)

    def throttled(self) -> set[str]:
        """The recipients who may get nothing yet (at most `rate` × `per_recipient`)."""
        now = time.monotonic()
        self._next_for = {jid: at for jid, at in self._next_for.items() if at > now}
        return set(self._next_for)

    def until_free(self, longest: float) -> float:
        """Seconds until the first throttled recipient may get a message (at most `longest`)."""
        now = time.monotonic()
        return max(0.01, min([longest, *(at - now for at in self._next_for.values())]))


class Outbox:
    """The sender: runs beside the bot's session on the same event loop. `stream` is the
    connection it sends on: the dedicated outbox session (client mode) or the component; other
    stanzas that would leave the outbox session go out on `main` instead."""

    def __init__(self, stream, storage, rate: float = 500, per_recipient: float = 0.0,
                 max_attempts: int = 5, batch: int = 500, lease: int = 90, main=None):
        self.stream = stream
        self.storage = storage
        self.main = main or stream
        self.numbered = not stream.is_component  # stream management: numbered stanzas
        self.limiter = RateLimiter(rate, per_recipient)
        self.max_attempts = max_attempts
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.lease = timedelta(seconds=lease)
        self._next_takeover = 0.0  # monotonic time of the next look for expired leases
        # at most about a second's worth per batch, so that marking rows done keeps pace
        self.batch = min(batch, max(1, int(rate))) if rate else batch
        # before the next batch is taken, at most this many messages await acknowledgement
        self._window = 2 * self.batch
        self._wake = asyncio.Event()
        self._online = asyncio.Event()
        self._in_flight: dict[str, InFlight] = {}  # origin-id → row, number, recipient
        self._queued: dict[str, int] = {}  # origin-id → number, sent but not yet numbered
        self._stream_id: str | None = None  # the XEP-0198 stream the in-flight rows are on
        self._next_seq = 1
        self._acked: deque[int] = deque()
        self.on_delivered: Callable[[int], None] = lambda count: None  # rows the server has
        self._unsent: deque[int] = deque()  # rows of this batch marked sent, not yet sent
        self._settling: asyncio.Future | None = None  # database work after a lost connection
        self._stream_error: str | None = None  # why the server closed the last stream
        self._task: asyncio.Task | None = None
        stream.add_event_handler("disconnected", self._offline)
        stream.add_event_handler("stanza_acked", self._acknowledged)
        stream.add_event_handler("message_error", self._refused)
        if self.numbered:
            stream.add_event_handler("stream_error", self._closed_by_server)
            stream.add_event_handler("sm_enabled", self._new_stream)
            stream.add_event_handler("session_resumed", self._resumed)
            stream.add_event_handler("sm_failed", self._not_resumed)
            stream.add_filter("out", self._only_outbox_messages)
            stream.add_filter("out_sync", self._numbered_as_planned)  # after xep_0198's own
        else:
            stream.add_event_handler("session_start", self._new_component_session)
            if self.main is not stream:  # bounces come to the bot's address, at any worker
                self.main.add_event_handler("message_error", self._refused)

    # --- life cycle ------------------------------------------------------------------------
    async def start(self, address: tuple[str | None, int | None] = (None, None)) -> None:
        """Start sending; in client mode connect the outbox stream first, resuming the one the
        last run left unacknowledged messages on."""
        self._task = asyncio.create_task(self._run())
        if self.numbered:
            await self._prepare_resumption()
        if self.stream is not self.main:
            await self.stream.start(*address)

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop taking new rows, wait (up to `timeout`) for the server to acknowledge what is
        in flight, and record it; whatever is left stays in the outbox for the next start."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        unsent, self._unsent = list(self._unsent), deque()
        if unsent:  # taken from the outbox but never sent: back they go, no doubt about them
            await self.storage.run(_back_to_pending, unsent)
        deadline = time.monotonic() + timeout
        if self._in_flight:
            self._request_ack()
        while self._in_flight and self._online.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self._flush_acks()
        if self.stream is not self.main:
            # Client mode, unacknowledged rows: leave the stream open on the server (no clean
            # close), so that the next start resumes it and learns exactly what arrived.
            await self.stream.stop(resumable=self.numbered and bool(self._in_flight))

    @property
    def online(self) -> bool:
        return self._online.is_set()

    def wake(self) -> None:
        """New rows were written (safe from any thread)."""
        self.stream.loop.call_soon_threadsafe(self._wake.set)

    async def depth(self) -> tuple[int, float, int]:
        """(rows not yet done, age in seconds of the oldest of them, failed rows)."""
        def measure():
            waiting = OutboxMessage.select().where(OutboxMessage.state.in_([PENDING, SENT]))
            oldest = waiting.select(peewee.fn.MIN(OutboxMessage.created_at)).scalar()
            age = (_utcnow() - oldest).total_seconds() if oldest else 0.0
            failed = OutboxMessage.select().where(OutboxMessage.state == FAILED).count()
            return waiting.count(), age, failed
        return await self.storage.run(measure)

    # --- stream events (client mode) -------------------------------------------------------
    async def _prepare_resumption(self) -> None:
        """Before connecting: rows the last run left `sent` are on a stream the server may
        still hold. Give xep_0198 that stream's id and its unacknowledged stanzas, rebuilt from
        the rows, so that it resumes the stream and sends again what did not arrive."""
        stream_id, rows = await self.storage.run(_last_stream_unacknowledged)
        if not rows:
            return
        sm = self.stream.plugin["xep_0198"]
        sm.sm_id = stream_id
        sm.last_ack = rows[0].seq - 1
        sm.seq = rows[-1].seq
        sm.handled = 0  # nothing the server sends on this stream needs to be handled twice
        sm.unacked_queue = deque((row.seq, self._stanza(row.origin_id, row.recipient, row.body,
                                                           row.shares_file))
                                 for row in rows)
        self._in_flight = {row.origin_id: InFlight(row.id, row.seq, row.recipient)
                           for row in rows}
        self._stream_id = stream_id
        self._next_seq = sm.seq + 1
        log.info("outbox: resuming the last stream to settle %d unacknowledged messages",
                 len(rows))

    async def _new_stream(self, _stanza) -> None:
        """Stream management is on for a new stream (first start, or no stream to resume)."""
        self._not_resumed()  # rows of an earlier stream no resumption was tried for
        self._stream_error = None
        await self._settled()
        sm = self.stream.plugin["xep_0198"]
        self._queued.clear()
        self._stream_id = sm.sm_id
        self._next_seq = sm.seq + 1
        self._online.set()
        self._wake.set()

    async def _resumed(self, _stanza) -> None:
        """The stream resumed: xep_0198 has marked what arrived (stanza_acked) and sent the
        rest again under the same numbers. Their acknowledgement is asked for at once: else,
        with nothing new to send, it would wait for the next keepalive."""
        self._stream_error = None
        await self._settled()
        self._next_seq = self.stream.plugin["xep_0198"].seq + 1
        resent = [entry.row for entry in self._in_flight.values()]
        if resent:
            self._request_ack()
            await self.storage.run(_count_attempt, resent)
        self._online.set()
        self._wake.set()

    def _not_resumed(self, failed=None) -> None:
        """The server could not resume the stream. It may still know how many of its stanzas
        arrived (a stream that timed out); after a restart of ejabberd it does not."""
        if not self._in_flight:
            return
        received = failed.xml.get("h") if failed is not None else None
        rows = list(self._in_flight.values())
        self._in_flight.clear()
        if received is None:
            closed, self._stream_error = self._stream_error, None
            if closed:
                log.warning("outbox: the server closed the stream (%s); %d unacknowledged "
                            "messages are sent again, one at a time", closed, len(rows))
            else:
                log.warning("outbox: the server lost the stream (restarted?); %d "
                            "unacknowledged messages are sent again, one at a time", len(rows))
            reason = f"{UNCONFIRMED} (the server closed the stream: {closed})" if closed \
                else UNCONFIRMED
            self._settle([entry.row for entry in rows], reason)
            return
        done = [entry.row for entry in rows if entry.seq <= int(received)]
        missed = [entry.row for entry in rows if entry.seq > int(received)]
        log.info("outbox: stream not resumable, but the server received %d of %d "
                 "unacknowledged messages; the others are sent again", len(done), len(rows))
        self._acked.extend(done)
        self._settle(missed)

    def _closed_by_server(self, error) -> None:
        self._stream_error = error["condition"] or "stream error"

    def _offline(self, _event) -> None:
        self._online.clear()
        self._wake.set()  # a wait for an acknowledgement ends
        if not self.numbered:
            return
        # Stanzas still waiting in slixmpp's send queue never got a number: they go back to
        # the outbox (and the 'out' filter drops them should they still come by).
        unnumbered = [self._in_flight.pop(origin).row for origin in self._queued]
        self._queued.clear()
        unsent, self._unsent = list(self._unsent), deque()
        self._next_seq = self.stream.plugin["xep_0198"].seq + 1
        if unnumbered or unsent:
            self._settle(unnumbered + unsent)

    def _settle(self, rows: list[int], unconfirmed: str | None = None) -> None:
        """Put rows back into the queue before anything else is sent: rows that never reached
        the server as if never taken; `unconfirmed` ones (they may have reached it) with that
        reason, counted as an attempt."""
        previous = self._settling

        async def settle():
            if previous is not None:
                await previous
            if unconfirmed is None:
                await self.storage.run(_back_to_pending, rows)
            else:
                await self.storage.run(_again, rows, unconfirmed)
        self._settling = asyncio.ensure_future(settle())

    async def _settled(self) -> None:
        if self._settling is not None:
            await self._settling
            self._settling = None

    def _only_outbox_messages(self, stanza):
        """'out' filter of the outbox stream: outbox messages pass (numbered next by xep_0198);
        anything else goes out on the main connection, so the numbering stays as planned."""
        if not isinstance(stanza, (slixmpp.Message, slixmpp.Presence, slixmpp.Iq)):
            return stanza
        origin = getattr(stanza, "outbox_origin", None)
        if origin is None:
            if not self.stream.stream_management:
                return stanza  # stream setup (resource binding): not numbered
            del stanza["from"]  # the main connection's own address is filled in by the server
            self.main.send(stanza)
            return None
        return stanza if origin in self._queued else None  # else: given up when offline

    def _numbered_as_planned(self, stanza):
        origin = getattr(stanza, "outbox_origin", None)
        if origin is not None:
            planned = self._queued.pop(origin, None)
            actual = self.stream.plugin["xep_0198"].seq
            if planned is not None and planned != actual:
                log.error("outbox: stanza numbered %d, planned %d; resumption after a crash "
                          "may send it twice", actual, planned)
        return stanza

    # --- stream events (both modes) --------------------------------------------------------
    async def _new_component_session(self, _event) -> None:
        """Without stream management there is no telling whether the server took what was in
        flight when the connection died: this worker's rows are sent again (at least once).
        Another worker's stay its own until their lease runs out (`_take_over`); on SQLite
        this process is the only one (Storage.serve_alone), so every such row is its own."""
        self._in_flight.clear()
        def again() -> int:
            query = OutboxMessage.update(state=PENDING, error=UNCONFIRMED).where(
                OutboxMessage.state == SENT)
            if self.storage.backend != "sqlite":
                query = query.where((OutboxMessage.claimed_by == self.worker)
                                    | OutboxMessage.claimed_by.is_null())
            return query.execute()
        count = await self.storage.run(again)
        if count:
            log.info("outbox: %d messages in flight when the connection ended are sent again",
                     count)
        self._online.set()
        self._wake.set()

    async def _take_over(self) -> None:
        """Component mode, now and then: rows of a worker whose lease ran out (it died, or
        lost its connection for longer) go back to the queue, to be claimed once."""
        if time.monotonic() < self._next_takeover:
            return
        self._next_takeover = time.monotonic() + TAKEOVER_EVERY

        def take_over() -> int:
            return OutboxMessage.update(state=PENDING, error=UNCONFIRMED).where(
                (OutboxMessage.state == SENT) & (OutboxMessage.lease_until < _utcnow())
            ).execute()
        count = await self.storage.run(take_over)
        if count:
            log.info("outbox: %d messages of a worker whose lease ran out are sent again",
                     count)

    def _acknowledged(self, stanza) -> None:
        entry = self._in_flight.pop(stanza["id"], None) if stanza.name == "message" else None
        if entry is not None:
            self._acked.append(entry.row)
            if len(self._in_flight) <= self._window:
                self._wake.set()  # the next batch may go; the last one: record it now

    def _refused(self, message) -> None:
        """The server bounced a message (e.g. no such account): the error comes from the very
        address the message went to, a bare JID. A client cannot send from a bare JID (the
        server stamps its session's full JID on all it sends), so an error anyone sends to
        the outbox address, naming an id seen in a push, changes nothing. The bounce may come
        after the server acknowledged the message, so a `done` row can still turn `failed`,
        but only through the server's own bounce."""
        sender, origin_id = message["from"], message["id"]
        entry = self._in_flight.get(origin_id)
        if sender.resource or (entry is not None and entry.recipient != sender.full):
            log.debug("outbox: ignored an error that is no bounce from the server")
            return
        self._in_flight.pop(origin_id, None)  # its acknowledgement does not make it done
        self._wake.set()  # one fewer awaits acknowledgement: the next batch may go
        reason = f"{message['error']['condition']}: {message['error']['text']}".strip(": ")

        def fail():
            return OutboxMessage.update(state=FAILED, error=reason[:500], done_at=_utcnow()) \
                .where((OutboxMessage.origin_id == origin_id)
                       & (OutboxMessage.recipient == sender.full)
                       & OutboxMessage.state.in_((SENT, DONE))).execute()

        async def record():
            if await self.storage.run(fail):
                log.warning("outbox: the server refused a message (%s); marked failed",
                            message["error"]["condition"])
        asyncio.ensure_future(record())

    # --- sending ---------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                await self._online.wait()
                if not self.numbered:
                    await self._take_over()
                rows = await self._claim_cancel_safe()
                if not rows:
                    await self._flush_acks()
                    self._wake.clear()
                    await until_set(self._wake, self.limiter.until_free(0.5))
                    continue
                self._unsent = deque(row.id for row in rows)  # in sending order
                for row in rows:
                    pause = self.limiter.delay(row.recipient)
                    if pause > 0:
                        await asyncio.sleep(pause)
                    if not self._unsent or self._unsent[0] != row.id:
                        break  # the rest went back to the outbox when the connection ended
                    self._send(row.id, row.origin_id, row.recipient, row.body,
                               row.shares_file)
                    self._unsent.popleft()
                    if len(self._acked) >= 100:
                        await self._flush_acks()
                if self.numbered:
                    self._request_ack()
                    # a row sent before goes alone, confirmed before the next; else the server
                    # may lag (its queue, our memory) by two batches, enough to keep it busy
                    await self._until_confirmed(0 if rows[0].attempts else self._window)
                else:
                    await self._barrier()
                await self._flush_acks()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox: sending failed; trying again in 1 s")
                await asyncio.sleep(1)

    async def _until_confirmed(self, at_most: int = 0) -> None:
        """Until at most `at_most` messages await the server's acknowledgement, or the stream
        is gone."""
        while len(self._in_flight) > at_most and self._online.is_set():
            self._wake.clear()
            await until_set(self._wake, 1)

    async def _claim_cancel_safe(self) -> list[Claimed]:
        """Claim rows; a stop arriving meanwhile still learns which rows the claim took."""
        stream_id, first = (self._stream_id, self._next_seq) if self.numbered else (None, None)
        claim = asyncio.ensure_future(self.storage.run(self._claim, stream_id, first,
                                                       self.limiter.throttled()))
        try:
            rows = await asyncio.shield(claim)
        except asyncio.CancelledError:
            self._unsent = deque(row.id for row in await claim)  # stop() puts them back
            raise
        if rows and self.numbered and (not self._online.is_set() or (stream_id, first) != (
                self._stream_id, self._next_seq)):
            self._settle([row.id for row in rows])  # the connection ended during the claim
            return []
        return rows

    def _claim(self, stream_id: str | None, first_seq: int | None,
               throttled: set[str]) -> list[Claimed]:
        """Mark the next rows to send `sent` (before sending: a crash then means 'check'),
        with the numbers their stanzas will have on the stream. Rows to `throttled`
        recipients stay pending for a later batch."""
        with self.storage.db.atomic():
            query = (OutboxMessage
                     .select(OutboxMessage.id, OutboxMessage.origin_id, OutboxMessage.recipient,
                             OutboxMessage.body, OutboxMessage.attempts, OutboxMessage.error,
                             OutboxMessage.shares_file)
                     .where(OutboxMessage.state == PENDING))
            if 0 < len(throttled) <= EXCLUDED_IN_SQL:
                query = query.where(OutboxMessage.recipient.not_in(list(throttled)))
            query = query.order_by(OutboxMessage.id).limit(self.batch)
            if isinstance(self.storage.db, peewee.PostgresqlDatabase):
                query = query.for_update("FOR UPDATE SKIP LOCKED")
            rows = self._this_batch(self._without_dead_letters(list(query.namedtuples())),
                                    throttled)
            if rows:
                now = _utcnow()
                changes = {OutboxMessage.state: SENT, OutboxMessage.sent_at: now,
                           OutboxMessage.attempts: OutboxMessage.attempts + 1,
                           OutboxMessage.claimed_by: self.worker,
                           OutboxMessage.lease_until: now + self.lease}
                if stream_id is not None:
                    changes[OutboxMessage.stream] = stream_id
                    changes[OutboxMessage.seq] = peewee.Case(OutboxMessage.id, [
                        (row.id, first_seq + index) for index, row in enumerate(rows)])
                OutboxMessage.update(changes).where(
                    OutboxMessage.id.in_([row.id for row in rows])).execute()
        return [Claimed(row.id, row.origin_id, row.recipient, row.body, row.attempts,
                        bool(row.shares_file)) for row in rows]

    def _without_dead_letters(self, rows: list) -> list:
        """Rows that can never be sent end `failed` with the reason; the others remain."""
        dead = {}
        for row in rows:
            if row.attempts >= self.max_attempts:
                dead[row.id] = (f"given up after {row.attempts} attempts; the last: "
                                f"{row.error or UNCONFIRMED}")
            elif not _is_address(row.recipient):
                dead[row.id] = "the recipient is no valid XMPP address"
        for row_id, reason in dead.items():
            OutboxMessage.update(state=FAILED, error=reason[:500], done_at=_utcnow()).where(
                OutboxMessage.id == row_id).execute()
        if dead:
            log.warning("outbox: %d messages can never be sent; marked failed (see "
                        "`botschaft outbox failed`)", len(dead))
        return [row for row in rows if row.id not in dead]

    def _this_batch(self, rows: list, throttled: set[str]) -> list:
        """Of the next pending rows, the ones to send now, in order. A row sent before whose
        fate is unknown goes alone (see the module's docstring). With a per-recipient limit,
        one row per person not `throttled`: the others wait, in their order, for a later
        batch."""
        rows = [row for row in rows if row.recipient not in throttled]
        if rows and rows[0].attempts:
            return rows[:1]
        batch, seen = [], set()
        for row in rows:
            if row.attempts:
                break
            if self.limiter.per_recipient:
                if row.recipient in seen:
                    continue
                seen.add(row.recipient)
            batch.append(row)
        return batch

    def _stanza(self, origin_id: str, recipient: str, body: str,
                shares_file: bool) -> slixmpp.Message:
        sender = self.main.boundjid if self.stream.is_component else None
        safe = safe_body(body)  # rows written before enqueue checked bodies
        if safe != body:
            log.warning("outbox: message %s had text no stanza can carry; sent cleaned and, if "
                        "too long, shortened", origin_id)
        message = self.stream.make_message(mto=recipient, mbody=safe, mtype="chat",
                                           mfrom=sender)
        message["id"] = origin_id
        if shares_file:
            attach_file(message.xml, safe)
        origin = ElementTree.SubElement(message.xml, f"{{{SID}}}origin-id")
        origin.set("id", origin_id)
        message.outbox_origin = origin_id
        return message

    def _send(self, row_id: int, origin_id: str, recipient: str, body: str,
              shares_file: bool) -> None:
        message = self._stanza(origin_id, recipient, body, shares_file)
        if self.numbered:
            self._queued[origin_id] = self._next_seq
            self._in_flight[origin_id] = InFlight(row_id, self._next_seq, recipient)
            self._next_seq += 1
        else:
            self._in_flight[origin_id] = InFlight(row_id, None, recipient)
        message.send()

    async def _barrier(self) -> None:
        """Without stream management (component mode): a ping to the server comes back only
        after the server has taken every stanza sent before it on this connection."""
        sent = dict(self._in_flight)
        await self.stream.ping_server(timeout=30)
        for origin_id, entry in sent.items():
            if self._in_flight.pop(origin_id, None) is not None:
                self._acked.append(entry.row)

    def _request_ack(self) -> None:
        """Ask the server to acknowledge the batch just sent (the only request on this stream
        besides the keepalive: OutboxSession turns slixmpp's own every few stanzas off). Queued
        behind the messages, so that the answer covers them (slixmpp's request_ack() would
        overtake them)."""
        if self.stream.stream_management:
            self.stream.send(str(sm_stanza.RequestAck(self.stream)))

    async def _flush_acks(self) -> None:
        if not self._acked:
            return
        done = list(self._acked)
        self._acked.clear()

        def mark() -> int:
            return sum(OutboxMessage.update(state=DONE, done_at=_utcnow(), error=None).where(
                OutboxMessage.id.in_(done[start:start + 500])
                & (OutboxMessage.state == SENT)).execute()
                for start in range(0, len(done), 500))
        self.on_delivered(await self.storage.run(mark))


def _last_stream_unacknowledged() -> tuple[str | None, list[OutboxMessage]]:
    """The stream of the newest `sent` rows, and its rows from the oldest unacknowledged one
    on, in stream order (rows already done or failed among them included: their numbers are
    part of the stream). `sent` rows of other streams, or rows whose numbers do not form an
    unbroken run, cannot be settled: they go back to the queue."""
    doubtful = list(OutboxMessage.select(OutboxMessage.id, OutboxMessage.stream,
                                         OutboxMessage.seq)
                    .where(OutboxMessage.state == SENT).order_by(OutboxMessage.sent_at.desc()))
    if not doubtful:
        return None, []
    stream_id = doubtful[0].stream
    others = [row.id for row in doubtful if row.stream != stream_id or stream_id is None]
    rows = []
    if stream_id is not None:
        low = min(row.seq for row in doubtful if row.stream == stream_id)
        rows = list(OutboxMessage.select().where(
            (OutboxMessage.stream == stream_id) & (OutboxMessage.seq >= low)
            & (OutboxMessage.state != PENDING)).order_by(OutboxMessage.seq))
        if [row.seq for row in rows] != list(range(low, low + len(rows))):
            others += [row.id for row in rows if row.state == SENT]
            rows = []
    if others:
        log.warning("outbox: %d unacknowledged messages cannot be matched to the stream they "
                    "were sent on; they are sent again", len(others))
        _again(others, UNCONFIRMED)
    return stream_id, rows


def _is_address(recipient: str) -> bool:
    try:
        slixmpp.JID(recipient)
    except slixmpp.InvalidJID:
        return False
    return True


def _count_attempt(rows: list[int]) -> None:
    for start in range(0, len(rows), 500):
        OutboxMessage.update(attempts=OutboxMessage.attempts + 1).where(
            OutboxMessage.id.in_(rows[start:start + 500])).execute()


def _back_to_pending(rows: list[int]) -> None:
    """Rows taken but never sent (or sent and surely not received): as if never taken."""
    for start in range(0, len(rows), 500):
        OutboxMessage.update(state=PENDING, attempts=OutboxMessage.attempts - 1).where(
            OutboxMessage.id.in_(rows[start:start + 500]) & (OutboxMessage.state == SENT)
        ).execute()


def _again(rows: list[int], reason: str) -> None:
    """Rows sent that may or may not have reached the server: to be sent again, one at a time
    (`Outbox._this_batch`), and given up after `max_attempts`."""
    for start in range(0, len(rows), 500):
        OutboxMessage.update(state=PENDING, error=reason).where(
            OutboxMessage.id.in_(rows[start:start + 500]) & (OutboxMessage.state == SENT)
        ).execute()
