"""What personal data is kept where, declared once: export, erase, retention and the inventory
(`botschaft privacy inventory`) all read these declarations, so a plugin that declares its
tables is covered by each without further code, and the DPO page cannot fall behind the code.

The core's own kinds are `CORE_KINDS` below; a plugin lists its own in
`Plugin.personal_data_kinds`. Plain peewee code: run it on a database thread. What ejabberd
keeps with a retention period (its message archive) is declared apart, in `SERVER_KINDS`: no
table of the bot's, so none of the peewee parts apply to it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import peewee

from bots.audit import AuditEntry
from bots.consent import Consent
from bots.invites import Invitation
from bots.outbox import DONE, FAILED, OutboxMessage
from bots.people import PersonSetting
from bots.scheduler import Schedule

if TYPE_CHECKING:
    from bots.plugin import Plugin

CORE = "core"  # the owner of CORE_KINDS, where plugins' kinds name their plugin


@dataclass(frozen=True)
class PersonalData:
    """One kind of personal data: which table holds it, whose it is, how long it may stay.

    `person` is the column holding the person's bare JID: one of `model`'s own, or of a model
    `model` refers to by a foreign key, directly or through others (a lesson delivery is the
    person's through its subscription). `since` is the time the retention period counts from
    (e.g. when a course ended): rows where it is NULL are kept, as are all rows with
    `retention_days` None (kept while needed: until the person is erased). `expired`, for when
    one column is not enough, gives the rows to purge for a cutoff (e.g. an item's history once
    the item is final).
    """

    kind: str  # "<plugin>.<what>", the key of [privacy] retention, e.g. "status.history"
    model: type[peewee.Model]
    person: peewee.Field
    description: str  # one line for the inventory and the DPO page: what and why
    retention_days: int | None = None  # the default; [privacy] retention overrides it
    since: peewee.Field | None = None
    expired: Callable[[datetime], peewee.Expression] | None = None
    columns: tuple[str, ...] = ()  # those holding personal data; empty: all but the key
    # (what the export shows, and the inventory lists)
    person_prefix: str = ""  # `person` holds this before the JID, e.g. "person:" (a plan's key)

    def __post_init__(self):
        where = f"personal data {self.kind!r}"
        if self.retention_days is not None and self.retention_days < 0:
            raise ValueError(f"{where}: retention_days must be 0 or more, or None")
        if self.since is not None and self.expired is not None:
            raise ValueError(f"{where}: give since or expired, not both")
        if self.since is not None and self.since.model is not self.model:
            raise ValueError(f"{where}: since must be a column of {table(self.model)} (for "
                             "another table's, write expired)")
        if self.retention_days is not None and self.since is None and self.expired is None:
            raise ValueError(f"{where}: retention_days needs since or expired, the time its "
                             "period counts from")
        unknown = sorted(set(self.columns) - set(self.model._meta.fields))
        if unknown:
            raise ValueError(f"{where}: {table(self.model)} has no column {unknown[0]!r}")

    def of(self, jid: str) -> peewee.Expression:
        """The rows of `model` that are `jid`'s: by `person`, through the foreign keys that
        lead to its table."""
        condition = self.person == self.person_prefix + jid
        for key in reversed(self.path()):
            condition = key.in_(key.rel_model.select(key.rel_field).where(condition))
        return condition

    def path(self) -> list[peewee.ForeignKeyField]:
        """The foreign keys from `model` to the table of `person`, the shortest way (none: the
        column is `model`'s own); ValueError when there is no way."""
        ways: dict[type[peewee.Model], list[peewee.ForeignKeyField]] = {self.model: []}
        queue = deque([self.model])
        while queue:
            model = queue.popleft()
            if model is self.person.model:
                return ways[model]
            for key, target in model._meta.refs.items():
                if target not in ways:
                    ways[target] = [*ways[model], key]
                    queue.append(target)
        raise ValueError(f"personal data {self.kind!r}: no foreign key leads from "
                         f"{table(self.model)} to {table(self.person.model)}, which holds its "
                         "person column; export and erase it yourself (Plugin.personal_data, "
                         "erase_person)")

    def older_than(self, cutoff: datetime) -> peewee.Expression:
        """The rows its retention period is over for, at `cutoff` (naive UTC)."""
        return self.expired(cutoff) if self.expired is not None else self.since < cutoff

    def personal_columns(self) -> list[str]:
        return list(self.columns) or [field.name for field in self.model._meta.sorted_fields
                                      if field is not self.model._meta.primary_key]


@dataclass(frozen=True)
class ServerData:
    """One kind of personal data the XMPP server keeps, in ejabberd's own database: listed in
    the inventory, given a period by `[privacy] retention` like the others, and purged by
    asking ejabberd through its admin API (bots/retention.py); export and erase reach a
    person's part of it the same way (bots/server_privacy.py)."""

    kind: str  # "server.<what>", the key of [privacy] retention
    table: str  # in ejabberd's database
    columns: tuple[str, ...]
    person: str  # whose it is, in words
    description: str
    retention_days: int
    counted_from: str


def table(model: type[peewee.Model]) -> str:
    return model._meta.table_name


def declared(plugins: list[Plugin]) -> list[tuple[str, PersonalData]]:
    """Every kind of personal data with its owner: the core's, then each plugin's."""
    return [(CORE, kind) for kind in CORE_KINDS] + [
        (plugin.name, kind) for plugin in plugins for kind in plugin.personal_data_kinds]


def check(plugin_name: str, kinds: list[PersonalData], generic: bool) -> None:
    """A plugin's declarations, when it loads: each a PersonalData named
    "<plugin>.<what>", once; `generic` (the default export and erase use them): each reaches
    its person through foreign keys."""
    names = [getattr(kind, "kind", None) for kind in kinds]
    for kind in kinds:
        if not isinstance(kind, PersonalData):
            raise TypeError(f"personal_data_kinds holds {kind!r}, which is no PersonalData")
        what = kind.kind.removeprefix(f"{plugin_name}.")
        if what == kind.kind or not what:
            raise ValueError(f"personal data {kind.kind!r}: name it {plugin_name}.<what>, "
                             "after the plugin")
        if names.count(kind.kind) > 1:
            raise ValueError(f"personal data {kind.kind!r} is declared twice")
        if generic:
            kind.path()


def rows(kind: PersonalData, jid: str) -> list[dict[str, Any]]:
    """`jid`'s rows of `kind` as JSON-able dicts of its personal columns, oldest first."""
    fields = [kind.model._meta.fields[name] for name in kind.personal_columns()]
    query = kind.model.select(*fields).where(kind.of(jid)).order_by(
        kind.model._meta.primary_key).dicts()
    return [{name: _plain(value) for name, value in row.items()} for row in query]


def export(kinds: list[PersonalData], jid: str, owner: str) -> dict[str, list[dict]]:
    """`jid`'s rows of each kind, by its name without the owner's prefix ("notes")."""
    return {kind.kind.removeprefix(f"{owner}."): rows(kind, jid) for kind in kinds}


def erase(kinds: list[PersonalData], jid: str) -> int:
    """Delete `jid`'s rows of each kind; returns how many."""
    return sum(kind.model.delete().where(kind.of(jid)).execute()
               for kind in referring_first(kinds))


def referring_first(kinds: list[PersonalData]) -> list[PersonalData]:
    """Rows that refer to others by a foreign key go before those they refer to: deleting
    these first would cascade, or fail, and lose the way to them."""
    return sorted(kinds, key=lambda kind: -_depth(kind.model, frozenset()))


def _depth(model: type[peewee.Model], seen: frozenset) -> int:
    """The longest chain of foreign keys from `model`: more than any table it refers to."""
    seen = seen | {model}
    return max((1 + _depth(target, seen) for target in model._meta.refs.values()
                if target not in seen), default=0)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _outbox_finished_before(cutoff: datetime) -> peewee.Expression:
    """Sent and acknowledged, or failed, before `cutoff`: pending and unacknowledged rows
    are still needed to send them exactly once."""
    return (OutboxMessage.state.in_((DONE, FAILED))
            & (peewee.fn.COALESCE(OutboxMessage.done_at, OutboxMessage.created_at) < cutoff))


OUTBOX = PersonalData(
    "outbox", OutboxMessage, OutboxMessage.recipient,
    "Messages the bot sends by itself (pushes, lessons, reminders): kept so that each is sent "
    "exactly once, deleted after sending ended (retention counts from then).",
    retention_days=7, expired=_outbox_finished_before, columns=("recipient", "body"))
CONSENT = PersonalData(
    "consent", Consent, Consent.jid,
    "What a person agreed to, when, in which wording, and when they withdrew it: the proof, "
    "kept as long as the data it covers.")
SETTINGS = PersonalData(
    "settings", PersonSetting, PersonSetting.jid, "A person's own choices (their language).",
    columns=("jid", "language"))
PLANS = PersonalData(
    "schedule", Schedule, Schedule.key,
    "Per-person plans of plugins' jobs (a daily reminder at 07:30): for whom, when, and what "
    "the job needs (payload).", person_prefix="person:",
    columns=("job", "key", "next_due_at", "daily_at", "timezone", "payload"))
INVITATIONS = PersonalData(
    "invitations", Invitation, Invitation.used_by,
    "The invitation a person joined with: when, who invited them, what it did.",
    columns=("used_by", "used_at", "created_by", "actions", "note"))
INVITATIONS_MADE = PersonalData(
    "invitations_made", Invitation, Invitation.created_by,
    "Invitations staff made: who made them, when, with which note.",
    columns=("created_by", "created_at", "note"))
AUDIT = PersonalData(
    "audit", AuditEntry, AuditEntry.actor,
    "What staff and admins did (set a status, made an invitation, added someone to a room, "
    "exported or erased someone's data): who, when, through which channel, to whom; never "
    "what was written. An erased person's address is replaced in it.",
    retention_days=365, since=AuditEntry.at, columns=("at", "actor", "channel", "action",
                                                       "subject"))
CORE_KINDS = [OUTBOX, CONSENT, SETTINGS, PLANS, INVITATIONS, INVITATIONS_MADE, AUDIT]

SERVER_ARCHIVE = ServerData(
    "server.archive", "archive", ("username", "peer", "bare_peer", "nick", "txt", "xml",
                                  "timestamp"),
    "archive.username (the account, or the group room, whose archive it is) and "
    "archive.bare_peer (the other side)",
    "The XMPP server's message archive (XEP-0313) in ejabberd's database: the messages of "
    "group rooms, and of accounts that switched archiving on (it is off unless they do), so "
    "that their apps show the history. Deleted by ejabberd when the daily purge asks it.",
    retention_days=30, counted_from="timestamp")
SERVER_KINDS = [SERVER_ARCHIVE]
