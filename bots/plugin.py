"""What a plugin author sees: the `Plugin` base class, `@command`, `@job`, discovery.

A plugin is one class. Commands are decorated methods, `def name(self, ctx, arg: type, …)`,
sync or async: sync ones run on the database worker pool (plain peewee code is fine there),
async ones on the event loop (use `await ctx.db(fn)` for database work). Hooks are methods
with telling names: `on_conversation`, `on_message`, `on_presence`, `on_room_joined`. Plugins
register under the entry-point group `botschaft.plugins`, the built-ins too, so installing a
package adds it.
"""

from __future__ import annotations

import inspect
import logging
import re
from dataclasses import dataclass
from datetime import time, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from bots import personal_data as declarations
from bots.commands import CommandSpec, parameters_of
from bots.people import ROLES
from bots.storage import Schema

if TYPE_CHECKING:
    import click
    from twisted.web.resource import Resource

    from bots.config import Config
    from bots.invites import InvitationAction
    from bots.services import Services

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "botschaft.plugins"


class _NoAnswer(str):
    """The type of NO_ANSWER: an empty text that is not None."""


# `on_conversation` took the message and the person gets no answer (it was relayed on)
NO_ANSWER = _NoAnswer()
_INTERVAL = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def command(name: str | None = None, *, help: str = "", role: str = "customer",
            examples: dict[str, list[str]] | None = None,
            aliases: dict[str, list[str]] | None = None, private: bool = True,
            arguments: dict[str, str] | None = None, in_rooms: bool = False):
    """Make a method a command. `examples` are phrases per language ("is my car ready") that
    plain questions are matched against; `aliases` are further command words per language.
    Asked in a group room, the answer goes to the asker in a direct chat (it may be about
    them or the business); `private=False` for answers everyone in a room may read.
    `arguments` name the parameters for people, per language through the catalogue:
    {"ref": _("order number")} shows `status [Auftragsnummer]` in German help.
    `in_rooms=True`: a command for group chats only, which `help` in a direct chat and the
    command menu leave out (a customer on a phone reads no line they cannot use)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")

    def mark(method):
        method.botschaft_command = dict(name=name or method.__name__, help=help, role=role,
                                        examples=examples or {}, aliases=aliases or {},
                                        private=private, arguments=arguments or {},
                                        in_rooms=in_rooms)
        return method

    return mark


@dataclass(frozen=True)
class JobSpec:
    """Recurring (`every`) or daily (`at`, local time) work; the scheduler runs it."""

    name: str
    handler: Callable
    every: timedelta | None = None
    at: time | None = None


def job(*, every: str | None = None, at: str | None = None):
    """`@job(every="5m")` (s, m, h, d) or `@job(at="07:30")` in `[bot] timezone`: work the bot
    starts by itself. `def job(self, ctx)`: ctx.run says what is due; what the job writes to the
    database commits together with its schedule moving on, so no run is lost or doubled."""
    if (every is None) == (at is None):
        raise ValueError("give exactly one of every= or at=")
    interval = None
    daily = None
    if every is not None:
        match = _INTERVAL.match(every.strip())
        if not match or int(match.group(1)) == 0:
            raise ValueError(f"every={every!r}: write a number and a unit s, m, h or d, e.g. '5m'")
        interval = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    else:
        try:
            daily = time.fromisoformat(at)
        except ValueError:
            raise ValueError(f"at={at!r}: write a time of day like '07:30'") from None

    def mark(method):
        if inspect.iscoroutinefunction(method):
            raise TypeError(f"@job {method.__qualname__} must be a plain def: jobs run on the "
                            "database pool, inside the transaction that moves their schedule on")
        method.botschaft_job = dict(every=interval, at=daily)
        return method

    return mark


class Plugin:
    """Base class of every plugin. Class attributes declare what it needs."""

    name: str = ""
    description: str = ""
    models: list = []
    default_config: dict[str, Any] = {}
    # what of a person it stores where: export, erase, retention and the inventory follow
    personal_data_kinds: list[declarations.PersonalData] = []

    def __init__(self, config: dict[str, Any] | None = None):
        self.config = dict(self.default_config) if config is None else config
        self.bot: Services | None = None  # the framework's services, set before start()

    # --- life cycle: what start() sets up, stop() takes down -------------------------------
    async def start(self, bot: Services) -> None:
        """Called once the bot is online. `bot` (also `self.bot`) is all a plugin needs of the
        framework: database, notify, other plugins, per-person jobs (bots/services.py)."""

    async def stop(self) -> None:
        """Called before the bot goes offline."""

    # --- hooks -----------------------------------------------------------------------------
    async def on_conversation(self, ctx) -> str | None:
        """Every direct message first, before its first word is taken as a command: return
        an answer, or NO_ANSWER, to take the message over (a conversation relayed to a
        person); None lets it go on as usual. `ctx.message.command` names the command the
        first word means for this person, if any. It runs for every message, so keep it to a
        lookup in memory for those it does not concern; only plugins that override it are
        called."""
        return None

    async def on_message(self, ctx) -> str | None:
        """Every direct message that is no command; return an answer to claim it."""
        return None

    async def on_presence(self, presence) -> None:
        """A contact's presence changed (online, away, offline)."""

    async def on_room_joined(self, room: str) -> None:
        """The bot has joined a group room."""

    def on_event(self, bot: Services, event: str, data: dict) -> None:
        """Another plugin's news (`bot.emit`), e.g. "lessons.subscribed" with `jid` and
        `course`: plain peewee code, on the emitter's database thread and in its transaction
        (a savepoint of its own: what it writes before failing is undone, the emitter's stays).
        Also in CLI commands: use `bot`, not what `start()` made."""

    # --- personal data (plain peewee code, run on a database thread) -----------------------
    def personal_data(self, jid: str) -> dict:
        """Everything this plugin stores about a person (`botschaft privacy export`); by
        default their rows of each of `personal_data_kinds`."""
        return declarations.export(self.personal_data_kinds, jid, self.name)

    def erase_person(self, jid: str) -> int:
        """Delete what this plugin stores about a person; returns the rows deleted
        (`botschaft privacy erase`). By default their rows of each of `personal_data_kinds`."""
        return declarations.erase(self.personal_data_kinds, jid)

    def describe_personal_data(self, data: dict, language: str) -> list[str] | None:
        """What `personal_data` returned (`data`, never empty), as a few short lines the person
        reads in `privacy` ("2 items linked to you: …"). None: the core counts the entries."""
        return None

    def describe_purpose(self, purpose: str, language: str) -> str | None:
        """One of this plugin's consent purposes in words a person understands ("daily
        lessons of the course Deutsch im Alltag"), for `privacy`; None when it is not this
        plugin's. A person who withdraws it in chat is told to plugins as the event
        `bots.consent.WITHDRAWN` (`jid`, `purpose`): stop then what it allowed."""
        return None

    # --- extensions ------------------------------------------------------------------------
    def cli(self) -> click.Group | None:
        """A click group added to `botschaft` as `botschaft <plugin name> …`."""
        return None

    def routes(self) -> dict[str, Resource]:
        """HTTP resources (twisted.web) served by the bot under /<plugin name>/<path>."""
        return {}

    def invitation_actions(self, bot) -> dict[str, InvitationAction]:
        """What an invitation can do for a new account through this plugin, by name (e.g.
        {"claim": …}); `bot` is the framework's services (bots/invites.py, docs/plugins.md)."""
        return {}

    # --- what the framework reads ----------------------------------------------------------
    def commands(self) -> list[CommandSpec]:
        found = []
        for method in self._marked("botschaft_command"):
            marker = method.botschaft_command
            found.append(CommandSpec(
                name=marker["name"], help=marker["help"], handler=method,
                parameters=parameters_of(method, marker["arguments"]), role=marker["role"],
                examples=marker["examples"], aliases=marker["aliases"], plugin=self.name,
                private=marker["private"], in_rooms=marker["in_rooms"]))
        return found

    def jobs(self) -> list[JobSpec]:
        return [JobSpec(f"{self.name}.{method.__name__}", method, **method.botschaft_job)
                for method in self._marked("botschaft_job")]

    def schema(self) -> Schema:
        package = type(self).__module__
        folder = Path(inspect.getfile(type(self))).parent / "migrations"
        if folder.is_dir() and not (folder / "__init__.py").exists():
            raise TypeError(f"{folder} has no __init__.py, so its migrations would never run; "
                            "add an empty one (and package the folder: see `botschaft plugin "
                            "new`)")
        migrations = f"{package}.migrations" if _has_module(f"{package}.migrations") else None
        return Schema(self.name, tuple(self.models), migrations)

    def _marked(self, marker: str) -> list[Callable]:
        return [getattr(self, attribute) for attribute in sorted(dir(type(self)))
                if hasattr(getattr(type(self), attribute, None), marker)]


@dataclass
class LoadReport:
    plugins: list[Plugin]
    failures: dict[str, str]  # plugin name → what went wrong
    disabled: list[str]


def load_plugins(config: Config) -> LoadReport:
    """Instantiate every installed, enabled plugin; one that fails is reported, the rest run."""
    disabled = set(config.get("plugins", "disabled"))
    plugins, failures, skipped = [], {}, []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if entry.name in disabled:
            skipped.append(entry.name)
            continue
        try:
            cls = entry.load()
            plugin = cls(config.plugin_config(entry.name, cls.default_config))
            plugin.name = plugin.name or entry.name
            plugin.commands()  # a broken signature shows now, not at the first message
            plugin.schema()  # and so does a migrations folder that would be skipped
            _check_personal_data(plugin)  # and a declaration export or erase cannot follow
            plugins.append(plugin)
        except Exception as exc:
            failures[entry.name] = f"{type(exc).__name__}: {exc}"
            log.error("plugin %r (%s) failed to load, the others run: %s", entry.name,
                      entry.value, failures[entry.name], exc_info=True)
    unknown = disabled - installed_plugins()
    for name in sorted(unknown):
        log.warning("[plugins] disabled names %r, but no such plugin is installed", name)
    return LoadReport(plugins, failures, skipped)


def installed_plugins() -> set[str]:
    """The names of every installed plugin, loaded or not."""
    return {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}


def _check_personal_data(plugin: Plugin) -> None:
    cls = type(plugin)
    generic = (cls.personal_data is Plugin.personal_data
               or cls.erase_person is Plugin.erase_person)
    declarations.check(plugin.name, plugin.personal_data_kinds, generic)


def _has_module(name: str) -> bool:
    from importlib.util import find_spec
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:
        return False
