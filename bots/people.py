"""Who is writing: a person's role (from the config) and language (theirs, client's, default)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import peewee

from bots.i18n import negotiate
from bots.storage import Schema, Storage

log = logging.getLogger(__name__)

ROLES = ("customer", "staff", "admin")  # each role may do everything the ones before it may


def role_allows(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


class PersonSetting(peewee.Model):
    """A person's own choices; only what they set themselves is stored."""

    jid = peewee.CharField(primary_key=True, max_length=3071)
    language = peewee.CharField(max_length=8, null=True)

    class Meta:
        table_name = "bots_person_setting"


SCHEMA = Schema("bots", (PersonSetting,), "bots.migrations")


@dataclass(frozen=True)
class Person:
    jid: str  # bare JID
    role: str
    language: str

    def may(self, needed_role: str) -> bool:
        return role_allows(self.role, needed_role)


class JidMatcher:
    """Matches JIDs against config entries: "alice@example.com", or a domain "@example.com".

    Only the bare JID counts, and a domain entry matches the JID's domain part exactly: a
    resource or a room nick such as "eve@staff.example.com" in "room@muc/eve@staff.example.com"
    is chosen by whoever writes, so it never grants a role."""

    def __init__(self, entries: list[str]):
        self.jids = {entry.lower() for entry in entries if not entry.startswith(("@", "*@"))}
        self.domains = {entry.lower().lstrip("*").lstrip("@") for entry in entries
                        if entry.startswith(("@", "*@"))}

    def __contains__(self, jid: str) -> bool:
        bare = jid.lower().partition("/")[0]
        return bare in self.jids or bare.partition("@")[2] in self.domains


class People:
    """Roles from the config; languages from the database, cached (most recent 10,000). The
    cache is forgotten when someone's data is erased, also by another process (`botschaft
    privacy erase`): `erasures()` says how many there were, looked at once a second."""

    CACHE_SIZE = 10_000
    ERASURE_CHECK_INTERVAL = 1.0  # seconds

    def __init__(self, admins: list[str], staff: list[str], bots: list[str],
                 default_language: str, storage: Storage,
                 erasures: Callable[[], int] = lambda: 0):
        self.admins = JidMatcher(admins)
        self.staff = JidMatcher(staff)
        self.bots = JidMatcher(bots)
        self.default_language = default_language
        self.storage = storage
        self._languages: OrderedDict[str, str | None] = OrderedDict()
        self._erasures = erasures
        self._erasures_seen: int | None = None
        self._erasures_checked = -self.ERASURE_CHECK_INTERVAL

    def role_of(self, jid: str) -> str:
        if jid in self.admins:
            return "admin"
        if jid in self.staff:
            return "staff"
        return "customer"

    def is_bot(self, jid: str) -> bool:
        return jid in self.bots

    async def person(self, jid: str, client_language: str | None = None) -> Person:
        own = await self._own_language(jid)
        language = own or negotiate(client_language) or self.default_language
        return Person(jid, self.role_of(jid), language)

    async def set_language(self, jid: str, language: str) -> None:
        def save():
            PersonSetting.insert(jid=jid, language=language).on_conflict(
                conflict_target=[PersonSetting.jid],
                update={PersonSetting.language: language}).execute()
        await self.storage.run(save)
        self._remember(jid, language)

    def forget(self, jid: str) -> None:
        """Drop what is cached about a person whose data this process just erased (others
        notice the erasure record within ERASURE_CHECK_INTERVAL)."""
        self._languages.pop(jid, None)

    async def _own_language(self, jid: str) -> str | None:
        await self._forget_erased()
        if jid in self._languages:
            self._languages.move_to_end(jid)
            return self._languages[jid]

        def lookup():
            row = PersonSetting.get_or_none(PersonSetting.jid == jid)
            return row.language if row else None
        language = await self.storage.run(lookup)
        self._remember(jid, language)
        return language

    async def _forget_erased(self) -> None:
        now = time.monotonic()
        if now - self._erasures_checked < self.ERASURE_CHECK_INTERVAL:
            return
        self._erasures_checked = now
        erasures = await self.storage.run(self._erasures)
        if erasures != self._erasures_seen:
            self._languages.clear()
            self._erasures_seen = erasures

    def _remember(self, jid: str, language: str | None) -> None:
        self._languages[jid] = language
        self._languages.move_to_end(jid)
        while len(self._languages) > self.CACHE_SIZE:
            self._languages.popitem(last=False)
