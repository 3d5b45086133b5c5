"""The desk: the queue of customers who want a person, the staff member who holds each case,
and the relay between them. Every method is plain peewee code for a database thread.

Relay. Everything goes through the outbox, queued in the transaction that records it
(`support:<case>:…` keys), so nothing is lost or doubled across a restart. The customer writes
to the company's address and gets staff's words from it, signed with the staff member's
display name, never their address; staff get the case's number, the customer's language and
what was written, never the customer's address.

Which case a staff member's words go to: the one they took, answered or were handed last
(`to N text` for another, which then becomes the last). One case is held by one staff member
at a time; `take` moves it from waiting to held in one statement that only one can win.

In memory, for the message path (Plugin.on_conversation): who has an open case, who holds
which, who is asked for a rating; rebuilt from the database at start, changed after each
commit. Presence is in memory only: it comes again after every login. So the desk wants one
bot process: several workers in component mode would each see only the cases they opened.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from bots import audit
from bots.i18n import Text, TextError, format_moment, render, translator
from bots.services import Services
from bots.stanza_text import MAX_BODY_CHARACTERS
from plugins.support.hours import Hours, now
from plugins.support.models import (BOT, CLOSED, CUSTOMER, HELD, LEFT, NOTE, STAFF, TEXTS,
                                    WAITING, Case, Entry, utcnow)

log = logging.getLogger(__name__)
_ = translator(__name__)

KEY_PREFIX = "support:"
HISTORY_SHOWN = 12  # entries staff get when they take or are handed a case
HISTORY_KEPT = 6  # of a customer's talk with the bot, in memory, before they ask for a person
PEOPLE_REMEMBERED = 10_000  # customers whose talk with the bot is kept in memory
RATING_HOURS = 24  # a rating is taken this long after the case was closed
AVAILABLE_SHOWS = ("available", "chat")  # presence: online and not away or busy

QUEUED = _("You are number {position} in the queue; expected wait about {minutes} minutes. "
           "A member of our team will answer you here. To leave the queue: cancel")
NOBODY_NOW = _("Nobody of our team is available right now. Your message waits here and we "
               "answer {when}; nothing you write gets lost. To leave the queue: cancel")
AS_SOON_AS = _("as soon as someone is back")
FROM_TIME = _("from {time}")
WAITING_STILL = _("Noted. You are number {position} in the queue; a member of our team will "
                  "answer you here.")
WITH_YOU = _("{name} from our team is with you now.")
HANDED = _("{name} from our team takes over your conversation.")
CLOSED_RATE = _("{name} has closed the conversation. How satisfied were you? Answer with a "
                "number from 1 (not at all) to 5 (very).")
THANKS_RATING = _("Thank you for your rating!")
ENDED = _("Your conversation with our team has just ended. Write \"agent\" to talk to a "
          "person again.")
LEFT_QUEUE = _("You have left the queue. Write \"agent\" when you want to talk to a person again.")
NEW_CASE = _("Case {number} waits ({language}): “{text}”\nTo answer it: take {number}")
NEW_CASE_NO_WORDS = _("Case {number} waits ({language}); they asked for a person and have "
                      "written nothing else yet.\nTo answer it: take {number}")
TAKEN = _("You hold case {number} ({language}) now. What you write goes to the customer; "
          "\"note TEXT\" is internal, \"done\" closes it.")
HANDED_TO_YOU = _("{name} handed you case {number} ({language}).")
YOU_HANDED = _("Case {number} is with {name} now.")
CUSTOMER_LEFT = _("The customer of case {number} has left the conversation.")
CLOSED_STAFF = _("Case {number} is closed.")
NOTED = _("Note added to case {number} (the customer does not see it).")
POSITION = _("You are number {position} in the queue now; expected wait about {minutes} "
             "minutes.")
POSITION_ONLY = _("You are number {position} in the queue now.")
LANGUAGE_NAMES = {"de": _("German"), "en": _("English")}
AUTHORS = {CUSTOMER: _("Customer"), BOT: _("Bot"), STAFF: _("Staff"), NOTE: _("Note")}


class SupportError(TextError):
    """What was asked cannot be done, and why; nothing was changed."""

    def __init__(self, message: Text, **values):
        super().__init__(message, "", **values)


@dataclass
class Open:
    """What the message path needs to know of an open case, in memory."""

    case: int
    customer: str
    staff: str | None = None


@dataclass
class Memory:
    """The desk's state in memory (see the module's docstring)."""

    customers: dict[str, Open] = field(default_factory=dict)  # customer → their open case
    held: dict[str, list[int]] = field(default_factory=dict)  # staff → cases, last used last
    rating_due: dict[str, int] = field(default_factory=dict)  # customer → closed case
    available: dict[str, set[str]] = field(default_factory=dict)  # staff → resources online
    talk: OrderedDict = field(default_factory=OrderedDict)  # customer → [(author, text)]


class Desk:
    def __init__(self, bot: Services, staff: dict[str, str], hours: Hours,
                 minutes_per_case: int, canned: dict[str, dict[str, str]]):
        self.bot = bot
        self.db = bot.database
        self.staff = staff  # bare JID → display name
        self.hours = hours
        self.minutes_per_case = minutes_per_case
        self.canned = canned
        self.memory = Memory()

    # --- memory ------------------------------------------------------------------------------
    def rebuild(self) -> None:
        """The open cases and due ratings from the database (at start)."""
        memory = Memory(available=self.memory.available, talk=self.memory.talk)
        for case in Case.select().where(Case.state.in_((WAITING, HELD))).order_by(Case.id):
            memory.customers[case.customer] = Open(case.id, case.customer, case.staff)
            if case.state == HELD:
                memory.held.setdefault(case.staff, []).append(case.id)
        recent = utcnow() - timedelta(hours=RATING_HOURS)
        for case in Case.select().where((Case.state == CLOSED) & Case.rating.is_null()
                                        & (Case.closed_at >= recent)).order_by(Case.id):
            if case.customer not in memory.customers:
                memory.rating_due[case.customer] = case.id
        self.memory = memory

    def concerns(self, jid: str) -> bool:
        """Whether a message from `jid` may be the desk's: a set lookup for everybody else."""
        memory = self.memory
        return jid in memory.customers or jid in memory.held or jid in memory.rating_due

    def remember(self, customer: str, author: str, text: str) -> None:
        """A line of a customer's talk with the bot, shown to staff if they ask for a person."""
        talk = self.memory.talk
        lines = talk.pop(customer, [])
        lines.append((author, text[:500]))
        talk[customer] = lines[-HISTORY_KEPT:]
        while len(talk) > PEOPLE_REMEMBERED:
            talk.popitem(last=False)

    def presence(self, jid: str, resource: str, show: str) -> bool:
        """A staff member's presence changed; True when they just became available."""
        if jid not in self.staff:
            return False
        resources = self.memory.available.setdefault(jid, set())
        was = bool(resources)
        if show in AVAILABLE_SHOWS:
            resources.add(resource)
        else:
            resources.discard(resource)
        return bool(resources) and not was

    def available_staff(self) -> list[str]:
        if not self.hours.open_at(now()):
            return []
        return sorted(jid for jid, resources in self.memory.available.items() if resources)

    # --- customers ---------------------------------------------------------------------------
    def ask_for_person(self, customer: str, language: str) -> str:
        """Into the queue (or where they are in it already); the answer for the customer."""
        memory = self.memory
        if customer in memory.customers:
            return self._where(memory.customers[customer], language)
        history = memory.talk.pop(customer, [])
        with self.db.atomic():
            case = Case.create(customer=customer, language=language)
            for author, text in history:
                Entry.create(case=case, author=author, text=text)
            last = next((text for author, text in reversed(history) if author == CUSTOMER), "")
            for staff in self.available_staff():
                self._tell_of_new(case, staff, last)
            position = self._position(case.id)
        memory.customers[customer] = Open(case.id, customer)
        memory.rating_due.pop(customer, None)
        return self._queued(position, language)

    def from_customer(self, customer: str, text: str, language: str,
                      shares_file: bool = False) -> str | None:
        """`from_customers` for one message, in a transaction (raises its SupportError)."""
        with self.db.atomic():
            return _one(self.from_customers([(customer, text, language, shares_file)]))

    def from_customers(self, messages: list[tuple[str, str, str, bool]]) -> list:
        """Customers with an open case wrote (customer, text, language, whether the text is
        a shared file's link), all in one transaction (Storage.run_batched): each text goes
        to the staff member who holds the case (result None: no answer), or is kept for
        whoever takes it (the result tells the customer where they wait); a SupportError for
        a case that closed meanwhile."""
        entries, relayed, results = [], [], []
        for customer, text, language, shares_file in messages:
            open_case = self.memory.customers.get(customer)
            if open_case is None:
                results.append(SupportError(ENDED))
                continue
            entries.append({"case": open_case.case, "author": CUSTOMER, "text": text})
            if open_case.staff:
                relayed += _relayed(open_case.case, open_case.staff, f"[{open_case.case}]", text,
                                    shares_file)
                results.append(None)
            else:
                results.append(render(WAITING_STILL, language,
                                      position=self._position(open_case.case)))
        if entries:
            Entry.insert_many(entries).execute()
        self.bot.notify_many(relayed)
        return results

    def leave(self, customer: str) -> str | None:
        """The customer's `cancel`: out of the queue, or the case closed; None if they had none."""
        open_case = self.memory.customers.get(customer)
        if open_case is None:
            return None
        with self.db.atomic():
            case = Case.get_by_id(open_case.case)
            self._leave(case)
            if case.staff:
                self._tell_staff(case.staff, f"left:{uuid.uuid4().hex[:12]}", case,
                                 CUSTOMER_LEFT, number=case.id)
            waiting = self._positions_after(case) if case.taken_at is None else []
        self._forget(case)
        self._tell_positions(waiting)
        return render(LEFT_QUEUE, case.language)

    def rate(self, customer: str, text: str) -> str | None:
        """The answer to the question at the end (1–5); None when it is none (the question
        is dropped, the message goes on as usual)."""
        number = self.memory.rating_due.pop(customer, None)
        answer = text.strip().rstrip(".!")
        if number is None or answer not in {"1", "2", "3", "4", "5"}:
            return None
        with self.db.atomic():
            Case.update(rating=int(answer)).where(Case.id == number).execute()
            language = Case.get_by_id(number).language
        return render(THANKS_RATING, language)

    # --- staff -------------------------------------------------------------------------------
    def waiting(self) -> list[Case]:
        return list(Case.select().where(Case.state == WAITING).order_by(Case.id))

    def take(self, staff: str, number: int | None = None) -> str:
        self._is_staff(staff)
        with self.db.atomic():
            if number is None:
                oldest = Case.select(Case.id).where(Case.state == WAITING).order_by(Case.id).first()
                if oldest is None:
                    raise SupportError(_("Nobody is waiting."))
                number = oldest.id
            case = Case.get_or_none(Case.id == number)
            if case is None or not Case.update(state=HELD, staff=staff, taken_at=utcnow()).where(
                    (Case.id == number) & (Case.state == WAITING)).execute():
                raise SupportError(_("Case {number} is not waiting (someone took it, or it is "
                                     "closed). Write \"queue\" to see who waits."),
                                   number=number)
            case = Case.get_by_id(number)
            for other in self.staff:  # news of it that has not left yet is old now
                self.bot.unnotify(other, f"{KEY_PREFIX}{case.id}:new:")
            self._tell_customer(case, f"with:{staff}", WITH_YOU, name=self.staff[staff])
            audit.record(audit.Actor(staff, "chat"), "support.take", case.customer,
                         case=case.id)
            waiting = self._positions_after(case)
            text = self._briefing(case, TAKEN, language=self._staff_language(staff))
        self.memory.customers[case.customer].staff = staff
        self._hold(staff, case.id)
        self._tell_positions(waiting)
        return text

    def from_staff(self, staff: str, text: str, number: int | None = None,
                   shares_file: bool = False) -> None:
        """`from_staff_many` for one message, in a transaction (raises its SupportError)."""
        with self.db.atomic():
            _one(self.from_staff_many([(staff, text, number, shares_file)]))

    def from_staff_many(self, messages: list[tuple[str, str, int | None, bool]]) -> list:
        """Staff's words (staff, text, case number or None: the case they used last, whether
        the text is a shared file's link), each relayed to the customer of that case, in one
        transaction; per message None, or the SupportError saying why it was not (they hold
        no such case)."""
        numbers: list[int | SupportError] = []
        for staff, _text, number, _shares_file in messages:
            try:
                numbers.append(self._case_number(staff, number))
            except SupportError as error:
                numbers.append(error)
        wanted = [number for number in numbers if isinstance(number, int)]
        cases = {case.id: case for case in Case.select().where(Case.id.in_(wanted))}
        entries, relayed, results = [], [], []
        for (staff, text, _number, shares_file), number in zip(messages, numbers):
            try:
                if isinstance(number, SupportError):
                    raise number
                case = self._check_held(staff, number, cases.get(number))
            except SupportError as error:
                results.append(error)
                continue
            entries.append({"case": case.id, "author": STAFF, "text": text})
            relayed += _relayed(case.id, case.customer, f"{self.staff[staff]}:", text,
                                shares_file)
            self._hold(staff, case.id)
            results.append(None)
        if entries:
            Entry.insert_many(entries).execute()
        self.bot.notify_many(relayed)
        return results

    def canned_reply(self, staff: str, name: str) -> None:
        reply = self.canned.get(name.casefold())
        if reply is None:
            raise SupportError(_("There is no canned reply {name}. Canned replies: {names}"),
                               name=name[:40], names=", ".join(sorted(self.canned)) or "-")
        case = self._held_case(staff, None)
        self.from_staff(staff, reply[case.language], case.id)

    def note(self, staff: str, text: str, number: int | None = None) -> str:
        case = self._held_case(staff, number)
        with self.db.atomic():
            Entry.create(case=case, author=NOTE, text=text)
        return render(NOTED, self._staff_language(staff), number=case.id)

    def transfer(self, staff: str, target: str, number: int | None = None) -> str:
        target = target.strip().lower()
        if target not in self.staff:
            raise SupportError(_("{jid} is not on the support staff, so the case stays with "
                                 "you. Staff: {staff}"), jid=target[:80],
                               staff=", ".join(sorted(self.staff)))
        if target == staff:
            raise SupportError(_("You hold this case already."))
        case = self._held_case(staff, number)
        with self.db.atomic():
            if not Case.update(staff=target).where((Case.id == case.id) & (Case.staff == staff)
                                                   & (Case.state == HELD)).execute():
                raise SupportError(_("You do not hold case {number}; nothing was changed."),
                                   number=case.id)
            case = Case.get_by_id(case.id)
            self._tell_customer(case, f"to:{target}", HANDED, name=self.staff[target])
            briefing = self._briefing(case, HANDED_TO_YOU, language=self._staff_language(target),
                                      name=self.staff[staff])
            self.bot.notify(f"{KEY_PREFIX}{case.id}:handed:{uuid.uuid4().hex[:12]}", target,
                            briefing)
            audit.record(audit.Actor(staff, "chat"), "support.transfer", case.customer,
                         case=case.id, to=target)
        self._release(staff, case.id)
        self._hold(target, case.id)
        self.memory.customers[case.customer].staff = target
        return render(YOU_HANDED, self._staff_language(staff), number=case.id,
                      name=self.staff[target])

    def done(self, staff: str, number: int | None = None) -> str:
        case = self._held_case(staff, number)
        with self.db.atomic():
            if not Case.update(state=CLOSED, closed_at=utcnow()).where(
                    (Case.id == case.id) & (Case.staff == staff) & (Case.state == HELD)).execute():
                raise SupportError(_("You do not hold case {number}; nothing was changed."),
                                   number=case.id)
            self._tell_customer(case, "closed", CLOSED_RATE, name=self.staff[staff])
            audit.record(audit.Actor(staff, "chat"), "support.done", case.customer,
                         case=case.id)
            if self.bot.retention[TEXTS.kind] == 0:  # kept not at all after done
                Entry.delete().where(Entry.case == case.id).execute()
        self._forget(case)
        self.memory.rating_due[case.customer] = case.id
        return render(CLOSED_STAFF, self._staff_language(staff), number=case.id)

    def came_online(self, staff: str) -> None:
        """A staff member became available: they hear of the cases that wait (once each)."""
        if not self.hours.open_at(now()):
            return
        with self.db.atomic():
            for case in self.waiting():
                last = (Entry.select(Entry.text).where((Entry.case == case)
                                                       & (Entry.author == CUSTOMER))
                        .order_by(Entry.id.desc()).first())
                self._tell_of_new(case, staff, last.text if last else "")

    # --- helpers -----------------------------------------------------------------------------
    def _is_staff(self, staff: str) -> None:
        if staff not in self.staff:
            raise SupportError(_("You are not on the support staff ([plugins.support] staff)."))

    def _held_case(self, staff: str, number: int | None) -> Case:
        number = self._case_number(staff, number)
        return self._check_held(staff, number, Case.get_or_none(Case.id == number))

    def _case_number(self, staff: str, number: int | None) -> int:
        """Case `number`, or the one `staff` used last."""
        self._is_staff(staff)
        if number is not None:
            return number
        held = self.memory.held.get(staff)
        if not held:
            raise SupportError(_("You hold no case. Write \"queue\" to see who waits, "
                                 "\"take\" to answer the first."))
        return held[-1]

    @staticmethod
    def _check_held(staff: str, number: int, case: Case | None) -> Case:
        if case is None or case.state != HELD or case.staff != staff:
            raise SupportError(_("You do not hold case {number}; nothing was changed."),
                               number=number)
        return case

    def _hold(self, staff: str, number: int) -> None:
        held = self.memory.held.setdefault(staff, [])
        if number in held:
            held.remove(number)
        held.append(number)

    def _release(self, staff: str, number: int) -> None:
        held = self.memory.held.get(staff, [])
        if number in held:
            held.remove(number)
        if not held:
            self.memory.held.pop(staff, None)

    def _forget(self, case: Case) -> None:
        self.memory.customers.pop(case.customer, None)
        if case.staff:
            self._release(case.staff, case.id)

    def _leave(self, case: Case) -> None:
        """The customer left: the case is over, and nobody asks them for a rating."""
        Case.update(state=LEFT, closed_at=utcnow()).where(Case.id == case.id).execute()
        # a position update not sent yet would only confuse now
        self.bot.unnotify(case.customer, f"{KEY_PREFIX}{case.id}:at:")

    def _position(self, number: int) -> int:
        return Case.select().where((Case.state == WAITING) & (Case.id <= number)).count()

    def _positions_after(self, case: Case) -> list[tuple[Case, int]]:
        """The cases that moved up in the queue as `case` left it, with their new places."""
        later = Case.select().where((Case.state == WAITING) & (Case.id > case.id)).order_by(
            Case.id)
        ahead = Case.select().where((Case.state == WAITING) & (Case.id < case.id)).count()
        return [(waiting, ahead + place) for place, waiting in enumerate(later, start=1)]

    def _tell_positions(self, moved: list[tuple[Case, int]]) -> None:
        """Each customer who moved up hears their new place (in a transaction of its own)."""
        if not moved:
            return
        nobody = not self.available_staff()
        with self.db.atomic():
            for case, position in moved:
                self._tell_customer(case, f"at:{position}", POSITION_ONLY if nobody else POSITION,
                                    position=position, minutes=self._minutes(position))

    def _minutes(self, position: int) -> int:
        return math.ceil(position * self.minutes_per_case / max(1, len(self.available_staff())))

    def _queued(self, position: int, language: str) -> str:
        if self.available_staff():
            return render(QUEUED, language, position=position, minutes=self._minutes(position))
        opening = self.hours.next_opening(now())
        if opening is None or self.hours.open_at(now()):
            when = render(AS_SOON_AS, language)
        else:
            when = render(FROM_TIME, language, time=format_moment(
                opening.astimezone(UTC).replace(tzinfo=None), language, str(self.hours.zone)))
        return render(NOBODY_NOW, language, when=when)

    def _where(self, open_case: Open, language: str) -> str:
        if open_case.staff:
            return render(WITH_YOU, language, name=self.staff.get(open_case.staff, "?"))
        return render(WAITING_STILL, language, position=self._position(open_case.case))

    def _tell_of_new(self, case: Case, staff: str, last: str) -> None:
        """`staff` hears of a waiting case (once), with the customer's last words."""
        language = self._staff_language(staff)
        self.bot.notify(f"{KEY_PREFIX}{case.id}:new:{staff}", staff, render(
            NEW_CASE if last else NEW_CASE_NO_WORDS, language, number=case.id,
            text=_short(last), language=render(LANGUAGE_NAMES[case.language], language)))

    def _tell_customer(self, case: Case, what: str, text: Text, **values) -> None:
        self.bot.notify(f"{KEY_PREFIX}{case.id}:{what}:{uuid.uuid4().hex[:12]}", case.customer,
                        render(text, case.language, **values))

    def _tell_staff(self, staff: str, what: str, case: Case, text: Text, **values) -> None:
        self.bot.notify(f"{KEY_PREFIX}{case.id}:{what}", staff,
                        render(text, self._staff_language(staff), **values))

    def _staff_language(self, staff: str) -> str:
        return self.bot.languages_of([staff]).get(staff, self.bot.language)

    def _briefing(self, case: Case, text: Text, language: str, **values) -> str:
        """What staff get with a case: its number, the customer's language, what was
        written (the last HISTORY_SHOWN entries); not the customer's address."""
        lines = [render(text, language, number=case.id,
                        language=render(LANGUAGE_NAMES[case.language], language), **values)]
        entries = list(case.entries.order_by(Entry.id.desc()).limit(HISTORY_SHOWN))
        for entry in reversed(entries):
            lines.append(f"{render(AUTHORS[entry.author], language)}: {entry.text}")
        briefing = "\n".join(lines)
        return briefing if len(briefing) <= MAX_BODY_CHARACTERS else (
            briefing[:MAX_BODY_CHARACTERS - 1] + "…")


def _one(results: list):
    """The result of a batch of one; its SupportError raised."""
    (result,) = results
    if isinstance(result, SupportError):
        raise result
    return result


def _short(text: str, length: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[:length - 1] + "…"


def _relayed(case: int, recipient: str, label: str, text: str,
             shares_file: bool) -> list[tuple]:
    """The outbox rows that pass `text` on, after `label` (who wrote it, or the case): a
    file as the file itself, after a line with the label, so that apps show the picture."""
    key = f"{KEY_PREFIX}{case}:{uuid.uuid4().hex}"
    if shares_file:
        return [(f"{key}:label", recipient, f"{label} 📎"), (key, recipient, text, True)]
    return [(key, recipient, f"{label} {text}")]
