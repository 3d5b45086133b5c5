"""The tables of the status plugin: items, their history, who may see them, claim attempts;
and what of these is personal data, for how long (bots/personal_data.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee

from bots.personal_data import PersonalData


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
    """A failed claim: the rate limit counts those of its window; the daily purge deletes
    them after a day ("status.claim_attempts" below)."""

    jid = peewee.CharField(max_length=3071, index=True)
    ref = peewee.CharField(max_length=64, index=True)
    at = peewee.DateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "status_claim_attempt"


MODELS = [Item, StatusChange, Watcher, FeedEvent, ClaimAttempt]


def final_before(cutoff: datetime) -> peewee.SelectQuery:
    """The items in a final state since before `cutoff`: the customer has what they waited
    for, and the record of it has served."""
    return Item.select(Item.id).where((Item.closed == True)  # noqa: E712 (peewee expression)
                                      & (Item.updated_at < cutoff))


def _item_gone(cutoff: datetime) -> peewee.Expression:
    """Final since before `cutoff`, or its history is gone already ("status.history" set
    shorter): an item never stays without its history, which `resend` and the pushes read."""
    history = StatusChange.select().where(StatusChange.item == Item.id)
    return (Item.closed == True) & (  # noqa: E712 (peewee expression)
        (Item.updated_at < cutoff) | ~peewee.fn.EXISTS(history))


HISTORY_DAYS = 90  # an item, its history and who claimed it, after it reached a final state
PERSONAL_DATA = [
    PersonalData("status.watchers", Watcher, Watcher.jid,
                 "Who linked which item, when, and the language of their messages: to show "
                 "them its status and tell them of changes. Counted from the item's final "
                 "state; goes with the item at the latest.", retention_days=HISTORY_DAYS,
                 expired=lambda cutoff: Watcher.item.in_(final_before(cutoff))),
    PersonalData("status.history", StatusChange, Watcher.jid,
                 "An item's states with the notes staff wrote to the customer (a note may "
                 "name them), shown to whoever linked the item. Counted from the item's final "
                 "state; goes with the item at the latest.", retention_days=HISTORY_DAYS,
                 expired=lambda cutoff: StatusChange.item.in_(final_before(cutoff))),
    PersonalData("status.items", Item, Watcher.jid,
                 "What customers wait for: the company's reference (it names the customer's "
                 "order), state and claim code. Counted from its final state; goes with its "
                 "history at the latest.", retention_days=HISTORY_DAYS, expired=_item_gone,
                 columns=("ref", "state", "code", "created_at", "updated_at")),
    PersonalData("status.claim_attempts", ClaimAttempt, ClaimAttempt.jid,
                 "Failed attempts to link an item (who, which reference, when): the limit "
                 "against guessing codes counts those of the last claim_window_minutes "
                 "(an hour), so keep them at least that long.", retention_days=1,
                 since=ClaimAttempt.at),
]
