"""Announcements: people follow lists, staff send to a list's followers, exactly once each.

Every method is plain peewee code for a database thread.

Going out. When an announcement goes out (`yes` in chat, `botschaft announce send`, or its
scheduled time), its recipients are fixed in one transaction: everyone who follows the list and
whose consent stands at that moment gets one outbox message, keyed
`announce:<list>:<announcement>:<subscription>`, and the announcement is marked sent. The
outbox sends each exactly once, also across kill -9 of the bot (bots/outbox.py). A crash
before the commit leaves the announcement as it was: a scheduled one runs again, a draft waits
for its `yes`. Whoever follows the list later does not get it.

Stopping meanwhile. Someone who stops following while an announcement goes out gets nothing
further: their messages of that list still waiting in the outbox are deleted together with
the subscription, in one transaction. A message the outbox has already taken (it takes about
a second's worth at a time) has left, or is leaving, and arrives (`bot.unnotify`).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

from bots import audit, consent
from bots.i18n import LANGUAGES, Text, TextError, render, translator
from bots.scheduler import Run
from bots.services import Services
from bots.stanza_text import MAX_BODY_CHARACTERS, without_forbidden_characters
from plugins.announce.lists import PURPOSE_PREFIX, AnnounceList, Title, spoken
from plugins.announce.models import (CANCELLED, DRAFT, SCHEDULED, SENT, Announcement,
                                     Subscription, utcnow)

log = logging.getLogger(__name__)
_ = translator(__name__)

JOB = "announce.send"  # a scheduled announcement's plan, key announcement:<id>
KEY_PREFIX = "announce:"  # of its outbox messages: announce:<list>:<announcement>:<subscription>
CONFIRM_MINUTES = 10  # a draft waits this long for its `yes`
CHUNK = 500  # people per query and outbox statement (SQLite takes at most 32,766 parameters)
BODY = _("{title}:\n{text}\n\n(No more of these: unfollow {title})")


class AnnounceError(TextError):
    """What was asked cannot be done; `text(language)` says why, `str()` in English names
    the field at fault (for the CLI)."""

    def __init__(self, field: str, message: Text, **values):
        super().__init__(message, field, **values)


@dataclass(frozen=True)
class Draft:
    announcement: Announcement
    announce_list: AnnounceList
    recipients: int  # who would get it now


class Announcer:
    """Following, drafts, sending, the schedule and the history, over `bot`'s services (the
    running bot's, or a CLI command's)."""

    def __init__(self, lists: dict[str, AnnounceList], bot: Services):
        self.lists = lists
        self.bot = bot
        self.db = bot.database

    # --- lists -------------------------------------------------------------------------------
    def find(self, name: str) -> AnnounceList:
        """A list by its name or a title in any language."""
        wanted = spoken((name or "").strip().strip('"„“'))
        for announce_list in self.lists.values():
            if wanted in announce_list.words():
                return announce_list
        known = Title({language: ", ".join(announce_list.title[language]
                                           for announce_list in self.lists.values())
                       for language in LANGUAGES})
        raise AnnounceError("list", _("There is no list {name}. Lists: {known}"),
                            name=(name or "").strip()[:40], known=known)

    def timezone_of(self, announce_list: AnnounceList) -> str:
        return announce_list.timezone or self.bot.timezone

    # --- followers ---------------------------------------------------------------------------
    def follow(self, jid: str, name: str, language: str) -> tuple[AnnounceList, bool]:
        """Follow a list, its consent recorded; (the list, False if they followed it already)."""
        announce_list = self.find(name)
        with self.db.atomic():
            subscription = Subscription.get_or_none((Subscription.list == announce_list.name)
                                                    & (Subscription.jid == jid))
            already = subscription is not None and consent.has(jid, announce_list.purpose)
            if subscription is None:
                Subscription.create(jid=jid, list=announce_list.name, language=language)
            else:
                subscription.language = language  # what they write in now
                subscription.save()
            consent.give(jid, announce_list.purpose, announce_list.text_version)
        return announce_list, not already

    def unfollow(self, jid: str, name: str | None) -> tuple[AnnounceList, int]:
        """Stop following at once: (the list, how many of its messages on their way to the
        person were held back). Without a name: the one list they follow."""
        if name:
            announce_list = self.find(name)
        else:
            followed = self.followed(jid)
            if len(followed) != 1:
                raise AnnounceError("list", _("You follow no list.") if not followed else
                                    _("Which one? Write e.g.: unfollow {title}"),
                                    title=followed[0].shown if followed else "")
            announce_list = followed[0]
        with self.db.atomic():
            withdrawn = consent.withdraw(jid, announce_list.purpose, "xmpp")
            deleted = Subscription.delete().where((Subscription.list == announce_list.name)
                                                  & (Subscription.jid == jid)).execute()
            if not (withdrawn or deleted):
                raise AnnounceError("list", _("You do not follow {title}."),
                                    title=announce_list.shown)
            return announce_list, self._drop_unsent(jid, announce_list)

    def followed(self, jid: str) -> list[AnnounceList]:
        names = {name for (name,) in Subscription.select(Subscription.list)
                 .where(Subscription.jid == jid).tuples()}
        return [announce_list for name, announce_list in self.lists.items() if name in names]

    def consent_withdrawn(self, jid: str, purpose: str) -> None:
        """The consent to a list was withdrawn in chat (`withdraw N`): as `unfollow`."""
        name = purpose.removeprefix(PURPOSE_PREFIX)
        Subscription.delete().where((Subscription.list == name)
                                    & (Subscription.jid == jid)).execute()
        if name in self.lists:
            self._drop_unsent(jid, self.lists[name])

    def followers(self, announce_list: AnnounceList) -> int:
        """How many would get an announcement to the list now."""
        return sum(len(chunk) for chunk in self._recipients(announce_list))

    def _recipients(self, announce_list: AnnounceList
                    ) -> Iterator[list[tuple[int, str, str]]]:
        """(subscription, jid, language) of the followers whose consent stands, a chunk at a
        time, in the order they followed."""
        rows = list(Subscription.select(Subscription.id, Subscription.jid, Subscription.language)
                    .where(Subscription.list == announce_list.name)
                    .order_by(Subscription.id).tuples())
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            agreed = consent.given_among([jid for _id, jid, _language in chunk],
                                         announce_list.purpose)
            yield [row for row in chunk if row[1] in agreed]

    def _drop_unsent(self, jid: str, announce_list: AnnounceList) -> int:
        """Delete the person's messages of this list that still wait in the outbox (not yet
        taken to be sent), counted as skipped in their announcements."""
        dropped = Counter(int(key.split(":")[2]) for key in self.bot.unnotify(
            jid, f"{KEY_PREFIX}{announce_list.name}:"))
        for announcement, count in dropped.items():
            Announcement.update(skipped=Announcement.skipped + count).where(
                Announcement.id == announcement).execute()
        return sum(dropped.values())

    # --- announcements -----------------------------------------------------------------------
    def body(self, announce_list: AnnounceList, text: str, language: str) -> str:
        """The message as a follower reads it in `language`."""
        return render(BODY, language, title=announce_list.title[language], text=text)

    def checked(self, announce_list: AnnounceList, text: str) -> str:
        """The text cleaned of characters no message carries; AnnounceError if it is empty
        or too long."""
        text = without_forbidden_characters(text or "").strip()
        if not text:
            raise AnnounceError("text", _("An announcement needs a text."))
        longest = max(len(self.body(announce_list, text, language)) for language in LANGUAGES)
        if longest > MAX_BODY_CHARACTERS:
            raise AnnounceError("text", _("The text is too long: {length} characters; a "
                                          "message carries at most {limit}."),
                                length=longest, limit=MAX_BODY_CHARACTERS)
        return text

    def draft(self, by: str, name: str, text: str) -> Draft:
        """Chat: the announcement `by` wants to send, waiting for their `yes`; an earlier
        draft of theirs is replaced. Refused when nobody would get it."""
        announce_list = self.find(name)
        text = self.checked(announce_list, text)
        recipients = self.followers(announce_list)
        if not recipients:
            raise AnnounceError("list", _("Nobody follows {title} yet, so nobody would get "
                                          "it. People follow it with: follow {title}"),
                                title=announce_list.shown)
        with self.db.atomic():
            Announcement.delete().where(
                (Announcement.state == DRAFT) & ((Announcement.created_by == by)
                                                 | (Announcement.created_at < self._cutoff()))
            ).execute()
            announcement = Announcement.create(list=announce_list.name, text=text,
                                               created_by=by, channel="chat")
        return Draft(announcement, announce_list, recipients)

    def confirm(self, by: str) -> Announcement:
        """`yes`: `by`'s draft goes out."""
        with self.db.atomic():
            draft = (Announcement.select()
                     .where((Announcement.created_by == by) & (Announcement.state == DRAFT)
                            & (Announcement.created_at >= self._cutoff()))
                     .order_by(Announcement.id.desc()).first())
            if draft is None or not self._go_out(draft, audit.Actor(by, "chat")):
                raise AnnounceError("", _("Nothing is waiting for your yes (an announcement "
                                          "waits {minutes} minutes). To send one: announce "
                                          "<list> <text>"), minutes=CONFIRM_MINUTES)
        return Announcement.get_by_id(draft.id)

    def send_now(self, name: str, text: str, by: audit.Actor,
                 progress: Callable[[int], None] | None = None) -> Announcement:
        """The command line: out at once. `progress(n)` after each n people are queued."""
        announce_list = self.find(name)
        with self.db.atomic():
            announcement = Announcement.create(list=announce_list.name, created_by=by.name,
                                               text=self.checked(announce_list, text),
                                               channel=by.channel)
            self._go_out(announcement, by, progress)
        return Announcement.get_by_id(announcement.id)

    def schedule(self, name: str, text: str, at: datetime, by: audit.Actor) -> Announcement:
        """Out at `at`, a local time (naive) in the list's time zone, through the scheduler:
        a plan in the database, so it survives restarts; the recipients are those who follow
        the list then."""
        announce_list = self.find(name)
        text = self.checked(announce_list, text)
        due = at.replace(tzinfo=ZoneInfo(self.timezone_of(announce_list))).astimezone(UTC)
        seconds = math.ceil((due - datetime.now(UTC)).total_seconds())
        if seconds < 1:
            raise AnnounceError("at", _("{at} is past; give a time to come."),
                                at=f"{at:%Y-%m-%d %H:%M}")
        with self.db.atomic():
            announcement = Announcement.create(
                list=announce_list.name, text=text, created_by=by.name, channel=by.channel,
                state=SCHEDULED, due_at=due.replace(tzinfo=None))
            # a plan of its own, first due at `due`; going out cancels it (go_out_due)
            self.bot.every(JOB, f"announcement:{announcement.id}", seconds)
            audit.record(by, "announce.schedule", announce_list.name,
                         announcement=announcement.id, due=due.isoformat())
        return announcement

    def cancel(self, number: int, by: audit.Actor) -> Announcement:
        """A scheduled announcement will not go out."""
        with self.db.atomic():
            announcement = Announcement.get_or_none((Announcement.id == number)
                                                    & (Announcement.state != DRAFT))
            if announcement is None or announcement.state != SCHEDULED:
                raise AnnounceError("number", _("No announcement {number} is scheduled."),
                                    number=number)
            Announcement.update(state=CANCELLED).where(Announcement.id == number).execute()
            self.bot.cancel(JOB, f"announcement:{number}")
            audit.record(by, "announce.cancel", announcement.list, announcement=number)
        return Announcement.get_by_id(number)

    def go_out_due(self, runs: list[Run]) -> None:
        """The scheduler's batch handler: scheduled announcements whose time has come."""
        for run in runs:
            number = int(run.key.removeprefix("announcement:"))
            announcement = Announcement.get_or_none(Announcement.id == number)
            if announcement is not None and announcement.state == SCHEDULED:
                self._go_out(announcement, audit.BOT)
            self.bot.cancel(JOB, run.key)

    def history(self, limit: int = 50) -> list[Announcement]:
        """Sent, scheduled and cancelled announcements, newest first."""
        return list(Announcement.select().where(Announcement.state != DRAFT)
                    .order_by(Announcement.created_at.desc(), Announcement.id.desc())
                    .limit(limit))

    def _go_out(self, announcement: Announcement, by: audit.Actor,
                progress: Callable[[int], None] | None = None) -> bool:
        """Fix the recipients and queue one message each; False if it went out (or was
        cancelled) meanwhile. Call inside a transaction."""
        announce_list = self.lists.get(announcement.list)
        if announce_list is None:
            log.warning("announcement %d: its list %r is configured no more; cancelled",
                        announcement.id, announcement.list)
            Announcement.update(state=CANCELLED).where(Announcement.id == announcement.id
                                                       ).execute()
            return False
        if not Announcement.update(state=SENT, sent_at=utcnow()).where(
                (Announcement.id == announcement.id)
                & (Announcement.state == announcement.state)).execute():
            return False
        bodies = {language: self.body(announce_list, announcement.text, language)
                  for language in LANGUAGES}
        queued = 0
        for chunk in self._recipients(announce_list):
            chosen = self.bot.languages_of(jid for _id, jid, _language in chunk)
            queued += self.bot.notify_many(
                (f"{KEY_PREFIX}{announce_list.name}:{announcement.id}:{subscription}", jid,
                 bodies.get(chosen.get(jid, language), bodies[self.bot.language]))
                for subscription, jid, language in chunk)
            if progress:
                progress(len(chunk))
        Announcement.update(recipients=queued).where(Announcement.id == announcement.id
                                                     ).execute()
        audit.record(by, "announce.send", announce_list.name, announcement=announcement.id,
                     count=queued)
        return True

    @staticmethod
    def _cutoff() -> datetime:
        return utcnow() - timedelta(minutes=CONFIRM_MINUTES)
