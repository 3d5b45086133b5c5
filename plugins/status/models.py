"""The tables of the status plugin: items, their history, who may see them, claim attempts."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee


def utcnow() -> datetime:
    """Naive UTC, as every Botschaft table stores time (portable across backends)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Item(peewee.Model):
    """Something a customer waits for: a vehicle in the workshop, an order, a reserved book."""

    ref = peewee.CharField(max_length=64, unique=True)  # job/order number, normalised
    kind = peewee.CharField(max_length=32)
    state = peewee.CharField(max_length=32)
    code = peewee.CharField(max_length=16)  # printed on the receipt; proves the claim
    closed = peewee.BooleanField(default=False, index=True)  # reached a final state
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "status_item"


class StatusChange(peewee.Model):
    """One step in an item's history; customers see the state's text and the note."""

    item = peewee.ForeignKeyField(Item, backref="changes", on_delete="CASCADE")
    state = peewee.CharField(max_length=32)
    note = peewee.TextField(null=True)
    source = peewee.CharField(max_length=16)  # chat, cli, http, import, api
    changed_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "status_change"


class Watcher(peewee.Model):
    """A person who claimed an item: may see it, and is told of its changes while their consent
    to notifications stands (bots.consent, purpose "status.notify")."""

    item = peewee.ForeignKeyField(Item, backref="watchers", on_delete="CASCADE")
    jid = peewee.CharField(max_length=3071, index=True)
    language = peewee.CharField(max_length=8, null=True)  # theirs when claiming (client's)
    claimed_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "status_watcher"
        indexes = ((("item", "jid"), True),)


class FeedEvent(peewee.Model):
    """Event ids from the company's system already applied, with the item each was for: the
    same event again changes nothing, and its id sent for another item is refused."""

    event_id = peewee.CharField(max_length=200, unique=True)
    ref = peewee.CharField(max_length=64, null=True)  # None: applied before refs were kept
    received_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "status_feed_event"


class ClaimAttempt(peewee.Model):
    """A failed claim, kept for the rate limit's window and then deleted."""

    jid = peewee.CharField(max_length=3071, index=True)
    ref = peewee.CharField(max_length=64, index=True)
    at = peewee.DateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "status_claim_attempt"


MODELS = [Item, StatusChange, Watcher, FeedEvent, ClaimAttempt]
