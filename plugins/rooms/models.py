"""The tables of the rooms plugin: the group rooms the bot keeps, and who is asked into them."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee

ACTIVE, ARCHIVED = "active", "archived"
INVITED, JOINED, LEFT = "invited", "joined", "left"


def utcnow() -> datetime:
    """Naive UTC, as every Botschaft table stores time."""
    return datetime.now(UTC).replace(tzinfo=None)


class Room(peewee.Model):
    """A group room on the company's server (slug@conference.<domain>), for a course, a cohort
    or a team; the server holds its configuration and affiliations, this row what the bot
    needs to keep them (and the welcome it posted once)."""

    slug = peewee.CharField(max_length=64, unique=True)  # the room address's local part
    name = peewee.CharField(max_length=200)
    description = peewee.TextField(default="")
    course = peewee.CharField(max_length=64, null=True, index=True)  # a lessons course's slug
    trainer = peewee.CharField(max_length=3071, null=True)  # owner in the room besides the bot
    language = peewee.CharField(max_length=8)  # of the welcome and the rules
    state = peewee.CharField(max_length=10, default=ACTIVE)
    destroy_after = peewee.DateTimeField(null=True)  # archived: destroyed by the daily job
    welcomed_at = peewee.DateTimeField(null=True)  # the bot posted the welcome and the rules
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "rooms_room"


class Member(peewee.Model):
    """A person asked into a room. `invited`: told about the room, not in it (they get the
    trainer's announcements directly); `joined`: agreed (consent rooms.<slug>) and a member on
    the server; `left`: agreed once, withdrew."""

    room = peewee.ForeignKeyField(Room, backref="members", on_delete="CASCADE")
    jid = peewee.CharField(max_length=3071, index=True)
    state = peewee.CharField(max_length=10, default=INVITED)
    language = peewee.CharField(max_length=8)  # of the notes the bot sends them
    invited_at = peewee.DateTimeField(default=utcnow)
    joined_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "rooms_member"
        indexes = ((("room", "jid"), True),)


MODELS = [Room, Member]
