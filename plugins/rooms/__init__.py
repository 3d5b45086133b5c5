"""Group rooms: the course's group chat, made and kept up by the bot (XEP-0045 on the company's
server).

People are asked into a room (by subscribing to its course, by staff, from a CSV file), are
told what it keeps, and join with `join <room>`; who does not join still gets the trainer's
announcements (`!all …` in the room) directly and answers with `reply <room> <text>`. Staff
use `room list|members|add|remove|announce` (German `raum liste|mitglieder|…`), admins
`botschaft rooms …`.
"""

from __future__ import annotations

import functools
import logging
import threading

from bots import audit, consent
from bots.i18n import LANGUAGES, plural_translator, render, translator
from bots.invites import InvitationAction, InvitationError
from bots.plugin import Plugin, command, job
from plugins.rooms.models import ACTIVE, JOINED, MODELS, PERSONAL_DATA, Member, Room, utcnow
from plugins.rooms.service import PURPOSE_PREFIX, RoomBook, RoomsError, Settings

_ = translator(__name__)
_n = plural_translator(__name__)
log = logging.getLogger(__name__)

ROOM, TEXT, ADDRESS = _("room"), _("text"), _("address")
JOIN_WAIT = 30  # seconds the bot waits to be in a room
STATE_NAMES = {"invited": _("not joined yet"), "joined": _("joined"), "left": _("left again")}
# what `privacy` says of a person's rooms and consent
ROOM_DATA = _("group chat \"{name}\" ({state})")
TRAINER_OF = _n("trainer of {count} group chat: {rooms}",
                "trainer of {count} group chats: {rooms}")
MEMBERSHIP = _("membership in the group chat \"{name}\"")
# The staff command's sub-words: the English ones name the actions in the code, a language's
# own are accepted from everyone and shown in its help (`raum liste`).
ACTION_WORDS = _("list|members|add|remove|announce")
ACTIONS = tuple(ACTION_WORDS.split("|"))
WELCOME = _("Welcome to \"{name}\"! {description}\n"
            "The rules: be kind; share only what everyone here may see; no advertising. "
            "Messages and files are kept for {days} days. Members see each other's nicknames, "
            "the trainer also the addresses. I answer here only when addressed (!help). To "
            "leave, write to me directly: leave {slug}")
GREETING = _("A new member has joined. Welcome!")
ROOM_ANNOUNCEMENT = _("Announcement: {text}")
INVITE_REASON = _("The group chat \"{name}\"")


def action_words(language: str) -> dict[str, str]:
    """Each action of `room` → the word people of `language` write for it."""
    return dict(zip(ACTIONS, render(ACTION_WORDS, language).split("|")))


def action_for(word: str) -> str | None:
    """The action a sub-word of `room` means, in any language ("liste", "list"), or None."""
    for language in LANGUAGES:
        for action, shown in action_words(language).items():
            if shown.casefold() == word.casefold():
                return action
    return None


def explained(handler):
    """A command whose RoomsError is its answer: what cannot be done, and why."""
    @functools.wraps(handler)
    def answer(self, ctx, *arguments, **keywords):
        try:
            return handler(self, ctx, *arguments, **keywords)
        except RoomsError as error:
            return ctx._(_("Not done: {error}."), error=error.text(ctx.language))
    return answer


class Rooms(Plugin):
    name = "rooms"
    description = "Group rooms: the course's group chat, with consent first."
    models = MODELS
    personal_data_kinds = PERSONAL_DATA
    default_config = {
        "service": "",  # the MUC service; empty: conference.<the bot's domain>
        "archive_days": 30,  # the room archive's retention people are told (ejabberd.yml)
    }

    def __init__(self, config=None):
        super().__init__(config)
        self.book: RoomBook | None = None  # from start() on: the service for other plugins
        self.entered: set[str] = set()  # rooms the running bot is in
        self._entering = threading.Lock()

    def make_book(self, bot) -> RoomBook:
        """The book over `bot`'s services (the running bot's, or a CLI command's)."""
        return RoomBook(bot, Settings(bot.room_jid.strip().lower(),
                                      bot.account_domain.strip().lower(),
                                      self.config["service"].strip().lower(),
                                      self.config["archive_days"]))

    async def start(self, bot) -> None:
        self.book = self.make_book(bot)
        await bot.run(self.enter_rooms)

    def enter_rooms(self) -> None:
        """The running bot goes into its active rooms (to hear `!all` and greet), and posts
        the welcome with the rules once in each new one. Plain code for a database thread;
        one pass at a time (the start and the every-minute job may meet)."""
        if not self._entering.acquire(blocking=False):
            return
        try:
            self._enter_rooms()
        finally:
            self._entering.release()

    def _enter_rooms(self) -> None:
        # read the rooms first: no statement stays open while entering takes seconds
        for room in list(Room.select().where(Room.state == ACTIVE)):
            address = self.book.address(room)
            if address in self.entered:
                continue
            try:
                self.bot.rooms.join(address).result(JOIN_WAIT)
            except Exception:
                log.exception("the bot could not enter a room; trying again in a minute")
                continue
            self.entered.add(address)
            if room.welcomed_at is None:
                self.bot.rooms.say(address, render(
                    WELCOME, room.language, name=room.name, description=room.description,
                    days=self.book.settings.archive_days, slug=room.slug))
                Room.update(welcomed_at=utcnow()).where(Room.id == room.id).execute()

    # --- everyone asked into a room ----------------------------------------------------------
    @command(help=_("join a group chat you are invited to"), aliases={"de": ["beitreten"]},
             arguments={"room": ROOM})
    @explained
    def join(self, ctx, room: str) -> str:
        joined, now = self.book.join(ctx.person.jid, room)
        address = self.book.address(joined)
        ctx.bot.rooms.invite(address, ctx.message.device or ctx.person.jid,
                             render(INVITE_REASON, ctx.language, name=joined.name))
        if now and address in self.entered:
            ctx.bot.rooms.say(address, render(GREETING, joined.language))
        return ctx._(_("You are a member of \"{name}\" now. Your app shows you an invitation "
                       "to enter it ({address}). To leave: leave {slug}") if now
                     else _("You are a member of \"{name}\" already. I have sent you the "
                            "invitation to enter it ({address}) once more."),
                     name=joined.name, address=address, slug=joined.slug)

    @command(help=_("leave a group chat"), aliases={"de": ["verlassen"]},
             arguments={"room": ROOM})
    @explained
    def leave(self, ctx, room: str) -> str:
        left = self.book.leave(ctx.person.jid, room)
        return ctx._(_("You are no longer a member of \"{name}\". The trainer's announcements "
                       "still reach you here; to join again: join {slug}"), name=left.name,
                     slug=left.slug)

    @command(help=_("answer the trainer of a group chat, without writing in it"),
             aliases={"de": ["antworten"]}, arguments={"room": ROOM, "text": TEXT})
    @explained
    def reply(self, ctx, room: str, text: str) -> str:
        answered = self.book.reply(ctx.person.jid, room, text)
        return ctx._(_("Sent to the trainer of \"{name}\" (only to them)."), name=answered.name)

    @command("all", help=_("for trainers, in the group chat: an announcement that also "
                           "reaches those who are not in it"), aliases={"de": ["alle"]},
             arguments={"text": TEXT}, private=False, in_rooms=True)
    @explained
    def announce_here(self, ctx, text: str) -> str:
        room = Room.get_or_none(Room.slug == self._slug_of(ctx.message.room))
        if room is None:
            return ctx._(_("Write this in the group chat, starting with !all"))
        if not self.book.may_announce(room, ctx.person.jid, ctx.person.may("staff")):
            return ctx._(_("Only the trainer makes announcements here."))
        return ctx._(_n("Sent directly to {count} person who is not in the room.",
                        "Sent directly to {count} people who are not in the room."),
                     count=self.book.announce(room, text))

    def _slug_of(self, address: str | None) -> str | None:
        if not address or not address.endswith("@" + self.book.settings.muc_service):
            return None
        return address.split("@", 1)[0]

    # --- staff -----------------------------------------------------------------------------
    @command(help=_("the group chats: room list; room members <room>; room add <room> "
                    "<address>; room remove <room> <address>; room announce <room> <text>"),
             role="staff", aliases={"de": ["raum"]},
             arguments={"action": ACTION_WORDS, "room": ROOM, "rest": _("address or text")})
    @explained
    def room(self, ctx, action: str | None = None, room: str | None = None,
             rest: str | None = None) -> str:
        # Sub-words as a plain text, not a Literal: bots.commands shows and takes a Literal's
        # values as they are, in English only.
        chosen_action = action_for(action) if action else "list"
        words = action_words(ctx.language)
        if chosen_action is None:
            return ctx._(_("I do not know \"{word}\" here. Write one of: {words}; e.g. room "
                           "{example}"), word=action[:40], words=", ".join(words.values()),
                         example=words["list"])
        if chosen_action == "list":
            return self._list(ctx)
        word = words[chosen_action]
        if not room:
            return ctx._(_("Which room? Write e.g.: room {action} <room>"), action=word)
        chosen = self.book.room(room)
        if chosen_action == "members":
            return self._members(ctx, chosen)
        if not rest:
            usage = (_("Write: room {action} {room} <text>") if chosen_action == "announce"
                     else _("Write: room {action} {room} <address>"))
            return ctx._(usage, action=word, room=chosen.slug)
        if chosen_action == "add":
            new = self.book.invite(chosen, rest, audit.in_chat(ctx))
            return ctx._(_("{jid} is invited to {room}; I have written them how to join.")
                         if new else _("{jid} was invited to {room} already."),
                         jid=rest.strip(), room=chosen.slug)
        if chosen_action == "remove":
            removed = self.book.remove(chosen, rest, audit.in_chat(ctx))
            return ctx._(_("{jid} is out of {room}.") if removed
                         else _("{jid} was not in {room}; nothing changed."), jid=rest.strip(),
                         room=chosen.slug)
        count = self.book.announce(chosen, rest)
        ctx.bot.rooms.say(self.book.address(chosen),
                          render(ROOM_ANNOUNCEMENT, chosen.language, text=rest.strip()))
        return ctx._(_n("Posted in {room}, and sent directly to {count} person who is not in "
                        "it.", "Posted in {room}, and sent directly to {count} people who are "
                        "not in it."), room=chosen.slug, count=count)

    def _list(self, ctx) -> str:
        rooms = self.book.rooms()
        if not rooms:
            return ctx._(_("No group chats yet; an admin creates them (botschaft rooms "
                           "create)."))
        lines = [ctx._(_("Group chats:"))]
        for room in rooms:
            joined = room.members.where(Member.state == JOINED).count()
            lines.append(ctx._(_("• {room} — {name}: {count} invited, {joined} joined"
                                 "{archived}"),
                               room=room.slug, name=room.name, joined=joined,
                               count=room.members.count(),
                               archived="" if room.state == ACTIVE
                               else ctx._(_(" (archived)"))))
        return "\n".join(lines)

    def _members(self, ctx, room: Room) -> str:
        members = self.book.members(room)
        if not members:
            return ctx._(_("Nobody is invited to {room} yet."), room=room.slug)
        return "\n".join([ctx._(_("Invited to {room}:"), room=room.slug)]
                         + [f"• {member.jid}: {ctx._(STATE_NAMES[member.state])}"
                            for member in members])

    # --- housekeeping, extensions -----------------------------------------------------------
    @job(every="1m")
    def keep_rooms(self, ctx) -> None:
        """Rooms made from the command line meanwhile: the bot goes in and welcomes."""
        self.enter_rooms()

    @job(at="03:00")
    def destroy_due_rooms(self, ctx) -> None:
        """Archived rooms whose time has come (`botschaft rooms archive --destroy-after`)."""
        destroyed = self.book.destroy_due(ctx.run.now)
        if destroyed:
            log.info("%d archived room(s) destroyed", destroyed)

    def on_event(self, bot, event: str, data: dict) -> None:
        """Membership follows the course: a subscriber is asked in, who stops is out. Who
        withdraws their consent to a room in chat leaves it, as with `leave`."""
        if event in ("lessons.subscribed", "lessons.stopped"):
            self.make_book(bot).on_course_event(event, data["jid"], data["course"])
        elif event == consent.WITHDRAWN and data["purpose"].startswith(PURPOSE_PREFIX):
            slug = data["purpose"].removeprefix(PURPOSE_PREFIX)
            if Room.get_or_none(Room.slug == slug):
                self.make_book(bot).leave(data["jid"], slug)

    def cli(self):
        from plugins.rooms.cli import rooms_cli
        return rooms_cli()

    def invitation_actions(self, bot) -> dict[str, InvitationAction]:
        """`botschaft invite create --room ID`: the new account is asked into the room (told
        what it is; joining is still theirs to say)."""
        book = self.book or self.make_book(bot)

        def check(name: str) -> str:
            try:
                room = book.room(name)
            except RoomsError:
                raise InvitationError(_('There is no group chat "{room}".'),
                                      room=(name or "")[:64]) from None
            return room.slug

        return {"room": InvitationAction(
            check=check, run=lambda jid, slug, language: book.invite(book.room(slug), jid),
            describe=_("The new account is invited to the group chat {value}"))}

    def personal_data(self, jid: str) -> dict:
        return self.make_book(self.bot).personal_data(jid)

    def describe_personal_data(self, data: dict, language: str) -> list[str]:
        lines = [render(ROOM_DATA, language, name=room["name"],
                        state=render(STATE_NAMES[room["state"]], language))
                 for room in data["rooms"]]
        if data["trainer_of"]:
            names = [name for (name,) in Room.select(Room.name).where(
                Room.slug.in_(data["trainer_of"])).order_by(Room.name).tuples()]
            lines.append(render(TRAINER_OF, language, count=len(names),
                                rooms=", ".join(names)))
        return lines

    def describe_purpose(self, purpose: str, language: str) -> str | None:
        if not purpose.startswith(PURPOSE_PREFIX):
            return None
        room = Room.get_or_none(Room.slug == purpose.removeprefix(PURPOSE_PREFIX))
        return render(MEMBERSHIP, language,
                      name=room.name if room else purpose.removeprefix(PURPOSE_PREFIX))

    def erase_person(self, jid: str) -> int:
        return self.make_book(self.bot).erase_person(jid)

