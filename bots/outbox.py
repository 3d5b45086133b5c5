"""Exactly-once sending of the messages the bot starts itself (a push, a lesson, a reminder).

A message to send is a row with an idempotency key (`lesson:<subscription>:<day>`), written in
the same transaction as the change that caused it: the row exists exactly when the change does,
and the unique key makes a second row for the same event impossible. Each stanza carries a
stable id derived from the key (XEP-0359 origin-id, also the stanza id).

The sender drains the rows in order. A row is marked `sent` *before* its stanza leaves, and
`done` only when the server acknowledged the stanza (XEP-0198). What the server has received
but not yet acknowledged when the connection or the bot dies is the only doubt; it is settled
against the bot's own message archive (XEP-0313, which ejabberd fills as the stanza passes):
rows whose origin-id is archived are done, the others are sent again. A recipient the server
refuses (no such account, blocked) ends `failed` with the reason, and is not retried.

Guarantees. Client mode (stream management on; ejabberd archives the bot's messages): every
row reaches the server exactly once, across lost connections, server restarts and kill -9 of the
bot. Component mode (XEP-0114 knows neither acknowledgements nor an archive of the component's
own messages): a ping after each batch stands in for the acknowledgement, and a batch in flight
when the connection or the bot dies is sent again, so every row arrives at least once and at
most one batch (a second's worth) can arrive twice, each copy with the same origin-id. Delivery
from the server on to the person's devices is the server's: offline storage and its own stream
management.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import peewee
from slixmpp.plugins.xep_0198 import stanza as sm_stanza

from bots.storage import Schema

log = logging.getLogger(__name__)

ORIGIN_NAMESPACE = uuid.UUID("6f0c3c34-8d0b-4d57-9a3c-2f6e1b9c0b6e")
MAM_PREFS = "urn:xmpp:mam:2"
SID = "urn:xmpp:sid:0"
PENDING, SENT, DONE, FAILED = "pending", "sent", "done", "failed"


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class OutboxMessage(peewee.Model):
    key = peewee.CharField(max_length=255, unique=True)
    origin_id = peewee.CharField(max_length=36, unique=True)
    recipient = peewee.CharField(max_length=3071)
    body = peewee.TextField()
    state = peewee.CharField(max_length=8, default=PENDING, index=True)
    attempts = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=_utcnow)
    sent_at = peewee.DateTimeField(null=True)
    done_at = peewee.DateTimeField(null=True)
    error = peewee.TextField(null=True)

    class Meta:
        table_name = "bots_outbox"


SCHEMA = Schema("outbox", (OutboxMessage,))


def origin_id_for(key: str, created_at: datetime) -> str:
    """The stanza id of a row: from its key and the moment it was written. Stable across resends
    of the row; different from any earlier row with the same key (in another database, or after
    old rows were purged), which the archive may still hold."""
    return str(uuid.uuid5(ORIGIN_NAMESPACE, f"{key}\n{created_at.isoformat()}"))


def enqueue(key: str, recipient: str, body: str) -> bool:
    """Add a message; call it inside the transaction of the change that causes it.
    Returns False when a message with this key exists already (nothing is added)."""
    return enqueue_many([(key, recipient, body)]) == 1


def enqueue_many(messages: list[tuple[str, str, str]]) -> int:
    """Add (key, recipient, body) messages in one statement; keys that exist are skipped.
    Returns how many were added."""
    if not messages:
        return 0
    created_at = _utcnow()
    return OutboxMessage.insert_many([
        {"key": key, "origin_id": origin_id_for(key, created_at), "recipient": recipient,
         "body": body, "created_at": created_at} for key, recipient, body in messages
    ]).on_conflict_ignore().as_rowcount().execute()


class RateLimiter:
    """At most `rate` messages a second overall and one per `per_recipient` seconds to the
    same person, so a burst of thousands never trips the server's limits."""

    def __init__(self, rate: float, per_recipient: float):
        self.interval = 1.0 / rate if rate else 0.0
        self.per_recipient = per_recipient
        self._next_any = 0.0
        self._next_for: dict[str, float] = {}

    def delay(self, recipient: str) -> float:
        """Seconds to wait before this message may go; reserves its slot."""
        now = time.monotonic()
        start = max(now, self._next_any, self._next_for.get(recipient, 0.0))
        self._next_any = start + self.interval
        self._next_for[recipient] = start + self.per_recipient
        if len(self._next_for) > 100_000:
            self._next_for = {jid: at for jid, at in self._next_for.items() if at > now}
        return start - now


class Outbox:
    """The sender: runs beside the bot's session on the same event loop."""

    def __init__(self, session, storage, rate: float = 500, per_recipient: float = 0.0,
                 batch: int = 500):
        self.session = session
        self.storage = storage
        self.limiter = RateLimiter(rate, per_recipient)
        # at most about a second's worth per batch, so that marking rows done keeps pace
        self.batch = min(batch, max(1, int(rate))) if rate else batch
        self._wake = asyncio.Event()
        self._online = asyncio.Event()
        self._in_flight: dict[str, int] = {}  # origin-id → row id, for this session's acks
        self._acked: deque[int] = deque()
        self._unsent: deque[int] = deque()  # rows of this batch marked sent, not yet sent
        self._archiving: bool | None = None  # the account's archive preference, once known
        self._task: asyncio.Task | None = None
        session.add_event_handler("session_start", self._new_session)
        session.add_event_handler("session_resumed", self._resumed)
        session.add_event_handler("disconnected", self._offline)
        session.add_event_handler("stanza_acked", self._acknowledged)
        session.add_event_handler("message_error", self._refused)

    # --- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop taking new rows, wait (up to `timeout`) for the server to acknowledge what is
        in flight, and record it; whatever is left stays in the outbox for the next start."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        unsent, self._unsent = list(self._unsent), deque()
        if unsent:  # taken from the outbox but never sent: back they go, no doubt about them
            await self.storage.run(lambda: OutboxMessage.update(state=PENDING).where(
                OutboxMessage.id.in_(unsent)).execute())
        deadline = time.monotonic() + timeout
        if self._in_flight:
            self._request_ack()
        while self._in_flight and self._online.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self._flush_acks()

    def wake(self) -> None:
        """New rows were written (safe from any thread)."""
        self.session.loop.call_soon_threadsafe(self._wake.set)

    async def depth(self) -> tuple[int, float, int]:
        """(rows not yet done, age in seconds of the oldest of them, failed rows)."""
        def measure():
            waiting = OutboxMessage.select().where(OutboxMessage.state.in_([PENDING, SENT]))
            oldest = waiting.select(peewee.fn.MIN(OutboxMessage.created_at)).scalar()
            age = (_utcnow() - oldest).total_seconds() if oldest else 0.0
            failed = OutboxMessage.select().where(OutboxMessage.state == FAILED).count()
            return waiting.count(), age, failed
        return await self.storage.run(measure)

    # --- session events --------------------------------------------------------------------
    async def _new_session(self, _event) -> None:
        """A new session (first, or after a lost one that could not be resumed)."""
        self._in_flight.clear()
        self._archiving = None  # whatever it was when the last session ended
        if not self.session.is_component:
            await self._reconcile()
        else:
            await self._send_doubtful_again()
        self._online.set()
        self._wake.set()

    def _resumed(self, _event) -> None:
        self._online.set()  # slixmpp sends the unacknowledged stanzas again by itself

    def _offline(self, _event) -> None:
        self._online.clear()

    def _acknowledged(self, stanza) -> None:
        row = self._in_flight.pop(stanza["id"], None) if stanza.name == "message" else None
        if row is not None:
            self._acked.append(row)

    async def _refused(self, message) -> None:
        origin_id = message["id"]
        condition = message["error"]["condition"]
        text = message["error"]["text"]

        def fail():
            return OutboxMessage.update(state=FAILED, error=f"{condition}: {text}".strip(": "),
                                        done_at=_utcnow()).where(
                OutboxMessage.origin_id == origin_id).execute()
        if await self.storage.run(fail):
            log.warning("outbox: the server refused a message (%s); marked failed", condition)

    # --- sending ---------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                await self._online.wait()
                rows = await self._claim_cancel_safe()
                if not rows:
                    await self._flush_acks()
                    if not self._in_flight:
                        await self._archive(False)
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), 0.5)
                    except TimeoutError:
                        pass
                    continue
                await self._archive(True)
                self._unsent = deque(row[0] for row in rows)  # in sending order
                for row_id, origin_id, recipient, body in rows:
                    pause = self.limiter.delay(recipient)
                    if pause > 0:
                        await asyncio.sleep(pause)
                    self._send(row_id, origin_id, recipient, body)
                    self._unsent.popleft()
                    if len(self._acked) >= 100:
                        await self._flush_acks()
                if not self.session.is_component:
                    self._request_ack()
                else:
                    await self._barrier()
                await self._flush_acks()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox: sending failed; trying again in 1 s")
                await asyncio.sleep(1)

    async def _claim_cancel_safe(self) -> list[tuple]:
        """Claim rows; a stop arriving meanwhile still learns which rows the claim took."""
        claim = asyncio.ensure_future(self.storage.run(self._claim))
        try:
            return await asyncio.shield(claim)
        except asyncio.CancelledError:
            self._unsent = deque(row[0] for row in await claim)  # stop() puts them back
            raise

    def _claim(self) -> list[tuple]:
        """Mark the next pending rows `sent` (before sending: a crash then means 'check')."""
        with self.storage.db.atomic():
            query = (OutboxMessage
                     .select(OutboxMessage.id, OutboxMessage.origin_id, OutboxMessage.recipient,
                             OutboxMessage.body)
                     .where(OutboxMessage.state == PENDING)
                     .order_by(OutboxMessage.id).limit(self.batch))
            if isinstance(self.storage.db, peewee.PostgresqlDatabase):
                query = query.for_update("FOR UPDATE SKIP LOCKED")
            rows = list(query.tuples())
            if rows:
                OutboxMessage.update(state=SENT, sent_at=_utcnow(),
                                     attempts=OutboxMessage.attempts + 1).where(
                    OutboxMessage.id.in_([row[0] for row in rows])).execute()
        return rows

    def _send(self, row_id: int, origin_id: str, recipient: str, body: str) -> None:
        sender = self.session.boundjid if self.session.is_component else None
        message = self.session.make_message(mto=recipient, mbody=body, mtype="chat",
                                            mfrom=sender)
        message["id"] = origin_id
        origin = ElementTree.SubElement(message.xml, f"{{{SID}}}origin-id")
        origin.set("id", origin_id)
        self._in_flight[origin_id] = row_id
        message.send()

    async def _barrier(self) -> None:
        """Without stream management (component mode): a ping to the server comes back only
        after the server has taken every stanza sent before it on this connection."""
        sent = dict(self._in_flight)
        await self.session.plugin["xep_0199"].ping(jid=self.session.server_host_domain(),
                                                   ifrom=self.session.boundjid, timeout=30)
        for origin_id, row in sent.items():
            if self._in_flight.pop(origin_id, None) is not None:
                self._acked.append(row)

    def _request_ack(self) -> None:
        """Ask the server to acknowledge now: its own rhythm (every few stanzas) would leave
        the tail of a batch waiting for the next one. Queued behind the messages, so that the
        answer covers them (slixmpp's request_ack() would overtake them)."""
        if self.session.stream_management:
            self.session.send(str(sm_stanza.RequestAck(self.session)))

    async def _flush_acks(self) -> None:
        if not self._acked:
            return
        done = list(self._acked)
        self._acked.clear()

        def mark():
            for start in range(0, len(done), 500):
                OutboxMessage.update(state=DONE, done_at=_utcnow()).where(
                    OutboxMessage.id.in_(done[start:start + 500])
                    & (OutboxMessage.state == SENT)).execute()
        await self.storage.run(mark)

    # --- settling doubt against the archive ------------------------------------------------
    async def _archive(self, on: bool) -> None:
        """Have the server archive this account's messages while outbox messages are on their
        way, and only then (XEP-0313 preferences). The archive is what settles doubt after a
        crash; outside those moments archiving would cost every answer a database write on the
        server and keep people's messages longer than needed."""
        if self.session.is_component or self._archiving == on:
            return
        iq = self.session.make_iq_set()
        prefs = ElementTree.SubElement(iq.xml, f"{{{MAM_PREFS}}}prefs")
        prefs.set("default", "always" if on else "never")
        await iq.send(timeout=10)
        self._archiving = on

    async def _reconcile(self) -> None:
        """Rows marked sent but never acknowledged: done if archived, else pending again."""
        def doubtful():
            return list(OutboxMessage.select(OutboxMessage.id, OutboxMessage.origin_id,
                                             OutboxMessage.recipient, OutboxMessage.sent_at)
                        .where(OutboxMessage.state == SENT).tuples())
        rows = await self.storage.run(doubtful)
        if not rows:
            return
        since = min(row[3] for row in rows) - timedelta(minutes=2)
        archived = await self._archived(since.replace(tzinfo=UTC))
        delivered = [row[0] for row in rows if (row[1], row[2]) in archived]
        again = [row[0] for row in rows if (row[1], row[2]) not in archived]

        def settle():
            with self.storage.db.atomic():
                for start in range(0, len(rows), 500):
                    OutboxMessage.update(state=DONE, done_at=_utcnow()).where(
                        OutboxMessage.id.in_(delivered[start:start + 500])).execute()
                    OutboxMessage.update(state=PENDING).where(
                        OutboxMessage.id.in_(again[start:start + 500])).execute()
        await self.storage.run(settle)
        log.info("outbox: %d unacknowledged messages checked against the archive: %d had "
                 "arrived, %d will be sent again", len(rows), len(delivered), len(again))

    async def _send_doubtful_again(self) -> None:
        """Without stream management and archive there is no telling whether the server took
        what was in flight when the connection died: it is sent again (at least once)."""
        count = await self.storage.run(lambda: OutboxMessage.update(state=PENDING).where(
            OutboxMessage.state == SENT).execute())
        if count:
            log.info("outbox: %d messages in flight when the connection ended are sent again",
                     count)

    async def _archived(self, since: datetime) -> set[tuple[str, str]]:
        """(stanza id, recipient) of every message this account sent since `since`."""
        found = set()
        async for result in self.session.plugin["xep_0313"].iterate(
                start=since, rsm={"max": 250}):
            original = result["mam_result"]["forwarded"]["stanza"]
            if original["from"].bare == self.session.boundjid.bare:
                found.add((original["id"], original["to"].bare))
        return found
