"""Consent, recorded: who agreed to what, when, to which version of the text, on which channel.

Plugins ask before they start messaging someone by themselves (status pushes, daily lessons,
the WhatsApp bridge). A consent row names the purpose ("status.notify") and the version of the
text the person was shown, so it can be proven later which words they agreed to. Withdrawing
keeps the row (with the time, and the channel when the person withdrew it themselves) as the
record, and takes effect at once. A person who withdraws in chat (`withdraw N`, see
bots/privacy_chat.py) does so through the core: the plugin whose purpose it is hears of it as
the event WITHDRAWN (Plugin.on_event, with `jid` and `purpose`) and stops what it allowed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import peewee

from bots.storage import Schema


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Consent(peewee.Model):
    jid = peewee.CharField(max_length=3071)
    purpose = peewee.CharField(max_length=64)
    text_version = peewee.CharField(max_length=64)
    channel = peewee.CharField(max_length=32, default="xmpp")
    given_at = peewee.DateTimeField(default=_utcnow)
    withdrawn_at = peewee.DateTimeField(null=True)
    withdrawn_via = peewee.CharField(max_length=32, null=True)  # None: not by the person

    class Meta:
        table_name = "bots_consent"
        indexes = ((("jid", "purpose"), False),)


SCHEMA = Schema("consent", (Consent,), "bots.migrations.consent")
WITHDRAWN = "consent.withdrawn"  # the event (Services.emit) of a withdrawal in chat


def give(jid: str, purpose: str, text_version: str, channel: str = "xmpp") -> None:
    """Record that `jid` agreed to `purpose` as worded in `text_version` (run in a transaction
    with the change it allows)."""
    if not has(jid, purpose):
        Consent.create(jid=jid, purpose=purpose, text_version=text_version, channel=channel)


def withdraw(jid: str, purpose: str, channel: str | None = None) -> bool:
    """End the consent now; returns False when there was none. `channel`: where the person
    withdrew it themselves (None when staff or the program ended it, e.g. a room destroyed)."""
    return Consent.update(withdrawn_at=_utcnow(), withdrawn_via=channel).where(
        (Consent.jid == jid) & (Consent.purpose == purpose)
        & Consent.withdrawn_at.is_null()).execute() > 0


def ever_withdrawn(jid: str, purpose: str) -> bool:
    """True when the person once said no: then only they themselves switch it on again."""
    return Consent.select().where(
        (Consent.jid == jid) & (Consent.purpose == purpose)
        & Consent.withdrawn_at.is_null(False)).exists()


def has(jid: str, purpose: str) -> bool:
    return Consent.select().where(
        (Consent.jid == jid) & (Consent.purpose == purpose)
        & Consent.withdrawn_at.is_null()).exists()


def given_among(jids: list[str], purpose: str) -> set[str]:
    """Which of these people have a standing consent to `purpose` (one query)."""
    if not jids:
        return set()
    return {jid for (jid,) in Consent.select(Consent.jid).where(
        Consent.jid.in_(jids) & (Consent.purpose == purpose)
        & Consent.withdrawn_at.is_null()).tuples()}


def rows_of(jid: str) -> list[Consent]:
    """Every consent row of a person, oldest first: a row's place in this list stays the same
    until they are erased (rows are never deleted before), so people may refer to it by its
    number (`withdraw 2`)."""
    return list(Consent.select().where(Consent.jid == jid).order_by(Consent.given_at,
                                                                     Consent.id))


def records_of(jid: str) -> list[dict]:
    """Every consent row of a person, for the privacy export."""
    return [{"purpose": row.purpose, "text_version": row.text_version, "channel": row.channel,
             "given_at": row.given_at.isoformat(),
             "withdrawn_at": row.withdrawn_at.isoformat() if row.withdrawn_at else None,
             "withdrawn_via": row.withdrawn_via}
            for row in rows_of(jid)]
