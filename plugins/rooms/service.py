"""The room book: group rooms on the company's server, and who is asked into them. Also the
Python API for other plugins (`bot.plugin("rooms").book`).

Consent first, then membership: a person added to a room (by a course subscription, staff, the
CLI, a CSV file) is only *invited*: the bot tells them what the room is and keeps, and they
become a member on the server when they write `join <room>` (consent `rooms.<room>`).

Plain peewee code for a database thread; the admin API (`bot.ejabberd`) is blocking HTTP and
is called from here too. The server's side comes first where it can fail: a room the server
refuses is never written down, and one the database cannot record is destroyed again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import slixmpp
from slixmpp.jid import InvalidJID

from bots import audit, consent
from bots.ejabberd_api import NoSuchRoom, RoomExists
from bots.i18n import Text, TextError, plural_translator, render, translator
from bots.services import Services, UnknownPlugin
from bots.stanza_text import without_forbidden_characters
from plugins.rooms.models import ACTIVE, ARCHIVED, JOINED, LEFT, Member, Room, utcnow

log = logging.getLogger(__name__)
_ = translator(__name__)
_n = plural_translator(__name__)

CONSENT_VERSION = "rooms.invitation.1"  # the wording of INVITATION
MAX_SLUG_LENGTH = 64
MAX_TEXT_LENGTH = 2000
# Members-only, persistent, unlisted, real addresses for moderators only (anonymous: the
# semi-anonymous room of XEP-0045), the archive on, no private messages between occupants.
# Not moderated: 23.01 gives an occupant of a moderated room the role they last had, so a
# removed member could enter again (mod_muc_room:get_occupant_initial_role).
ROOM_OPTIONS = {"members_only": True, "persistent": True, "public": False, "public_list": False,
                "anonymous": True, "mam": True, "allow_subscription": True,
                "allow_private_messages": False, "allow_user_invites": False,
                "moderated": False}
# As far as 23.01 goes towards read-only: see RoomBook.archive.
ARCHIVED_OPTIONS = {"members_by_default": False, "allow_subscription": False,
                    "allow_change_subj": False}

INVITATION = _("You are invited to the group chat \"{name}\" ({room}). {people} It keeps its "
               "messages and shared files for {days} days (the room's archive); members see "
               "each other's nicknames, the trainer also the addresses.\n"
               "To join, write: join {slug} — to leave later: leave {slug}.\n"
               "If you do not join, you still get the trainer's announcements here and can "
               "answer with: reply {slug} <your text>")
# `count` includes the person the note is for: the first one invited is told so
PEOPLE_WITH_TRAINER = _n("You are the first one invited; the trainer is {trainer}.",
                         "{count} people are invited so far; the trainer is {trainer}.")
PEOPLE = _n("You are the first one invited.", "{count} people are invited so far.")
ANNOUNCEMENT = _("Announcement in \"{name}\": {text}\n(To answer the trainer: reply {slug} "
                 "<your text>)")
RELAYED = _("Answer from {jid} to your announcement in \"{name}\": {text}")


class RoomsError(TextError):
    """Input the book cannot take: `field` names it and the message says why; `str()` in
    English for the CLI, `text(language)` for a person in chat."""

    def __init__(self, field: str, message: Text, **values):
        super().__init__(message, field, **values)


@dataclass(frozen=True)
class Settings:
    """What the book needs of the bot and of `[plugins.rooms]`."""

    bot_jid: str  # the bot's address in rooms (Services.room_jid): owner of every room
    domain: str  # where people's accounts are (Services.account_domain)
    service: str  # the MUC service; "" is conference.<domain>
    archive_days: int  # what people are told the archive keeps (ejabberd.yml's retention)

    @property
    def muc_service(self) -> str:
        return self.service or f"conference.{self.domain}"


def bare_jid(text: str) -> str:
    """A person's address as the bot knows it: bare and normalised."""
    try:
        jid = slixmpp.JID((text or "").strip())
    except InvalidJID:
        jid = None
    if jid is None or not jid.user:
        raise RoomsError("jid", _("{given} is not a Jabber address (name@domain)"),
                         given=(text or "").strip()[:80])
    return jid.bare


def clean_text(text: str, field: str) -> str:
    text = without_forbidden_characters(text or "").strip()
    if not text:
        raise RoomsError(field, _("the text is empty"))
    if len(text) > MAX_TEXT_LENGTH:
        raise RoomsError(field, _("a text has at most {limit} characters"),
                         limit=MAX_TEXT_LENGTH)
    return text


class RoomBook:
    def __init__(self, bot: Services, settings: Settings):
        self.bot = bot
        self.db = bot.database
        self.settings = settings

    # --- names -----------------------------------------------------------------------------
    def address(self, room: Room | str) -> str:
        slug = room.slug if isinstance(room, Room) else room
        return f"{slug}@{self.settings.muc_service}"

    def check_slug(self, slug: str) -> str:
        """The room's name as the local part of its address: lower case, and what XMPP's
        nodeprep allows (no spaces, @, /, quotes, …)."""
        wanted = (slug or "").strip().lower()
        try:
            valid = slixmpp.JID(f"{wanted}@{self.settings.muc_service}").user == wanted
        except InvalidJID:
            valid = False
        if not wanted or not valid or len(wanted) > MAX_SLUG_LENGTH or " " in wanted:
            raise RoomsError("room", _("{given} cannot name a room: use up to {limit} letters, "
                                       "digits, - or _ (no spaces, @, / or quotes)"),
                             given=(slug or "").strip()[:80], limit=MAX_SLUG_LENGTH)
        return wanted

    def account(self, text: str) -> str:
        """An account on the company's server (others cannot take part: no federation)."""
        jid = bare_jid(text)
        user, _at, domain = jid.partition("@")
        if domain != self.settings.domain or self.bot.ejabberd.call(
                "check_account", user=user, host=domain) != 0:
            raise RoomsError("jid", _("{jid} is not an account on this server"), jid=jid)
        return jid

    def room(self, name: str) -> Room:
        """A room by its name, or by the course it belongs to."""
        wanted = (name or "").strip().lower()
        room = Room.get_or_none(Room.slug == wanted) or Room.get_or_none(Room.course == wanted)
        if room is None:
            raise RoomsError("room", _("there is no room {room}"), room=(name or "").strip()[:64])
        return room

    # --- rooms -----------------------------------------------------------------------------
    def create(self, slug: str, name: str, description: str = "", course: str | None = None,
               trainer: str | None = None, language: str | None = None,
               by: audit.Actor = audit.BOT) -> tuple[Room, bool]:
        """Make the room on the server (the bot and the trainer its owners) and record it;
        returns it and whether it is new. The same room again changes nothing; a name taken
        by another room, here or on the server, is an error and changes nothing either.
        `by`, here and below: who acts, for the audit log."""
        slug = self.check_slug(slug)
        name = clean_text(name, "name")[:200]
        description = without_forbidden_characters(description or "").strip()
        course = (course or "").strip().lower() or None
        trainer = self.account(trainer) if trainer else None
        language = language or self.bot.language
        existing = Room.get_or_none(Room.slug == slug)
        if existing is not None:
            if (existing.name, existing.course, existing.trainer) != (name, course, trainer):
                raise RoomsError("room", _("a room {room} exists already, with another name, "
                                           "course or trainer"), room=slug)
            return existing, False
        if course and Room.get_or_none(Room.course == course):
            raise RoomsError("course", _("the course {course} has a room already"),
                             course=course)
        learners = self._learners(course) if course else []
        service = self.settings.muc_service
        try:
            self.bot.ejabberd.create_room_with_opts(
                slug, service, self.settings.domain,
                {**ROOM_OPTIONS, "title": name, "description": description, "lang": language})
        except RoomExists:
            raise RoomsError("room", _("the server has a room {room} already that the bot "
                                       "does not keep; choose another name"),
                             room=slug) from None
        try:
            for owner in filter(None, (self.settings.bot_jid, trainer)):
                self.bot.ejabberd.set_room_affiliation(slug, service, owner, "owner")
            with self.db.atomic():
                room = Room.create(slug=slug, name=name, description=description,
                                   course=course, trainer=trainer, language=language)
                audit.record(by, "room.create", slug, course=course)
                self.invite_many(room, learners, by)  # who took the course before it had a room
        except BaseException:
            self._destroy_on_server(slug)  # no half-made room
            raise
        return room, True

    def _learners(self, course: str) -> list[str]:
        """Who takes the course now; RoomsError for a course the lessons plugin does not
        know (or no lessons plugin)."""
        try:
            learners = self.bot.plugin("lessons").make_classroom(self.bot).learners(course)
        except UnknownPlugin:
            learners = None
        if learners is None:
            raise RoomsError("course", _("there is no course {course}"), course=course[:64])
        return learners

    def rooms(self) -> list[Room]:
        return list(Room.select().order_by(Room.slug))

    def members(self, room: Room) -> list[Member]:
        return list(room.members.order_by(Member.state, Member.jid))

    def archive(self, room: Room, destroy_after: timedelta | None = None,
                by: audit.Actor = audit.BOT) -> None:
        """End a room's active life: nobody new is invited or subscribes, the subject stays.
        Not read-only: ejabberd 23.01 gives members a voice even in a moderated room
        (mod_muc_room:get_default_role), and switching `moderated` on would let removed
        members in again (see ROOM_OPTIONS). With `destroy_after`, the daily job destroys
        the room then."""
        for option, value in ARCHIVED_OPTIONS.items():
            self.bot.ejabberd.change_room_option(room.slug, self.settings.muc_service, option,
                                                 value)
        room.state = ARCHIVED
        room.destroy_after = utcnow() + destroy_after if destroy_after else None
        with self.db.atomic():
            room.save()
            audit.record(by, "room.archive", room.slug,
                         destroy_after_days=destroy_after.days if destroy_after else None)

    def destroy(self, room: Room, by: audit.Actor = audit.BOT) -> None:
        """The room goes from the server (with its archive) and from the book; the
        members' consents to it are withdrawn (the records stay)."""
        with self.db.atomic():
            audit.record(by, "room.destroy", room.slug)
            for jid in [member.jid for member in room.members]:
                consent.withdraw(jid, purpose(room))
            room.delete_instance(recursive=True)
            self._destroy_on_server(room.slug)

    def destroy_due(self, now: datetime) -> int:
        """Destroy the archived rooms whose time has come (the daily job)."""
        due = list(Room.select().where((Room.state == ARCHIVED)
                                       & (Room.destroy_after <= now.replace(tzinfo=None))))
        for room in due:
            self.destroy(room)
        return len(due)

    def _destroy_on_server(self, slug: str) -> None:
        try:
            self.bot.ejabberd.destroy_room(slug, self.settings.muc_service)
        except NoSuchRoom:
            pass

    # --- people ----------------------------------------------------------------------------
    def invite(self, room: Room, jid: str, by: audit.Actor = audit.BOT) -> bool:
        """Ask a person into the room: they are told what it is and how to join; True if
        they were not asked before. Nobody becomes a member here (see `join`)."""
        return bool(self.invite_many(room, [jid], by))

    def invite_many(self, room: Room, jids: Iterable[str],
                    by: audit.Actor = audit.BOT) -> list[str]:
        """`invite` for many people (a course's learners, a CSV file): every address checked
        first, then one transaction for all (SQLite serialises writers: a transaction per
        person made a room of 30 wait on the lock 30 times). Returns the newly asked."""
        if room.state != ACTIVE:
            raise RoomsError("room", _("the room {room} is archived"), room=room.slug)
        jids = list(dict.fromkeys(self.account(jid) for jid in jids))
        languages = self.bot.languages_of(jids)
        with self.db.atomic():
            asked = {jid for (jid,) in Member.select(Member.jid).where(
                (Member.room == room) & Member.jid.in_(jids)).tuples()}
            new = [jid for jid in jids if jid not in asked]
            if not new:
                return []
            before = room.members.count()
            Member.insert_many([{"room": room, "jid": jid,
                                 "language": languages.get(jid, room.language)}
                                for jid in new]).execute()
            for jid in new:
                audit.record(by, "room.add", jid, room=room.slug)
            self.bot.notify_many(
                (f"rooms:invited:{room.slug}:{jid}:{uuid.uuid4().hex}", jid,
                 self.invitation_text(room, languages.get(jid, room.language), before + number))
                for number, jid in enumerate(new, 1))
        return new

    def invitation_text(self, room: Room, language: str, count: int) -> str:
        """The note for the `count`th person asked into the room."""
        people = (render(PEOPLE_WITH_TRAINER, language, count=count, trainer=room.trainer)
                  if room.trainer else render(PEOPLE, language, count=count))
        return render(INVITATION, language, name=room.name, room=self.address(room),
                      people=people, days=self.settings.archive_days, slug=room.slug)

    def join(self, jid: str, name: str) -> tuple[Room, bool]:
        """The person agrees (consent) and becomes a member on the server; returns the room
        and whether they joined just now. Only who was invited may join. The consent is
        committed before the server is asked (no membership without it), and withdrawn again
        if the server refuses; no server call while the database's write lock is held."""
        room = self.room(name)
        member = Member.get_or_none((Member.room == room) & (Member.jid == jid))
        if member is None:
            raise RoomsError("room", _("you are not invited to {room}; ask the trainer"),
                             room=room.slug)
        if room.state != ACTIVE:
            raise RoomsError("room", _("the room {room} is archived"), room=room.slug)
        with self.db.atomic():
            consent.give(jid, purpose(room), CONSENT_VERSION)
            Member.update(state=JOINED, joined_at=utcnow()).where(
                Member.id == member.id).execute()
        try:
            self._affiliate(room, jid, "member")
        except BaseException:
            with self.db.atomic():
                Member.update(state=member.state, joined_at=member.joined_at).where(
                    Member.id == member.id).execute()
                consent.withdraw(jid, purpose(room))
            raise
        return room, member.state != JOINED

    def leave(self, jid: str, name: str) -> Room:
        """The person withdraws: no member on the server any more (removed if present); the
        trainer's announcements still reach them, as everyone asked who is not in the room.
        The server first: if it fails, the book still says what the server has."""
        room = self.room(name)
        if Member.get_or_none((Member.room == room) & (Member.jid == jid)
                              & (Member.state == JOINED)):
            self._affiliate(room, jid, "none")
        with self.db.atomic():
            Member.update(state=LEFT).where(
                (Member.room == room) & (Member.jid == jid) & (Member.state == JOINED)).execute()
            consent.withdraw(jid, purpose(room))
        return room

    def remove(self, room: Room, jid: str, by: audit.Actor = audit.BOT) -> bool:
        """Take a person out of the room at once (stopped the course, staff said so): no
        membership, no announcements; True if they were asked into it. The server first,
        as in `leave`."""
        jid = bare_jid(jid)
        self._affiliate(room, jid, "none")
        with self.db.atomic():
            removed = Member.delete().where((Member.room == room) & (Member.jid == jid)).execute()
            consent.withdraw(jid, purpose(room))
            if removed:
                audit.record(by, "room.remove", jid, room=room.slug)
        return bool(removed)

    def make_owner(self, room: Room, jid: str, by: audit.Actor = audit.BOT) -> None:
        """A co-trainer: owner of the room on the server at once (sees addresses, moderates);
        the trainer in the book stays who announces."""
        jid = self.account(jid)
        self._affiliate(room, jid, "owner")
        audit.record(by, "room.owner", jid, room=room.slug)

    def _affiliate(self, room: Room, jid: str, affiliation: str) -> None:
        try:
            self.bot.ejabberd.set_room_affiliation(room.slug, self.settings.muc_service, jid,
                                                   affiliation)
        except NoSuchRoom:
            if affiliation != "none":
                raise RoomsError("room", _("the room {room} is gone from the server; ask an "
                                           "admin"), room=room.slug) from None

    # --- those who did not join ------------------------------------------------------------
    def may_announce(self, room: Room, jid: str, staff: bool) -> bool:
        return staff or jid == room.trainer

    def announce(self, room: Room, text: str) -> int:
        """The trainer's announcement to everyone asked into the room who is not in it, as a
        direct message; returns how many."""
        text = clean_text(text, "text")
        outside = list(room.members.where(Member.state != JOINED))
        key = uuid.uuid4().hex
        with self.db.atomic():
            self.bot.notify_many(
                (f"rooms:announce:{key}:{member.jid}", member.jid,
                 render(ANNOUNCEMENT, member.language, name=room.name, text=text,
                        slug=room.slug)) for member in outside)
        return len(outside)

    def reply(self, jid: str, name: str, text: str) -> Room:
        """A person asked into the room answers the trainer through the bot: only the
        trainer reads it, never the room."""
        room = self.room(name)
        text = clean_text(text, "text")
        if Member.get_or_none((Member.room == room) & (Member.jid == jid)) is None:
            raise RoomsError("room", _("you are not invited to {room}; ask the trainer"),
                             room=room.slug)
        if not room.trainer:
            raise RoomsError("room", _("the room {room} has no trainer to answer"),
                             room=room.slug)
        language = self.bot.languages_of([room.trainer]).get(room.trainer, room.language)
        with self.db.atomic():
            self.bot.notify(f"rooms:reply:{uuid.uuid4().hex}", room.trainer,
                            render(RELAYED, language, jid=jid, name=room.name, text=text))
        return room

    # --- membership follows the course ------------------------------------------------------
    def on_course_event(self, event: str, jid: str, course: str) -> None:
        room = Room.get_or_none((Room.course == course) & (Room.state == ACTIVE))
        if room is None:
            return
        if event == "lessons.subscribed":
            self.invite(room, jid)
        elif event == "lessons.stopped":
            self.remove(room, jid)

    # --- personal data ---------------------------------------------------------------------
    def personal_data(self, jid: str) -> dict:
        rows = Member.select(Member, Room).join(Room).where(Member.jid == jid)
        return {"rooms": [{"room": member.room.slug, "name": member.room.name,
                           "state": member.state, "invited_at": member.invited_at.isoformat(),
                           "joined_at": member.joined_at.isoformat() if member.joined_at
                           else None} for member in rows],
                "trainer_of": [room.slug for room in Room.select().where(Room.trainer == jid)]}

    def erase_person(self, jid: str) -> int:
        """Out of every room, on the server too; a trainer's rooms stay, without them. Every
        room the bot keeps, not only those the book names them in: a co-trainer from a CSV
        file (`make_owner`) is an owner on the server with no row here."""
        for room in Room.select():
            self._affiliate(room, jid, "none")
        deleted = Member.delete().where(Member.jid == jid).execute()
        return deleted + Room.update(trainer=None).where(Room.trainer == jid).execute()


PURPOSE_PREFIX = "rooms."  # the consent to a room's membership: + its slug


def purpose(room: Room) -> str:
    return f"{PURPOSE_PREFIX}{room.slug}"

