"""What a plugin may use of the framework: one small, documented surface.

A plugin gets it in `start(self, bot)` (and keeps it as `self.bot`), in every command as
`ctx.bot` and in every job as `ctx.bot`; its CLI commands get the same through
`bots.cli.plugin_database`. Nothing else of the framework is meant for plugins: what is not
here may change without notice.

    with bot.database.atomic():              # one transaction for a change and its messages
        Item.update(state="ready").where(...).execute()
        bot.notify(f"ready:{item.id}", jid, text)   # sent exactly once, after the commit
    bot.plugin("status").book                # another plugin's own service
    bot.daily("mine.remind", f"person:{jid}", "07:30", "Europe/Berlin")   # per-person jobs
    bot.on_due("mine.remind", handler)       # handler(runs) takes due runs in batches
    bot.languages_of(jids)                   # the language each person chose, if any
    bot.emit("mine.done", jid=jid)           # news for other plugins (Plugin.on_event)
    bot.ejabberd.set_room_affiliation(...)   # the server's admin API (bots/ejabberd_api.py)
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Iterable

import peewee

from bots.accounts import account_domain
from bots.ejabberd_api import EjabberdAPI, EjabberdAPIError
from bots.invites import Invitations, NewInvitation
from bots.outbox import enqueue_many, withdraw
from bots.people import PersonSetting
from bots.retention import periods
from bots.scheduler import Run, Schedule, Scheduler

if TYPE_CHECKING:
    from bots.app import RoomActions
    from bots.config import Config
    from bots.plugin import Plugin
    from bots.storage import Storage


log = logging.getLogger(__name__)
ROOMS_LOCALPART = "rooms"  # a component's address in group rooms: rooms@bot.example.com


class UnknownPlugin(LookupError):
    """`bot.plugin(name)` for a plugin that is not loaded (not installed, disabled, failed)."""


class Services:
    """The framework as a plugin sees it; the same in the running bot and in CLI commands."""

    def __init__(self, config: Config, storage: Storage, plugins: list[Plugin],
                 scheduler: Scheduler | None = None, wake: Callable[[], None] | None = None,
                 send: Callable[[str, str], None] | None = None, rooms: RoomActions | None = None):
        self._config = config
        self._storage = storage
        self._plugins = {plugin.name: plugin for plugin in plugins}
        self._scheduler = scheduler or Scheduler(storage.db)
        self._wake = wake or (lambda: None)  # a CLI has no outbox: the running bot polls
        self._send = send
        self._invitations: Invitations | None = None
        self._rooms = rooms
        self._ejabberd: EjabberdAPI | None = None

    # --- settings ----------------------------------------------------------------------------
    @functools.cached_property
    def retention(self) -> dict[str, int | None]:
        """Days each kind of personal data is kept (`[privacy] retention`; None: while
        needed), as the nightly purge keeps them: a plugin whose period is 0 deletes at once."""
        return periods(list(self._plugins.values()), self._config)

    def setting(self, section: str, name: str):
        """One setting of the configuration, for a plugin that belongs to a part with a section
        of its own (the WhatsApp bridge's data: [bridge.whatsapp] number_key)."""
        return self._config.get(section, name)

    @property
    def language(self) -> str:
        """The language for people who chose none and whose client says none."""
        return self._config.get("bot", "language")

    @property
    def jid(self) -> str:
        """The bot's own address (`[xmpp] jid`): a room's owner, a contact's name."""
        return self._config.get("xmpp", "jid")

    @property
    def account_domain(self) -> str:
        """The domain people's accounts are on (and the bot's, in client mode)."""
        return account_domain(self.jid, self._config.get("xmpp", "mode"))

    @property
    def room_jid(self) -> str:
        """The bot's address in group rooms, their owner: its account, or for a component
        one of its addresses with a local part (ejabberd 23.01 keeps no room affiliation for
        a bare domain such as bot.example.com: the room would turn it away)."""
        if self._config.get("xmpp", "mode") == "component":
            return f"{ROOMS_LOCALPART}@{self.jid}"
        return self.jid

    @property
    def timezone(self) -> str:
        """The company's time zone (`[bot] timezone`)."""
        return self._config.get("bot", "timezone")

    @property
    def web_token(self) -> str:
        """The bearer token every web route needs (`[web] token`); empty on loopback."""
        return self._config.get("web", "token")

    # --- the database ------------------------------------------------------------------------
    @property
    def database(self) -> peewee.Database:
        """The peewee database the plugin's models are bound to: `with bot.database.atomic():`
        for a transaction (plain peewee code runs on a database thread)."""
        return self._storage.db

    async def run(self, fn, *args, **kwargs):
        """Run database work on a worker thread from async code: `await bot.run(fn, …)`."""
        return await self._storage.run_handler(fn, *args, **kwargs)

    async def run_batched(self, fn, item):
        """`run` for writes that come in bursts on the message path (a relayed text): calls
        arriving together are handed to `fn(items)` as one list, in one transaction; it returns
        one result per item, in order (see Storage.run_batched)."""
        return await self._storage.run_batched(fn, item)

    # --- messages ----------------------------------------------------------------------------
    def notify(self, key: str, jid: str, text: str) -> bool:
        """Queue a message the bot starts itself. Call it inside the transaction of the change
        that causes it: it is sent exactly once after the commit, and never if the change is
        rolled back. `key` names the event ("status:<change>:<jid>"); a key already queued is
        not queued again (returns False). Raises BodyError for a text no message can carry."""
        return self.notify_many([(key, jid, text)]) == 1

    def notify_many(self, messages: Iterable[tuple[str, str, str]
                                            | tuple[str, str, str, bool]]) -> int:
        """`notify` for many (key, jid, text) at once: one statement; returns how many are new.
        A fourth item True shares a file: the text is its link, and apps show the file itself
        (XEP-0066; `ctx.message.file_url` is such a link in a message the bot got)."""
        queued = enqueue_many(list(messages))
        if queued:
            self._wake()
        return queued

    def unnotify(self, jid: str, key_prefix: str) -> list[str]:
        """Take back the messages to `jid` queued under keys starting with `key_prefix` that
        have not left yet (someone stopped following, a case was closed); returns their keys.
        Call it in the transaction of the change that causes it."""
        return withdraw(jid, key_prefix)

    def send(self, jid: str, text: str) -> None:
        """Send a message now, with no record and no retry (for answers that may be lost).
        Only in the running bot; safe from any thread."""
        if self._send is None:
            raise RuntimeError("send() needs the running bot; use notify() to queue a message")
        self._send(jid, text)  # the bot's send_text cleans it, as every body it sends

    # --- people ------------------------------------------------------------------------------
    def languages_of(self, jids: Iterable[str]) -> dict[str, str]:
        """The language each of these people chose (`language de`); those who chose none are
        missing: use their client's language or `bot.language` for them."""
        jids = list(jids)
        if not jids:
            return {}
        return dict(PersonSetting.select(PersonSetting.jid, PersonSetting.language)
                    .where(PersonSetting.jid.in_(jids) & PersonSetting.language.is_null(False))
                    .tuples())

    # --- other plugins -----------------------------------------------------------------------
    def plugin(self, name: str) -> Plugin:
        """Another loaded plugin, for the service it documents (e.g. `plugin("status").book`)."""
        try:
            return self._plugins[name]
        except KeyError:
            raise UnknownPlugin(f"no plugin {name!r} is loaded; loaded: "
                                f"{', '.join(sorted(self._plugins)) or 'none'}") from None

    # --- jobs for one key each (a person, a subscription) -------------------------------------
    def daily(self, job: str, key: str, at: str, timezone: str,
              payload: dict | None = None) -> datetime:
        """Run `job` for `key` every day at local time `at` ("07:30") in `timezone`
        (DST-correct); replaces an earlier plan for the same job and key. Returns when it is
        due next. Call it in the transaction of the change it belongs to."""
        return self._scheduler.daily(job, key, at, timezone, payload)

    def every(self, job: str, key: str, seconds: int, payload: dict | None = None) -> None:
        """Run `job` for `key` every `seconds`, first `seconds` from now."""
        self._scheduler.every(job, key, seconds, payload)

    def cancel(self, job: str, *keys: str) -> int:
        """No further runs of `job` for these keys; returns how many plans there were."""
        return Schedule.delete().where((Schedule.job == job) & Schedule.key.in_(keys)).execute()

    def on_due(self, job: str, handler: Callable[[list[Run]], None]) -> None:
        """`handler(runs)` runs the due runs of `job`, many at a time, on a database thread,
        inside the transaction that moves their plans on (so what it notifies is sent exactly
        once). If it raises, the runs are tried one by one."""
        self._scheduler.register_batch(job, handler)

    # --- invitations -------------------------------------------------------------------------
    @property
    def invitations(self) -> Invitations:
        """Every invitation, with the actions the loaded plugins offer (bots/invites.py)."""
        if self._invitations is None:
            actions = {}
            for plugin in self._plugins.values():
                for name, action in plugin.invitation_actions(self).items():
                    if name in actions:
                        log.error("plugin %r offers the invitation action %r another plugin "
                                  "offers already; the first one stays", plugin.name, name)
                        continue
                    actions[name] = action
            join = self._config.values["join"]
            self._invitations = Invitations(actions, join["public_url"],
                                            join["invitation_days"])
        return self._invitations

    def invite(self, created_by: str, actions: dict[str, str] | None = None,
               lifetime: timedelta | None = None, note: str = "") -> NewInvitation:
        """A one-time link that makes an account on the company's server and does `actions`
        for it, e.g. {"claim": "4711"}; plain peewee code (database thread). The token is in
        what it returns and nowhere else. Raises InvitationError (the text says why)."""
        return self.invitations.create(created_by, actions, lifetime, note)[0]

    # --- news between plugins ----------------------------------------------------------------
    def emit(self, event: str, **data) -> None:
        """Tell every plugin (`Plugin.on_event`), in this thread and transaction, e.g.
        `bot.emit("lessons.stopped", jid=jid, course=slug)`. Name events "<plugin>.<what>". A
        plugin whose handler fails is logged; its writes are undone, the others' stay."""
        for plugin in self._plugins.values():
            try:
                with self.database.atomic():
                    plugin.on_event(self, event, data)
            except Exception:
                log.exception("plugin %r failed on the event %r", plugin.name, event)

    # --- the server --------------------------------------------------------------------------
    @property
    def ejabberd(self) -> EjabberdAPI:
        """ejabberd's admin API (`[ejabberd]` settings), authenticating with a token: for what
        the bot's account may not do over XMPP (make rooms, set affiliations). Blocking HTTP:
        call it on a worker thread. Raises EjabberdAPIError when it is not set up."""
        if self._ejabberd is None:
            settings = self._config.values["ejabberd"]
            if not settings["api_url"]:
                raise EjabberdAPIError("the admin API is not set up: [ejabberd] api_url, "
                                       "admin_jid and admin_password in the bot's settings")
            api = EjabberdAPI(settings["api_url"], settings["admin_jid"],
                              settings["admin_password"])
            api.use_token()
            self._ejabberd = api
        return self._ejabberd

    @property
    def rooms(self) -> RoomActions:
        """Group-room actions of the running bot's XMPP connection: join a room, write to
        it, invite someone (XEP-0249). Not in CLI commands (RuntimeError): there, queue what
        the running bot should do."""
        if self._rooms is None:
            raise RuntimeError("group-room actions need the running bot")
        return self._rooms
