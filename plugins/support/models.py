"""The tables of the support desk: cases (a customer's conversation with a person), what was
written in them, and how many questions the bot answered by itself; and what of these is
personal data (bots/personal_data.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee

from bots.personal_data import PersonalData

WAITING, HELD, CLOSED, LEFT = "waiting", "held", "closed", "left"  # closed: by staff (done)
CUSTOMER, BOT, STAFF, NOTE = "customer", "bot", "staff", "note"  # who wrote an entry


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Case(peewee.Model):
    """One conversation handed to people: it waits in the queue, is held by one staff member
    at a time, and is closed with `done`, or left with the customer's `cancel`."""

    customer = peewee.CharField(max_length=3071, index=True)
    language = peewee.CharField(max_length=8)
    state = peewee.CharField(max_length=8, default=WAITING, index=True)
    staff = peewee.CharField(max_length=3071, null=True)  # who holds (or held) it
    queued_at = peewee.DateTimeField(default=utcnow)
    taken_at = peewee.DateTimeField(null=True)  # first taken: the waiting time ends
    closed_at = peewee.DateTimeField(null=True)
    rating = peewee.SmallIntegerField(null=True)  # 1–5, the customer's answer at the end

    class Meta:
        table_name = "support_case"


class Entry(peewee.Model):
    """What was written in a case: the customer's words, the bot's, staff's, internal notes."""

    case = peewee.ForeignKeyField(Case, backref="entries", on_delete="CASCADE")
    author = peewee.CharField(max_length=8)  # customer, bot, staff, note
    text = peewee.TextField()
    at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "support_entry"


class BotAnswer(peewee.Model):
    """Questions the bot answered from the knowledge file, per day (UTC): a count, no text."""

    day = peewee.DateField(unique=True)
    count = peewee.IntegerField(default=0)

    class Meta:
        table_name = "support_bot_answer"


MODELS = [Case, Entry, BotAnswer]

CASES = PersonalData(
    "support.cases", Case, Case.customer,
    "Who asked for a person, when, how long they waited, who of the staff answered, and the "
    "rating they gave (no text): to run the desk and count its work.", retention_days=365,
    expired=lambda cutoff: Case.closed_at < cutoff,
    columns=("customer", "language", "state", "queued_at", "taken_at", "closed_at", "rating"))
TEXTS = PersonalData(
    "support.texts", Entry, Case.customer,
    "What a customer, the bot and staff wrote in a conversation handed to a person, and staff's "
    "internal notes: for the staff member who answers. Deleted once the case is closed "
    "(default 0 days: at the next purge).", retention_days=0,
    expired=lambda cutoff: Entry.case.in_(Case.select(Case.id).where(Case.closed_at < cutoff)),
    columns=("author", "text", "at"))
PERSONAL_DATA = [TEXTS, CASES]
