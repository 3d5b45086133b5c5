"""The tables of the announce plugin: who follows which list, and the announcements (drafts
waiting for a `yes`, scheduled, sent, cancelled); and what of these is personal data
(bots/personal_data.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee

from bots.personal_data import PersonalData

DRAFT, SCHEDULED, SENT, CANCELLED = "draft", "scheduled", "sent", "cancelled"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Subscription(peewee.Model):
    """Someone follows a list. The row goes when they stop; their consent row stays as the
    record of what they agreed to and when they withdrew it."""

    jid = peewee.CharField(max_length=3071, index=True)
    list = peewee.CharField(max_length=32)  # the list's name in the configuration
    language = peewee.CharField(max_length=8)  # they wrote in, unless they chose one
    subscribed_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "announce_subscription"
        indexes = ((("list", "jid"), True),)


class Announcement(peewee.Model):
    list = peewee.CharField(max_length=32)
    text = peewee.TextField()  # the company's words, as staff wrote them
    created_by = peewee.CharField(max_length=3071)  # a staff JID, or the admin's login name
    channel = peewee.CharField(max_length=8)  # chat or cli
    created_at = peewee.DateTimeField(default=utcnow)
    state = peewee.CharField(max_length=10, default=DRAFT)
    due_at = peewee.DateTimeField(null=True)  # scheduled: when it goes out (UTC)
    sent_at = peewee.DateTimeField(null=True)  # when its recipients were fixed and queued
    recipients = peewee.IntegerField(default=0)  # messages queued, one per person
    skipped = peewee.IntegerField(default=0)  # of these: people who stopped before theirs left

    class Meta:
        table_name = "announce_announcement"
        indexes = ((("created_by", "state"), False), (("state", "created_at"), False))


MODELS = [Subscription, Announcement]

SUBSCRIPTIONS = PersonalData(
    "announce.subscriptions", Subscription, Subscription.jid,
    "Who follows which list of announcements, since when, and in which language they asked: "
    "to send them the list's announcements. Deleted when they stop following it.")
ANNOUNCEMENTS = PersonalData(
    "announce.announcements", Announcement, Announcement.created_by,
    "Who on the staff sent or scheduled an announcement, when, to which list, and how many "
    "people it reached: the history (the text is the company's). An erased staff member's "
    "address is replaced in it.", retention_days=365,
    expired=lambda cutoff: (Announcement.created_at < cutoff)
    & (Announcement.state != SCHEDULED),
    columns=("created_by", "created_at", "list", "state", "recipients"))
PERSONAL_DATA = [SUBSCRIPTIONS, ANNOUNCEMENTS]
