"""The audit log: which staff member or admin did what to whom, and when (who set a status,
made an invitation, added someone to a room, exported or erased someone's data), for a
data-protection officer to check. It names people and items, never contents: no message
texts, no notes, no status texts.

`record` is plain peewee code: call it inside the transaction of the action it records, so
that both happen or neither. `botschaft audit` reads the log; [privacy] retention "audit"
says how long entries stay.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import peewee
from peewee import fn

from bots.storage import Schema

SYSTEM = "system"  # the actor when no person acted (a job, the company's system on the feed)
ERASED = "(erased)"  # what an erased person's address becomes in the log


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class AuditEntry(peewee.Model):
    at = peewee.DateTimeField(default=_utcnow, index=True)
    actor = peewee.CharField(max_length=3071, index=True)  # a staff JID, a login name, system
    channel = peewee.CharField(max_length=20)  # chat, cli, http, import, api, bot
    action = peewee.CharField(max_length=64, index=True)  # e.g. status.set, privacy.erase
    subject = peewee.CharField(max_length=3071, null=True, index=True)  # a JID or an item
    details = peewee.TextField(default="{}")  # JSON: names and numbers, never contents

    class Meta:
        table_name = "bots_audit"

    @property
    def facts(self) -> dict:
        return json.loads(self.details)


SCHEMA = Schema("audit", (AuditEntry,))


@dataclass(frozen=True)
class Actor:
    """Who acted, and through which channel."""

    name: str  # a staff member's bare JID, an admin's login name, or SYSTEM
    channel: str  # chat (ad-hoc forms too), cli, http, import, api, bot (the bot by itself)


def system(channel: str) -> Actor:
    """No person acted: the bot by itself ("bot"), the company's system on the feed ("http")."""
    return Actor(SYSTEM, channel)


BOT = system("bot")  # a job, or what follows from a person's own step (subscribed to a course)


def admin() -> Actor:
    """The admin running this command line (their login name, as `privacy erase` records)."""
    return Actor(getpass.getuser(), "cli")


def in_chat(ctx) -> Actor:
    """The staff member whose chat command (or ad-hoc form) this is."""
    return Actor(ctx.person.jid, "chat")


def record(actor: Actor, action: str, subject: str | None = None, /, **details) -> None:
    """One entry: `action` is a stable name ("room.add"), `subject` the person (bare JID) or
    item acted on, `details` a few names or numbers (a room, a state), never contents."""
    AuditEntry.create(actor=actor.name, channel=actor.channel, action=action, subject=subject,
                      details=json.dumps(details, ensure_ascii=False, sort_keys=True))


def forget(jid: str) -> int:
    """An erased person's address goes from the log, where they acted and where they were
    acted on; the entries stay until their retention ends: what was done, not by or to whom.
    Returns how many entries changed."""
    return (AuditEntry.update(subject=ERASED).where(AuditEntry.subject == jid).execute()
            + AuditEntry.update(actor=ERASED).where(AuditEntry.actor == jid).execute())


def entries(actor: str | None = None, subject: str | None = None, action: str | None = None,
            since: datetime | None = None, until: datetime | None = None,
            limit: int = 100) -> list[AuditEntry]:
    """The newest `limit` entries that match, newest first. `actor` and `subject` match
    without case; `action` is a name ("status.set") or its first part ("status"); `since`
    (included) and `until` (excluded) are naive UTC."""
    query = AuditEntry.select()
    if actor:
        query = query.where(fn.LOWER(AuditEntry.actor) == actor.strip().lower())
    if subject:
        query = query.where(fn.LOWER(AuditEntry.subject) == subject.strip().lower())
    if action:
        action = action.strip().lower()
        query = query.where((AuditEntry.action == action)
                            | AuditEntry.action.startswith(f"{action}."))
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    return list(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
