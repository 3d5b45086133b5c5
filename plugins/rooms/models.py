"""The tables of the rooms plugin: the group rooms the bot keeps, and who is asked into them;
and what of these is personal data (bots/personal_data.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee

from bots.personal_data import PersonalData

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

# Kept while needed, no period of their own; what is said in a room is on the server (its
# archive), not here.
PERSONAL_DATA = [
    PersonalData("rooms.members", Member, Member.jid,
                 "Who is asked into which group chat, whether they joined or left again, "
                 "when, and the language of the bot's notes to them. Kept while the room "
                 "exists, until they are removed or erased."),
    PersonalData("rooms.trainers", Room, Room.trainer,
                 "A group chat's trainer (a staff member): an owner of the room, who gets the "
                 "answers of those who did not join. Kept while the room exists, until another "
                 "is named or they are erased.", columns=("trainer",)),
]
