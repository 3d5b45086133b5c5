"""What the bridge decides, as plain peewee code for a database thread (`storage.run`): the
opt-in of a number, the queues in both directions, and what statuses mean. Each function is
one transaction (or, in a burst, part of a shared one: `in_one_go`), so a
kill -9 leaves either all of a step or none of it.

Opt-in: a number the bridge has not seen gets the privacy notice and nothing else: its words
are neither stored nor relayed until it answers YES/JA, which is recorded as consent
(bots/consent.py: a keyed hash of the number, the time, the notice's version). STOP/STOPP at any
time withdraws the consent, erases the number's messages and mapping, and confirms."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from typing import Callable, NamedTuple

import peewee

from bots import bulk, consent
from bots.i18n import Text
from server_bridge.whatsapp import texts
from server_bridge.whatsapp.models import (AGREED, DELIVERED, DONE, FAILED, HELD, OWN, PENDING,
                                           READ, RELAY, SENDING, SENT, Contact, EarlyStatus,
                                           Seen, ToWhatsApp, ToXmpp, utcnow)
from server_bridge.whatsapp.updates import TEXT_KINDS, Incoming, Status

WINDOW_CLOSED_ERROR = 131047  # outside the 24-hour customer-service window
PROGRESS = {SENT: 1, DELIVERED: 2, READ: 3}
SEEN_DAYS = 8  # Meta retries a webhook for up to 7 days
ROWS_PER_STATEMENT = 500  # rows named in one statement: well below SQLite's 32,766 parameters
FINISHED_DAYS = 7  # ids and states of finished messages, for questions about them
UNANSWERED_DAYS = 30  # a number that got the notice and never answered is forgotten
TOUCH_EVERY = timedelta(minutes=1)  # a contact's last message's time: to the minute
HELD_AFTER = timedelta(hours=23)  # Meta's window is 24 hours: an hour for clocks that differ
STANZA_IDS = uuid.UUID("0b7a3a52-54f0-4a4e-9a53-0d1c58f3c2a1")


class Tell(NamedTuple):
    """An XMPP sender to tell what became of their message (`text` in the bot's language)."""

    sender: str
    number: str
    text: Text
    values: dict


class News(NamedTuple):
    """News for an XMPP sender who asked for it: a receipt (XEP-0184) and/or a chat marker
    (XEP-0333: "received", "displayed") for their message `stanza_id`."""

    sender: str
    number: str
    stanza_id: str
    receipt: bool
    marker: str | None


class Received(NamedTuple):
    """What became of a webhook delivery: whom to tell about their messages (`tells`), and
    whether there is news for the queues: something to send to WhatsApp (the bridge's own
    text, messages held outside the 24-hour window going again), something to deliver on
    XMPP. A delivery of statuses alone (most of them) wakes neither."""

    tells: list[Tell | News]
    to_whatsapp: bool
    to_xmpp: bool


class Claim(NamedTuple):
    id: int
    number: str
    body: str | None
    template: str | None
    content: str | None
    attempts: int


class ToDeliver(NamedTuple):
    """A message from WhatsApp to deliver on XMPP (see ToXmpp)."""

    id: int
    wamid: str
    number: str
    body: str | None
    media_id: str | None
    mime_type: str | None
    filename: str | None
    file_url: str | None
    reacts_to: str | None
    recipient: str | None
    language: str | None  # the one the person chose by agreeing (xml:lang)


def consent_subject(number: str, number_key: str) -> str:
    """Who a consent row is about: the number's hash made with `number_key` ([bridge.whatsapp]
    number_key), never the number. A plain hash of a phone number is no secret: all numbers
    of a country can be tried in minutes; without the key, none can."""
    digest = hmac.new(number_key.encode(), number.encode(), hashlib.sha256).hexdigest()
    return f"whatsapp:hmac-sha256:{digest}"


def _database() -> peewee.Database:
    return Contact._meta.database


def _transaction():
    """A transaction, or none where one is open: a step of `one_by_one` has its savepoint
    already (a second one inside it would cost two statements more and change nothing)."""
    database = _database()
    return contextlib.nullcontext() if database.in_transaction() else database.atomic()


def in_one_go(many: Callable, one: Callable, items: list[tuple]) -> list:
    """`many(items)` for a burst (Storage.run_batched), first in its transaction; if it fails,
    the transaction is undone and begun again, and `one(*item)` runs for each as `one_by_one`
    does, so that one bad item fails alone and the others still go (a send the Cloud API took
    is never left to be sent again). No savepoint around `many`: two statements more for
    every burst, for a failure that hardly ever comes; so it must be the first work of its
    transaction (what came before would be undone with it)."""
    database = _database()
    with _transaction():
        try:
            return many(items)
        except Exception:
            database.top_transaction().rollback()
            return one_by_one(one, items)


def one_by_one(step: Callable, items: list[tuple]) -> list:
    """`step(*item)` for every item of a burst, in one transaction (Storage.run_batched), each
    in a savepoint of its own: one that fails is undone alone, and its caller gets the error."""
    results = []
    for item in items:
        try:
            with _database().atomic():
                results.append(step(*item))
        except Exception as error:
            results.append(error)
    return results


# --- from WhatsApp ----------------------------------------------------------------------------
def receive(updates: list[Incoming | Status], number_key: str, template: str = "") -> Received:
    """Store one webhook delivery (see Received for what it returns). `template`:
    the approved template that asks a person outside the 24-hour window to write again;
    `number_key`: for consent records (consent_subject)."""
    with _transaction():
        return receive_many([(updates, number_key, template)])[0]


def receive_many(deliveries: list[tuple]) -> list[Received]:
    """`receive` for a burst of webhook deliveries (each item its three arguments), in their
    order: one look at the ids seen before and at the numbers' contacts, and the messages of
    people who agreed (the usual case) written together (_Burst), not five statements each."""
    messages = [update for updates, _key, _template in deliveries for update in updates
                if isinstance(update, Incoming)]
    fresh = _not_seen_before(messages)
    contacts = {contact.number: contact for contact in Contact.select().where(
        Contact.number.in_(list({message.number for message in messages})))} if messages else {}
    burst = _Burst()
    told = []
    for updates, number_key, template in deliveries:
        tells: list[Tell | News] = []
        for update in updates:
            if isinstance(update, Status):
                burst.write()  # what came before it, first (a window that opened, then closed)
                tells += _status(update, template)
                burst.to_whatsapp |= update.status == "failed"  # held, or a template to go
                continue
            digest = _digest(update.wamid)
            if digest in fresh:
                fresh.discard(digest)  # twice in one burst: once
                _incoming(update, digest, contacts, number_key, burst)
        told.append(tells)
    burst.write()
    return [Received(tells, burst.to_whatsapp, burst.to_xmpp) for tells in told]


def _digest(text: str) -> str:
    """What the tables keep of a message's id or key: its SHA-256, fixed length."""
    return hashlib.sha256(text.encode()).hexdigest()


def _not_seen_before(messages: list[Incoming]) -> set[str]:
    """The digests of those of `messages` that were not delivered before, now marked seen."""
    digests = list({_digest(message.wamid): None for message in messages})
    seen: set[str] = set()
    for start in range(0, len(digests), ROWS_PER_STATEMENT):
        seen.update(digest for (digest,) in Seen.select(Seen.digest).where(
            Seen.digest.in_(digests[start:start + ROWS_PER_STATEMENT])).tuples())
    fresh = [digest for digest in digests if digest not in seen]
    bulk.insert_many(Seen, [{"digest": digest} for digest in fresh])
    return set(fresh)


class _Burst:
    """What a burst's messages change, written together: the numbers that wrote (their last
    message's time; their messages held outside the 24-hour window may go again) and the
    messages to relay, inserted in their order (their ids are the order of delivery)."""

    def __init__(self):
        self.now = utcnow()
        self.touched: set[str] = set()  # numbers whose last message's time is renewed
        self.reopened: set[str] = set()  # numbers whose held messages may go again
        self.rows: list[dict] = []
        self.to_whatsapp = self.to_xmpp = False  # news for the queues (Received)

    def wrote(self, contact: Contact) -> None:
        """`contact` wrote. Its time is renewed once a minute at most (it is what a privacy
        export shows), and only someone who had not written for HELD_AFTER can have messages
        held for the 24-hour window (Meta holds a message only after 24 hours of silence):
        a person in a conversation costs these two statements once, not at every message."""
        silent = self.now - contact.last_message_at
        if silent >= TOUCH_EVERY:
            self.touched.add(contact.number)
            contact.last_message_at = self.now
        if silent >= HELD_AFTER:
            self.reopened.add(contact.number)

    def own(self, number: str, key: str, text: Text) -> None:
        _own(number, key, text)
        self.to_whatsapp = True

    def relay(self, message: Incoming, **row) -> None:
        self.rows.append({"wamid": message.wamid, "stanza_id": None, "number": message.number,
                          "body": message.text, "media_id": None, "mime_type": None,
                          "filename": None, "reacts_to": None, "recipient": None, **row})

    def write(self) -> None:
        if self.touched:
            Contact.update(last_message_at=self.now).where(
                Contact.number.in_(list(self.touched))).execute()
        if self.reopened:
            self.to_whatsapp |= ToWhatsApp.update(state=PENDING, next_try_at=utcnow()).where(
                ToWhatsApp.number.in_(list(self.reopened)) & (ToWhatsApp.state == HELD)
            ).execute() > 0
        bulk.insert_many(ToXmpp, self.rows)
        self.to_xmpp |= bool(self.rows)
        self.touched, self.reopened, self.rows = set(), set(), []


def _incoming(message: Incoming, digest: str, contacts: dict[str, Contact], number_key: str,
              burst: _Burst) -> None:
    """A message seen for the first time; `contacts` (by number) is kept up to date."""
    # STOP and YES are words typed: not a picture's caption, not a reaction
    said = message.text if message.kind in TEXT_KINDS else None
    word = (said or "").strip().strip(".!").upper()
    contact = contacts.get(message.number)
    if word in texts.STOP_WORDS:
        burst.write()  # what this number wrote before STOP is erased with the rest
        erase_number(message.number)
        contacts.pop(message.number, None)
        consent.withdraw(consent_subject(message.number, number_key), texts.PURPOSE,
                         channel="whatsapp")
        burst.own(message.number, f"stop:{digest}", texts.STOPPED)
        return
    if contact is None:
        contacts[message.number] = Contact.create(number=message.number)
        burst.own(message.number, f"notice:{digest}", texts.NOTICE)
        return
    burst.wrote(contact)
    if contact.state != AGREED:
        if word in texts.YES_WORDS:
            contact.state, contact.language = AGREED, texts.YES_WORDS[word]
            Contact.update(state=AGREED, agreed_at=utcnow(), language=contact.language
                           ).where(Contact.id == contact.id).execute()
            consent.give(consent_subject(message.number, number_key), texts.PURPOSE,
                         texts.NOTICE_VERSION, channel="whatsapp")
            burst.own(message.number, f"welcome:{digest}", texts.WELCOME)
        else:
            burst.own(message.number, f"notice:{digest}", texts.NOTICE)
        return
    if message.reacts_to is not None:
        _reaction(message, burst)
    elif message.media is not None:
        burst.relay(message, stanza_id=stanza_id_of(message.wamid), media_id=message.media.id,
                    mime_type=message.media.mime_type, filename=message.media.filename)
    elif message.text is None:
        burst.own(message.number, f"unsupported:{digest}", texts.UNSUPPORTED)
    else:
        burst.relay(message, stanza_id=stanza_id_of(message.wamid))


def _reaction(message: Incoming, burst: _Burst) -> None:
    """A reaction to a message from XMPP goes to that message's sender, naming its stanza id;
    one to a message the bridge no longer knows (or never relayed) has nobody to go to."""
    row = ToWhatsApp.get_or_none((ToWhatsApp.wamid == message.reacts_to)
                                 & (ToWhatsApp.number == message.number))
    if row is None or not row.stanza_id or not row.sender:
        return
    burst.relay(message, reacts_to=row.stanza_id, recipient=row.sender)


def stanza_id_of(wamid: str) -> str:
    """The XMPP id of a message from WhatsApp: follows from its wamid, so a copy delivered
    again is recognisably the same message."""
    return str(uuid.uuid5(STANZA_IDS, wamid))


def _own(number: str, key: str, text: Text, **values) -> None:
    """Queue one of the bridge's own texts (German and English) to `number`."""
    ToWhatsApp.insert(key=f"own:{key}", number=number, kind=OWN,
                      body=texts.both(text, **values)).on_conflict_ignore().execute()


def _status(update: Status, template: str) -> list[Tell | News]:
    row = ToWhatsApp.get_or_none(ToWhatsApp.wamid == update.wamid)
    if row is None:  # the webhook was faster than the answer to the send
        EarlyStatus.create(wamid=update.wamid, status=update.status,
                           error_code=update.error_code)
        return []
    return _apply(row, update.status, update.error_code, template)


def _apply(row: ToWhatsApp, status: str, code: int | None, template: str
           ) -> list[Tell | News]:
    if status == "failed":
        return _failed(row, code, template)
    if status not in PROGRESS or PROGRESS[status] <= PROGRESS.get(row.state, 99):
        return []  # late or repeated news
    if status == SENT:
        row.state = SENT
        row.save()
        return []
    if row.kind == OWN:
        row.delete_instance()  # the bridge's own text: nothing to keep
        return []
    ToWhatsApp.update(state=status, body=None, content=None).where(
        ToWhatsApp.id == row.id).execute()
    return _news(row, status)


def _news(row: ToWhatsApp, status: str) -> list[News]:
    """Delivered (or read, with no delivered before): a receipt if asked; chat markers for
    each step if the message was markable."""
    if not row.stanza_id or not row.sender:
        return []
    first_arrival = PROGRESS.get(row.state, 0) < PROGRESS[DELIVERED]
    news = []
    if first_arrival:
        news.append(News(row.sender, row.number, row.stanza_id, row.receipt,
                         "received" if row.markable else None))
    if status == READ and row.markable:
        news.append(News(row.sender, row.number, row.stanza_id, False, "displayed"))
    return [item for item in news if item.receipt or item.marker]


def _failed(row: ToWhatsApp, code: int | None, template: str) -> list[Tell]:
    if code == WINDOW_CLOSED_ERROR and row.template is None:
        ToWhatsApp.update(state=HELD, wamid=None).where(ToWhatsApp.id == row.id).execute()
        if template:
            ToWhatsApp.insert(key=f"template:{row.number}:{utcnow():%Y-%m-%d}",
                              number=row.number, kind=OWN, template=template
                              ).on_conflict_ignore().execute()
        return _tell(row, texts.WINDOW_CLOSED)
    if row.kind == OWN:
        row.delete_instance()
        return []
    ToWhatsApp.update(state=FAILED, body=None, content=None, error=f"Cloud API error {code}").where(
        ToWhatsApp.id == row.id).execute()
    return _tell(row, texts.UNDELIVERABLE, code=code if code is not None else "?")


def _tell(row: ToWhatsApp, text: Text, **values) -> list[Tell]:
    return [Tell(row.sender, row.number, text, values)] if row.sender else []


# --- to WhatsApp ------------------------------------------------------------------------------
def queue_from_xmpp(sender: str, number: str, key: str, body: str | None,
                    stanza_id: str | None = None, receipt: bool = False, markable: bool = False,
                    content: dict | None = None) -> Text | None:
    """Queue what `sender` wrote to `number` (a text, or `content`: a Cloud API message
    object); returns why not (a Text), or None. `key` is unique per message (its sender and
    stanza id): sent again, it is queued once. `stanza_id` names it for reactions and, with
    `receipt` or `markable`, for the news of it (see `News`)."""
    return queue_many_from_xmpp([(sender, number, key, body, stanza_id, receipt, markable,
                                  content)])[0]


def queue_many_from_xmpp(messages: list[tuple]) -> list[Text | None]:
    """`queue_from_xmpp` for a burst (each item its arguments, all eight), in its order: one
    look at the numbers' consent and one insert for all, not two statements each."""
    agreed = {number for (number,) in Contact.select(Contact.number).where(
        Contact.number.in_(list({message[1] for message in messages}))
        & (Contact.state == AGREED)).tuples()}
    rows, results = [], []
    for sender, number, key, body, stanza_id, receipt, markable, content in messages:
        if number not in agreed:
            results.append(texts.NOT_AGREED)
            continue
        digest = _digest(key)
        rows.append({"key": f"xmpp:{digest}", "number": number, "kind": RELAY, "sender": sender,
                     "body": body, "content": json.dumps(content) if content else None,
                     "stanza_id": stanza_id or None, "receipt": bool(stanza_id) and receipt,
                     "markable": bool(stanza_id) and markable})
        results.append(None)
    bulk.insert_many(ToWhatsApp, rows, ignore_conflicts=True)
    return results


def queue_reaction(sender: str, number: str, key: str, reacts_to: str, emoji: str
                   ) -> Text | None:
    """A reaction (XEP-0444) to the message from WhatsApp with stanza id `reacts_to`; `emoji`
    "" takes a reaction back. Returns why not, or None."""
    about = ToXmpp.get_or_none((ToXmpp.stanza_id == reacts_to) & (ToXmpp.number == number))
    if about is None:
        return texts.REACTION_UNKNOWN
    return queue_from_xmpp(sender, number, key, None, content={
        "type": "reaction", "reaction": {"message_id": about.wamid, "emoji": emoji}})


class NextSends(NamedTuple):
    """What the sender does next (`next_sends`): whom to tell about messages the Cloud API took
    (statuses that came first), the messages to send now, and when none: seconds until the
    next one is due (None: nothing waits)."""

    tells: list[Tell | News]
    claims: list[Claim]
    due: float | None
    unrecorded: list[tuple[int, Exception]]  # answers that could not be recorded, and why


def next_sends(answers: list[tuple[int, str, str]], limit: int,
               throttled: set[str] = frozenset()) -> NextSends:
    """The sender's one transaction per round: the sends the Cloud API took since the last
    round recorded (`answered`), the next ones claimed."""
    with _transaction():
        tells, unrecorded = answered(answers)
        claims = claim(limit, throttled)
        return NextSends(tells, claims, None if claims else next_due(), unrecorded)


def answered(answers: list[tuple[int, str, str]]
             ) -> tuple[list[Tell | News], list[tuple[int, Exception]]]:
    """`accepted` for sends the Cloud API took (each (row id, wamid, template)), first in
    its transaction: whom to tell (statuses that came first), and the answers that could not
    be recorded, with why."""
    tells: list[Tell | News] = []
    unrecorded: list[tuple[int, Exception]] = []
    if answers:
        told = in_one_go(accepted_many, accepted, answers)
        for (row_id, _wamid, _template), result in zip(answers, told, strict=True):
            if isinstance(result, Exception):
                unrecorded.append((row_id, result))
            else:
                tells += result
    return tells, unrecorded


def claim(limit: int, throttled: set[str] = frozenset()) -> list[Claim]:
    """Messages to send now, marked SENDING: per number only its oldest waiting one, and none
    while another of that number is on its way (so each person's messages keep their order)."""
    with _transaction():
        on_the_way = ToWhatsApp.select(ToWhatsApp.number).where(ToWhatsApp.state == SENDING)
        oldest = ToWhatsApp.select(peewee.fn.MIN(ToWhatsApp.id)).where(
            ToWhatsApp.state == PENDING).group_by(ToWhatsApp.number)
        rows = [row for row in ToWhatsApp.select(
            ToWhatsApp.id, ToWhatsApp.number, ToWhatsApp.body, ToWhatsApp.template,
            ToWhatsApp.content, ToWhatsApp.attempts).where(
            ToWhatsApp.id.in_(oldest) & (ToWhatsApp.next_try_at <= utcnow())
            & ToWhatsApp.number.not_in(on_the_way)).order_by(ToWhatsApp.id).limit(
            limit + len(throttled)) if row.number not in throttled][:limit]
        if rows:
            ToWhatsApp.update(state=SENDING, attempts=ToWhatsApp.attempts + 1).where(
                ToWhatsApp.id.in_([row.id for row in rows])).execute()
    return [Claim(row.id, row.number, row.body, row.template, row.content, row.attempts + 1)
            for row in rows]


def accepted(row_id: int, wamid: str, template: str = "") -> list[Tell | News]:
    """The Cloud API took the message: SENT, with its id; statuses that came first apply."""
    with _database().atomic():
        return accepted_many([(row_id, wamid, template)])[0]


def accepted_many(sends: list[tuple[int, str, str]]) -> list[list[Tell | News]]:
    """`accepted` for a burst of (row id, wamid, template), in one transaction: one look for
    statuses that came first, for all of them."""
    recorded: set[int] = set()  # not: erased meanwhile (STOP)
    for start in range(0, len(sends), ROWS_PER_STATEMENT):
        wamids = {row_id: wamid
                  for row_id, wamid, _template in sends[start:start + ROWS_PER_STATEMENT]}
        recorded.update(row_id for (row_id,) in ToWhatsApp.update(
            state=SENT, error=None, wamid=peewee.Case(ToWhatsApp.id, list(wamids.items()))).where(
            ToWhatsApp.id.in_(list(wamids)) & (ToWhatsApp.state == SENDING)).returning(
            ToWhatsApp.id).tuples().execute())
    early: dict[str, list[EarlyStatus]] = {}
    for status in EarlyStatus.select().where(EarlyStatus.wamid.in_(
            [wamid for _row_id, wamid, _template in sends])).order_by(EarlyStatus.id):
        early.setdefault(status.wamid, []).append(status)
    results = []
    for row_id, wamid, template in sends:
        tells: list[Tell | News] = []
        for status in early.get(wamid, []) if row_id in recorded else []:
            row = ToWhatsApp.get_or_none(ToWhatsApp.id == row_id)
            if row is not None:
                tells += _apply(row, status.status, status.error_code, template)
        results.append(tells)
    used = [status.id for statuses in early.values() for status in statuses]
    if used:
        EarlyStatus.delete().where(EarlyStatus.id.in_(used)).execute()
    return results


def retry_later(row_id: int, seconds: float, error: str) -> None:
    ToWhatsApp.update(state=PENDING, error=error,
                      next_try_at=utcnow() + timedelta(seconds=seconds)).where(
        (ToWhatsApp.id == row_id) & (ToWhatsApp.state == SENDING)).execute()


def refused(row_id: int, code: int | None, template: str = "") -> list[Tell]:
    """The Cloud API refused the message for good (or, 131047, for now)."""
    with _database().atomic():
        row = ToWhatsApp.get_or_none((ToWhatsApp.id == row_id) & (ToWhatsApp.state == SENDING))
        return _failed(row, code, template) if row is not None else []


def resume() -> int:
    """At start: messages a previous run was sending when it ended go again (the Cloud API
    has no idempotency key: one that did arrive arrives twice). Returns how many."""
    return ToWhatsApp.update(state=PENDING).where(ToWhatsApp.state == SENDING).execute()


def next_due() -> float | None:
    """Seconds until the next waiting message is due (0: now), None when nothing waits."""
    due = ToWhatsApp.select(peewee.fn.MIN(ToWhatsApp.next_try_at)).where(
        ToWhatsApp.state == PENDING).scalar()
    return None if due is None else max(0.0, (due - utcnow()).total_seconds())


# --- to XMPP ----------------------------------------------------------------------------------
def waiting_for_xmpp(limit: int, held: frozenset[str] = frozenset()) -> list[ToDeliver]:
    """Messages to deliver on XMPP, oldest first; none of the `held` numbers (waiting behind
    a file), so they never fill a batch that others' messages need."""
    return [ToDeliver(*row) for row in ToXmpp.select(
        ToXmpp.id, ToXmpp.wamid, ToXmpp.number, ToXmpp.body, ToXmpp.media_id, ToXmpp.mime_type,
        ToXmpp.filename, ToXmpp.file_url, ToXmpp.reacts_to, ToXmpp.recipient, Contact.language
    ).join(Contact, peewee.JOIN.LEFT_OUTER, on=(ToXmpp.number == Contact.number)).where(
        (ToXmpp.state == PENDING) & ToXmpp.number.not_in(list(held))).order_by(ToXmpp.id).limit(
        limit).tuples()]


def next_for_xmpp(delivered: list[int], limit: int, held: frozenset[str] = frozenset()
                  ) -> list[ToDeliver]:
    """One transaction per batch: the last batch recorded as delivered, the next one read."""
    with _transaction():
        if delivered:
            delivered_to_xmpp(delivered)
        return waiting_for_xmpp(limit, held)


def file_uploaded(row_id: int, url: str) -> bool:
    """A file from WhatsApp is on the XMPP server now (a delivery again reuses it). False:
    the message is gone meanwhile (its sender said STOP): not to be delivered."""
    return bool(ToXmpp.update(file_url=url).where(
        (ToXmpp.id == row_id) & (ToXmpp.state == PENDING)).execute())


def file_not_passed_on(row_id: int, number: str, text: Text, values: dict) -> None:
    """A file that cannot reach XMPP (too large, gone at Meta, failing for too long): its
    sender is told why; its caption, if any, still goes on as a text."""
    with _database().atomic():
        ToXmpp.update(media_id=None, mime_type=None, filename=None).where(
            ToXmpp.id == row_id).execute()
        ToXmpp.update(state=DONE).where((ToXmpp.id == row_id) & ToXmpp.body.is_null()).execute()
        _own(number, f"file:{row_id}", text, **values)


def delivered_to_xmpp(row_ids: list[int]) -> None:
    """The XMPP server has them: the texts and links go, ids and states stay."""
    ToXmpp.update(state=DONE, body=None, file_url=None).where(ToXmpp.id.in_(row_ids)).execute()


# --- people's data ----------------------------------------------------------------------------
def erase_number(number: str) -> int:
    """Everything the bridge keeps of `number` (not the consent record); returns rows."""
    with _database().atomic():
        return sum(model.delete().where(model.number == number).execute()
                   for model in (ToXmpp, ToWhatsApp, Contact))


def confirm_erased(number: str) -> None:
    """Tell `number` on WhatsApp that it was erased (`botschaft privacy erase`, or "forget me"
    in chat, whose answer from the bot can no longer pass the bridge)."""
    _own(number, f"erased:{uuid.uuid4().hex}", texts.STOPPED)


def data_of(number: str, number_key: str) -> dict:
    """What the bridge keeps of `number`, for the privacy export."""
    contact = Contact.get_or_none(Contact.number == number)
    if contact is None:
        return {}
    return {"number": number, "state": contact.state,
            "asked_at": contact.asked_at.isoformat(),
            "agreed_at": contact.agreed_at.isoformat() if contact.agreed_at else None,
            "last_message_at": contact.last_message_at.isoformat(),
            "language": contact.language,
            "consents": consent.records_of(consent_subject(number, number_key)),
            "from_whatsapp": [{"text": body, "state": state, "at": at.isoformat()}
                              for body, state, at in ToXmpp.select(
                                  ToXmpp.body, ToXmpp.state, ToXmpp.received_at).where(
                                  ToXmpp.number == number).order_by(ToXmpp.id).tuples()],
            "to_whatsapp": [{"text": body, "content": json.loads(content) if content else None,
                             "state": state, "at": at.isoformat()}
                            for body, content, state, at in ToWhatsApp.select(
                                ToWhatsApp.body, ToWhatsApp.content, ToWhatsApp.state,
                                ToWhatsApp.created_at).where(
                                (ToWhatsApp.number == number) & (ToWhatsApp.kind == RELAY)
                            ).order_by(ToWhatsApp.id).tuples()]}


def prune() -> int:
    """Forget what is no longer needed: handled ids after SEEN_DAYS, finished messages after
    FINISHED_DAYS, numbers that never answered the notice after UNANSWERED_DAYS."""
    now = utcnow()
    with _database().atomic():
        return (Seen.delete().where(Seen.at < now - timedelta(days=SEEN_DAYS)).execute()
                + EarlyStatus.delete().where(EarlyStatus.at < now - timedelta(hours=1)).execute()
                + ToXmpp.delete().where((ToXmpp.state == DONE) & (
                    ToXmpp.received_at < now - timedelta(days=FINISHED_DAYS))).execute()
                + ToWhatsApp.delete().where(ToWhatsApp.state.in_((DELIVERED, READ, FAILED)) & (
                    ToWhatsApp.created_at < now - timedelta(days=FINISHED_DAYS))).execute()
                + Contact.delete().where((Contact.state != AGREED) & (
                    Contact.asked_at < now - timedelta(days=UNANSWERED_DAYS))).execute())
