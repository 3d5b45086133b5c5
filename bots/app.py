"""The bot process: config, storage, people, plugins and one XMPP connection, wired together.

One asyncio event loop carries everything. Each incoming message is handled in its own task,
so a slow answer to one person never holds up the next person's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import logging
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

from bots import audit, workers
from bots.adhoc import register_adhoc_commands
from bots.builtins import Builtins
from bots.config import Config
from bots.consent import SCHEMA as CONSENT_SCHEMA
from bots.connection import ComponentSession, OutboxSession, Session, WorkerSession
from bots.dispatch import AnswerBudget, Dispatcher, Message, addressed_text
from bots.i18n import negotiate, render, translator
from bots.invites import SCHEMA as INVITES_SCHEMA
from bots.people import SCHEMA as PEOPLE_SCHEMA
from bots.people import People
from bots.plugin import Plugin, load_plugins
from bots.privacy import SCHEMA as PRIVACY_SCHEMA
from bots.privacy import last_erasure
from bots.outbox import SCHEMA as OUTBOX_SCHEMA
from bots.outbox import Outbox
from bots.personal_data import SERVER_ARCHIVE, declared
from bots.retention import RETENTION_AT, RETENTION_JOB, periods, purge, purge_server_archive
from bots.scheduler import SCHEMA as SCHEDULER_SCHEMA
from bots.scheduler import Clock, Run, Scheduler
from bots.services import Services
from bots.stanza_text import safe_body, shared_file
from bots.waiting import isolated
from bots.storage import Schema, Storage, StorageError
from bots.metrics import Metrics

log = logging.getLogger(__name__)
_ = translator(__name__)

DELAY_NAMESPACE = "{urn:xmpp:delay}delay"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CANNOT_SEE_WHO = _("I cannot see who you are in this room, so I do not act on it. Write to me "
                   "directly, or ask the room's owner to make me a moderator or the room "
                   "non-anonymous.")
WRITE_DIRECTLY = _("Please write to me directly from your own address, not through the room: "
                   "there I cannot tell who you are.")
DIRECT_INVITATION = "jabber:x:conference"  # XEP-0249's feature
DISCO_WAIT = 5  # seconds an app has to say what it understands
APPS_REMEMBERED = 10_000  # apps whose features the bot keeps (then it forgets them all)
PLUGIN_JOB_KEY = "plugin"  # a plugin's own @job has one schedule row under this key
SCHEDULER_INTERVAL = 1.0  # seconds between looks for due work
FAILURE_REPORT_INTERVAL = 900  # seconds: at most one message to the admins per failing command
FAILURE_REPORT = _("Botschaft: the command {command} (plugin {plugin}) failed with {error}; "
                   "the person got an apology. Details are in the bot's log. Further failures "
                   "of this command in the next {minutes} minutes are not reported.")


@dataclass
class JobContext:
    """What a plugin's @job gets: the framework's services, its plugin (and config), and the
    due run."""

    bot: Services
    plugin: Plugin
    run: Run

    @property
    def config(self) -> dict:
        return self.plugin.config


class Bot:
    """A Botschaft bot: what it does, whichever way it is connected (ClientBot, ComponentBot)."""

    def _init_bot(self, config: Config, plugins: list[Plugin], storage: Storage,
                  clock: Clock | None) -> None:
        self.retention = periods(plugins, config)  # a wrong [privacy] retention stops here
        self.personal_data_kinds = [kind for _owner, kind in declared(plugins)]
        self.config = config
        self.storage = storage
        self.plugins = plugins
        bot = config.values["bot"]
        people = config.values["people"]
        self.people = People(people["admins"], people["staff"], people["bots"],
                             bot["language"], storage, erasures=last_erasure)
        builtins = Builtins(self.people)
        builtins.bot_config = config
        self.dispatcher = Dispatcher([builtins, *plugins], bot["max_message_length"])
        builtins.dispatcher = self.dispatcher
        self.dispatcher.on_failure = self._tell_admins_of_failure
        self._failures_told: dict[tuple[str, str], float] = {}  # (plugin, command) → when
        self.scheduler = Scheduler(storage.db, clock)
        self._purge: asyncio.Future | None = None  # the retention job's, while it runs
        self.failed_plugins: dict[str, str] = {}  # name → why its start failed
        self._scheduler_task: asyncio.Task | None = None
        self.nick = bot["nick"]
        self.prefix = bot["prefix"]
        self.room_budget = AnswerBudget()
        self.joined_rooms: set[str] = set()  # bare JIDs of the rooms the bot is in
        self._strays_logged: set[str] = set()
        self._app_features: dict[str, asyncio.Future] = {}  # full JID → its features, asked
        for name in ("xep_0030", "xep_0004", "xep_0050", "xep_0359"):
            self.register_plugin(name)
        outbox = config.values["outbox"]
        stream = self.worker if self.is_component else OutboxSession(
            config.get("xmpp", "jid"), config.get("xmpp", "password"),
            config.get("xmpp", "ca_file") or None)
        if stream is not self:  # someone who answers the outbox's own address is heard too
            stream.add_event_handler("message", self._on_direct_message)
        self.outbox = Outbox(stream, storage, main=self, **outbox)  # [outbox] settings by name
        self.services = Services(config, storage, plugins, self.scheduler, self.outbox.wake,
                                 self.send_text, RoomActions(self))
        self.metrics = Metrics()
        self.outbox.on_delivered = self.metrics.sent
        web = config.values["web"]
        self.web = None
        if web["listen"]:  # Twisted, only for a bot that serves HTTP
            from bots.web import WebServer
            self.web = WebServer(self, web["listen"], web["token"])
        self.join_site = None
        if config.get("join", "listen"):  # its page, QR codes and account creation: only then
            from bots.join_page import JoinSite
            self.join_site = JoinSite(self)
        self._plugins_started = False
        # What the server kept for the bot (offline messages, presences) comes at login,
        # before the plugins have started: messages and presences wait for this
        self._plugins_ready = asyncio.Event()
        self.add_event_handler("message", self._on_direct_message)
        self.add_event_handler("groupchat_message", self._on_room_message)
        self.add_event_handler("changed_status", self._on_presence)
        self._online: dict[str, set[str]] = {}  # what plugins were told: bare JID → resources
        if not self.is_component:  # a component is told nobody's presence again: it keeps them
            self.add_event_handler("disconnected", self._presences_unknown)

    # --- connection ------------------------------------------------------------------------
    async def start(self, timeout: float | None = None) -> None:
        """Connect and return once online; the connection's errors as Resilient.start."""
        timeout = self.config.get("xmpp", "connect_timeout") if timeout is None else timeout
        if self.web is not None or self.join_site is not None:
            from bots.web import install_reactor
            install_reactor()
        try:
            for listener in self._listeners():
                listener.start()
            await super().start(*server_address(self.config), timeout=timeout)
        except BaseException:
            for listener in self._listeners():
                await listener.stop()
            raise

    def _listeners(self) -> list:
        """The HTTP servers: /healthz and /metrics, and the public join page."""
        return [listener for listener in (self.web, self.join_site) if listener is not None]

    async def stop(self) -> None:
        if self._scheduler_task is not None:
            self._scheduler_task.cancel()
            if self._purge is not None:
                await self._purge  # it is on a database thread: the database stays till it ends
            await isolated(self.storage.run(workers.leave, self.outbox.worker),
                            "leaving the list of workers")
        await self.outbox.stop()
        self._online = {}  # stopped plugins hear of no one going offline at the disconnect
        for plugin in self.plugins:
            await isolated(plugin.stop(), f"stop of plugin {plugin.name!r}")
        for listener in self._listeners():
            await listener.stop()
        await super().stop()

    async def on_session_start(self) -> None:
        await super().on_session_start()
        if not self._plugins_started:
            self._plugins_started = True
            register_adhoc_commands(self, self.dispatcher, self.config.get("bot", "language"))
            for plugin in self.plugins:
                await self._start_plugin(plugin)
            await self.storage.run(self._plan_plugin_jobs)
            self._plugins_ready.set()
            self._scheduler_task = asyncio.create_task(self._run_scheduler())
            await self.outbox.start(server_address(self.config))
        # the configured rooms, and after a reconnect those plugins had the bot join (bot.rooms)
        for room in set(self.config.get("bot", "rooms")) | self.joined_rooms:
            asyncio.create_task(self.join_room(room))
        log.info("bot is online with %d commands", len(self.dispatcher.specs))

    async def _start_plugin(self, plugin: Plugin) -> None:
        """A plugin whose start fails is reported (log, /healthz, `botschaft plugin list`) and
        its commands say it is unavailable; the others run."""
        plugin.bot = self.services
        failure = await isolated(plugin.start(self.services), f"start of plugin {plugin.name!r}")
        if failure is not None:
            self.failed_plugins[plugin.name] = failure
            self.dispatcher.unavailable.add(plugin.name)

    async def join_room(self, room: str) -> None:
        # Group chat support brings twenty stanza handlers (MUC, PEP, caps) that every
        # incoming stanza is matched against: only a bot that joins rooms pays for them.
        if "xep_0045" not in self.plugin:
            self.register_plugin("xep_0045")
        presence = {"pfrom": self.room_jid} if self.is_component else {}
        await self.plugin["xep_0045"].join_muc_wait(slixmpp.JID(room), self.nick, maxstanzas=0,
                                                    presence_options=presence)
        self.joined_rooms.add(slixmpp.JID(room).bare)
        for plugin in self.plugins:
            await isolated(plugin.on_room_joined(room), f"on_room_joined of {plugin.name!r}")

    async def invite_to_room(self, room: slixmpp.JID, jid: slixmpp.JID, reason: str) -> None:
        """See RoomActions.invite."""
        for plugin in ("xep_0045", "xep_0249"):  # both bring xep_0030 (service discovery)
            if plugin not in self.plugin:
                self.register_plugin(plugin)
        sender = self.room_jid if self.is_component else None
        if jid.resource and not await self._takes_direct_invitations(jid):
            self.plugin["xep_0045"].invite(room, jid.bare, reason, mfrom=sender)
        else:
            self.plugin["xep_0249"].send_invitation(jid, room, reason=reason, mfrom=sender)

    async def _takes_direct_invitations(self, jid: slixmpp.JID) -> bool:
        """Whether the app at `jid` lists XEP-0249 in its features; an app that does not
        answer is given the invitation every group-chat app knows. Each app (full JID) is
        asked once: someone accepting forty invitations at once is one query, not forty
        (every reply the bot waits for is matched against each incoming stanza)."""
        asked = self._app_features.get(jid.full)
        if asked is None:
            if len(self._app_features) >= APPS_REMEMBERED:
                self._app_features.clear()
            asked = self._app_features[jid.full] = asyncio.ensure_future(self._features_of(jid))
        features = await asyncio.shield(asked)
        if features is None:  # no answer in time: ask again next time
            self._app_features.pop(jid.full, None)
            return False
        return DIRECT_INVITATION in features

    async def _features_of(self, jid: slixmpp.JID) -> set[str] | None:
        """The features the app at `jid` lists (none if it refuses to say); None: no answer."""
        try:
            info = await self.plugin["xep_0030"].get_info(
                jid=jid, ifrom=self.boundjid if self.is_component else None,
                timeout=DISCO_WAIT)
        except IqError:
            return set()
        except IqTimeout:
            return None
        return set(info["disco_info"]["features"])

    # --- due work --------------------------------------------------------------------------
    def _plan_plugin_jobs(self) -> None:
        """Register the core's and every plugin's @job and plan it: a plan from an earlier run
        is kept while its declaration is the same. Plans of such jobs nobody declares any
        more are removed; per-person plans (other keys) stay: they are a plugin's data."""
        with self.storage.one_at_a_time("botschaft.plan-jobs"):  # workers starting together
            timezone = self.config.get("bot", "timezone")
            self.scheduler.register(RETENTION_JOB, self._purge_after_commit)
            self.scheduler.daily(RETENTION_JOB, PLUGIN_JOB_KEY, RETENTION_AT, timezone, keep=True)
            jobs = [RETENTION_JOB]
            for plugin in self.plugins:
                for spec in plugin.jobs():
                    jobs.append(spec.name)
                    if plugin.name in self.failed_plugins:
                        continue  # planned as before, but not run: its start failed
                    self.scheduler.register(spec.name, self._job_runner(plugin, spec.handler))
                    if spec.every:
                        self.scheduler.every(spec.name, PLUGIN_JOB_KEY,
                                             int(spec.every.total_seconds()), keep=True)
                    else:
                        self.scheduler.daily(spec.name, PLUGIN_JOB_KEY, spec.at.strftime("%H:%M"),
                                             timezone, keep=True)
            self.scheduler.remove_undeclared(PLUGIN_JOB_KEY, jobs)

    def _purge_after_commit(self, run: Run) -> None:
        """The daily retention job: the purge runs outside the transaction that moves the
        job's plan on, so that each of its batches commits on its own (bots/retention.py)."""
        def start() -> None:
            self._purge = asyncio.ensure_future(self._purge_all(run.now))
        self.loop.call_soon_threadsafe(start)

    async def _purge_all(self, now: datetime) -> None:
        """The bot's tables, on a database thread; then ejabberd's archive, asked over HTTP
        on a thread of its own."""
        await isolated(self.storage.run(purge, self.personal_data_kinds, self.retention, now),
                        "the retention purge")
        await isolated(asyncio.to_thread(
            purge_server_archive, self.config, self.services,
            self.retention[SERVER_ARCHIVE.kind]), "the retention purge of the server's archive")

    def _job_runner(self, plugin: Plugin, handler):
        def run(due: Run) -> None:
            handler(JobContext(self.services, plugin, due))
        return run

    async def _run_scheduler(self) -> None:
        """Due work, and this process's report that it is up (bots.workers)."""
        mode, next_report = self.config.get("xmpp", "mode"), 0.0
        while True:
            try:
                if time.monotonic() >= next_report:
                    await self.storage.run(workers.heartbeat, self.outbox.worker, mode)
                    next_report = time.monotonic() + workers.HEARTBEAT_EVERY
                await self.storage.run(self.scheduler.run_due)
            except Exception:
                log.exception("the scheduler pass failed; trying again")
            await asyncio.sleep(SCHEDULER_INTERVAL)

    # --- messages --------------------------------------------------------------------------
    def _on_direct_message(self, message: slixmpp.Message) -> None:
        """A plain function, not a coroutine: for a coroutine handler slixmpp makes a new
        closure and a task at every stanza; here the task is made for the messages that get
        an answer only."""
        kind, body = message["type"], message["body"]  # each stanza lookup read once
        if kind not in ("chat", "normal") or not body:
            return
        writer = message["from"]
        sender = writer.bare
        if sender == self.boundjid.bare or self.people.is_bot(sender):
            return
        if sender in self.joined_rooms:  # a private message through a room: the room's address
            language = self._language_of(message)
            self._reply(message, render(WRITE_DIRECTLY, language), language, writer, kind)
            return
        self.metrics.received()
        asyncio.ensure_future(self._answer_direct(message, kind, body, writer))

    async def _answer_direct(self, message: slixmpp.Message, kind: str, body: str,
                             writer: slixmpp.JID) -> None:
        try:
            if not self._plugins_ready.is_set():
                await self._plugins_ready.wait()
            started = time.perf_counter()
            person = await self.people.person(writer.bare, message["lang"] or None)
            answer = await self.dispatcher.answer(
                Message(person, body, device=writer.full, file_url=shared_file(message, body)),
                self)
            self.metrics.handled(time.perf_counter() - started)
            if answer:  # empty: a plugin relayed the message on (Plugin.on_conversation)
                self._reply(message, answer, person.language, writer, kind)
                self.metrics.sent()
        except Exception:  # the person's record could not be read (the database is down)
            log.exception("answering a direct message failed")

    def _reply(self, message: slixmpp.Message, body: str, language: str, writer: slixmpp.JID,
               kind: str) -> None:
        """The answer to `message` (from `writer`, of type `kind`, as the caller read them),
        in its thread, marked as written in `language`. Built as XML and wrapped
        once: slixmpp's `reply` copies the whole message and then empties it, and even
        `make_message` sets each part through the stanza's interfaces (3 µs here against 11,
        on every answer)."""
        stream = message.stream  # the session it came on (the outbox's, if written to)
        namespace = stream.default_ns
        attributes = {"to": writer.full, "type": kind, "id": stream.new_id(),
                      XML_LANG: language}
        if stream.is_component:
            attributes["from"] = message["to"].full
        xml = ElementTree.Element(f"{{{namespace}}}message", attributes)
        ElementTree.SubElement(xml, f"{{{namespace}}}body").text = body
        thread = message.xml.find(f"{{{message.namespace}}}thread")
        if thread is not None:
            xml.append(copy.copy(thread))
        slixmpp.Message(stream, xml=xml).send()

    async def _on_room_message(self, message: slixmpp.Message) -> None:
        room = message["from"].bare
        if room not in self.joined_rooms:
            # type="groupchat" from anyone but a room we are in: nobody vouches for the sender
            self._stray_groupchat(room)
            return
        nick = message["from"].resource
        if nick == self.nick or message.xml.find(DELAY_NAMESPACE) is not None:
            return  # our own words, or history the room replays when we join
        text = addressed_text(message["body"], self.nick, self.prefix)
        if text is None:
            return
        # Who writes is the occupant's real JID, which the room tells its moderators (or
        # everyone in a non-anonymous room); never the nick, which anyone can choose.
        real_jid = self.plugin["xep_0045"].get_jid_property(room, nick, "jid")
        sender = slixmpp.JID(real_jid).bare if real_jid else None
        if (sender and self.people.is_bot(sender)) or not self.room_budget.allow(room):
            return
        if sender is None:
            answer = render(CANNOT_SEE_WHO, self._language_of(message))
            self.say_in_room(room, f"{nick}: {answer}")
            return
        self.metrics.received()
        if not self._plugins_ready.is_set():
            await self._plugins_ready.wait()
        started = time.perf_counter()
        person = await self.people.person(sender, message["lang"] or None)
        answer = await self.dispatcher.answer(Message(person, text, room=room), self)
        self.metrics.handled(time.perf_counter() - started)
        self.say_in_room(room, f"{nick}: {answer}")
        self.metrics.sent()

    def _stray_groupchat(self, source: str) -> None:
        if source not in self._strays_logged:
            if len(self._strays_logged) > 1000:
                self._strays_logged.clear()
            self._strays_logged.add(source)
            log.debug("ignored a group message from %s: not a room the bot is in", source)

    def _language_of(self, message: slixmpp.Message) -> str:
        """For answers to someone the bot cannot identify: their client's language."""
        return negotiate(message["lang"] or None) or self.config.get("bot", "language")

    def _tell_admins_of_failure(self, plugin: str, command: str, error: Exception) -> bool:
        """A handler failed: the admins named by JID in `[people] admins` get a message, once
        per command in FAILURE_REPORT_INTERVAL. Says whether anyone is (or was just) told."""
        admins = sorted(self.people.admins.jids)
        if not admins:
            return False
        now = time.monotonic()
        if now - self._failures_told.get((plugin, command), -FAILURE_REPORT_INTERVAL) \
                >= FAILURE_REPORT_INTERVAL:
            self._failures_told[(plugin, command)] = now
            text = render(FAILURE_REPORT, self.config.get("bot", "language"), command=command,
                          plugin=plugin, error=type(error).__name__,
                          minutes=FAILURE_REPORT_INTERVAL // 60)
            for admin in admins:
                self.send_text(admin, text)
        return True

    async def _on_presence(self, presence) -> None:
        if not self._plugins_ready.is_set():
            await self._plugins_ready.wait()
        sender = presence["from"]
        resources = self._online.setdefault(sender.bare, set())
        if presence["type"] in ("unavailable", "error"):
            resources.discard(sender.resource)
        else:
            resources.add(sender.resource)
        if not resources:
            del self._online[sender.bare]
        for plugin in self.plugins:
            await isolated(plugin.on_presence(presence), f"on_presence of {plugin.name!r}")

    async def _presences_unknown(self, _reason) -> None:
        """Client mode: a lost connection ends what plugins know of presences: each contact
        they were told is online goes offline for them. The next session hears from the server
        who is online then, but nothing of those who went offline in between, who would
        otherwise stay online for the plugins (support staff offered cases while they are
        gone). A component is told nobody's presence again when it reconnects: it keeps what
        it knew."""
        online, self._online = self._online, {}
        for bare, resources in online.items():
            for resource in resources:
                await self._on_presence(self.make_presence(pfrom=f"{bare}/{resource}",
                                                           ptype="unavailable"))

    @property
    def room_jid(self) -> slixmpp.JID:
        """The bot's address in group rooms (Services.room_jid)."""
        return slixmpp.JID(self.services.room_jid) if self.is_component else self.boundjid

    def say_in_room(self, room: str, text: str) -> None:
        """A group message from the bot."""
        self.send_message(mto=room, mbody=text, mtype="groupchat",
                          mfrom=self.room_jid if self.is_component else None)

    def send_text(self, jid: str, text: str) -> None:
        """Send a chat message; safe to call from worker threads."""
        sender = self.boundjid if self.is_component else None
        text = safe_body(text)

        def send():
            self.send_message(mto=jid, mbody=text, mtype="chat", mfrom=sender)
        if _on_loop_thread(self.loop):
            send()
        else:
            self.loop.call_soon_threadsafe(send)


class RoomActions:
    """What a plugin may do in group rooms through the bot's connection (`bot.rooms`); every
    method is safe from any thread and returns at once."""

    def __init__(self, bot: Bot):
        self._bot = bot

    def join(self, room: str) -> concurrent.futures.Future:
        """Join `room` (as `[bot] nick`); the future is done once the bot is in it. Wait for
        it only on a worker thread, never on the event loop."""
        return asyncio.run_coroutine_threadsafe(self._bot.join_room(room), self._bot.loop)

    def say(self, room: str, text: str) -> None:
        """A message to everyone in a room the bot is in."""
        text = safe_body(text)
        self._on_loop(lambda: self._bot.say_in_room(room, text))

    def invite(self, room: str, jid: str, reason: str) -> None:
        """An invitation to `room` that the person's app offers to join; make them a member
        first, or a members-only room turns them away. Direct (XEP-0249) where the app says
        it understands it, else mediated by the room (XEP-0045), which every group-chat app
        shows: give the full JID that wrote (`ctx.message.device`) so the app can be asked;
        for a bare JID it is direct."""
        reason = safe_body(reason)
        asyncio.run_coroutine_threadsafe(isolated(
            self._bot.invite_to_room(slixmpp.JID(room), slixmpp.JID(jid), reason),
            "an invitation to a room"), self._bot.loop)

    def _on_loop(self, action) -> None:
        if _on_loop_thread(self._bot.loop):
            action()
        else:
            self._bot.loop.call_soon_threadsafe(action)


class ClientBot(Bot, Session):
    """Client mode: the bot logs in as an account, e.g. bot@example.com.

    Its main stream is not resumable. A resumable one outlives a bot killed with kill -9 (or
    crashed) by ejabberd's resume_timeout, 300 s, taking every message written to the bot
    meanwhile, and then bounces them as errors (resend_on_timeout: if_offline, and the
    outbox's stream is still there): what people wrote while the bot was down was lost. Not
    resumable, the stream ends with its connection; what comes later waits in offline storage
    and is answered when the bot is back (also after a dropped connection). What the server
    had sent and the bot not yet confirmed (XEP-0198, asked after each stanza) goes back to its
    sender as an error: after a network cut nobody noticed, all the server sent until its
    ack_timeout (60 s); answers sent into such a cut are lost (README, "Messages to the bot").
    The outbox's stream stays resumable: its rows need that."""

    resumable = False

    def __init__(self, config: Config, plugins: list[Plugin], storage: Storage,
                 clock: Clock | None = None):
        Session.__init__(self, config.get("xmpp", "jid"), config.get("xmpp", "password"),
                         config.get("xmpp", "ca_file") or None)
        self._init_bot(config, plugins, storage, clock)


class ComponentBot(Bot, ComponentSession):
    """Component mode (XEP-0114): the bot is bot.example.com and every address in it."""

    def __init__(self, config: Config, plugins: list[Plugin], storage: Storage,
                 clock: Clock | None = None):
        host, port = server_address(config)
        domain, secret = config.get("xmpp", "jid"), config.get("xmpp", "component_secret")
        self.worker = WorkerSession(domain, secret, host, port)  # the outbox sends on it
        ComponentSession.__init__(self, domain, secret, host, port, answers=self.worker)
        self._init_bot(config, plugins, storage, clock)


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def server_address(config: Config) -> tuple[str | None, int | None]:
    """(host, port) from the config, or (None, None) to find the server through DNS
    (client mode; a component always connects to a given host, by default this machine)."""
    host = config.get("xmpp", "host") or None
    if config.get("xmpp", "mode") == "component":
        return host or "127.0.0.1", config.get("xmpp", "port")
    return host, config.get("xmpp", "port") if host else None


def schemas(plugins: list[Plugin]) -> list[Schema]:
    """The tables of the core and of these plugins."""
    return [PEOPLE_SCHEMA, CONSENT_SCHEMA, SCHEDULER_SCHEMA, OUTBOX_SCHEMA, PRIVACY_SCHEMA,
            INVITES_SCHEMA, workers.SCHEMA, audit.SCHEMA] + [
        plugin.schema() for plugin in plugins if plugin.models]


async def create_bot(config: Config, plugins: list[Plugin] | None = None,
                     clock: Clock | None = None, serve: bool = False) -> Bot:
    """Open the database, load the plugins (all enabled ones unless given), migrate, build.
    `serve`: for `botschaft run`, which on SQLite must be the only process (Storage.serve_alone)."""
    config.require()
    storage = Storage(config.get("database", "url"), config.get("database", "workers"),
                      config.get("database", "handler_workers"))
    if serve:
        try:
            storage.serve_alone()
        except StorageError:
            storage.close()
            raise
    if plugins is None:
        plugins = load_plugins(config).plugins
    applied = await storage.run(storage.migrate, schemas(plugins))
    for name in applied:
        log.info("database migration applied: %s", name)
    kind = ComponentBot if config.get("xmpp", "mode") == "component" else ClientBot
    try:
        return kind(config, plugins, storage, clock)
    except BaseException:  # e.g. a [privacy] retention key that is no kind
        storage.close()
        raise


async def run_until_signal(config: Config, on_ready=None) -> None:
    """`botschaft run`: serve until SIGINT or SIGTERM, then log out cleanly. `on_ready` is
    called once the bot is online."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    bot = await create_bot(config, serve=True)
    try:
        await bot.start()
        if on_ready is not None:
            on_ready()
        await stopping.wait()
        log.info("stopping the bot")
        await bot.stop()
    finally:
        bot.storage.close()


async def send_once(config: Config, jid: str, text: str) -> str | None:
    """Log in as the bot, send one message, log out (`botschaft send`). Returns why the server
    refused it (e.g. no such account), or None once the server has it."""
    config.require()
    session = Session(config.get("xmpp", "jid"), config.get("xmpp", "password"),
                      config.get("xmpp", "ca_file") or None)
    recipient = slixmpp.JID(jid)
    refusals = []
    session.add_event_handler("message_error", lambda error: refusals.append(
        error["error"]["condition"]) if error["from"].bare == recipient.bare else None)
    await session.start(*server_address(config))
    try:
        session.send_message(mto=recipient, mbody=safe_body(text), mtype="chat")
        # The server answers the ping after it has handled the message, a refusal included.
        await session.plugin["xep_0199"].ping(jid=session.boundjid.domain, timeout=30)
    finally:
        await session.stop(wait=5)
    return refusals[0] if refusals else None
