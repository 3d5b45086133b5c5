"""The status book: items, state changes with their pushes, claims. Also the Python API for
other plugins (`bot.plugin("status").book`).

Every method is plain peewee code for a database thread (`await bot.run(book.set_state,
…)` from the event loop). A state change, its history row, the feed's event id and one outbox
message per person to tell commit in one transaction: a change is told exactly once, also when
the bot dies right after it.
"""

from __future__ import annotations

import enum
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import peewee
import slixmpp
from slixmpp.jid import InvalidJID

from bots import audit, consent
from bots.i18n import Text, TextError, translator
from bots.invites import InvitationError
from bots.services import Services
from bots.stanza_text import without_forbidden_characters
from plugins.status.kinds import Kind
from plugins.status.models import ClaimAttempt, FeedEvent, Item, StatusChange, Watcher, utcnow

log = logging.getLogger(__name__)
_ = translator(__name__)

NOTIFY_PURPOSE = "status.notify"
CLAIM_TEXT_VERSION = "status.claim.1"  # bump when the claim answer's wording about pushes changes
INVITED_TEXT_VERSION = "join.privacy.1"  # joined through an invitation for the item: its notice
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a receipt safely
CODE_LENGTH = 6
MAX_REF_LENGTH = 64
MAX_EVENT_ID_LENGTH = 200  # FeedEvent.event_id
SOURCES = ("chat", "cli", "http", "import", "api")


class StatusError(TextError):
    """Input the book cannot take: `field` names it, and the message says why; `str()` in
    English for the feed and the CLI, `text(language)` for a person in chat."""

    def __init__(self, field: str, message: Text, **values):
        super().__init__(message, field, **values)


class UnknownItem(StatusError):
    """No item has this reference."""

    def __init__(self, ref: str):
        super().__init__("ref", _("no item {ref}"), ref=ref)


class ItemExists(StatusError):
    """An item with this reference exists (perhaps created a moment ago by someone else)."""

    def __init__(self, ref: str):
        super().__init__("ref", _("an item {ref} exists already"), ref=ref)


class EventConflict(StatusError):
    """The event id was sent for another item before: the sender reuses ids by mistake."""

    def __init__(self, event_id: str, earlier_ref: str):
        super().__init__("event_id", _("{event_id} was sent for item {ref} already; give each "
                                       "event an id of its own"), event_id=event_id,
                         ref=earlier_ref)


class ClaimResult(enum.Enum):
    LINKED = "linked"
    ALREADY = "already"
    NO_MATCH = "no_match"  # wrong code or no such reference: the person cannot tell which
    LIMITED = "limited"


@dataclass(frozen=True)
class SetResult:
    item: Item
    changed: bool  # False: the item had this state (and note) already, or a repeated event
    duplicate_event: bool = False
    told: int = 0  # outbox messages written for the people watching


@dataclass(frozen=True)
class ClaimLimits:
    """Failed claims allowed within `window`. Limits are per person only, so nobody can lock
    a customer out of their own item; guessing with many accounts is kept in check by
    `everybody`: once that many failures (of all people together) are in the window, each
    person may fail only `under_attack` times."""

    per_person: int = 5
    everybody: int = 200
    under_attack: int = 1
    window: timedelta = timedelta(hours=1)


def normalise_ref(ref: str) -> str:
    """References compare without case and surrounding space: "ab-12 " is "AB-12"."""
    ref = (ref or "").strip().upper()
    if not ref:
        raise StatusError("ref", _("the reference is empty"))
    if len(ref) > MAX_REF_LENGTH:
        raise StatusError("ref", _("the reference is longer than {limit} characters"),
                          limit=MAX_REF_LENGTH)
    if any(character.isspace() or not character.isprintable() for character in ref):
        raise StatusError("ref", _("the reference contains spaces or control characters"))
    return ref


def bare_jid(text: str) -> str:
    """The address as the bot knows the person: bare and normalised ("Anna@Example.com/phone"
    is "anna@example.com"), so that staff may type it as they like."""
    try:
        jid = slixmpp.JID((text or "").strip())
    except InvalidJID:
        jid = None
    if jid is None or not jid.user:
        raise StatusError("jid", _("{given} is no Jabber address (name@domain)"),
                          given=(text or "").strip()[:80])
    return jid.bare


def check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")


def check_event_id(event_id: str) -> None:
    """An id the table can hold (PostgreSQL refuses longer ones, and NUL characters)."""
    if len(event_id) > MAX_EVENT_ID_LENGTH:
        raise StatusError("event_id", _("longer than {limit} characters"),
                          limit=MAX_EVENT_ID_LENGTH)
    if not event_id.isprintable():
        raise StatusError("event_id", _("contains control characters"))


def normalise_code(code: str) -> str:
    return "".join(character for character in (code or "").upper() if character.isalnum())


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _position in range(CODE_LENGTH))


class StatusBook:
    def __init__(self, kinds: dict[str, Kind], bot: Services,
                 limits: ClaimLimits = ClaimLimits()):
        self.kinds = kinds
        self.bot = bot
        self.db = bot.database
        self.limits = limits
        self._attacked = False  # everybody's failed claims are at the limit (logged once)

    # --- checks ----------------------------------------------------------------------------
    def kind(self, name: str) -> Kind:
        """A kind by its name or by what people call it in any language ("Fahrzeug")."""
        wanted = (name or "").strip().casefold()
        kind = self.kinds.get(wanted) or next(
            (kind for kind in self.kinds.values()
             if wanted in {label.casefold() for label in kind.label.values()}), None)
        if kind is None:
            raise StatusError("kind", _("unknown kind {kind}; known: {known}"),
                              kind=(name or "").strip()[:40], known=", ".join(self.kinds))
        return kind

    def check_state(self, kind: Kind, state: str) -> str:
        state = (state or "").strip().lower()
        if state not in kind.states:
            raise StatusError("state", _("{state} is no state of kind {kind}; known: {known}"),
                              state=state[:40], kind=kind.name, known=", ".join(kind.states))
        return state

    def check_code(self, code: str) -> str:
        code = normalise_code(code)
        if not 4 <= len(code) <= 16:
            raise StatusError("code", _("a claim code has 4 to 16 letters or digits"))
        return code

    # --- writing ---------------------------------------------------------------------------
    def create(self, ref: str, kind: str, code: str | None = None, state: str | None = None,
               note: str | None = None, source: str = "api", by: audit.Actor | None = None
               ) -> Item:
        """A new item in its kind's first state (or `state`); its claim code is generated
        unless the company's system prints its own. `by`, here and below: who acts, for the
        audit log (None: the system, through `source`)."""
        ref = normalise_ref(ref)
        kind_ = self.kind(kind)
        state = self.check_state(kind_, state) if state else next(iter(kind_.states))
        code = self.check_code(code) if code else new_code()
        note = clean_note(note)
        try:
            with self.db.atomic():
                item = Item.create(ref=ref, kind=kind_.name, state=state, code=code,
                                   closed=kind_.is_final(state))
                StatusChange.create(item=item, state=state, note=note, source=source)
                audit.record(by or audit.system(source), "status.create", ref,
                             kind=kind_.name, state=state)
        except peewee.IntegrityError:  # the unique index: also when created at the same moment
            raise ItemExists(ref) from None
        return item

    def set_state(self, ref: str, state: str, note: str | None = None, source: str = "api",
                  event_id: str | None = None, by: audit.Actor | None = None) -> SetResult:
        """Move an item to `state` and tell everyone who claimed it and wants to be told. The
        state it has, with no note or the note it has, is no change: nobody is told twice the
        same (`resend` does that on purpose)."""
        ref = normalise_ref(ref)
        note = clean_note(note)
        if event_id is not None:
            check_event_id(event_id)
        check_source(source)
        with self.db.atomic():
            item = self._item_for_update(ref)
            kind = self.kind(item.kind)
            state = self.check_state(kind, state)
            if event_id is not None and not self._first_event(event_id, item):
                return SetResult(item, changed=False, duplicate_event=True)
            if item.state == state and note in (None, self._last_change(item).note):
                return SetResult(item, changed=False)
            audit.record(by or audit.system(source), "status.set", ref, state=state)
            return self._record(item, kind, state, note, source)

    def resend(self, ref: str, source: str = "api", by: audit.Actor | None = None
               ) -> SetResult:
        """Tell everyone who claimed the item its last change once more (staff decide: a
        customer lost the message, or a note must be read again). The history records it."""
        ref = normalise_ref(ref)
        check_source(source)
        with self.db.atomic():
            item = self._item_for_update(ref)
            last = self._last_change(item)
            audit.record(by or audit.system(source), "status.resend", ref)
            return self._record(item, self.kind(item.kind), last.state, last.note, source)

    def _item_for_update(self, ref: str) -> Item:
        query = Item.select().where(Item.ref == ref)
        if isinstance(self.db, peewee.PostgresqlDatabase):
            query = query.for_update()  # two feeds changing one item take turns
        item = query.first()
        if item is None:
            raise UnknownItem(ref)
        return item

    def _last_change(self, item: Item) -> StatusChange:
        return self.history(item, limit=1)[0]  # create() writes the first

    def _record(self, item: Item, kind: Kind, state: str, note: str | None,
                source: str) -> SetResult:
        """The item in `state` from now, its history row, and the pushes about it."""
        now = utcnow()
        change = StatusChange.create(item=item, state=state, note=note, source=source,
                                     changed_at=now)
        Item.update(state=state, closed=kind.is_final(state), updated_at=now).where(
            Item.id == item.id).execute()
        item.state, item.closed, item.updated_at = state, kind.is_final(state), now
        return SetResult(item, changed=True, told=self._tell_watchers(item, kind, change))

    def _first_event(self, event_id: str, item: Item) -> bool:
        """Record the event for its item: True the first time, False for a repeat of it;
        EventConflict when the id came with another item (events from before 0001 have none,
        and count as repeats)."""
        if FeedEvent.insert(event_id=event_id, ref=item.ref).on_conflict_ignore() \
                .as_rowcount().execute():
            return True
        earlier = FeedEvent.get(FeedEvent.event_id == event_id).ref
        if earlier is not None and earlier != item.ref:
            raise EventConflict(event_id, earlier)
        return False

    def _tell_watchers(self, item: Item, kind: Kind, change: StatusChange) -> int:
        languages = dict(Watcher.select(Watcher.jid, Watcher.language).where(
            Watcher.item == item).tuples())
        agreed = consent.given_among(list(languages), NOTIFY_PURPOSE)
        chosen = self.bot.languages_of(agreed)
        self.bot.notify_many(
            (f"status:{change.id}:{jid}", jid,
             push_text(kind, item.ref, change.state, change.note,
                       chosen.get(jid) or languages[jid] or self.bot.language))
            for jid in sorted(agreed))
        return len(agreed)

    # --- claims ----------------------------------------------------------------------------
    def claim(self, jid: str, ref: str, code: str, language: str | None = None
              ) -> tuple[ClaimResult, Item | None]:
        """Link an item to a person who shows its code; pushes go out in `language` unless
        they chose one. Wrong codes and unknown references look the same, and both count
        towards the person's limit (see ClaimLimits); the right code from a person within
        their limit is always taken."""
        try:
            ref = normalise_ref(ref)
        except StatusError:
            return ClaimResult.NO_MATCH, None
        with self.db.atomic():
            self._one_claim_at_a_time(jid)
            recent = ClaimAttempt.select().where(ClaimAttempt.at > utcnow() - self.limits.window)
            failed = recent.where(ClaimAttempt.jid == jid).count()
            if failed >= self.limits.per_person or (
                    failed >= self.limits.under_attack and self._under_attack(recent.count())):
                return ClaimResult.LIMITED, None
            item = Item.get_or_none(Item.ref == ref)
            expected = item.code if item else new_code()  # compare anyway: same time either way
            if not hmac.compare_digest(normalise_code(code).encode(), expected.encode()) \
                    or item is None:
                ClaimAttempt.create(jid=jid, ref=ref)
                self._under_attack(recent.count())
                return ClaimResult.NO_MATCH, None
            created = Watcher.insert(item=item, jid=jid, language=language) \
                .on_conflict_ignore().as_rowcount().execute()
            if not consent.has(jid, NOTIFY_PURPOSE) \
                    and not consent.ever_withdrawn(jid, NOTIFY_PURPOSE):
                consent.give(jid, NOTIFY_PURPOSE, CLAIM_TEXT_VERSION)
        return (ClaimResult.LINKED if created else ClaimResult.ALREADY), item

    def invited_ref(self, ref: str) -> str:
        """An invitation may link this item (bots.invites): its normal form, or
        InvitationError."""
        try:
            normal = normalise_ref(ref)
        except StatusError:
            normal = None
        if normal is None or self.find(normal) is None:
            raise InvitationError(_("There is no item {ref}."), ref=ref.strip()[:64])
        return normal

    def claim_invited(self, jid: str, ref: str, language: str) -> None:
        """A person joined through an invitation for `ref`: the item is theirs, and its
        current status is the first message waiting for them. The join page's notice said
        they would be told of changes (INVITED_TEXT_VERSION) unless they said no before."""
        item = Item.get(Item.ref == ref)
        Watcher.insert(item=item, jid=jid, language=language).on_conflict_ignore().execute()
        if not consent.ever_withdrawn(jid, NOTIFY_PURPOSE):
            consent.give(jid, NOTIFY_PURPOSE, INVITED_TEXT_VERSION)
        change = self._last_change(item)
        self.bot.notify(f"status:{change.id}:{jid}", jid,
                        push_text(self.kind(item.kind), item.ref, change.state, change.note,
                                  language))

    def _one_claim_at_a_time(self, jid: str) -> None:
        """Count and record one person's failures in turn, also across connections: without
        this, PostgreSQL lets concurrent claims all see the count below the limit. (SQLite
        transactions take the write lock when they begin, see bots.storage.)"""
        if isinstance(self.db, peewee.PostgresqlDatabase):
            self.db.execute_sql("SELECT pg_advisory_xact_lock(hashtext(%s))",
                                (f"status.claim:{jid}",))

    def _under_attack(self, failures: int) -> bool:
        """Whether everybody's failures in the window reached the limit; says so once in the
        log when they do (without addresses: the numbers are what an admin needs)."""
        attacked = failures >= self.limits.everybody
        if attacked and not self._attacked:
            log.warning("status: %d failed claims within %d minutes: someone may be guessing "
                        "codes; each person may now fail %d time(s) in that time", failures,
                        self.limits.window.total_seconds() // 60, self.limits.under_attack)
        self._attacked = attacked
        return attacked

    def unlock(self, jid: str, by: audit.Actor | None = None) -> int:
        """Forget a person's failed claims, so they may claim again at once (staff decide:
        they know the customer). Returns how many were forgotten."""
        with self.db.atomic():
            audit.record(by or audit.system("api"), "status.unlock", jid)
            return ClaimAttempt.delete().where(ClaimAttempt.jid == jid).execute()

    def set_notify(self, jid: str, on: bool, text_version: str) -> None:
        with self.db.atomic():
            if on:
                consent.give(jid, NOTIFY_PURPOSE, text_version)
            else:
                consent.withdraw(jid, NOTIFY_PURPOSE)

    def forget_feed_events(self, older_than: timedelta) -> int:
        """Event ids are kept so that the company's system may send an event again safely
        (a retry); one older than that is no retry any more, and its id goes."""
        return FeedEvent.delete().where(FeedEvent.received_at <= utcnow() - older_than).execute()

    # --- reading ---------------------------------------------------------------------------
    def items_of(self, jid: str, limit: int = 20) -> list[Item]:
        return list(Item.select().join(Watcher).where(Watcher.jid == jid)
                    .order_by(Item.updated_at.desc()).limit(limit))

    def find(self, ref: str) -> Item | None:
        try:
            return Item.get_or_none(Item.ref == normalise_ref(ref))
        except StatusError:
            return None

    def visible(self, jid: str, ref: str, staff: bool) -> Item | None:
        """The item if this person may see it: staff all, customers what they claimed."""
        if staff:
            return self.find(ref)
        try:
            ref = normalise_ref(ref)
        except StatusError:
            return None
        return (Item.select().join(Watcher)  # one round trip: the item and the claim together
                .where((Item.ref == ref) & (Watcher.jid == jid)).first())

    def history(self, item: Item, limit: int = 3) -> list[StatusChange]:
        return list(StatusChange.select().where(StatusChange.item == item)
                    .order_by(StatusChange.changed_at.desc(), StatusChange.id.desc())
                    .limit(limit))

    def open_items(self, limit: int = 30) -> tuple[list[Item], int]:
        """The open items changed longest ago first, and how many are open in all."""
        query = Item.select().where(Item.closed == False)  # noqa: E712 (peewee expression)
        return list(query.order_by(Item.updated_at, Item.id).limit(limit)), query.count()


def personal_data(jid: str) -> dict:
    """What the status tables hold about a person (for `botschaft privacy export`)."""
    claims = Watcher.select(Watcher, Item).join(Item).where(Watcher.jid == jid)
    return {"claimed_items": [{"ref": watcher.item.ref, "kind": watcher.item.kind,
                               "state": watcher.item.state,
                               "claimed_at": watcher.claimed_at.isoformat()}
                              for watcher in claims],
            "failed_claims": [{"ref": attempt.ref, "at": attempt.at.isoformat()}
                              for attempt in ClaimAttempt.select().where(
                                  ClaimAttempt.jid == jid)]}


def erase_person(jid: str) -> int:
    """Forget a person's claims and attempts; the items stay (they are the company's)."""
    with Watcher._meta.database.atomic():
        return (Watcher.delete().where(Watcher.jid == jid).execute()
                + ClaimAttempt.delete().where(ClaimAttempt.jid == jid).execute())


def push_text(kind: Kind, ref: str, state: str, note: str | None, language: str) -> str:
    text = f"{kind.label[language]} {ref}: {kind.text(state, language)}"
    return f"{text}\n{note}" if note else text


def clean_note(note: str | None) -> str | None:
    """The note as customers will read it. Characters XML forbids are dropped, not refused: a
    stray control character in an ERP's note would break the stream that carries the push (and
    PostgreSQL cannot store a NUL), while the rest of the note is worth telling."""
    note = without_forbidden_characters(note or "").strip()
    if len(note) > 1000:
        raise StatusError("note", _("a note has at most 1000 characters"))
    return note or None
