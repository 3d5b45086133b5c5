"""Consent, recorded: who agreed to what, when, to which version of the text, on which channel.

Plugins ask before they start messaging someone by themselves (status pushes, daily lessons,
the WhatsApp bridge). A consent row names the purpose ("status.notify") and the version of the
text the person was shown, so it can be proven later which words they agreed to. Withdrawing
keeps the row (with the time) as the record, and takes effect at once.
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

    class Meta:
        table_name = "bots_consent"
        indexes = ((("jid", "purpose"), False),)


SCHEMA = Schema("consent", (Consent,))


def give(jid: str, purpose: str, text_version: str, channel: str = "xmpp") -> None:
    """Record that `jid` agreed to `purpose` as worded in `text_version` (run in a transaction
    with the change it allows)."""
    if not has(jid, purpose):
        Consent.create(jid=jid, purpose=purpose, text_version=text_version, channel=channel)


def withdraw(jid: str, purpose: str) -> bool:
    """End the consent now; returns False when there was none."""
    return Consent.update(withdrawn_at=_utcnow()).where(
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


def records_of(jid: str) -> list[dict]:
    """Every consent row of a person, for the privacy export."""
    return [{"purpose": row.purpose, "text_version": row.text_version, "channel": row.channel,
             "given_at": row.given_at.isoformat(),
             "withdrawn_at": row.withdrawn_at.isoformat() if row.withdrawn_at else None}
            for row in Consent.select().where(Consent.jid == jid).order_by(Consent.given_at)]
