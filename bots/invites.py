"""One-time invitations: a link that makes an account on the company's server and, on the
way, does what its maker asked (claim an item, subscribe to a course, join a room).

A token is 144 random bits, shown once to its maker and stored only as its SHA-256; it is used
once, expires, and can be revoked. Plugins offer the things an invitation can do
(`Plugin.invitation_actions`); staff make invitations in chat (`invite 4711`), admins with
`botschaft invite create`, plugins with `bot.invite(...)`. The join page (bots/join_page.py)
redeems them. Plain peewee code: run it on a database thread.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Callable

import peewee

from bots import audit
from bots.i18n import Text, TextError, translator
from bots.storage import Schema

_ = translator(__name__)

TOKEN_BYTES = 18  # 144 bits, 24 characters in a link
MAX_COUNT = 1000  # invitations made in one go at most
MAX_DAYS = 365


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Invitation(peewee.Model):
    token_hash = peewee.CharField(max_length=64, unique=True)
    actions = peewee.TextField(default="{}")  # JSON: action name → value, e.g. {"claim": "4711"}
    note = peewee.CharField(max_length=200, default="")
    created_by = peewee.CharField(max_length=3071)
    created_at = peewee.DateTimeField(default=_utcnow)
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)
    used_by = peewee.CharField(max_length=3071, null=True, index=True)
    revoked_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "bots_invitation"

    @property
    def wanted(self) -> dict[str, str]:
        return json.loads(self.actions)

    def state(self, now: datetime | None = None) -> str:
        """usable, used, revoked or expired."""
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= (now or _utcnow()):
            return "expired"
        return "usable"


SCHEMA = Schema("invites", (Invitation,))


class InvitationError(TextError):
    """An invitation cannot be made as asked; `text(language)` says why, for the person who
    asked."""


@dataclass(frozen=True)
class InvitationAction:
    """Something an invitation does for the new account, offered by a plugin.

    `check(value)` returns the value as it will be stored, or raises InvitationError (say, no
    item 4711); `run(jid, value, language)` does it for the person who just joined, on a
    database thread, in the transaction that redeems the invitation (so what it notifies is
    sent exactly once). `describe` is a short text for lists ("item {value}")."""

    check: Callable[[str], str]
    run: Callable[[str, str, str], None]
    describe: Text


@dataclass(frozen=True)
class NewInvitation:
    """What the maker gets, once: the token is nowhere else."""

    id: int
    token: str
    url: str
    expires_at: datetime
    actions: dict[str, str]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def looks_like_token(token: str) -> bool:
    """The shape of our tokens (urlsafe base64, 24 characters): anything else is not looked
    up at all."""
    return len(token) == 24 and all(c.isascii() and (c.isalnum() or c in "-_") for c in token)


class Invitations:
    """Making, finding, redeeming and revoking invitations, with the actions plugins offer."""

    def __init__(self, actions: dict[str, InvitationAction], public_url: str,
                 default_days: int):
        self.actions = actions
        self.public_url = public_url.rstrip("/")
        self.default_days = default_days

    def link(self, token: str) -> str:
        return f"{self.public_url}/join/{token}"

    def create(self, created_by: str, actions: dict[str, str] | None = None,
               lifetime: timedelta | None = None, note: str = "",
               count: int = 1) -> list[NewInvitation]:
        """Make `count` invitations alike; raises InvitationError for an unknown action, a
        value its plugin refuses, or a count or lifetime out of range."""
        if not self.public_url:
            raise InvitationError(_("Invitations need the join page, which is not set up: "
                                    "[join] public_url in the bot's settings."))
        lifetime = timedelta(days=self.default_days) if lifetime is None else lifetime
        if not timedelta(hours=1) <= lifetime <= timedelta(days=MAX_DAYS):
            raise InvitationError(_("An invitation lasts from an hour to {most} days."),
                                  most=MAX_DAYS)
        if not 1 <= count <= MAX_COUNT:
            raise InvitationError(_("Make 1 to {most} invitations at a time, not {count}."),
                                  most=MAX_COUNT, count=count)
        checked = {name: self._action(name).check(value)
                   for name, value in (actions or {}).items()}
        expires_at = _utcnow() + lifetime
        made = []
        with Invitation._meta.database.atomic():
            for _number in range(count):
                token = secrets.token_urlsafe(TOKEN_BYTES)
                row = Invitation.create(token_hash=token_hash(token), actions=json.dumps(checked),
                                        note=note[:200], created_by=created_by,
                                        expires_at=expires_at)
                made.append(NewInvitation(row.id, token, self.link(token), expires_at, checked))
                audit.record(_maker(created_by), "invitation.create", str(row.id), **checked)
        return made

    def _action(self, name: str) -> InvitationAction:
        try:
            return self.actions[name]
        except KeyError:
            raise self._unknown(name) from None

    def _unknown(self, name: str) -> InvitationError:
        return InvitationError(_("An invitation cannot do {name!r} here; it can: {known}."),
                               name=name, known=", ".join(sorted(self.actions)) or "-")

    def find(self, token: str) -> Invitation | None:
        """The invitation of this token, whatever its state; None for a made-up one."""
        if not looks_like_token(token):
            return None
        return Invitation.get_or_none(Invitation.token_hash == token_hash(token))

    def take(self, token: str, jid: str) -> Invitation | None:
        """Mark the invitation used by `jid` if it is usable right now (one statement, so two
        requests cannot both take it); None when it is not. Call `give_back` if the account
        cannot be made after all."""
        if not looks_like_token(token):
            return None
        now = _utcnow()
        taken = Invitation.update(used_at=now, used_by=jid).where(
            (Invitation.token_hash == token_hash(token)) & Invitation.used_at.is_null()
            & Invitation.revoked_at.is_null() & (Invitation.expires_at > now)).execute()
        return Invitation.get(Invitation.token_hash == token_hash(token)) if taken else None

    def give_back(self, invitation: Invitation) -> None:
        """The account was not made: the invitation is usable again."""
        Invitation.update(used_at=None, used_by=None).where(
            Invitation.id == invitation.id).execute()

    def carry_out(self, invitation: Invitation, jid: str, language: str) -> None:
        """Do what the invitation asks for its new account (in the caller's transaction)."""
        for name, value in invitation.wanted.items():
            action = self.actions.get(name)
            if action is None:  # its plugin is gone since the invitation was made
                raise self._unknown(name)
            action.run(jid, value, language)

    def revoke(self, ids: list[int]) -> int:
        """Revoke these invitations unless used; returns how many were revoked now."""
        return Invitation.update(revoked_at=_utcnow()).where(
            Invitation.id.in_(ids) & Invitation.used_at.is_null()
            & Invitation.revoked_at.is_null()).execute()

    def listing(self, everything: bool = False, limit: int = 200) -> list[Invitation]:
        """Newest first; only usable ones unless `everything`."""
        query = Invitation.select().order_by(Invitation.id.desc()).limit(limit)
        if not everything:
            query = query.where(Invitation.used_at.is_null() & Invitation.revoked_at.is_null()
                                & (Invitation.expires_at > _utcnow()))
        return list(query)


def _maker(created_by: str) -> audit.Actor:
    """Who made an invitation, for the audit log: "cli:<login>" is an admin's command line,
    anything else a staff member in chat."""
    login = created_by.removeprefix("cli:")
    return audit.Actor(login, "cli" if login != created_by else "chat")


def personal_data(jid: str) -> list[dict]:
    """The invitation a person joined with (for the privacy export)."""
    return [{"joined_at": row.used_at.isoformat(), "invited_by": row.created_by,
             "actions": row.wanted}
            for row in Invitation.select().where(Invitation.used_by == jid)]


def erase_person(jid: str) -> int:
    """The invitation a person used, and those they made (a customer makes none)."""
    return Invitation.delete().where((Invitation.used_by == jid)
                                     | (Invitation.created_by == jid)).execute()
