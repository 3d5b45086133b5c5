"""What the bridge decides, as plain peewee code for a database thread (`storage.run`): the
opt-in of a number, the queues in both directions, and what statuses mean. Each function is
one transaction (or, in a burst, one savepoint of a shared transaction: `one_by_one`), so a
kill -9 leaves either all of a step or none of it.

Opt-in: a number the bridge has not seen gets the privacy notice and nothing else: its words
are neither stored nor relayed until it answers YES/JA, which is recorded as consent
(bots/consent.py: a hash of the number, the time, the notice's version). STOP/STOPP at any
time withdraws the consent, erases the number's messages and mapping, and confirms."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Callable, NamedTuple

import peewee

from bots import consent
from bots.i18n import Text
from server_bridge.whatsapp import texts
from server_bridge.whatsapp.models import (AGREED, DELIVERED, DONE, FAILED, HELD, OWN, PENDING,
                                           READ, RELAY, SENDING, SENT, Contact, EarlyStatus,
                                           Seen, ToWhatsApp, ToXmpp, utcnow)
from server_bridge.whatsapp.webhook import Incoming, Status

WINDOW_CLOSED_ERROR = 131047  # outside the 24-hour customer-service window
PROGRESS = {SENT: 1, DELIVERED: 2, READ: 3}
SEEN_DAYS = 8  # Meta retries a webhook for up to 7 days
FINISHED_DAYS = 7  # ids and states of finished messages, for questions about them
UNANSWERED_DAYS = 30  # a number that got the notice and never answered is forgotten


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


class Claim(NamedTuple):
    id: int
    number: str
    body: str | None
    template: str | None
    attempts: int


def consent_subject(number: str) -> str:
    """Who a consent row is about: the number's hash, never the number."""
    return "whatsapp:sha256:" + hashlib.sha256(number.encode()).hexdigest()


def _database() -> peewee.Database:
    return Contact._meta.database


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
def receive(updates: list[Incoming | Status], template: str = "") -> list[Tell | News]:
    """Store one webhook delivery; returns whom to tell about failed messages. `template`:
    the approved template that asks a person outside the 24-hour window to write again."""
    tells: list[Tell | News] = []
    with _database().atomic():
        for update in updates:
            if isinstance(update, Incoming):
                _incoming(update)
            else:
                tells += _status(update, template)
    return tells


def _incoming(message: Incoming) -> None:
    digest = hashlib.sha256(message.wamid.encode()).hexdigest()
    if not Seen.insert(digest=digest).on_conflict_ignore().as_rowcount().execute():
        return  # delivered before
    word = (message.text or "").strip().strip(".!").upper()
    contact = Contact.get_or_none(Contact.number == message.number)
    if word in texts.STOP_WORDS:
        erase_number(message.number)
        consent.withdraw(consent_subject(message.number), texts.PURPOSE, channel="whatsapp")
        _own(message.number, f"stop:{digest}", texts.STOPPED)
        return
    if contact is None:
        Contact.create(number=message.number)
        _own(message.number, f"notice:{digest}", texts.NOTICE)
        return
    Contact.update(last_message_at=utcnow()).where(Contact.id == contact.id).execute()
    ToWhatsApp.update(state=PENDING, next_try_at=utcnow()).where(
        (ToWhatsApp.number == message.number) & (ToWhatsApp.state == HELD)).execute()
    if contact.state != AGREED:
        if word in texts.YES_WORDS:
            Contact.update(state=AGREED, agreed_at=utcnow()).where(
                Contact.id == contact.id).execute()
            consent.give(consent_subject(message.number), texts.PURPOSE, texts.NOTICE_VERSION,
                         channel="whatsapp")
            _own(message.number, f"welcome:{digest}", texts.WELCOME)
        else:
            _own(message.number, f"notice:{digest}", texts.NOTICE)
        return
    if message.text is None:
        _own(message.number, f"unsupported:{digest}", texts.UNSUPPORTED)
        return
    ToXmpp.create(wamid=message.wamid, number=message.number, body=message.text)


def _own(number: str, key: str, text: Text) -> None:
    """Queue one of the bridge's own texts (German and English) to `number`."""
    ToWhatsApp.insert(key=f"own:{key}", number=number, kind=OWN,
                      body=texts.both(text)).on_conflict_ignore().execute()


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
    ToWhatsApp.update(state=status, body=None).where(ToWhatsApp.id == row.id).execute()
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
    ToWhatsApp.update(state=FAILED, body=None, error=f"Cloud API error {code}").where(
        ToWhatsApp.id == row.id).execute()
    return _tell(row, texts.UNDELIVERABLE, code=code if code is not None else "?")


def _tell(row: ToWhatsApp, text: Text, **values) -> list[Tell]:
    return [Tell(row.sender, row.number, text, values)] if row.sender else []


# --- to WhatsApp ------------------------------------------------------------------------------
def queue_from_xmpp(sender: str, number: str, key: str, body: str, stanza_id: str | None = None,
                    receipt: bool = False, markable: bool = False) -> Text | None:
    """Queue what `sender` wrote to `number`; returns why not (a Text), or None. `key` is
    unique per message (its sender and stanza id): sent again, it is queued once. With
    `receipt` or `markable`, `stanza_id` is kept for the news of it (see `News`)."""
    contact = Contact.get_or_none(Contact.number == number)
    if contact is None or contact.state != AGREED:
        return texts.NOT_AGREED
    digest = hashlib.sha256(key.encode()).hexdigest()
    asked = bool(stanza_id) and (receipt or markable)
    ToWhatsApp.insert(key=f"xmpp:{digest}", number=number, kind=RELAY, sender=sender, body=body,
                      stanza_id=stanza_id if asked else None, receipt=asked and receipt,
                      markable=asked and markable).on_conflict_ignore().execute()
    return None


def claim(limit: int, throttled: set[str] = frozenset()) -> list[Claim]:
    """Messages to send now, marked SENDING: per number only its oldest waiting one, and none
    while another of that number is on its way (so each person's messages keep their order)."""
    with _database().atomic():
        on_the_way = ToWhatsApp.select(ToWhatsApp.number).where(ToWhatsApp.state == SENDING)
        oldest = ToWhatsApp.select(peewee.fn.MIN(ToWhatsApp.id)).where(
            ToWhatsApp.state == PENDING).group_by(ToWhatsApp.number)
        rows = [row for row in ToWhatsApp.select(
            ToWhatsApp.id, ToWhatsApp.number, ToWhatsApp.body, ToWhatsApp.template,
            ToWhatsApp.attempts).where(
            ToWhatsApp.id.in_(oldest) & (ToWhatsApp.next_try_at <= utcnow())
            & ToWhatsApp.number.not_in(on_the_way)).order_by(ToWhatsApp.id).limit(
            limit + len(throttled)) if row.number not in throttled][:limit]
        if rows:
            ToWhatsApp.update(state=SENDING, attempts=ToWhatsApp.attempts + 1).where(
                ToWhatsApp.id.in_([row.id for row in rows])).execute()
    return [Claim(row.id, row.number, row.body, row.template, row.attempts + 1) for row in rows]


def accepted(row_id: int, wamid: str, template: str = "") -> list[Tell | News]:
    """The Cloud API took the message: SENT, with its id; statuses that came first apply."""
    with _database().atomic():
        if not ToWhatsApp.update(state=SENT, wamid=wamid, error=None).where(
                (ToWhatsApp.id == row_id) & (ToWhatsApp.state == SENDING)).execute():
            return []  # erased meanwhile (STOP)
        tells = []
        early = list(EarlyStatus.select().where(EarlyStatus.wamid == wamid).order_by(
            EarlyStatus.id))
        for status in early:
            row = ToWhatsApp.get_or_none(ToWhatsApp.id == row_id)
            if row is not None:
                tells += _apply(row, status.status, status.error_code, template)
        if early:
            EarlyStatus.delete().where(EarlyStatus.id.in_([status.id for status in early])
                                       ).execute()
        return tells


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
def waiting_for_xmpp(limit: int) -> list[tuple[int, str, str, str]]:
    """(id, wamid, number, body) of messages to deliver to the bot, oldest first."""
    return list(ToXmpp.select(ToXmpp.id, ToXmpp.wamid, ToXmpp.number, ToXmpp.body).where(
        ToXmpp.state == PENDING).order_by(ToXmpp.id).limit(limit).tuples())


def delivered_to_xmpp(row_ids: list[int]) -> None:
    """The XMPP server has them: the texts go, ids and states stay."""
    ToXmpp.update(state=DONE, body=None).where(ToXmpp.id.in_(row_ids)).execute()


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


def data_of(number: str) -> dict:
    """What the bridge keeps of `number`, for the privacy export."""
    contact = Contact.get_or_none(Contact.number == number)
    if contact is None:
        return {}
    return {"number": number, "state": contact.state,
            "asked_at": contact.asked_at.isoformat(),
            "agreed_at": contact.agreed_at.isoformat() if contact.agreed_at else None,
            "last_message_at": contact.last_message_at.isoformat(),
            "consents": consent.records_of(consent_subject(number)),
            "from_whatsapp": [{"text": body, "state": state, "at": at.isoformat()}
                              for body, state, at in ToXmpp.select(
                                  ToXmpp.body, ToXmpp.state, ToXmpp.received_at).where(
                                  ToXmpp.number == number).order_by(ToXmpp.id).tuples()],
            "to_whatsapp": [{"text": body, "state": state, "at": at.isoformat()}
                            for body, state, at in ToWhatsApp.select(
                                ToWhatsApp.body, ToWhatsApp.state, ToWhatsApp.created_at).where(
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
